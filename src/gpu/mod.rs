//! GPUs, behind one interface: NVML on a real host (loaded at run time, so hxrun builds and
//! runs without NVIDIA libraries), or scripted readings for tests and demos.
//!
//! `HXRUN_GPU_FAKE=FILE` selects the scripted source (see `fake.rs` for the format);
//! `HXRUN_GPU_FAKE=none` behaves like a machine without the driver.

pub(crate) mod dcgm;
pub(crate) mod fake;
pub(crate) mod nvml;
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
    /// The run (machine) it was taken on, when runs were merged.
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

/// Where GPU readings come from.
pub(crate) trait GpuSource: Send + Sync {
    fn snapshot(&self) -> Result<GpuSnapshot, String>;
    /// One sample per GPU, now.
    fn sample(&self) -> Result<Vec<GpuSample>, String>;
}

/// The GPU source of this machine, or why there is none ("no NVIDIA GPU: ...").
pub(crate) fn open() -> Result<Arc<dyn GpuSource>, String> {
    match std::env::var(FAKE_VAR) {
        Ok(v) if v == "none" => Err(nvml::NO_GPU.to_string()),
        Ok(path) if !path.is_empty() => {
            fake::FakeSource::load(std::path::Path::new(&path)).map(|s| Arc::new(s) as Arc<dyn GpuSource>)
        }
        _ => nvml::NvmlSource::init().map(|s| Arc::new(s) as Arc<dyn GpuSource>),
    }
}
