//! The perf loop: warm-up, then per concurrency level a closed loop (N workers back to back)
//! or an open loop (arrivals at a rate, uniform or Poisson, at most N in flight), until the
//! iterations are done or the duration is up. Every request becomes a `Sample`; failures are
//! counted, never dropped. Workers are tasks of their own, so a loop uses every core. Ramps
//! and capacity searches run the same levels in another order (`shapes`).

mod shapes;

use super::h1::{H1Client, Held};
use super::lifecycle::{self, Progress, ProgressUpdate};
use super::llm;
use crate::gpu::sampler::Sampler;
use crate::perf::knee;
use crate::perf::looks::Looks;
use crate::perf::result::{LevelResult, PerfObservation, RateSent, Sample, Segment};
use crate::perf::samples::SampleStore;
use crate::perf::windows::Windows;
use crate::plan::SuitePlan;
use crate::protocol::{self, LlmCall};
use crate::record::{FailureKind, StepError};
use crate::suite::UnloadStep;
use crate::suite::metrics::{Figure, Metric};
use crate::suite::perf::{Arrival, DEFAULT_ITERATIONS, PerfStep, Rounds};
use chrono::{DateTime, Utc};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep, sleep_until};

/// What every request of a perf step shares.
pub(crate) struct PerfContext {
    pub(crate) transport: Arc<super::transport::Transport>,
    pub(crate) suite: Arc<SuitePlan>,
    /// Each request's own timeout (the test's `timeout`) and what set it.
    pub(crate) deadline: crate::plan::deadline::Deadline,
    pub(crate) progress: Progress,
    /// The test's name (GPU samples carry it).
    pub(crate) test: String,
    /// Where the per-request rows go (resolved by the plan), carried to the reporter.
    pub(crate) csv: Option<std::path::PathBuf>,
    /// The samples file's name in the report directory, carried to the reporter.
    pub(crate) samples_file: Option<String>,
    /// Where to sample GPUs during each level, and how often; None without a GPU.
    pub(crate) gpu: Option<(crate::gpu::Source, Duration)>,
    /// A stop ends the loop: requests in flight are dropped, the measured ones kept.
    pub(crate) control: super::control::RunControl,
    /// The run's secrets, masked in the samples file's error texts.
    pub(crate) secrets: crate::mask::Secrets,
}

/// The context, the step, and the loop's counters, shared by its tasks.
struct Shared {
    ctx: PerfContext,
    step: PerfStep,
    /// The lean HTTP/1.1 client for a plain-http `http` request.
    lean: Option<H1Client>,
    /// The prompts of `perf.input`, made before the loop.
    prompts: Option<super::prompts::Prompts>,
    done: AtomicU64,
    total: u64,
    last_report: AtomicU64,
    started: Instant,
}

impl Shared {
    /// A level's sample store, masking the run's secrets in what it writes.
    fn store(&self) -> SampleStore {
        SampleStore::masking(self.ctx.secrets.clone())
            .with_slo(self.step.slo.clone())
            .with_output(self.step.output.clone())
    }

    /// A streamed answer ends itself at the request timeout, keeping its TTFT and chunks.
    fn waits(&self, chunk: Option<Duration>) -> llm::Waits {
        llm::Waits::of(&self.ctx.deadline, chunk)
    }
}

/// When a level stops issuing requests.
#[derive(Clone, Copy)]
enum Stop {
    After(u32),
    At(Instant),
}

