//! `events.jsonl`: the run as it happens, one JSON object per line, each line flushed.
//!
//! report.json is written when the run ends; this log is what survives when it never does
//! (SIGKILL, the OOM killer, a lost machine): every finished test is on disk, whole, as soon
//! as it finished. Lines: `run_started`, `suite_started`, `test_finished` (the full result, as
//! in report.json), `suite_finished`, `run_finished` (counts, and why the run stopped early).

use super::{Event, Lines, Output, Reporter};
use crate::record::Status;
use serde_json::{Value, json};
use std::path::PathBuf;

pub(crate) struct EventLogReporter {
    path: PathBuf,
    file: Option<Lines>,
}

impl EventLogReporter {
    pub(crate) fn new(path: PathBuf) -> Self {
        EventLogReporter { path, file: None }
    }

    fn line(&mut self, value: &Value, out: &Output) -> Result<(), super::ReportError> {
        let Some(f) = self.file.as_mut() else { return Ok(()) };
        f.line(out, &value.to_string())
    }
}

impl Reporter for EventLogReporter {
    fn handle(&mut self, event: &Event, out: &Output) -> Result<(), super::ReportError> {
        let value = match event {
            Event::RunStarted { total } => {
                self.file = Some(out.create(&self.path)?);
                json!({ "event": "run_started", "tests": total, "hxrun_version": env!("CARGO_PKG_VERSION"),
                        "at": chrono::Utc::now() })
            }
            Event::SuiteStarted { name, tests, target } => {
                json!({ "event": "suite_started", "suite": name, "tests": tests, "target": target })
            }
            Event::TestFinished { result } => json!({ "event": "test_finished", "result": result }),
            Event::SuiteFinished { record } => json!({
                "event": "suite_finished", "suite": record.name,
                "passed": record.count(Status::Passed), "failed": record.count(Status::Failed),
                "skipped": record.count(Status::Skipped), "duration": record.duration.as_secs_f64(),
            }),
            Event::RunFinished { record } => json!({
                "event": "run_finished",
                "passed": record.count(Status::Passed), "failed": record.count(Status::Failed),
                "skipped": record.count(Status::Skipped), "duration": record.duration.as_secs_f64(),
                "stopped": record.stopped,
            }),
            Event::Note { .. } | Event::TestStarted { .. } | Event::Progress { .. } => return Ok(()),
        };
        self.line(&value, out)
    }
}
