//! The `gpu:` step and the run's access to the GPU source (opened once, on first need; a
//! machine without the driver is reported once and the run goes on).

use crate::gpu::{self, GpuSource};
use crate::record::Event;
use crate::record::GpuObservation;
use crate::suite::gpu::GpuStep;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// The GPU source, opened on first use.
#[derive(Default)]
pub(crate) struct GpuHandle {
    source: OnceLock<Result<Arc<dyn GpuSource>, String>>,
}

impl GpuHandle {
    /// The source, or why there is none; the first failure is reported as a note.
    pub(crate) fn get(&self, emit: &dyn Fn(&Event)) -> Result<Arc<dyn GpuSource>, String> {
        let mut opened_now = false;
        let source = self.source.get_or_init(|| {
            opened_now = true;
            gpu::open()
        });
        if opened_now && let Err(e) = source {
            emit(&Event::Note { message: format!("{e}: perf tests run without GPU sampling") });
        }
        source.clone()
    }
}

/// Reads the GPUs for a `gpu:` step (the verdict is the assert stage's).
pub(crate) fn run(_step: &GpuStep, source: Result<Arc<dyn GpuSource>, String>) -> GpuObservation {
    let started = Instant::now();
    let (snapshot, error) = match source.and_then(|s| s.snapshot()) {
        Ok(snapshot) => (Some(snapshot), None),
        Err(e) => (None, Some(e)),
    };
    GpuObservation { snapshot, error, elapsed: started.elapsed() }
}
