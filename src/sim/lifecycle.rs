//! `/api/pull` (progress lines paced at the configured download speed) and `/api/embed`.

use super::models::model_named;
use super::ollama::{error, model_of, parse};
use super::state::{SimState, full_name};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::{Instant, sleep_until};

/// Progress lines per layer while it downloads.
const STEPS: u64 = 8;

fn line(v: Value) -> Bytes {
    let mut b = serde_json::to_vec(&v).expect("JSON values serialize");
    b.push(b'\n');
    Bytes::from(b)
}

pub(super) async fn pull(State(s): State<SimState>, body: Bytes) -> Response {
    let req = match parse(&body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let Some(name) = req.get("model").or_else(|| req.get("name")).and_then(Value::as_str) else {
        return error(StatusCode::BAD_REQUEST, "model is required").into_response();
    };
    let name = full_name(name);
    let start = Instant::now();
    let mut lines: Vec<(Instant, Bytes)> = vec![(start, line(json!({ "status": "pulling manifest" })))];
    let known = s
        .model(&name)
        .or_else(|| s.config.registry.iter().any(|r| full_name(r) == name).then(|| model_named(&name)));
    let Some(model) = known else {
        lines.push((start, line(json!({ "error": "pull model manifest: file does not exist" }))));
        return ndjson(lines);
    };
    let digest = format!("sha256:{}", model.digest());
    let layers = [
        (digest.as_str(), model.size_bytes),
        ("sha256:4fa551d4f938f68b8c1e6afa9d28befb70e3f33f75d0753248d530364aeea40f", 485),
    ];
    let rate = s.config.pull_bytes_per_s.max(1.0);
    let mut at = start;
    for (digest, total) in layers {
        let layer_time = Duration::from_secs_f64(total as f64 / rate);
        for step in 0..=STEPS {
            let completed = total * step / STEPS;
            let due = at + layer_time.mul_f64(step as f64 / STEPS as f64);
            let status = format!("pulling {}", &digest[7..19]);
            lines.push((
                due,
                line(json!({ "status": status, "digest": digest, "total": total, "completed": completed })),
            ));
        }
        at += layer_time;
    }
    for status in ["verifying sha256 digest", "writing manifest", "success"] {
        lines.push((at, line(json!({ "status": status }))));
    }
    s.install(model);
    ndjson(lines)
}

fn ndjson(lines: Vec<(Instant, Bytes)>) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(super::answer::paced(lines, None, false))
        .expect("static response parts are valid")
}

/// Deterministic 8-dimensional unit vectors, one per input.
pub(super) async fn embed(State(s): State<SimState>, body: Bytes) -> Response {
    let start = Instant::now();
    let req = match parse(&body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let model = match model_of(&s, &req) {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    let inputs: Vec<String> = match req.get("input") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => return error(StatusCode::BAD_REQUEST, "input is required").into_response(),
    };
    let load = s.acquire(&model.name, super::state::KeepAlive::parse(req.get("keep_alive")));
    let dimensions = req.get("dimensions").and_then(Value::as_u64).map_or(EMBED_DIMENSIONS, |d| d as usize);
    let embeddings: Vec<Vec<f64>> = inputs.iter().map(|t| vector(t, dimensions)).collect();
    let tokens: usize = inputs.iter().map(|t| super::text::tokenize(t).len()).sum();
    sleep_until(start + load + s.config.ttft).await;
    Json(json!({
        "model": model.name,
        "embeddings": embeddings,
        "total_duration": start.elapsed().as_nanos() as u64,
        "load_duration": load.as_nanos() as u64,
        "prompt_eval_count": tokens,
    }))
    .into_response()
}

/// Dimensions of the simulator's embeddings.
pub(super) const EMBED_DIMENSIONS: usize = 64;

/// A deterministic, normalised embedding: each word adds to a few dimensions chosen by its
/// hash, so texts sharing words point the same way (cosine similarity follows word overlap)
/// and unrelated texts are near orthogonal.
pub(super) fn vector(text: &str, dimensions: usize) -> Vec<f64> {
    let dimensions = dimensions.clamp(1, 4096);
    let mut v = vec![0.0; dimensions];
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let word = word.to_lowercase();
        for k in 0..3u8 {
            let h = super::text::fnv1a(super::text::FNV_OFFSET, word.bytes().chain([k]));
            let sign = if h & 1 == 0 { 1.0 } else { -1.0 };
            v[(h >> 1) as usize % dimensions] += sign;
        }
    }
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm == 0.0 {
        v[0] = 1.0;
        return v;
    }
    v.iter().map(|x| x / norm).collect()
}
