//! LLM step kinds: prompts and models as first-class steps, protocol-neutral.
//!
//! One test body works against either protocol: generation parameters use Ollama's names in
//! `options` and are mapped for OpenAI-compatible servers (see `protocol/openai.rs`).

use super::Api;
use super::values::DurationText;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// A completion from a prompt: Ollama `/api/generate`, OpenAI `/v1/completions`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GenerateStep {
    /// Model name, e.g. phi3:latest.
    pub(crate) model: String,
    /// The prompt.
    pub(crate) prompt: String,
    /// System prompt (Ollama only).
    pub(crate) system: Option<String>,
    /// Generation parameters with Ollama's names: temperature, num_predict, top_p, seed, stop...
    #[serde(default)]
    pub(crate) options: BTreeMap<String, serde_json::Value>,
    /// A structured answer: "json", or a JSON Schema the answer must follow. Sent as Ollama's
    /// `format`, and as OpenAI's `response_format` (`json_object`, or `json_schema`).
    pub(crate) format: Option<serde_json::Value>,
    /// How long the server keeps the model loaded afterwards ("5m", 0 unloads; Ollama only).
    pub(crate) keep_alive: Option<serde_json::Value>,
    /// Send the prompt without the model's template (Ollama only).
    pub(crate) raw: Option<bool>,
    /// Stream the answer chunk by chunk (default: the server's default — Ollama streams,
    /// OpenAI does not).
    pub(crate) stream: Option<bool>,
    /// Use this API instead of the suite's `target.api`.
    pub(crate) api: Option<Api>,
    /// Ask the same question this many times in a row (2–100), to see whether the server
    /// answers it the same way each time (`expect.consistent`); the other expectations judge
    /// the last answer.
    pub(crate) repeat: Option<u32>,
    /// Fail when no chunk arrives for this long while streaming.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<DurationText>")]
    pub(crate) chunk_timeout: Option<Duration>,
}

/// One chat message.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Message {
    /// system, user or assistant.
    pub(crate) role: String,
    /// The message text.
    pub(crate) content: String,
}

/// A chat completion: Ollama `/api/chat`, OpenAI `/v1/chat/completions`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChatStep {
    /// Model name.
    pub(crate) model: String,
    /// The conversation so far; the answer continues it.
    pub(crate) messages: Vec<Message>,
    /// Generation parameters with Ollama's names (mapped for OpenAI).
    #[serde(default)]
    pub(crate) options: BTreeMap<String, serde_json::Value>,
    /// A structured answer: "json", or a JSON Schema the answer must follow. Sent as Ollama's
    /// `format`, and as OpenAI's `response_format` (`json_object`, or `json_schema`).
    pub(crate) format: Option<serde_json::Value>,
    /// How long the server keeps the model loaded afterwards (Ollama only).
    pub(crate) keep_alive: Option<serde_json::Value>,
    /// Functions the model may call, in one form for both APIs (sent as
    /// `[{type: function, function: {name, description, parameters}}]`); check the calls with
    /// `expect.tool_calls`.
    #[serde(default)]
    pub(crate) tools: Vec<Tool>,
    /// Stream the answer (default: the server's default).
    pub(crate) stream: Option<bool>,
    /// Use this API instead of the suite's `target.api`.
    pub(crate) api: Option<Api>,
    /// Ask the same question this many times in a row (2–100), to see whether the server
    /// answers it the same way each time (`expect.consistent`); the other expectations judge
    /// the last answer.
    pub(crate) repeat: Option<u32>,
    /// Fail when no chunk arrives for this long while streaming.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<DurationText>")]
    pub(crate) chunk_timeout: Option<Duration>,
}

/// A function a chat model may call.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tool {
    /// The function's name, e.g. get_weather.
    pub(crate) name: String,
    /// What it does, for the model.
    pub(crate) description: Option<String>,
    /// Its arguments, as a JSON Schema (default: an object with no properties).
    pub(crate) parameters: Option<serde_json::Value>,
}

impl Tool {
    /// The tool in the shape both APIs take.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let mut function = serde_json::json!({
            "name": self.name,
            "parameters": self.parameters.clone().unwrap_or_else(|| serde_json::json!({ "type": "object", "properties": {} })),
        });
        if let Some(d) = &self.description {
            function["description"] = d.clone().into();
        }
        serde_json::json!({ "type": "function", "function": function })
    }
}

/// An expected tool call: the function's name, and matchers on its arguments by name.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ToolCallMatch {
    pub(crate) name: String,
    /// Each argument and what it must match (`city: { contains: Paris }`, `days: "> 0"`).
    #[serde(default)]
    pub(crate) arguments: BTreeMap<String, super::JsonMatch>,
}

/// Download a model (Ollama `/api/pull`), with progress.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PullStep {
    /// Model name.
    pub(crate) model: String,
    /// Pull only when the server does not list the model yet.
    #[serde(default)]
    pub(crate) ensure: bool,
}

/// Which models the server lists (Ollama `/api/tags`, OpenAI `/v1/models`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModelsStep {
    /// Models that must be listed.
    #[serde(default)]
    pub(crate) present: Vec<String>,
    /// Models that must not be listed.
    #[serde(default)]
    pub(crate) absent: Vec<String>,
    /// Models that must be loaded in memory now (Ollama `/api/ps`).
    #[serde(default)]
    pub(crate) loaded: Vec<String>,
    /// Each `loaded` model entirely in GPU memory (`size_vram` equals `size`): a model partly
    /// offloaded to the CPU answers several times slower, silently.
    pub(crate) fully_on_gpu: Option<bool>,
    /// Each `loaded` model's context length, e.g. ">= 8192".
    pub(crate) context_length: Option<super::Comparison>,
    /// Use this API instead of the suite's `target.api`.
    pub(crate) api: Option<Api>,
}

