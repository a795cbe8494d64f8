//! Stage 3, execute: runs planned tests in order, each step under its timeout, with retries,
//! and hands every event to a callback it does not own (the reporters). A failing or hanging server costs one failed test;
//! the run goes on.

mod capture;
pub(crate) mod control;
pub(crate) mod embed;
pub(crate) mod endpoint;
pub(crate) mod exec;
mod gates;
pub(crate) mod gpu;
pub(crate) mod h1;
pub(crate) mod http;
pub(crate) mod lifecycle;
mod listed;
pub(crate) mod llm;
pub(crate) mod perf;
mod prompts;
pub(crate) mod redact;
mod step;
pub(crate) mod tcp;
pub(crate) mod transport;

use crate::gpu::sampler::Sampler;
use crate::plan::deadline::Under;
use crate::plan::{PlannedTest, SuitePlan};

use crate::record::{
    self, Attempt, FailureKind, Observation, RunRecord, Status, StepError, SuiteRecord, TestResult,
};
use crate::record::{AssertionResult, Event};
use crate::suite::Step;
use chrono::Utc;
use control::RunControl;
use redact::Redactor;
use std::time::{Duration, Instant};
pub(crate) use step::refused;
use step::{blank_result, cause_of, not_run, step_summary};

/// `d` after `t`; a wait too long to add (`timeout: 400000000000y`) is thirty years, which is
/// as good as forever and cannot overflow the clock.
pub(crate) fn after(t: tokio::time::Instant, d: Duration) -> tokio::time::Instant {
    t.checked_add(d).unwrap_or_else(|| t + Duration::from_secs(30 * 365 * 86_400))
}

/// Where the executor's events go: a callback it does not own (the reporters, in `hxrun run`).
pub(crate) type Emit<'a> = dyn FnMut(&Event) + 'a;

/// The same, shared by the tests that run at once (events go out one at a time).
type Say<'a> = dyn Fn(&Event) + 'a;

/// What every suite of a run shares.
struct RunCtx<'a> {
    /// `--gpu-sample`: one sampler per GPU source the run's targets read.
    samplers: &'a [Sampler],
    /// One per test that may run at once (`--jobs`).
    slots: &'a tokio::sync::Semaphore,
    jobs: usize,
    say: &'a Say<'a>,
}

/// A suite's redactor (the run's secrets) and captures so far.
struct SuiteState {
    redactor: Redactor,
    captured: std::collections::BTreeMap<String, String>,
}

impl SuiteState {
    /// Takes what a test captured: its values for later tests (its secrets joined the run's
    /// registry when they were captured).
    fn learn(&mut self, got: Vec<capture::Captured>) {
        self.captured.extend(got.into_iter().map(|c| (c.name, c.value)));
    }
}

/// Whether a test must run with nothing else at once: it measures (perf), depends on or
/// feeds another (captures), or changes the host or the server (exec, pull, unload).
fn runs_alone(t: &PlannedTest) -> bool {
    matches!(t.step, Step::Perf(_) | Step::Exec(_) | Step::Pull(_) | Step::Unload(_))
        || !t.capture.is_empty()
        || !t.captures_used.is_empty()
}

/// Judges an observation against a test's expectations (`assert::check`, given by the caller:
/// the executor runs steps, the assert stage decides).
pub(crate) type Checker = fn(&PlannedTest, &Observation) -> Vec<AssertionResult>;

/// Runs suites; owns the transport (clients and connections) shared by all steps.
pub(crate) struct Executor {
    transport: std::sync::Arc<transport::Transport>,
    opts: ExecutorOptions,
    gpu: gpu::GpuHandle,
    check: Checker,
    gate: gates::GateJudge,
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
    /// Tests that may run at once (`--jobs`); 1 runs them one after another.
    pub(crate) jobs: usize,
    /// Tests of one fleet server that may run at once (`--jobs-per-target`, default 1).
    pub(crate) jobs_per_target: usize,
    /// The run's secrets, shared with the reporters: the executor adds each suite's and each
    /// secret capture.
    pub(crate) secrets: crate::mask::Secrets,
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
            jobs: 1,
            jobs_per_target: 1,
            secrets: crate::mask::Secrets::default(),
        }
    }
}

impl Executor {
    pub(crate) fn new(opts: ExecutorOptions, check: Checker, gate: gates::GateJudge) -> Self {
        let transport = std::sync::Arc::new(transport::Transport::new(opts.limits));
        Executor { transport, opts, gpu: gpu::GpuHandle::default(), check, gate }
    }

