//! Model lifecycle steps: pull (with progress), the model list, unload.

use super::endpoint::Endpoint;
use super::http::chain;
use super::transport::{Purpose, Transport};
use crate::protocol::{Protocol, same_model};
use crate::record::{FailureKind, HttpObservation, ModelsObservation, PullObservation, StepError};
use crate::suite::{ModelsStep, PullStep, UnloadStep};
use futures_util::StreamExt;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::codec::{FramedRead, LinesCodec};
use tokio_util::io::StreamReader;

/// Progress of a long step (a download in bytes, a perf loop in requests).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProgressUpdate {
    pub(crate) done: u64,
    /// 0 when unknown (a perf loop that runs for a duration).
    pub(crate) total: u64,
    pub(crate) unit: &'static str,
}

pub(crate) type Progress = UnboundedSender<ProgressUpdate>;

fn step_error(kind: FailureKind, message: String, detail: &str) -> StepError {
    StepError { kind, message, detail: detail.to_string() }
}

/// Longest line of a pull's progress stream.
const MAX_PULL_LINE: usize = 64 * 1024;
/// Distinct status lines and layers a pull records (a hostile stream could send endless new
/// ones; a real pull has a handful).
const MAX_PULL_ENTRIES: usize = 1024;

/// GETs an API path and reads its JSON answer: a cut body, an error status (in the server's
/// words) or text that is not JSON is a step error naming the request.
async fn get_json(
    transport: &Transport,
    protocol: &dyn Protocol,
    endpoint: Endpoint<'_>,
    path: &str,
) -> Result<(String, Value), StepError> {
    let url = endpoint.url(path);
    let detail = format!("GET {url}");
    let with_detail = |mut e: StepError| {
        e.detail = detail.clone();
        e
    };
    let resp = transport.send(&endpoint.get(path), Purpose::Api).await.map_err(with_detail)?;
    let status = resp.status;
    let (body, cut) = resp.text().await.map_err(with_detail)?;
    if cut {
        let message = format!("{detail}: {}", crate::protocol::cut_note(transport.limits.max_body));
        return Err(step_error(FailureKind::Error, message, &detail));
    }
    if !(200..300).contains(&status) {
        let why = protocol.error_text(&body).unwrap_or_else(|| crate::record::excerpt(&body, 200));
        return Err(step_error(FailureKind::Error, format!("{detail} answered {status}: {why}"), &detail));
    }
    let v: Value = serde_json::from_str(&body).map_err(|e| {
        step_error(FailureKind::Error, format!("{detail} did not answer JSON ({e})"), &detail)
    })?;
    Ok((url, v))
}

/// The model names a server lists.
pub(crate) async fn list_models(
    transport: &Transport,
    protocol: &dyn Protocol,
    endpoint: Endpoint<'_>,
) -> Result<(String, Vec<String>), StepError> {
    let (url, v) = get_json(transport, protocol, endpoint, protocol.models_path()).await?;
    Ok((url, protocol.model_names(&v)))
}

pub(crate) async fn models(
    transport: &Transport,
    protocol: &dyn Protocol,
    step: &ModelsStep,
    endpoint: Endpoint<'_>,
) -> Result<ModelsObservation, StepError> {
    let started = Instant::now();
    let (url, listed) = list_models(transport, protocol, endpoint).await?;
    let asks_loaded = !step.loaded.is_empty() || step.fully_on_gpu.is_some() || step.context_length.is_some();
    let loaded = match protocol.loaded_path() {
        Some(path) if asks_loaded => Some(loaded_models(transport, protocol, endpoint, path).await?),
        _ => None,
    };
    Ok(ModelsObservation {
        url,
        listed,
        present: step.present.clone(),
        absent: step.absent.clone(),
        loaded,
        elapsed: started.elapsed(),
    })
}

/// The models the server has in memory (Ollama `/api/ps`).
async fn loaded_models(
    transport: &Transport,
    protocol: &dyn Protocol,
    endpoint: Endpoint<'_>,
    path: &str,
) -> Result<Vec<crate::protocol::LoadedModel>, StepError> {
    let (_, v) = get_json(transport, protocol, endpoint, path).await?;
    Ok(protocol.loaded_models(&v))
}

