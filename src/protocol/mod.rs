//! The wire formats of the servers hxrun speaks, behind one interface.
//!
//! Nothing outside this module knows an endpoint path, a body field or a chunk shape: the
//! executor asks the protocol for a request body, hands it each decoded stream message, and
//! records the neutral [`Frame`]s it gets back. Adding a server API means adding a file here.

pub(crate) mod detect;
pub(crate) mod ollama;
pub(crate) mod openai;
mod problem;

pub(crate) use problem::{At, StreamProblem, cut_note};

use crate::suite::embed::EmbedStep;
use crate::suite::{Api, ChatStep, GenerateStep, PerfStep, Step};
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A generate or chat step, as the protocols see it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LlmCall<'a> {
    Generate(&'a GenerateStep),
    Chat(&'a ChatStep),
}

impl<'a> LlmCall<'a> {
    /// The call a step makes, if it is a generate or chat step.
    pub(crate) fn of_step(step: &'a Step) -> Option<LlmCall<'a>> {
        match step {
            Step::Generate(g) => Some(LlmCall::Generate(g)),
            Step::Chat(c) => Some(LlmCall::Chat(c)),
            _ => None,
        }
    }

    /// The call a perf loop repeats, if it repeats a generate or chat request.
    pub(crate) fn of_perf(step: &'a PerfStep) -> Option<LlmCall<'a>> {
        match (&step.generate, &step.chat) {
            (Some(g), _) => Some(LlmCall::Generate(g)),
            (None, Some(c)) => Some(LlmCall::Chat(c)),
            _ => None,
        }
    }

    /// The step's own `api:`, if it overrides the suite's.
    pub(crate) fn api(&self) -> Option<Api> {
        match self {
            LlmCall::Generate(g) => g.api,
            LlmCall::Chat(c) => c.api,
        }
    }

    /// How many times the step asks (`repeat`, default once).
    pub(crate) fn repeat(&self) -> u32 {
        match self {
            LlmCall::Generate(g) => g.repeat,
            LlmCall::Chat(c) => c.repeat,
        }
        .unwrap_or(1)
    }

    pub(crate) fn chunk_timeout(&self) -> Option<std::time::Duration> {
        match self {
            LlmCall::Generate(g) => g.chunk_timeout,
            LlmCall::Chat(c) => c.chunk_timeout,
        }
    }

    /// `generate` or `chat`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            LlmCall::Generate(_) => "generate",
            LlmCall::Chat(_) => "chat",
        }
    }

    pub(crate) fn model(&self) -> &str {
        match self {
            LlmCall::Generate(g) => &g.model,
            LlmCall::Chat(c) => &c.model,
        }
    }

    pub(crate) fn stream(&self) -> Option<bool> {
        match self {
            LlmCall::Generate(g) => g.stream,
            LlmCall::Chat(c) => c.stream,
        }
    }

    pub(crate) fn options(&self) -> &BTreeMap<String, Value> {
        match self {
            LlmCall::Generate(g) => &g.options,
            LlmCall::Chat(c) => &c.options,
        }
    }

    /// `format`: "json" or a JSON Schema the answer must follow (a structured answer).
    pub(crate) fn format(&self) -> Option<&Value> {
        match self {
            LlmCall::Generate(g) => g.format.as_ref(),
            LlmCall::Chat(c) => c.format.as_ref(),
        }
    }
}

/// A model loaded in the server's memory, as the server lists it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub(crate) struct LoadedModel {
    pub(crate) name: String,
    /// Bytes in memory in all.
    pub(crate) size: u64,
    /// Of those, bytes in GPU memory.
    pub(crate) size_vram: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) context_length: Option<u64>,
}

/// How a protocol frames a streamed answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamFormat {
    /// One JSON object per line (Ollama).
    Ndjson,
    /// Server-Sent Events with `data: {json}` and a `data: [DONE]` terminator (OpenAI).
    Sse,
}

/// The server's own figures, as reported (durations in nanoseconds, as Ollama sends them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub(crate) struct ServerFigures {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) eval_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) eval_duration_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) prompt_eval_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) prompt_eval_duration_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) load_duration_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) total_duration_ns: Option<u64>,
    /// Ollama's done_reason or OpenAI's finish_reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) done_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) prompt_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) completion_tokens: Option<u64>,
    /// The server's own generation rate where it reports one (llama.cpp's
    /// `predicted_per_second`, over n−1 tokens): preferred to recomputing it from a count and a
    /// duration, which is Ollama's definition and not every server's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reported_tokens_per_s: Option<f64>,
}

