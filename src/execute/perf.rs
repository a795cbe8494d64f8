//! The perf loop: warm-up, then per concurrency level a closed loop (N workers back to back)
//! or an open loop (arrivals at a rate, uniform or Poisson, at most N in flight), until the
//! iterations are done or the duration is up. Every request becomes a `Sample`; failures are
//! counted, never dropped.

use super::lifecycle::{self, Progress, ProgressUpdate};
use super::llm;
use super::record::{FailureKind, StepError};
use crate::perf::knee;
use crate::perf::result::{LevelResult, PerfObservation, Sample};
use crate::plan::SuitePlan;
use crate::protocol::{self, LlmCall};
use crate::spec::UnloadStep;
use crate::spec::perf::{Arrival, DEFAULT_ITERATIONS, PerfStep};
use chrono::Utc;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::{Instant, sleep_until};

/// What every request of a perf step shares.
pub struct PerfContext<'a> {
    pub client: &'a reqwest::Client,
    pub suite: &'a SuitePlan,
    /// Each request's own timeout (the test's `timeout`).
    pub request_timeout: Duration,
    pub progress: &'a Progress,
}

/// When a level stops issuing requests.
#[derive(Clone, Copy)]
enum Stop {
    After(u32),
    At(Instant),
}

pub async fn run(ctx: &PerfContext<'_>, step: &PerfStep) -> Result<PerfObservation, StepError> {
    let started = std::time::Instant::now();
    let levels = step.concurrency.as_ref().map_or(vec![1], |c| c.0.clone());
    let per_level = step.iterations.unwrap_or(DEFAULT_ITERATIONS);
    let total = if step.duration.is_some() { 0 } else { u64::from(per_level) * levels.len() as u64 };
    let done = AtomicU64::new(0);
    let mut results = Vec::new();
    for &c in &levels {
        if step.warmup > 0 {
            closed_loop(ctx, step, c, Stop::After(step.warmup), None).await;
        }
        let stop = match step.duration {
            Some(d) => Stop::At(Instant::now() + d),
            None => Stop::After(per_level),
        };
        let level_started = Instant::now();
        let counter = Some((&done, total));
        let samples = match step.rate {
            Some(rate) => open_loop(ctx, step, c, stop, rate.0, counter).await,
            None => closed_loop(ctx, step, c, stop, counter).await,
        };
        results.push(LevelResult::new(c, level_started.elapsed(), samples));
    }
    let knee = if results.len() > 1 { knee::find(&results) } else { None };
    Ok(PerfObservation {
        request: if step.generate.is_some() {
            "generate"
        } else if step.chat.is_some() {
            "chat"
        } else {
            "http"
        },
        model: step
            .generate
            .as_ref()
            .map(|g| g.model.clone())
            .or(step.chat.as_ref().map(|c| c.model.clone())),
        target: ctx.suite.target.url.clone(),
        warmup: step.warmup,
        cold: step.cold,
        csv: step.csv.clone(),
        levels: results,
        knee,
        elapsed: started.elapsed(),
    })
}

type Counter<'a> = Option<(&'a AtomicU64, u64)>;

fn tick(ctx: &PerfContext<'_>, counter: Counter<'_>) {
    if let Some((done, total)) = counter {
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        let _ = ctx.progress.send(ProgressUpdate { done: n, total, unit: "requests" });
    }
}

/// `c` workers, each sending its next request as soon as the last one finished.
async fn closed_loop(
    ctx: &PerfContext<'_>,
    step: &PerfStep,
    c: u32,
    stop: Stop,
    counter: Counter<'_>,
) -> Vec<Sample> {
    let issued = AtomicU32::new(0);
    let worker = || async {
        let mut samples = Vec::new();
        loop {
            let iter = issued.fetch_add(1, Ordering::Relaxed) + 1;
            let go = match stop {
                Stop::After(n) => iter <= n,
                Stop::At(t) => Instant::now() < t,
            };
            if !go {
                break;
            }
            samples.push(one(ctx, step, c, iter).await);
            tick(ctx, counter);
        }
        samples
    };
    let all = futures_util::future::join_all((0..c).map(|_| worker())).await;
    let mut samples: Vec<Sample> = all.into_iter().flatten().collect();
    samples.sort_by_key(|s| s.iter);
    samples
}

