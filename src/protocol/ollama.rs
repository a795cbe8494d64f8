//! Ollama's native API: `/api/generate`, `/api/chat`, NDJSON streams, `/api/tags`.

use super::{Embeddings, Frame, LlmCall, Protocol, ServerFigures, StreamFormat, StreamProblem};
use crate::suite::Api;
use crate::suite::embed::EmbedStep;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::borrow::Cow;

pub(crate) struct Ollama;

/// One NDJSON object of an answer (generate or chat), borrowing its text where it can.
#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow)]
    response: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<ChunkMessage<'a>>,
    done: Option<bool>,
    #[serde(borrow)]
    done_reason: Option<Cow<'a, str>>,
    eval_count: Option<u64>,
    eval_duration: Option<u64>,
    prompt_eval_count: Option<u64>,
    prompt_eval_duration: Option<u64>,
    load_duration: Option<u64>,
    total_duration: Option<u64>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChunkMessage<'a> {
    #[serde(borrow)]
    content: Option<Cow<'a, str>>,
    tool_calls: Option<Value>,
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
                if !c.tools.is_empty() {
                    body.insert(
                        "tools".into(),
                        c.tools.iter().map(crate::suite::llm::Tool::to_json).collect(),
                    );
                }
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

    fn decode<'a>(&self, call: &LlmCall, message: &'a str) -> Result<Frame<'a>, serde_json::Error> {
        let c: Chunk<'a> = serde_json::from_str(message)?;
        let (content, tool_calls) = match call {
            LlmCall::Generate(_) => (c.response, Vec::new()),
            LlmCall::Chat(_) => match c.message {
                Some(m) => (m.content, super::tool_call_pieces(m.tool_calls.as_ref())),
                None => (None, Vec::new()),
            },
        };
        Ok(Frame {
            content: content.unwrap_or_default(),
            model: c.model,
            is_final: c.done.unwrap_or(false),
            figures: ServerFigures {
                eval_count: c.eval_count,
                eval_duration_ns: c.eval_duration,
                prompt_eval_count: c.prompt_eval_count,
                prompt_eval_duration_ns: c.prompt_eval_duration,
                load_duration_ns: c.load_duration,
                total_duration_ns: c.total_duration,
                done_reason: c.done_reason.map(Cow::into_owned),
                ..Default::default()
            },
            error: c.error.as_ref().map(super::error_text),
            tool_calls,
        })
    }

    fn final_problems(&self, f: &ServerFigures) -> Vec<StreamProblem> {
        let present = [
            ("total_duration", f.total_duration_ns.is_some()),
            ("load_duration", f.load_duration_ns.is_some()),
            ("eval_count", f.eval_count.is_some()),
            ("eval_duration", f.eval_duration_ns.is_some()),
        ];
        let missing: Vec<&str> = present.iter().filter(|(_, p)| !p).map(|(n, _)| *n).collect();
        if missing.is_empty() { Vec::new() } else { vec![StreamProblem::FinalLacks { fields: missing }] }
    }

    fn error_text(&self, body: &str) -> Option<String> {
        let v: Value = serde_json::from_str(body).ok()?;
        v.get("error").and_then(Value::as_str).map(str::to_string)
    }

    fn models_path(&self) -> &'static str {
        "/api/tags"
    }

    fn not_here_hint(&self) -> &'static str {
        "the target has no Ollama API at this path; if it is an OpenAI-compatible server (vLLM, llama.cpp's \
         llama-server, TGI, LM Studio), set `api: openai` on the target"
    }

    fn pull(&self, model: &str) -> Option<(&'static str, Value)> {
        Some(("/api/pull", json!({ "model": model, "stream": true })))
    }

    /// Ollama's documented empty request with `keep_alive: 0`.
    fn unload_problem(&self, body: &str) -> Option<String> {
        // Ollama confirms with one object: `"done": true` (and `"done_reason": "unload"`).
        match serde_json::from_str::<Value>(body) {
            Ok(v) if v.get("done").and_then(Value::as_bool) == Some(true) => None,
            Ok(_) => Some(
                "the answer is JSON but has no `\"done\": true`, which Ollama sends once a model is unloaded"
                    .into(),
            ),
            Err(_) => Some("the answer is not JSON: Ollama confirms an unload with a JSON object".into()),
        }
    }

    fn unload(&self, model: &str) -> Option<(&'static str, Value)> {
        Some(("/api/generate", json!({ "model": model, "keep_alive": 0 })))
    }

    fn loaded_path(&self) -> Option<&'static str> {
        Some("/api/ps")
    }

    fn loaded_models(&self, body: &Value) -> Vec<super::LoadedModel> {
        let Some(models) = body.get("models").and_then(Value::as_array) else { return Vec::new() };
        models
            .iter()
            .filter_map(|m| {
                let number = |k: &str| m.get(k).and_then(Value::as_u64);
                Some(super::LoadedModel {
                    name: m.get("name").and_then(Value::as_str)?.to_string(),
                    size: number("size").unwrap_or(0),
                    size_vram: number("size_vram").unwrap_or(0),
                    context_length: number("context_length"),
                })
            })
            .collect()
    }

    fn end_problems(
        &self,
        chunks: usize,
        final_figures: Option<&ServerFigures>,
        _terminated: bool,
    ) -> Vec<StreamProblem> {
        match final_figures {
            None => vec![StreamProblem::Truncated { chunks, what: "the final `done: true` object" }],
            Some(f) => self.final_problems(f),
        }
    }

    fn model_names(&self, body: &Value) -> Vec<String> {
        body.get("models")
            .and_then(Value::as_array)
            .map(|ms| {
                ms.iter().filter_map(|m| m.get("name").and_then(Value::as_str)).map(str::to_string).collect()
            })
            .unwrap_or_default()
    }

    fn embed_path(&self) -> &'static str {
        "/api/embed"
    }

    fn embed_body(&self, step: &EmbedStep) -> Value {
        let mut body = json!({ "model": step.model, "input": step.input });
        if let Some(d) = step.dimensions {
            body["dimensions"] = d.into();
        }
        body
    }

    fn embeddings(&self, body: &Value) -> Result<Embeddings, String> {
        let list =
            body.get("embeddings").and_then(Value::as_array).ok_or("the answer has no `embeddings` list")?;
        let vectors = list
            .iter()
            .enumerate()
            .map(|(i, v)| super::vector(v).ok_or(format!("embeddings[{i}] is not a list of numbers")))
            .collect::<Result<_, _>>()?;
        Ok(Embeddings {
            vectors,
            prompt_tokens: body.get("prompt_eval_count").and_then(Value::as_u64),
            total_duration_ns: body.get("total_duration").and_then(Value::as_u64),
            load_duration_ns: body.get("load_duration").and_then(Value::as_u64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::GenerateStep;

    fn step() -> GenerateStep {
        serde_json::from_value(json!({ "model": "m", "prompt": "p" })).unwrap()
    }

    #[test]
    fn decodes_chunks_and_the_final_object_with_its_figures() {
        let s = step();
        let call = LlmCall::Generate(&s);
        let f = Ollama.decode(&call, r#"{"model":"m","response":"Hi","done":false}"#).unwrap();
        assert_eq!((f.content.as_ref(), f.is_final), ("Hi", false));
        let last = r#"{"model":"m","response":"","done":true,"done_reason":"stop","eval_count":8,
            "eval_duration":400000000,"total_duration":5,"load_duration":1,"prompt_eval_count":2}"#;
        let f = Ollama.decode(&call, last).unwrap();
        assert!(f.is_final);
        assert_eq!(f.figures.tokens_per_s(), Some(20.0), "8 tokens in 0.4 s");
        assert!(Ollama.final_problems(&f.figures).is_empty());
        assert!(Ollama.decode(&call, "[1,2]").is_err());
    }

    #[test]
    fn a_final_object_without_its_figures_and_a_cut_stream_are_problems() {
        let bare = ServerFigures { eval_count: Some(3), ..Default::default() };
        assert_eq!(
            Ollama.final_problems(&bare),
            vec![StreamProblem::FinalLacks {
                fields: vec!["total_duration", "load_duration", "eval_duration"]
            }]
        );
        assert_eq!(
            Ollama.end_problems(5, None, false),
            vec![StreamProblem::Truncated { chunks: 5, what: "the final `done: true` object" }]
        );
    }

    #[test]
    fn lifecycle_calls_and_the_loaded_models_vram() {
        assert_eq!(Ollama.pull("m").unwrap().0, "/api/pull");
        let (path, body) = Ollama.unload("m").unwrap();
        assert_eq!((path, &body["keep_alive"]), ("/api/generate", &json!(0)));
        let ps = json!({ "models": [{ "name": "phi3:latest", "size_vram": 42 }] });
        assert_eq!(Ollama.loaded_vram(&ps, "phi3"), Some(42), "`:latest` is implied");
        assert_eq!(Ollama.loaded_vram(&ps, "gemma2"), None);
        assert_eq!(Ollama.error_text(r#"{"error":"model not found"}"#).as_deref(), Some("model not found"));
    }
}