pub(crate) async fn run(ctx: PerfContext, step: &PerfStep) -> Result<PerfObservation, StepError> {
    let started = Instant::now();
    let levels = step.concurrency.as_ref().map_or(vec![1], |c| c.0.clone());
    let per_level = step.iterations.unwrap_or(DEFAULT_ITERATIONS);
    // Stages and probes run for a time, as a `duration` does.
    let timed = step.duration.is_some() || !step.stages.is_empty() || step.search.is_some();
    let prompts = match &step.input {
        Some(input) => {
            let count = match timed {
                true => super::prompts::POOL,
                false => (step.warmup as usize).saturating_add(per_level as usize * levels.len()),
            };
            Some(
                super::prompts::make_within(&ctx.transport, &ctx.suite, step, input, count, &ctx.control)
                    .await?,
            )
        }
        None => None,
    };
    let shared = Arc::new(Shared {
        prompts,
        lean: step.http.as_ref().and_then(|h| {
            let request = super::http::request(h, &ctx.suite.target.url, &ctx.suite.headers).ok()?;
            ctx.transport.prepare(&request)
        }),
        ctx,
        step: step.clone(),
        done: AtomicU64::new(0),
        // A sweep run until decided counts up to its most rounds.
        total: if timed {
            0
        } else {
            let rounds = step.rounds.map_or(1.0, |r| f64::from(r.most()) / f64::from(r.least().max(1)));
            (f64::from(per_level) * rounds) as u64 * levels.len() as u64
        },
        last_report: AtomicU64::new(0),
        started,
    });
    // The knee is a sweep's: a ramp's stages and a search's probes are no sweep of concurrency.
    let (results, search, knee) = if !step.stages.is_empty() {
        (shapes::stages(&shared, step).await, None, None)
    } else if let Some(search) = &step.search {
        let (levels, found) = shapes::search(&shared, step, search).await;
        (levels, Some(found), None)
    } else {
        let (results, knee) = sweep(&shared, step, &levels, per_level).await;
        (results, None, knee)
    };
    Ok(PerfObservation {
        request: match (LlmCall::of_perf(step), &step.embed) {
            (Some(c), _) => c.kind(),
            (None, Some(_)) => "embed",
            (None, None) => "http",
        }
        .to_string(),
        model: LlmCall::of_perf(step)
            .map(|c| c.model().to_string())
            .or_else(|| step.embed.as_ref().map(|e| e.model.clone())),
        target: shared.ctx.suite.target.url.clone(),
        warmup: step.warmup,
        cold: step.cold,
        csv: shared.ctx.csv.clone(),
        samples_file: shared.ctx.samples_file.clone(),
        slo: step.slo.clone().filter(|s| !s.is_empty()),
        output: step.output.clone(),
        input: step.input.clone(),
        input_counted_by: shared.prompts.as_ref().map(|p| p.counted_by.clone()),
        levels: results,
        knee,
        search,
        elapsed: started.elapsed(),
    })
}

/// A concurrency level, or a sweep of them (in interleaved rounds with `rounds`; until the
/// knee is decided with `rounds: { min, max }`), and the sweep's knee.
async fn sweep(
    shared: &Arc<Shared>,
    step: &PerfStep,
    levels: &[u32],
    per_level: u32,
) -> (Vec<LevelResult>, Option<knee::Knee>) {
    let rounds = step.rounds.unwrap_or(Rounds::Fixed(1));
    let (least, most) = (rounds.least().max(1), rounds.most().max(1));
    let looks = match rounds {
        Rounds::Until { min, max } if levels.len() > 1 => Some(Looks::new(min, max)),
        _ => None,
    };
    let mut runs: Vec<LevelRun> = levels
        .iter()
        .map(|&c| LevelRun { rounds_done: looks.map(|_| Vec::new()), ..LevelRun::new(c) })
        .collect();
    let mut ran = 0;
    'rounds: for round in 0..most {
        // Up the sweep, then down, then up again: a slow stretch of the server or the machine
        // falls on every level alike, and the knee compares levels round by round.
        let order: Vec<usize> =
            if round % 2 == 0 { (0..runs.len()).collect() } else { (0..runs.len()).rev().collect() };
        for i in order {
            if shared.ctx.control.is_stopped() {
                break 'rounds;
            }
            let stop = match step.duration {
                Some(d) => Stop::At(super::after(Instant::now(), d / least)),
                // The level's iterations shared out over its (least) rounds, the first rounds
                // taking the remainder; a round past those runs as many as the last of them.
                None => Stop::After(per_level / least + u32::from(round < per_level % least)),
            };
            runs[i].measure(shared, step, stop).await;
        }
        // A round cut by a stop is no whole round.
        if shared.ctx.control.is_stopped() {
            break;
        }
        ran = round + 1;
        // A sweep run until decided looks after each round from its least: a decision (or a
        // round too short to ever decide) ends it.
        if let Some(looks) = looks
            && ran >= looks.min
            && ran < looks.max
        {
            let mut by_round: Vec<(u32, &[Vec<knee::Done>])> =
                runs.iter().map(|l| (l.c, l.rounds_done.as_deref().unwrap_or_default())).collect();
            by_round.sort_by_key(|(c, _)| *c);
            if knee::of_rounds(&by_round, looks.confidence(ran)).finding != knee::Finding::NotDetermined {
                break;
            }
        }
    }
    let results: Vec<LevelResult> =
        runs.into_iter().filter(|l| !l.segments.is_empty()).map(|l| l.finish(shared, step, most)).collect();
    // A sweep stopped inside a round has levels of unequal rounds: read as one pass, one look.
    let whole_rounds = results.iter().all(|l| l.rounds.len() == ran as usize);
    let knee = match looks {
        _ if results.len() < 2 => None,
        Some(looks) if whole_rounds => knee::find_at(&results, looks.confidence(ran))
            .map(|k| knee::Knee { until: Some((looks.min, looks.max)), ..k }),
        _ => knee::find(&results),
    };
    (results, knee)
}

