//! The capacity search's decisions: which rate (or concurrency) to probe next, and whether a
//! probe kept `slo_attainment` at the target. The loop that runs the probes is
//! `execute::shapes`; everything here is arithmetic on counts, tested on a modelled server.
//!
//! A probe's verdict is the 95% Wilson interval of its attainment (requests that met every SLO
//! of all it sent) against the target: met when the interval lies at or above it, missed when
//! below, and when it straddles the target the probe runs on for another length, up to
//! `MAX_LENGTHS`; after that its estimate decides, and the verdict says so. A probe whose load
//! could not be sent (the open loop fell behind its schedule), or whose requests ended at a
//! lower rate than they were sent (`overloaded`), missed: the server was not keeping up with
//! that rate, and a longer probe would have shown it in the SLOs as its queue grew.
//!
//! The path: the bottom of the range first, then doubling until a probe misses (or the top of
//! the range met), then bisection — geometric, as capacities scale — between the highest value
//! that met and the lowest that missed, until they are within `precision` of each other. The
//! result is that bracket: the capacity is at least the one and below the other.

use super::rate::wilson;
use crate::suite::shapes::format_rate;
use serde::{Deserialize, Serialize};

/// Most lengths a probe runs while its attainment is too close to the target to tell.
pub(crate) const MAX_LENGTHS: u32 = 3;
/// Most probes a search runs (a range of 1 to 10,000 at 1% takes about 21).
pub(crate) const MAX_PROBES: usize = 32;

/// A probe's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Verdict {
    /// Its attainment's interval lies at or above the target.
    Met,
    /// Its interval lies below the target, or its load could not be sent.
    Missed,
    /// Too close to tell after the longest probe: its estimate was at or above the target.
    MetByEstimate,
    /// Too close to tell after the longest probe: its estimate was below the target.
    MissedByEstimate,
}

impl Verdict {
    pub(crate) fn met(self) -> bool {
        matches!(self, Verdict::Met | Verdict::MetByEstimate)
    }

    /// Whether its interval decided it (not its estimate).
    pub(crate) fn sure(self) -> bool {
        matches!(self, Verdict::Met | Verdict::Missed)
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "missed",
            Verdict::MetByEstimate => "met (by estimate)",
            Verdict::MissedByEstimate => "missed (by estimate)",
        }
    }
}

/// One probe of a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Probe {
    /// The rate (requests per second) or concurrency probed.
    pub(crate) value: f64,
    /// Its level in the observation's `levels` (0-based).
    pub(crate) level: usize,
    pub(crate) requests: u64,
    /// Of `requests`, those that met every SLO.
    pub(crate) met: u64,
    /// Percent.
    pub(crate) attainment: f64,
    /// The attainment's 95% interval, percent.
    pub(crate) low: f64,
    pub(crate) high: f64,
    /// How many of the search's `for` it ran.
    pub(crate) lengths: u32,
    pub(crate) verdict: Verdict,
    /// Why it missed besides its attainment (its load could not be sent, or the server did
    /// not keep up with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) why: Option<String>,
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SearchResult {
    /// Searched request rates (else concurrencies).
    pub(crate) by_rate: bool,
    /// The attainment asked for, percent.
    pub(crate) target: f64,
    pub(crate) range: [f64; 2],
    /// The highest value that met the target (None: not even the lowest did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) capacity: Option<f64>,
    /// The lowest value that missed it (None: the top of the range met it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) missed_at: Option<f64>,
    /// In the order they ran.
    pub(crate) probes: Vec<Probe>,
    /// Why the search ended before its bracket was narrow enough (a stop, a probe budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cut_short: Option<String>,
}

impl SearchResult {
    /// A probed value as a person reads it: `8.5/s` or `c=12`.
    pub(crate) fn show(&self, value: f64) -> String {
        if self.by_rate { format_rate(value) } else { format!("c={value}") }
    }

    /// The probe that found the capacity.
    pub(crate) fn capacity_probe(&self) -> Option<&Probe> {
        let c = self.capacity?;
        self.probes.iter().find(|p| p.value == c && p.verdict.met())
    }

