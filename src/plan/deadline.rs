//! A test's deadline, made once in plan: its limit, what set it, how long the executor lets
//! each kind of step run under it, and the one sentence that says it ran out.

use std::time::Duration;

/// How much longer than its limit an answer may take to hand over what it measured: a stream
/// ends itself at the limit, keeping its TTFT and chunks.
pub(crate) const STREAM_GRACE: Duration = Duration::from_millis(500);

/// What set a deadline.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SetBy {
    /// The test's own `timeout`, at file:line:col.
    Test(String),
    /// `--timeout` on the command line.
    Flag,
    /// The suite's `defaults.timeout`.
    SuiteDefault,
    /// hxrun's default.
    BuiltIn,
    /// A caller outside a suite (the benchmark), named.
    Given(&'static str),
}

impl std::fmt::Display for SetBy {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            SetBy::Test(at) => write!(f, "`timeout` at {at}"),
            SetBy::Flag => f.write_str("--timeout on the command line"),
            SetBy::SuiteDefault => f.write_str("`defaults.timeout` of the suite"),
            SetBy::BuiltIn => f.write_str("the built-in default"),
            SetBy::Given(who) => f.write_str(who),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Deadline {
    pub(crate) limit: Duration,
    pub(crate) set_by: SetBy,
}

/// How a step lives under its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Under {
    /// Ends at the limit (http, tcp, exec, pull...).
    Whole,
    /// An answer that ends its own stream at the limit, keeping what it measured: the executor
    /// waits the grace more for it.
    Stream,
    /// A perf loop: each request has the limit; the loop runs as long as its iterations.
    PerRequest,
}

impl Deadline {
    /// How long the executor lets a step of this kind run.
    pub(crate) fn step_limit(&self, under: Under) -> Duration {
        match under {
            Under::Whole => self.limit,
            Under::Stream => self.limit.saturating_add(STREAM_GRACE),
            Under::PerRequest => Duration::MAX,
        }
    }

    /// How long one request of a perf loop may take before its worker hands it over.
    pub(crate) fn request_limit(&self) -> Duration {
        self.limit.saturating_add(STREAM_GRACE)
    }

    /// The sentence for a step (or, `per_request`, one request of a loop) that ran past it.
    pub(crate) fn ran_out(&self, per_request: bool) -> String {
        format!(
            "timed out after {} (the step timeout{}, set by {})",
            humantime::format_duration(self.limit),
            if per_request { ", per request" } else { "" },
            self.set_by
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sentence_and_the_limits_derived_from_one_place() {
        let d = Deadline { limit: Duration::from_millis(300), set_by: SetBy::Test("s.yaml:5:14".into()) };
        assert_eq!(
            d.ran_out(false),
            "timed out after 300ms (the step timeout, set by `timeout` at s.yaml:5:14)"
        );
        let flag = Deadline { set_by: SetBy::Flag, ..d.clone() };
        assert_eq!(
            flag.ran_out(true),
            "timed out after 300ms (the step timeout, per request, set by --timeout on the command line)"
        );
        assert_eq!(d.step_limit(Under::Whole), Duration::from_millis(300));
        assert_eq!(d.step_limit(Under::Stream), Duration::from_millis(800));
        assert_eq!(d.step_limit(Under::PerRequest), Duration::MAX);
    }
}
