//! Soak runs: a long level's statistics per window of time, and how they drifted.
//!
//! A request belongs to the window its start falls in. Windows are judged as they close, so
//! memory holds only the windows still open: a window closes once a request has finished
//! later than its end plus the longest a request may take (`lateness`: the request timeout
//! and a margin), after which no request of it can still arrive. Each window's figures are
//! computed by a `SampleStore` of its own — exact, as the level's are.
//!
//! Drift compares the first full window with the last (the last may be cut short by the end
//! of the run; a window shorter than the others is reported but not compared), and fits a
//! slope through every full window (least squares, per hour).

use super::result::{LevelResult, Sample};
use super::samples::SampleStore;
use crate::gpu::GpuSample;
use crate::suite::metrics::{Figure, Figures, by_name};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// One window's figures (the same names as a level's: `e2e.p95`, `error_rate`, `gpu.*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WindowResult {
    /// 0-based.
    pub(crate) index: u64,
    pub(crate) started_at: DateTime<Utc>,
    /// Seconds (the last window may be shorter).
    pub(crate) length: f64,
    #[serde(with = "by_name")]
    pub(crate) figures: Figures,
}

/// How one figure moved over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Drift {
    pub(crate) first: f64,
    pub(crate) last: f64,
    /// last − first, in the figure's unit.
    pub(crate) change: f64,
    /// The change in percent of the first window's value (none when that was 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) relative: Option<f64>,
    /// Least-squares slope over every full window, per hour.
    pub(crate) per_hour: f64,
}

impl Drift {
    /// The value a drift bound is compared with: the change in percent for a `%` bound,
    /// the change in the figure's unit otherwise.
    pub(crate) fn value(&self, percent: bool) -> Option<f64> {
        if percent { self.relative } else { Some(self.change) }
    }
}

/// The windows of a level while it runs.
pub(crate) struct Windows {
    start: DateTime<Utc>,
    length: Duration,
    lateness: Duration,
    /// The level's planned end (its `duration`): the last window ends there.
    end: Option<DateTime<Utc>>,
    open: BTreeMap<u64, SampleStore>,
    done: Vec<WindowResult>,
    /// Windows below this index are closed; a request of theirs that still came (it cannot,
    /// within `lateness`) is counted in the level only.
    closed_below: u64,
    concurrency: u32,
    /// The level's SLOs: each window counts the requests that met them.
    pub(crate) slo: Option<crate::suite::perf::Slo>,
    /// The level's output lengths: each window counts the answers that stopped short.
    pub(crate) output: Option<crate::suite::perf::OutputLength>,
}

impl Windows {
    pub(crate) fn new(start: DateTime<Utc>, length: Duration, lateness: Duration, concurrency: u32) -> Self {
        Windows {
            start,
            length,
            lateness,
            end: None,
            open: BTreeMap::new(),
            done: Vec::new(),
            closed_below: 0,
            concurrency,
            slo: None,
            output: None,
        }
    }

    /// The level ends at `end`: its last window is cut there.
    pub(crate) fn ending_at(mut self, end: DateTime<Utc>) -> Self {
        self.end = Some(end);
        self
    }

    fn bounds(&self, index: u64) -> (DateTime<Utc>, DateTime<Utc>) {
        let at = |i: u64| self.start + self.length.saturating_mul(u32::try_from(i).unwrap_or(u32::MAX));
        let end = at(index + 1);
        (at(index), self.end.map_or(end, |e| end.min(e)))
    }

    fn index_of(&self, at: DateTime<Utc>) -> u64 {
        let since = (at - self.start).to_std().unwrap_or_default();
        (since.as_nanos() / self.length.as_nanos().max(1)) as u64
    }

    pub(crate) fn push(&mut self, sample: &Sample) {
        let index = self.index_of(sample.started_at);
        // A request the loop let through as the level ended (its start checked before the end,
        // taken a moment after it on a busy machine) belongs to the last window, not a new one.
        let index = match self.end {
            Some(end) => index.min(self.index_of(end - chrono::TimeDelta::nanoseconds(1))),
            None => index,
        };
        let finished = sample.started_at + Duration::from_secs_f64(sample.e2e.max(0.0));
        if index >= self.closed_below {
            let (slo, output) = (&self.slo, &self.output);
            self.open
                .entry(index)
                .or_insert_with(|| {
                    SampleStore::figures_only().with_slo(slo.clone()).with_output(output.clone())
                })
                .push(sample.clone());
        }
        // Windows no request can still join.
        while let Some((&first, _)) = self.open.first_key_value() {
            // A lateness too long to add (an absurd timeout) keeps every window open to the end.
            let late = chrono::TimeDelta::from_std(self.lateness).unwrap_or(chrono::TimeDelta::MAX);
            if first >= index || self.bounds(first).1.checked_add_signed(late).is_none_or(|t| t >= finished) {
                break;
            }
            let store = self.open.remove(&first).expect("just seen");
            self.closed_below = first + 1;
            self.close(first, store);
        }
    }

    fn close(&mut self, index: u64, store: SampleStore) {
        let (start, end) = self.bounds(index);
        let length = (end - start).to_std().unwrap_or_default();
        let level = LevelResult::new(self.concurrency, length, store.finish());
        self.done.push(WindowResult {
            index,
            started_at: start,
            length: length.as_secs_f64(),
            figures: level.figures,
        });
    }

