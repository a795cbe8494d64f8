//! Where a perf level's samples go while it runs: memory that does not grow with the run.
//!
//! A soak at tens of thousands of requests per second would hold millions of samples. The
//! store keeps the first `KEEP` whole (for report.json and messages); every sample goes, as
//! it is measured, to a compact samples file (`samples_file.rs`: an anonymous temp file,
//! gone when the run ends whatever way it ends, copied into the report directory by its
//! reporter) from which the per-request CSV is written and runs are merged. Statistics stay exact: each metric's values are buffered,
//! and past `SPILL_VALUES` sorted and written out as a run; at the end the runs are merged in
//! order and `Stats::of_sorted` reads them twice — the same arithmetic in the same order as the
//! in-memory path, so the figures are identical to the bit (a unit test holds them to it).

use super::result::Sample;
use super::stats::Stats;
use crate::suite::metrics::{Metric, PER_REQUEST};
use chrono::{DateTime, Utc};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::sync::Arc;

/// Samples a level keeps whole in memory (and in report.json).
pub(crate) const KEEP: usize = 1000;
/// Values of one metric buffered before they are sorted and written out.
const SPILL_VALUES: usize = 1 << 19;

use super::samples_file::{At, SampleFile, Writer};

/// One metric's values: a buffer, and the sorted runs already on disk.
struct Values {
    metric: Metric,
    buf: Vec<f64>,
    runs: Vec<Run>,
    count: usize,
}

/// Sorted values in a temp file. A run of tier t holds about FAN_IN^t buffers' worth.
struct Run {
    file: File,
    tier: u32,
}

/// Runs of one tier merged into one of the next once there are this many: a soak of billions
/// of values keeps a few dozen files open (not thousands), and each value is rewritten only
/// once per tier (log16 of the run's length in buffers).
const FAN_IN: usize = 16;

/// Writes ascending values to a new temp file.
fn write_run(values: impl Iterator<Item = f64>) -> std::io::Result<File> {
    let mut w = BufWriter::with_capacity(64 * 1024, tempfile::tempfile()?);
    for x in values {
        w.write_all(&x.to_le_bytes())?;
    }
    w.into_inner().map_err(|e| e.into_error())
}

impl Values {
    fn spill(&mut self) -> std::io::Result<()> {
        self.buf.sort_by(f64::total_cmp);
        let file = write_run(self.buf.iter().copied())?;
        self.runs.push(Run { file, tier: 0 });
        self.buf.clear();
        self.compact()
    }

    /// Merges FAN_IN runs of a tier into one of the next, as often as there are that many.
    fn compact(&mut self) -> std::io::Result<()> {
        while let Some(tier) = (0..8).find(|t| self.runs.iter().filter(|r| r.tier == *t).count() >= FAN_IN) {
            let (group, rest): (Vec<Run>, Vec<Run>) =
                std::mem::take(&mut self.runs).into_iter().partition(|r| r.tier == tier);
            let file = write_run(Merge::new(&group, &[]))?;
            self.runs = rest;
            self.runs.push(Run { file, tier: tier + 1 });
        }
        Ok(())
    }

    fn stats(mut self) -> Option<Stats> {
        self.buf.sort_by(f64::total_cmp);
        if self.runs.is_empty() {
            return Stats::of_sorted(self.count, || self.buf.iter().copied());
        }
        let (runs, buf) = (&self.runs, &self.buf);
        Stats::of_sorted(self.count, || Merge::new(runs, buf))
    }
}

/// The values of sorted runs and a sorted buffer, in ascending order.
struct Merge<'a> {
    heap: BinaryHeap<Head>,
    readers: Vec<Box<dyn Iterator<Item = f64> + 'a>>,
}

struct Head(f64, usize);

impl PartialEq for Head {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Head {
    // Smallest first, and between equal values the earlier source first.
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.total_cmp(&self.0).then(o.1.cmp(&self.1))
    }
}

impl<'a> Merge<'a> {
    fn new(runs: &'a [Run], buf: &'a [f64]) -> Self {
        let mut readers: Vec<Box<dyn Iterator<Item = f64> + 'a>> = runs
            .iter()
            .map(|Run { file, .. }| {
                let mut r = BufReader::with_capacity(64 * 1024, At { file, pos: 0 });
                Box::new(std::iter::from_fn(move || {
                    let mut b = [0u8; 8];
                    r.read_exact(&mut b).ok().map(|()| f64::from_le_bytes(b))
                })) as Box<dyn Iterator<Item = f64>>
            })
            .collect();
        readers.push(Box::new(buf.iter().copied()));
        let mut heap = BinaryHeap::new();
        for (i, r) in readers.iter_mut().enumerate() {
            if let Some(x) = r.next() {
                heap.push(Head(x, i));
            }
        }
        Merge { heap, readers }
    }
}

