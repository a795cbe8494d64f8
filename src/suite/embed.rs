//! The `embed` step (Ollama `/api/embed`, OpenAI `/v1/embeddings`) and what its vectors must be.

use super::Api;
use super::values::Comparison;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

/// Embeddings of one text or several.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmbedStep {
    /// Model name (an embedding model: nomic-embed-text, mxbai-embed-large, bge-m3...).
    pub(crate) model: String,
    /// A text, or a list of texts (each gets its vector, in order).
    pub(crate) input: Input,
    /// Ask for vectors of this size (OpenAI `dimensions`, Ollama `dimensions`), where the
    /// model supports it.
    pub(crate) dimensions: Option<u32>,
    /// Use this API instead of the suite's `target.api`.
    pub(crate) api: Option<Api>,
}

/// One text or several.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum Input {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for Input {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
        }
        match Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("`input` is a text, or a list of texts"))?
        {
            Raw::One(s) => Ok(Input::One(s)),
            Raw::Many(v) if v.is_empty() => {
                Err(serde::de::Error::custom("`input` is an empty list: give at least one text to embed"))
            }
            Raw::Many(v) => Ok(Input::Many(v)),
        }
    }
}

impl Input {
    pub(crate) fn texts(&self) -> Vec<&str> {
        match self {
            Input::One(s) => vec![s.as_str()],
            Input::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// What the vectors of an embed step must be.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmbedExpect {
    /// How many vectors came back, e.g. "== 3".
    pub(crate) count: Option<super::spanned::Spanned<Comparison>>,
    /// The size of every vector, e.g. "== 768".
    pub(crate) dimensions: Option<super::spanned::Spanned<Comparison>>,
    /// The L2 norm of every vector, e.g. "> 0.99" (normalised embeddings have 1).
    pub(crate) norm: Option<super::spanned::Spanned<Comparison>>,
    /// Cosine similarity between two inputs' vectors, by their positions in `input`:
    /// `{ a: 0, b: 1, value: "> 0.8" }`, or a list of them.
    #[serde(default, deserialize_with = "one_or_many")]
    pub(crate) similarity: Vec<Similarity>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Similarity {
    pub(crate) a: usize,
    pub(crate) b: usize,
    pub(crate) value: Comparison,
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Similarity>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(Similarity),
        Many(Vec<Similarity>),
    }
    match Raw::deserialize(d).map_err(|_| {
        serde::de::Error::custom("`similarity` is { a: 0, b: 1, value: \"> 0.8\" } or a list of them")
    })? {
        Raw::One(s) => Ok(vec![s]),
        Raw::Many(v) => Ok(v),
    }
}
