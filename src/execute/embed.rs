//! The embed step: one request for the vectors of its inputs, timed, read through the
//! protocol of its API.

use super::endpoint::Endpoint;
use super::transport::{Purpose, Transport};
use crate::protocol::Protocol;
use crate::record::{EmbedObservation, StepError};
use crate::suite::embed::EmbedStep;
use tokio::time::Instant;

/// Values of the first vector kept for reports.
const HEAD: usize = 8;

pub(crate) async fn run(
    transport: &Transport,
    protocol: &dyn Protocol,
    step: &EmbedStep,
    endpoint: Endpoint<'_>,
) -> Result<EmbedObservation, StepError> {
    let path = protocol.embed_path();
    let request = endpoint.post_json(path, &protocol.embed_body(step));
    let started = Instant::now();
    let response = transport.send(&request, Purpose::Api).await?;
    let status = response.status;
    let success = response.is_success();
    let (body, cut) = response.text().await?;
    let elapsed = started.elapsed();
    let mut obs = EmbedObservation {
        api: protocol.api(),
        url: endpoint.url(path),
        model: step.model.clone(),
        status,
        error: None,
        vectors: Vec::new(),
        count: 0,
        dimensions: Vec::new(),
        norms: Vec::new(),
        head: Vec::new(),
        prompt_tokens: None,
        elapsed,
    };
    if !success {
        obs.error = Some(protocol.error_text(&body).unwrap_or_else(|| crate::record::excerpt(&body, 300)));
        return Ok(obs);
    }
    if cut {
        obs.error = Some(crate::protocol::cut_note(transport.limits.max_body));
        return Ok(obs);
    }
    let read = serde_json::from_str(&body)
        .map_err(|e| format!("the answer is not JSON ({e}): {}", crate::record::excerpt(&body, 200)))
        .and_then(|v| protocol.embeddings(&v));
    match read {
        Ok(e) => {
            obs.count = e.vectors.len();
            obs.dimensions = e.vectors.iter().map(Vec::len).collect();
            obs.norms = e.vectors.iter().map(|v| v.iter().map(|x| x * x).sum::<f64>().sqrt()).collect();
            obs.head = e.vectors.first().map(|v| v.iter().take(HEAD).copied().collect()).unwrap_or_default();
            obs.prompt_tokens = e.prompt_tokens;
            obs.vectors = e.vectors;
        }
        Err(why) => obs.error = Some(why),
    }
    Ok(obs)
}
