//! The run's vocabulary, below the stages that use it: what a step observed, each test's
//! result, the whole run's record, and the events the executor emits while it runs. The
//! executor makes these, assert judges observations, reporters render results; none of them
//! reaches into another to do it.

mod event;
mod observation;
mod source;
pub(crate) use event::Event;
pub(crate) use observation::*;
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

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

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
    /// The pass-rate gate this test is a case of (its name): its failure fails the gate, not
    /// the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) gate: Option<String>,
    /// A pass-rate gate's verdict over its cases (`pass_rate:`); the cases are in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) pass_rate: Option<Box<PassRate>>,
}

/// A pass-rate gate's figures and its cases.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PassRate {
    /// What the suite asks for (`>= 90%`).
    pub(crate) required: String,
    /// Cases that passed, of those that ran (`total`: passed and failed; skipped ones are not
    /// counted).
    pub(crate) passed: u64,
    pub(crate) total: u64,
    /// Cases that did not run (skipped, or not reached).
    pub(crate) skipped: u64,
    /// The share that passed, and its 95% Wilson interval, in percent (none when no case ran).
    pub(crate) rate: Option<f64>,
    pub(crate) low: Option<f64>,
    pub(crate) high: Option<f64>,
    /// Every case's result, in the plan's order.
    pub(crate) cases: Vec<TestResult>,
}

impl PassRate {
    /// `92% (46 of 50; 95% interval 81–97%)`.
    pub(crate) fn summary(&self) -> String {
        let pct = crate::suite::values::format_share;
        match (self.rate, self.low, self.high) {
            (Some(r), Some(l), Some(h)) => {
                format!("{} ({} of {}; 95% interval {}–{})", pct(r), self.passed, self.total, pct(l), pct(h))
            }
            _ => format!("no case ran ({} skipped)", self.skipped),
        }
    }
}

impl TestResult {
    /// A case of a pass-rate gate that failed: it counts against its gate, not the run.
    pub(crate) fn missed(&self) -> bool {
        self.gate.is_some() && self.status == Status::Failed
    }

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
