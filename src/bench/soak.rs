//! A long perf loop as a user runs one: `hxrun SUITE` in a child process (every reporter on,
//! the samples file copied into the report directory), 64 connections on the simulator's
//! cheapest endpoint for `--loop-duration`, one-minute windows. Its resident memory is sampled
//! every 50 ms; what it wrote is weighed: report.json, and the samples file per request.

use super::measure::Load;
use super::process::run_tree;
use super::setup::SimProcess;
use super::{BenchOptions, Row};
use std::process::Command;
use std::time::Duration;

/// The suite the loop runs.
fn suite(url: &str, connections: u32, duration: Duration) -> String {
    format!(
        "suite: bench-loop\ntarget: {{ url: \"{url}\" }}\ntests:\n  - name: loop\n    perf:\n      http: {{ path: /api/version }}\n      concurrency: {connections}\n      duration: {}s\n      window: {}s\n",
        duration.as_secs().max(1),
        (duration.as_secs() / 10).clamp(1, 60)
    )
}

/// Bytes of the files under `dir` whose name ends in `ext`.
fn bytes_of(dir: &std::path::Path, ext: &str) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(ext))
        .filter_map(|e| e.metadata().ok().map(|m| m.len()))
        .sum()
}

pub(super) fn long_loop(opts: &BenchOptions) -> Result<Vec<Row>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the hxrun binary: {e}"))?;
    let sim = SimProcess::start(&[])?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = work.path().join("loop.yaml");
    std::fs::write(&file, suite(&sim.url, opts.connections, opts.loop_duration))
        .map_err(|e| e.to_string())?;
    let reports = work.path().join("reports");
    let load = Load::now();
    let mut cmd = Command::new(exe);
    cmd.arg(&file).arg("--no-progress").arg("--report-dir").arg(&reports).env("HXRUN_GPU_FAKE", "none");
    let limit = opts.loop_duration.saturating_mul(2) + Duration::from_secs(120);
    let cost = run_tree(cmd, &work.path().join("log.txt"), limit)?;
    let json =
        std::fs::read_to_string(reports.join("report.json")).map_err(|e| format!("no report.json: {e}"))?;
    let report: serde_json::Value = serde_json::from_str(&json).map_err(|e| e.to_string())?;
    let level =
        report.pointer("/suites/0/tests/0/observation/levels/0").ok_or("no perf level in report.json")?;
    let requests = level.get("requests").and_then(|r| r.as_u64()).unwrap_or(0);
    if requests == 0 {
        return Err("the loop measured no request".into());
    }
    let samples = bytes_of(&reports.join("samples"), ".hxs");
    // The memory after the first tenth (start-up and the first window filling), and overall.
    let steady = &cost.rss[cost.rss.len() / 10..];
    let (lo, hi) = steady.iter().fold((f64::INFINITY, 0.0f64), |(a, b), x| (a.min(*x), b.max(*x)));
    let per_request = samples as f64 / requests as f64;
    let secs = opts.loop_duration.as_secs();
    Ok(vec![Row {
        what: format!(
            "a {} loop as a user runs one (`hxrun SUITE`, every report), GET /api/version at {} connections: requests; resident memory after the first tenth (lowest–highest) and peak; report.json; samples file per request; {}",
            humantime::format_duration(Duration::from_secs(secs)),
            opts.connections,
            load.text()
        ),
        result: format!(
            "{requests} requests ({:.0}/s); RSS {lo:.1}–{hi:.1} MiB, peak {:.1} MiB; report.json {:.0} KB; {per_request:.2} B/request; {}",
            requests as f64 / secs.max(1) as f64,
            cost.peak_mib,
            json.len() as f64 / 1000.0,
            load.verdict(&[])
        ),
        target: "RSS < 100 MiB, report.json < 1 MB, ≤ 16 B/request".into(),
        met: Some(cost.peak_mib < 100.0 && json.len() < 1_000_000 && per_request <= 16.0),
    }])
}
