//! The `perf:` step: a request step run many times — warm-up, iterations or a duration,
//! concurrency (or a sweep of it), an optional open-loop rate — with statistics that
//! thresholds and baselines judge.

use super::llm::{ChatStep, GenerateStep};
use super::step::HttpStep;
use super::values::DurationText;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::time::Duration;

/// A performance loop around one request step (exactly one of generate, chat, embed, http).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PerfStep {
    /// The request to repeat: a completion.
    pub(crate) generate: Option<GenerateStep>,
    /// The request to repeat: a chat completion.
    pub(crate) chat: Option<ChatStep>,
    /// The request to repeat: any HTTP request.
    pub(crate) http: Option<HttpStep>,
    /// The request to repeat: embeddings.
    pub(crate) embed: Option<super::embed::EmbedStep>,
    /// Requests run first and left out of the statistics (default 0).
    #[serde(default)]
    pub(crate) warmup: u32,
    /// Measured requests per concurrency level (default 10 unless `duration` is given).
    pub(crate) iterations: Option<u32>,
    /// Measure for this long per concurrency level instead of a request count.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<DurationText>")]
    pub(crate) duration: Option<Duration>,
    /// A soak: statistics per window of this length (with `duration`), and how they drifted
    /// from the first window to the last — bounded by the test's `drift`.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<DurationText>")]
    pub(crate) window: Option<Duration>,
    /// Requests in flight at once; a list sweeps the levels ([1, 2, 4, 8, 16]) and reports
    /// where throughput saturates (the knee, from each level's steady throughput and its 95%
    /// interval; a level needs more than 2 × its concurrency + 1 requests).
    pub(crate) concurrency: Option<Concurrency>,
    /// Run a sweep in this many interleaved rounds (default 1): each level's iterations (or
    /// duration) are shared out over the rounds, which go up the sweep, then down, then up;
    /// a slow stretch of the server or the machine then falls on every level alike, and the
    /// knee compares the levels round by round (each round of a level needs more than 2 × its
    /// concurrency + 3 requests).
    pub(crate) rounds: Option<u32>,
    /// Open loop: start requests at this rate ("5/s", "300/m") instead of back to back.
    pub(crate) rate: Option<Rate>,
    /// Arrival process for `rate`: uniform (default) or poisson.
    #[serde(default)]
    pub(crate) arrival: Arrival,
    /// Unload the model before every iteration, so `load_duration` measures cold loads
    /// (Ollama, concurrency 1).
    #[serde(default)]
    pub(crate) cold: bool,
    /// Per-request CSV in the team's baseline format, appended to; relative to the report
    /// directory. `--perf-csv` overrides it.
    pub(crate) csv: Option<String>,
    /// How often GPUs are sampled during the loop (default 1s, at least 100ms).
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<DurationText>")]
    pub(crate) gpu_interval: Option<Duration>,
    /// Per-request service-level objectives: a request meets them when it succeeded and each
    /// bound given holds. Each level then has `goodput` (requests per second that met every
    /// one) and `slo_attainment` (their share, percent), for thresholds, baselines and compare.
    pub(crate) slo: Option<Slo>,
}

/// A request's service-level objectives (vLLM's serving benchmark and DistServe define goodput
/// over these): each bound given must hold.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Slo {
    /// Time to first token at most this (a streamed answer's), e.g. 500ms.
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<DurationText>")]
    pub(crate) ttft: Option<Duration>,
    /// Time per output token after the first at most this ((e2e − ttft) / (tokens − 1); an
    /// answer of one token meets it), e.g. 50ms.
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<DurationText>")]
    pub(crate) tpot: Option<Duration>,
    /// End-to-end time at most this, e.g. 10s.
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<DurationText>")]
    pub(crate) e2e: Option<Duration>,
}

impl Slo {
    /// Whether it bounds anything.
    pub(crate) fn is_empty(&self) -> bool {
        self.ttft.is_none() && self.tpot.is_none() && self.e2e.is_none()
    }

    /// The bounds as a person reads them: `ttft ≤ 500ms, tpot ≤ 50ms`.
    pub(crate) fn describe(&self) -> String {
        [("ttft", self.ttft), ("tpot", self.tpot), ("e2e", self.e2e)]
            .into_iter()
            .filter_map(|(name, d)| d.map(|d| format!("{name} ≤ {}", humantime::format_duration(d))))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The default number of measured requests per level.
pub(crate) const DEFAULT_ITERATIONS: u32 = 10;

/// One concurrency level or a sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Concurrency(pub Vec<u32>);

impl<'de> Deserialize<'de> for Concurrency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Concurrency;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number of requests in flight (4) or a list to sweep ([1, 2, 4, 8])")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Concurrency, E> {
                u32::try_from(v)
                    .ok()
                    .filter(|n| *n > 0)
                    .map(|n| Concurrency(vec![n]))
                    .ok_or_else(|| E::custom(format!("concurrency must be at least 1, got {v}")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Concurrency, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(-1))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Concurrency, E> {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| E::custom(format!("\"{v}\" is not a concurrency")))
                    .and_then(|n| self.visit_i64(n))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Concurrency, A::Error> {
                let mut levels = Vec::new();
                while let Some(level) = seq.next_element::<Concurrency>()? {
                    levels.extend(level.0);
                }
                if levels.is_empty() {
                    return Err(serde::de::Error::custom("the concurrency sweep is empty"));
                }
                Ok(Concurrency(levels))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Concurrency {
    fn schema_name() -> Cow<'static, str> {
        "Concurrency".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Requests in flight at once (4), or a list of levels to sweep ([1, 2, 4, 8, 16]).",
            "anyOf": [
                { "type": "integer", "minimum": 1 },
                { "type": "array", "items": { "type": "integer", "minimum": 1 }, "minItems": 1 }
            ]
        })
    }
}

/// Requests started per second.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Rate(pub f64);

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let t = text.trim();
        let (num, per) = t.split_once('/').unwrap_or((t, "s"));
        let seconds = match per.trim() {
            "s" | "sec" | "second" => 1.0,
            "m" | "min" | "minute" => 60.0,
            "h" | "hour" => 3600.0,
            _ => 0.0,
        };
        match num.trim().parse::<f64>() {
            Ok(n) if n > 0.0 && seconds > 0.0 => Ok(Rate(n / seconds)),
            _ => Err(serde::de::Error::custom(format!(
                "\"{text}\" is not a rate: expected requests per second or minute, like \"5/s\" or \"300/m\""
            ))),
        }
    }
}

impl JsonSchema for Rate {
    fn schema_name() -> Cow<'static, str> {
        "Rate".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Requests started per second or minute: \"5/s\", \"300/m\".",
            "type": ["string", "number"]
        })
    }
}

/// How open-loop requests are spaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Arrival {
    /// Evenly spaced.
    #[default]
    Uniform,
    /// Exponential gaps (a Poisson process), as real traffic arrives.
    Poisson,
}
