//! OpenAI-compatible servers (vLLM, llama.cpp's llama-server, TGI, LM Studio, Ollama's /v1):
//! `/v1/completions`, `/v1/chat/completions`, SSE streams ending in `data: [DONE]`,
//! `/v1/models`.
//!
//! Generation parameters arrive with Ollama's names so one test body serves both APIs:
//! `num_predict` becomes `max_tokens`; temperature, top_p, seed and stop keep their names; any
//! other key passes through unchanged.

use super::{Frame, LlmCall, Protocol, ServerFigures, StreamFormat, StreamProblem};
use crate::suite::Api;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::borrow::Cow;

pub(crate) struct OpenAi;

/// One chunk (or whole answer) of a completion, borrowing its text where it can.
#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow)]
    choices: Option<Vec<Choice<'a>>>,
    usage: Option<Usage>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    delta: Option<Delta<'a>>,
    #[serde(borrow)]
    message: Option<Delta<'a>>,
    #[serde(borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow)]
    content: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Usage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

/// Ollama option names that OpenAI spells differently.
const RENAMES: &[(&str, &str)] = &[("num_predict", "max_tokens")];

impl Protocol for OpenAi {
    fn api(&self) -> Api {
        Api::Openai
    }

    fn path(&self, call: &LlmCall) -> &'static str {
        match call {
            LlmCall::Generate(_) => "/v1/completions",
            LlmCall::Chat(_) => "/v1/chat/completions",
        }
    }

    fn body(&self, call: &LlmCall, stream: bool) -> Value {
        let mut body = Map::new();
        body.insert("model".into(), call.model().into());
        match call {
            LlmCall::Generate(g) => {
                body.insert("prompt".into(), g.prompt.clone().into());
            }
            LlmCall::Chat(c) => {
                let messages: Vec<Value> =
                    c.messages.iter().map(|m| json!({ "role": m.role, "content": m.content })).collect();
                body.insert("messages".into(), messages.into());
            }
        }
        for (k, v) in call.options() {
            let key = RENAMES.iter().find(|(from, _)| from == k).map_or(k.as_str(), |(_, to)| to);
            body.insert(key.to_string(), v.clone());
        }
        body.insert("stream".into(), stream.into());
        if stream {
            // Usage in a last chunk, where the server supports it, gives token counts to agree on.
            body.insert("stream_options".into(), json!({ "include_usage": true }));
        }
        Value::Object(body)
    }

    fn default_stream(&self) -> bool {
        false
    }

    fn stream_format(&self) -> StreamFormat {
        StreamFormat::Sse
    }

    fn decode<'a>(&self, call: &LlmCall, message: &'a str) -> Result<Frame<'a>, serde_json::Error> {
        let c: Chunk<'a> = serde_json::from_str(message)?;
        let choice = c.choices.and_then(|cs| cs.into_iter().next());
        let (content, finish) = match choice {
            Some(ch) => {
                let content = match call {
                    LlmCall::Generate(_) => ch.text,
                    // Streamed chat carries `delta`, a whole answer `message`.
                    LlmCall::Chat(_) => ch.delta.or(ch.message).and_then(|d| d.content),
                };
                (content, ch.finish_reason)
            }
            None => (None, None),
        };
        Ok(Frame {
            content: content.unwrap_or_default(),
            model: c.model,
            is_final: finish.is_some(),
            figures: ServerFigures {
                done_reason: finish.map(Cow::into_owned),
                prompt_tokens: c.usage.as_ref().and_then(|u| u.prompt_tokens),
                completion_tokens: c.usage.as_ref().and_then(|u| u.completion_tokens),
                ..Default::default()
            },
            error: c.error.as_ref().map(super::error_text),
        })
    }

    fn final_problems(&self, _final_frame: &ServerFigures) -> Vec<StreamProblem> {
        Vec::new()
    }

    fn error_text(&self, body: &str) -> Option<String> {
        let v: Value = serde_json::from_str(body).ok()?;
        let e = v.get("error")?;
        e.get("message").and_then(Value::as_str).or_else(|| e.as_str()).map(str::to_string)
    }

    fn models_path(&self) -> &'static str {
        "/v1/models"
    }

    fn not_here_hint(&self) -> &'static str {
        "the target has no OpenAI-compatible API at this path; check the url (hxrun adds /v1/... itself), \
         or set `api: ollama` for an Ollama server's native API"
    }

    fn end_problems(
        &self,
        chunks: usize,
        final_figures: Option<&ServerFigures>,
        terminated: bool,
    ) -> Vec<StreamProblem> {
        let mut out = match final_figures {
            None => vec![StreamProblem::Truncated { chunks, what: "a `finish_reason`" }],
            Some(f) => self.final_problems(f),
        };
        if !terminated {
            out.push(StreamProblem::NoTerminator { what: "`data: [DONE]`" });
        }
        out
    }

    fn model_names(&self, body: &Value) -> Vec<String> {
        body.get("data")
            .and_then(Value::as_array)
            .map(|ms| {
                ms.iter().filter_map(|m| m.get("id").and_then(Value::as_str)).map(str::to_string).collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::GenerateStep;

    #[test]
    fn maps_ollama_option_names() {
        let step: GenerateStep = serde_json::from_value(json!({
            "model": "m", "prompt": "p",
            "options": { "num_predict": 5, "temperature": 0, "top_k": 3 }
        }))
        .unwrap();
        let body = OpenAi.body(&LlmCall::Generate(&step), true);
        assert_eq!(body["max_tokens"], 5);
        assert_eq!(body["temperature"], 0);
        assert_eq!(body["top_k"], 3, "unknown options pass through");
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert!(body.get("num_predict").is_none());
    }
}
