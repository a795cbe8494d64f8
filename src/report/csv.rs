//! One CSV row per test: `timestamp,suite,test,status,duration_ms,attempts,message`.
//!
//! Rows are written as tests finish (each one flushed), not at the end: a run killed half-way
//! (SIGKILL, the OOM killer, a machine that goes away) leaves every finished test on disk.

use super::text::one_line;
use super::{Event, Reporter};
use crate::execute::record::{Status, TestResult};
use std::fs::File;
use std::path::PathBuf;

/// The results CSV header; one place owns the column list.
pub const RESULT_COLUMNS: [&str; 7] =
    ["timestamp", "suite", "test", "status", "duration_ms", "attempts", "message"];

pub struct CsvReporter {
    path: PathBuf,
    file: Option<csv::Writer<File>>,
}

impl CsvReporter {
    pub fn new(path: PathBuf) -> Self {
        CsvReporter { path, file: None }
    }

    fn fail(&self, e: impl std::fmt::Display) -> String {
        format!("cannot write report {}: {e}", self.path.display())
    }

    fn row(&mut self, t: &TestResult) -> Result<(), String> {
        let Some(w) = self.file.as_mut() else { return Ok(()) };
        let written = w
            .write_record([
                t.started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                t.suite.clone(),
                t.name.clone(),
                status_word(t.status).to_string(),
                format!("{:.3}", t.duration.as_secs_f64() * 1000.0),
                t.attempts.len().to_string(),
                one_line(t.message.as_deref().unwrap_or("")),
            ])
            .and_then(|()| w.flush().map_err(csv::Error::from));
        written.map_err(|e| self.fail(e))
    }
}

pub fn status_word(s: Status) -> &'static str {
    match s {
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
    }
}

impl Reporter for CsvReporter {
    fn handle(&mut self, event: &Event) -> Result<(), String> {
        match event {
            Event::RunStarted { .. } => {
                let file = super::create_file(&self.path)?;
                let mut w = csv::Writer::from_writer(file);
                let header =
                    w.write_record(RESULT_COLUMNS).and_then(|()| w.flush().map_err(csv::Error::from));
                header.map_err(|e| self.fail(e))?;
                self.file = Some(w);
                Ok(())
            }
            Event::TestFinished { result } => self.row(result),
            Event::RunFinished { .. } => {
                if let Some(mut w) = self.file.take() {
                    w.flush().map_err(|e| self.fail(e))?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
