//! `samples/*.hxs`: a perf test's every request, copied from the run's temp files into the
//! report directory as the test finishes (the compact format of `perf::samples_file`; its
//! error texts were masked when written). `hxrun merge` computes exact statistics from them.

use super::{Event, Output, Reporter};
use crate::record::Observation;
use std::path::PathBuf;

pub(crate) struct SamplesReporter {
    dir: PathBuf,
}

impl SamplesReporter {
    pub(crate) fn new(report_dir: PathBuf) -> Self {
        SamplesReporter { dir: report_dir }
    }
}

impl Reporter for SamplesReporter {
    fn handle(&mut self, event: &Event, out: &Output) -> Result<(), super::ReportError> {
        let Event::TestFinished { result } = event else { return Ok(()) };
        let Some(Observation::Perf(p)) = &result.observation else { return Ok(()) };
        let Some(name) = &p.samples_file else { return Ok(()) };
        let files: Vec<_> = p.levels.iter().filter_map(|l| l.file.as_ref()).collect();
        if files.is_empty() {
            return Ok(());
        }
        out.write_with(&self.dir.join(name), &mut |w| files.iter().try_for_each(|f| f.copy_to(w).map(drop)))
    }
}