    /// Every window, in order.
    pub(crate) fn finish(mut self) -> Vec<WindowResult> {
        for (index, store) in std::mem::take(&mut self.open) {
            self.close(index, store);
        }
        self.done.sort_by_key(|w| w.index);
        self.done
    }
}

/// GPU figures of each window, from the level's GPU samples.
pub(crate) fn add_gpu(windows: &mut [WindowResult], samples: &[GpuSample]) {
    for w in windows {
        let end = w.started_at + Duration::from_secs_f64(w.length);
        let inside: Vec<GpuSample> =
            samples.iter().filter(|s| s.timestamp >= w.started_at && s.timestamp < end).cloned().collect();
        w.figures.extend(crate::gpu::sampler::figures(&inside));
    }
}

/// How every figure moved from the first full window to the last.
pub(crate) fn drift(windows: &[WindowResult]) -> BTreeMap<Figure, Drift> {
    let longest = windows.iter().map(|w| w.length).fold(0.0, f64::max);
    let full: Vec<&WindowResult> = windows.iter().filter(|w| w.length >= longest * 0.999).collect();
    let (Some(first), Some(last)) = (full.first(), full.last()) else { return BTreeMap::new() };
    if full.len() < 2 {
        return BTreeMap::new();
    }
    let t0 = first.started_at;
    let mut out = BTreeMap::new();
    for (name, a) in &first.figures {
        let Some(b) = last.figures.get(name) else { continue };
        let points: Vec<(f64, f64)> = full
            .iter()
            .filter_map(|w| {
                let hours = ((w.started_at - t0).num_microseconds()? as f64 / 1e6 + w.length / 2.0) / 3600.0;
                Some((hours, *w.figures.get(name)?))
            })
            .collect();
        out.insert(
            *name,
            Drift {
                first: *a,
                last: *b,
                change: b - a,
                relative: (*a != 0.0).then(|| (b - a) / a.abs() * 100.0),
                per_hour: slope(&points),
            },
        );
    }
    out
}

/// Least-squares slope of y over x (0 with fewer than two distinct x).
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(name: &str) -> Figure {
        Figure::parse(name).unwrap()
    }

    fn at(ms: u64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_764_000_000, 0).unwrap() + Duration::from_millis(ms)
    }

    /// A request started `ms` after the start that took `e2e` seconds.
    fn sample(ms: u64, e2e: f64, ok: bool) -> Sample {
        let mut s = Sample::bare((!ok).then(|| "HTTP 500".to_string()), e2e);
        s.started_at = at(ms);
        s.concurrency = 4;
        s
    }

    #[test]
    fn requests_fall_in_the_window_they_started_in_and_windows_close_as_they_can() {
        let mut w =
            Windows::new(at(0), Duration::from_secs(10), Duration::from_secs(5), 4).ending_at(at(35_000));
        // 35 s of requests, one every 100 ms, slower every second; the last 5 s window is short.
        for i in 0..350u64 {
            w.push(&sample(i * 100, 0.1 + i as f64 * 0.001, i % 50 != 0));
            if i == 200 {
                // At 20 s the first window (0–10 s) has closed: nothing can still join it.
                assert_eq!(w.done.len(), 1);
                assert!(w.open.len() <= 2, "{:?}", w.open.keys().collect::<Vec<_>>());
            }
        }
        let windows = w.finish();
        assert_eq!(windows.iter().map(|w| w.index).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
        assert_eq!(
            windows.iter().map(|w| w.figures[&fig("requests")]).collect::<Vec<_>>(),
            vec![100.0, 100.0, 100.0, 50.0]
        );
        assert_eq!(windows[3].length, 5.0);
        assert_eq!(windows[0].figures[&fig("errors")], 2.0);
        assert_eq!(windows[0].figures[&fig("e2e.max")], 0.1 + 99.0 * 0.001);

        let d = drift(&windows);
        let e2e = &d[&fig("e2e.mean")];
        // First full window vs last full window (the third): 100 requests apart, 0.1 s more.
        assert!((e2e.change - 0.2).abs() < 1e-9, "{e2e:?}");
        // (the failures, one in fifty, are left out of the means)
        assert!((e2e.relative.unwrap() - 0.2 / 0.15 * 100.0).abs() < 1e-6, "{e2e:?}");
        // 10 ms more per second of run: 36 s per hour.
        assert!((e2e.per_hour - 36.0).abs() < 1e-6, "{e2e:?}");
        assert!(d[&fig("error_rate")].change.abs() < 1e-12);
    }

    #[test]
    fn a_request_started_just_after_the_end_is_in_the_last_window() {
        let mut w =
            Windows::new(at(0), Duration::from_secs(1), Duration::from_secs(5), 1).ending_at(at(4_000));
        for ms in [100, 1_100, 2_100, 3_100, 3_999, 4_000, 4_250] {
            w.push(&sample(ms, 0.05, true));
        }
        let windows = w.finish();
        assert_eq!(windows.iter().map(|w| w.index).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
        assert_eq!(windows[3].figures[&fig("requests")], 4.0);
        assert_eq!(windows[3].length, 1.0);
    }

    #[test]
    fn one_full_window_has_no_drift() {
        let mut w =
            Windows::new(at(0), Duration::from_secs(60), Duration::from_secs(5), 1).ending_at(at(70_000));
        for i in 0..70u64 {
            w.push(&sample(i * 1000, 0.2, true));
        }
        let windows = w.finish();
        assert_eq!(windows.len(), 2);
        assert!(drift(&windows).is_empty());
    }
}