/// One concurrency level while its rounds run: what they measured so far.
struct LevelRun {
    c: u32,
    /// Every measured request of the level, across its rounds.
    store: Option<SampleStore>,
    elapsed: Duration,
    segments: Vec<Segment>,
    sent: Option<RateSent>,
    gpu_samples: Vec<crate::gpu::GpuSample>,
    gpu_error: Option<String>,
    vram: Option<u64>,
    /// Its open-loop rate, requests/s (a stage's or a probe's; else the step's `rate`).
    rate: Option<f64>,
    /// Run the step's warm-up before measuring (a ramp's later stages do not).
    warmup: bool,
    /// Keep each request's SLO verdict in start order (a search's probe).
    log_met: bool,
    /// A sweep run until decided: each round's answered requests, as the knee reads them.
    rounds_done: Option<Vec<Vec<knee::Done>>>,
}

impl LevelRun {
    fn new(c: u32) -> Self {
        LevelRun {
            c,
            rate: None,
            warmup: true,
            log_met: false,
            rounds_done: None,
            store: None,
            elapsed: Duration::ZERO,
            segments: Vec::new(),
            sent: None,
            gpu_samples: Vec::new(),
            gpu_error: None,
            vram: None,
        }
    }

    /// One round of this level: its warm-up, then its share of the measured requests.
    async fn measure(&mut self, shared: &Arc<Shared>, step: &PerfStep, stop: Stop) {
        let c = self.c;
        if step.warmup > 0 && self.warmup {
            closed_loop(shared, c, Stop::After(step.warmup), Keep::Nothing).await;
        }
        let started = Instant::now();
        let started_at = Utc::now();
        let sampler = shared.ctx.gpu.as_ref().map(|(source, interval)| {
            Sampler::start(source.clone(), *interval, Some(shared.ctx.test.clone()))
        });
        // A soak's windows (one round: `checks` refuses `window` with `rounds`).
        let store = self.store.take().unwrap_or_else(|| {
            let store = if self.log_met { shared.store().logging_met() } else { shared.store() };
            let store = if self.rounds_done.is_some() { store.logging_done() } else { store };
            match step.window {
                Some(w) => {
                    let end = step
                        .duration
                        .and_then(|d| started_at.checked_add_signed(chrono::TimeDelta::from_std(d).ok()?));
                    // A request lasts at most its timeout; its worker hands it over at the latest
                    // when its next request ends: twice that, and a margin.
                    let late =
                        shared.ctx.deadline.request_limit().saturating_mul(2).saturating_add(LATE_MARGIN);
                    let windows = Windows::new(started_at, w, late, c);
                    store.with_windows(match end {
                        Some(end) => windows.ending_at(end),
                        None => windows,
                    })
                }
                None => store,
            }
        });
        let before = u32::try_from(store.requests()).unwrap_or(u32::MAX);
        let (store, sent) = match self.rate.or(step.rate.map(|r| r.0)) {
            Some(rate) => {
                let (store, sent) = open_loop(shared, c, stop, rate, store).await;
                (store, Some(sent))
            }
            None => {
                (closed_loop(shared, c, stop, Keep::Samples { store: Box::new(store), before }).await, None)
            }
        };
        let mut elapsed = started.elapsed();
        // A timed level lasts its time though its last answer came sooner (an open loop at a
        // low rate): its throughput is over the time it offered load, not to its last answer.
        if let Stop::At(t) = stop
            && !shared.ctx.control.is_stopped()
        {
            elapsed = elapsed.max(t.saturating_duration_since(started));
        }
        self.elapsed += elapsed;
        self.segments.push(Segment { started_at, elapsed: elapsed.as_secs_f64() });
        let mut store = store;
        if let Some(rounds) = &mut self.rounds_done {
            let mut done = store.take_done();
            done.sort_by_key(|d| d.started_at);
            rounds.push(done);
        }
        self.store = Some(store);
        self.sent = sent;
        if let Some(sampler) = sampler {
            let (samples, error) = sampler.stop().await;
            self.gpu_samples.extend(samples);
            self.gpu_error = self.gpu_error.take().or(error);
        }
        if let Some(vram) = model_vram(shared).await.filter(|_| !shared.ctx.control.is_stopped()) {
            self.vram = Some(self.vram.map_or(vram, |v| v.max(vram)));
        }
    }