pub(crate) async fn pull(
    transport: &Transport,
    protocol: &dyn Protocol,
    step: &PullStep,
    endpoint: Endpoint<'_>,
    progress: &Progress,
) -> Result<PullObservation, StepError> {
    let started = Instant::now();
    let mut obs = PullObservation {
        model: step.model.clone(),
        already_present: false,
        statuses: Vec::new(),
        bytes_total: 0,
        bytes_completed: 0,
        error: None,
        elapsed: started.elapsed(),
    };
    if step.ensure {
        let (_, listed) = list_models(transport, protocol, endpoint).await?;
        if listed.iter().any(|m| same_model(m, &step.model)) {
            obs.already_present = true;
            obs.elapsed = started.elapsed();
            return Ok(obs);
        }
    }
    let Some((path, body)) = protocol.pull(&step.model) else {
        let message = format!("the {} API has no way to pull a model", protocol.api());
        return Err(step_error(FailureKind::Error, message, &step.model));
    };
    let url = endpoint.url(path);
    let detail = format!("POST {url} (model {})", step.model);
    let with_detail = |mut e: StepError| {
        e.detail = detail.clone();
        e
    };
    let request = endpoint.post_json(path, &body);
    let resp = transport.send(&request, Purpose::Api).await.map_err(with_detail)?;
    if !resp.is_success() {
        let status = resp.status;
        let body = resp.text().await.map(|(b, _)| b).unwrap_or_default();
        obs.error = Some(format!(
            "{status}: {}",
            protocol.error_text(&body).unwrap_or_else(|| crate::record::excerpt(&body, 200))
        ));
        obs.elapsed = started.elapsed();
        return Ok(obs);
    }
    // Layers are reported one after another, each with its own total.
    let mut layers: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let reader = StreamReader::new(resp.into_stream());
    let mut lines = FramedRead::new(reader, LinesCodec::new_with_max_length(MAX_PULL_LINE));
    while let Some(line) = lines.next().await {
        let line = line.map_err(|e| {
            step_error(FailureKind::Connection, format!("the pull stream broke off: {}", chain(&e)), &detail)
        })?;
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            obs.error = Some(format!(
                "the pull stream sent a line that is not JSON: {}",
                crate::record::excerpt(&line, 120)
            ));
            break;
        };
        if let Some(e) = v.get("error") {
            obs.error = Some(e.as_str().map_or_else(|| e.to_string(), str::to_string));
            break;
        }
        let status = v.get("status").and_then(Value::as_str).unwrap_or_default().to_string();
        if let (Some(total), Some(digest)) =
            (v.get("total").and_then(Value::as_u64), v.get("digest").and_then(Value::as_str))
        {
            let done = v.get("completed").and_then(Value::as_u64).unwrap_or(0);
            if layers.len() < MAX_PULL_ENTRIES || layers.contains_key(digest) {
                layers.insert(digest.to_string(), (done, total));
            }
            let (done, total) = layers.values().fold((0, 0), |(d, t), (ld, lt)| (d + ld, t + lt));
            obs.bytes_completed = done;
            obs.bytes_total = total;
            let _ = progress.send(ProgressUpdate { done, total, unit: "bytes" });
        }
        if !status.is_empty() && obs.statuses.last() != Some(&status) && obs.statuses.len() < MAX_PULL_ENTRIES
        {
            obs.statuses.push(status);
        }
    }
    obs.elapsed = started.elapsed();
    Ok(obs)
}

/// Unloads a model with the protocol's request (Ollama: an empty request, `keep_alive: 0`).
pub(crate) async fn unload(
    transport: &Transport,
    protocol: &dyn Protocol,
    step: &UnloadStep,
    endpoint: Endpoint<'_>,
) -> Result<HttpObservation, StepError> {
    let Some((path, body)) = protocol.unload(&step.model) else {
        let message = format!("the {} API has no way to unload a model", protocol.api());
        return Err(step_error(FailureKind::Error, message, &step.model));
    };
    let url = endpoint.url(path);
    let detail = format!("POST {url} (unload {})", step.model);
    let with_detail = |mut e: StepError| {
        e.detail = detail.clone();
        e
    };
    let started = Instant::now();
    let request = endpoint.post_json(path, &body);
    let resp = transport.send(&request, Purpose::Api).await.map_err(with_detail)?;
    let (status, headers) = (resp.status, resp.headers.clone());
    let (body, cut) = resp.text().await.map_err(with_detail)?;
    if (200..300).contains(&status)
        && let Some(why) = protocol.unload_problem(&body)
    {
        let message = format!(
            "unload {}: status {status}, but {why}; body: {}",
            step.model,
            crate::record::excerpt(&body, 200)
        );
        return Err(with_detail(step_error(FailureKind::Error, message, &step.model)));
    }
    Ok(HttpObservation {
        method: "POST".to_string(),
        url,
        request_headers: request.headers,
        status,
        headers,
        body,
        body_truncated: cut,
        elapsed: started.elapsed(),
    })
}
