//! The OpenAI-compatible endpoints: `/v1/models`, `/v1/chat/completions`, `/v1/completions`,
//! SSE streams with usage in a last chunk when asked, and `data: [DONE]`. Same answers and
//! pacing as the Ollama endpoints.

use super::Flavor;
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
        .route("/v1/embeddings", post(embeddings))
        .with_state(state)
}

/// A request's JSON body and the installed model it names, or the error answer.
fn request(s: &SimState, body: &Bytes) -> Result<(Value, super::SimModel), Box<Response>> {
    let req: Value = serde_json::from_slice(body).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            format!("invalid request body: {e}"),
            "invalid_request_error",
        ))
    })?;
    let Some(name) = req.get("model").and_then(Value::as_str) else {
        return Err(Box::new(error(StatusCode::BAD_REQUEST, "model is required", "invalid_request_error")));
    };
    // Echoing: the first model it has (any, when it lists none) answers under the name asked.
    let echoed = || {
        let mut first = s.config.models.first().cloned().unwrap_or_else(|| super::models::model_named(name));
        first.name = name.to_string();
        first
    };
    let Some(model) = s.model(name).or_else(|| s.config.faults.echo_model.then(echoed)) else {
        return Err(Box::new(error(
            StatusCode::NOT_FOUND,
            format!("model '{name}' not found"),
            "not_found_error",
        )));
    };
    Ok((req, model))
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
        .map(|m| {
            let mut model = json!({
                "id": m.name, "object": "model", "created": 1755172800,
                "owned_by": super::identity::owned_by(s.config.flavor, &m.name),
            });
            match s.config.flavor {
                Flavor::Vllm => model["max_model_len"] = json!(super::identity::CONTEXT_LENGTH),
                Flavor::LlamaCpp => model["meta"] = json!({ "n_ctx_train": super::identity::CONTEXT_LENGTH }),
                Flavor::Ollama | Flavor::Tgi => {}
            }
            model
        })
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
    let (req, model) = match request(&s, &body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let prompt = match kind {
        Kind::Chat => last_user_message(&req),
        Kind::Completion => req.get("prompt").and_then(Value::as_str).unwrap_or("").to_string(),
    };
    // OpenAI's newer name for it first (what AIPerf sends), then the classic one.
    let max_tokens = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| req.get(*k).and_then(Value::as_u64))
        .map(|n| n as usize);
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let usage_asked = req.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false);
    // Held to its length: `ignore_eos` (llama.cpp, vLLM), `min_tokens` (vLLM).
    let held = match s.config.flavor {
        Flavor::LlamaCpp => req.get("ignore_eos").and_then(Value::as_bool).unwrap_or(false),
        Flavor::Vllm => {
            req.get("ignore_eos").and_then(Value::as_bool).unwrap_or(false)
                || req
                    .get("min_tokens")
                    .and_then(Value::as_u64)
                    .zip(max_tokens)
                    .is_some_and(|(m, n)| m as usize >= n)
        }
        Flavor::Ollama | Flavor::Tgi => false,
    };
    let mut answer =
        Answer::start(&s, arrived, &model.name, &prompt, max_tokens, held, KeepAlive::parse(None)).await;
    let tools = req.get("tools").and_then(Value::as_array).filter(|t| !t.is_empty() && kind == Kind::Chat);
    if let Some(tools) = tools {
        answer.call_tool(tools, &prompt);
    } else if let Some(format) = req.get("response_format").and_then(super::structured::from_response_format)
    {
        answer.structure(&format);
    }
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
    let flavor = s.config.flavor;
    let finish = answer.done_reason;
    // llama.cpp decodes the end-of-sequence token too when an answer stops on its own, and
    // counts it; it never arrives as text.
    let eos = usize::from(flavor == Flavor::LlamaCpp && finish == "stop");
    let k = answer.tokens.len();
    let usage = json!({
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": k + eos,
        "total_tokens": answer.prompt_tokens + k + eos,
    });
    let timings = (flavor == Flavor::LlamaCpp).then(|| llama_timings(&answer, k + eos));
    let fingerprint = match flavor {
        Flavor::Ollama => json!("fp_ollama"),
        Flavor::LlamaCpp => json!("b6000-hxrunsim"),
        Flavor::Vllm => Value::Null,
        Flavor::Tgi => json!("3.3.4-native"),
    };
    let envelope = |choices: Value| {
        json!({ "id": id, "object": object, "created": created(), "model": full_name(answer.reported_model()),
                "system_fingerprint": fingerprint, "choices": choices })
    };
    if !stream {
        super::answer::wait_until(answer.end(), answer.precise).await;
        let choice = match (kind, &answer.tool) {
            (Kind::Chat, Some(name)) => json!({
                "index": 0,
                "message": { "role": "assistant", "content": null, "tool_calls": [
                    { "id": "call_0", "type": "function", "function": { "name": name, "arguments": answer.text() } }
                ] },
                "finish_reason": finish
            }),
            (Kind::Chat, None) => {
                json!({ "index": 0, "message": { "role": "assistant", "content": answer.text() }, "finish_reason": finish })
            }
            (Kind::Completion, _) => json!({ "index": 0, "text": answer.text(), "finish_reason": finish }),
        };
        let mut v = envelope(json!([choice]));
        v["usage"] = usage;
        if let Some(t) = &timings {
            v["timings"] = t.clone();
        }
        let mut response = Json(v).into_response();
        if flavor == Flavor::Tgi {
            for (name, value) in tgi_headers(&answer) {
                if let Ok(value) = axum::http::HeaderValue::from_str(&value) {
                    response.headers_mut().insert(name, value);
                }
            }
        }
        return response;
    }
    // vLLM batches: two tokens per chunk (the first of a pair waits for the second).
    let pairs = flavor == Flavor::Vllm;
    let tokens = answer.tokens.clone();
    let tool = answer.tool.clone();
    let chunk = |i: usize, token: &str| {
        let joined;
        let token = if pairs {
            if i.is_multiple_of(2) && i + 1 < tokens.len() {
                return Bytes::new();
            }
            joined = if i % 2 == 1 { format!("{}{token}", tokens[i - 1]) } else { token.to_string() };
            joined.as_str()
        } else {
            token
        };
        let i = if pairs { i / 2 } else { i };
        // A tool call streams as deltas: its name first, its arguments in fragments.
        let tool = tool.as_deref();
        let choice = match kind {
            Kind::Chat if tool.is_some() => {
                let mut call = json!({ "index": 0, "function": { "arguments": token } });
                if i == 0 {
                    call = json!({ "index": 0, "id": "call_0", "type": "function",
                                   "function": { "name": tool, "arguments": token } });
                }
                json!({ "index": 0, "delta": { "tool_calls": [call] }, "finish_reason": null })
            }
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
    let mut final_chunk = envelope(json!([last]));
    if let Some(t) = &timings {
        final_chunk["timings"] = t.clone();
    }
    let mut tail = vec![sse(&final_chunk)];
    if usage_asked && !s.config.faults.no_stream_usage {
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

/// llama-server's `timings` for an answer of `n` decoded tokens (the EOS token included): the
/// prompt's time, and generation from the first token to the last decoded one, over which
/// `predicted_per_second` is n−1 tokens.
fn llama_timings(answer: &Answer, n: usize) -> Value {
    let prompt_ms = answer.ttft.as_secs_f64() * 1e3;
    let predicted_ms = answer.per_token.as_secs_f64() * 1e3 * n.saturating_sub(1) as f64;
    let per_second = if predicted_ms > 0.0 { n.saturating_sub(1) as f64 / predicted_ms * 1e3 } else { 0.0 };
    json!({
        "prompt_n": answer.prompt_tokens,
        "prompt_ms": prompt_ms,
        "prompt_per_second": if prompt_ms > 0.0 { answer.prompt_tokens as f64 / prompt_ms * 1e3 } else { 0.0 },
        "predicted_n": n,
        "predicted_ms": predicted_ms,
        "predicted_per_token_ms": if n > 1 { predicted_ms / (n - 1) as f64 } else { 0.0 },
        "predicted_per_second": per_second,
    })
}

/// TGI's timing headers on a whole answer (whole milliseconds; inference includes the prompt).
fn tgi_headers(answer: &Answer) -> Vec<(&'static str, String)> {
    let ms = |d: std::time::Duration| d.as_millis().to_string();
    let inference = answer.ttft + answer.per_token * answer.tokens.len() as u32;
    let per_token = inference / (answer.tokens.len().max(1) as u32);
    vec![
        ("x-compute-type", "gpu+optimized".to_string()),
        ("x-total-time", ms(answer.end() - answer.start)),
        ("x-validation-time", "0".to_string()),
        ("x-queue-time", ms(answer.load)),
        ("x-inference-time", ms(inference)),
        ("x-time-per-token", ms(per_token)),
        ("x-prompt-tokens", answer.prompt_tokens.to_string()),
        ("x-generated-tokens", answer.tokens.len().to_string()),
    ]
}

async fn embeddings(State(s): State<SimState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = authorised(&s, &headers) {
        return *r;
    }
    let arrived = Instant::now();
    let (req, model) = match request(&s, &body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let inputs: Vec<String> = match req.get("input") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => return error(StatusCode::BAD_REQUEST, "input is required", "invalid_request_error"),
    };
    let dimensions = req
        .get("dimensions")
        .and_then(Value::as_u64)
        .map_or(super::lifecycle::EMBED_DIMENSIONS, |d| d as usize);
    let load = s.acquire(&model.name, KeepAlive::parse(None));
    tokio::time::sleep_until(arrived + load + s.config.ttft).await;
    let tokens: usize = inputs.iter().map(|t| super::text::tokenize(t).len()).sum();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({ "object": "embedding", "index": i, "embedding": super::lifecycle::vector(t, dimensions) }))
        .collect();
    Json(json!({
        "object": "list", "data": data, "model": full_name(&model.name),
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    }))
    .into_response()
}
