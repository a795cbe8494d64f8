//! The quality half of `hxrun compare`: two runs of the same cases, paired case by case. For
//! each pass-rate gate of the reference, the change in pass rate, the cases each run lost and
//! gained, and McNemar's exact test on those flips — "significantly worse", "significantly
//! better" or "no detectable change at this sample size". A case is the same case in both runs
//! by its own values (`case=add-3`), so two models or two builds pair up.

use super::view::{Run, Suite, Test};
use crate::perf::rate::mcnemar;

/// The significance level a change must reach to be called real.
pub(crate) const ALPHA: f64 = 0.05;

/// Flipped cases named in the text and Markdown (the HTML lists them all).
const NAMED: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Worse,
    Better,
    NoChange,
}

/// One gate of the reference against its counterpart in a later run.
#[derive(Debug, Clone)]
pub(crate) struct GateChange {
    /// The reference's gate, and the compared run's when its name differs.
    pub(crate) gate: String,
    pub(crate) other: String,
    /// Which later run (1-based index of the compared reports).
    pub(crate) run: usize,
    /// Cases that ran (passed or failed) in both, and how many passed in each.
    pub(crate) paired: u64,
    pub(crate) passed_a: u64,
    pub(crate) passed_b: u64,
    /// Passed in the reference, failed in the other; and the other way.
    pub(crate) lost: Vec<String>,
    pub(crate) gained: Vec<String>,
    /// Cases of one run only (not compared).
    pub(crate) unpaired: u64,
    pub(crate) p: f64,
    pub(crate) verdict: Verdict,
}

impl GateChange {
    pub(crate) fn rate(passed: u64, of: u64) -> f64 {
        if of == 0 { 0.0 } else { passed as f64 / of as f64 * 100.0 }
    }

    /// The change in percentage points over the paired cases.
    pub(crate) fn points(&self) -> f64 {
        Self::rate(self.passed_b, self.paired) - Self::rate(self.passed_a, self.paired)
    }

    pub(crate) fn verdict_text(&self) -> &'static str {
        match self.verdict {
            Verdict::Worse => "significantly worse",
            Verdict::Better => "significantly better",
            Verdict::NoChange => "no detectable change at this sample size",
        }
    }

    /// `96% → 84% (−12.0 points over 50 paired cases; 7 lost, 1 gained; McNemar p = 0.0703):
    /// no detectable change at this sample size`.
    pub(crate) fn line(&self) -> String {
        let pct = crate::suite::values::format_share;
        let mut s = format!(
            "{} → {} ({:+.1} points over {} paired cases; {} lost, {} gained; McNemar p = {}): {}",
            pct(Self::rate(self.passed_a, self.paired)),
            pct(Self::rate(self.passed_b, self.paired)),
            self.points(),
            self.paired,
            self.lost.len(),
            self.gained.len(),
            format_p(self.p),
            self.verdict_text()
        );
        if self.unpaired > 0 {
            s.push_str(&format!(" ({} cases in one run only, not compared)", self.unpaired));
        }
        s
    }

    /// `lost: case=a, case=b … and 3 more`.
    pub(crate) fn flips(list: &[String], all: bool) -> String {
        let n = if all { list.len() } else { NAMED.min(list.len()) };
        let mut s = list[..n].join(", ");
        if list.len() > n {
            s.push_str(&format!(" … and {} more", list.len() - n));
        }
        s
    }
}

/// A p-value as people read it: 3 significant digits, small ones in e-notation.
pub(crate) fn format_p(p: f64) -> String {
    if p < 1e-4 { format!("{p:.1e}") } else { format!("{}", (p * 1e4).round() / 1e4) }
}

/// Every gate of the reference (run 0) against each later run.
pub(crate) fn changes(runs: &[Run]) -> Vec<GateChange> {
    let mut out = Vec::new();
    let Some((reference, later)) = runs.split_first() else { return out };
    for (suite, gate) in gates(reference) {
        for (i, run) in later.iter().enumerate() {
            if let Some((_, other)) = counterpart(suite, gate, run) {
                out.push(pair(gate, other, i + 1));
            }
        }
    }
    out
}

fn gates(run: &Run) -> impl Iterator<Item = (&Suite, &Test)> {
    run.tests().filter(|(_, t)| t.pass_rate.is_some())
}

