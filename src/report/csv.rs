//! One CSV row per test: `timestamp,suite,test,status,duration_ms,attempts,message`. A
//! pass-rate gate's cases have rows of their own before the gate's; one that failed is `missed`
//! (its gate, not the case, passes or fails the run).
//!
//! Rows are written as tests finish (each one flushed), not at the end: a run killed half-way
//! (SIGKILL, the OOM killer, a machine that goes away) leaves every finished test on disk.

use super::text::csv_text;
use super::{Event, Lines, Output, Reporter};
use crate::record::{Status, TestResult};
use std::path::PathBuf;

/// The results CSV header; one place owns the column list.
pub(crate) const RESULT_COLUMNS: [&str; 7] =
    ["timestamp", "suite", "test", "status", "duration_ms", "attempts", "message"];

pub(crate) struct CsvReporter {
    path: PathBuf,
    file: Option<Lines>,
}

impl CsvReporter {
    pub(crate) fn new(path: PathBuf) -> Self {
        CsvReporter { path, file: None }
    }
}

/// One CSV record as a line (quoted as the csv crate quotes), without its line end.
fn record<const N: usize>(fields: [&str; N]) -> Result<String, super::ReportError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(fields).map_err(|e| super::ReportError::render("a CSV row")(&e))?;
    let bytes = w.into_inner().map_err(|e| super::ReportError::render("a CSV row")(&e))?;
    Ok(String::from_utf8_lossy(&bytes).trim_end_matches(['\r', '\n']).to_string())
}

fn row(t: &TestResult) -> Result<String, super::ReportError> {
    record([
        &t.started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        &csv_text(&t.suite),
        &csv_text(&t.name),
        // A gate's case that failed: its gate decides (`missed`, not `failed`).
        if t.missed() { "missed" } else { status_word(t.status) },
        &format!("{:.3}", t.duration.as_secs_f64() * 1000.0),
        &t.attempts.len().to_string(),
        &csv_text(t.message.as_deref().unwrap_or("")),
    ])
}

pub(crate) fn status_word(s: Status) -> &'static str {
    match s {
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
    }
}

impl Reporter for CsvReporter {
    fn handle(&mut self, event: &Event, out: &Output) -> Result<(), super::ReportError> {
        match event {
            Event::RunStarted { .. } => {
                let mut file = out.create(&self.path)?;
                file.line(out, &record(RESULT_COLUMNS)?)?;
                self.file = Some(file);
                Ok(())
            }
            Event::TestFinished { result } => match self.file.as_mut() {
                Some(file) => file.line(out, &row(result)?),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }
}
