//! Summary statistics, as the LLM perf tools compute them: percentiles by sorting and linear
//! interpolation between closest ranks (numpy's default), population standard deviation
//! (numpy.std's default), CoV = stddev / mean in percent.

use crate::suite::metrics::Stat;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Stats {
    pub(crate) count: usize,
    pub(crate) mean: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) stddev: f64,
    /// Coefficient of variation, percent (0 when the mean is 0).
    pub(crate) cov: f64,
    pub(crate) p50: f64,
    pub(crate) p90: f64,
    pub(crate) p95: f64,
    pub(crate) p99: f64,
}

impl Stats {
    /// Statistics of the finite values; None when there are none.
    pub(crate) fn of(values: &[f64]) -> Option<Stats> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        Stats::of_sorted(v.len(), || v.iter().copied())
    }

    /// Statistics of `n` finite values that `sorted()` yields in ascending order, read twice
    /// (the mean, then the spread). Values too many for memory come from sorted runs on disk
    /// (`perf::samples`) through the same arithmetic, in the same order, so the figures are
    /// identical to the in-memory ones, to the bit.
    pub(crate) fn of_sorted<I: Iterator<Item = f64>>(n: usize, sorted: impl Fn() -> I) -> Option<Stats> {
        if n == 0 {
            return None;
        }
        const PS: [f64; 4] = [50.0, 90.0, 95.0, 99.0];
        // The ranks each percentile interpolates between, and the extremes.
        let ranks: Vec<(usize, usize, f64)> = PS
            .iter()
            .map(|p| {
                let rank = p / 100.0 * (n - 1) as f64;
                (rank.floor() as usize, rank.ceil() as usize, rank - rank.floor())
            })
            .collect();
        let mut wanted: Vec<usize> = ranks.iter().flat_map(|r| [r.0, r.1]).chain([0, n - 1]).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut at = std::collections::BTreeMap::new();
        let mut sum = 0.0;
        let mut next = 0;
        for (i, x) in sorted().enumerate() {
            sum += x;
            if next < wanted.len() && wanted[next] == i {
                at.insert(i, x);
                next += 1;
            }
        }
        let mean = sum / n as f64;
        let var = sorted().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        let stddev = var.sqrt();
        let pct = |(lo, hi, frac): (usize, usize, f64)| {
            let (a, b) = (at[&lo], at[&hi]);
            if n == 1 { a } else { a + (b - a) * frac }
        };
        Some(Stats {
            count: n,
            mean,
            min: at[&0],
            max: at[&(n - 1)],
            stddev,
            cov: if mean != 0.0 { stddev / mean.abs() * 100.0 } else { 0.0 },
            p50: pct(ranks[0]),
            p90: pct(ranks[1]),
            p95: pct(ranks[2]),
            p99: pct(ranks[3]),
        })
    }

    /// One statistic.
    pub(crate) fn get(&self, stat: Stat) -> f64 {
        match stat {
            Stat::Count => self.count as f64,
            Stat::Mean => self.mean,
            Stat::Min => self.min,
            Stat::Max => self.max,
            Stat::Stddev => self.stddev,
            Stat::Cov => self.cov,
            Stat::P50 => self.p50,
            Stat::P90 => self.p90,
            Stat::P95 => self.p95,
            Stat::P99 => self.p99,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn hand_computed_values() {
        // numpy: np.percentile([1,2,3,4,5,6,7,8,9,10], [50,90,95,99]) = 5.5, 9.1, 9.55, 9.91
        let s = Stats::of(&[10.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]).unwrap();
        assert_eq!(s.count, 10);
        assert!(close(s.mean, 5.5));
        assert!(close(s.p50, 5.5));
        assert!(close(s.p90, 9.1));
        assert!(close(s.p95, 9.55));
        assert!(close(s.p99, 9.91));
        // np.std([1..10]) = 2.8722813232690143; CoV = 52.2233%
        assert!(close(s.stddev, 2.872_281_323_269_014_3));
        assert!((s.cov - 52.223_296_786_709_35).abs() < 1e-9);
        assert_eq!((s.min, s.max), (1.0, 10.0));
    }

    #[test]
    fn seed_like_throughput_series() {
        // Three tokens/s readings: mean 127.36, population stddev 3.6225, CoV 2.844%.
        let s = Stats::of(&[122.40, 130.95, 128.73]).unwrap();
        assert!((s.mean - 127.36).abs() < 1e-9);
        assert!((s.stddev - 3.622_457_729_221_963).abs() < 1e-9, "{}", s.stddev);
        assert!((s.cov - 2.844_266_433_120_26).abs() < 1e-9, "{}", s.cov);
        // p99 of three values interpolates between the 2nd and 3rd of [122.40, 128.73, 130.95].
        assert!((s.p99 - (128.73 + (130.95 - 128.73) * 0.98)).abs() < 1e-9);
    }

    #[test]
    fn edge_cases() {
        assert!(Stats::of(&[]).is_none());
        assert!(Stats::of(&[f64::NAN]).is_none());
        let one = Stats::of(&[4.0]).unwrap();
        assert_eq!((one.p99, one.stddev, one.cov), (4.0, 0.0, 0.0));
        assert_eq!(Stats::of(&[0.0, 0.0]).unwrap().cov, 0.0);
    }
}
