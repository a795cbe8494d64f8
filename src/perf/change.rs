//! Whether a perf figure changed between two runs beyond chance: a bootstrap interval of the
//! relative change of the figure's statistic, from each run's per-request values.
//!
//! Each bootstrap round resamples each run's requests with replacement (a request's inter-token
//! latencies go together: they are not independent of each other) and takes the statistic of
//! both; the interval is the percentiles of the rounds' relative changes. A change is *real*
//! when its interval excludes zero and the change is at least `FLOOR_PCT`: a 1% shift two runs
//! on a shared machine can show is no news, however many requests pin it down.

use crate::suite::metrics::Stat;

/// The smallest change, in percent, called real.
pub(crate) const FLOOR_PCT: f64 = 5.0;

/// Fewest requests per run for a test: below it the interval says nothing useful.
pub(crate) const MIN_REQUESTS: usize = 8;

/// Bootstrap rounds per figure.
const ROUNDS: usize = 2000;

/// A figure's change, in percent of the reference, with its interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Interval {
    pub(crate) low: f64,
    pub(crate) high: f64,
}

impl Interval {
    /// The change is beyond chance (the interval excludes 0) and large enough to matter.
    pub(crate) fn real(&self, change_pct: f64) -> bool {
        (self.low > 0.0 || self.high < 0.0) && change_pct.abs() >= FLOOR_PCT
    }
}

/// The `confidence` (e.g. 0.99) interval of the relative change of `stat` from run `a` to run
/// `b`, each a list of requests, each request its values (one, or an answer's inter-token
/// latencies); None with fewer than `MIN_REQUESTS` requests a side, a statistic the bootstrap
/// cannot speak for (min, max, count) or a reference of zero. Deterministic: the same runs give
/// the same interval.
pub(crate) fn interval(a: &[Vec<f64>], b: &[Vec<f64>], stat: Stat, confidence: f64) -> Option<Interval> {
    if a.len() < MIN_REQUESTS || b.len() < MIN_REQUESTS {
        return None;
    }
    if !matches!(stat, Stat::Mean | Stat::P50 | Stat::P90 | Stat::P95 | Stat::P99) {
        return None;
    }
    let reference = of(a.iter().flatten().copied().collect(), stat)?;
    if reference == 0.0 {
        return None;
    }
    let mut rng = Rng(0x5eed ^ (a.len() as u64) << 32 ^ b.len() as u64);
    let mut changes = Vec::with_capacity(ROUNDS);
    let mut pool = Vec::new();
    for _ in 0..ROUNDS {
        let mut draw = |run: &[Vec<f64>]| {
            pool.clear();
            for _ in 0..run.len() {
                pool.extend_from_slice(&run[rng.below(run.len())]);
            }
            of(std::mem::take(&mut pool), stat)
        };
        let (Some(x), Some(y)) = (draw(a), draw(b)) else { continue };
        if x != 0.0 {
            changes.push((y - x) / x.abs() * 100.0);
        }
    }
    if changes.len() < ROUNDS / 2 {
        return None;
    }
    changes.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence.clamp(0.5, 0.9999)) / 2.0;
    let at = |q: f64| changes[((q * (changes.len() - 1) as f64).round() as usize).min(changes.len() - 1)];
    Some(Interval { low: at(tail), high: at(1.0 - tail) })
}

/// The statistic of the finite values (percentiles interpolated as `perf::stats` does).
fn of(mut v: Vec<f64>, stat: Stat) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    let p = match stat {
        Stat::Mean => return Some(v.iter().sum::<f64>() / v.len() as f64),
        Stat::P50 => 50.0,
        Stat::P90 => 90.0,
        Stat::P95 => 95.0,
        Stat::P99 => 99.0,
        _ => return None,
    };
    let rank = p / 100.0 * (v.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    let (_, x, rest) = v.select_nth_unstable_by(lo, f64::total_cmp);
    let x = *x;
    let y = if hi > lo { rest.iter().copied().fold(f64::INFINITY, f64::min) } else { x };
    Some(x + (y - x) * (rank - rank.floor()))
}

