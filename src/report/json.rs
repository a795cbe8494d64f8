//! The whole run as JSON, for machines (and, later, as a baseline to compare against).

use super::{Event, Reporter, write_file};
use std::path::PathBuf;

pub struct JsonReporter {
    path: PathBuf,
}

impl JsonReporter {
    pub fn new(path: PathBuf) -> Self {
        JsonReporter { path }
    }
}

impl Reporter for JsonReporter {
    fn handle(&mut self, event: &Event) -> Result<(), String> {
        let Event::RunFinished { record } = event else {
            return Ok(());
        };
        let mut bytes = serde_json::to_vec_pretty(record).map_err(|e| e.to_string())?;
        bytes.push(b'\n');
        write_file(&self.path, &bytes)
    }
}