impl Iterator for Merge<'_> {
    type Item = f64;
    fn next(&mut self) -> Option<f64> {
        let Head(x, i) = self.heap.pop()?;
        if let Some(y) = self.readers[i].next() {
            self.heap.push(Head(y, i));
        }
        Some(x)
    }
}

/// A level's samples as they arrive.
pub(crate) struct SampleStore {
    kept: Vec<Sample>,
    file: Option<Writer>,
    file_failed: bool,
    /// Keeps samples (in memory and in the file); a window's store only counts.
    recording: bool,
    /// A soak's windows, fed every sample.
    windows: Option<super::windows::Windows>,
    /// Secrets masked in error texts before they reach the file.
    mask: crate::mask::Secrets,
    values: Vec<Values>,
    requests: usize,
    errors: usize,
    output_tokens: u64,
    /// The per-request SLOs, and the requests that met them.
    slo: Option<crate::suite::perf::Slo>,
    met: usize,
    /// With `logging_met`: each request's start, end-to-end time and whether it met the SLOs
    /// (a capacity search's probe judges its attainment over consecutive stretches of them,
    /// and whether the server kept up from when they ended).
    met_log: Option<Vec<(DateTime<Utc>, f64, bool)>>,
    /// With `logging_done`: the answered requests since the last `take_done` (a round of a
    /// sweep run until its knee is decided).
    done_log: Option<Vec<super::knee::Done>>,
    /// The output lengths asked for, and of the answers whose length is known, how many and
    /// how many stopped short.
    output: Option<crate::suite::perf::OutputLength>,
    sized: usize,
    short: usize,
    first_error: Option<String>,
    /// A temp file that could not be written: the figures still hold, the rows past KEEP are lost.
    spill_error: Option<String>,
    scratch: Vec<f64>,
    /// Values of a metric buffered before a sorted run is written (`SPILL_VALUES`).
    spill_at: usize,
}

/// What a level's samples add up to.
pub(crate) struct Summary {
    pub(crate) kept: Vec<Sample>,
    /// Every sample (none when the temp file could not be written: then `kept` is all there is).
    pub(crate) file: Option<Arc<SampleFile>>,
    pub(crate) stats: BTreeMap<Metric, Stats>,
    pub(crate) requests: usize,
    pub(crate) errors: usize,
    pub(crate) output_tokens: u64,
    /// Requests that met the SLOs, when the level has them.
    pub(crate) met: Option<usize>,
    /// With `output`: successful answers whose length is known, and those shorter than asked.
    pub(crate) short: Option<(usize, usize)>,
    pub(crate) first_error: Option<String>,
    pub(crate) spill_error: Option<String>,
    pub(crate) windows: Vec<super::windows::WindowResult>,
}

impl Default for SampleStore {
    fn default() -> Self {
        SampleStore {
            kept: Vec::new(),
            file: None,
            file_failed: false,
            recording: true,
            windows: None,
            mask: crate::mask::Secrets::default(),
            values: PER_REQUEST
                .iter()
                .map(|m| Values { metric: *m, buf: Vec::new(), runs: Vec::new(), count: 0 })
                .collect(),
            requests: 0,
            errors: 0,
            output_tokens: 0,
            slo: None,
            met: 0,
            met_log: None,
            done_log: None,
            output: None,
            sized: 0,
            short: 0,
            first_error: None,
            spill_error: None,
            scratch: Vec::new(),
            spill_at: SPILL_VALUES,
        }
    }
}

impl SampleStore {
    /// A store whose file gets error texts with these secrets masked.
    pub(crate) fn masking(mask: crate::mask::Secrets) -> Self {
        SampleStore { mask, ..SampleStore::default() }
    }

    /// A store of figures only (a soak window's): no kept samples, no file.
    pub(crate) fn figures_only() -> Self {
        SampleStore { recording: false, ..SampleStore::default() }
    }

    /// Counts the requests that meet these SLOs (goodput); its windows count them too.
    pub(crate) fn with_slo(mut self, slo: Option<crate::suite::perf::Slo>) -> Self {
        self.slo = slo.filter(|s| !s.is_empty());
        if let Some(w) = &mut self.windows {
            w.slo.clone_from(&self.slo);
        }
        self
    }

