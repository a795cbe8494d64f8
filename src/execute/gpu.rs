//! The `gpu:` step and the run's access to GPU sources: this machine's (opened once, on first
//! need; a machine without the driver is reported once and the run goes on), and each metrics
//! endpoint a target names (`gpu_metrics`, `--gpu-source`), one source per endpoint, so a
//! fleet's servers each read their own GPUs.

use crate::gpu::{self, Source};
use crate::record::Event;
use crate::record::GpuObservation;
use crate::suite::gpu::GpuStep;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// The GPU sources, opened on first use: `None` is this machine's.
#[derive(Default)]
pub(crate) struct GpuHandle {
    sources: Mutex<HashMap<Option<String>, Result<Source, String>>>,
}

impl GpuHandle {
    /// The source of `endpoint` (`None`: this machine), or why there is none; the first
    /// failure to open each is reported as a note.
    pub(crate) fn get(&self, endpoint: Option<&str>, emit: &dyn Fn(&Event)) -> Result<Source, String> {
        let mut sources = self.sources.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(known) = sources.get(&endpoint.map(str::to_string)) {
            return known.clone();
        }
        let opened = gpu::open(endpoint);
        if let Err(e) = &opened {
            emit(&Event::Note { message: format!("{e}: tests run without GPU figures") });
        }
        sources.insert(endpoint.map(str::to_string), opened.clone());
        opened
    }
}

/// Reads the GPUs for a `gpu:` step (the verdict is the assert stage's).
pub(crate) async fn run(_step: &GpuStep, source: Result<Source, String>) -> GpuObservation {
    let started = Instant::now();
    let read = match source {
        Ok(s) => s.snapshot().await,
        Err(e) => Err(e),
    };
    let (snapshot, error) = match read {
        Ok(snapshot) => (Some(snapshot), None),
        Err(e) => (None, Some(e)),
    };
    GpuObservation { snapshot, error, elapsed: started.elapsed() }
}
