//! Stage 3, execute: runs planned tests in order, each step under its timeout, with retries,
//! and hands every event to a callback it does not own (the reporters). A failing or hanging server costs one failed test;
//! the run goes on.

mod capture;
pub(crate) mod control;
pub(crate) mod embed;
pub(crate) mod endpoint;
pub(crate) mod exec;
pub(crate) mod gpu;
pub(crate) mod h1;
pub(crate) mod http;
pub(crate) mod lifecycle;
pub(crate) mod llm;
pub(crate) mod perf;
pub(crate) mod redact;
pub(crate) mod tcp;
pub(crate) mod transport;

use crate::gpu::sampler::Sampler;
use crate::plan::{PlannedTest, SuitePlan};
use crate::protocol::{self, LlmCall};
use crate::record::{
    self, Attempt, FailureKind, Observation, RunRecord, Status, StepError, SuiteRecord, TestResult,
};
use crate::record::{AssertionResult, Event};
use crate::suite::Step;
use chrono::Utc;
use control::RunControl;
use redact::Redactor;
use std::time::{Duration, Instant};

/// How long past its timeout an LLM step may take to wrap up a stream it cut at the timeout.
pub(crate) const STREAM_GRACE: Duration = Duration::from_millis(500);

/// Where the executor's events go: a callback it does not own (the reporters, in `hxrun run`).
pub(crate) type Emit<'a> = dyn FnMut(&Event) + 'a;

/// Judges an observation against a test's expectations (`assert::check`, given by the caller:
/// the executor runs steps, the assert stage decides).
pub(crate) type Checker = fn(&PlannedTest, &Observation) -> Vec<AssertionResult>;

/// Runs suites; owns the transport (clients and connections) shared by all steps.
pub(crate) struct Executor {
    transport: std::sync::Arc<transport::Transport>,
    opts: ExecutorOptions,
    gpu: gpu::GpuHandle,
    check: Checker,
}

/// How the executor samples GPUs.
#[derive(Debug, Clone)]
pub(crate) struct ExecutorOptions {
    /// Sampling interval for perf steps (a step's `gpu_interval` wins) and `--gpu-sample`.
    pub(crate) gpu_interval: Duration,
    /// Sample GPUs for the whole run, not only during perf steps.
    pub(crate) gpu_sample: bool,
    /// Caps on what the run keeps in memory.
    pub(crate) limits: Limits,
    /// Tells the run to stop early (a signal, the run's deadline).
    pub(crate) control: RunControl,
    /// Stop at the first failed test (`--fail-fast`).
    pub(crate) fail_fast: bool,
}

/// Caps on what hxrun keeps of what servers and commands send, so a hostile or broken
/// server cannot take the runner's memory. Beyond a cap the rest is dropped and the step says
/// so (or fails where its check needs the whole).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Bytes kept of a response body, a streamed answer or a command's output (each stream).
    pub(crate) max_body: usize,
}

/// The default `--max-body`.
pub(crate) const DEFAULT_MAX_BODY: usize = 8 * 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits { max_body: DEFAULT_MAX_BODY }
    }
}

impl Default for ExecutorOptions {
    fn default() -> Self {
        ExecutorOptions {
            gpu_interval: crate::gpu::sampler::DEFAULT_INTERVAL,
            gpu_sample: false,
            limits: Limits::default(),
            control: RunControl::default(),
            fail_fast: false,
        }
    }
}

impl Executor {
    pub(crate) fn new(opts: ExecutorOptions, check: Checker) -> Self {
        let transport = std::sync::Arc::new(transport::Transport::new(opts.limits));
        Executor { transport, opts, gpu: gpu::GpuHandle::default(), check }
    }

