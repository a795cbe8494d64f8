//! Stage 3, execute: runs planned tests in order, each step under its timeout, with retries,
//! and hands every event to the reporters. A failing or hanging server costs one failed test;
//! the run goes on.

pub mod detail;
pub mod exec;
pub mod h1;
pub mod http;
pub mod lifecycle;
pub mod llm;
pub mod perf;
pub mod record;
pub mod redact;
pub mod tcp;

use crate::assert;
use crate::plan::{PlannedTest, SuitePlan};
use crate::protocol::{self, LlmCall};
use crate::report::{Event, Reporters};
use crate::spec::Step;
use chrono::Utc;
use record::{Attempt, FailureKind, Observation, RunRecord, Status, StepError, SuiteRecord, TestResult};
use redact::Redactor;
use std::time::{Duration, Instant};

/// Runs suites; owns the connection pool shared by all steps.
pub struct Executor {
    client: reqwest::Client,
}

impl Executor {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .user_agent(concat!("hxrun/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client configuration is static and valid");
        Executor { client }
    }

    /// Runs every suite of the plan and returns the whole record.
    pub async fn run(&self, plans: &[SuitePlan], reporters: &mut Reporters) -> RunRecord {
        let started_at = Utc::now();
        let started = Instant::now();
        let total = plans.iter().map(|p| p.tests.len()).sum();
        reporters.emit(&Event::RunStarted { total });
        let mut suites = Vec::new();
        for plan in plans {
            let suite_started_at = Utc::now();
            let suite_started = Instant::now();
            let redactor = Redactor::new(plan.secret_values.iter().cloned()).with_headers(&plan.headers);
            let target = redactor.text(&plan.target.url);
            reporters.emit(&Event::SuiteStarted {
                name: &plan.name,
                tests: plan.tests.len(),
                target: &target,
            });
            let mut tests = Vec::new();
            for test in &plan.tests {
                reporters.emit(&Event::TestStarted { suite: &plan.name, name: &test.name });
                let result = self.run_test(plan, test, &redactor, reporters).await;
                reporters.emit(&Event::TestFinished { result: &result });
                tests.push(result);
            }
            let record = SuiteRecord {
                name: plan.name.clone(),
                file: plan.file.clone(),
                target,
                started_at: suite_started_at,
                duration: suite_started.elapsed(),
                tests,
            };
            reporters.emit(&Event::SuiteFinished { record: &record });
            suites.push(record);
        }
        let record = RunRecord {
            hxrun_version: env!("CARGO_PKG_VERSION"),
            started_at,
            duration: started.elapsed(),
            suites,
        };
        reporters.emit(&Event::RunFinished { record: &record });
        record
    }