/// Unload a model from memory (Ollama: an empty request with keep_alive 0), so the next
/// request measures a cold load.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UnloadStep {
    /// Model name.
    pub(crate) model: String,
}

/// Whether repeated answers (`repeat:`) are the same: `true` (identical), or a least
/// similarity of each answer to the most frequent one.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum Consistency {
    /// true: every answer identical.
    Identical(bool),
    /// Each answer at least this similar to the most frequent one.
    Similar(SimilarAnswers),
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SimilarAnswers {
    /// 0 to 1: one minus the normalised edit distance (1 = identical).
    pub(crate) min_similarity: f64,
}

impl<'de> Deserialize<'de> for Consistency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Identical(bool),
            Similar(SimilarAnswers),
        }
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom("expected `true` or `{ min_similarity: 0.9 }` (a number from 0 to 1)")
        })? {
            Raw::Identical(b) => Ok(Consistency::Identical(b)),
            Raw::Similar(s) if (0.0..=1.0).contains(&s.min_similarity) => Ok(Consistency::Similar(s)),
            Raw::Similar(s) => Err(serde::de::Error::custom(format!(
                "min_similarity {} is not between 0 and 1",
                s.min_similarity
            ))),
        }
    }
}

/// Client-measured figures must agree with the server's own within a tolerance.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Agree {
    /// Client tokens/s vs server tokens/s (eval_count / eval_duration), e.g. "10%".
    pub(crate) tokens_per_s: Option<super::spanned::Spanned<Tolerance>>,
    /// Content chunks received vs the server's output token count, e.g. 0 or "5%".
    pub(crate) tokens: Option<super::spanned::Spanned<Tolerance>>,
}

/// A tolerance: a percentage ("10%") or an absolute difference (2, "50ms", "512MiB"), stored
/// normalised (seconds, bytes).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Tolerance {
    pub(crate) value: f64,
    pub(crate) percent: bool,
    /// The unit an absolute difference was written in.
    #[serde(skip)]
    pub(crate) unit: super::Unit,
}

impl Tolerance {
    /// A percentage.
    pub(crate) const fn percent(value: f64) -> Tolerance {
        Tolerance { value, percent: true, unit: super::Unit::Percent }
    }

    /// Why this tolerance does not fit the figure `name` of unit `unit`, if it does not: an
    /// absolute difference on a time needs ms or s, on a size a size unit; on a percentage a bare
    /// number is percentage points; a plain count takes no unit.
    pub(crate) fn problem_for(&self, name: &str, unit: super::metrics::Unit) -> Option<String> {
        use super::Unit as Written;
        use super::metrics::Unit as Of;
        if self.percent || self.value == 0.0 {
            return None;
        }
        let n = super::values::trim_float(self.value);
        match (unit, self.unit) {
            (Of::Seconds, Written::Seconds) | (Of::Bytes, Written::Bytes) => None,
            (Of::Seconds, _) => Some(format!(
                "`{name}: {n}` is a time without a unit (a bare number would be read as seconds): write \
                 {n}ms or {n}s, or a percentage like 20%"
            )),
            (Of::Bytes, _) => Some(format!(
                "`{name}` is a size: write its tolerance with B, KiB, MiB or GiB, or a percentage"
            )),
            (_, Written::None) => None,
            (_, _) => Some(format!(
                "`{name}` is a plain number: write its tolerance without a unit, or as a percentage"
            )),
        }
    }
}

impl Tolerance {
    /// Whether `a` and `b` agree within the tolerance (percent of `b`, the server figure).
    pub(crate) fn allows(&self, a: f64, b: f64) -> bool {
        let diff = (a - b).abs();
        if self.percent { diff <= b.abs() * self.value / 100.0 + 1e-9 } else { diff <= self.value + 1e-9 }
    }
}

impl std::fmt::Display for Tolerance {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match (self.percent, self.unit) {
            (true, _) => write!(f, "{}%", self.value),
            (false, super::Unit::Seconds) => f.write_str(&super::values::format_seconds(self.value)),
            (false, super::Unit::Bytes) => f.write_str(&super::values::format_bytes(self.value)),
            (false, _) => write!(f, "{}", self.value),
        }
    }
}

impl<'de> Deserialize<'de> for Tolerance {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        // A number with an optional unit, read as a comparison's bound is.
        super::Comparison::parse(text.trim())
            .ok()
            .filter(|c| c.op == super::values::Op::Eq && c.value >= 0.0 && !c.text.starts_with(['=', '<', '>', '!']))
            .map(|c| Tolerance { value: c.value, percent: c.unit == super::Unit::Percent, unit: c.unit })
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "\"{text}\" is not a tolerance: expected a percentage like \"10%\", a number like 2, or a \
                     difference with its unit like \"50ms\""
                ))
            })
    }
}

impl JsonSchema for Tolerance {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Tolerance".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A tolerance: a percentage (\"10%\") or an absolute difference with its unit (\"50ms\", \"512MiB\", 2 for a plain number).",
            "type": ["string", "number"]
        })
    }
}