    fn finish(self, shared: &Shared, step: &PerfStep, rounds: u32) -> LevelResult {
        let store = self.store.unwrap_or_else(|| shared.store());
        let mut level = LevelResult::new(self.c, self.elapsed, store.finish());
        level.rate = self.sent;
        level.started_at = self.segments.first().map(|s| s.started_at);
        level.window = step.window.map(|w| w.as_secs_f64());
        if rounds > 1 {
            level.rounds = self.segments;
        }
        if shared.ctx.gpu.is_some() {
            level.figures.extend(crate::gpu::sampler::figures(&self.gpu_samples));
            crate::perf::windows::add_gpu(&mut level.windows, &self.gpu_samples);
            level.drift = crate::perf::windows::drift(&level.windows);
            level.gpu_samples = self.gpu_samples;
            level.gpu_error = self.gpu_error;
        }
        if let Some(vram) = self.vram {
            level.figures.insert(Figure::of(Metric::ModelVram), vram as f64);
        }
        level
    }
}

/// Counts `n` finished requests (a worker's since it last counted); reports progress at most
/// every 100 ms (and at the end), so a loop of 100k requests/s does not flood the reporters.
fn tick(shared: &Shared, n: u64, now: Instant) {
    let done = shared.done.fetch_add(n, Ordering::Relaxed) + n;
    let ms = now.saturating_duration_since(shared.started).as_millis() as u64;
    let last = shared.last_report.load(Ordering::Relaxed);
    let due = ms >= last + 100
        && shared.last_report.compare_exchange(last, ms, Ordering::Relaxed, Ordering::Relaxed).is_ok();
    if due || done == shared.total {
        let _ = shared.ctx.progress.send(ProgressUpdate { done, total: shared.total, unit: "requests" });
    }
}

/// A worker counts its requests itself and adds them to the loop's count after this many, or
/// this long: one shared atomic per request is a contended cache line at 100k requests/s.
const TICK_EVERY: u64 = 32;
const TICK_AGE: Duration = Duration::from_millis(20);

/// What one worker keeps between its requests.
struct Worker {
    /// Its connection (lean client).
    held: Held,
    /// Its requests' deadline: reset per request, which costs an atomic store when the new
    /// deadline is later (it is), instead of a timer registered and removed per request.
    deadline: Pin<Box<Sleep>>,
    /// A moment on both clocks: a request's wall-clock start is derived from its monotonic
    /// one (one clock read per request instead of two; the worker's life is one level, so the
    /// two clocks cannot drift apart by more than the system's slew over it).
    epoch: (Instant, DateTime<Utc>),
}

impl Worker {
    fn new(epoch: (Instant, DateTime<Utc>)) -> Worker {
        Worker { held: Held::default(), deadline: Box::pin(sleep_until(epoch.0)), epoch }
    }

    fn wall(&self, at: Instant) -> DateTime<Utc> {
        let since = at.saturating_duration_since(self.epoch.0);
        self.epoch.1 + chrono::TimeDelta::from_std(since).unwrap_or_default()
    }
}

