//! Comparing a perf test with a stored run (an hxrun JSON report): which figures got worse,
//! by how much, and whether beyond the tolerance.

use crate::suite::Tolerance;
use crate::suite::metrics;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// Figures by threshold name, per concurrency level.
pub(crate) type LevelFigures = BTreeMap<u32, BTreeMap<String, f64>>;

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
                    let figures: BTreeMap<String, f64> = level
                        .get("figures")
                        .and_then(Value::as_object)
                        .map(|m| m.iter().filter_map(|(k, v)| v.as_f64().map(|f| (k.clone(), f))).collect())
                        .unwrap_or_default();
                    by_level.insert(c, figures);
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
pub(crate) fn default_tolerances() -> BTreeMap<String, Tolerance> {
    [("tokens_per_s.mean", 10.0), ("ttft.p95", 20.0), ("e2e.p95", 20.0)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Tolerance::percent(v)))
        .collect()
}

/// Whether a larger value of a figure is an improvement (from the metric catalogue).
pub(crate) fn higher_is_better(figure: &str) -> bool {
    metrics::figure(figure).is_some_and(|f| f.higher_is_better())
}

/// One figure, old against new.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Change {
    pub(crate) figure: String,
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
        (metrics::show(&self.figure, self.old), metrics::show(&self.figure, self.new))
    }

    pub(crate) fn describe(&self) -> String {
        let verdict =
            if self.regressed { format!("worse beyond {}", self.tolerance) } else { "ok".to_string() };
        format!(
            "{}: {} → {} ({:+.1}%, {verdict})",
            self.figure,
            metrics::show(&self.figure, self.old),
            metrics::show(&self.figure, self.new),
            self.change_pct
        )
    }
}

/// Compares the figures each tolerance names; a figure missing on either side is skipped.
pub(crate) fn compare(
    old: &BTreeMap<String, f64>,
    new: &BTreeMap<String, f64>,
    tolerances: &BTreeMap<String, Tolerance>,
) -> Vec<Change> {
    tolerances
        .iter()
        .filter_map(|(figure, tol)| {
            let (o, n) = (*old.get(figure)?, *new.get(figure)?);
            let change_pct = if o != 0.0 { (n - o) / o.abs() * 100.0 } else { 0.0 };
            let worse_by = if higher_is_better(figure) { o - n } else { n - o };
            let regressed = worse_by > 0.0 && !tol.allows(n, o);
            Some(Change { figure: figure.clone(), old: o, new: n, change_pct, tolerance: *tol, regressed })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn regression_direction_and_tolerance() {
        let old = figures(&[("tokens_per_s.mean", 100.0), ("ttft.p95", 0.5), ("tokens_per_s.cov", 3.0)]);
        let tol = Tolerance::percent;
        let t: BTreeMap<String, Tolerance> =
            [("tokens_per_s.mean".to_string(), tol(10.0)), ("ttft.p95".to_string(), tol(20.0))].into();
        // 5% slower throughput and 10% slower TTFT: within tolerance.
        let within = compare(&old, &figures(&[("tokens_per_s.mean", 95.0), ("ttft.p95", 0.55)]), &t);
        assert!(within.iter().all(|c| !c.regressed), "{within:?}");
        // 20% slower throughput: a regression; TTFT 50% faster: never a regression.
        let worse = compare(&old, &figures(&[("tokens_per_s.mean", 80.0), ("ttft.p95", 0.25)]), &t);
        assert!(worse[0].regressed && !worse[1].regressed, "{worse:?}");
        assert_eq!(worse[0].describe(), "tokens_per_s.mean: 100 → 80 (-20.0%, worse beyond 10%)");
        assert!(!higher_is_better("tokens_per_s.cov") && higher_is_better("request_throughput"));
    }

    #[test]
    fn reads_an_hxrun_report() {
        let text = r#"{"suites":[{"name":"s","tests":[{"name":"t","observation":{"kind":"perf",
            "levels":[{"concurrency":2,"figures":{"ttft.p95":0.2}}]}}]}]}"#;
        let b = Baseline::parse("b.json", text).unwrap();
        assert_eq!(b.lookup("s", "t").unwrap()[&2]["ttft.p95"], 0.2);
        assert!(Baseline::parse("x.json", "{}").unwrap_err().contains("no `suites`"));
    }
}