/// The gate of `run` that matches the reference's: the same suite and name, else the only gate
/// of the same suite written at the same place (another model's gate of the same test).
fn counterpart<'a>(suite: &Suite, gate: &Test, run: &'a Run) -> Option<(&'a Suite, &'a Test)> {
    let mut same_place = gates(run).filter(|(s, t)| s.name == suite.name && t.location == gate.location);
    if let Some(found) = gates(run).find(|(s, t)| s.name == suite.name && t.name == gate.name) {
        return Some(found);
    }
    let first = same_place.next()?;
    same_place.next().is_none().then_some(first)
}

/// Gate `b`'s cases paired with gate `a`'s (`run`: which compared report `b` is from).
pub(crate) fn pair(a: &Test, b: &Test, run: usize) -> GateChange {
    let cases = |g: &Test| -> Vec<(String, bool)> {
        g.pass_rate
            .iter()
            .flat_map(|r| r.cases.iter())
            .filter(|c| c.status == "passed" || c.status == "failed")
            .map(|c| (c.case_label(g), c.status == "passed"))
            .collect()
    };
    let (ca, cb) = (cases(a), cases(b));
    let other: std::collections::HashMap<&str, bool> = cb.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let (mut paired, mut passed_a, mut passed_b) = (0u64, 0u64, 0u64);
    let (mut lost, mut gained) = (Vec::new(), Vec::new());
    for (label, pa) in &ca {
        let Some(&pb) = other.get(label.as_str()) else { continue };
        paired += 1;
        passed_a += u64::from(*pa);
        passed_b += u64::from(pb);
        match (pa, pb) {
            (true, false) => lost.push(label.clone()),
            (false, true) => gained.push(label.clone()),
            _ => {}
        }
    }
    let unpaired = (ca.len() as u64 + cb.len() as u64).saturating_sub(2 * paired);
    let p = mcnemar(lost.len() as u64, gained.len() as u64);
    let verdict = match (p < ALPHA, lost.len().cmp(&gained.len())) {
        (true, std::cmp::Ordering::Greater) => Verdict::Worse,
        (true, std::cmp::Ordering::Less) => Verdict::Better,
        _ => Verdict::NoChange,
    };
    GateChange {
        gate: a.name.clone(),
        other: b.name.clone(),
        run,
        paired,
        passed_a,
        passed_b,
        lost,
        gained,
        unpaired,
        p,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A run whose gate has `n` cases, those in `failed` failing.
    fn run(n: usize, failed: &[usize]) -> Run {
        let cases: Vec<_> = (0..n)
            .map(|i| {
                json!({ "name": format!("q [case=c{i}]"), "status": if failed.contains(&i) { "failed" } else { "passed" },
                        "params": [["case", format!("c{i}")]] })
            })
            .collect();
        Run::from_value(json!({ "suites": [{ "name": "s", "tests": [
            { "name": "q", "status": "passed", "location": "s.yaml:3:5",
              "pass_rate": { "required": ">= 80%", "passed": 0, "total": n, "cases": cases } }
        ] }] }))
        .unwrap()
    }

    #[test]
    fn a_ten_point_drop_on_200_cases_is_significant_and_two_points_on_50_is_not() {
        let worse: Vec<usize> = (0..200).step_by(10).collect(); // 20 of 200 lost
        let c = changes(&[run(200, &[]), run(200, &worse)]);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].lost.len(), c[0].gained.len(), c[0].paired), (20, 0, 200));
        assert_eq!(c[0].verdict, Verdict::Worse, "{}", c[0].line());
        assert!(c[0].p < 1e-5, "{}", c[0].p);
        assert!((c[0].points() + 10.0).abs() < 1e-9);
        let c = changes(&[run(50, &[]), run(50, &[7])]);
        assert_eq!(c[0].verdict, Verdict::NoChange, "{}", c[0].line());
        assert!(c[0].line().contains("no detectable change at this sample size"), "{}", c[0].line());
        // Flips both ways that cancel out: no change, whatever the count.
        let c = changes(&[run(200, &(0..20).collect::<Vec<_>>()), run(200, &(20..40).collect::<Vec<_>>())]);
        assert_eq!((c[0].lost.len(), c[0].gained.len(), c[0].verdict), (20, 20, Verdict::NoChange));
        // Better is said too.
        let c = changes(&[run(200, &worse), run(200, &[])]);
        assert_eq!(c[0].verdict, Verdict::Better);
    }
}