/// How much later than the request timeout a request may still be handed over (a worker's
/// batch): a soak window stays open this much longer.
const LATE_MARGIN: Duration = Duration::from_secs(10);

/// Samples a worker gathers before it takes the store's lock to hand them over, and the
/// longest it keeps them (a slow soak's windows close on time).
const BATCH: usize = 256;
const BATCH_AGE: Duration = Duration::from_secs(1);

/// What a loop does with its samples.
enum Keep {
    /// A warm-up: nothing.
    Nothing,
    /// The measured phase: every sample into the level's store (which a soak's windows see
    /// too), numbered after the `before` the level measured in earlier rounds.
    Samples { store: Box<SampleStore>, before: u32 },
}

/// `c` worker tasks, each sending its next request as soon as the last one finished.
async fn closed_loop(shared: &Arc<Shared>, c: u32, stop: Stop, keep: Keep) -> SampleStore {
    let (measured, store, before) = match keep {
        Keep::Nothing => (false, shared.store(), 0),
        Keep::Samples { store, before } => (true, *store, before),
    };
    let issued = Arc::new(AtomicU32::new(0));
    let store = Arc::new(Mutex::new(store));
    let mut workers = JoinSet::new();
    for _ in 0..c {
        let (shared, issued, store) = (Arc::clone(shared), Arc::clone(&issued), Arc::clone(&store));
        workers.spawn(async move {
            let mut worker = Worker::new((Instant::now(), Utc::now()));
            let stopped = shared.ctx.control.stopped();
            tokio::pin!(stopped);
            // Grown as samples come (10,000 workers of two requests each need no 256-sample
            // batch each).
            let mut batch = Vec::new();
            let (mut since, mut counted_at, mut uncounted) = (worker.epoch.0, worker.epoch.0, 0);
            let mut now = worker.epoch.0;
            let hand_over = |batch: &mut Vec<Sample>| {
                let mut store = store.lock().expect("sample store lock");
                batch.drain(..).for_each(|s| store.push(s));
            };
            loop {
                let iter = issued.fetch_add(1, Ordering::Relaxed) + 1;
                let go = match stop {
                    Stop::After(n) => iter <= n,
                    Stop::At(t) => now < t,
                };
                if !go || shared.ctx.control.is_stopped() {
                    break;
                }
                let (sample, end) = tokio::select! {
                    biased;
                    done = one(&shared, c, before + iter, &mut worker) => done,
                    () = &mut stopped => break,
                };
                now = end;
                if measured {
                    batch.push(sample);
                    if batch.len() == BATCH || now.saturating_duration_since(since) >= BATCH_AGE {
                        hand_over(&mut batch);
                        since = now;
                    }
                    uncounted += 1;
                    if uncounted == TICK_EVERY || now.saturating_duration_since(counted_at) >= TICK_AGE {
                        tick(&shared, uncounted, now);
                        (uncounted, counted_at) = (0, now);
                    }
                }
            }
            hand_over(&mut batch);
            if uncounted > 0 {
                tick(&shared, uncounted, Instant::now());
            }
        });
    }
    workers.join_all().await;
    let store = Arc::try_unwrap(store).map_err(|_| ()).expect("every worker has ended");
    store.into_inner().expect("sample store lock")
}

