//! The run's vocabulary, below the stages that use it: what a step observed, each test's
//! result, the whole run's record, and the events the executor emits while it runs. The
//! executor makes these, assert judges observations, reporters render results; none of them
//! reaches into another to do it.

mod event;
mod source;
pub(crate) use event::Event;
pub(crate) use source::Source;

/// At most `max` characters of `s`, with a note when cut.
pub(crate) fn excerpt(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}… [{} more characters]", s.chars().count() - max)
    }
}

use crate::protocol::ServerFigures;
use crate::suite::Api;
use crate::suite::metrics::Metric;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What a step observed; assertions are evaluated against this.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Observation {
    Http(HttpObservation),
    Tcp(TcpObservation),
    Exec(ExecObservation),
    // Boxed: an LLM observation is several times larger than the others.
    Llm(Box<LlmObservation>),
    Pull(PullObservation),
    Models(ModelsObservation),
    Embed(EmbedObservation),
    Perf(Box<crate::perf::result::PerfObservation>),
    Gpu(GpuObservation),
}

impl Observation {
    /// Takes from `from` (the same observation) what report.json does not record: an embed's
    /// vectors, a perf step's elapsed time and its levels' samples files.
    pub(crate) fn keep_unrecorded(&mut self, from: &Observation) {
        match (self, from) {
            (Observation::Embed(e), Observation::Embed(f)) => e.vectors.clone_from(&f.vectors),
            (Observation::Perf(p), Observation::Perf(f)) => {
                p.elapsed = f.elapsed;
                for (l, fl) in p.levels.iter_mut().zip(&f.levels) {
                    l.file.clone_from(&fl.file);
                }
            }
            _ => {}
        }
    }
}

/// Bytes of a body, an answer or a command's output that a report keeps: assertions see all
/// that was read (up to --max-body), reports an excerpt this long, so report.json stays small
/// however large the answers.
pub(crate) const REPORT_TEXT: usize = 64 * 1024;

/// Cuts `s` to at most `max` bytes (at a character boundary), saying how much was left out.
fn trim_text(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let left = s.len() - end;
    s.truncate(end);
    s.push_str(&format!("…[{left} more bytes not kept in reports]"));
    true
}

impl Observation {
    /// Keeps reports small: long texts cut to `max` bytes. Call after secrets are masked, so
    /// a cut never leaves part of a secret behind.
    pub(crate) fn trim_for_report(&mut self, max: usize) {
        match self {
            Observation::Http(h) => h.body_truncated |= trim_text(&mut h.body, max),
            Observation::Exec(e) => {
                e.output_truncated |= trim_text(&mut e.stdout, max) | trim_text(&mut e.stderr, max);
            }
            Observation::Llm(l) => {
                trim_text(&mut l.text, max);
            }
            _ => {}
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        match self {
            Observation::Http(o) => o.elapsed,
            Observation::Tcp(o) => o.elapsed,
            Observation::Exec(o) => o.elapsed,
            Observation::Llm(o) => o.e2e,
            Observation::Pull(o) => o.elapsed,
            Observation::Models(o) => o.elapsed,
            Observation::Embed(o) => o.elapsed,
            Observation::Perf(o) => o.elapsed,
            Observation::Gpu(o) => o.elapsed,
        }
    }
}

/// What a generate or chat step measured. Definitions in `suite::metrics::LLM`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LlmObservation {
    pub(crate) api: Api,
    pub(crate) url: String,
    pub(crate) model: String,
    pub(crate) stream: bool,
    pub(crate) status: u16,
    /// The server's error text (an error status, or an error inside the stream).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    pub(crate) text: String,
    pub(crate) chunks: usize,
    #[serde(with = "opt_secs")]
    pub(crate) ttft: Option<Duration>,
    /// Gaps between successive content chunks.
    #[serde(with = "secs_list")]
    pub(crate) itl: Vec<Duration>,
    #[serde(with = "secs")]
    pub(crate) e2e: Duration,
    pub(crate) output_tokens: Option<u64>,
    /// Tokens that carried text (a stream): the server's count less an end-of-sequence token it
    /// counted but never sent (`eos_counted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) content_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) eos_counted: bool,
    pub(crate) client_tokens_per_s: Option<f64>,
    pub(crate) server_tokens_per_s: Option<f64>,
    pub(crate) server: ServerFigures,
    /// Broken stream rules: truncation, invalid chunks, stalls, data after the end...
    pub(crate) problems: Vec<crate::protocol::StreamProblem>,
    /// Every answer's text when the step asked more than once (`repeat`), in order; the other
    /// fields describe the last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) answers: Vec<String>,
    /// GPU figures sampled while the step ran (`gpu.memory_used.max`...), when its
    /// expectations name one; or why there are none.
    #[serde(
        default,
        skip_serializing_if = "std::collections::BTreeMap::is_empty",
        with = "crate::suite::metrics::by_name"
    )]
    pub(crate) gpu: crate::suite::metrics::Figures,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) gpu_error: Option<String>,
    /// The functions the answer called (chat with `tools`), arguments assembled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) tool_calls: Vec<ToolCall>,
    /// The step's timeout ended the stream; what arrived before is recorded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) timed_out: bool,
}