    /// Runs every suite of the plan and returns the whole record.
    pub(crate) async fn run(&self, plans: &[SuitePlan], emit: &mut Emit<'_>) -> RunRecord {
        let started_at = Utc::now();
        let started = Instant::now();
        let total = plans.iter().map(|p| p.tests.len()).sum();
        emit(&Event::RunStarted { total });
        let run_sampler = if self.opts.gpu_sample {
            // Tagged with the first test from the start: its first sample may come before the
            // loop below says which test runs.
            let first = plans.iter().flat_map(|p| p.tests.first()).next().map(|t| t.name.clone());
            self.gpu.get(emit).ok().map(|s| Sampler::start(s, self.opts.gpu_interval, first))
        } else {
            None
        };
        let mut suites = Vec::new();
        let mut warnings = Vec::new();
        for plan in plans {
            let suite_started_at = Utc::now();
            let suite_started = Instant::now();
            // The suite's TLS settings (a CA, a client certificate, --insecure) get clients of
            // their own; files that cannot be used fail every test of the suite, saying why.
            let transport = if plan.target.tls == crate::suite::Tls::default() {
                Ok(std::sync::Arc::clone(&self.transport))
            } else {
                transport::Transport::with_tls(self.opts.limits, &plan.target.tls).map(std::sync::Arc::new)
            };
            if plan.target.tls.insecure {
                let warning = format!(
                    "TLS certificate checks are OFF for suite {} ({}): any server could answer as it",
                    plan.name, plan.target.url
                );
                emit(&Event::Note { message: warning.clone() });
                warnings.push(warning);
            }
            // Secrets grow as tests capture them (`secret: true`): every later result is masked.
            let mut secrets = plan.secrets();
            let mut redactor = Redactor::new(secrets.clone());
            let mut captured: std::collections::BTreeMap<String, String> = Default::default();
            let target = redactor.text(&plan.target.url);
            emit(&Event::SuiteStarted { name: &plan.name, tests: plan.tests.len(), target: &target });
            let mut tests = Vec::new();
            for test in &plan.tests {
                emit(&Event::TestStarted { name: &test.name });
                if let Some(s) = &run_sampler {
                    s.set_tag(Some(test.name.clone()));
                }
                let result = match (self.opts.control.reason(), capture::fill(test, &captured)) {
                    (Some(reason), _) => not_run(plan, test, &redactor, reason),
                    (None, _) if transport.is_err() => {
                        let mut result = blank_result(plan, test);
                        result.status = Status::Failed;
                        result.failure_kind = Some(FailureKind::Connection);
                        let why = transport.as_ref().err().cloned().unwrap_or_default();
                        result.message = Some(redactor.text(&format!("not run: {why}")));
                        result
                    }
                    (None, Err(why)) => {
                        let mut result = blank_result(plan, test);
                        result.status = Status::Failed;
                        result.failure_kind = Some(FailureKind::Error);
                        result.message = Some(redactor.text(&match why {
                            capture::Unfilled::Missing(name) => format!(
                                "not run: it uses {{{{captures.{name}}}}}, which no earlier test captured \
                                 (the test that captures it failed, was skipped or was not selected)"
                            ),
                            capture::Unfilled::Invalid(e) => {
                                format!("not run: with its captures filled in, {e}")
                            }
                        }));
                        result
                    }
                    (None, Ok(filled)) => {
                        let t = transport.as_ref().expect("checked above");
                        let (result, got) = self.run_test(plan, t, &filled, &redactor, &secrets, emit).await;
                        let new_secrets: Vec<String> =
                            got.iter().filter(|c| c.secret).map(|c| c.value.clone()).collect();
                        if !new_secrets.is_empty() {
                            secrets.extend(new_secrets);
                            redactor = Redactor::new(secrets.clone());
                        }
                        captured.extend(got.into_iter().map(|c| (c.name, c.value)));
                        result
                    }
                };
                emit(&Event::TestFinished { result: &result });
                if self.opts.fail_fast && result.status == Status::Failed {
                    self.opts.control.stop(control::StopReason::FailFast(result.name.clone()));
                }
                tests.push(result);
            }
            let record = SuiteRecord {
                name: plan.name.clone(),
                description: plan.description.clone(),
                file: plan.file.clone(),
                target,
                started_at: suite_started_at,
                duration: suite_started.elapsed(),
                tests,
            };
            emit(&Event::SuiteFinished { record: &record });
            suites.push(record);
        }
        let gpu_samples = match run_sampler {
            Some(s) => s.stop().await.0,
            None => Vec::new(),
        };
        let record = RunRecord {
            format: crate::record::REPORT_FORMAT,
            hxrun_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at,
            duration: started.elapsed(),
            suites,
            gpu_samples,
            stopped: self.opts.control.reason().map(ToString::to_string),
            warnings,
            verdicts: Vec::new(),
        };
        emit(&Event::RunFinished { record: &record });
        record
    }