    /// Keeps, for each request, when it started and ended and whether it met the SLOs
    /// (`met_in_order`, `ends`).
    pub(crate) fn logging_met(mut self) -> Self {
        self.met_log = Some(Vec::new());
        self
    }

    /// Keeps each answered request as the knee reads it, until `take_done`.
    pub(crate) fn logging_done(mut self) -> Self {
        self.done_log = Some(Vec::new());
        self
    }

    /// The answered requests since the last call (empty without `logging_done`).
    pub(crate) fn take_done(&mut self) -> Vec<super::knee::Done> {
        self.done_log.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Whether each request so far met the SLOs, in the order they started (empty without
    /// `logging_met`).
    pub(crate) fn met_in_order(&self) -> Vec<bool> {
        let mut log = self.met_log.clone().unwrap_or_default();
        log.sort_by_key(|(at, _, _)| *at);
        log.into_iter().map(|(_, _, met)| met).collect()
    }

    /// When each request so far ended, seconds after the first one started (with
    /// `logging_met`).
    pub(crate) fn ends(&self) -> Vec<f64> {
        let log = self.met_log.as_deref().unwrap_or_default();
        let Some(first) = log.iter().map(|(at, _, _)| *at).min() else { return Vec::new() };
        log.iter()
            .map(|(at, e2e, _)| (*at - first).num_microseconds().unwrap_or(0) as f64 / 1e6 + e2e)
            .collect()
    }

    /// Counts the answers shorter than the output length asked (`output`); its windows too.
    pub(crate) fn with_output(mut self, output: Option<crate::suite::perf::OutputLength>) -> Self {
        self.output = output;
        if let Some(w) = &mut self.windows {
            w.output.clone_from(&self.output);
        }
        self
    }

    /// Every sample also goes to these windows (which count the store's SLOs and lengths).
    pub(crate) fn with_windows(mut self, mut windows: super::windows::Windows) -> Self {
        windows.slo.clone_from(&self.slo);
        windows.output.clone_from(&self.output);
        self.windows = Some(windows);
        self
    }

    pub(crate) fn push(&mut self, mut sample: Sample) {
        use super::samples_file::held;
        use chrono::SubsecRound;
        // Times as every store holds them (whole nanoseconds): what the file gives back.
        sample.e2e = held(sample.e2e);
        sample.ttft = sample.ttft.map(held);
        sample.itl.iter_mut().for_each(|x| *x = held(*x));
        sample.started_at = sample.started_at.trunc_subsecs(6);
        self.requests += 1;
        let met = self.slo.as_ref().is_some_and(|slo| sample.meets(slo));
        self.met += usize::from(met);
        if let Some(log) = &mut self.met_log {
            log.push((sample.started_at, sample.e2e, met));
        }
        if let (Some(output), true, Some(got)) = (&self.output, sample.ok, sample.output_tokens) {
            self.sized += 1;
            if got < u64::from(output.tokens.draw(output.seed, sample.iter)) {
                self.short += 1;
            }
        }
        if let (Some(log), true) = (&mut self.done_log, sample.ok) {
            log.push(super::knee::Done::of(&sample));
        }
        if sample.ok {
            self.output_tokens += sample.output_tokens.unwrap_or(0);
            for v in &mut self.values {
                self.scratch.clear();
                sample.metric(v.metric, &mut self.scratch);
                let finite = self.scratch.iter().copied().filter(|x| x.is_finite());
                let before = v.buf.len();
                v.buf.extend(finite);
                v.count += v.buf.len() - before;
                if v.buf.len() >= self.spill_at
                    && let Err(e) = v.spill()
                {
                    self.spill_error.get_or_insert(format!("cannot write samples to a temp file: {e}"));
                }
            }
        } else {
            self.errors += 1;
            if self.first_error.is_none() {
                self.first_error.clone_from(&sample.error);
            }
        }
        if let Some(w) = &mut self.windows {
            w.push(&sample);
        }
        if !self.recording {
            return;
        }
        if !self.file_failed
            && let Err(e) = self.write(&sample)
        {
            (self.file, self.file_failed) = (None, true);
            self.spill_error.get_or_insert(format!("cannot write samples to a temp file: {e}"));
        }
        if self.kept.len() < KEEP {
            self.kept.push(sample);
        }
    }

    fn write(&mut self, sample: &Sample) -> std::io::Result<()> {
        if self.file.is_none() {
            self.file = Some(Writer::new(tempfile::tempfile()?));
        }
        let error = sample.error.as_deref().map(|e| self.mask.apply(e));
        self.file.as_mut().expect("just made").push(sample, error.as_deref())
    }

    /// Requests pushed so far.
    pub(crate) fn requests(&self) -> usize {
        self.requests
    }

    /// The level's samples, summed up: kept, spilled, exact statistics.
    pub(crate) fn finish(mut self) -> Summary {
        self.kept.sort_by_key(|s| s.iter);
        let file = match self.file.map(Writer::finish) {
            Some(Ok(f)) => Some(Arc::new(f)),
            Some(Err(e)) => {
                self.spill_error.get_or_insert(format!("cannot write samples to a temp file: {e}"));
                None
            }
            None => None,
        };
        let mut stats = BTreeMap::new();
        for v in self.values {
            let metric = v.metric;
            if let Some(st) = v.stats() {
                stats.insert(metric, st);
            }
        }
        Summary {
            kept: self.kept,
            file,
            stats,
            requests: self.requests,
            errors: self.errors,
            output_tokens: self.output_tokens,
            met: self.slo.is_some().then_some(self.met),
            short: self.output.is_some().then_some((self.sized, self.short)),
            first_error: self.first_error,
            spill_error: self.spill_error,
            windows: self.windows.map(super::windows::Windows::finish).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::samples_file::held;

    fn sample(i: u32, e2e: f64, ok: bool) -> Sample {
        let mut s = Sample::bare((!ok).then(|| format!("error {i}")), e2e);
        s.iter = i;
        s.ttft = Some(e2e / 3.0);
        s.itl = vec![e2e / 7.0, e2e / 11.0];
        // As measured: whole nanoseconds.
        s.e2e = held(s.e2e);
        s.ttft = s.ttft.map(held);
        s.itl.iter_mut().for_each(|x| *x = held(*x));
        s.output_tokens = Some(3);
        s
    }

    /// Pseudo-random values with repeats, spread over magnitudes.
    fn values(n: usize) -> Vec<f64> {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x % 100_000) as f64 / 997.0).powf(1.7) + if x.is_multiple_of(5) { 0.5 } else { 0.0 }
            })
            .collect()
    }

