//! One perf test measured by several runs (shards, or N load generators started together),
//! as one result: the statistics of the union of their samples — exact, from the samples
//! files, not an average of percentiles — and throughput over the time they all ran.
//!
//! A part is one run's observation of the test and its samples file. The samples are routed
//! by concurrency level into one `SampleStore` each (the store a live run uses), so a merged
//! level's figures are computed by the same code from the same values as a single run's.
//! Throughput: with one part, the part's own (requests over its measured time); with more,
//! the requests that finished inside the window common to every part (the latest start to
//! the earliest end), over that window, so generators that started late or ended early do not
//! dilute it. Parts that never overlapped are summed instead, and said so.

use super::result::{LevelKey, LevelResult, PerfObservation, Sample, StageOf};
use super::samples::SampleStore;
use super::samples_file::SampleFile;
use super::windows::Windows;
use crate::gpu::GpuSample;
use crate::suite::metrics::{Figure, Figures, Metric};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

/// One run's share of a perf test.
pub(crate) struct Part {
    /// Which run (its report directory), for GPU samples and messages.
    pub(crate) host: String,
    pub(crate) observation: PerfObservation,
    pub(crate) samples: SampleFile,
}

/// A level's time span in one part.
#[derive(Clone, Copy)]
struct Span {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// Where a soak's last window ended (its planned end; `end` for other levels).
    windows_end: DateTime<Utc>,
}

/// Which level a sample belongs to: (its stage's index, 0 for a level of a sweep; its
/// concurrency). A ramp's stages (a search's probes) may share a concurrency, so theirs are
/// told apart by when they ran.
type Route = (u32, u32);

fn route(l: &LevelResult) -> Route {
    (l.stage.map_or(0, |s| s.index), l.concurrency)
}

fn stage_of(r: Route) -> Option<StageOf> {
    // Whether a stage was a probe is restored from the run's search (`merge` keeps it).
    (r.0 > 0).then_some(StageOf { index: r.0, probe: false })
}

/// One part's stages in the order they ran, with when each began.
struct Stages(Vec<(DateTime<Utc>, Route)>);

impl Stages {
    fn of(levels: &[LevelResult]) -> Stages {
        let mut starts: Vec<(DateTime<Utc>, Route)> = levels
            .iter()
            .filter(|l| l.stage.is_some())
            .filter_map(|l| Some((l.started_at?, route(l))))
            .collect();
        starts.sort();
        Stages(starts)
    }

    /// A sample's level: a sweep's by its concurrency; a stage's by the last stage that began
    /// before it (stages run one after another, each drained before the next).
    fn route(&self, s: &Sample) -> Route {
        let at = self.0.partition_point(|(start, _)| *start <= s.started_at);
        match at.checked_sub(1).and_then(|i| self.0.get(i)).or(self.0.first()) {
            Some((_, r)) => *r,
            None => (0, s.concurrency),
        }
    }
}

/// What merging said beyond the figures (kept as the run's warnings).
pub(crate) struct Merged {
    pub(crate) observation: PerfObservation,
    pub(crate) notes: Vec<String>,
}

