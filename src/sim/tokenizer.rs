//! `/tokenize` and `/detokenize` as llama.cpp's llama-server and vLLM serve them, over the
//! simulator's own word tokenizer (`text::tokenize`, what its prompt counts use): a token's id
//! is its place in a vocabulary that grows as texts are tokenized (at most `MAX_VOCABULARY`
//! words), so ids turn back into the same text.

use super::Flavor;
use super::state::SimState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

/// The most distinct tokens the simulator keeps ids for.
const MAX_VOCABULARY: usize = 1 << 20;

/// Token ids both ways.
#[derive(Debug, Default)]
pub(super) struct Vocabulary {
    ids: HashMap<String, u64>,
    tokens: Vec<String>,
}

impl Vocabulary {
    fn id(&mut self, token: &str) -> Option<u64> {
        if let Some(id) = self.ids.get(token) {
            return Some(*id);
        }
        if self.tokens.len() >= MAX_VOCABULARY {
            return None;
        }
        let id = self.tokens.len() as u64;
        self.tokens.push(token.to_string());
        self.ids.insert(token.to_string(), id);
        Some(id)
    }
}

fn bad(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

pub(super) async fn tokenize(State(s): State<SimState>, Json(body): Json<Value>) -> Response {
    let flavor = s.config.flavor;
    let key = if flavor == Flavor::Vllm { "prompt" } else { "content" };
    let Some(text) = body.get(key).and_then(Value::as_str) else {
        return bad(&format!("`{key}` is required"));
    };
    let vocabulary: &Mutex<Vocabulary> = s.vocabulary();
    let Ok(mut v) = vocabulary.lock() else { return bad("the vocabulary is unavailable") };
    let ids: Option<Vec<u64>> = super::text::tokenize(text).iter().map(|t| v.id(t)).collect();
    let Some(ids) = ids else { return bad("the vocabulary is full") };
    match flavor {
        Flavor::Vllm => Json(json!({
            "count": ids.len(),
            "max_model_len": super::identity::CONTEXT_LENGTH,
            "tokens": ids,
        }))
        .into_response(),
        _ => Json(json!({ "tokens": ids })).into_response(),
    }
}

pub(super) async fn detokenize(State(s): State<SimState>, Json(body): Json<Value>) -> Response {
    let Some(ids) = body.get("tokens").and_then(Value::as_array) else { return bad("`tokens` is required") };
    let Ok(v) = s.vocabulary().lock() else { return bad("the vocabulary is unavailable") };
    let mut text = String::new();
    for id in ids {
        match id.as_u64().and_then(|i| v.tokens.get(usize::try_from(i).ok()?)) {
            Some(t) => text.push_str(t),
            None => return bad(&format!("unknown token id {id}")),
        }
    }
    let key = if s.config.flavor == Flavor::Vllm { "prompt" } else { "content" };
    Json(json!({ key: text })).into_response()
}