impl LlmObservation {
    /// An observation before anything was read.
    pub(crate) fn new(api: Api, url: &str, model: &str, stream: bool, status: u16) -> Self {
        LlmObservation {
            api,
            url: url.to_string(),
            model: model.to_string(),
            stream,
            status,
            error: None,
            text: String::new(),
            chunks: 0,
            ttft: None,
            itl: Vec::new(),
            e2e: Duration::ZERO,
            output_tokens: None,
            content_tokens: None,
            eos_counted: false,
            client_tokens_per_s: None,
            server_tokens_per_s: None,
            server: ServerFigures::default(),
            problems: Vec::new(),
            answers: Vec::new(),
            gpu: Default::default(),
            gpu_error: None,
            tool_calls: Vec::new(),
            timed_out: false,
        }
    }

    /// A recorded figure of an `expect.metrics` check (durations in seconds); None when this
    /// answer did not record it.
    pub(crate) fn metric(&self, metric: Metric) -> Option<serde_json::Value> {
        use serde_json::Value;
        let secs = |d: Duration| Value::from(d.as_secs_f64());
        let ns = |n: Option<u64>| n.map(|n| Value::from(n as f64 / 1e9));
        let s = &self.server;
        match metric {
            Metric::Ttft => self.ttft.map(secs),
            Metric::E2e => Some(secs(self.e2e)),
            Metric::ItlMean if !self.itl.is_empty() => {
                Some(secs(self.itl.iter().sum::<Duration>() / self.itl.len() as u32))
            }
            Metric::ItlMax => self.itl.iter().max().copied().map(secs),
            Metric::Chunks if self.stream => Some(self.chunks.into()),
            Metric::OutputTokens => self.output_tokens.map(Value::from),
            Metric::ContentTokens => self.content_tokens.map(Value::from),
            Metric::TokensPerS => self.client_tokens_per_s.map(Value::from),
            Metric::ServerTokensPerS => self.server_tokens_per_s.map(Value::from),
            Metric::EvalCount => s.eval_count.map(Value::from),
            Metric::EvalDuration => ns(s.eval_duration_ns),
            Metric::PromptEvalCount => s.prompt_eval_count.map(Value::from),
            Metric::PromptEvalDuration => ns(s.prompt_eval_duration_ns),
            Metric::LoadDuration => ns(s.load_duration_ns),
            Metric::TotalDuration => ns(s.total_duration_ns),
            Metric::PromptTokens => s.prompt_tokens.map(Value::from),
            Metric::CompletionTokens => s.completion_tokens.map(Value::from),
            Metric::DoneReason => s.done_reason.clone().map(Value::from),
            m if m.is_gpu() => self.gpu.get(&crate::suite::metrics::Figure::of(m)).copied().map(Value::from),
            // Not recorded by an answer (a perf figure), or not in this mode.
            _ => None,
        }
    }
}