impl ServerFigures {
    /// Takes every figure `other` has (later chunks win).
    pub(crate) fn merge(&mut self, other: ServerFigures) {
        macro_rules! take {
            ($($f:ident)*) => {$( if other.$f.is_some() { self.$f = other.$f; } )*};
        }
        take!(eval_count eval_duration_ns prompt_eval_count prompt_eval_duration_ns load_duration_ns
              total_duration_ns done_reason prompt_tokens completion_tokens reported_tokens_per_s);
    }

    /// Takes the figures `other` has that this lacks (response headers under a body's figures).
    pub(crate) fn fill_from(&mut self, other: ServerFigures) {
        let mut merged = other;
        merged.merge(std::mem::take(self));
        *self = merged;
    }

    /// Whether the server reported any timing of its own (some report only token counts).
    pub(crate) fn has_timing(&self) -> bool {
        self.eval_duration_ns.is_some() || self.reported_tokens_per_s.is_some()
    }

    /// The server's output token count, whichever protocol reported it.
    pub(crate) fn output_tokens(&self) -> Option<u64> {
        self.eval_count.or(self.completion_tokens)
    }

    /// Server tokens/s: the server's own figure where it reports one, else eval_count /
    /// eval_duration (Ollama's definition).
    pub(crate) fn tokens_per_s(&self) -> Option<f64> {
        if let Some(r) = self.reported_tokens_per_s {
            return Some(r);
        }
        match (self.eval_count, self.eval_duration_ns) {
            (Some(n), Some(d)) if d > 0 => Some(n as f64 / d as f64 * 1e9),
            _ => None,
        }
    }
}

/// One decoded message of an answer (a stream chunk, or the whole non-stream body). It
/// borrows from the message text where it can: the stream path decodes one per token.
#[derive(Debug, Clone, Default)]
pub(crate) struct Frame<'a> {
    /// The text this message adds.
    pub(crate) content: Cow<'a, str>,
    pub(crate) model: Option<Cow<'a, str>>,
    /// The message that ends the answer (Ollama `done: true`, OpenAI a `finish_reason`).
    pub(crate) is_final: bool,
    pub(crate) figures: ServerFigures,
    /// An error the server reported inside a 2xx stream.
    pub(crate) error: Option<String>,
    /// Tool calls, or pieces of them, this message carries.
    pub(crate) tool_calls: Vec<ToolCallPiece>,
}

/// A tool call as one message carries it: whole (Ollama, a whole OpenAI answer) or a piece of
/// a streamed OpenAI call (the name first, the arguments in text fragments), by its index.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolCallPiece {
    pub(crate) index: usize,
    pub(crate) name: Option<String>,
    pub(crate) arguments: ToolArguments,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ToolArguments {
    None,
    /// JSON text, or a fragment of it (OpenAI sends the arguments as a string).
    Text(String),
    /// A JSON value (Ollama sends an object).
    Value(Value),
}

/// OpenAI's `tool_calls` entries (`function.arguments` a JSON string or a fragment of one);
/// Ollama's are the same shape with an object for the arguments and no index.
pub(crate) fn tool_call_pieces(calls: Option<&Value>) -> Vec<ToolCallPiece> {
    let Some(calls) = calls.and_then(Value::as_array) else { return Vec::new() };
    calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let f = c.get("function");
            ToolCallPiece {
                index: c.get("index").and_then(Value::as_u64).map_or(i, |n| n as usize),
                name: f.and_then(|f| f.get("name")).and_then(Value::as_str).map(str::to_string),
                arguments: match f.and_then(|f| f.get("arguments")) {
                    Some(Value::String(s)) => ToolArguments::Text(s.clone()),
                    Some(Value::Null) | None => ToolArguments::None,
                    Some(v) => ToolArguments::Value(v.clone()),
                },
            }
        })
        .collect()
}

