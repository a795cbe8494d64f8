//! Where a concurrency sweep saturates, decided with confidence intervals: the smallest
//! concurrency whose throughput is within `SHARE` of the best level's and not shown to be
//! below that line, where every lower level is shown to be below it — or "still rising" at the
//! top, or "not determined" when that level's estimate is under the line without being shown
//! under it, or its interval is too wide (more than ± `SHARE`) to tell.
//!
//! A closed loop keeps `c` requests in flight, so by Little's law its steady throughput is
//! `c / E[e2e]` (requests/s; times the mean output tokens for tokens/s). The steady state is
//! what lies between the first round (the first `c` requests to start met a server that was
//! still filling) and the last (the last `c` met one that was emptying): those are left out
//! (the first round alone overstated a one-slot server's throughput at 16 by 88%). The rest, in
//! the order they started, are cut into consecutive batches (up to 8, of 4 requests or more)
//! and the interval is Student's t over the batches' throughputs — batch means, so a server
//! whose speed wanders within a level (a real llama-server's batching on one thread did, by
//! ±20% from sweep to sweep) widens the interval instead of hiding behind many requests. A
//! level needs `2c + 8` requests; one with fewer says so instead of guessing.
//!
//! A sweep run in interleaved rounds (`perf.rounds`: up the levels, down, up...) is compared
//! round by round instead: each round of each level has its steady throughput (its own first
//! and last `c` left out, so `2c + 4` requests a round), each level's throughput is divided by
//! the best level's in the same round, and the interval is Student's t over those ratios —
//! paired, so a slow stretch that fell on a whole round cancels out of the comparison.

use super::result::LevelResult;
use serde::{Deserialize, Serialize};

/// A level counts as saturated when its throughput is within this share of the best level's.
pub(crate) const SHARE: f64 = 0.10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Finding {
    /// `concurrency` reaches within `SHARE` of the best; every lower level is below that.
    Saturates,
    /// Only the highest level tested reaches the best: the limit is above it.
    StillRising,
    /// The first level not shown below the line has its estimate under the line, or an
    /// interval wider than ± `SHARE`: more requests per level would decide.
    NotDetermined,
    /// `concurrency` had too few requests for a steady state (`requests`, `needed`).
    TooFewRequests,
}

/// One level's throughput and its 95% interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Throughput {
    pub(crate) concurrency: u32,
    pub(crate) value: f64,
    pub(crate) low: f64,
    pub(crate) high: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Knee {
    pub(crate) finding: Finding,
    /// Saturates: the knee. NotDetermined: the level that could not be placed.
    pub(crate) concurrency: Option<u32>,
    /// The level with the highest throughput.
    pub(crate) best: u32,
    /// `output tokens/s` or `requests/s`.
    pub(crate) unit: String,
    pub(crate) levels: Vec<Throughput>,
    /// TooFewRequests: the level's successful requests and the number it needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) short: Option<(usize, usize)>,
    /// The interleaved rounds the levels were compared in (0: one pass, batch means).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) rounds: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Knee {
    /// The knee when the sweep found one.
    pub(crate) fn saturates_at(&self) -> Option<u32> {
        (self.finding == Finding::Saturates).then_some(self.concurrency).flatten()
    }

    fn level(&self, c: u32) -> Option<&Throughput> {
        self.levels.iter().find(|l| l.concurrency == c)
    }

    fn shown(&self, c: u32) -> String {
        let paired =
            if self.rounds > 1 { format!(", paired over {} rounds", self.rounds) } else { String::new() };
        self.level(c).map_or_else(String::new, |l| {
            format!("{} {} (95% CI {}–{}{paired})", num(l.value), self.unit, num(l.low), num(l.high))
        })
    }

    pub(crate) fn describe(&self) -> String {
        let best = self.level(self.best).map_or(0.0, |l| l.value);
        let line = num(best * (1.0 - SHARE));
        let share = SHARE * 100.0;
        match (self.finding, self.concurrency) {
            (Finding::Saturates, Some(k)) => {
                let below = self.levels.iter().rev().find(|l| l.concurrency < k);
                format!(
                    "throughput saturates at concurrency {k}: {}, within {share:.0}% of the best (c={}: {}){}",
                    self.shown(k),
                    self.best,
                    num(best),
                    below.map_or_else(String::new, |b| format!(
                        "; c={} reaches {}, below {line}",
                        b.concurrency,
                        self.shown(b.concurrency)
                    ))
                )
            }
            (Finding::TooFewRequests, Some(c)) => {
                let (had, needed) = self.short.unwrap_or_default();
                let a_level = if self.rounds > 1 { "a round of a level" } else { "a level" };
                format!(
                    "the knee is not determined: concurrency {c} had {had} successful requests{}, and {a_level}'s \
                     steady state needs {needed} (its first and last {c} are ramp and drain) — raise iterations",
                    if self.rounds > 1 { " in a round" } else { "" }
                )
            }
            (Finding::NotDetermined, Some(c)) => format!(
                "the knee is not determined: at concurrency {c} throughput is {}, which cannot be told within \
                 {share:.0}% of the best or below it (c={}: {}; the line is {line}) — more requests per level \
                 narrow it",
                self.shown(c),
                self.best,
                num(best)
            ),
            _ => format!(
                "throughput still rises at the highest concurrency tested ({}): {}; every lower level is below {line} \
                 — test higher concurrency to find where it stops",
                self.best,
                self.shown(self.best)
            ),
        }
    }
}

