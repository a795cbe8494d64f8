//! Scripted GPU readings, for tests and for trying GPU checks without a GPU.
//!
//! ```yaml
//! driver_version: "575.57.08"
//! cuda_driver_version: "12.9"
//! gpus:
//!   - { name: NVIDIA GeForce RTX 5060 Ti, memory_total_mib: 16311 }
//! readings:          # one entry per sampling; the last one repeats
//!   - - { util_pct: 0, mem_used_mib: 450, power_w: 15, temp_c: 38, sm_clock_mhz: 210, throttle: [GPU_IDLE] }
//!   - - { util_pct: 97, mem_used_mib: 9100, power_w: 172, temp_c: 71, sm_clock_mhz: 2602 }
//! ```

use super::{GpuInfo, GpuSample, GpuSnapshot, GpuSource};
use serde::Deserialize;
use std::path::Path;
use std::sync::Mutex;

const MIB: u64 = 1024 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Script {
    pub(crate) driver_version: String,
    pub(crate) cuda_driver_version: Option<String>,
    pub(crate) gpus: Vec<ScriptGpu>,
    #[serde(default)]
    pub(crate) readings: Vec<Vec<Reading>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScriptGpu {
    pub(crate) name: String,
    pub(crate) memory_total_mib: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reading {
    pub(crate) util_pct: Option<f64>,
    #[serde(default)]
    pub(crate) mem_used_mib: u64,
    pub(crate) power_w: Option<f64>,
    pub(crate) temp_c: Option<f64>,
    pub(crate) sm_clock_mhz: Option<u32>,
    #[serde(default)]
    pub(crate) throttle: Vec<String>,
}

/// Replays a script: each `sample()` takes the next reading, holding the last.
pub(crate) struct FakeSource {
    script: Script,
    next: Mutex<usize>,
}

impl FakeSource {
    pub(crate) fn new(script: Script) -> FakeSource {
        FakeSource { script, next: Mutex::new(0) }
    }

    pub(crate) fn load(path: &Path) -> Result<FakeSource, String> {
        let text = crate::files::read_to_string(path, "GPU script")
            .map_err(|e| format!("cannot read the GPU script {}: {e}", path.display()))?;
        let script: Script = serde_saphyr::from_str(&text)
            .map_err(|e| format!("invalid GPU script {}: {e}", path.display()))?;
        Ok(FakeSource::new(script))
    }

    fn reading(&self, step: usize, gpu: usize) -> Reading {
        let r = &self.script.readings;
        r.get(step.min(r.len().saturating_sub(1))).and_then(|row| row.get(gpu)).cloned().unwrap_or_default()
    }
}

impl GpuSource for FakeSource {
    fn snapshot(&self) -> Result<GpuSnapshot, String> {
        let step = self.next.lock().expect("fake GPU lock").saturating_sub(1);
        let gpus = self
            .script
            .gpus
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let used = self.reading(step, i).mem_used_mib * MIB;
                let total = g.memory_total_mib * MIB;
                GpuInfo {
                    index: i as u32,
                    name: g.name.clone(),
                    memory_total: total,
                    memory_used: used,
                    memory_free: total.saturating_sub(used),
                }
            })
            .collect();
        Ok(GpuSnapshot {
            driver_version: self.script.driver_version.clone(),
            cuda_driver_version: self.script.cuda_driver_version.clone(),
            gpus,
        })
    }

    fn sample(&self) -> Result<Vec<GpuSample>, String> {
        let step = {
            let mut next = self.next.lock().expect("fake GPU lock");
            *next += 1;
            *next - 1
        };
        let now = chrono::Utc::now();
        Ok(self
            .script
            .gpus
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let r = self.reading(step, i);
                GpuSample {
                    timestamp: now,
                    gpu: i as u32,
                    name: g.name.clone(),
                    util_pct: r.util_pct,
                    mem_used: r.mem_used_mib * MIB,
                    mem_total: g.memory_total_mib * MIB,
                    power_w: r.power_w,
                    temp_c: r.temp_c,
                    sm_clock_mhz: r.sm_clock_mhz,
                    throttle: r.throttle,
                    test: None,
                    host: None,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_and_holds_the_last_reading() {
        let script: Script = serde_saphyr::from_str(
            "driver_version: '575.57.08'\ngpus: [{ name: A, memory_total_mib: 100 }]\nreadings:\n  - [{ util_pct: 1, mem_used_mib: 10 }]\n  - [{ util_pct: 2, mem_used_mib: 20 }]\n",
        )
        .unwrap();
        let f = FakeSource::new(script);
        let u = |s: Vec<GpuSample>| s[0].util_pct.unwrap();
        assert_eq!(u(f.sample().unwrap()), 1.0);
        assert_eq!(u(f.sample().unwrap()), 2.0);
        assert_eq!(u(f.sample().unwrap()), 2.0);
        assert_eq!(f.snapshot().unwrap().gpus[0].memory_used, 20 * MIB);
    }
}
