//! One step of a test run to its observation (`Executor::run_step`: each step kind's runner
//! under the suite's endpoint and limits), and the result records made around it: a blank
//! result, one not run, the request line or command said when no observation came, and the
//! cause several failed tests share.

use super::redact::Redactor;
use super::{Executor, control, embed, endpoint, exec, gpu, http, lifecycle, llm, perf, tcp, transport};
use crate::plan::{PlannedTest, SuitePlan};
use crate::protocol::{self, LlmCall};
use crate::record::{self, FailureKind, Observation, Status, StepError, TestResult};
use crate::suite::Step;
use chrono::Utc;
use std::time::Duration;

impl Executor {
    pub(super) async fn run_step(
        &self,
        suite: &SuitePlan,
        transport: &std::sync::Arc<transport::Transport>,
        test: &PlannedTest,
        progress: &lifecycle::Progress,
        gpu_source: Option<Result<crate::gpu::Source, String>>,
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
                let waits = llm::Waits::of(&test.deadline, call.chunk_timeout());
                let req = llm::Request { endpoint, waits };
                let sampler = match &gpu_source {
                    Some(Ok(source)) => Some(crate::gpu::sampler::Sampler::start(
                        source.clone(),
                        crate::gpu::sampler::MIN_INTERVAL,
                        Some(test.name.clone()),
                    )),
                    _ => None,
                };
                let mut o = llm::run_repeated(t, proto(call.api()), call, &req).await?;
                t.model_lists.check(t, proto(call.api()), endpoint, &mut o).await;
                if let Some(sampler) = sampler {
                    let (samples, error) = sampler.stop().await;
                    o.gpu = crate::gpu::sampler::figures(&samples);
                    o.gpu_error = error;
                } else if let Some(Err(e)) = gpu_source {
                    o.gpu_error = Some(e);
                }
                // `expect.similar`: the answer and its reference embedded together, after the
                // answer's own figures (and its GPU samples) are taken.
                if let Some(similar) = test.expect.similar.as_deref()
                    && (200..300).contains(&o.status)
                {
                    o.similarity = Some(similarity(t, proto(similar.api), endpoint, similar, &o.text).await);
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
                    deadline: test.deadline.clone(),
                    progress: progress.clone(),
                    test: test.name.clone(),
                    csv: test.perf_csv.clone(),
                    samples_file: test.samples_file.clone(),
                    control: self.opts.control.clone(),
                    secrets: self.opts.secrets.clone(),
                    gpu: gpu_source
                        .and_then(Result::ok)
                        .map(|s| (s, p.gpu_interval.unwrap_or(self.opts.gpu_interval))),
                };
                perf::run(ctx, p).await.map(|o| Observation::Perf(Box::new(o)))
            }
            Step::Gpu(g) => {
                let source = gpu_source.unwrap_or_else(|| Err("no GPU source".to_string()));
                Ok(Observation::Gpu(gpu::run(g, source).await))
            }
        }
    }
}

/// The cosine similarity of `answer` and `similar.to` by `similar.model`, or why there is none.
async fn similarity(
    t: &transport::Transport,
    proto: &dyn protocol::Protocol,
    endpoint: endpoint::Endpoint<'_>,
    similar: &crate::suite::expect::Similar,
    answer: &str,
) -> record::Similarity {
    let step = crate::suite::embed::EmbedStep {
        model: similar.model.clone(),
        input: crate::suite::embed::Input::Many(vec![answer.to_string(), similar.to.clone()]),
        dimensions: None,
        api: similar.api,
    };
    let (value, error) = match embed::run(t, proto, &step, endpoint).await {
        Ok(o) => match (o.similarity(0, 1), o.error) {
            (Some(v), _) => (Some(v), None),
            (None, Some(e)) => (None, Some(format!("the embedding model answered {}: {e}", o.status))),
            (None, None) => {
                (None, Some(format!("{} vectors came back for the answer and its reference", o.count)))
            }
        },
        Err(e) => (None, Some(e.message)),
    };
    record::Similarity { model: similar.model.clone(), to: similar.to.clone(), value, error }
}

/// What stopped this attempt's requests, when that failed it: a connection that could not be
/// made or broke (every attempt's request counted), or a perf loop none of whose requests
/// succeeded (its first error, every failed request counted).
pub(super) fn cause_of(
    result: &TestResult,
    kind: Option<&FailureKind>,
    message: Option<&str>,
) -> Option<record::Cause> {
    let before = result.cause.as_ref().map_or(0, |c| c.requests);
    match (&result.observation, kind) {
        (Some(Observation::Perf(p)), Some(_)) => {
            let (ok, errors) = p
                .levels
                .iter()
                .fold((0, 0), |(ok, errors), l| (ok + l.requests - l.errors, errors + l.errors));
            let first = p.levels.iter().find_map(|l| l.first_error())?;
            (ok == 0 && errors > 0)
                .then(|| record::Cause { text: first.to_string(), requests: before + errors as u64 })
        }
        (None, Some(FailureKind::Connection)) => {
            message.map(|m| record::Cause { text: m.to_string(), requests: before + 1 })
        }
        _ => None,
    }
}

/// A refused connection, in the same words for every step and request that meets it (the
/// server, never the path: the reports group the tests a down server failed by this text).
pub(crate) fn refused(server: &str) -> String {
    format!("connection refused by {server}: is the server running and listening on that port?")
}

/// A result before the test ran: skipped, with no message yet.
pub(super) fn blank_result(suite: &SuitePlan, test: &PlannedTest) -> TestResult {
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
        cause: None,
        started_at: Utc::now(),
        duration: Duration::ZERO,
        attempts: Vec::new(),
        assertions: Vec::new(),
        detail: String::new(),
        observation: None,
        gate: test.gate.as_ref().map(|g| g.name.clone()),
        pass_rate: None,
    }
}

/// A test the run did not reach before it was stopped: listed, skipped, with the reason.
pub(super) fn not_run(
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
pub(super) fn step_summary(step: &Step, base: &str) -> String {
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
