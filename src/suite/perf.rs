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
    /// concurrency + 3 requests). `{ min: 4, max: 12 }` runs rounds until the knee is decided:
    /// `min` rounds (the iterations shared out over them), then one more at a time, each as
    /// long, at most `max`, each look's intervals widened for the looks.
    pub(crate) rounds: Option<Rounds>,
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
    /// Output length held: each request asks for this many output tokens — `num_predict` (as
    /// `max_tokens` on /v1) and, on OpenAI-compatible servers, `ignore_eos` and `min_tokens` so
    /// it does not stop sooner (llama.cpp and vLLM honour them; Ollama cannot, and the requests
    /// that stopped short are counted: `short_outputs`).
    pub(crate) output: Option<OutputLength>,
    /// Synthetic prompts of a token length: each request's prompt (a completion's, or a chat's
    /// last user message) is made of text from hxrun's corpus, `tokens` long as the server's
    /// own tokenizer counts it (llama.cpp's and vLLM's `/tokenize`), or as calibrated from the
    /// prompt tokens it reports (Ollama); every prompt different from its first word, so no
    /// prefix cache makes a request cheap. The tokens sent are recorded: `input_tokens`.
    pub(crate) input: Option<InputLength>,
    /// A ramp: stages run one after another, each an open loop at its `rate` (at most the
    /// step's `concurrency` in flight) or a closed loop of its `concurrency`, for its `for`,
    /// each with figures of its own: `[{ rate: 1/s, for: 30s }, { rate: 8/s, for: 60s }]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) stages: Vec<super::shapes::Stage>,
    /// A capacity search: the highest request rate (or concurrency) at which `slo_attainment`
    /// stays at least `attainment` — probes found by doubling, then bisection, each judged by
    /// the 95% interval of its attainment — stated with the bracket it lies in. Its figures
    /// `capacity_rate` / `capacity_concurrency` can be gated in `thresholds`.
    pub(crate) search: Option<super::shapes::Search>,
}

/// How long each request's prompt of a perf step is, in tokens.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InputLength {
    /// A number of tokens (512), or a distribution drawn per request: `{ uniform: [128, 1024] }`,
    /// `{ normal: { mean: 512, stddev: 128, min: 64, max: 2048 } }`.
    pub(crate) tokens: Length,
    /// The draws' and the texts' seed (default 0): the same seed, the same prompts.
    #[serde(default)]
    pub(crate) seed: u64,
}

/// How many output tokens each request of a perf step asks for.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutputLength {
    /// A number of tokens (128), or a distribution drawn per request: `{ uniform: [64, 256] }`,
    /// `{ normal: { mean: 128, stddev: 32, min: 16, max: 512 } }`.
    pub(crate) tokens: Length,
    /// The draws' seed (default 0): the same seed, the same length for each request number.
    #[serde(default)]
    pub(crate) seed: u64,
    /// Send `ignore_eos` and `min_tokens` on /v1 (default true); false for a server that
    /// refuses fields it does not know.
    #[serde(default = "held")]
    pub(crate) hold: bool,
}

fn held() -> bool {
    true
}

/// A whole number as a suite writes one: a number, or a text holding one (a quoted `${VAR}`).
fn whole(v: &serde_json::Value) -> Option<u32> {
    match v {
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        serde_json::Value::String(s) => s.trim().parse::<u32>().ok(),
        _ => None,
    }
}

/// The interleaved rounds of a sweep: a number, or until its knee is decided.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub(crate) enum Rounds {
    Fixed(u32),
    /// At least `min` rounds, then one more at a time until the knee is decided, at most `max`.
    Until {
        min: u32,
        max: u32,
    },
}

impl Rounds {
    /// The rounds the iterations are shared out over (the fixed number, or `min`).
    pub(crate) fn least(self) -> u32 {
        match self {
            Rounds::Fixed(n) => n,
            Rounds::Until { min, .. } => min,
        }
    }

    /// The most rounds run.
    pub(crate) fn most(self) -> u32 {
        match self {
            Rounds::Fixed(n) => n,
            Rounds::Until { max, .. } => max,
        }
    }
}

/// Read as written: a number (or a text holding one, as a quoted `${VAR}` gives) or
/// `{ min: 4, max: 12 }`; anything else says which forms there are.
impl<'de> Deserialize<'de> for Rounds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_json::Value::deserialize(d)?;
        if let Some(n) = whole(&value) {
            return Ok(Rounds::Fixed(n));
        }
        if let serde_json::Value::Object(map) = &value
            && map.len() == 2
            && let (Some(min), Some(max)) = (map.get("min").and_then(whole), map.get("max").and_then(whole))
        {
            return Ok(Rounds::Until { min, max });
        }
        Err(D::Error::custom(format!(
            "expected a number of rounds (4) or rounds until the knee is decided (`{{ min: 4, max: 12 }}`), \
             found {value}"
        )))
    }
}

/// A number of tokens: fixed, or drawn per request from a distribution.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum Length {
    Fixed(u32),
    /// Every whole number from the first to the second, equally likely.
    Uniform {
        uniform: [u32; 2],
    },
    /// A normal distribution, rounded and kept within `min`..`max`.
    Normal {
        normal: Normal,
    },
}