fn num(v: f64) -> String {
    if v.is_finite() { format!("{v:.1}") } else { "∞".to_string() }
}

/// Student's t for a two-sided 95% interval with `df` degrees of freedom (1.96 past 30).
fn t95(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042,
    ];
    T.get(df.wrapping_sub(1)).copied().unwrap_or(1.96)
}

/// The mean of `values` and the half-width of its 95% interval (Student's t over their sample
/// standard deviation): the interval of batch means, of paired rounds, of a probe's batches.
/// None for fewer than two values.
pub(crate) fn mean_interval(values: &[f64]) -> Option<(f64, f64)> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0)).sqrt();
    Some((mean, t95(n - 1) * sd / (n as f64).sqrt()))
}

/// Steady requests a level needs beyond its ramp and drain: two batches of four.
const STEADY_MIN: usize = 8;
/// Batches of the steady requests, at most.
const BATCHES: usize = 8;

/// A closed-loop level's steady throughput and its interval, from its successful requests in
/// the order they started, less the first and last `c`; Err((had, needed)) with too few.
fn throughput(l: &LevelResult, tokens: bool) -> Result<Throughput, (usize, usize)> {
    let c = l.concurrency as usize;
    let needed = 2 * c + STEADY_MIN;
    let mut ok: Vec<&super::result::Sample> = l.samples.iter().filter(|s| s.ok).collect();
    if ok.len() < needed {
        return Err((ok.len(), needed));
    }
    ok.sort_by_key(|s| s.started_at);
    let steady = &ok[c..ok.len() - c];
    let rate = |part: &[&super::result::Sample]| littles_rate(part, c, tokens);
    // Consecutive batches, as even as the count allows.
    let b = (steady.len() / 4).clamp(2, BATCHES);
    let batches: Vec<f64> =
        (0..b).map(|i| rate(&steady[i * steady.len() / b..(i + 1) * steady.len() / b])).collect();
    let (_, half) = mean_interval(&batches).ok_or((ok.len(), needed))?;
    let value = rate(steady);
    Ok(Throughput { concurrency: l.concurrency, value, low: (value - half).max(0.0), high: value + half })
}

/// The knee of a closed-loop sweep of two levels or more (None for an open loop).
pub(crate) fn find(levels: &[LevelResult]) -> Option<Knee> {
    if levels.len() < 2 || levels.iter().any(|l| l.rate.is_some()) {
        return None;
    }
    let mut sorted: Vec<&LevelResult> = levels.iter().collect();
    sorted.sort_by_key(|l| l.concurrency);
    let tokens = sorted
        .iter()
        .all(|l| l.stats.get(&crate::suite::metrics::Metric::OutputTokens).is_some_and(|s| s.mean > 0.0));
    let unit = if tokens { "output tokens/s" } else { "requests/s" }.to_string();
    let rounds = sorted[0].rounds.len();
    if rounds > 1 && sorted.iter().all(|l| l.rounds.len() == rounds) {
        return Some(paired(&sorted, tokens, unit));
    }
    let mut measured = Vec::with_capacity(sorted.len());
    for l in &sorted {
        match throughput(l, tokens) {
            Ok(t) => measured.push(t),
            Err(short) => {
                return Some(Knee {
                    finding: Finding::TooFewRequests,
                    concurrency: Some(l.concurrency),
                    best: l.concurrency,
                    unit,
                    levels: measured,
                    short: Some(short),
                    rounds: 0,
                });
            }
        }
    }
    // The first of equals: a tie goes to the smaller concurrency.
    let (finding, concurrency, best) = decide(&measured)?;
    Some(Knee { finding, concurrency, best, unit, levels: measured, short: None, rounds: 0 })
}

/// Steady requests a round of a level needs beyond its ramp and drain.
const ROUND_STEADY_MIN: usize = 4;