pub(crate) fn merge(test: &str, mut parts: Vec<Part>, mask: &crate::mask::Secrets) -> Result<Merged, String> {
    let mut notes = Vec::new();
    let mut spans: BTreeMap<Route, Vec<Option<Span>>> = BTreeMap::new();
    let mut elapsed: BTreeMap<Route, Vec<f64>> = BTreeMap::new();
    let mut gpu: BTreeMap<Route, Vec<GpuSample>> = BTreeMap::new();
    let mut vram: BTreeMap<Route, f64> = BTreeMap::new();
    let mut window: BTreeMap<Route, f64> = BTreeMap::new();
    // A sweep run in interleaved rounds: each level's rounds (its time is not one stretch).
    let mut rounds: BTreeMap<Route, Vec<super::result::Segment>> = BTreeMap::new();
    for p in &mut parts {
        for l in &mut p.observation.levels {
            let r = route(l);
            if !l.rounds.is_empty() {
                rounds.entry(r).or_default().extend(l.rounds.iter().copied());
            }
            if let Some(w) = l.window {
                window.insert(r, w);
            }
            let span = l.started_at.map(|start| {
                // A soak's windows end at its planned end (its last window's), not when its last
                // request came back: windows computed again must be the run's.
                let planned =
                    l.windows.last().map(|w| w.started_at + Duration::from_secs_f64(w.length.max(0.0)));
                let end = start + Duration::from_secs_f64(l.elapsed.max(0.0));
                Span { start, end, windows_end: planned.unwrap_or(end) }
            });
            spans.entry(r).or_default().push(span);
            elapsed.entry(r).or_default().push(l.elapsed);
            for mut s in std::mem::take(&mut l.gpu_samples) {
                // A GPU read from its machine's endpoint keeps that machine's name.
                s.host.get_or_insert_with(|| p.host.clone());
                gpu.entry(r).or_default().push(s);
            }
            if let Some(v) = l.figures.get(&Figure::of(Metric::ModelVram)) {
                let e = vram.entry(r).or_insert(*v);
                *e = e.max(*v);
            }
        }
    }
    let windows: BTreeMap<Route, Option<Span>> = spans
        .iter()
        .map(|(c, s)| {
            let all: Option<Vec<Span>> = s.iter().copied().collect();
            let common = all.and_then(|all| {
                let start = all.iter().map(|s| s.start).max()?;
                let end = all.iter().map(|s| s.end).min()?;
                (end > start).then_some(Span { start, end, windows_end: end })
            });
            // Levels run in rounds spent their time in several stretches: no common window.
            (*c, common.filter(|_| !rounds.contains_key(c)))
        })
        .collect();
    let single = parts.len() == 1;
    // The runs' SLOs (one suite's: the same); goodput is counted again over every request.
    let slo = parts.iter().find_map(|p| p.observation.slo.clone());
    let output = parts.iter().find_map(|p| p.observation.output.clone());
    let mut stores: BTreeMap<Route, (SampleStore, InWindow)> = BTreeMap::new();
    for p in &parts {
        let stages = Stages::of(&p.observation.levels);
        for sample in p.samples.samples() {
            let sample = sample.map_err(|e| format!("{test}: the samples of {} are damaged: {e}", p.host))?;
            let r = stages.route(&sample);
            let (store, counted) = stores.entry(r).or_insert_with(|| {
                let mut store =
                    SampleStore::masking(mask.clone()).with_slo(slo.clone()).with_output(output.clone());
                if let Some(w) = soak_windows(r, window.get(&r), &spans) {
                    store = store.with_windows(w);
                }
                (store, InWindow::default())
            });
            if let Some(Some(w)) = windows.get(&r) {
                counted.add(&sample, *w, slo.as_ref());
            }
            store.push(sample);
        }
    }
    let mut levels = Vec::new();
    for (r, (store, counted)) in stores {
        let c = r.1;
        let summary = store.finish();
        let parts_elapsed = elapsed.get(&r).cloned().unwrap_or_default();
        let mut level = match (single, windows.get(&r).copied().flatten()) {
            (true, _) => {
                let secs = parts_elapsed.first().copied().unwrap_or(0.0);
                LevelResult::new(c, Duration::from_secs_f64(secs.max(0.0)), summary)
            }
            (false, Some(w)) => {
                let secs = (w.end - w.start).to_std().unwrap_or_default();
                let mut level = LevelResult::new(c, secs, summary);
                let s = secs.as_secs_f64().max(1e-9);
                level.figures.insert(Figure::of(Metric::RequestThroughput), counted.ok as f64 / s);
                level.figures.insert(Figure::of(Metric::OutputTokenThroughput), counted.tokens as f64 / s);
                if slo.is_some() {
                    level.figures.insert(Figure::of(Metric::Goodput), counted.met as f64 / s);
                }
                level.started_at = Some(w.start);
                level
            }
            (false, None) => {
                let why = if rounds.contains_key(&r) {
                    "ran their levels in interleaved rounds"
                } else {
                    "did not overlap in time (or did not record when they started)"
                };
                notes.push(format!(
                    "{test} [{}]: the {} runs {why}: throughput is the sum of theirs",
                    LevelKey::of(c, stage_of(r), &Figures::new()),
                    parts_elapsed.len()
                ));
                let total: f64 = parts_elapsed.iter().copied().fold(0.0, f64::max);
                let mut level = LevelResult::new(c, Duration::from_secs_f64(total.max(0.0)), summary);
                let rate = |figure: Figure| {
                    parts
                        .iter()
                        .flat_map(|p| &p.observation.levels)
                        .filter(|l| route(l) == r)
                        .map(|l| l.figures.get(&figure).copied().unwrap_or(0.0))
                        .sum::<f64>()
                };
                for metric in [Metric::RequestThroughput, Metric::OutputTokenThroughput, Metric::Goodput] {
                    if metric != Metric::Goodput || slo.is_some() {
                        level.figures.insert(Figure::of(metric), rate(Figure::of(metric)));
                    }
                }
                level
            }
        };
        if level.started_at.is_none() {
            level.started_at = spans.get(&r).and_then(|s| s.iter().flatten().map(|s| s.start).min());
        }
        // One run's rounds stay with its level, so the knee compares them round by round again.
        if single {
            level.rounds = rounds.get(&r).cloned().unwrap_or_default();
        }
        let samples = gpu.remove(&r).unwrap_or_default();
        level.figures.extend(gpu_figures(&samples));
        level.window = window.get(&r).copied();
        if level.window.is_some() {
            for w in &mut level.windows {
                let end = w.started_at + Duration::from_secs_f64(w.length);
                let inside: Vec<GpuSample> = samples
                    .iter()
                    .filter(|s| s.timestamp >= w.started_at && s.timestamp < end)
                    .cloned()
                    .collect();
                w.figures.extend(gpu_figures(&inside));
            }
            level.drift = super::windows::drift(&level.windows);
        }
        level.gpu_samples = samples;
        if let Some(v) = vram.get(&r) {
            level.figures.insert(Figure::of(Metric::ModelVram), *v);
        }
        level.stage = stage_of(r);
        // What a stage or a probe asked for, and a search's capacity, are the run's (one part's).
        let own = parts[0].observation.levels.iter().find(|l| route(l) == r);
        if let (true, Some(_), Some(own)) = (single, level.stage, own) {
            level.rate = own.rate;
            for m in [Metric::CapacityRate, Metric::CapacityConcurrency] {
                if let Some(v) = own.figures.get(&Figure::of(m)) {
                    level.figures.insert(Figure::of(m), *v);
                }
            }
        }
        levels.push(level);
    }
    let generators = parts.len();
    let mut observation = parts.swap_remove(0).observation;
    if observation.search.is_some() {
        if !single {
            // Each generator's path went where its own verdicts led: there is no union of them.
            notes.push(format!(
                "{test}: a capacity search is not merged: each of the {generators} load generators searched on \
                 its own; the first one's probes and result are kept"
            ));
            return Ok(Merged { observation, notes });
        }
        levels.iter_mut().filter_map(|l| l.stage.as_mut()).for_each(|s| s.probe = true);
    }
    // The knee reads a level's requests as one closed loop of `c` in flight (Little's law); load
    // generators running side by side had `c` each, so theirs is left to each one's own run.
    let sweep = levels.iter().all(|l| l.stage.is_none());
    // A sweep run until decided is judged again at the confidence of the look that ended it.
    let looked = observation.knee.as_ref().map(|k| (k.confidence, k.until));
    observation.knee = if levels.len() > 1 && single && sweep {
        let (confidence, until) = looked.unwrap_or((super::knee::CONFIDENCE, None));
        super::knee::find_at(&levels, confidence).map(|k| super::knee::Knee { until, ..k })
    } else {
        None
    };
    if levels.len() > 1 && !single && sweep {
        notes.push(format!(
            "{test}: no knee over {generators} load generators side by side (each one's own report has its knee)"
        ));
    }
    observation.levels = levels;
    Ok(Merged { observation, notes })
}

