//! The `tcp` step: can a connection be opened to host:port?

use crate::record::{FailureKind, StepError, TcpObservation};
use crate::suite::TcpStep;
use std::time::Instant;

pub(crate) async fn run(step: &TcpStep, target_url: &str) -> Result<TcpObservation, StepError> {
    let target = reqwest::Url::parse(target_url).ok();
    let host = match &step.host {
        Some(h) => h.clone(),
        None => target
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "127.0.0.1".to_string()),
    };
    let port =
        step.port.or_else(|| target.as_ref().and_then(reqwest::Url::port_or_known_default)).unwrap_or(11434);
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let address = if host.contains(':') { format!("[{host}]:{}", port) } else { format!("{host}:{}", port) };
    let started = Instant::now();
    match tokio::net::TcpStream::connect(&address).await {
        Ok(_) => Ok(TcpObservation { address, elapsed: started.elapsed() }),
        Err(e) => Err(StepError {
            kind: FailureKind::Connection,
            message: if e.kind() == std::io::ErrorKind::ConnectionRefused {
                super::refused(&address)
            } else {
                format!("could not connect to {address}: {e}")
            },
            detail: format!("connect {address}"),
        }),
    }
}