/// What a gpu step saw: the GPUs, or why there are none.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct GpuObservation {
    pub(crate) snapshot: Option<crate::gpu::GpuSnapshot>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    #[serde(with = "secs")]
    pub(crate) elapsed: Duration,
}

/// What a pull step saw.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PullObservation {
    pub(crate) model: String,
    /// True when `ensure` found the model already listed and nothing was pulled.
    pub(crate) already_present: bool,
    /// The distinct status lines, in order ("pulling manifest", ..., "success").
    pub(crate) statuses: Vec<String>,
    pub(crate) bytes_total: u64,
    pub(crate) bytes_completed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    #[serde(with = "secs")]
    pub(crate) elapsed: Duration,
}

/// What an embed step got back: the vectors (kept for the checks, not in reports), their
/// count, sizes and norms, and the server's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EmbedObservation {
    pub(crate) api: Api,
    pub(crate) url: String,
    pub(crate) model: String,
    pub(crate) status: u16,
    /// The server's error text, or why the answer could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    #[serde(skip, default)]
    pub(crate) vectors: Vec<Vec<f64>>,
    pub(crate) count: usize,
    /// Each vector's size.
    pub(crate) dimensions: Vec<usize>,
    /// Each vector's L2 norm.
    pub(crate) norms: Vec<f64>,
    /// The first values of the first vector, to look at.
    pub(crate) head: Vec<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) prompt_tokens: Option<u64>,
    #[serde(with = "secs")]
    pub(crate) elapsed: Duration,
}

impl EmbedObservation {
    /// Cosine similarity of the vectors at `a` and `b`; None when either is missing, they
    /// differ in size, or one is all zeros.
    pub(crate) fn similarity(&self, a: usize, b: usize) -> Option<f64> {
        let (x, y) = (self.vectors.get(a)?, self.vectors.get(b)?);
        if x.len() != y.len() {
            return None;
        }
        let dot: f64 = x.iter().zip(y).map(|(p, q)| p * q).sum();
        let (nx, ny) = (self.norms[a], self.norms[b]);
        (nx > 0.0 && ny > 0.0).then(|| dot / (nx * ny))
    }
}

/// The models a server listed, and what the step required of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ModelsObservation {
    pub(crate) url: String,
    pub(crate) listed: Vec<String>,
    pub(crate) present: Vec<String>,
    pub(crate) absent: Vec<String>,
    /// What the server has loaded (when the step asked about loaded models).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) loaded: Option<Vec<crate::protocol::LoadedModel>>,
    #[serde(with = "secs")]
    pub(crate) elapsed: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HttpObservation {
    pub(crate) method: String,
    pub(crate) url: String,
    /// The headers hxrun sent (credential values masked in reports).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) request_headers: Vec<(String, String)>,
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
    /// True when the body was longer than hxrun keeps and was cut.
    pub(crate) body_truncated: bool,
    #[serde(with = "secs")]
    pub(crate) elapsed: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TcpObservation {
    pub(crate) address: String,
    #[serde(with = "secs")]
    pub(crate) elapsed: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ExecObservation {
    pub(crate) command: Vec<String>,
    /// None when the process was killed by a signal.
    pub(crate) exit_code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// True when stdout or stderr was longer than hxrun keeps and was cut.
    pub(crate) output_truncated: bool,
    #[serde(with = "secs")]
    pub(crate) elapsed: Duration,
}

/// Why a step produced no observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FailureKind {
    /// An expectation did not hold.
    Assertion,
    /// The step ran past its timeout.
    Timeout,
    /// The server could not be reached or broke the connection.
    Connection,
    /// Anything else that stopped the step (bad url, command not found...).
    Error,
    /// The run was stopped (a signal, `--max-time`) while the step ran.
    Interrupted,
}

impl FailureKind {
    /// The JUnit `type` attribute (never a Ruby XML type name, which GitLab would misread).
    pub(crate) fn junit_type(&self) -> &'static str {
        match self {
            FailureKind::Assertion => "AssertionFailed",
            FailureKind::Timeout => "Timeout",
            FailureKind::Connection => "ConnectionFailed",
            FailureKind::Error => "StepError",
            FailureKind::Interrupted => "Interrupted",
        }
    }
}

