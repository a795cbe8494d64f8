//! Ollama's native API: `/api/generate`, `/api/chat`, NDJSON streams, `/api/tags`.

use super::{Frame, LlmCall, Protocol, ServerFigures, StreamFormat};
use crate::spec::Api;
use serde_json::{Map, Value, json};

pub struct Ollama;

/// The metric fields Ollama puts in the final object of every answer.
const FINAL_FIELDS: &[&str] = &["total_duration", "load_duration", "eval_count", "eval_duration"];

fn u64_of(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

impl Protocol for Ollama {
    fn api(&self) -> Api {
        Api::Ollama
    }

    fn path(&self, call: &LlmCall) -> &'static str {
        match call {
            LlmCall::Generate(_) => "/api/generate",
            LlmCall::Chat(_) => "/api/chat",
        }
    }

    fn body(&self, call: &LlmCall, stream: bool) -> Value {
        let mut body = Map::new();
        body.insert("model".into(), call.model().into());
        body.insert("stream".into(), stream.into());
        let (options, format, keep_alive) = match call {
            LlmCall::Generate(g) => {
                body.insert("prompt".into(), g.prompt.clone().into());
                if let Some(s) = &g.system {
                    body.insert("system".into(), s.clone().into());
                }
                if let Some(raw) = g.raw {
                    body.insert("raw".into(), raw.into());
                }
                (&g.options, &g.format, &g.keep_alive)
            }
            LlmCall::Chat(c) => {
                let messages: Vec<Value> =
                    c.messages.iter().map(|m| json!({ "role": m.role, "content": m.content })).collect();
                body.insert("messages".into(), messages.into());
                (&c.options, &c.format, &c.keep_alive)
            }
        };
        if !options.is_empty() {
            body.insert("options".into(), json!(options));
        }
        if let Some(f) = format {
            body.insert("format".into(), f.clone());
        }
        if let Some(k) = keep_alive {
            body.insert("keep_alive".into(), k.clone());
        }
        Value::Object(body)
    }

    fn default_stream(&self) -> bool {
        true
    }

    fn stream_format(&self) -> StreamFormat {
        StreamFormat::Ndjson
    }

    fn decode(&self, call: &LlmCall, v: &Value) -> Frame {
        let content = match call {
            LlmCall::Generate(_) => v.get("response"),
            LlmCall::Chat(_) => v.pointer("/message/content"),
        };
        let is_final = v.get("done").and_then(Value::as_bool).unwrap_or(false);
        Frame {
            content: content.and_then(Value::as_str).unwrap_or_default().to_string(),
            model: v.get("model").and_then(Value::as_str).map(str::to_string),
            is_final,
            figures: ServerFigures {
                eval_count: u64_of(v, "eval_count"),
                eval_duration_ns: u64_of(v, "eval_duration"),
                prompt_eval_count: u64_of(v, "prompt_eval_count"),
                prompt_eval_duration_ns: u64_of(v, "prompt_eval_duration"),
                load_duration_ns: u64_of(v, "load_duration"),
                total_duration_ns: u64_of(v, "total_duration"),
                done_reason: v.get("done_reason").and_then(Value::as_str).map(str::to_string),
                ..Default::default()
            },
            error: v.get("error").map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string)),
        }
    }

    fn final_problems(&self, v: &Value) -> Vec<String> {
        let missing: Vec<&str> = FINAL_FIELDS.iter().copied().filter(|f| v.get(*f).is_none()).collect();
        if missing.is_empty() {
            Vec::new()
        } else {
            vec![format!("the final `done: true` object lacks the metric fields {}", missing.join(", "))]
        }
    }

    fn error_text(&self, body: &str) -> Option<String> {
        let v: Value = serde_json::from_str(body).ok()?;
        v.get("error").and_then(Value::as_str).map(str::to_string)
    }

    fn models_path(&self) -> &'static str {
        "/api/tags"
    }

    fn model_names(&self, body: &Value) -> Vec<String> {
        body.get("models")
            .and_then(Value::as_array)
            .map(|ms| {
                ms.iter().filter_map(|m| m.get("name").and_then(Value::as_str)).map(str::to_string).collect()
            })
            .unwrap_or_default()
    }
}
