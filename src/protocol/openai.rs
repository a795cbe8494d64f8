//! OpenAI-compatible servers (vLLM, llama.cpp's llama-server, TGI, LM Studio, Ollama's /v1):
//! `/v1/completions`, `/v1/chat/completions`, SSE streams ending in `data: [DONE]`,
//! `/v1/models`.
//!
//! Generation parameters arrive with Ollama's names so one test body serves both APIs:
//! `num_predict` becomes `max_tokens`; temperature, top_p, seed and stop keep their names; any
//! other key passes through unchanged.

use super::{Embeddings, Frame, LlmCall, Protocol, ServerFigures, StreamFormat, StreamProblem};
use crate::suite::Api;
use crate::suite::embed::EmbedStep;
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
    /// llama.cpp's llama-server: its own timing of the answer.
    timings: Option<Timings>,
    error: Option<Value>,
}

/// llama-server's `timings` (milliseconds; `predicted_n` counts the end-of-sequence token).
#[derive(Deserialize)]
struct Timings {
    prompt_n: Option<u64>,
    prompt_ms: Option<f64>,
    predicted_n: Option<u64>,
    predicted_ms: Option<f64>,
    predicted_per_second: Option<f64>,
}

fn ms_to_ns(ms: f64) -> u64 {
    (ms * 1e6).round().max(0.0) as u64
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
    tool_calls: Option<Value>,
}

#[derive(Deserialize)]
struct Usage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