/// A step that could not complete (the executor's error: every step ends in an observation or
/// this).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub(crate) struct StepError {
    pub(crate) kind: FailureKind,
    pub(crate) message: String,
    /// What was sent before the failure (request line / command), for reports.
    pub(crate) detail: String,
}

/// A failure's cause shared by requests and tests: one line for all of them in the reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cause {
    /// What happened, with the advice: `connection refused by 127.0.0.1:9: is the server ...`.
    pub(crate) text: String,
    /// How many requests it stopped (0: the test could not start one).
    pub(crate) requests: u64,
}

/// One assertion's verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AssertionResult {
    /// Which expectation, e.g. `status`, `body.trimmed_equals`, `json $.version matches`.
    pub(crate) what: String,
    pub(crate) passed: bool,
    /// Expected vs actual, for failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
    /// What the expectation asked for, as a person reads it (`2xx`, `"HX-OK"`, `< 2s`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) expected: Option<String>,
    /// What came back, shown the same way (quoted text, a number with its unit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) actual: Option<String>,
    /// Which expectation it judges, when one written in the suite (not a default such as
    /// 2xx); in report.json its path there (`expect.body`, `thresholds.ttft.p95`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) key: Option<Source>,
    /// Where that expectation is written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) at: Option<Place>,
    /// Its line and column, until the executor, which knows the file, makes `at` of them.
    #[serde(skip)]
    pub(crate) pos: Option<crate::suite::spanned::Pos>,
}

impl AssertionResult {
    /// The verdict with the values it compared, for reports that show them side by side.
    pub(crate) fn values(mut self, expected: impl Into<String>, actual: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self.actual = Some(actual.into());
        self
    }
}

/// A place in a suite file, with its line, so a report can show it with a caret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Place {
    pub(crate) file: String,
    pub(crate) line: u32,
    pub(crate) col: u32,
    /// The text of that line.
    pub(crate) source: String,
}

impl Place {
    /// `file:line:col`, then the line with a caret under the column.
    pub(crate) fn render(&self) -> String {
        let gutter = self.line.to_string();
        let pad = " ".repeat(gutter.len());
        let caret: String = self
            .source
            .chars()
            .take(self.col.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!("at {}:{}:{}\n{gutter} │ {}\n{pad} │ {caret}^", self.file, self.line, self.col, self.source)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    Passed,
    Failed,
    Skipped,
}

/// One try of a test's step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Attempt {
    pub(crate) number: u32,
    #[serde(with = "secs")]
    pub(crate) duration: Duration,
    pub(crate) passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
}

/// The outcome of one planned test.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TestResult {
    pub(crate) suite: String,
    pub(crate) name: String,
    pub(crate) tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    pub(crate) location: String,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) step: String,
    pub(crate) status: Status,
    /// Why it failed (every failed assertion) or why it was skipped.
    pub(crate) message: Option<String>,
    pub(crate) failure_kind: Option<FailureKind>,
    /// What stopped its requests, when that and not an answer failed it (a refused connection,
    /// a perf loop whose every request failed): the text several tests share when one server is
    /// down, so the reports say it once for all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cause: Option<Cause>,
    pub(crate) started_at: DateTime<Utc>,
    #[serde(with = "secs")]
    pub(crate) duration: Duration,
    pub(crate) attempts: Vec<Attempt>,
    pub(crate) assertions: Vec<AssertionResult>,
    /// What was sent, when the step ended without an observation (a timeout, a refused
    /// connection): the request line or command, secrets masked. With an observation,
    /// reporters describe that instead (`report::detail`).
    pub(crate) detail: String,
    /// The last attempt's observation, secrets masked.
    pub(crate) observation: Option<Observation>,
}