    /// The search's answer in a sentence, with the bracket and how sure its edges are.
    pub(crate) fn conclusion(&self) -> String {
        let edge = |value: Option<f64>| {
            let p = self.probes.iter().find(|p| Some(p.value) == value)?;
            (!p.verdict.sure()).then(|| {
                format!(
                    "{}'s verdict is its estimate ({:.1}%, interval {:.1}–{:.1}%, too close to {}% to tell)",
                    self.show(p.value),
                    p.attainment,
                    p.low,
                    p.high,
                    crate::suite::values::trim_float(self.target)
                )
            })
        };
        let target = format!("slo_attainment ≥ {}%", crate::suite::values::trim_float(self.target));
        let mut out = match (self.capacity, self.missed_at) {
            (Some(c), Some(m)) => {
                format!(
                    "capacity {} ({target}): {} met it, {} missed it",
                    self.show(c),
                    self.show(c),
                    self.show(m)
                )
            }
            (Some(c), None) => format!(
                "capacity at least {} ({target}): the top of the searched range met it; search higher",
                self.show(c)
            ),
            (None, Some(m)) => format!(
                "capacity below {} ({target}): the lowest probe missed it; search lower",
                self.show(m)
            ),
            (None, None) => format!("capacity not found ({target}): no probe ran"),
        };
        let notes: Vec<String> = [edge(self.capacity), edge(self.missed_at)].into_iter().flatten().collect();
        if !notes.is_empty() {
            out.push_str(&format!("; {}", notes.join("; ")));
        }
        if let Some(why) = &self.cut_short {
            out.push_str(&format!("; {why}"));
        }
        out
    }
}

/// The share of requests that met every SLO (0 of none).
fn share(met: &[bool]) -> f64 {
    if met.is_empty() { 0.0 } else { met.iter().filter(|m| **m).count() as f64 / met.len() as f64 }
}

/// Consecutive batches an attainment's interval is also taken over.
const BATCHES: usize = 8;

/// The 95% interval of an attainment (a share), from whether each request met every SLO in
/// the order they started: the Wilson interval of the count, widened to the interval of the
/// mean of consecutive batches (Student's t over their spread) — requests queued behind one
/// another wait alike, so they are not independent draws, and a server that fell behind for a
/// stretch shows it as batches apart.
pub(crate) fn interval(met: &[bool]) -> Option<(f64, f64)> {
    let count = met.iter().filter(|m| **m).count() as u64;
    let (mut low, mut high) = wilson(count, met.len() as u64)?;
    if met.len() >= 2 * BATCHES {
        let n = met.len();
        let batches: Vec<f64> =
            (0..BATCHES).map(|i| share(&met[i * n / BATCHES..(i + 1) * n / BATCHES])).collect();
        let (mean, half) = super::knee::mean_interval(&batches)?;
        low = low.min((mean - half).max(0.0));
        high = high.max((mean + half).min(1.0));
    }
    Some((low, high))
}

/// Why an open loop at `asked` requests/s overloaded the server, if it did: its requests
/// ended at a lower rate than they were sent (`ends`: when each ended, seconds from any origin).
/// A server that keeps up ends requests as fast as they come; one that does not ends them at
/// its own pace and queues the rest, and a probe too short for the queue to reach the SLOs
/// would otherwise pass a rate the server cannot sustain. A tenth is forgiven, and with
/// `poisson` arrivals three times the rate's noise over `n` requests (1/√n of it) if more.
pub(crate) fn overloaded(asked: f64, ends: &[f64], poisson: bool) -> Option<String> {
    let n = ends.len();
    if n < 8 {
        return None;
    }
    let (first, last) =
        ends.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), e| (a.min(*e), b.max(*e)));
    let ended = (n - 1) as f64 / (last - first).max(1e-9);
    let slack = if poisson { (3.0 / (n as f64).sqrt()).max(0.1) } else { 0.1 };
    (ended < asked * (1.0 - slack)).then(|| {
        format!(
            "the server ended requests at {} of the {} sent: it did not keep up, and its queue grew",
            format_rate(ended),
            format_rate(asked)
        )
    })
}

/// The search while it runs.
pub(crate) struct Searcher {
    range: (f64, f64),
    /// A share (0..=1).
    target: f64,
    precision: f64,
    /// Concurrencies are whole numbers.
    whole: bool,
    met: Option<f64>,
    missed: Option<f64>,
    probes: Vec<Probe>,
}

