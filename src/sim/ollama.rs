//! Ollama's API, as its documentation describes it: `/`, `/api/version`, `/api/tags`,
//! `/api/ps`, `/api/show`, `/api/generate` and `/api/chat` (NDJSON streaming or one object).

use super::answer::Answer;
use super::lifecycle;
use super::models::SimModel;
use super::state::{KeepAlive, SimState};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;

pub(super) fn routes(state: SimState) -> Router {
    Router::new()
        .route("/", get(root).head(root))
        .route("/api/version", get(version))
        .route("/api/tags", get(tags))
        .route("/api/ps", get(ps))
        .route("/api/show", post(show))
        .route("/api/generate", post(generate))
        .route("/api/chat", post(chat))
        .route("/api/pull", post(lifecycle::pull))
        .route("/api/embed", post(lifecycle::embed))
        .with_state(state)
}

async fn root() -> &'static str {
    "Ollama is running"
}

async fn version(State(s): State<SimState>) -> Json<Value> {
    Json(json!({ "version": s.config.version }))
}

pub(super) fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

async fn tags(State(s): State<SimState>) -> Json<Value> {
    let models: Vec<Value> = s
        .installed()
        .iter()
        .map(|m| {
            json!({
                "name": m.name, "model": m.name, "modified_at": "2025-08-14T12:00:00Z",
                "size": m.size_bytes, "digest": m.digest(), "details": m.details(),
            })
        })
        .collect();
    Json(json!({ "models": models }))
}

async fn ps(State(s): State<SimState>) -> Json<Value> {
    let models: Vec<Value> = s
        .loaded()
        .into_iter()
        .filter_map(|(name, until)| {
            let m = s.model(&name)?;
            let expires = until.map_or_else(
                || "2318-08-14T12:00:00Z".to_string(),
                |t| {
                    let left = t.saturating_duration_since(std::time::Instant::now());
                    (chrono::Utc::now() + chrono::Duration::from_std(left).unwrap_or_default())
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                },
            );
            Some(json!({
                "name": m.name, "model": m.name, "size": m.size_bytes, "digest": m.digest(),
                "details": m.details(), "expires_at": expires,
                "size_vram": (m.size_bytes as f64 * s.config.faults.gpu_fraction.unwrap_or(1.0)) as u64,
                "context_length": super::identity::CONTEXT_LENGTH,
            }))
        })
        .collect();
    Json(json!({ "models": models }))
}

/// An error answer, shaped as Ollama's: `{"error": "..."}` with a 4xx/5xx status.
pub(super) struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

pub(super) fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError(status, message.into())
}

/// Parses a JSON request body, answering as Ollama does when it cannot.
pub(super) fn parse(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice::<Value>(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid request body: {e}")))
}

pub(super) fn model_of(s: &SimState, req: &Value) -> Result<SimModel, ApiError> {
    let name = req
        .get("model")
        .or_else(|| req.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "model is required"))?;
    s.model(name).ok_or_else(|| error(StatusCode::NOT_FOUND, format!("model '{name}' not found")))
}

async fn show(State(s): State<SimState>, body: Bytes) -> Response {
    let req = match parse(&body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    match model_of(&s, &req) {
        Ok(m) => Json(json!({
            "modelfile": format!("FROM {}\n", m.name),
            "parameters": "stop \"<|end|>\"",
            "template": "{{ .Prompt }}",
            "details": m.details(),
            "model_info": { "general.architecture": m.family, "general.parameter_count": m.parameter_size },
            "capabilities": ["completion"],
            "modified_at": "2025-08-14T12:00:00Z",
        }))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Generate,
    Chat,
}

async fn generate(State(s): State<SimState>, body: Bytes) -> Response {
    respond(s, body, Kind::Generate).await
}

async fn chat(State(s): State<SimState>, body: Bytes) -> Response {
    respond(s, body, Kind::Chat).await
}

/// One NDJSON object of an answer: a token chunk, or the final object with the metrics.
fn object(a: &Answer, kind: Kind, content: &str, done: bool) -> Value {
    let mut v = match kind {
        Kind::Generate => {
            json!({ "model": a.reported_model(), "created_at": now_text(), "response": content, "done": done })
        }
        // Ollama sends a tool call whole, in one message, its arguments an object.
        Kind::Chat if a.tool.is_some() && !content.is_empty() => {
            let arguments: Value = serde_json::from_str(content).unwrap_or(Value::Null);
            json!({
                "model": a.reported_model(), "created_at": now_text(),
                "message": { "role": "assistant", "content": "",
                             "tool_calls": [{ "function": { "name": a.tool, "arguments": arguments } }] },
                "done": done,
            })
        }
        Kind::Chat => json!({
            "model": a.reported_model(), "created_at": now_text(),
            "message": { "role": "assistant", "content": content }, "done": done,
        }),
    };
    if done {
        let obj = v.as_object_mut().expect("an answer object is a JSON object");
        obj.insert("done_reason".into(), a.done_reason.into());
        obj.insert("total_duration".into(), nanos(a.total_duration()).into());
        obj.insert("load_duration".into(), nanos(a.load).into());
        if !a.tokens.is_empty() {
            obj.insert("prompt_eval_count".into(), a.prompt_tokens.into());
            obj.insert("prompt_eval_duration".into(), nanos(a.ttft).into());
            obj.insert("eval_count".into(), a.tokens.len().into());
            obj.insert("eval_duration".into(), nanos(a.eval_duration()).into());
        }
    }
    v
}

fn nanos(d: Duration) -> u64 {
    d.as_nanos() as u64
}

fn line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).expect("JSON values serialize");
    b.push(b'\n');
    Bytes::from(b)
}

