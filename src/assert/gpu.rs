//! Verdicts on a `gpu:` step: counts, memory (summed or per GPU), names, driver and CUDA.

use super::{compare, fail, text};
use crate::record::{AssertionResult, GpuObservation};
use crate::suite::gpu::GpuStep;

pub(crate) fn check_gpu(step: &GpuStep, o: &GpuObservation, out: &mut Vec<AssertionResult>) {
    let Some(s) = &o.snapshot else {
        out.push(fail("gpu", o.error.clone().unwrap_or_else(|| "no GPU information".to_string())));
        return;
    };
    let sum = |f: fn(&crate::gpu::GpuInfo) -> u64| s.gpus.iter().map(f).sum::<u64>() as f64;
    if let Some(c) = &step.count {
        out.push(compare("gpu count", c, s.gpus.len() as f64));
    }
    if let Some(c) = &step.memory_total {
        out.push(compare("gpu memory_total (all GPUs)", c, sum(|g| g.memory_total)));
    }
    if let Some(c) = &step.memory_free {
        out.push(compare("gpu memory_free (all GPUs)", c, sum(|g| g.memory_free)));
    }
    if let Some(m) = &step.driver_version {
        out.extend(text::check("gpu driver_version", m, &s.driver_version));
    }
    if let Some(m) = &step.cuda_version {
        out.extend(text::check("gpu cuda_version", m, s.cuda_driver_version.as_deref().unwrap_or("")));
    }
    for g in &s.gpus {
        let label = |what: &str| format!("gpu {} {what}", g.index);
        if let Some(m) = &step.name {
            out.extend(text::check(&label("name"), m, &g.name));
        }
        if let Some(each) = &step.each {
            if let Some(c) = &each.memory_total {
                out.push(compare(&label("memory_total"), c, g.memory_total as f64));
            }
            if let Some(c) = &each.memory_free {
                out.push(compare(&label("memory_free"), c, g.memory_free as f64));
            }
            if let Some(c) = &each.memory_used {
                out.push(compare(&label("memory_used"), c, g.memory_used as f64));
            }
            if let Some(m) = &each.name {
                out.extend(text::check(&label("name"), m, &g.name));
            }
        }
    }
}
