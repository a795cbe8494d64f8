//! Where a concurrency sweep saturates: the level after which throughput stops rising while
//! latency climbs.

use super::result::LevelResult;
use serde::Serialize;

/// Throughput must rise at least this much (percent) for a step up in concurrency to count.
const MIN_GAIN_PCT: f64 = 10.0;
/// ... and latency must climb at least this much for the flat throughput to mean saturation.
const MIN_LATENCY_RISE_PCT: f64 = 20.0;

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub(crate) struct Knee {
    /// The last level that still paid off.
    pub(crate) concurrency: u32,
    /// The next level, which did not.
    pub(crate) next: u32,
    pub(crate) throughput_gain_pct: f64,
    pub(crate) latency_rise_pct: f64,
}

impl Knee {
    pub(crate) fn describe(&self) -> String {
        format!(
            "throughput stops rising at concurrency {}: going to {} gave {:+.1}% throughput for {:+.1}% e2e p50",
            self.concurrency, self.next, self.throughput_gain_pct, self.latency_rise_pct
        )
    }
}

/// The first step up in concurrency whose throughput gain is small while latency rises.
/// Throughput is output tokens/s when requests produce tokens, else requests/s.
pub(crate) fn find(levels: &[LevelResult]) -> Option<Knee> {
    let mut sorted: Vec<&LevelResult> = levels.iter().collect();
    sorted.sort_by_key(|l| l.concurrency);
    let throughput = |l: &LevelResult| {
        let tokens = l.figures.get("output_token_throughput").copied().unwrap_or(0.0);
        if tokens > 0.0 { tokens } else { l.figures.get("request_throughput").copied().unwrap_or(0.0) }
    };
    let latency = |l: &LevelResult| l.figures.get("e2e.p50").copied();
    sorted.windows(2).find_map(|w| {
        let (a, b) = (w[0], w[1]);
        let (ta, tb) = (throughput(a), throughput(b));
        let (la, lb) = (latency(a)?, latency(b)?);
        if ta <= 0.0 || la <= 0.0 {
            return None;
        }
        let gain = (tb - ta) / ta * 100.0;
        let rise = (lb - la) / la * 100.0;
        (gain < MIN_GAIN_PCT && rise > MIN_LATENCY_RISE_PCT).then_some(Knee {
            concurrency: a.concurrency,
            next: b.concurrency,
            throughput_gain_pct: gain,
            latency_rise_pct: rise,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn level(c: u32, throughput: f64, p50: f64) -> LevelResult {
        let mut figures = BTreeMap::new();
        figures.insert("request_throughput".to_string(), throughput);
        figures.insert("e2e.p50".to_string(), p50);
        LevelResult {
            concurrency: c,
            started_at: None,
            requests: 10,
            errors: 0,
            elapsed: 1.0,
            stats: BTreeMap::new(),
            figures,
            samples: vec![],
            samples_not_in_report: 0,
            file: None,
            first_error: None,
            samples_error: None,
            window: None,
            windows: vec![],
            drift: BTreeMap::new(),
            gpu_samples: vec![],
            gpu_error: None,
            rate: None,
        }
    }

    #[test]
    fn finds_the_first_flat_step() {
        let levels =
            vec![level(1, 10.0, 0.1), level(2, 19.5, 0.1), level(4, 20.5, 0.19), level(8, 20.6, 0.38)];
        let k = find(&levels).unwrap();
        assert_eq!((k.concurrency, k.next), (2, 4));
        assert!(k.describe().starts_with("throughput stops rising at concurrency 2: going to 4 gave +5.1%"));
        assert!(find(&levels[..2]).is_none(), "still scaling");
    }
}
