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
//! and last `c` left out, so `2c + 4` requests a round), and each level is set against the
//! best level over the same rounds: the ratio of their sums, its interval Student's t over
//! the rounds' residuals `level − ratio × best` (the paired ratio estimator) — so a slow
//! stretch that fell on a whole round cancels out, and one slow round of the best level does
//! not blow up a single quotient. A sweep that runs rounds until its knee is decided
//! (`rounds: { min, max }`) is judged at each look with the wider interval of `super::looks`.

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
    /// The two-sided confidence of the intervals: 95%, or a look's own level when the sweep
    /// ran rounds until decided.
    #[serde(default = "ninety_five")]
    pub(crate) confidence: f64,
    /// The rounds a sweep run until decided could take (`rounds.min`, `rounds.max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) until: Option<(u32, u32)>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn ninety_five() -> f64 {
    0.95
}

/// The usual confidence of an interval: one look.
pub(crate) const CONFIDENCE: f64 = 0.95;

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
        let confidence = percent(self.confidence);
        self.level(c).map_or_else(String::new, |l| {
            format!("{} {} ({confidence} CI {}–{}{paired})", num(l.value), self.unit, num(l.low), num(l.high))
        })
    }

    /// How a sweep run until decided ended: after which look, and why its intervals are wider.
    fn looks(&self) -> String {
        let Some((min, max)) = self.until else { return String::new() };
        let decided = matches!(self.finding, Finding::Saturates | Finding::StillRising);
        let when = if decided {
            "decided"
        } else if self.rounds as u32 >= max {
            "still open"
        } else {
            "stopped"
        };
        format!(
            " ({when} after {} of {min} to {max} rounds: looked at after each round from round {min}, each \
             look's intervals widened so the looks together keep a 5% chance of a wrong line)",
            self.rounds
        )
    }

    pub(crate) fn describe(&self) -> String {
        let verdict = self.verdict();
        format!("{verdict}{}", self.looks())
    }

    fn verdict(&self) -> String {
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
                 {share:.0}% of the best or below it (c={}: {}; the line is {line}) — {}",
                self.shown(c),
                self.best,
                num(best),
                if self.until.is_some() {
                    "a higher `rounds.max` narrows it"
                } else {
                    "more requests per level (or `rounds: { min, max }`) narrow it"
                }
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

/// A confidence as a person reads it: 95%, 99.4%.
fn percent(confidence: f64) -> String {
    let p = confidence * 100.0;
    if (p - p.round()).abs() < 0.05 { format!("{p:.0}%") } else { format!("{p:.1}%") }
}

/// Student's t quantile for a two-sided interval of `confidence` with `df` degrees of freedom.
pub(crate) fn t_quantile(confidence: f64, df: usize) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    StudentsT::new(0.0, 1.0, df.max(1) as f64)
        .map_or(f64::INFINITY, |t| t.inverse_cdf(1.0 - (1.0 - confidence) / 2.0))
}

/// The mean of `values` and the half-width of its 95% interval (Student's t over their sample
/// standard deviation): the interval of batch means, of a probe's batches. None for fewer
/// than two values.
pub(crate) fn mean_interval(values: &[f64]) -> Option<(f64, f64)> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    Some((mean, t_quantile(CONFIDENCE, n - 1) * sd(values, mean) / (n as f64).sqrt()))
}

/// The sample standard deviation of `values` about `mean`.
fn sd(values: &[f64], mean: f64) -> f64 {
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() as f64 - 1.0)).sqrt()
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
    let rate = |part: &[&super::result::Sample]| {
        littles_rate(part.iter().map(|s| (s.e2e, s.output_tokens)), c, tokens)
    };
    // Consecutive batches, as even as the count allows.
    let b = (steady.len() / 4).clamp(2, BATCHES);
    let batches: Vec<f64> =
        (0..b).map(|i| rate(&steady[i * steady.len() / b..(i + 1) * steady.len() / b])).collect();
    let (_, half) = mean_interval(&batches).ok_or((ok.len(), needed))?;
    let value = rate(steady);
    Ok(Throughput { concurrency: l.concurrency, value, low: (value - half).max(0.0), high: value + half })
}

/// The knee of a closed-loop sweep of two levels or more (None for an open loop), its
/// intervals at 95%.
pub(crate) fn find(levels: &[LevelResult]) -> Option<Knee> {
    find_at(levels, CONFIDENCE)
}

/// The knee of a closed-loop sweep, its intervals at `confidence` (a look's, for a sweep run
/// until decided).
pub(crate) fn find_at(levels: &[LevelResult], confidence: f64) -> Option<Knee> {
    if levels.len() < 2 || levels.iter().any(|l| l.rate.is_some()) {
        return None;
    }
    let mut sorted: Vec<&LevelResult> = levels.iter().collect();
    sorted.sort_by_key(|l| l.concurrency);
    let rounds = sorted[0].rounds.len();
    if rounds > 1 && sorted.iter().all(|l| l.rounds.len() == rounds) {
        let by_round: Vec<(u32, Vec<Vec<Done>>)> =
            sorted.iter().map(|l| (l.concurrency, rounds_of(l))).collect();
        let levels: Vec<(u32, &[Vec<Done>])> = by_round.iter().map(|(c, r)| (*c, r.as_slice())).collect();
        return Some(of_rounds(&levels, confidence));
    }
    let tokens = sorted
        .iter()
        .all(|l| l.stats.get(&crate::suite::metrics::Metric::OutputTokens).is_some_and(|s| s.mean > 0.0));
    let unit = unit(tokens);
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
                    confidence: CONFIDENCE,
                    until: None,
                });
            }
        }
    }
    // The first of equals: a tie goes to the smaller concurrency.
    let (finding, concurrency, best) = decide(&measured)?;
    Some(Knee {
        finding,
        concurrency,
        best,
        unit,
        levels: measured,
        short: None,
        rounds: 0,
        confidence: CONFIDENCE,
        until: None,
    })
}

