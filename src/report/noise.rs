//! Which of `hxrun compare`'s figure changes are beyond noise: each perf figure with per-request
//! samples in both runs gets a bootstrap interval of its change (`perf::change`), at a
//! confidence shared out over every figure tested (Bonferroni: with ten figures, each at
//! 99.5%, so the whole table has a 5% chance of one false alarm).

use super::view::{Level, Sample};
use crate::perf::change::{self, Interval};
use crate::suite::metrics::{Figure, Metric};

/// The whole comparison's false-alarm rate.
const ALPHA: f64 = 0.05;

/// A figure's per-request values in a level's kept samples (answers that succeeded): one value
/// a request, or an answer's inter-token latencies; None for a figure of the whole level.
pub(crate) fn per_request(level: &Level, metric: Metric) -> Option<Vec<Vec<f64>>> {
    let ok = || level.samples.iter().filter(|s| s.ok);
    let one = |pick: fn(&Sample) -> Option<f64>| ok().filter_map(|s| pick(s).map(|v| vec![v])).collect();
    let values: Vec<Vec<f64>> = match metric {
        Metric::Ttft => one(|s| s.ttft),
        Metric::E2e => one(|s| Some(s.e2e)),
        Metric::TokensPerS => one(|s| s.tokens_per_s),
        Metric::Itl => ok().map(|s| s.itl.clone()).filter(|v| !v.is_empty()).collect(),
        _ => return None,
    };
    (!values.is_empty()).then_some(values)
}

/// A figure to test: the row it is in, and each run's requests (the reference first).
pub(crate) struct Pending {
    pub(crate) row: usize,
    pub(crate) figure: Figure,
    pub(crate) runs: Vec<Option<Vec<Vec<f64>>>>,
}

/// Each pending figure's interval against every later run, by row then run (`None` where a run
/// has too few samples, or none).
pub(crate) fn judge(pending: &[Pending]) -> Vec<(usize, Vec<Option<Interval>>)> {
    let tests = pending.iter().map(|p| p.runs.iter().skip(1).filter(|r| r.is_some()).count()).sum::<usize>();
    let confidence = 1.0 - ALPHA / tests.max(1) as f64;
    pending
        .iter()
        .map(|p| {
            let intervals = p
                .runs
                .iter()
                .skip(1)
                .map(|b| {
                    let (a, b) = (p.runs[0].as_ref()?, b.as_ref()?);
                    change::interval(a, b, p.figure.stat?, confidence)
                })
                .collect();
            (p.row, intervals)
        })
        .collect()
}
