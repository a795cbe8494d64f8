//! The OpenAI-compatible endpoints: `/v1/models`, `/v1/chat/completions`, `/v1/completions`,
//! SSE streams with usage in a last chunk when asked, and `data: [DONE]`. Same answers and
//! pacing as the Ollama endpoints.

use super::answer::Answer;
use super::ollama::last_user_message;
use super::state::{KeepAlive, SimState, full_name};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::time::Instant;

pub(super) fn routes(state: SimState) -> Router {
    Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .with_state(state)
}

/// An OpenAI-shaped error.
fn error(status: StatusCode, message: impl Into<String>, kind: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "message": message.into(), "type": kind, "param": null, "code": null } })),
    )
        .into_response()
}

/// Checks `Authorization: Bearer` when the simulator was given an API key.
fn authorised(s: &SimState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let Some(key) = &s.config.api_key else { return Ok(()) };
    let sent = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    if sent.strip_prefix("Bearer ") == Some(key.as_str()) {
        Ok(())
    } else {
        Err(Box::new(error(StatusCode::UNAUTHORIZED, "invalid API key", "invalid_request_error")))
    }
}

fn created() -> u64 {
    chrono::Utc::now().timestamp().max(0) as u64
}

async fn models(State(s): State<SimState>, headers: HeaderMap) -> Response {
    if let Err(r) = authorised(&s, &headers) {
        return *r;
    }
    let data: Vec<Value> = s
        .installed()
        .iter()
        .map(|m| json!({ "id": m.name, "object": "model", "created": 1755172800, "owned_by": "library" }))
        .collect();
    Json(json!({ "object": "list", "data": data })).into_response()
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Chat,
    Completion,
}

async fn chat(State(s): State<SimState>, headers: HeaderMap, body: Bytes) -> Response {
    respond(s, headers, body, Kind::Chat).await
}

async fn completions(State(s): State<SimState>, headers: HeaderMap, body: Bytes) -> Response {
    respond(s, headers, body, Kind::Completion).await
}

fn sse(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

async fn respond(s: SimState, headers: HeaderMap, body: Bytes, kind: Kind) -> Response {
    let arrived = Instant::now();
    if let Err(r) = authorised(&s, &headers) {
        return *r;
    }
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid request body: {e}"),
                "invalid_request_error",
            );
        }
    };
    let Some(name) = req.get("model").and_then(Value::as_str) else {
        return error(StatusCode::BAD_REQUEST, "model is required", "invalid_request_error");
    };
    let Some(model) = s.model(name) else {
        return error(StatusCode::NOT_FOUND, format!("model '{name}' not found"), "not_found_error");
    };
    let prompt = match kind {
        Kind::Chat => last_user_message(&req),
        Kind::Completion => req.get("prompt").and_then(Value::as_str).unwrap_or("").to_string(),
    };
    let max_tokens = req.get("max_tokens").and_then(Value::as_u64).map(|n| n as usize);
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let usage_asked = req.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false);
    let mut answer =
        Answer::start(&s, arrived, &model.name, &prompt, max_tokens, KeepAlive::parse(None)).await;
    let slot = answer.take_slot();
    let id = format!(
        "{}-{}",
        if kind == Kind::Chat { "chatcmpl" } else { "cmpl" },
        answer.start.elapsed().as_nanos() % 1_000_000
    );
    let object = match (kind, stream) {
        (Kind::Chat, true) => "chat.completion.chunk",
        (Kind::Chat, false) => "chat.completion",
        (Kind::Completion, _) => "text_completion",
    };
    let usage = json!({
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.tokens.len(),
        "total_tokens": answer.prompt_tokens + answer.tokens.len(),
    });
    let finish = answer.done_reason;
    let envelope = |choices: Value| {
        json!({ "id": id, "object": object, "created": created(), "model": full_name(answer.reported_model()),
                "system_fingerprint": "fp_hxrun_sim", "choices": choices })
    };
    if !stream {
        super::answer::wait_until(answer.end(), answer.precise).await;
        let choice = match kind {
            Kind::Chat => {
                json!({ "index": 0, "message": { "role": "assistant", "content": answer.text() }, "finish_reason": finish })
            }
            Kind::Completion => json!({ "index": 0, "text": answer.text(), "finish_reason": finish }),
        };
        let mut v = envelope(json!([choice]));
        v["usage"] = usage;
        return Json(v).into_response();
    }
    let chunk = |i: usize, token: &str| {
        let choice = match kind {
            Kind::Chat if i == 0 => {
                json!({ "index": 0, "delta": { "role": "assistant", "content": token }, "finish_reason": null })
            }
            Kind::Chat => json!({ "index": 0, "delta": { "content": token }, "finish_reason": null }),
            Kind::Completion => json!({ "index": 0, "text": token, "finish_reason": null }),
        };
        sse(&envelope(json!([choice])))
    };
    let last = match kind {
        Kind::Chat => json!({ "index": 0, "delta": {}, "finish_reason": finish }),
        Kind::Completion => json!({ "index": 0, "text": "", "finish_reason": finish }),
    };
    let mut tail = vec![sse(&envelope(json!([last])))];
    if usage_asked {
        let mut v = envelope(json!([]));
        v["usage"] = usage;
        tail.push(sse(&v));
    }
    tail.push(Bytes::from_static(b"data: [DONE]\n\n"));
    let body = answer.stream(slot, chunk, tail, Bytes::from_static(b"data: {\"choices\": [oops\n\n"));
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(body)
        .expect("static response parts are valid")
}