async fn respond(s: SimState, body: Bytes, kind: Kind) -> Response {
    let arrived = Instant::now();
    let req = match parse(&body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let model = match model_of(&s, &req) {
        Ok(m) => m.name,
        Err(e) => return e.into_response(),
    };
    let prompt = match kind {
        Kind::Generate => req.get("prompt").and_then(Value::as_str).unwrap_or("").to_string(),
        Kind::Chat => last_user_message(&req),
    };
    let keep = KeepAlive::parse(req.get("keep_alive"));
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(true);
    let num_predict =
        req.pointer("/options/num_predict").and_then(Value::as_i64).filter(|n| *n >= 0).map(|n| n as usize);
    // Ollama has no way to hold an answer's length: `num_predict` is a ceiling.
    let mut answer = Answer::start(&s, arrived, &model, &prompt, num_predict, false, keep).await;
    let tools = req.get("tools").and_then(Value::as_array).filter(|t| !t.is_empty() && kind == Kind::Chat);
    if let Some(tools) = tools {
        answer.call_tool(tools, &prompt);
        if answer.tool.is_some() {
            // One message holds the whole call.
            answer.tokens = vec![answer.tokens.concat()];
        }
    } else if let Some(format) = req.get("format").filter(|f| !f.is_null() && !answer.tokens.is_empty()) {
        answer.structure(format);
    }

    // An empty prompt only loads (or, with keep_alive 0, unloads) the model: one object.
    if !stream || answer.tokens.is_empty() {
        super::answer::wait_until(answer.end(), answer.precise).await;
        return Json(object(&answer, kind, &answer.text(), true)).into_response();
    }
    let tail = vec![line(&object(&answer, kind, "", true))];
    let slot = answer.take_slot();
    let body = answer.stream(
        slot,
        |_, token| line(&object(&answer, kind, token, false)),
        tail,
        Bytes::from_static(b"{\"model\": oops\n"),
    );
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(body)
        .expect("static response parts are valid")
}

/// The content of the last user message of a chat request.
pub(super) fn last_user_message(req: &Value) -> String {
    let content = req
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.iter().rev().find(|m| m.get("role").and_then(Value::as_str) == Some("user")))
        .and_then(|m| m.get("content"));
    match content {
        Some(Value::String(text)) => text.clone(),
        // OpenAI's content parts (what GuideLLM and multimodal clients send): the text parts.
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::last_user_message;
    use serde_json::json;

    #[test]
    fn the_last_user_message_as_text_or_as_content_parts() {
        let plain = json!({ "messages": [{ "role": "user", "content": "first" }, { "role": "assistant", "content": "x" }, { "role": "user", "content": "HX runs" }] });
        assert_eq!(last_user_message(&plain), "HX runs");
        let parts = json!({ "messages": [{ "role": "user", "content": [
            { "type": "text", "text": "HX" }, { "type": "image_url", "image_url": { "url": "data:," } }, { "type": "text", "text": "runs" }
        ] }] });
        assert_eq!(last_user_message(&parts), "HX runs");
        assert_eq!(last_user_message(&json!({ "messages": [] })), "");
    }
}