    async fn run_test(
        &self,
        suite: &SuitePlan,
        transport: &std::sync::Arc<transport::Transport>,
        test: &PlannedTest,
        suite_redactor: &Redactor,
        suite_secrets: &[String],
        emit: &mut Emit<'_>,
    ) -> (TestResult, Vec<capture::Captured>) {
        let started = Instant::now();
        let mut result = blank_result(suite, test);
        if let Some(reason) = &test.skip {
            result.message = Some(reason.clone());
            return (result, Vec::new());
        }
        let mut redactor = std::borrow::Cow::Borrowed(suite_redactor);
        let mut captured = Vec::new();
        let gpu = match &test.step {
            Step::Gpu(_) | Step::Perf(_) => Some(self.gpu.get(emit)),
            // An LLM step samples the GPUs while it runs when its expectations name a figure.
            Step::Generate(_) | Step::Chat(_)
                if test.expect.metrics.keys().any(|k| k.starts_with("gpu.")) =>
            {
                Some(self.gpu.get(emit))
            }
            _ => None,
        };
        for number in 1..=test.retries + 1 {
            let attempt_started = Instant::now();
            let (progress, mut updates) = tokio::sync::mpsc::unbounded_channel();
            // A perf loop runs as long as its iterations take; its timeout is per request.
            // A perf loop runs as long as its iterations take (its timeout is per request); an
            // LLM step ends its own stream at the timeout, keeping what it measured, so the
            // outer limit only catches an answer that never began.
            let limit = match test.step {
                Step::Perf(_) => Duration::MAX,
                Step::Generate(_) | Step::Chat(_) => test.timeout.saturating_add(STREAM_GRACE),
                _ => test.timeout,
            };
            let step =
                tokio::time::timeout(limit, self.run_step(suite, transport, test, &progress, gpu.clone()));
            tokio::pin!(step);
            let control = &self.opts.control;
            // A perf loop obeys a stop itself and keeps what it measured; any other step is
            // dropped where it stands (an exec step's process group is killed with it).
            let perf = matches!(test.step, Step::Perf(_));
            // Progress (pull downloads) reaches the reporters while the step runs.
            let outcome = loop {
                tokio::select! {
                    outcome = &mut step => break Some(outcome),
                    () = control.stopped(), if !perf => break None,
                    Some(u) = updates.recv() => {
                        emit(&Event::Progress { name: &test.name, done: u.done, total: u.total, unit: u.unit });
                    }
                }
            };
            let outcome = match (outcome, control.reason()) {
                (None, reason) => Ok(Err(StepError {
                    kind: FailureKind::Interrupted,
                    message: format!(
                        "{} after {}: the step did not finish",
                        reason.map_or("stopped".to_string(), ToString::to_string),
                        crate::suite::values::format_seconds(attempt_started.elapsed().as_secs_f64())
                    ),
                    detail: step_summary(&test.step, &suite.target.url),
                })),
                (Some(o), _) => o,
            };
            let outcome = outcome.unwrap_or_else(|_| {
                Err(StepError {
                    kind: FailureKind::Timeout,
                    message: format!(
                        "timed out after {} (the step timeout, set by {}): the server did not finish \
                         answering in time",
                        humantime::format_duration(test.timeout),
                        test.timeout_source
                    ),
                    detail: step_summary(&test.step, &suite.target.url),
                })
            });
            let (passed, message, kind) = match outcome {
                Ok(obs) => {
                    let mut assertions = (self.check)(test, &obs);
                    let (verdicts, got) = capture::extract(&test.capture, &obs);
                    assertions.extend(verdicts);
                    // A secret captured here is masked in this very result too.
                    if got.iter().any(|c| c.secret) {
                        let mut all = suite_secrets.to_vec();
                        all.extend(got.iter().filter(|c| c.secret).map(|c| c.value.clone()));
                        redactor = std::borrow::Cow::Owned(Redactor::new(all));
                    }
                    captured = got;
                    for a in &mut assertions {
                        a.at = a.key.as_ref().and_then(|k| test.places.get(k)).cloned();
                    }
                    let failures: Vec<String> =
                        assertions.iter().filter(|a| !a.passed).filter_map(|a| a.message.clone()).collect();
                    result.detail.clear();
                    let mut kept = redactor.observation(&obs);
                    kept.trim_for_report(record::REPORT_TEXT);
                    result.observation = Some(kept);
                    result.assertions = assertions
                        .into_iter()
                        .map(|mut a| {
                            a.message = a.message.map(|m| redactor.text(&m));
                            a.expected = a.expected.map(|m| redactor.text(&m));
                            a.actual = a.actual.map(|m| redactor.text(&m));
                            a
                        })
                        .collect();
                    // A stream the timeout cut is a timeout, with what it measured kept.
                    let kind = match &obs {
                        Observation::Llm(l) if l.timed_out => FailureKind::Timeout,
                        _ => FailureKind::Assertion,
                    };
                    if failures.is_empty() {
                        (true, None, None)
                    } else {
                        (false, Some(redactor.text(&failures.join("\n"))), Some(kind))
                    }
                }
                Err(e) => {
                    result.detail = redactor.text(&e.detail);
                    result.observation = None;
                    result.assertions.clear();
                    (false, Some(redactor.text(&e.message)), Some(e.kind))
                }
            };
            result.attempts.push(Attempt {
                number,
                duration: attempt_started.elapsed(),
                passed,
                message: message.clone(),
            });
            result.message = message;
            result.failure_kind = kind;
            result.status = if passed { Status::Passed } else { Status::Failed };
            if let (true, Some(reason)) = (perf, control.reason()) {
                let measured = match &result.observation {
                    Some(Observation::Perf(p)) => p.levels.iter().map(|l| l.requests).sum(),
                    _ => 0,
                };
                let message = format!(
                    "{reason}: the perf loop stopped after {measured} measured requests; its figures \
                     cover those"
                );
                result.attempts.last_mut().expect("an attempt was recorded").message = Some(message.clone());
                result.message = Some(message);
                result.failure_kind = Some(FailureKind::Interrupted);
                result.status = Status::Failed;
            }
            if passed || control.is_stopped() {
                break;
            }
            if number <= test.retries {
                tokio::select! {
                    () = tokio::time::sleep(test.retry_delay) => {}
                    () = control.stopped() => break,
                }
            }
        }
        // An optional gpu check on a machine without the driver is skipped, with the reason.
        if let (Step::Gpu(g), Some(Observation::Gpu(o))) = (&test.step, &result.observation)
            && g.optional
            && let Some(e) = &o.error
        {
            result.status = Status::Skipped;
            result.message = Some(e.clone());
            result.failure_kind = None;
        }
        if result.attempts.len() > 1 && result.status == Status::Failed {
            let n = result.attempts.len();
            result.message = result.message.map(|m| format!("{m}\n(failed on all {n} attempts)"));
        }
        result.duration = started.elapsed();
        // Values count only from a passed test (a failed one may have captured an error page).
        if result.status != Status::Passed {
            captured.clear();
        }
        (result, captured)
    }

