//! What each flavor of server says about itself, as the real one does: the endpoints beside
//! the API that only it has (llama.cpp's `/props`, vLLM's `/version`, TGI's `/info`), its
//! health check, the `owned_by` of its model list and its `Server` header — what `hxrun probe`
//! tells servers apart by. A non-Ollama flavor serves no Ollama endpoint (a real llama-server
//! answers `/api/tags` with 404).

use super::Flavor;
use super::state::SimState;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, middleware};
use serde_json::{Value, json};

/// The context length every simulated model has (what `/api/ps`, `/props` and `/info` say).
pub(super) const CONTEXT_LENGTH: u64 = 4096;

/// The routes only this flavor has.
pub(super) fn routes(state: SimState) -> Router {
    let flavor = state.config.flavor;
    let router = Router::new();
    let router = match flavor {
        Flavor::Ollama => router,
        Flavor::LlamaCpp => router
            .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
            .route("/props", get(props))
            .route("/tokenize", post(super::tokenizer::tokenize))
            .route("/detokenize", post(super::tokenizer::detokenize)),
        Flavor::Vllm => router
            .route("/health", get(|| async { StatusCode::OK }))
            .route("/version", get(|| async { Json(json!({ "version": "0.6.4" })) }))
            .route("/tokenize", post(super::tokenizer::tokenize))
            .route("/detokenize", post(super::tokenizer::detokenize)),
        Flavor::Tgi => router.route("/health", get(|| async { StatusCode::OK })).route("/info", get(info)),
    };
    router.with_state(state)
}

/// `owned_by` in `/v1/models`, as each server fills it.
pub(super) fn owned_by(flavor: Flavor, model: &str) -> String {
    match flavor {
        Flavor::Ollama => "library".into(),
        Flavor::LlamaCpp => "llamacpp".into(),
        Flavor::Vllm => "vllm".into(),
        Flavor::Tgi => model.into(),
    }
}

/// The `Server` header on every answer, where the real server sends one.
pub(super) fn server_header(flavor: Flavor, app: Router) -> Router {
    let name = match flavor {
        Flavor::LlamaCpp => "llama.cpp",
        Flavor::Vllm => "uvicorn",
        Flavor::Ollama | Flavor::Tgi => return app,
    };
    app.layer(middleware::map_response(move |mut r: Response| async move {
        r.headers_mut().insert(header::SERVER, HeaderValue::from_static(name));
        r
    }))
}

/// The first installed model's full name (llama-server and TGI serve one model).
fn served(s: &SimState) -> String {
    s.installed().first().map(|m| m.name.clone()).unwrap_or_default()
}

async fn props(State(s): State<SimState>) -> Response {
    let slots = s.config.capacity.unwrap_or(1);
    Json(json!({
        "default_generation_settings": { "n_ctx": CONTEXT_LENGTH, "model": served(&s) },
        "total_slots": slots,
        "model_path": format!("/models/{}.gguf", served(&s)),
        "build_info": "b4000-sim",
    }))
    .into_response()
}

async fn info(State(s): State<SimState>) -> Json<Value> {
    Json(json!({
        "model_id": served(&s),
        "max_input_tokens": CONTEXT_LENGTH - 1,
        "max_total_tokens": CONTEXT_LENGTH,
        "max_concurrent_requests": 128,
        "router": "text-generation-router",
        "version": "2.4.0",
    }))
}