/// splitmix64: a small, fixed generator (the interval must not change from run to run).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        let z = crate::suite::perf::mix(self.0);
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        ((z >> 11) as f64 / (1u64 << 53) as f64 * n as f64) as usize % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` requests of a skewed latency (log-normal, median `median`, about 10% spread — a
    /// time to first token of one prompt), drawn with `seed`.
    fn latencies(n: usize, median: f64, seed: u64) -> Vec<Vec<f64>> {
        let mut rng = Rng(seed);
        (0..n)
            .map(|_| {
                let u1 = (rng.below(1 << 30) as f64 + 0.5) / (1u64 << 30) as f64;
                let u2 = (rng.below(1 << 30) as f64 + 0.5) / (1u64 << 30) as f64;
                let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                vec![median * (0.10 * z).exp()]
            })
            .collect()
    }

    #[test]
    fn the_statistic_matches_the_reports() {
        let v: Vec<f64> = (1..=101).map(f64::from).collect();
        let s = crate::perf::stats::Stats::of(&v).unwrap();
        for stat in [Stat::Mean, Stat::P50, Stat::P90, Stat::P95, Stat::P99] {
            assert!((of(v.clone(), stat).unwrap() - s.get(stat)).abs() < 1e-9, "{stat:?}");
        }
        let v = vec![3.0, 1.0, 2.0, 10.0];
        assert!(
            (of(v.clone(), Stat::P95).unwrap() - crate::perf::stats::Stats::of(&v).unwrap().p95).abs() < 1e-9
        );
    }

    #[test]
    fn runs_of_one_server_show_no_real_change_and_a_fifth_slower_is_found() {
        // Ten pairs of runs of the same server (50 requests each): at most one called real.
        let mut false_alarms = 0;
        for k in 0..10u64 {
            let (a, b) = (latencies(50, 0.040, 2 * k + 1), latencies(50, 0.040, 2 * k + 2));
            for stat in [Stat::Mean, Stat::P50, Stat::P95] {
                let reference = of(a.iter().flatten().copied().collect(), stat).unwrap();
                let new = of(b.iter().flatten().copied().collect(), stat).unwrap();
                let change = (new - reference) / reference * 100.0;
                let i = interval(&a, &b, stat, 0.99).unwrap();
                false_alarms += usize::from(i.real(change));
            }
        }
        assert!(false_alarms <= 1, "{false_alarms} of 30 figures called real between runs of one server");
        // A 20% slower TTFT on 50 requests: real in each of ten tries for the mean and the
        // median (at the confidence `hxrun compare` asks of each of ten figures); p95 rests on
        // the two or three slowest requests of 50, so it is found less often — never the wrong way.
        let mut p95_found = 0;
        for k in 0..10u64 {
            let a = latencies(50, 0.040, 100 + k);
            let b: Vec<Vec<f64>> = latencies(50, 0.040, 200 + k).iter().map(|r| vec![r[0] * 1.2]).collect();
            for stat in [Stat::Mean, Stat::P50, Stat::P95] {
                let change = (of(b.concat(), stat).unwrap() / of(a.concat(), stat).unwrap() - 1.0) * 100.0;
                let i = interval(&a, &b, stat, 1.0 - 0.05 / 10.0).unwrap();
                assert!(i.high > 0.0, "try {k}, {stat:?}: {change:.1}% in {i:?}");
                if stat == Stat::P95 {
                    p95_found += usize::from(i.real(change));
                } else {
                    assert!(i.real(change) && i.low > 0.0, "try {k}, {stat:?}: {change:.1}% in {i:?}");
                }
            }
        }
        assert!(p95_found >= 5, "p95: {p95_found} of 10");
        // Too few requests: no verdict.
        assert_eq!(interval(&latencies(5, 0.04, 1), &latencies(50, 0.04, 2), Stat::Mean, 0.95), None);
        assert_eq!(interval(&latencies(50, 0.04, 1), &latencies(50, 0.04, 2), Stat::Max, 0.95), None);
    }
}