impl Searcher {
    /// A search of `range` for attainment ≥ `target` (a share), until the bracket is within
    /// `precision` (a share); `whole` for concurrencies.
    pub(crate) fn new(range: (f64, f64), target: f64, precision: f64, whole: bool) -> Self {
        let (a, b) = range;
        Searcher {
            range: (a.min(b), a.max(b)),
            target,
            precision,
            whole,
            met: None,
            missed: None,
            probes: Vec::new(),
        }
    }

    /// The next value to probe; None when the search is done.
    pub(crate) fn next(&self) -> Option<f64> {
        if self.probes.len() >= MAX_PROBES {
            return None;
        }
        let (lo, hi) = self.range;
        match (self.met, self.missed) {
            (None, None) => Some(lo),
            (None, Some(_)) => None,
            (Some(m), None) if m >= hi => None,
            (Some(m), None) => {
                let up = (m * 2.0).min(hi);
                Some(if self.whole { up.round().max(m + 1.0).min(hi) } else { up })
            }
            (Some(m), Some(x)) => {
                let narrow = x <= m * (1.0 + self.precision);
                if self.whole {
                    (!narrow && x - m > 1.0).then(|| (m * x).sqrt().round().clamp(m + 1.0, x - 1.0))
                } else {
                    (!narrow).then(|| (m * x).sqrt())
                }
            }
        }
    }

    /// A probe's verdict after `lengths` of its length, from whether each of its requests met
    /// every SLO, in the order they started (`unsent`: its load could not be sent); None when
    /// it should run another length.
    pub(crate) fn judge(&self, met: &[bool], lengths: u32, unsent: bool) -> Option<Verdict> {
        if unsent || met.is_empty() {
            return Some(Verdict::Missed);
        }
        let (low, high) = interval(met)?;
        if low >= self.target {
            Some(Verdict::Met)
        } else if high < self.target {
            Some(Verdict::Missed)
        } else if lengths < MAX_LENGTHS {
            None
        } else if share(met) >= self.target {
            Some(Verdict::MetByEstimate)
        } else {
            Some(Verdict::MissedByEstimate)
        }
    }

    /// A probe with its counts, interval and verdict, as `record` takes it.
    pub(crate) fn probe(value: f64, level: usize, met: &[bool], lengths: u32, verdict: Verdict) -> Probe {
        let (low, high) = interval(met).unwrap_or((0.0, 0.0));
        Probe {
            value,
            level,
            requests: met.len() as u64,
            met: met.iter().filter(|m| **m).count() as u64,
            attainment: share(met) * 100.0,
            low: low * 100.0,
            high: high * 100.0,
            lengths,
            verdict,
            why: None,
        }
    }

    pub(crate) fn record(&mut self, probe: Probe) {
        let v = probe.value;
        if probe.verdict.met() {
            self.met = Some(self.met.map_or(v, |m| m.max(v)));
        } else {
            self.missed = Some(self.missed.map_or(v, |m| m.min(v)));
        }
        // A noisy verdict above a miss (or below a meet) leaves a bracket that is no bracket:
        // the miss stands, the meet below it is the capacity.
        if let (Some(m), Some(x)) = (self.met, self.missed)
            && m >= x
        {
            let below = self.probes.iter().chain([&probe]).filter(|p| p.verdict.met() && p.value < x);
            self.met = below.map(|p| p.value).reduce(f64::max);
        }
        self.probes.push(probe);
    }

    pub(crate) fn finish(self, by_rate: bool, cut_short: Option<String>) -> SearchResult {
        SearchResult {
            by_rate,
            target: self.target * 100.0,
            range: [self.range.0, self.range.1],
            capacity: self.met,
            missed_at: self.missed,
            cut_short: cut_short.or_else(|| {
                let open = self.met.zip(self.missed).is_some_and(|(m, x)| x > m * (1.0 + self.precision));
                (self.probes.len() >= MAX_PROBES && open)
                    .then(|| format!("the search stopped at its {MAX_PROBES}-probe limit"))
            }),
            probes: self.probes,
        }
    }
}

#[cfg(test)]
mod tests;
