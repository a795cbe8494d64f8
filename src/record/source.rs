//! Where a verdict comes from: a written expectation, a threshold, a drift bound, a regression
//! tolerance, an agreement check, a capture. Reporters match on it; report.json carries it as
//! the expectation's path in the suite (`expect.json.$.version`, `thresholds.ttft.p95`), the
//! same path a failure's place is found by.

use crate::suite::metrics::Figure;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    /// A check written under `expect`, by its path below it (`body`, `json.$.version`,
    /// `metrics.ttft`).
    Expect(String),
    /// An `expect.agree` check: the server's figure against the client's (`tokens_per_s`).
    Agreement(String),
    /// A `capture` that found nothing to take.
    Capture(String),
    /// A perf figure's `thresholds` bound.
    Threshold(Figure),
    /// A soak figure's `drift` bound.
    Drift(Figure),
    /// A perf figure's `regression` tolerance against the baseline.
    Regression(Figure),
    /// A test's `pass_rate` gate over its cases.
    PassRate,
    /// A path this build does not know (a report written by a later one).
    Other(String),
}

impl Source {
    pub(crate) fn expect(path: impl Into<String>) -> Source {
        Source::Expect(path.into())
    }

    /// Reads a path as report.json writes it.
    pub(crate) fn parse(path: &str) -> Source {
        let figure = |rest: &str, make: fn(Figure) -> Source| {
            Figure::parse(rest).map_or_else(|| Source::Other(path.to_string()), make)
        };
        if let Some(rest) = path.strip_prefix("expect.agree.") {
            Source::Agreement(rest.to_string())
        } else if let Some(rest) = path.strip_prefix("expect.") {
            Source::Expect(rest.to_string())
        } else if let Some(rest) = path.strip_prefix("capture.") {
            Source::Capture(rest.to_string())
        } else if let Some(rest) = path.strip_prefix("thresholds.") {
            figure(rest, Source::Threshold)
        } else if let Some(rest) = path.strip_prefix("drift.") {
            figure(rest, Source::Drift)
        } else if let Some(rest) = path.strip_prefix("regression.") {
            figure(rest, Source::Regression)
        } else if path == "pass_rate" {
            Source::PassRate
        } else {
            Source::Other(path.to_string())
        }
    }
}

/// The expectation's path in the suite.
impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Expect(p) => write!(f, "expect.{p}"),
            Source::Agreement(p) => write!(f, "expect.agree.{p}"),
            Source::Capture(p) => write!(f, "capture.{p}"),
            Source::Threshold(x) => write!(f, "thresholds.{x}"),
            Source::Drift(x) => write!(f, "drift.{x}"),
            Source::Regression(x) => write!(f, "regression.{x}"),
            Source::PassRate => f.write_str("pass_rate"),
            Source::Other(p) => f.write_str(p),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Source::parse(&String::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::metrics::{Metric, Stat};

    #[test]
    fn every_source_reads_back_from_its_path() {
        let p95 = Figure::stat(Metric::Ttft, Stat::P95);
        for s in [
            Source::expect("json.$.version"),
            Source::expect("metrics.ttft"),
            Source::Agreement("tokens".into()),
            Source::Capture("id".into()),
            Source::Threshold(p95),
            Source::Drift(Figure::of(Metric::GpuMemoryUsedMax)),
            Source::Regression(p95),
            Source::PassRate,
        ] {
            assert_eq!(Source::parse(&s.to_string()), s, "{s}");
        }
        assert_eq!(Source::Threshold(p95).to_string(), "thresholds.ttft.p95");
        assert_eq!(Source::parse("thresholds.ttft.p96"), Source::Other("thresholds.ttft.p96".into()));
        assert_eq!(serde_json::to_string(&Source::expect("body")).unwrap(), "\"expect.body\"");
    }
}
