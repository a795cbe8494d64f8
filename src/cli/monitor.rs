//! `hxrun monitor`: the seed's "Run G-Mon" in one command — a live table on a terminal, CSV
//! lines otherwise (`--csv FILE` appends to a file), or with `--listen ADDR` the latest
//! sampling served at `/metrics` in dcgm-exporter's names (`gpu::dcgm`). Stops cleanly on
//! SIGINT or SIGTERM: every sample is written whole, so the file is intact whenever it stops.

use super::MonitorArgs;
use crate::exit;
use crate::gpu::{self, GpuSample};
use crate::report::gpu_csv;
use std::io::{IsTerminal, Write};

pub(super) fn monitor(args: MonitorArgs) -> u8 {
    let source = match gpu::open(args.gpu_source.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hxrun monitor: {e}");
            return exit::INTERNAL;
        }
    };
    let runtime = match super::runtime(false) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let table = std::io::stdout().is_terminal() && args.listen.is_none();
    let quiet = args.listen.is_some();
    runtime.block_on(async move {
        let mut stop = Box::pin(shutdown());
        let served = match args.listen {
            Some(addr) => match serve(addr).await {
                Ok(latest) => Some(latest),
                Err(e) => {
                    eprintln!("hxrun monitor: cannot listen on {addr}: {e}");
                    return exit::INTERNAL;
                }
            },
            None => None,
        };
        let snapshot = source.snapshot().await.ok();
        let hostname = gpu::dcgm::hostname();
        let mut ticks = tokio::time::interval(args.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut taken = 0u64;
        if !table && !quiet && args.csv.is_none() {
            println!("{}", gpu_csv::header());
        }
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = ticks.tick() => {}
            }
            let samples = match source.sample().await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("hxrun monitor: {e}");
                    return exit::INTERNAL;
                }
            };
            if let Some(path) = &args.csv
                && let Err(e) =
                    crate::report::append::append(path, &gpu_csv::header(), &gpu_csv::rows(&samples))
            {
                eprintln!("hxrun monitor: {e}");
                return exit::INTERNAL;
            }
            if let Some(latest) = &served {
                let text = gpu::dcgm::exposition(&samples, snapshot.as_ref(), &hostname);
                *latest.write().unwrap_or_else(std::sync::PoisonError::into_inner) = text;
            } else if table {
                print!("\u{1b}[H\u{1b}[2J{}", render(&samples, args.csv.as_deref()));
            } else if args.csv.is_none() {
                print!("{}", gpu_csv::rows(&samples));
            }
            let _ = std::io::stdout().flush();
            taken += 1;
            if args.count.is_some_and(|n| taken >= n) {
                break;
            }
        }
        exit::PASSED
    })
}

/// The latest sampling's exposition, as `/metrics` serves it.
type Latest = std::sync::Arc<std::sync::RwLock<String>>;

/// Connections served at once; more are closed at once (a scraper needs one).
const MAX_CONNECTIONS: usize = 64;
/// How long a client may take to send its request head.
const HEAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long one connection may stay open, its requests together.
const CONNECTION_LIFE: std::time::Duration = std::time::Duration::from_secs(300);

/// Serves `GET /metrics` on `addr` in the background; the text it serves. Every wait has a
/// deadline: a client that sends no request head in `HEAD_TIMEOUT` is dropped, a connection
/// lives at most `CONNECTION_LIFE`, and at most `MAX_CONNECTIONS` are open.
async fn serve(addr: std::net::SocketAddr) -> std::io::Result<Latest> {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper::{Response, StatusCode, header::CONTENT_TYPE};
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("hxrun monitor: serving GPU metrics at http://{}/metrics", listener.local_addr()?);
    let latest: Latest = Latest::default();
    let text = std::sync::Arc::clone(&latest);
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                // Out of descriptors, say: wait a little instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            };
            let Ok(slot) = std::sync::Arc::clone(&slots).try_acquire_owned() else { continue };
            let text = std::sync::Arc::clone(&text);
            let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let response = if req.uri().path() == "/metrics" {
                    let body = text.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
                    Response::builder()
                        .header(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
                        .body(Full::new(Bytes::from(body)))
                } else {
                    Response::builder()
                        .status(StatusCode::NOT_FOUND)
                        .body(Full::new(Bytes::from_static(b"GET /metrics\n")))
                };
                async move { response }
            });
            tokio::spawn(async move {
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(HEAD_TIMEOUT)
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
                let _ = tokio::time::timeout(CONNECTION_LIFE, connection).await;
                drop(slot);
            });
        }
    });
    Ok(latest)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (systemd's stop).
async fn shutdown() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn render(samples: &[GpuSample], csv: Option<&std::path::Path>) -> String {
    let mut out = format!(
        "hxrun monitor — {} (Ctrl-C to stop){}\n\n{:>3}  {:<28} {:>6} {:>17} {:>8} {:>6} {:>8}  throttle\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC"),
        csv.map(|p| format!(", appending to {}", p.display())).unwrap_or_default(),
        "gpu",
        "name",
        "util%",
        "memory MiB",
        "power W",
        "°C",
        "SM MHz"
    );
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.0}"));
    for s in samples {
        out.push_str(&format!(
            "{:>3}  {:<28} {:>6} {:>17} {:>8} {:>6} {:>8}  {}\n",
            s.gpu,
            s.name.chars().take(28).collect::<String>(),
            opt(s.util_pct),
            format!("{} / {}", s.mem_used / 1048576, s.mem_total / 1048576),
            opt(s.power_w),
            opt(s.temp_c),
            s.sm_clock_mhz.map_or("-".to_string(), |c| c.to_string()),
            if s.throttle.is_empty() { "-".to_string() } else { s.throttle.join("|") }
        ));
    }
    out
}
