//! Load shapes of a perf step beyond one level or a sweep: `stages` (a ramp, each stage its
//! own rate or concurrency for its own time) and `search` (the highest rate or concurrency at
//! which the step's SLOs are met by a target share of requests).

use super::perf::Rate;
use super::values::DurationText;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::time::Duration;

/// One stage of a ramp: an open loop at `rate` (at most the step's `concurrency` in flight) or
/// a closed loop of `concurrency`, for `for`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Stage {
    /// Requests started per second in this stage ("8/s", "300/m").
    pub(crate) rate: Option<Rate>,
    /// Requests in flight at once in this stage (a closed loop).
    pub(crate) concurrency: Option<u32>,
    /// How long the stage lasts ("30s", "2m").
    #[serde(rename = "for", with = "humantime_serde")]
    #[schemars(with = "DurationText")]
    pub(crate) length: Duration,
}

/// A request rate as suites write it: `8/s`, `0.5/s`.
pub(crate) fn format_rate(per_s: f64) -> String {
    format!("{}/s", super::values::trim_float(per_s))
}

/// The search for a server's capacity under the step's SLOs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Search {
    /// Search request rates from the first to the second (`[1/s, 64/s]`), an open loop of at
    /// most the step's `concurrency` in flight.
    pub(crate) rate: Option<[Rate; 2]>,
    /// Search concurrencies from the first to the second (`[1, 64]`), closed loops.
    pub(crate) concurrency: Option<[u32; 2]>,
    /// The share of requests that must meet every SLO of the step's `slo` ("95%").
    pub(crate) attainment: Share,
    /// How long each probe runs ("20s"); a probe whose attainment is too close to the target
    /// to tell runs on, up to three times this.
    #[serde(rename = "for", with = "humantime_serde")]
    #[schemars(with = "DurationText")]
    pub(crate) length: Duration,
    /// Stop when the highest level that met the target and the lowest that missed it are this
    /// close ("10%", default 5%).
    #[serde(default = "default_precision")]
    pub(crate) precision: Share,
}

fn default_precision() -> Share {
    Share(0.05)
}

/// A share written as a percent ("95%"), held as a fraction (0.95).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Share(pub f64);

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        let text = match &value {
            serde_json::Value::String(s) => s.trim().to_string(),
            other => other.to_string(),
        };
        let number = text.strip_suffix('%').map(str::trim).and_then(|n| n.parse::<f64>().ok());
        match number {
            Some(p) if p > 0.0 && p <= 100.0 => Ok(Share(p / 100.0)),
            _ => Err(serde::de::Error::custom(format!(
                "\"{text}\" is not a share: write a percent above 0 and at most 100, like \"95%\""
            ))),
        }
    }
}

impl JsonSchema for Share {
    fn schema_name() -> Cow<'static, str> {
        "Share".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A percent above 0 and at most 100: \"95%\" (or a `${VAR}` holding one).",
            "type": "string"
        })
    }
}

impl Search {
    /// The searched range as numbers (requests per second, or requests in flight).
    pub(crate) fn range(&self) -> (f64, f64) {
        match (self.rate, self.concurrency) {
            (Some([a, b]), _) => (a.0, b.0),
            (None, Some([a, b])) => (f64::from(a), f64::from(b)),
            (None, None) => (1.0, 1.0),
        }
    }

    /// Whether it searches request rates (else concurrencies).
    pub(crate) fn by_rate(&self) -> bool {
        self.rate.is_some()
    }
}