/// Requests started on a schedule (`rate` per second), each its own task, at most `c` in
/// flight; an arrival that finds all slots busy waits for one. A `duration` ends the schedule
/// on the clock, not on the schedule (which falls behind when the rate cannot be sent); what
/// was sent, and how far behind it fell, is returned with the samples.
async fn open_loop(
    shared: &Arc<Shared>,
    c: u32,
    stop: Stop,
    rate: f64,
    mut store: SampleStore,
) -> (SampleStore, RateSent) {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let arrival = shared.step.arrival;
    let mut gap = || match arrival {
        Arrival::Uniform => Duration::from_secs_f64(1.0 / rate),
        Arrival::Poisson => Duration::from_secs_f64(-rng.unit().ln() / rate),
    };
    let mut next_at = Instant::now();
    let epoch = (next_at, Utc::now());
    let (mut issued, mut behind, mut last_issue) = (0u32, Duration::ZERO, next_at);
    let mut inflight = JoinSet::new();
    loop {
        let more = match stop {
            Stop::After(n) => issued < n,
            Stop::At(t) => next_at < t && Instant::now() < t,
        };
        if (!more && inflight.is_empty()) || shared.ctx.control.is_stopped() {
            break;
        }
        tokio::select! {
            () = shared.ctx.control.stopped() => break,
            _ = sleep_until(next_at), if more && inflight.len() < c as usize => {
                last_issue = Instant::now();
                behind = behind.max(last_issue.saturating_duration_since(next_at));
                issued += 1;
                let (shared, iter) = (Arc::clone(shared), issued);
                inflight.spawn(async move { one(&shared, c, iter, &mut Worker::new(epoch)).await });
                next_at += gap();
            }
            Some(done) = inflight.join_next(), if !inflight.is_empty() => {
                if let Ok((sample, end)) = done {
                    store.push(sample);
                    tick(shared, 1, end);
                }
            }
        }
    }
    let span = last_issue.saturating_duration_since(epoch.0).as_secs_f64();
    let sent = if issued > 1 && span > 0.0 { f64::from(issued - 1) / span } else { rate };
    (store, RateSent { asked: rate, sent, behind: behind.as_secs_f64() })
}

/// The model's VRAM as the server lists it (Ollama's `/api/ps` `size_vram`), for LLM loops
/// whose protocol lists loaded models.
async fn model_vram(shared: &Shared) -> Option<u64> {
    let call = LlmCall::of_perf(&shared.step)?;
    let suite = &shared.ctx.suite;
    let proto = protocol::for_api(call.api().unwrap_or(suite.target.api));
    let path = proto.loaded_path()?;
    let ask = async {
        let request = super::endpoint::Endpoint::of(suite).get(path);
        let response = shared.ctx.transport.send(&request, super::transport::Purpose::Api).await.ok()?;
        response.body().await.ok()
    };
    let (body, _) = tokio::time::timeout(shared.ctx.deadline.limit, ask).await.ok()??;
    proto.loaded_vram(&serde_json::from_slice(&body).ok()?, call.model())
}

/// A small deterministic generator for Poisson gaps (no dependency, reproducible runs).
struct XorShift(u64);

impl XorShift {
    /// A number in (0, 1].
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
}

/// One measured request (after unloading the model for a cold measurement), and when it
/// ended.
async fn one(shared: &Shared, c: u32, iter: u32, worker: &mut Worker) -> (Sample, Instant) {
    let ctx = &shared.ctx;
    let deadline = &ctx.deadline;
    let unloaded = if shared.step.cold {
        tokio::time::timeout(deadline.limit, cold_unload(shared))
            .await
            .unwrap_or_else(|_| Err(deadline.ran_out(true)))
    } else {
        Ok(())
    };
    let t0 = Instant::now();
    let at = worker.wall(t0);
    worker.deadline.as_mut().reset(super::after(t0, deadline.request_limit()));
    let unload_failed = unloaded.is_err();
    let outcome = match unloaded {
        Err(e) => Err(format!("unloading before the cold request failed: {e}")),
        Ok(()) => tokio::select! {
            biased;
            done = request(shared, &mut worker.held, t0, at, iter) => done.map_err(|e| e.message),
            () = worker.deadline.as_mut() => Err(deadline.ran_out(true)),
        },
    };
    let (mut sample, end) = match outcome {
        // The request timed its own end: t0 + e2e is when it ended, to the nanosecond.
        Ok(sample) => {
            let end = t0 + Duration::try_from_secs_f64(sample.e2e).unwrap_or_default();
            (sample, end)
        }
        Err(message) => {
            let end = Instant::now();
            let e2e = if unload_failed { 0.0 } else { (end - t0).as_secs_f64() };
            (Sample::at(at, Some(message), e2e), end)
        }
    };
    sample.started_at = at;
    sample.iter = iter;
    sample.concurrency = c;
    (sample, end)
}