/// A server API.
pub(crate) trait Protocol: Send + Sync {
    fn api(&self) -> Api;
    /// The endpoint path for a call.
    fn path(&self, call: &LlmCall) -> &'static str;
    /// The request body.
    fn body(&self, call: &LlmCall, stream: bool) -> Value;
    /// Whether the server streams when the request does not say.
    fn default_stream(&self) -> bool;
    fn stream_format(&self) -> StreamFormat;
    /// Decodes one stream message or a whole non-stream body (JSON text).
    fn decode<'a>(&self, call: &LlmCall, message: &'a str) -> Result<Frame<'a>, serde_json::Error>;
    /// What is missing from the final message (Ollama's metric fields), if anything.
    fn final_problems(&self, final_frame: &ServerFigures) -> Vec<StreamProblem>;
    /// The error text of an error response body, if the body has the protocol's shape.
    fn error_text(&self, body: &str) -> Option<String>;
    /// Where the model list lives, and the names in it.
    fn models_path(&self) -> &'static str;
    fn model_names(&self, body: &Value) -> Vec<String>;

    /// Figures a server sends in response headers (TGI's `x-inference-time`...); none by default.
    fn header_figures(&self, _headers: &[(String, String)]) -> ServerFigures {
        ServerFigures::default()
    }

    /// What to say when this API's endpoint is not found at the target (a 404 outside the
    /// protocol's error shape): probably the other API family.
    fn not_here_hint(&self) -> &'static str;

    /// Embeddings: where to ask, what to send, and the vectors (and figures) in the answer.
    fn embed_path(&self) -> &'static str;
    fn embed_body(&self, step: &EmbedStep) -> Value;
    fn embeddings(&self, body: &Value) -> Result<Embeddings, String>;

    /// Model lifecycle: the request that downloads a model, streaming progress lines (path
    /// and body); None where the API has no such call.
    fn pull(&self, _model: &str) -> Option<(&'static str, Value)> {
        None
    }
    /// Why a 2xx answer to `unload` does not confirm the unload, if it does not (a proxy's
    /// page or a garbled body is no unload).
    fn unload_problem(&self, _body: &str) -> Option<String> {
        None
    }
    /// The request that unloads a model, so the next request pays a cold load.
    fn unload(&self, _model: &str) -> Option<(&'static str, Value)> {
        None
    }
    /// Where the loaded models are listed, and a model's VRAM in that answer.
    fn loaded_path(&self) -> Option<&'static str> {
        None
    }
    fn loaded_vram(&self, body: &Value, model: &str) -> Option<u64> {
        self.loaded_models(body).into_iter().find(|m| same_model(&m.name, model)).map(|m| m.size_vram)
    }
    /// Every loaded model in that answer.
    fn loaded_models(&self, _body: &Value) -> Vec<LoadedModel> {
        Vec::new()
    }

    /// Whether a stream has ended by this protocol's rule: a final object with `done: true`
    /// (Ollama), or the `[DONE]` terminator (OpenAI).
    fn stream_ended(&self, final_seen: bool, terminated: bool) -> bool {
        match self.stream_format() {
            StreamFormat::Ndjson => final_seen,
            StreamFormat::Sse => terminated,
        }
    }
    /// What is wrong with how a stream ended: its final figures (None when it never sent
    /// them) and whether the terminator came.
    fn end_problems(
        &self,
        chunks: usize,
        final_figures: Option<&ServerFigures>,
        terminated: bool,
    ) -> Vec<StreamProblem>;
}

/// The implementation of an API.
/// The vectors of an embeddings answer, in input order, and what the server said about them.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Embeddings {
    pub(crate) vectors: Vec<Vec<f64>>,
    pub(crate) prompt_tokens: Option<u64>,
    pub(crate) total_duration_ns: Option<u64>,
    pub(crate) load_duration_ns: Option<u64>,
}

/// A JSON array of numbers as a vector; None for anything else.
pub(crate) fn vector(v: &Value) -> Option<Vec<f64>> {
    v.as_array()?.iter().map(Value::as_f64).collect()
}

pub(crate) fn for_api(api: Api) -> &'static dyn Protocol {
    match api {
        Api::Ollama => &ollama::Ollama,
        Api::Openai => &openai::OpenAi,
    }
}

/// Model names compare without the implicit `:latest` tag.
pub(crate) fn same_model(a: &str, b: &str) -> bool {
    a.trim_end_matches(":latest") == b.trim_end_matches(":latest")
}

/// An `error` field as text: a string, or an object's `message`, or the JSON.
pub(crate) fn error_text(e: &Value) -> String {
    e.as_str()
        .map(str::to_string)
        .or_else(|| e.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| e.to_string())
}
