//! GPUs, behind one interface (`Source`): this machine's — NVML on a real host (loaded at run
//! time, so hxrun builds and runs without NVIDIA libraries), or scripted readings for tests and
//! demos — or another machine's, scraped from a Prometheus endpoint that serves them in
//! dcgm-exporter's or nvidia_gpu_exporter's names (`remote.rs`).
//!
//! `HXRUN_GPU_FAKE=FILE` selects the scripted source (see `fake.rs` for the format);
//! `HXRUN_GPU_FAKE=none` behaves like a machine without the driver.

pub(crate) mod dcgm;
pub(crate) mod fake;
pub(crate) mod nvml;
pub(crate) mod remote;
pub(crate) mod sampler;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The variable that selects scripted readings instead of NVML.
pub(crate) const FAKE_VAR: &str = "HXRUN_GPU_FAKE";

/// One GPU's identity and memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct GpuInfo {
    pub(crate) index: u32,
    pub(crate) name: String,
    pub(crate) memory_total: u64,
    pub(crate) memory_used: u64,
    pub(crate) memory_free: u64,
}

/// What a `gpu:` step sees: the driver and every GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct GpuSnapshot {
    pub(crate) driver_version: String,
    /// The CUDA version the driver supports, e.g. "12.9".
    pub(crate) cuda_driver_version: Option<String>,
    pub(crate) gpus: Vec<GpuInfo>,
}

/// One GPU at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct GpuSample {
    pub(crate) timestamp: DateTime<Utc>,
    pub(crate) gpu: u32,
    pub(crate) name: String,
    pub(crate) util_pct: Option<f64>,
    pub(crate) mem_used: u64,
    pub(crate) mem_total: u64,
    pub(crate) power_w: Option<f64>,
    pub(crate) temp_c: Option<f64>,
    pub(crate) sm_clock_mhz: Option<u32>,
    /// Active throttle reasons (NVML's names), empty when none.
    pub(crate) throttle: Vec<String>,
    /// The test running when the sample was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) test: Option<String>,
    /// The machine the GPU is in, when not the one hxrun ran on: a metrics endpoint's host
    /// (its `Hostname` label, or the url's host), or the run's label when runs were merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) host: Option<String>,
}

/// Throttle reasons that are not a slowdown (an idle GPU, clocks set on purpose).
const BENIGN_THROTTLE: &[&str] =
    &["GPU_IDLE", "APPLICATIONS_CLOCKS_SETTING", "USER_DEFINED_CLOCKS", "SYNC_BOOST"];

impl GpuSample {
    /// Whether the GPU was slowed down (power cap, thermal, hardware slowdown).
    pub(crate) fn throttled(&self) -> bool {
        self.throttle.iter().any(|r| !BENIGN_THROTTLE.contains(&r.as_str()))
    }
}

/// A GPU library of this machine (NVML, or scripted readings): its calls block.
pub(crate) trait GpuSource: Send + Sync {
    fn snapshot(&self) -> Result<GpuSnapshot, String>;
    /// One sample per GPU, now.
    fn sample(&self) -> Result<Vec<GpuSample>, String>;
}

/// Where a run reads GPUs: this machine's library (its blocking calls made off the runtime's
/// threads), or a metrics endpoint of the machine the GPUs are in.
#[derive(Clone)]
pub(crate) enum Source {
    Local(Arc<dyn GpuSource>),
    Remote(Arc<remote::Endpoint>),
}

impl Source {
    /// The driver and every GPU.
    pub(crate) async fn snapshot(&self) -> Result<GpuSnapshot, String> {
        match self {
            Source::Local(s) => blocking(Arc::clone(s), |s| s.snapshot()).await,
            Source::Remote(e) => e.snapshot().await,
        }
    }

    /// One sample per GPU, now.
    pub(crate) async fn sample(&self) -> Result<Vec<GpuSample>, String> {
        match self {
            Source::Local(s) => blocking(Arc::clone(s), |s| s.sample()).await,
            Source::Remote(e) => e.sample().await,
        }
    }
}

/// A library call on a thread that may block.
async fn blocking<T: Send + 'static>(
    source: Arc<dyn GpuSource>,
    call: fn(&dyn GpuSource) -> Result<T, String>,
) -> Result<T, String> {
    tokio::task::spawn_blocking(move || call(source.as_ref()))
        .await
        .unwrap_or_else(|e| Err(format!("the GPU library failed: {e}")))
}

/// The GPU source: the metrics endpoint `url` when given (a target's `gpu_metrics`,
/// `--gpu-source`), else this machine's, or why there is none ("no NVIDIA GPU: ...").
pub(crate) fn open(url: Option<&str>) -> Result<Source, String> {
    if let Some(url) = url {
        return remote::Endpoint::new(url).map(|e| Source::Remote(Arc::new(e)));
    }
    match std::env::var(FAKE_VAR) {
        Ok(v) if v == "none" => Err(nvml::NO_GPU.to_string()),
        Ok(path) if !path.is_empty() => fake::FakeSource::load(std::path::Path::new(&path))
            .map(|s| Source::Local(Arc::new(s) as Arc<dyn GpuSource>)),
        _ => nvml::NvmlSource::init().map(|s| Source::Local(Arc::new(s) as Arc<dyn GpuSource>)),
    }
}