/// Ollama's `format` as OpenAI's `response_format`: `json` is a JSON object, a schema a strict
/// `json_schema` (named `answer`).
fn response_format(format: &Value) -> Value {
    match format {
        Value::Object(schema) => json!({
            "type": "json_schema",
            "json_schema": { "name": "answer", "schema": schema, "strict": true }
        }),
        _ => json!({ "type": "json_object" }),
    }
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
                if !c.tools.is_empty() {
                    body.insert(
                        "tools".into(),
                        c.tools.iter().map(crate::suite::llm::Tool::to_json).collect(),
                    );
                }
            }
        }
        for (k, v) in call.options() {
            let key = RENAMES.iter().find(|(from, _)| from == k).map_or(k.as_str(), |(_, to)| to);
            body.insert(key.to_string(), v.clone());
        }
        // `format` in OpenAI's words, unless `options.response_format` was written as such.
        if let Some(format) = call.format()
            && !body.contains_key("response_format")
        {
            body.insert("response_format".into(), response_format(format));
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
        let (content, finish, tool_calls) = match choice {
            Some(ch) => {
                let (content, calls) = match call {
                    LlmCall::Generate(_) => (ch.text, Vec::new()),
                    // Streamed chat carries `delta`, a whole answer `message`.
                    LlmCall::Chat(_) => match ch.delta.or(ch.message) {
                        Some(d) => (d.content, super::tool_call_pieces(d.tool_calls.as_ref())),
                        None => (None, Vec::new()),
                    },
                };
                (content, ch.finish_reason, calls)
            }
            None => (None, None, Vec::new()),
        };
        Ok(Frame {
            content: content.unwrap_or_default(),
            model: c.model,
            is_final: finish.is_some(),
            figures: ServerFigures {
                done_reason: finish.map(Cow::into_owned),
                prompt_tokens: c.usage.as_ref().and_then(|u| u.prompt_tokens),
                completion_tokens: c.usage.as_ref().and_then(|u| u.completion_tokens),
                eval_count: c.timings.as_ref().and_then(|t| t.predicted_n),
                eval_duration_ns: c.timings.as_ref().and_then(|t| t.predicted_ms).map(ms_to_ns),
                prompt_eval_count: c.timings.as_ref().and_then(|t| t.prompt_n),
                prompt_eval_duration_ns: c.timings.as_ref().and_then(|t| t.prompt_ms).map(ms_to_ns),
                reported_tokens_per_s: c.timings.as_ref().and_then(|t| t.predicted_per_second),
                ..Default::default()
            },
            error: c.error.as_ref().map(super::error_text),
            tool_calls,
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

    /// TGI's timing headers (whole milliseconds), sent with whole answers.
    fn header_figures(&self, headers: &[(String, String)]) -> ServerFigures {
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.trim().parse::<u64>().ok())
        };
        let generated = get("x-generated-tokens");
        let inference_ms = get("x-inference-time");
        ServerFigures {
            eval_count: generated,
            eval_duration_ns: inference_ms.map(|ms| ms * 1_000_000),
            prompt_eval_count: get("x-prompt-tokens"),
            total_duration_ns: get("x-total-time").map(|ms| ms * 1_000_000),
            ..Default::default()
        }
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

    fn embed_path(&self) -> &'static str {
        "/v1/embeddings"
    }

    fn embed_body(&self, step: &EmbedStep) -> Value {
        let mut body = json!({ "model": step.model, "input": step.input, "encoding_format": "float" });
        if let Some(d) = step.dimensions {
            body["dimensions"] = d.into();
        }
        body
    }

    /// `data[*].embedding`, put in `index` order (a server may answer out of order).
    fn embeddings(&self, body: &Value) -> Result<Embeddings, String> {
        let data = body.get("data").and_then(Value::as_array).ok_or("the answer has no `data` list")?;
        let mut indexed = data
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let index = d.get("index").and_then(Value::as_u64).map_or(i, |n| n as usize);
                let v = d
                    .get("embedding")
                    .and_then(super::vector)
                    .ok_or(format!("data[{i}].embedding is not a list of numbers"))?;
                Ok((index, v))
            })
            .collect::<Result<Vec<_>, String>>()?;
        indexed.sort_by_key(|(i, _)| *i);
        Ok(Embeddings {
            vectors: indexed.into_iter().map(|(_, v)| v).collect(),
            prompt_tokens: body.pointer("/usage/prompt_tokens").and_then(Value::as_u64),
            ..Default::default()
        })
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
            "options": { "num_predict": 5, "temperature": 0, "top_k": 3, "seed": 42 }
        }))
        .unwrap();
        let body = OpenAi.body(&LlmCall::Generate(&step), true);
        assert_eq!(body["max_tokens"], 5);
        assert_eq!(body["temperature"], 0);
        assert_eq!(body["top_k"], 3, "unknown options pass through");
        assert_eq!(body["seed"], 42, "a seed reaches the server");
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert!(body.get("num_predict").is_none());
    }

    fn step() -> GenerateStep {
        serde_json::from_value(json!({ "model": "m", "prompt": "p" })).unwrap()
    }

    #[test]
    fn decodes_deltas_the_final_chunk_and_usage() {
        let s = step();
        let call = LlmCall::Generate(&s);
        let f =
            OpenAi.decode(&call, r#"{"model":"m","choices":[{"text":"Hi","finish_reason":null}]}"#).unwrap();
        assert_eq!((f.content.as_ref(), f.is_final, f.model.as_deref()), ("Hi", false, Some("m")));
        let last = r#"{"choices":[{"text":"","finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":9}}"#;
        let f = OpenAi.decode(&call, last).unwrap();
        assert!(f.is_final);
        assert_eq!((f.figures.prompt_tokens, f.figures.output_tokens()), (Some(3), Some(9)));
        assert_eq!(f.figures.done_reason.as_deref(), Some("length"));
        assert!(OpenAi.decode(&call, r#"{"choices":"no"}"#).is_err(), "a wrong shape is an error");
    }

    #[test]
    fn a_stream_needs_a_finish_reason_and_the_done_terminator() {
        let fin = ServerFigures { done_reason: Some("stop".into()), ..Default::default() };
        assert!(OpenAi.end_problems(3, Some(&fin), true).is_empty());
        assert_eq!(
            OpenAi.end_problems(3, Some(&fin), false),
            vec![StreamProblem::NoTerminator { what: "`data: [DONE]`" }]
        );
        let cut = OpenAi.end_problems(2, None, false);
        assert_eq!(cut[0], StreamProblem::Truncated { chunks: 2, what: "a `finish_reason`" });
        assert_eq!(cut.len(), 2);
    }

    #[test]
    fn errors_and_model_lists_in_the_openai_shape() {
        assert_eq!(
            OpenAi.error_text(r#"{"error":{"message":"no such model"}}"#).as_deref(),
            Some("no such model")
        );
        assert_eq!(OpenAi.error_text("<html>404</html>"), None);
        let list = json!({ "data": [{ "id": "a" }, { "id": "b" }] });
        assert_eq!(OpenAi.model_names(&list), vec!["a", "b"]);
        assert!(OpenAi.pull("m").is_none() && OpenAi.loaded_path().is_none(), "no lifecycle calls");
    }
}