/// splitmix64's step: the project's one fixed mixer for draws that must repeat on every machine
/// (request lengths, prompt texts, bootstrap resamples).
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Read as written: a number (or a text holding one, as a quoted `${VAR}` gives), `{ uniform:
/// [a, b] }` or `{ normal: {...} }`; anything else says which forms there are.
impl<'de> Deserialize<'de> for Length {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let forms = "a number of tokens (128), `{ uniform: [64, 256] }` or `{ normal: { mean: 128, stddev: 32, \
                     min: 16, max: 512 } }`";
        let value = serde_json::Value::deserialize(d)?;
        if let Some(n) = whole(&value) {
            return Ok(Length::Fixed(n));
        }
        if let serde_json::Value::Object(map) = &value {
            if let (1, Some(u)) = (map.len(), map.get("uniform")) {
                let pair = u.as_array().and_then(|a| match a.as_slice() {
                    [x, y] => Some([whole(x)?, whole(y)?]),
                    _ => None,
                });
                return match pair {
                    Some(uniform) => Ok(Length::Uniform { uniform }),
                    None => Err(D::Error::custom(
                        "`uniform` takes two whole numbers of tokens: `{ uniform: [64, 256] }`",
                    )),
                };
            }
            if let (1, Some(n)) = (map.len(), map.get("normal")) {
                return serde_json::from_value::<Normal>(n.clone())
                    .map(|normal| Length::Normal { normal })
                    .map_err(|e| {
                        D::Error::custom(format!(
                            "`normal`: {e}; write it `{{ mean: 128, stddev: 32, min: 16, max: 512 }}`"
                        ))
                    });
            }
        }
        Err(D::Error::custom(format!("expected {forms}, found {value}")))
    }
}

/// A normal distribution of token counts.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Normal {
    pub(crate) mean: f64,
    pub(crate) stddev: f64,
    pub(crate) min: u32,
    pub(crate) max: u32,
}

impl Length {
    /// The smallest and the largest count it can draw.
    pub(crate) fn bounds(&self) -> (u32, u32) {
        match self {
            Length::Fixed(n) => (*n, *n),
            Length::Uniform { uniform: [a, b] } => (*a.min(b), *a.max(b)),
            Length::Normal { normal } => (normal.min, normal.max),
        }
    }

    /// The count of request `n` (1-based within its level) under `seed`: the same arguments,
    /// the same count, on any machine.
    pub(crate) fn draw(&self, seed: u64, n: u32) -> u32 {
        // splitmix64 over (seed, n): two independent uniforms in [0, 1).
        let a = mix(seed ^ mix(u64::from(n)));
        let unit = |x: u64| (x >> 11) as f64 / (1u64 << 53) as f64;
        match self {
            Length::Fixed(k) => *k,
            Length::Uniform { .. } => {
                let (lo, hi) = self.bounds();
                lo + ((unit(a) * f64::from(hi - lo + 1)) as u32).min(hi - lo)
            }
            Length::Normal { normal } => {
                // Box–Muller.
                let (u1, u2) = (unit(a).max(f64::MIN_POSITIVE), unit(mix(a)));
                let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                let (lo, hi) = self.bounds();
                (normal.mean + normal.stddev * z).round().clamp(f64::from(lo), f64::from(hi.max(lo))) as u32
            }
        }
    }
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

#[cfg(test)]
mod length_tests {
    use super::*;

    #[test]
    fn lengths_are_drawn_within_their_bounds_the_same_for_the_same_seed() {
        let uniform = Length::Uniform { uniform: [10, 13] };
        let drawn: Vec<u32> = (1..=400).map(|n| uniform.draw(7, n)).collect();
        for k in 10..=13 {
            let share = drawn.iter().filter(|d| **d == k).count();
            assert!((60..=140).contains(&share), "{k} drawn {share} times of 400: {drawn:?}");
        }
        assert_eq!(drawn, (1..=400).map(|n| uniform.draw(7, n)).collect::<Vec<_>>(), "the same seed");
        assert_ne!(drawn, (1..=400).map(|n| uniform.draw(8, n)).collect::<Vec<_>>(), "another seed");
        let normal = Length::Normal { normal: Normal { mean: 100.0, stddev: 20.0, min: 90, max: 200 } };
        let values: Vec<u32> = (1..=2000).map(|n| normal.draw(1, n)).collect();
        assert!(values.iter().all(|v| (90..=200).contains(v)), "clamped");
        let inside: Vec<f64> = values.iter().filter(|v| **v > 90).map(|v| f64::from(*v)).collect();
        let mean = inside.iter().sum::<f64>() / inside.len() as f64;
        assert!((105.0..120.0).contains(&mean), "the upper half of N(100, 20): {mean}");
        let at_min = values.iter().filter(|v| **v == 90).count();
        assert!((600..=800).contains(&at_min), "P(X ≤ 90.5) ≈ 0.32 of 2000: {at_min}");
        assert_eq!(Length::Fixed(5).draw(3, 9), 5);
    }
}
