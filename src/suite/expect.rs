//! What a test expects (`expect:`): the matchers a suite author writes.
//!
//! These are plain data; `assert/` evaluates them against a recorded result.

use super::spanned::Spanned;
use super::values::{CodeMatch, Comparison, Pattern};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// Expectations on a step's result. Every field given must hold.
///
/// Without `status`, an http or LLM step must answer 2xx; without `exit_code`, an exec step
/// must exit 0.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Expect {
    /// HTTP status: a code (200), a list ([200, 204]) or a pattern ("2xx").
    pub(crate) status: Option<Spanned<CodeMatch>>,
    /// Response headers (case-insensitive names) and what their value must match.
    // Values boxed here and below: a map's node holds room for 11 entries, so large inline
    // values made each test's one-entry map 2 KB (10,000 planned tests: 30 MB).
    #[serde(default)]
    pub(crate) headers: BTreeMap<Spanned<String>, Box<TextMatch>>,
    /// The response body as text (http).
    pub(crate) body: Option<Spanned<TextMatch>>,
    /// JSONPath expressions into the JSON body (http), stdout (exec) or answer (generate, chat:
    /// a structured answer), each with a matcher.
    /// A string starting with an operator is a numeric comparison ("> 0"); any other scalar
    /// must be equal.
    #[serde(default)]
    pub(crate) json: Spanned<BTreeMap<Spanned<String>, Box<JsonMatch>>>,
    /// A JSON Schema the JSON body (http), stdout (exec) or answer (generate, chat) must
    /// satisfy: inline, or `{ file: answer.schema.json }` relative to the suite.
    pub(crate) schema: Option<Spanned<super::schema_check::SchemaCheck>>,
    /// How long the step took, e.g. "< 500ms".
    pub(crate) duration: Option<Spanned<Comparison>>,
    /// Exit code of an exec step: a code or a list of codes.
    pub(crate) exit_code: Option<Spanned<CodeMatch>>,
    /// Standard output of an exec step.
    pub(crate) stdout: Option<Spanned<TextMatch>>,
    /// Standard error of an exec step.
    pub(crate) stderr: Option<Spanned<TextMatch>>,
    /// The answer text of a generate or chat step.
    pub(crate) text: Option<Spanned<TextMatch>>,
    /// The answer's meaning against a reference text: the cosine similarity of their
    /// embeddings by an embedding model on the target's embed endpoint —
    /// `{ to: "Paris is the capital of France.", model: nomic-embed-text, score: ">= 0.8" }`.
    pub(crate) similar: Option<Spanned<Similar>>,
    /// Recorded figures of a generate or chat step: `ttft: "< 2s"`, `eval_count: "> 0"`,
    /// `tokens_per_s: ">= 20"`, `load_duration: "< 5s"`, `done_reason: stop`.
    #[serde(default)]
    pub(crate) metrics: BTreeMap<Spanned<String>, Box<JsonMatch>>,
    /// Client-measured vs server-reported figures within a tolerance (stream mode).
    pub(crate) agree: Option<super::llm::Agree>,
    /// With `repeat: N` on a generate or chat step: all N answers identical (`true`), or each
    /// at least `{ min_similarity: 0.9 }` like the most frequent one. At temperature 0 with a
    /// fixed `options.seed`, a server that batches requests may still answer differently.
    pub(crate) consistent: Option<Spanned<super::llm::Consistency>>,
    /// The tool calls a chat answer must make (chat with `tools`): each expected call by a
    /// distinct call of that name whose arguments match; `[]`: no call at all.
    pub(crate) tool_calls: Option<Spanned<Vec<super::llm::ToolCallMatch>>>,
    /// The vectors of an embed step: `count`, `dimensions`, `norm` (each a comparison) and
    /// `similarity` between inputs (`{ a: 0, b: 1, value: "> 0.8" }`, or a list).
    pub(crate) embeddings: Option<Spanned<super::embed::EmbedExpect>>,
    /// This block applies only when this holds (see a test's `when`): in a list of blocks,
    /// the checks of some expansions only.
    #[allow(dead_code)] // decided on the filled tree by `plan`
    pub(crate) when: Option<serde_json::Value>,
}

/// An answer compared with a reference by meaning.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Similar {
    /// The reference text (a case's `{{case.reference}}`, say).
    pub(crate) to: String,
    /// The embedding model that compares them (nomic-embed-text, bge-m3...), asked on the
    /// target's embed endpoint.
    pub(crate) model: String,
    /// The similarity asked for: a comparison on the cosine (−1 to 1), e.g. ">= 0.8".
    pub(crate) score: Comparison,
    /// The embed endpoint's API (default: the suite's `target.api`).
    pub(crate) api: Option<super::Api>,
}