fn unit(tokens: bool) -> String {
    if tokens { "output tokens/s" } else { "requests/s" }.to_string()
}

/// Steady requests a round of a level needs beyond its ramp and drain.
const ROUND_STEADY_MIN: usize = 4;

/// One answered request of a round, as the knee reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Done {
    pub(crate) started_at: chrono::DateTime<chrono::Utc>,
    pub(crate) e2e: f64,
    pub(crate) output_tokens: Option<u64>,
}

impl Done {
    pub(crate) fn of(s: &super::result::Sample) -> Done {
        Done { started_at: s.started_at, e2e: s.e2e, output_tokens: s.output_tokens }
    }
}

/// A level's answered requests, round by round (each in the last of its rounds that had begun
/// when it started), each round in the order they started.
fn rounds_of(l: &LevelResult) -> Vec<Vec<Done>> {
    let mut by_round: Vec<Vec<Done>> = vec![Vec::new(); l.rounds.len()];
    for s in l.each_sample().filter(|s| s.ok) {
        let r = l.rounds.iter().rposition(|seg| seg.started_at <= s.started_at).unwrap_or(0);
        by_round[r].push(Done::of(&s));
    }
    by_round.iter_mut().for_each(|r| r.sort_by_key(|d| d.started_at));
    by_round
}

/// Steady throughput (Little's law) of one round's answered requests (in the order they
/// started), less the first and last `c`; Err(needed) with too few.
fn steady_rate(round: &[Done], c: usize, tokens: bool) -> Result<f64, usize> {
    let needed = 2 * c + ROUND_STEADY_MIN;
    if round.len() < needed {
        return Err(needed);
    }
    let steady = &round[c..round.len() - c];
    Ok(littles_rate(steady.iter().map(|d| (d.e2e, d.output_tokens)), c, tokens))
}

/// Little's law over steady requests (e2e, output tokens) of a closed loop of `c`:
/// `c / mean e2e` requests/s, times the mean output tokens for tokens/s.
fn littles_rate(steady: impl Iterator<Item = (f64, Option<u64>)>, c: usize, tokens: bool) -> f64 {
    let (mut n, mut e2e, mut out) = (0.0, 0.0, 0.0);
    for (e, t) in steady {
        n += 1.0;
        e2e += e;
        out += t.unwrap_or(0) as f64;
    }
    let per_request = if tokens { out / n } else { 1.0 };
    if e2e > 0.0 { c as f64 * per_request / (e2e / n) } else { f64::INFINITY }
}

/// The knee of a sweep run in rounds, from each level's answered requests round by round
/// (ascending concurrency; every level the same number of rounds; each round in the order its
/// requests started): each level's steady throughput against the best level's over the same
/// rounds, intervals at `confidence`.
pub(crate) fn of_rounds(levels: &[(u32, &[Vec<Done>])], confidence: f64) -> Knee {
    let rounds = levels.first().map_or(0, |(_, r)| r.len());
    let tokens = levels.iter().all(|(_, rs)| rs.iter().flatten().any(|d| d.output_tokens.unwrap_or(0) > 0));
    let unit = unit(tokens);
    // Each level's steady throughput in each of its rounds.
    let mut per_round: Vec<Vec<f64>> = Vec::with_capacity(levels.len());
    for (c, by_round) in levels {
        let mut rates = Vec::with_capacity(rounds);
        for round in by_round.iter() {
            match steady_rate(round, *c as usize, tokens) {
                Ok(rate) => rates.push(rate),
                Err(needed) => {
                    return Knee {
                        finding: Finding::TooFewRequests,
                        concurrency: Some(*c),
                        best: *c,
                        unit,
                        levels: Vec::new(),
                        short: Some((round.len(), needed)),
                        rounds,
                        confidence,
                        until: None,
                    };
                }
            }
        }
        per_round.push(rates);
    }
    let sum = |v: &[f64]| v.iter().sum::<f64>();
    let best = (0..levels.len()).fold(0, |b, i| if sum(&per_round[i]) > sum(&per_round[b]) { i } else { b });
    let base = sum(&per_round[best]) / rounds as f64;
    let t = t_quantile(confidence, rounds.saturating_sub(1));
    let measured: Vec<Throughput> = levels
        .iter()
        .zip(&per_round)
        .map(|((c, _), rates)| {
            // The ratio estimator: sum over sum, its variance from the paired residuals.
            let q = sum(rates) / sum(&per_round[best]);
            let residuals: Vec<f64> = rates.iter().zip(&per_round[best]).map(|(a, b)| a - q * b).collect();
            let half = if rounds > 1 {
                t * sd(&residuals, 0.0) / (rounds as f64).sqrt() / base
            } else {
                f64::INFINITY
            };
            let half = if half.is_nan() { f64::INFINITY } else { half };
            Throughput {
                concurrency: *c,
                value: q * base,
                low: ((q - half) * base).max(0.0),
                high: (q + half) * base,
            }
        })
        .collect();
    let (finding, concurrency, best) =
        decide(&measured).unwrap_or((Finding::NotDetermined, None, levels[0].0));
    Knee { finding, concurrency, best, unit, levels: measured, short: None, rounds, confidence, until: None }
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