impl TestResult {
    /// A failed test that was tried more than once says so after its message.
    pub(crate) fn retry_summary(&self) -> Option<String> {
        let n = self.attempts.len();
        (n > 1 && self.status == Status::Failed).then(|| format!("(failed on all {n} attempts)"))
    }
}

/// The results of one suite.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SuiteRecord {
    pub(crate) name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    pub(crate) file: String,
    pub(crate) target: String,
    /// The fleet server this suite ran against (its name; the suite is `SUITE @ HOST`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) host: Option<String>,
    /// It ran against the built-in simulator (`--sim`): its target is a loopback port of that
    /// run's own, so shards' suites meet as "the simulator", not by port.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) simulated: bool,
    pub(crate) started_at: DateTime<Utc>,
    #[serde(with = "secs")]
    pub(crate) duration: Duration,
    pub(crate) tests: Vec<TestResult>,
}

impl SuiteRecord {
    pub(crate) fn count(&self, status: Status) -> usize {
        self.tests.iter().filter(|t| t.status == status).count()
    }
}

/// The report.json format this hxrun writes (`format` at its top). Readers of saved reports
/// (`hxrun report`, `hxrun compare`) refuse a newer one and read older ones as far as they go.
pub(crate) const REPORT_FORMAT: u32 = 1;

/// A function call in an answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct ToolCall {
    pub(crate) name: String,
    /// The arguments (an object, as the model wrote them).
    pub(crate) arguments: serde_json::Value,
}

impl std::fmt::Display for ToolCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.name, excerpt(&self.arguments.to_string(), 200))
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunRecord {
    /// The report.json format (`REPORT_FORMAT`), for readers of saved reports.
    pub(crate) format: u32,
    pub(crate) hxrun_version: String,
    pub(crate) started_at: DateTime<Utc>,
    #[serde(with = "secs")]
    pub(crate) duration: Duration,
    pub(crate) suites: Vec<SuiteRecord>,
    /// Samples of the whole run (`--gpu-sample`), each tagged with the test it fell in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) gpu_samples: Vec<crate::gpu::GpuSample>,
    /// Why the run stopped before its end (a signal, `--max-time`); the tests it did not
    /// reach are listed as skipped with that reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stopped: Option<String>,
    /// What a person must know about how the run was made (TLS checks turned off).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) warnings: Vec<String>,
    /// Conclusions drawn from the whole run (`hxrun probe`: one per model and one for the
    /// server), shown first in every report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) verdicts: Vec<Verdict>,
}

/// A conclusion a person can act on: what it is about, whether it is sound, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Verdict {
    /// The model or server it is about.
    pub(crate) subject: String,
    pub(crate) ok: bool,
    /// Findings, each a short sentence.
    pub(crate) findings: Vec<String>,
}

impl Verdict {
    /// `✓ phi3:latest: 118 tokens/s; ...` on one line.
    pub(crate) fn line(&self) -> String {
        format!("{} {}: {}", if self.ok { "✓" } else { "✗" }, self.subject, self.findings.join("; "))
    }
}

impl RunRecord {
    pub(crate) fn count(&self, status: Status) -> usize {
        self.suites.iter().map(|s| s.count(status)).sum()
    }

    pub(crate) fn failed(&self) -> bool {
        self.count(Status::Failed) > 0
    }
}

/// Seconds read back from a report: a negative, huge or non-number value reads as zero.
fn duration_of(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs).unwrap_or_default()
}

mod opt_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.map(super::duration_of))
    }

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }
}

mod secs_list {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        Ok(Vec::<f64>::deserialize(d)?.into_iter().map(super::duration_of).collect())
    }

    pub(super) fn serialize<S: Serializer>(d: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(d.iter().map(Duration::as_secs_f64))
    }
}

/// Durations in reports are seconds as a float (what JUnit and most tools expect).
pub(crate) mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(super::duration_of(f64::deserialize(d)?))
    }

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}
