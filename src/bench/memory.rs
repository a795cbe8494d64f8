//! Peak resident memory with 1,000 concurrent streams, each round in a fresh process (a peak
//! is a process's whole life: it cannot be measured twice in one).

use super::measure::{Load, Spread, peak_mib};
use super::setup::{SimProcess, generate, perf_context, perf_step, quiet_sim};
use super::{BenchOptions, Row};
use crate::execute::perf::run as run_perf;
use crate::suite::Api;
use std::time::Duration;

/// Streams slow enough (40 tokens at 20 tokens/s, after 10 ms) that all are open at once.
pub(super) fn slow_sim() -> Result<SimProcess, String> {
    quiet_sim("10ms", "20", false)
}

/// In this process: `streams` slow streams (40 tokens at 20 tokens/s, about 2 s, so all are
/// open at once); the peak RSS in MiB, or why the streams failed.
pub(super) fn once(rt: &tokio::runtime::Runtime, streams: u32) -> Result<f64, String> {
    let sim = slow_sim()?;
    let ctx = perf_context(&sim.url, Duration::from_secs(60));
    let mut step = perf_step(None, Some(generate(Api::Ollama, Some(40))), streams);
    step.iterations = Some(streams);
    let obs = rt.block_on(run_perf(ctx, &step)).map_err(|e| e.message)?;
    let level = &obs.levels[0];
    if level.errors > 0 {
        return Err(format!("{} of {streams} streams failed: {:?}", level.errors, level.first_error));
    }
    Ok(peak_mib())
}

/// `once` in a fresh process: its peak in MiB.
pub(super) fn fresh_peak(streams: u32) -> Result<f64, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the hxrun binary: {e}"))?;
    let out = std::process::Command::new(&exe)
        .args(["bench", "--part", "memory-once", "--streams", &streams.to_string()])
        .output()
        .map_err(|e| format!("cannot run the memory measurement: {e}"))?;
    String::from_utf8_lossy(&out.stdout).trim().parse::<f64>().map_err(|_| {
        format!("the memory measurement failed: {}", String::from_utf8_lossy(&out.stderr).trim())
    })
}

/// `rounds` fresh processes, each running `once`.
pub(super) fn memory(opts: &BenchOptions) -> Result<Vec<Row>, String> {
    let load = Load::now();
    let peaks = (0..opts.rounds.max(1)).map(|_| fresh_peak(opts.streams)).collect::<Result<Vec<_>, _>>()?;
    let s = Spread::of(&peaks).ok_or("no rounds")?;
    Ok(vec![Row {
        what: format!(
            "peak RSS (VmHWM) of hxrun with {} concurrent streams, each round a fresh process, {} rounds; {}",
            opts.streams,
            opts.rounds,
            load.text()
        ),
        result: format!("{}; {}", s.with_unit("MiB", 1), load.verdict(&[&s])),
        target: "< 150 MiB".into(),
        met: Some(s.hi < 150.0),
    }])
}
