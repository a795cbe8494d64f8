//! Stopping a run early: a signal (SIGINT, SIGTERM) or the run's deadline (`--max-time`).
//!
//! The executor never dies with its results: when the run is told to stop it starts no new
//! test, cuts the step in flight short (marking it interrupted, with what it had measured),
//! lists the tests it did not reach as not run, and finishes the run normally so every
//! reporter writes every finished result. Whoever owns the process (the CLI) decides what a
//! stop means for the exit code.

use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Why a run stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// A signal: its number and name (`SIGTERM`).
    Signal(i32, &'static str),
    /// `--max-time` ran out.
    Deadline(Duration),
    /// `--fail-fast`: this test failed.
    FailFast(String),
    /// The run never began: why (`--barrier` stayed shut).
    NotStarted(String),
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            StopReason::Signal(_, name) => write!(f, "interrupted by {name}"),
            StopReason::Deadline(d) => {
                write!(f, "the run's time limit (--max-time {}) was reached", humantime::format_duration(*d))
            }
            StopReason::FailFast(test) => write!(f, "--fail-fast: \"{test}\" failed"),
            StopReason::NotStarted(why) => write!(f, "not started: {why}"),
        }
    }
}

/// A handle shared by whoever may stop the run and the executor that obeys it.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunControl {
    token: CancellationToken,
    reason: Arc<OnceLock<StopReason>>,
}

impl RunControl {
    /// Asks the run to stop; the first reason given is the one reported.
    pub(crate) fn stop(&self, reason: StopReason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    /// Why the run was stopped, once it was.
    pub(crate) fn reason(&self) -> Option<&StopReason> {
        self.reason.get()
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves when the run is told to stop.
    pub(crate) async fn stopped(&self) {
        self.token.cancelled().await
    }
}