    async fn run_step(
        &self,
        suite: &SuitePlan,
        transport: &std::sync::Arc<transport::Transport>,
        test: &PlannedTest,
        progress: &lifecycle::Progress,
        gpu_source: Option<Result<std::sync::Arc<dyn crate::gpu::GpuSource>, String>>,
    ) -> Result<Observation, StepError> {
        let base = suite.target.url.as_str();
        let endpoint = endpoint::Endpoint::of(suite);
        let proto = |api: Option<crate::suite::Api>| protocol::for_api(api.unwrap_or(suite.target.api));
        let t = transport.as_ref();
        let limits = self.opts.limits;
        match &test.step {
            Step::Http(h) => http::run(t, h, base, &suite.headers).await.map(Observation::Http),
            Step::Tcp(t) => tcp::run(t, base).await.map(Observation::Tcp),
            Step::Exec(e) => exec::run(e, &suite.base_dir, limits).await.map(Observation::Exec),
            Step::Generate(_) | Step::Chat(_) => {
                let call = LlmCall::of_step(&test.step).expect("a generate or chat step");
                let deadline =
                    tokio::time::Instant::now().checked_add(test.timeout).map(|at| (at, test.timeout));
                let waits = llm::Waits { chunk: call.chunk_timeout(), deadline };
                let req = llm::Request { endpoint, waits };
                let sampler = match &gpu_source {
                    Some(Ok(source)) => Some(crate::gpu::sampler::Sampler::start(
                        std::sync::Arc::clone(source),
                        crate::gpu::sampler::MIN_INTERVAL,
                        Some(test.name.clone()),
                    )),
                    _ => None,
                };
                let mut o = llm::run_repeated(t, proto(call.api()), call, &req).await?;
                if let Some(sampler) = sampler {
                    let (samples, error) = sampler.stop().await;
                    o.gpu = crate::gpu::sampler::figures(&samples);
                    o.gpu_error = error;
                } else if let Some(Err(e)) = gpu_source {
                    o.gpu_error = Some(e);
                }
                Ok(Observation::Llm(Box::new(o)))
            }
            Step::Pull(p) => {
                lifecycle::pull(t, proto(None), p, endpoint, progress).await.map(Observation::Pull)
            }
            Step::Models(m) => lifecycle::models(t, proto(m.api), m, endpoint).await.map(Observation::Models),
            Step::Unload(u) => lifecycle::unload(t, proto(None), u, endpoint).await.map(Observation::Http),
            Step::Embed(e) => embed::run(t, proto(e.api), e, endpoint).await.map(Observation::Embed),
            Step::Perf(p) => {
                let ctx = perf::PerfContext {
                    transport: std::sync::Arc::clone(transport),
                    suite: std::sync::Arc::new(suite.clone()),
                    request_timeout: test.timeout,
                    progress: progress.clone(),
                    test: test.name.clone(),
                    csv: test.perf_csv.clone(),
                    samples_file: test.samples_file.clone(),
                    control: self.opts.control.clone(),
                    gpu: gpu_source
                        .and_then(Result::ok)
                        .map(|s| (s, p.gpu_interval.unwrap_or(self.opts.gpu_interval))),
                };
                perf::run(ctx, p).await.map(|o| Observation::Perf(Box::new(o)))
            }
            Step::Gpu(g) => {
                let source = gpu_source.unwrap_or_else(|| Err("no GPU source".to_string()));
                Ok(Observation::Gpu(gpu::run(g, source)))
            }
        }
    }
}