/// A soak level's windows over the union: from the earliest part's start to the latest
/// part's end, every window open until the end (the parts' samples come one file after
/// another, not in time order).
fn soak_windows(
    r: Route,
    window: Option<&f64>,
    spans: &BTreeMap<Route, Vec<Option<Span>>>,
) -> Option<Windows> {
    let c = r.1;
    let length = Duration::try_from_secs_f64(*window?).ok().filter(|w| !w.is_zero())?;
    let spans: Vec<Span> = spans.get(&r)?.iter().flatten().copied().collect();
    let start = spans.iter().map(|s| s.start).min()?;
    let end = spans.iter().map(|s| s.windows_end).max()?;
    let forever = Duration::from_secs(100 * 365 * 24 * 3600);
    Some(Windows::new(start, length, forever, c).ending_at(end))
}

/// Requests (and their tokens) that finished inside the common window.
#[derive(Default)]
struct InWindow {
    ok: u64,
    tokens: u64,
    /// Of `ok`, those that met the SLOs.
    met: u64,
}

impl InWindow {
    fn add(&mut self, s: &Sample, w: Span, slo: Option<&crate::suite::perf::Slo>) {
        let end = s.started_at + Duration::from_secs_f64(s.e2e.max(0.0));
        if s.ok && end > w.start && end <= w.end {
            self.ok += 1;
            self.tokens += s.output_tokens.unwrap_or(0);
            self.met += u64::from(slo.is_some_and(|slo| s.meets(slo)));
        }
    }
}

