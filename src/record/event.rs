//! The events of a run, in order: what the executor says as it goes, and what every
//! reporter listens to. They hold shared references only, so no listener can change a result.

use super::{RunRecord, SuiteRecord, TestResult};

/// What happens during a run, in order.
pub(crate) enum Event<'a> {
    RunStarted {
        total: usize,
    },
    /// Something the run says once (no GPU on this machine, say).
    Note {
        message: String,
    },
    /// `target` is the suite's url with secrets masked.
    SuiteStarted {
        name: &'a str,
        tests: usize,
        target: &'a str,
    },
    TestStarted {
        name: &'a str,
    },
    /// A long step's progress (bytes of a model pull, requests of a perf loop).
    Progress {
        name: &'a str,
        done: u64,
        total: u64,
        unit: &'static str,
    },
    TestFinished {
        result: &'a TestResult,
    },
    SuiteFinished {
        record: &'a SuiteRecord,
    },
    RunFinished {
        record: &'a RunRecord,
    },
}