    /// Runs every suite of the plan and returns the whole record.
    ///
    /// With `jobs` above 1, up to that many tests run at once: suites (a fleet's servers)
    /// side by side, and within a suite the tests that depend on nothing (a fleet's server:
    /// one test at a time, or `jobs_per_target`). A test that must
    /// run alone waits for the others and holds every slot: a perf test (it measures), one
    /// that captures or uses captures (order matters), and `exec`, `pull` and `unload`
    /// (they change the host or the server). Results keep the plan's order.
    pub(crate) async fn run(&self, plans: &[SuitePlan], emit: &mut Emit<'_>) -> RunRecord {
        let started_at = Utc::now();
        let started = Instant::now();
        let total = plans.iter().map(|p| p.tests.len()).sum();
        emit(&Event::RunStarted { total });
        let emit = std::cell::RefCell::new(emit);
        let say: &Say<'_> = &|event| (emit.borrow_mut())(event);
        let mut run_samplers = Vec::new();
        if self.opts.gpu_sample {
            // Tagged with the first test from the start: its first sample may come before the
            // loop below says which test runs.
            let first = plans.iter().flat_map(|p| p.tests.first()).next().map(|t| t.name.clone());
            let mut endpoints: Vec<Option<&str>> =
                plans.iter().map(|p| p.target.gpu_metrics.as_deref()).collect();
            endpoints.sort_unstable();
            endpoints.dedup();
            for endpoint in endpoints {
                if let Ok(source) = self.gpu.get(endpoint, say) {
                    run_samplers.push(Sampler::start(source, self.opts.gpu_interval, first.clone()));
                }
            }
        }
        let jobs = self.opts.jobs.max(1);
        let slots = tokio::sync::Semaphore::new(jobs);
        let ctx = RunCtx { samplers: &run_samplers, slots: &slots, jobs, say };
        use futures_util::StreamExt;
        let done: Vec<(SuiteRecord, Vec<String>)> = futures_util::stream::iter(plans)
            .map(|plan| self.run_suite(plan, &ctx))
            .buffered(jobs)
            .collect()
            .await;
        let mut suites = Vec::new();
        let mut warnings = Vec::new();
        for (record, said) in done {
            suites.push(record);
            warnings.extend(said);
        }
        let mut gpu_samples = Vec::new();
        for sampler in run_samplers {
            let (samples, error) = sampler.stop().await;
            gpu_samples.extend(samples);
            if let Some(e) = error {
                say(&Event::Note { message: format!("GPU sampling: {e}") });
            }
        }
        gpu_samples.sort_by_key(|s| s.timestamp);
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
        say(&Event::RunFinished { record: &record });
        record
    }

