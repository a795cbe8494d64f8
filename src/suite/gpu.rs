//! The `gpu:` step: what GPUs the host has, checked through NVML.

use super::expect::TextMatch;
use super::values::Comparison;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Checks the host's NVIDIA GPUs (seed 6.1 "GPU availability verification"). Without the
/// NVIDIA driver the step fails with "no NVIDIA GPU: ..." — or is skipped with it when
/// `optional: true`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GpuStep {
    /// How many GPUs, e.g. ">= 2".
    pub(crate) count: Option<Comparison>,
    /// Memory of all GPUs together, e.g. ">= 32GiB".
    pub(crate) memory_total: Option<Comparison>,
    /// Free memory of all GPUs together.
    pub(crate) memory_free: Option<Comparison>,
    /// Every GPU's name, e.g. { contains: RTX }.
    pub(crate) name: Option<TextMatch>,
    /// The driver version, e.g. { matches: '^5[0-9]{2}\.' }.
    pub(crate) driver_version: Option<TextMatch>,
    /// The CUDA version the driver supports, e.g. { starts_with: "12." }.
    pub(crate) cuda_version: Option<TextMatch>,
    /// Checks that each GPU must pass on its own.
    pub(crate) each: Option<GpuEach>,
    /// Skip (instead of fail) when the host has no NVIDIA driver.
    #[serde(default)]
    pub(crate) optional: bool,
}

/// Per-GPU checks.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GpuEach {
    pub(crate) memory_total: Option<Comparison>,
    pub(crate) memory_free: Option<Comparison>,
    pub(crate) memory_used: Option<Comparison>,
    pub(crate) name: Option<TextMatch>,
}
