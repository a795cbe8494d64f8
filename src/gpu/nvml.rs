//! The NVML source (nvml-wrapper). `Nvml::init()` loads libnvidia-ml.so.1 at run time; on a
//! machine without the NVIDIA driver it fails, and hxrun says so once and goes on.

use super::{GpuInfo, GpuSample, GpuSnapshot, GpuSource};
use nvml_wrapper::Nvml;
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};

/// What a run says, once, when there is no NVIDIA driver.
pub(crate) const NO_GPU: &str = "no NVIDIA GPU: libnvidia-ml.so.1 could not be loaded";

pub(crate) struct NvmlSource {
    nvml: Nvml,
}

impl NvmlSource {
    pub(crate) fn init() -> Result<NvmlSource, String> {
        Nvml::init().map(|nvml| NvmlSource { nvml }).map_err(|e| format!("{NO_GPU} ({e})"))
    }
}

fn err(what: &str) -> impl Fn(nvml_wrapper::error::NvmlError) -> String + '_ {
    move |e| format!("NVML: cannot read {what}: {e}")
}

impl GpuSource for NvmlSource {
    fn snapshot(&self) -> Result<GpuSnapshot, String> {
        let n = self.nvml.device_count().map_err(err("the GPU count"))?;
        let mut gpus = Vec::new();
        for i in 0..n {
            let d = self.nvml.device_by_index(i).map_err(err("a GPU"))?;
            let mem = d.memory_info().map_err(err("GPU memory"))?;
            gpus.push(GpuInfo {
                index: i,
                name: d.name().map_err(err("the GPU name"))?,
                memory_total: mem.total,
                memory_used: mem.used,
                memory_free: mem.free,
            });
        }
        let cuda = self.nvml.sys_cuda_driver_version().ok().map(|v| {
            format!(
                "{}.{}",
                nvml_wrapper::cuda_driver_version_major(v),
                nvml_wrapper::cuda_driver_version_minor(v)
            )
        });
        Ok(GpuSnapshot {
            driver_version: self.nvml.sys_driver_version().map_err(err("the driver version"))?,
            cuda_driver_version: cuda,
            gpus,
        })
    }

    fn sample(&self) -> Result<Vec<GpuSample>, String> {
        let n = self.nvml.device_count().map_err(err("the GPU count"))?;
        let now = chrono::Utc::now();
        let mut out = Vec::new();
        for i in 0..n {
            let d = self.nvml.device_by_index(i).map_err(err("a GPU"))?;
            let mem = d.memory_info().map_err(err("GPU memory"))?;
            // A figure a GPU does not report (power on some boards) stays empty, not an error.
            out.push(GpuSample {
                timestamp: now,
                gpu: i,
                name: d.name().unwrap_or_default(),
                util_pct: d.utilization_rates().ok().map(|u| f64::from(u.gpu)),
                mem_used: mem.used,
                mem_total: mem.total,
                power_w: d.power_usage().ok().map(|mw| f64::from(mw) / 1000.0),
                temp_c: d.temperature(TemperatureSensor::Gpu).ok().map(f64::from),
                sm_clock_mhz: d.clock_info(Clock::SM).ok(),
                throttle: d
                    .current_throttle_reasons()
                    .map(|r| r.iter_names().map(|(name, _)| name.to_string()).collect())
                    .unwrap_or_default(),
                test: None,
                host: None,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On this machine (no NVIDIA driver) the real source fails cleanly, with the message.
    #[test]
    fn without_a_driver_init_fails_with_the_message() {
        if std::path::Path::new("/proc/driver/nvidia").exists() {
            return; // a GPU host: nothing to check here (the device check covers it)
        }
        let err = NvmlSource::init().err().expect("no driver, so no NVML");
        assert!(err.starts_with(NO_GPU), "{err}");
    }
}