/// Steady throughput (Little's law) of `ok` requests of one round, in the order they started,
/// less the first and last `c`; Err(needed) with too few.
fn steady_rate(ok: &[&super::result::Sample], c: usize, tokens: bool) -> Result<f64, usize> {
    let needed = 2 * c + ROUND_STEADY_MIN;
    if ok.len() < needed {
        return Err(needed);
    }
    Ok(littles_rate(&ok[c..ok.len() - c], c, tokens))
}

/// Little's law over steady requests of a closed loop of `c`: `c / mean e2e` requests/s, times
/// the mean output tokens for tokens/s.
fn littles_rate(steady: &[&super::result::Sample], c: usize, tokens: bool) -> f64 {
    let n = steady.len() as f64;
    let e2e = steady.iter().map(|s| s.e2e).sum::<f64>() / n;
    let per_request = if tokens {
        steady.iter().map(|s| s.output_tokens.unwrap_or(0) as f64).sum::<f64>() / n
    } else {
        1.0
    };
    if e2e > 0.0 { c as f64 * per_request / e2e } else { f64::INFINITY }
}

/// The knee of a sweep run in rounds: each level's throughput against the best level's, round
/// by round.
fn paired(sorted: &[&LevelResult], tokens: bool, unit: String) -> Knee {
    let rounds = sorted[0].rounds.len();
    // Each level's steady throughput in each of its rounds.
    let mut per_round: Vec<Vec<f64>> = Vec::with_capacity(sorted.len());
    for l in sorted {
        let c = l.concurrency as usize;
        let mut by_round: Vec<Vec<super::result::Sample>> = vec![Vec::new(); rounds];
        for s in l.each_sample().filter(|s| s.ok) {
            // The last round of this level that had begun when the request started.
            let r = l.rounds.iter().rposition(|seg| seg.started_at <= s.started_at).unwrap_or(0);
            by_round[r].push(s);
        }
        let mut rates = Vec::with_capacity(rounds);
        for mut samples in by_round {
            samples.sort_by_key(|s| s.started_at);
            let ok: Vec<&super::result::Sample> = samples.iter().collect();
            match steady_rate(&ok, c, tokens) {
                Ok(rate) => rates.push(rate),
                Err(needed) => {
                    let best = l.concurrency;
                    let levels = Vec::new();
                    let short = Some((ok.len(), needed));
                    let (finding, concurrency) = (Finding::TooFewRequests, Some(l.concurrency));
                    return Knee { finding, concurrency, best, unit, levels, short, rounds };
                }
            }
        }
        per_round.push(rates);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let best =
        (0..sorted.len()).fold(0, |b, i| if mean(&per_round[i]) > mean(&per_round[b]) { i } else { b });
    let base = mean(&per_round[best]);
    let measured: Vec<Throughput> = sorted
        .iter()
        .zip(&per_round)
        .map(|(l, rates)| {
            let ratios: Vec<f64> = rates.iter().zip(&per_round[best]).map(|(a, b)| a / b).collect();
            let (q, half) = mean_interval(&ratios).unwrap_or((mean(&ratios), f64::INFINITY));
            Throughput {
                concurrency: l.concurrency,
                value: q * base,
                low: ((q - half) * base).max(0.0),
                high: (q + half) * base,
            }
        })
        .collect();
    let (finding, concurrency, best) =
        decide(&measured).unwrap_or((Finding::NotDetermined, None, sorted[0].concurrency));
    Knee { finding, concurrency, best, unit, levels: measured, short: None, rounds }
}

/// The finding over the levels' throughputs (ascending concurrency), its level, and the best.
fn decide(measured: &[Throughput]) -> Option<(Finding, Option<u32>, u32)> {
    let best = measured.iter().fold(measured.first()?, |b, t| if t.value > b.value { t } else { b });
    let line = best.value * (1.0 - SHARE);
    let top = measured.last()?.concurrency;
    // The first level not shown to be below the line is the knee — when its estimate is on the
    // line or above and its interval narrow enough (within the share either way) to have shown
    // it below had it been; an estimate under the line that cannot be shown under it is not
    // determined (a real llama-server at 86% of its best, ±8%, was called its knee).
    let (finding, concurrency) = match measured.iter().find(|t| t.high >= line) {
        Some(t) if t.value < line || (t.high - t.low) / 2.0 > SHARE * t.value => {
            (Finding::NotDetermined, Some(t.concurrency))
        }
        Some(t) if t.concurrency == top => (Finding::StillRising, None),
        Some(t) => (Finding::Saturates, Some(t.concurrency)),
        None => (Finding::NotDetermined, None),
    };
    Some((finding, concurrency, best.concurrency))
}

#[cfg(test)]
mod tests;
