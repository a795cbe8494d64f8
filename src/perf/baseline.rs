//! Comparing a perf test with a stored run (an hxrun JSON report): which figures got worse,
//! by how much, and whether beyond the tolerance.

use super::result::LevelKey;
use crate::suite::Tolerance;
use crate::suite::metrics::{Figure, Figures, Metric, Stat};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Figures per level (by concurrency, stage, or a search's capacity).
pub(crate) type LevelFigures = BTreeMap<LevelKey, Figures>;

/// A stored run's perf figures, by suite and test name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Baseline {
    /// Where it came from, for messages.
    pub(crate) source: String,
    tests: HashMap<(String, String), LevelFigures>,
}

impl Baseline {
    /// Reads an hxrun JSON report (`report.json`, or a file saved with --save-baseline).
    pub(crate) fn parse(source: &str, text: &str) -> Result<Baseline, String> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| format!("baseline {source} is not an hxrun JSON report: {e}"))?;
        let suites = v.get("suites").and_then(Value::as_array).ok_or_else(|| {
            format!(
                "baseline {source} is not an hxrun JSON report (no `suites`): write one with --save-baseline"
            )
        })?;
        let mut tests = HashMap::new();
        for suite in suites {
            let suite_name = suite.get("name").and_then(Value::as_str).unwrap_or_default();
            for test in suite.get("tests").and_then(Value::as_array).into_iter().flatten() {
                let Some(levels) = test.pointer("/observation/levels").and_then(Value::as_array) else {
                    continue;
                };
                let mut by_level = LevelFigures::new();
                for level in levels {
                    let c = level.get("concurrency").and_then(Value::as_u64).unwrap_or(1) as u32;
                    let stage = level.get("stage").and_then(|s| serde_json::from_value(s.clone()).ok());
                    // A figure this build does not know (a report of a later one) is left out.
                    let figures: Figures = level
                        .get("figures")
                        .and_then(Value::as_object)
                        .map(|m| {
                            m.iter().filter_map(|(k, v)| Some((Figure::parse(k)?, v.as_f64()?))).collect()
                        })
                        .unwrap_or_default();
                    by_level.insert(LevelKey::of(c, stage, &figures), figures);
                }
                let name = test.get("name").and_then(Value::as_str).unwrap_or_default();
                tests.insert((suite_name.to_string(), name.to_string()), by_level);
            }
        }
        Ok(Baseline { source: source.to_string(), tests })
    }

    pub(crate) fn lookup(&self, suite: &str, test: &str) -> Option<&LevelFigures> {
        self.tests.get(&(suite.to_string(), test.to_string()))
    }
}

/// Tolerances used when a suite compares with a baseline but names none.
pub(crate) fn default_tolerances() -> BTreeMap<Figure, Tolerance> {
    [
        (Figure::stat(Metric::TokensPerS, Stat::Mean), 10.0),
        (Figure::stat(Metric::Ttft, Stat::P95), 20.0),
        (Figure::stat(Metric::E2e, Stat::P95), 20.0),
        // Where the test has `slo` (a run without it has no goodput to compare).
        (Figure::of(Metric::Goodput), 10.0),
    ]
    .into_iter()
    .map(|(k, v)| (k, Tolerance::percent(v)))
    .collect()
}

/// One figure, old against new.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Change {
    pub(crate) figure: Figure,
    pub(crate) old: f64,
    pub(crate) new: f64,
    /// Percent change from old to new.
    pub(crate) change_pct: f64,
    pub(crate) tolerance: Tolerance,
    pub(crate) regressed: bool,
}

impl Change {
    /// The old and the new value, each with its unit.
    pub(crate) fn shown(&self) -> (String, String) {
        (self.figure.format(self.old), self.figure.format(self.new))
    }

    pub(crate) fn describe(&self) -> String {
        let verdict =
            if self.regressed { format!("worse beyond {}", self.tolerance) } else { "ok".to_string() };
        format!(
            "{}: {} → {} ({:+.1}%, {verdict})",
            self.figure,
            self.figure.format(self.old),
            self.figure.format(self.new),
            self.change_pct
        )
    }
}

/// Compares the figures each tolerance names; a figure missing on either side is skipped.
pub(crate) fn compare(
    old: &Figures,
    new: &Figures,
    tolerances: impl IntoIterator<Item = (Figure, Tolerance)>,
) -> Vec<Change> {
    tolerances
        .into_iter()
        .filter_map(|(figure, tol)| {
            let (o, n) = (*old.get(&figure)?, *new.get(&figure)?);
            let change_pct = if o != 0.0 { (n - o) / o.abs() * 100.0 } else { 0.0 };
            let worse_by = if figure.higher_is_better() { o - n } else { n - o };
            let regressed = worse_by > 0.0 && !tol.allows(n, o);
            Some(Change { figure, old: o, new: n, change_pct, tolerance: tol, regressed })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(name: &str) -> Figure {
        Figure::parse(name).unwrap()
    }

    fn figures(pairs: &[(&str, f64)]) -> Figures {
        pairs.iter().map(|(k, v)| (fig(k), *v)).collect()
    }

    #[test]
    fn regression_direction_and_tolerance() {
        let old = figures(&[("tokens_per_s.mean", 100.0), ("ttft.p95", 0.5), ("tokens_per_s.cov", 3.0)]);
        let tol = Tolerance::percent;
        let t: BTreeMap<Figure, Tolerance> =
            [(fig("tokens_per_s.mean"), tol(10.0)), (fig("ttft.p95"), tol(20.0))].into();
        // 5% slower throughput and 10% slower TTFT: within tolerance.
        let within = compare(&old, &figures(&[("tokens_per_s.mean", 95.0), ("ttft.p95", 0.55)]), t.clone());
        assert!(within.iter().all(|c| !c.regressed), "{within:?}");
        // 20% slower throughput: a regression; TTFT 50% faster: never a regression.
        let worse = compare(&old, &figures(&[("tokens_per_s.mean", 80.0), ("ttft.p95", 0.25)]), t);
        assert!(worse[0].regressed && !worse[1].regressed, "{worse:?}");
        assert_eq!(worse[0].describe(), "tokens_per_s.mean: 100 → 80 (-20.0%, worse beyond 10%)");
        assert!(!fig("tokens_per_s.cov").higher_is_better() && fig("request_throughput").higher_is_better());
    }

    #[test]
    fn reads_an_hxrun_report() {
        let text = r#"{"suites":[{"name":"s","tests":[{"name":"t","observation":{"kind":"perf",
            "levels":[{"concurrency":2,"figures":{"ttft.p95":0.2}}]}}]}]}"#;
        let b = Baseline::parse("b.json", text).unwrap();
        assert_eq!(
            b.lookup("s", "t").unwrap()[&crate::perf::result::LevelKey::Concurrency(2)][&fig("ttft.p95")],
            0.2
        );
        assert!(Baseline::parse("x.json", "{}").unwrap_err().contains("no `suites`"));
    }
}