    /// One suite: its tests in order, those that depend on nothing several at once.
    async fn run_suite(&self, plan: &SuitePlan, ctx: &RunCtx<'_>) -> (SuiteRecord, Vec<String>) {
        let say = ctx.say;
        let mut warnings = Vec::new();
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
            say(&Event::Note { message: warning.clone() });
            warnings.push(warning);
        }
        // The run's registry has this suite's secrets (whoever made the executor may not have
        // put them there), and grows as tests capture more (`secret: true`).
        self.opts.secrets.add(plan.secrets());
        let mut state =
            SuiteState { redactor: Redactor::new(self.opts.secrets.clone()), captured: Default::default() };
        let target = state.redactor.text(&plan.target.url);
        say(&Event::SuiteStarted { name: &plan.name, tests: plan.tests.len(), target: &target });
        let mut tests = Vec::new();
        // A fleet's server answers one test at a time unless asked (its timings would mix);
        // the servers themselves go side by side.
        let within = if plan.host.is_some() { self.opts.jobs_per_target.max(1) } else { ctx.jobs };
        let mut rest = plan.tests.as_slice();
        while let Some(first) = rest.first() {
            // The longest run of tests that may go side by side (one, when it must run alone).
            let n = if within > 1 && !runs_alone(first) {
                rest.iter().take_while(|t| !runs_alone(t)).count()
            } else {
                1
            };
            let (group, later) = rest.split_at(n);
            rest = later;
            if n == 1 {
                let permits = if runs_alone(first) { ctx.jobs } else { 1 };
                let _slot = ctx.slots.acquire_many(permits as u32).await;
                let (result, got) = self.run_one(plan, first, &transport, &state, ctx).await;
                state.learn(got);
                tests.push(self.finished(result, say));
                continue;
            }
            use futures_util::StreamExt;
            let state = &state;
            let transport = &transport;
            let mut results = futures_util::stream::iter(group)
                .map(|test| async move {
                    let _slot = ctx.slots.acquire().await;
                    self.run_one(plan, test, transport, state, ctx).await.0
                })
                .buffered(within);
            while let Some(result) = results.next().await {
                tests.push(self.finished(result, say));
            }
        }
        // A gate's cases were said one by one; the gate is said when its last case is in.
        let tests = gates::gather(plan, tests, self.gate, &mut |gate| self.finished(gate, say));
        let record = SuiteRecord {
            name: plan.name.clone(),
            description: plan.description.clone(),
            file: plan.file.clone(),
            target,
            host: plan.host.clone(),
            simulated: false,
            started_at: suite_started_at,
            duration: suite_started.elapsed(),
            tests,
        };
        say(&Event::SuiteFinished { record: &record });
        (record, warnings)
    }

    /// Says a test finished; stops the run after it with `--fail-fast`.
    fn finished(&self, result: TestResult, say: &Say<'_>) -> TestResult {
        say(&Event::TestFinished { result: &result });
        // A gate's case that fails fails its gate, not the run.
        if self.opts.fail_fast && result.status == Status::Failed && !result.missed() {
            self.opts.control.stop(control::StopReason::FailFast(result.name.clone()));
        }
        result
    }

    /// One test, or why it did not run (the run stopped, its suite's TLS files, a capture it
    /// needs); what it captured.
    async fn run_one(
        &self,
        plan: &SuitePlan,
        test: &PlannedTest,
        transport: &Result<std::sync::Arc<transport::Transport>, String>,
        state: &SuiteState,
        ctx: &RunCtx<'_>,
    ) -> (TestResult, Vec<capture::Captured>) {
        (ctx.say)(&Event::TestStarted { name: &test.name });
        for s in ctx.samplers {
            s.set_tag(Some(test.name.clone()));
        }
        let redactor = &state.redactor;
        match (self.opts.control.reason(), capture::fill(test, &state.captured)) {
            (Some(reason), _) => (not_run(plan, test, redactor, reason), Vec::new()),
            (None, _) if transport.is_err() => {
                let mut result = blank_result(plan, test);
                result.status = Status::Failed;
                result.failure_kind = Some(FailureKind::Connection);
                let why = redactor.text(&transport.as_ref().err().cloned().unwrap_or_default());
                result.cause = Some(record::Cause { text: why.clone(), requests: 0 });
                result.message = Some(format!("not run: {why}"));
                (result, Vec::new())
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
                    capture::Unfilled::Invalid(e) => format!("not run: with its captures filled in, {e}"),
                }));
                (result, Vec::new())
            }
            (None, Ok(filled)) => {
                let t = transport.as_ref().expect("checked above");
                self.run_test(plan, t, &filled, redactor, ctx.say).await
            }
        }
    }

    async fn run_test(
        &self,
        suite: &SuitePlan,
        transport: &std::sync::Arc<transport::Transport>,
        test: &PlannedTest,
        redactor: &Redactor,
        emit: &Say<'_>,
    ) -> (TestResult, Vec<capture::Captured>) {
        let started = Instant::now();
        let mut result = blank_result(suite, test);
        if let Some(reason) = &test.skip {
            result.message = Some(reason.clone());
            return (result, Vec::new());
        }
        let mut captured = Vec::new();
        let gpu_endpoint = suite.target.gpu_metrics.as_deref();
        let gpu = match &test.step {
            Step::Gpu(_) | Step::Perf(_) => Some(self.gpu.get(gpu_endpoint, emit)),
            // An LLM step samples the GPUs while it runs when its expectations name a figure.
            Step::Generate(_) | Step::Chat(_)
                if test.expect.metrics.keys().any(|k| k.starts_with("gpu.")) =>
            {
                Some(self.gpu.get(gpu_endpoint, emit))
            }
            _ => None,
        };
        for number in 1..=test.retries + 1 {
            let attempt_started = Instant::now();
            let (progress, mut updates) = tokio::sync::mpsc::unbounded_channel();
            // A perf loop runs as long as its iterations take (its timeout is per request); an
            // LLM step ends its own stream at the timeout, keeping what it measured, so the
            // outer limit only catches an answer that never began.
            let limit = test.deadline.step_limit(match test.step {
                Step::Perf(_) => Under::PerRequest,
                Step::Generate(_) | Step::Chat(_) => Under::Stream,
                _ => Under::Whole,
            });
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
            if let Some(note) = transport.model_lists.take_note() {
                emit(&Event::Note { message: redactor.text(&note) });
            }
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
                        "{}: the server did not finish answering in time",
                        test.deadline.ran_out(false)
                    ),
                    detail: step_summary(&test.step, &suite.target.url),
                })
            });
            let (passed, message, kind) = match outcome {
                Ok(obs) => {
                    let mut assertions = (self.check)(test, &obs);
                    let (verdicts, got) = capture::extract(&test.capture, &obs);
                    assertions.extend(verdicts);
                    // A secret captured here is masked in this very result too, and everywhere
                    // from now on (the run's registry), even if this test fails.
                    redactor.learn(got.iter().filter(|c| c.secret).map(|c| c.value.clone()));
                    captured = got;
                    for a in &mut assertions {
                        a.at = a.pos.map(|p| test.place(p));
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
            result.cause = cause_of(&result, kind.as_ref(), message.as_deref());
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
        if let Some(tail) = result.retry_summary() {
            result.message = result.message.map(|m| format!("{m}\n{tail}"));
        }
        result.duration = started.elapsed();
        // Values count only from a passed test (a failed one may have captured an error page).
        if result.status != Status::Passed {
            captured.clear();
        }
        (result, captured)
    }
}