    async fn run_test(
        &self,
        suite: &SuitePlan,
        test: &PlannedTest,
        suite_redactor: &Redactor,
        reporters: &mut Reporters,
    ) -> TestResult {
        let started_at = Utc::now();
        let started = Instant::now();
        let mut result = TestResult {
            suite: suite.name.clone(),
            name: test.name.clone(),
            tags: test.tags.clone(),
            location: test.location.clone(),
            params: test.params.clone(),
            step: test.step.kind(),
            status: Status::Skipped,
            message: None,
            failure_kind: None,
            started_at,
            duration: Duration::ZERO,
            attempts: Vec::new(),
            assertions: Vec::new(),
            detail: String::new(),
            observation: None,
        };
        if let Some(reason) = &test.skip {
            result.message = Some(reason.clone());
            return result;
        }
        let redactor = match &test.step {
            Step::Http(h) => suite_redactor.clone().with_headers(&h.headers),
            _ => suite_redactor.clone(),
        };
        for number in 1..=test.retries + 1 {
            let attempt_started = Instant::now();
            let (progress, mut updates) = tokio::sync::mpsc::unbounded_channel();
            // A perf loop runs as long as its iterations take; its timeout is per request.
            let limit = if matches!(test.step, Step::Perf(_)) { Duration::MAX } else { test.timeout };
            let step = tokio::time::timeout(limit, self.run_step(suite, test, &progress));
            tokio::pin!(step);
            // Progress (pull downloads) reaches the reporters while the step runs.
            let outcome = loop {
                tokio::select! {
                    outcome = &mut step => break outcome,
                    Some(u) = updates.recv() => {
                        reporters.emit(&Event::Progress { name: &test.name, done: u.done, total: u.total, unit: u.unit });
                    }
                }
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
                    let assertions = assert::check(test, &obs);
                    let failures: Vec<String> =
                        assertions.iter().filter(|a| !a.passed).filter_map(|a| a.message.clone()).collect();
                    result.detail = redactor.text(&detail::describe(&obs));
                    result.observation = Some(redactor.observation(&obs));
                    result.assertions = assertions
                        .into_iter()
                        .map(|mut a| {
                            a.message = a.message.map(|m| redactor.text(&m));
                            a
                        })
                        .collect();
                    if failures.is_empty() {
                        (true, None, None)
                    } else {
                        (false, Some(redactor.text(&failures.join("\n"))), Some(FailureKind::Assertion))
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
            if passed {
                break;
            }
            if number <= test.retries {
                tokio::time::sleep(test.retry_delay).await;
            }
        }
        if result.attempts.len() > 1 && result.status == Status::Failed {
            let n = result.attempts.len();
            result.message = result.message.map(|m| format!("{m}\n(failed on all {n} attempts)"));
        }
        result.duration = started.elapsed();
        result
    }

    async fn run_step(
        &self,
        suite: &SuitePlan,
        test: &PlannedTest,
        progress: &lifecycle::Progress,
    ) -> Result<Observation, StepError> {
        let base = suite.target.url.as_str();
        let key = suite.target.api_key.as_deref().filter(|k| !k.is_empty());
        let proto = |api: Option<crate::spec::Api>| protocol::for_api(api.unwrap_or(suite.target.api));
        let c = &self.client;
        match &test.step {
            Step::Http(h) => http::run(c, h, base, &suite.headers).await.map(Observation::Http),
            Step::Tcp(t) => tcp::run(t, base).await.map(Observation::Tcp),
            Step::Exec(e) => exec::run(e, &suite.base_dir).await.map(Observation::Exec),
            Step::Generate(g) => {
                let req = llm::Request { base_url: base, api_key: key, chunk_timeout: g.chunk_timeout };
                llm::run(c, proto(g.api), LlmCall::Generate(g), &req)
                    .await
                    .map(|o| Observation::Llm(Box::new(o)))
            }
            Step::Chat(ch) => {
                let req = llm::Request { base_url: base, api_key: key, chunk_timeout: ch.chunk_timeout };
                llm::run(c, proto(ch.api), LlmCall::Chat(ch), &req)
                    .await
                    .map(|o| Observation::Llm(Box::new(o)))
            }
            Step::Pull(p) => lifecycle::pull(c, proto(None), p, base, progress).await.map(Observation::Pull),
            Step::Models(m) => {
                lifecycle::models(c, proto(m.api), m, base, key).await.map(Observation::Models)
            }
            Step::Unload(u) => lifecycle::unload(c, u, base).await.map(Observation::Http),
            Step::Perf(p) => {
                let ctx = perf::PerfContext {
                    client: c.clone(),
                    suite: std::sync::Arc::new(suite.clone()),
                    request_timeout: test.timeout,
                    progress: progress.clone(),
                };
                perf::run(ctx, p).await.map(|o| Observation::Perf(Box::new(o)))
            }
        }
    }
}

impl Default for Executor {
    fn default() -> Self {
        Self::new()
    }
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
        Step::Generate(g) => format!("generate with {}", g.model),
        Step::Chat(c) => format!("chat with {}", c.model),
        Step::Pull(p) => format!("pull {}", p.model),
        Step::Models(_) => "list models".to_string(),
        Step::Unload(u) => format!("unload {}", u.model),
        Step::Perf(_) => "perf loop".to_string(),
    }
}