/// A result before the test ran: skipped, with no message yet.
fn blank_result(suite: &SuitePlan, test: &PlannedTest) -> TestResult {
    TestResult {
        suite: suite.name.clone(),
        name: test.name.clone(),
        tags: test.tags.clone(),
        description: test.description.clone(),
        location: test.location.clone(),
        params: test.params.clone(),
        step: test.step.kind().to_string(),
        status: Status::Skipped,
        message: None,
        failure_kind: None,
        started_at: Utc::now(),
        duration: Duration::ZERO,
        attempts: Vec::new(),
        assertions: Vec::new(),
        detail: String::new(),
        observation: None,
    }
}

/// A test the run did not reach before it was stopped: listed, skipped, with the reason.
fn not_run(
    suite: &SuitePlan,
    test: &PlannedTest,
    redactor: &Redactor,
    reason: &control::StopReason,
) -> TestResult {
    let mut result = blank_result(suite, test);
    result.message = Some(redactor.text(&format!("not run: {reason}")));
    result
}

/// What the step was doing, for a timeout's report (there is no observation to show).
fn step_summary(step: &Step, base: &str) -> String {
    match step {
        Step::Http(h) => {
            let url = h.url.clone().unwrap_or_else(|| http::join_url(base, h.path.as_deref().unwrap_or("")));
            format!("{} {url}", h.method_name())
        }
        Step::Tcp(t) => format!(
            "connect {}:{}",
            t.host.as_deref().unwrap_or("(target host)"),
            t.port.map_or("(target port)".to_string(), |p| p.to_string())
        ),
        Step::Exec(e) => format!("$ {}", e.command.join(" ")),
        Step::Embed(e) => format!("embed with {}", e.model),
        Step::Generate(g) => format!("generate with {}", g.model),
        Step::Chat(c) => format!("chat with {}", c.model),
        Step::Pull(p) => format!("pull {}", p.model),
        Step::Models(_) => "list models".to_string(),
        Step::Unload(u) => format!("unload {}", u.model),
        Step::Perf(_) => "perf loop".to_string(),
        Step::Gpu(_) => "read GPUs through NVML".to_string(),
    }
}
