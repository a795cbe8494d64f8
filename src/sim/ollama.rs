//! Ollama's API, as its documentation describes it: `/`, `/api/version`, `/api/tags`,
//! `/api/ps`, `/api/show`, `/api/generate` and `/api/chat` (NDJSON streaming or one object).

use super::models::SimModel;
use super::state::{KeepAlive, SimState};
use super::text;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::time::Duration;
use tokio::time::{Instant, sleep_until};

pub fn routes(state: SimState) -> Router {
    Router::new()
        .route("/", get(root).head(root))
        .route("/api/version", get(version))
        .route("/api/tags", get(tags))
        .route("/api/ps", get(ps))
        .route("/api/show", post(show))
        .route("/api/generate", post(generate))
        .route("/api/chat", post(chat))
        .with_state(state)
}

async fn root() -> &'static str {
    "Ollama is running"
}

async fn version(State(s): State<SimState>) -> Json<Value> {
    Json(json!({ "version": s.config.version }))
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

async fn tags(State(s): State<SimState>) -> Json<Value> {
    let models: Vec<Value> = s
        .config
        .models
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
                "details": m.details(), "expires_at": expires, "size_vram": m.size_bytes,
            }))
        })
        .collect();
    Json(json!({ "models": models }))
}

/// An error answer, shaped as Ollama's: `{"error": "..."}` with a 4xx/5xx status.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError(status, message.into())
}

/// Parses a JSON request body, answering as Ollama does when it cannot.
fn parse(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice::<Value>(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid request body: {e}")))
}

fn model_of<'a>(s: &'a SimState, req: &Value) -> Result<&'a SimModel, ApiError> {
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

/// One generation, planned up front: when each token is due and what the metrics say.
struct Job {
    model: String,
    kind: Kind,
    tokens: Vec<String>,
    done_reason: &'static str,
    prompt_tokens: usize,
    start: Instant,
    load: Duration,
    ttft: Duration,
    per_token: Duration,
}

impl Job {
    /// When token `i` (0-based) is due: after load, prompt evaluation and i+1 token times.
    fn due(&self, i: usize) -> Instant {
        self.start + self.load + self.ttft + self.per_token * (i as u32 + 1)
    }

    fn end(&self) -> Instant {
        if self.tokens.is_empty() { self.start + self.load } else { self.due(self.tokens.len() - 1) }
    }

    fn chunk(&self, content: &str, done: bool) -> Value {
        let mut v = match self.kind {
            Kind::Generate => {
                json!({ "model": self.model, "created_at": now_text(), "response": content, "done": done })
            }
            Kind::Chat => json!({
                "model": self.model, "created_at": now_text(),
                "message": { "role": "assistant", "content": content }, "done": done,
            }),
        };
        if done {
            let eval = self.per_token * self.tokens.len() as u32;
            let obj = v.as_object_mut().expect("chunk is an object");
            obj.insert("done_reason".into(), self.done_reason.into());
            obj.insert("total_duration".into(), (self.start.elapsed().as_nanos() as u64).into());
            obj.insert("load_duration".into(), (self.load.as_nanos() as u64).into());
            if !self.tokens.is_empty() {
                obj.insert("prompt_eval_count".into(), self.prompt_tokens.into());
                obj.insert("prompt_eval_duration".into(), (self.ttft.as_nanos() as u64).into());
                obj.insert("eval_count".into(), self.tokens.len().into());
                obj.insert("eval_duration".into(), (eval.as_nanos() as u64).into());
            }
        }
        v
    }
}

fn line(v: &Value) -> Bytes {
    let mut b = serde_json::to_vec(v).expect("JSON values serialize");
    b.push(b'\n');
    Bytes::from(b)
}

async fn respond(s: SimState, body: Bytes, kind: Kind) -> Response {
    let start = Instant::now();
    let req = match parse(&body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let model = match model_of(&s, &req) {
        Ok(m) => m.name.clone(),
        Err(e) => return e.into_response(),
    };
    let prompt = match kind {
        Kind::Generate => req.get("prompt").and_then(Value::as_str).unwrap_or("").to_string(),
        Kind::Chat => req
            .get("messages")
            .and_then(Value::as_array)
            .and_then(|m| m.iter().rev().find(|m| m.get("role").and_then(Value::as_str) == Some("user")))
            .and_then(|m| m.get("content"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    };
    let keep = KeepAlive::parse(req.get("keep_alive"));
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(true);
    let load = s.acquire(&model, keep);
    let num_predict =
        req.pointer("/options/num_predict").and_then(Value::as_i64).filter(|n| *n >= 0).map(|n| n as usize);

    // An empty prompt only loads (or, with keep_alive 0, unloads) the model.
    let (tokens, done_reason) = if prompt.is_empty() {
        (Vec::new(), if keep == KeepAlive::Unload { "unload" } else { "load" })
    } else {
        let (mut tokens, cut) = text::answer(&prompt, num_predict);
        let trailing = &s.model(&model).map(|m| m.trailing.clone()).unwrap_or_default();
        if !cut && !trailing.is_empty() {
            tokens.push(trailing.clone());
        }
        (tokens, if cut { "length" } else { "stop" })
    };
    let job = Job {
        model,
        kind,
        prompt_tokens: text::tokenize(&prompt).len().max(1),
        tokens,
        done_reason,
        start,
        load,
        ttft: s.config.ttft,
        per_token: Duration::from_secs_f64(1.0 / s.config.tokens_per_s.max(1e-3)),
    };

    if !stream || job.tokens.is_empty() {
        sleep_until(job.end()).await;
        let mut v = job.chunk(&job.tokens.concat(), true);
        if kind == Kind::Chat && job.tokens.is_empty() {
            v["message"]["content"] = "".into();
        }
        return Json(v).into_response();
    }
    let body = stream::unfold((job, 0usize), |(job, i)| async move {
        if i > job.tokens.len() {
            return None;
        }
        let bytes = if i < job.tokens.len() {
            sleep_until(job.due(i)).await;
            line(&job.chunk(&job.tokens[i], false))
        } else {
            line(&job.chunk("", true))
        };
        Some((Ok::<_, Infallible>(bytes), (job, i + 1)))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(body))
        .expect("static response parts are valid")
}
