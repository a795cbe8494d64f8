//! One CSV row per test: `timestamp,suite,test,status,duration_ms,attempts,message`.

use super::text::one_line;
use super::{Event, Reporter, write_file};
use crate::execute::record::Status;
use std::path::PathBuf;

/// The results CSV header; one place owns the column list.
pub const RESULT_COLUMNS: [&str; 7] =
    ["timestamp", "suite", "test", "status", "duration_ms", "attempts", "message"];

pub struct CsvReporter {
    path: PathBuf,
}

impl CsvReporter {
    pub fn new(path: PathBuf) -> Self {
        CsvReporter { path }
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
        let Event::RunFinished { record } = event else {
            return Ok(());
        };
        let mut w = csv::Writer::from_writer(Vec::new());
        let err = |e: csv::Error| e.to_string();
        w.write_record(RESULT_COLUMNS).map_err(err)?;
        for t in record.suites.iter().flat_map(|s| &s.tests) {
            w.write_record([
                t.started_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                t.suite.clone(),
                t.name.clone(),
                status_word(t.status).to_string(),
                format!("{:.3}", t.duration.as_secs_f64() * 1000.0),
                t.attempts.len().to_string(),
                one_line(t.message.as_deref().unwrap_or("")),
            ])
            .map_err(err)?;
        }
        let bytes = w.into_inner().map_err(|e| e.to_string())?;
        write_file(&self.path, &bytes)
    }
}