/// Matchers on text. All given must hold.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TextMatch {
    /// Headers only — true: the header is present (any value); false: it is absent.
    pub(crate) exists: Option<bool>,
    /// The whole text, exactly.
    pub(crate) equals: Option<String>,
    /// The text with leading and trailing whitespace removed.
    pub(crate) trimmed_equals: Option<String>,
    /// A substring that must appear.
    pub(crate) contains: Option<String>,
    /// A substring that must not appear.
    pub(crate) not_contains: Option<String>,
    /// A prefix.
    pub(crate) starts_with: Option<String>,
    /// A regular expression (Rust regex syntax) that must match somewhere in the text.
    pub(crate) matches: Option<Pattern>,
    /// true: the text must parse as JSON.
    pub(crate) json: Option<bool>,
    /// The trimmed text must equal one of these.
    pub(crate) one_of: Option<Vec<String>>,
    /// The first number in the text (`-1,234.5`, `3e8`; thousands separators read) equals this
    /// — `number: 42` — or is within a tolerance of it: `number: { equals: 3.14, within: 0.01 }`,
    /// `within: "1%"`. What arithmetic and extraction answers are checked by.
    pub(crate) number: Option<NumberMatch>,
}

/// The first number of a text, against an expected one.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum NumberMatch {
    Is(Number),
    Near {
        equals: Number,
        /// How far it may be: a difference (0.01) or a percentage of the expected ("1%").
        within: super::Tolerance,
    },
}

impl NumberMatch {
    /// The number expected, and how far from it counts as equal.
    pub(crate) fn target(&self) -> (f64, Option<super::Tolerance>) {
        match self {
            NumberMatch::Is(n) => (n.0, None),
            NumberMatch::Near { equals, within } => (equals.0, Some(*within)),
        }
    }
}

/// A number written as one (42) or as text ("42", what a `{{case.answer}}` fills in).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Number(pub(crate) f64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) if n.is_finite() => Ok(Number(n)),
            Raw::Text(t) => match t.trim().replace(',', "").parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(Number(n)),
                _ => Err(serde::de::Error::custom(format!("\"{t}\" is not a number"))),
            },
            Raw::Number(n) => Err(serde::de::Error::custom(format!("{n} is not a finite number"))),
        }
    }
}

impl JsonSchema for Number {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Number".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A number, or a text holding one (\"42\", \"-3.5\", \"1,024\").",
            "type": ["number", "string"]
        })
    }
}

/// A matcher on the value(s) a JSONPath selects.
#[derive(Debug, Clone, Serialize)]
pub(crate) enum JsonMatch {
    /// Shorthand: a numeric comparison ("> 0").
    Compare(Comparison),
    /// Shorthand: the value equals this scalar.
    Equals(serde_json::Value),
    /// The full form.
    Full(JsonMatchFull),
}

/// The full JSON matcher. All given must hold.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct JsonMatchFull {
    /// true: the path selects something; false: it selects nothing.
    pub(crate) exists: Option<bool>,
    /// The selected value equals this (any JSON value).
    pub(crate) equals: Option<serde_json::Value>,
    /// The selected value is a string matching this regular expression.
    pub(crate) matches: Option<Pattern>,
    /// A string containing this substring, or an array containing this element.
    pub(crate) contains: Option<serde_json::Value>,
    /// An array containing every one of these elements (or a string containing each).
    pub(crate) contains_all: Option<Vec<serde_json::Value>>,
    /// The JSON type: string, number, integer, boolean, array, object or null.
    #[serde(rename = "type")]
    pub(crate) type_: Option<JsonType>,
    /// Length of a string, array or object: a number or a comparison (">= 1").
    pub(crate) length: Option<Comparison>,
    /// A numeric comparison on the selected number (same as the string shorthand).
    pub(crate) compare: Option<Comparison>,
}

/// JSON value types for `type:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum JsonType {
    String,
    Number,
    Integer,
    Boolean,
    Array,
    Object,
    Null,
}

impl<'de> Deserialize<'de> for JsonMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonMatch;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a comparison (\"> 0\"), a value to equal, or a matcher mapping (equals, matches, contains, type, length, exists...)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JsonMatch, E> {
                if crate::suite::values::looks_like_comparison(v) {
                    Comparison::parse(v).map(JsonMatch::Compare).map_err(E::custom)
                } else {
                    Ok(JsonMatch::Equals(serde_json::Value::String(v.to_string())))
                }
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<JsonMatch, E> {
                Ok(JsonMatch::Equals(v.into()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<JsonMatch, E> {
                Ok(JsonMatch::Equals(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<JsonMatch, E> {
                Ok(JsonMatch::Equals(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<JsonMatch, E> {
                Ok(JsonMatch::Equals(v.into()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<JsonMatch, E> {
                Ok(JsonMatch::Equals(serde_json::Value::Null))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<JsonMatch, A::Error> {
                JsonMatchFull::deserialize(de::value::MapAccessDeserializer::new(map)).map(JsonMatch::Full)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for JsonMatch {
    fn schema_name() -> Cow<'static, str> {
        "JsonMatch".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let full = generator.subschema_for::<JsonMatchFull>();
        json_schema!({
            "description": "A comparison (\"> 0\"), a scalar the value must equal, or a matcher mapping.",
            "anyOf": [
                { "type": ["string", "number", "boolean", "null"] },
                full
            ]
        })
    }
}
