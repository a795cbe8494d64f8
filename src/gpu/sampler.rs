//! Sampling GPUs in the background while tests run, and the figures drawn from the samples.

use super::{GpuSample, Source};
use crate::suite::metrics::{Figure, Figures, Metric};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The shortest sampling interval accepted (NVML's own counters update about this often).
pub(crate) const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// The default sampling interval.
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// A running sampler; `stop` returns what it collected.
pub(crate) struct Sampler {
    samples: Arc<Mutex<Vec<GpuSample>>>,
    tag: Arc<Mutex<Option<String>>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Failures>>,
}

/// Samplings that failed: the first reason, and how many of how many.
#[derive(Debug, Default)]
struct Failures {
    first: Option<String>,
    failed: usize,
    taken: usize,
}

impl Failures {
    /// The sentence a report carries, or none when every sampling answered.
    fn said(self) -> Option<String> {
        let first = self.first?;
        Some(if self.failed == self.taken {
            first
        } else {
            format!("{first} ({} of {} samplings failed)", self.failed, self.taken)
        })
    }
}

impl Sampler {
    /// Samples now and then every `interval`, tagging samples with `tag` (a test name). A
    /// sampling that fails (a GPU endpoint that stops answering) is counted and sampling goes
    /// on; the first reason is reported once, when the sampler stops.
    pub(crate) fn start(source: Source, interval: Duration, tag: Option<String>) -> Sampler {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let tag = Arc::new(Mutex::new(tag));
        let (stop, mut stopped) = oneshot::channel::<()>();
        let (out, current) = (Arc::clone(&samples), Arc::clone(&tag));
        let interval = interval.max(MIN_INTERVAL);
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failures = Failures::default();
            loop {
                tokio::select! {
                    _ = &mut stopped => return failures,
                    _ = ticks.tick() => {}
                }
                // A sampling in flight when the sampler stops is let go.
                let taken = tokio::select! {
                    _ = &mut stopped => return failures,
                    taken = source.sample() => taken,
                };
                failures.taken += 1;
                match taken {
                    Ok(batch) => {
                        let test = current.lock().expect("sampler lock").clone();
                        let mut all = out.lock().expect("sampler lock");
                        all.extend(batch.into_iter().map(|mut s| {
                            s.test = test.clone();
                            s
                        }));
                    }
                    Err(e) => {
                        failures.failed += 1;
                        failures.first.get_or_insert(e);
                    }
                }
            }
        });
        Sampler { samples, tag, stop: Some(stop), task: Some(task) }
    }

    /// Tags the following samples with another test.
    pub(crate) fn set_tag(&self, tag: Option<String>) {
        *self.tag.lock().expect("sampler lock") = tag;
    }

    /// Stops sampling; the samples, and the error that ended sampling early, if any.
    pub(crate) async fn stop(mut self) -> (Vec<GpuSample>, Option<String>) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let error = match self.task.take() {
            Some(task) => task.await.ok().and_then(Failures::said),
            None => None,
        };
        let samples = std::mem::take(&mut *self.samples.lock().expect("sampler lock"));
        (samples, error)
    }
}

/// Figures from samples (`suite::metrics::GPU`): memory and power are summed over the GPUs at
/// each instant; utilisation and temperature taken per GPU.
pub(crate) fn figures(samples: &[GpuSample]) -> Figures {
    use Metric::*;
    let mut out = Figures::new();
    if samples.is_empty() {
        return out;
    }
    let mut instants: BTreeMap<chrono::DateTime<chrono::Utc>, (f64, f64)> = BTreeMap::new();
    for s in samples {
        let e = instants.entry(s.timestamp).or_default();
        e.0 += s.mem_used as f64;
        e.1 += s.power_w.unwrap_or(0.0);
    }
    let mem: Vec<f64> = instants.values().map(|v| v.0).collect();
    let power: Vec<f64> = instants.values().map(|v| v.1).collect();
    let util: Vec<f64> = samples.iter().filter_map(|s| s.util_pct).collect();
    let temp: Vec<f64> = samples.iter().filter_map(|s| s.temp_c).collect();
    // Mean and maximum only: the GPU module needs no statistics library for that.
    let mut put = |(mean, max): (Metric, Metric), values: &[f64]| {
        if !values.is_empty() {
            out.insert(Figure::of(mean), values.iter().sum::<f64>() / values.len() as f64);
            out.insert(Figure::of(max), values.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        }
    };
    put((GpuMemoryUsedMean, GpuMemoryUsedMax), &mem);
    put((GpuUtilMean, GpuUtilMax), &util);
    put((GpuTempMean, GpuTempMax), &temp);
    if samples.iter().any(|s| s.power_w.is_some()) {
        put((GpuPowerMean, GpuPowerMax), &power);
    }
    out.insert(Figure::of(GpuThrottled), samples.iter().filter(|s| s.throttled()).count() as f64);
    out.insert(Figure::of(GpuSamples), instants.len() as f64);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn s(t: i64, gpu: u32, util: f64, mem_mib: u64, power: f64, temp: f64, throttle: &[&str]) -> GpuSample {
        GpuSample {
            timestamp: Utc.timestamp_opt(1_755_172_800 + t, 0).unwrap(),
            gpu,
            name: "RTX".into(),
            util_pct: Some(util),
            mem_used: mem_mib * 1024 * 1024,
            mem_total: 16 * 1024 * 1024 * 1024,
            power_w: Some(power),
            temp_c: Some(temp),
            sm_clock_mhz: Some(2400),
            throttle: throttle.iter().map(|t| t.to_string()).collect(),
            test: None,
            host: None,
        }
    }

    #[test]
    fn figures_from_a_two_gpu_series() {
        let samples = vec![
            s(0, 0, 10.0, 1000, 50.0, 40.0, &["GPU_IDLE"]),
            s(0, 1, 20.0, 2000, 60.0, 42.0, &[]),
            s(1, 0, 90.0, 9000, 170.0, 70.0, &["SW_POWER_CAP"]),
            s(1, 1, 80.0, 8000, 160.0, 75.0, &[]),
        ];
        let f = figures(&samples);
        let mib = 1024.0 * 1024.0;
        assert_eq!(
            f[&Figure::parse("gpu.memory_used.max").unwrap()],
            17000.0 * mib,
            "summed over the GPUs at an instant"
        );
        assert_eq!(f[&Figure::parse("gpu.memory_used.mean").unwrap()], 10000.0 * mib);
        assert_eq!(f[&Figure::parse("gpu.util.mean").unwrap()], 50.0);
        assert_eq!(f[&Figure::parse("gpu.util.max").unwrap()], 90.0);
        assert_eq!(f[&Figure::parse("gpu.power.max").unwrap()], 330.0);
        assert_eq!(f[&Figure::parse("gpu.temp.max").unwrap()], 75.0);
        assert_eq!(f[&Figure::parse("gpu.throttled").unwrap()], 1.0, "GPU_IDLE is not a slowdown");
        assert_eq!(f[&Figure::parse("gpu.samples").unwrap()], 2.0);
    }
}