    #[test]
    fn spilled_statistics_equal_in_memory_ones_to_the_bit() {
        // Enough values that e2e, ttft and itl each go to disk in several sorted runs.
        let n = 30_123;
        let e2e = values(n);
        // Spilled every 512 values: itl (two per sample) makes over 100 runs, merged in tiers.
        let mut store = SampleStore { spill_at: 512, ..SampleStore::default() };
        for (i, x) in e2e.iter().enumerate() {
            store.push(sample(i as u32 + 1, *x, i % 1000 != 7));
        }
        let runs: Vec<usize> = store.values.iter().map(|v| v.runs.len()).collect();
        assert!(runs.iter().filter(|r| **r >= 2).count() >= 3, "several metrics spilled runs: {runs:?}");
        let tiers: Vec<u32> = store.values.iter().flat_map(|v| v.runs.iter().map(|r| r.tier)).collect();
        assert!(tiers.contains(&1), "runs were merged into a higher tier: {tiers:?}");
        assert!(store.values.iter().all(|v| v.runs.len() < FAN_IN * 2), "{runs:?}");
        let summary = store.finish();
        let ok: Vec<Sample> = e2e
            .iter()
            .enumerate()
            .map(|(i, x)| sample(i as u32 + 1, *x, i % 1000 != 7))
            .filter(|s| s.ok)
            .collect();
        for name in [Metric::E2e, Metric::Ttft, Metric::Itl, Metric::Tpot, Metric::OutputTokens] {
            let mut all = Vec::new();
            for s in &ok {
                s.metric(name, &mut all);
            }
            assert_eq!(summary.stats.get(&name), Stats::of(&all).as_ref(), "{name}");
        }
        // The same e2e values through numpy 2 (held to the nanosecond, failures left out):
        // np.percentile(a, [50, 90, 95, 99]), a.mean(), a.std(), a.min(), a.max().
        let numpy = [
            777.069486056,
            2114.4644556317,
            2313.27212488815,
            2480.774213677,
            935.3837700205934,
            756.7294031209815,
            5.168e-05,
            2525.03452805,
        ];
        let e = &summary.stats[&Metric::E2e];
        let ours = [e.p50, e.p90, e.p95, e.p99, e.mean, e.stddev, e.min, e.max];
        for (i, (a, b)) in ours.iter().zip(numpy).enumerate() {
            assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "figure {i}: {a} vs numpy's {b}");
        }
        assert_eq!(e.count, 30_092);
        assert_eq!(summary.requests, n);
        assert_eq!(summary.errors, n.div_ceil(1000));
        assert_eq!(summary.first_error.as_deref(), Some("error 8"));
        assert_eq!(summary.kept.len(), KEEP);
        let file = summary.file.expect("every sample goes to the file");
        let back: Vec<Sample> = file.samples().map(Result::unwrap).collect();
        assert_eq!(back.len(), n);
        assert_eq!((back[KEEP].iter, back[KEEP].e2e), (KEEP as u32 + 1, held(e2e[KEEP])));
        // Statistics computed again from the file are the run's own, to the bit.
        let mut again = SampleStore::default();
        back.into_iter().for_each(|s| again.push(s));
        assert_eq!(again.finish().stats, summary.stats);
    }

    #[test]
    fn a_secret_learned_while_a_level_runs_is_masked_in_its_samples_file() {
        let secrets = crate::mask::Secrets::new(["sk-from-the-plan".to_string()]);
        let mut store = SampleStore::masking(secrets.clone());
        let mut failed = |i: u32, error: &str| {
            let mut s = sample(i, 0.1, false);
            s.error = Some(error.to_string());
            store.push(s);
        };
        failed(1, "401 for sk-from-the-plan");
        // A test captured this one (`secret: true`) after the store was made.
        secrets.add(["tok-captured-later".to_string()]);
        failed(2, "echoed tok-captured-later");
        let file = store.finish().file.expect("a samples file");
        let errors: Vec<String> = file.samples().map(|s| s.unwrap().error.unwrap_or_default()).collect();
        assert_eq!(errors, ["401 for ***", "echoed ***"]);
    }

    #[test]
    fn a_short_level_stays_in_memory() {
        let mut store = SampleStore::default();
        for i in 1..=10 {
            store.push(sample(i, f64::from(i), true));
        }
        let s = store.finish();
        assert!(s.file.is_some(), "even a short level has its samples file");
        assert_eq!(s.kept.len(), 10);
        assert_eq!(s.stats[&Metric::E2e].p50, 5.5);
    }

    #[test]
    fn requests_that_meet_every_slo_make_goodput_and_attainment() {
        use crate::suite::metrics::{Figure, Metric};
        use crate::suite::perf::Slo;
        let ms = std::time::Duration::from_millis;
        let slo = Slo { ttft: Some(ms(100)), tpot: Some(ms(20)), e2e: None };
        let at = |ttft: f64, e2e: f64, tokens: u64, ok: bool| {
            let mut s = Sample::bare((!ok).then(|| "refused".to_string()), e2e);
            s.ttft = Some(ttft);
            s.output_tokens = Some(tokens);
            s
        };
        // tpot = (e2e − ttft) / (tokens − 1).
        assert!(at(0.05, 0.05 + 9.0 * 0.02, 10, true).meets(&slo), "on both bounds");
        assert!(!at(0.101, 0.2, 10, true).meets(&slo), "ttft over");
        assert!(!at(0.05, 0.05 + 9.0 * 0.021, 10, true).meets(&slo), "tpot over");
        assert!(at(0.05, 3.0, 1, true).meets(&slo), "one token: nothing between tokens (vLLM's rule)");
        assert!(!at(0.05, 0.1, 10, false).meets(&slo), "a failed request meets nothing");
        let mut unstreamed = at(0.0, 0.1, 10, true);
        unstreamed.ttft = None;
        assert!(!unstreamed.meets(&slo), "no ttft measured: not shown within it");
        assert!(unstreamed.meets(&Slo { e2e: Some(ms(100)), ..Slo::default() }));

        let mut store = SampleStore::default().with_slo(Some(slo));
        store.push(at(0.05, 0.1, 10, true));
        store.push(at(0.05, 0.1, 10, true));
        store.push(at(0.5, 0.6, 10, true));
        store.push(at(0.05, 0.1, 10, false));
        let level =
            crate::perf::result::LevelResult::new(1, std::time::Duration::from_secs(2), store.finish());
        assert_eq!(level.figures[&Figure::of(Metric::Goodput)], 1.0, "2 met in 2 s");
        assert_eq!(level.figures[&Figure::of(Metric::SloAttainment)], 50.0, "2 of 4 requests");
        let none = crate::perf::result::LevelResult::new(
            1,
            std::time::Duration::from_secs(2),
            SampleStore::default().finish(),
        );
        assert!(!none.figures.contains_key(&Figure::of(Metric::Goodput)), "no slo, no goodput");
    }
}
