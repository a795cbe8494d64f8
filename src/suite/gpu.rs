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
pub struct GpuStep {
    /// How many GPUs, e.g. ">= 2".
    pub count: Option<Comparison>,
    /// Memory of all GPUs together, e.g. ">= 32GiB".
    pub memory_total: Option<Comparison>,
    /// Free memory of all GPUs together.
    pub memory_free: Option<Comparison>,
    /// Every GPU's name, e.g. { contains: RTX }.
    pub name: Option<TextMatch>,
    /// The driver version, e.g. { matches: '^5[0-9]{2}\.' }.
    pub driver_version: Option<TextMatch>,
    /// The CUDA version the driver supports, e.g. { starts_with: "12." }.
    pub cuda_version: Option<TextMatch>,
    /// Checks that each GPU must pass on its own.
    pub each: Option<GpuEach>,
    /// Skip (instead of fail) when the host has no NVIDIA driver.
    #[serde(default)]
    pub optional: bool,
}

/// Per-GPU checks.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GpuEach {
    pub memory_total: Option<Comparison>,
    pub memory_free: Option<Comparison>,
    pub memory_used: Option<Comparison>,
    pub name: Option<TextMatch>,
}