/// GPU figures per host, then the worst host's (the highest memory, utilisation, power,
/// temperature; throttled samples and sample counts added up): memory on two hosts is two
/// GPUs' memory, never one sum.
fn gpu_figures(samples: &[GpuSample]) -> Figures {
    let mut hosts: BTreeMap<Option<&str>, Vec<GpuSample>> = BTreeMap::new();
    for s in samples {
        hosts.entry(s.host.as_deref()).or_default().push(s.clone());
    }
    let mut out = Figures::new();
    for samples in hosts.values() {
        for (figure, v) in crate::gpu::sampler::figures(samples) {
            let summed = matches!(figure.metric, Metric::GpuThrottled | Metric::GpuSamples);
            out.entry(figure).and_modify(|x| *x = if summed { *x + v } else { x.max(v) }).or_insert(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::samples_file::Writer;
    use serde_json::json;

    /// Requests of three generators at concurrency 2 and 4: different speeds, some failures.
    fn samples() -> Vec<Sample> {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let t0 = DateTime::<Utc>::from_timestamp(1_764_000_000, 0).unwrap();
        (0..9000u32)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let part = i % 3;
                let ns = 20_000_000 + (x % 80_000_000) * u64::from(part + 1);
                let mut s = Sample::bare(
                    x.is_multiple_of(97).then(|| "HTTP 503: busy".into()),
                    Duration::from_nanos(ns).as_secs_f64(),
                );
                s.concurrency = if i < 4500 { 2 } else { 4 };
                s.iter = i / 3 + 1;
                s.started_at = t0 + Duration::from_micros(u64::from(i) * 700 + u64::from(part) * 50_000);
                s.ttft = Some(Duration::from_nanos(ns / 4).as_secs_f64());
                s.itl = vec![Duration::from_nanos(ns / 9).as_secs_f64(); (x % 5) as usize];
                s.output_tokens = Some(x % 5 + 1);
                s
            })
            .collect()
    }

    fn part(host: usize, samples: &[Sample]) -> Part {
        let mut w = Writer::new(tempfile::tempfile().unwrap());
        let mut levels = Vec::new();
        let mut levels_of: Vec<u32> = samples.iter().map(|s| s.concurrency).collect();
        levels_of.dedup();
        for c in levels_of {
            let mine: Vec<&Sample> = samples.iter().filter(|s| s.concurrency == c).collect();
            mine.iter().for_each(|s| w.push(s, s.error.as_deref()).unwrap());
            let start = mine.iter().map(|s| s.started_at).min().unwrap();
            let end = mine.iter().map(|s| s.started_at + Duration::from_secs_f64(s.e2e)).max().unwrap();
            levels.push(json!({
                "concurrency": c, "requests": mine.len(), "errors": 0, "stats": {}, "figures": {},
                "samples": [], "started_at": start, "elapsed": (end - start).to_std().unwrap().as_secs_f64(),
            }));
        }
        let observation = serde_json::from_value(json!({
            "request": "generate", "model": "m", "target": "http://x", "warmup": 0, "cold": false,
            "levels": levels,
        }))
        .unwrap();
        Part { host: format!("gen{host}"), observation, samples: w.finish().unwrap() }
    }

    #[test]
    fn merged_statistics_are_those_of_all_the_samples_to_the_bit() {
        let all = samples();
        let parts: Vec<Part> = (0..3)
            .map(|p| part(p, &all.iter().filter(|s| s.iter % 3 == p as u32).cloned().collect::<Vec<_>>()))
            .collect();
        let Merged { observation, notes } = merge("load", parts, &crate::mask::Secrets::default()).unwrap();
        assert_eq!(
            notes,
            ["load: no knee over 3 load generators side by side (each one's own report has its knee)"]
        );
        assert!(observation.knee.is_none());
        assert_eq!(observation.levels.len(), 2);
        for level in &observation.levels {
            let mut one = SampleStore::default();
            all.iter().filter(|s| s.concurrency == level.concurrency).for_each(|s| one.push(s.clone()));
            let one = one.finish();
            assert_eq!(level.stats, one.stats, "c={}", level.concurrency);
            assert_eq!((level.requests, level.errors), (one.requests, one.errors));
            assert!(level.errors > 0, "failures are counted");
            // The e2e p95 is the union's, not the mean of the parts' p95s.
            let p95 = level.stats[&Metric::E2e].p95;
            assert!(p95 > 0.1, "{p95}");
        }
    }

    #[test]
    fn throughput_counts_what_finished_while_every_generator_ran() {
        let t0 = DateTime::<Utc>::from_timestamp(1_764_000_000, 0).unwrap();
        // Two generators at concurrency 1, 10 requests/s each, one starting 2 s later.
        let gen_ = |offset: u64| -> Vec<Sample> {
            (0..50u32)
                .map(|i| {
                    let mut s = Sample::bare(None, 0.1);
                    s.concurrency = 1;
                    s.iter = i + 1;
                    s.started_at = t0 + Duration::from_millis(offset * 1000 + u64::from(i) * 100);
                    s
                })
                .collect()
        };
        let parts = vec![part(1, &gen_(0)), part(2, &gen_(2))];
        let m = merge("load", parts, &crate::mask::Secrets::default()).unwrap();
        let level = &m.observation.levels[0];
        assert_eq!(level.requests, 100);
        // Common window: 2 s to 5 s; both generators finish 10 requests a second in it.
        let rate = level.figures[&Figure::of(Metric::RequestThroughput)];
        assert!((rate - 20.0).abs() < 0.5, "{rate}");
        assert!((level.elapsed - 3.0).abs() < 1e-6, "{}", level.elapsed);
    }
}