/// With `cold: true`, unloads the model so the next request pays the load.
async fn cold_unload(shared: &Shared) -> Result<(), String> {
    let Some(call) = LlmCall::of_perf(&shared.step).filter(|_| shared.step.cold) else { return Ok(()) };
    let unload = UnloadStep { model: call.model().to_string() };
    let proto = protocol::for_api(call.api().unwrap_or(shared.ctx.suite.target.api));
    let endpoint = super::endpoint::Endpoint::of(&shared.ctx.suite);
    lifecycle::unload(&shared.ctx.transport, proto, &unload, endpoint)
        .await
        .map(|_| ())
        .map_err(|e| e.message)
}

/// The request itself; `t0` and `at` are when it starts on each clock.
async fn request(
    shared: &Shared,
    held: &mut Held,
    t0: Instant,
    at: DateTime<Utc>,
    iter: u32,
) -> Result<Sample, StepError> {
    let (ctx, step) = (&shared.ctx, &shared.step);
    let suite = &ctx.suite;
    if let Some(call) = LlmCall::of_perf(step) {
        let api = call.api().unwrap_or(suite.target.api);
        let proto = protocol::for_api(api);
        // This request's own output length and prompt, where the step sets them.
        let mut sized =
            step.output.as_ref().map(|output| super::prompts::with_output_length(step, output, iter, api));
        let prompt = shared.prompts.as_ref().map(super::prompts::Prompts::next);
        if let Some(p) = prompt {
            // One copy of the step a request, whatever it sets.
            super::prompts::set_prompt(sized.get_or_insert_with(|| step.clone()), &p.text);
        }
        let call = match &sized {
            Some(s) => LlmCall::of_perf(s).expect("the same request, its length and prompt set"),
            None => call,
        };
        let req = llm::Request {
            endpoint: super::endpoint::Endpoint::of(suite),
            waits: shared.waits(call.chunk_timeout()),
        };
        let o = llm::run(&ctx.transport, proto, call, &req).await?;
        let error = if !(200..300).contains(&o.status) {
            Some(format!("HTTP {}: {}", o.status, o.error.clone().unwrap_or_default()))
        } else if !o.problems.is_empty() {
            Some(format!(
                "stream: {}",
                o.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
            ))
        } else {
            None
        };
        let mut sample = Sample::at(at, error, o.e2e.as_secs_f64());
        sample.ttft = o.ttft.map(|d| d.as_secs_f64());
        sample.itl = o.itl.iter().map(Duration::as_secs_f64).collect();
        sample.output_tokens = o.output_tokens;
        sample.input_tokens = prompt.and_then(|p| p.tokens);
        sample.tokens_per_s = o.client_tokens_per_s;
        sample.server = o.server;
        return Ok(sample);
    }
    if let Some(e) = &step.embed {
        let proto = protocol::for_api(e.api.unwrap_or(suite.target.api));
        let o = super::embed::run(&ctx.transport, proto, e, super::endpoint::Endpoint::of(suite)).await?;
        let error = match (&o.error, o.count) {
            (Some(why), _) => Some(format!("HTTP {}: {why}", o.status)),
            (None, 0) => Some("no vector in the answer".to_string()),
            (None, _) => None,
        };
        let mut sample = Sample::at(at, error, o.elapsed.as_secs_f64());
        sample.server.prompt_eval_count = o.prompt_tokens;
        return Ok(sample);
    }
    let Some(h) = &step.http else {
        return Err(StepError {
            kind: FailureKind::Error,
            message: "perf step without a request".into(),
            detail: String::new(),
        });
    };
    if let Some(lean) = &shared.lean {
        let r = lean.send_held(held).await?;
        let e2e = t0.elapsed().as_secs_f64();
        let error = (!(200..300).contains(&r.status))
            .then(|| format!("HTTP {}: {}", r.status, String::from_utf8_lossy(&r.body)));
        return Ok(Sample::at(at, error, e2e));
    }
    let o = super::http::run(&ctx.transport, h, &suite.target.url, &suite.headers).await?;
    let error = (!(200..300).contains(&o.status))
        .then(|| format!("HTTP {}: {}", o.status, crate::record::excerpt(&o.body, 200)));
    Ok(Sample::at(at, error, o.elapsed.as_secs_f64()))
}
