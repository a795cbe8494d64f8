//! What running a step recorded, and the per-test results reporters consume.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Duration;

/// What a step observed; assertions are evaluated against this.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Observation {
    Http(HttpObservation),
    Tcp(TcpObservation),
    Exec(ExecObservation),
}

impl Observation {
    pub fn elapsed(&self) -> Duration {
        match self {
            Observation::Http(o) => o.elapsed,
            Observation::Tcp(o) => o.elapsed,
            Observation::Exec(o) => o.elapsed,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HttpObservation {
    pub method: String,
    pub url: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// True when the body was longer than hxrun keeps and was cut.
    pub body_truncated: bool,
    #[serde(with = "secs")]
    pub elapsed: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct TcpObservation {
    pub address: String,
    #[serde(with = "secs")]
    pub elapsed: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExecObservation {
    pub command: Vec<String>,
    /// None when the process was killed by a signal.
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    #[serde(with = "secs")]
    pub elapsed: Duration,
}

/// Why a step produced no observation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// An expectation did not hold.
    Assertion,
    /// The step ran past its timeout.
    Timeout,
    /// The server could not be reached or broke the connection.
    Connection,
    /// Anything else that stopped the step (bad url, command not found...).
    Error,
}

impl FailureKind {
    /// The JUnit `type` attribute (never a Ruby XML type name, which GitLab would misread).
    pub fn junit_type(&self) -> &'static str {
        match self {
            FailureKind::Assertion => "AssertionFailed",
            FailureKind::Timeout => "Timeout",
            FailureKind::Connection => "ConnectionFailed",
            FailureKind::Error => "StepError",
        }
    }
}

/// A step that could not complete.
#[derive(Debug, Clone)]
pub struct StepError {
    pub kind: FailureKind,
    pub message: String,
    /// What was sent before the failure (request line / command), for reports.
    pub detail: String,
}

/// One assertion's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct AssertionResult {
    /// Which expectation, e.g. `status`, `body.trimmed_equals`, `json $.version matches`.
    pub what: String,
    pub passed: bool,
    /// Expected vs actual, for failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    Skipped,
}

/// One try of a test's step.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub number: u32,
    #[serde(with = "secs")]
    pub duration: Duration,
    pub passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The outcome of one planned test.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    pub suite: String,
    pub name: String,
    pub tags: Vec<String>,
    pub location: String,
    pub params: Vec<(String, String)>,
    pub step: &'static str,
    pub status: Status,
    /// Why it failed (every failed assertion) or why it was skipped.
    pub message: Option<String>,
    pub failure_kind: Option<FailureKind>,
    pub started_at: DateTime<Utc>,
    #[serde(with = "secs")]
    pub duration: Duration,
    pub attempts: Vec<Attempt>,
    pub assertions: Vec<AssertionResult>,
    /// Request line and response excerpt (or command and output), secrets masked.
    pub detail: String,
    /// The last attempt's observation, secrets masked.
    pub observation: Option<Observation>,
}

/// The results of one suite.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteRecord {
    pub name: String,
    pub file: String,
    pub target: String,
    pub started_at: DateTime<Utc>,
    #[serde(with = "secs")]
    pub duration: Duration,
    pub tests: Vec<TestResult>,
}

impl SuiteRecord {
    pub fn count(&self, status: Status) -> usize {
        self.tests.iter().filter(|t| t.status == status).count()
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub hxrun_version: &'static str,
    pub started_at: DateTime<Utc>,
    #[serde(with = "secs")]
    pub duration: Duration,
    pub suites: Vec<SuiteRecord>,
}

impl RunRecord {
    pub fn count(&self, status: Status) -> usize {
        self.suites.iter().map(|s| s.count(status)).sum()
    }

    pub fn failed(&self) -> bool {
        self.count(Status::Failed) > 0
    }
}

/// Durations in reports are seconds as a float (what JUnit and most tools expect).
mod secs {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}