/// Requests started on a schedule (`rate` per second), at most `c` in flight; an arrival
/// that finds all slots busy waits for one.
async fn open_loop(
    ctx: &PerfContext<'_>,
    step: &PerfStep,
    c: u32,
    stop: Stop,
    rate: f64,
    counter: Counter<'_>,
) -> Vec<Sample> {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut gap = || match step.arrival {
        Arrival::Uniform => Duration::from_secs_f64(1.0 / rate),
        Arrival::Poisson => Duration::from_secs_f64(-rng.unit().ln() / rate),
    };
    let mut next_at = Instant::now();
    let mut issued = 0u32;
    let mut inflight = FuturesUnordered::new();
    let mut samples = Vec::new();
    loop {
        let more = match stop {
            Stop::After(n) => issued < n,
            Stop::At(t) => next_at < t,
        };
        if !more && inflight.is_empty() {
            break;
        }
        tokio::select! {
            _ = sleep_until(next_at), if more && inflight.len() < c as usize => {
                issued += 1;
                inflight.push(one(ctx, step, c, issued));
                next_at += gap();
            }
            Some(sample) = inflight.next(), if !inflight.is_empty() => {
                samples.push(sample);
                tick(ctx, counter);
            }
        }
    }
    samples.sort_by_key(|s| s.iter);
    samples
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

/// One measured request (after unloading the model for a cold measurement).
async fn one(ctx: &PerfContext<'_>, step: &PerfStep, c: u32, iter: u32) -> Sample {
    let base = ctx.suite.target.url.as_str();
    if step.cold {
        let model =
            step.generate.as_ref().map(|g| g.model.clone()).or(step.chat.as_ref().map(|c| c.model.clone()));
        if let Some(model) = model
            && let Err(e) = lifecycle::unload(ctx.client, &UnloadStep { model }, base).await
        {
            return failed(
                c,
                iter,
                Utc::now(),
                Duration::ZERO,
                format!("unloading before the cold request failed: {}", e.message),
            );
        }
    }
    let started_at = Utc::now();
    let t0 = Instant::now();
    match tokio::time::timeout(ctx.request_timeout, request(ctx, step)).await {
        Ok(Ok(mut sample)) => {
            sample.started_at = started_at;
            sample.iter = iter;
            sample.concurrency = c;
            sample
        }
        Ok(Err(e)) => failed(c, iter, started_at, t0.elapsed(), e.message),
        Err(_) => failed(
            c,
            iter,
            started_at,
            t0.elapsed(),
            format!(
                "timed out after {} (the test's timeout, per request)",
                humantime::format_duration(ctx.request_timeout)
            ),
        ),
    }
}

fn failed(c: u32, iter: u32, started_at: chrono::DateTime<Utc>, e2e: Duration, error: String) -> Sample {
    Sample {
        started_at,
        iter,
        concurrency: c,
        ok: false,
        error: Some(error),
        e2e: e2e.as_secs_f64(),
        ttft: None,
        itl: Vec::new(),
        output_tokens: None,
        tokens_per_s: None,
        server: Default::default(),
    }
}

async fn request(ctx: &PerfContext<'_>, step: &PerfStep) -> Result<Sample, StepError> {
    let suite = ctx.suite;
    let key = suite.target.api_key.as_deref().filter(|k| !k.is_empty());
    let llm_call = match (&step.generate, &step.chat) {
        (Some(g), _) => Some((LlmCall::Generate(g), g.api, g.chunk_timeout)),
        (None, Some(c)) => Some((LlmCall::Chat(c), c.api, c.chunk_timeout)),
        _ => None,
    };
    if let Some((call, api, chunk_timeout)) = llm_call {
        let proto = protocol::for_api(api.unwrap_or(suite.target.api));
        let req = llm::Request { base_url: &suite.target.url, api_key: key, chunk_timeout };
        let o = llm::run(ctx.client, proto, call, &req).await?;
        let error = if !(200..300).contains(&o.status) {
            Some(format!("HTTP {}: {}", o.status, o.error.clone().unwrap_or_default()))
        } else if !o.problems.is_empty() {
            Some(format!("stream: {}", o.problems.join("; ")))
        } else {
            None
        };
        return Ok(Sample {
            started_at: Utc::now(),
            iter: 0,
            concurrency: 0,
            ok: error.is_none(),
            error,
            e2e: o.e2e.as_secs_f64(),
            ttft: o.ttft.map(|d| d.as_secs_f64()),
            itl: o.itl.iter().map(Duration::as_secs_f64).collect(),
            output_tokens: o.output_tokens,
            tokens_per_s: o.client_tokens_per_s,
            server: o.server,
        });
    }
    let Some(h) = &step.http else {
        return Err(StepError {
            kind: FailureKind::Error,
            message: "perf step without a request".into(),
            detail: String::new(),
        });
    };
    let o = super::http::run(ctx.client, h, &suite.target.url, &suite.headers).await?;
    let ok = (200..300).contains(&o.status);
    Ok(Sample {
        started_at: Utc::now(),
        iter: 0,
        concurrency: 0,
        ok,
        error: (!ok).then(|| format!("HTTP {}: {}", o.status, super::detail::excerpt(&o.body, 200))),
        e2e: o.elapsed.as_secs_f64(),
        ttft: None,
        itl: Vec::new(),
        output_tokens: None,
        tokens_per_s: None,
        server: Default::default(),
    })
}
