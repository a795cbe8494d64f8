//! Request rate and client CPU per request against wrk, on the simulator's cheapest endpoint
//! (`GET /api/version`), in interleaved rounds.

use super::measure::{Load, Spread, children_cpu, interleave, process_cpu};
use super::process::installed;
use super::setup::{SimProcess, http_get, perf_context};
use super::{BenchOptions, Row};
use crate::execute::perf::run as run_perf;
use std::process::Command;
use std::time::Duration;

/// One run: requests per second, and the client's CPU per request in µs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    pub(crate) rate: f64,
    pub(crate) cpu_us: f64,
}

/// wrk on `url`: its rate, and its CPU (both threads, from the kernel's accounting of the
/// ended child) per request.
fn wrk(url: &str, connections: u32, secs: u64) -> Result<Run, String> {
    let before = children_cpu();
    let out = Command::new("wrk")
        .args(["-t2", &format!("-c{connections}"), &format!("-d{secs}s"), url])
        .output()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let cpu = children_cpu().saturating_sub(before);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!("wrk failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let rate =
        text.lines().find_map(|l| l.strip_prefix("Requests/sec:").and_then(|n| n.trim().parse::<f64>().ok()));
    // "  1021636 requests in 5.00s, 140.30MB read"
    let requests = text
        .lines()
        .find_map(|l| l.split_once(" requests in ").and_then(|(n, _)| n.trim().parse::<f64>().ok()));
    match (rate, requests) {
        (Some(rate), Some(n)) if n > 0.0 => Ok(Run { rate, cpu_us: cpu.as_secs_f64() * 1e6 / n }),
        _ => Err(format!("cannot read wrk's output: {text}")),
    }
}

/// hxrun's perf loop on `url` for `secs`: its rate, and this process's CPU per request.
fn hxrun(rt: &tokio::runtime::Runtime, base: &str, connections: u32, secs: u64) -> Result<Run, String> {
    let ctx = perf_context(base, Duration::from_secs(10));
    let mut step = http_get("/api/version", connections);
    step.duration = Some(Duration::from_secs(secs));
    let before = process_cpu();
    let obs = rt.block_on(run_perf(ctx, &step)).map_err(|e| e.message)?;
    let cpu = process_cpu().saturating_sub(before);
    let level = &obs.levels[0];
    if level.errors > 0 || level.requests == 0 {
        return Err(format!("hxrun's loop failed: {} of {} requests", level.errors, level.requests));
    }
    let rate = level
        .figures
        .get(&crate::suite::metrics::Figure::of(crate::suite::metrics::Metric::RequestThroughput))
        .copied()
        .unwrap_or(0.0);
    Ok(Run { rate, cpu_us: cpu.as_secs_f64() * 1e6 / level.requests as f64 })
}

pub(super) fn request_rate(rt: &tokio::runtime::Runtime, opts: &BenchOptions) -> Result<Vec<Row>, String> {
    let sim = SimProcess::start(&[])?;
    let url = format!("{}/api/version", sim.url);
    let secs = opts.duration.as_secs().max(1);
    let c = opts.connections;
    let what = format!("GET /api/version, {c} connections, {secs}s × {} rounds", opts.rounds);
    let load = Load::now();
    if !installed("wrk", "-v") {
        let runs = interleave(opts.rounds, &mut [&mut || hxrun(rt, &sim.url, c, secs)])?;
        let rate = Spread::of(&runs[0].iter().map(|r| r.rate).collect::<Vec<_>>()).ok_or("no rounds")?;
        return Ok(vec![Row {
            what: format!("request rate, {what}: hxrun; {}", load.text()),
            result: format!("{}; wrk not found (apt-get install wrk): no ratio", rate.with_unit("req/s", 0)),
            target: "≥ 1.00× wrk".into(),
            met: None,
        }]);
    }
    // A second of each first, not counted: the simulator's first connections and the page
    // faults of a new process are not what is compared.
    hxrun(rt, &sim.url, c, 1)?;
    wrk(&url, c, 1)?;
    let runs =
        interleave(opts.rounds, &mut [&mut || hxrun(rt, &sim.url, c, secs), &mut || wrk(&url, c, secs)])?;
    let (ours, theirs) = (&runs[0], &runs[1]);
    let of =
        |f: &dyn Fn(usize) -> f64| Spread::of(&(0..ours.len()).map(f).collect::<Vec<_>>()).ok_or("no rounds");
    let rate_ratio = of(&|i| ours[i].rate / theirs[i].rate)?;
    let cpu_ratio = of(&|i| ours[i].cpu_us / theirs[i].cpu_us)?;
    let (h_rate, w_rate) = (of(&|i| ours[i].rate)?, of(&|i| theirs[i].rate)?);
    let (h_cpu, w_cpu) = (of(&|i| ours[i].cpu_us)?, of(&|i| theirs[i].cpu_us)?);
    let verdict = load.verdict(&[&rate_ratio, &cpu_ratio]);
    let per_round = |f: &dyn Fn(usize) -> f64| {
        (0..ours.len()).map(|i| format!("{:.2}", f(i))).collect::<Vec<_>>().join(" ")
    };
    Ok(vec![
        Row {
            what: format!("request rate, {what}: hxrun; wrk -t2 (median (range))"),
            result: format!("{}; {}", h_rate.with_unit("req/s", 0), w_rate.with_unit("req/s", 0)),
            target: String::new(),
            met: None,
        },
        Row {
            what: format!("request rate, ratio hxrun / wrk, interleaved; {}", load.text()),
            result: format!(
                "{}; per round {}; {verdict}",
                rate_ratio.ratio(),
                per_round(&|i| ours[i].rate / theirs[i].rate)
            ),
            target: "≥ 1.00×".into(),
            met: Some(rate_ratio.median >= 1.0),
        },
        Row {
            what: "client CPU per request (user + system, all threads): hxrun; wrk; ratio hxrun / wrk".into(),
            result: format!(
                "{}; {}; {}; per round {}",
                h_cpu.with_unit("µs", 2),
                w_cpu.with_unit("µs", 2),
                cpu_ratio.ratio(),
                per_round(&|i| ours[i].cpu_us / theirs[i].cpu_us)
            ),
            target: "≤ 1.00×".into(),
            met: Some(cpu_ratio.median <= 1.0),
        },
    ])
}
