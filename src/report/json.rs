//! The whole run as JSON, for machines (and, later, as a baseline to compare against).

use super::{Event, Output, Reporter};
use std::path::PathBuf;

pub(crate) struct JsonReporter {
    path: PathBuf,
}

impl JsonReporter {
    pub(crate) fn new(path: PathBuf) -> Self {
        JsonReporter { path }
    }
}

impl Reporter for JsonReporter {
    fn handle(&mut self, event: &Event, out: &Output) -> Result<(), super::ReportError> {
        let Event::RunFinished { record } = event else {
            return Ok(());
        };
        let mut text = serde_json::to_string_pretty(record)
            .map_err(|e| super::ReportError::render("the JSON report")(&e))?;
        text.push('\n');
        out.write_file(&self.path, &text)
    }
}
