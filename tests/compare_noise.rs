//! `hxrun compare` says which perf changes are beyond noise: a bootstrap interval of each
//! figure's change from the per-request samples both reports keep; `--fail-if-worse` fails
//! only on a regression whose change is real (or that no samples can judge).

mod common;
use common::{Sim, Workspace};
use hxrun::sim::SimConfig;
use serde_json::json;
use std::time::Duration;

fn sim(ttft_ms: u64) -> Sim {
    Sim::start(SimConfig {
        tokens_per_s: 2000.0,
        ttft: Duration::from_millis(ttft_ms),
        load_time: Duration::from_millis(1),
        jitter: 0.0,
        ..SimConfig::default()
    })
}

fn suite(url: &str) -> String {
    format!(
        "suite: speed\ntarget: {{ url: \"{url}\" }}\ntests:\n  - name: loop\n    perf:\n      \
         generate: {{ model: phi3:latest, prompt: Summarize, stream: true, options: {{ num_predict: 4 }} }}\n      \
         warmup: 1\n      iterations: 50\n"
    )
}

#[test]
fn a_fifth_slower_first_token_on_50_requests_is_a_real_change() {
    // A 40 ms first token against 48 ms: what scheduling adds on a busy machine is on both sides,
    // the 8 ms between them is not.
    let (before, after) = (sim(40), sim(48));
    let ws = Workspace::new();
    ws.write("before.yaml", &suite(&before.url));
    ws.write("after.yaml", &suite(&after.url));
    assert_eq!(ws.hxrun(&["before.yaml", "--json", "before.json", "--no-progress"]).code, 0);
    assert_eq!(ws.hxrun(&["after.yaml", "--json", "after.json", "--no-progress"]).code, 0);
    let c =
        ws.hxrun(&["compare", "before.json", "after.json", "--tolerance", "ttft.p50=10%", "--fail-if-worse"]);
    assert!(c.stdout.contains("changes beyond noise"), "{}", c.stdout);
    let real: Vec<&str> =
        c.stdout.lines().filter(|l| l.trim_start().starts_with("worse: loop ttft.p50 [c=1]")).collect();
    assert_eq!(real.len(), 1, "{}", c.stdout);
    assert!(real[0].contains(" real [+"), "{}", real[0]);
    assert_eq!(c.code, 1, "a real regression beyond its tolerance fails: {}", c.stdout);
}

/// A saved run whose perf level reports `ttft_p95` but whose kept samples say `ttfts`.
fn report(ttft_p95: f64, ttfts: &[f64]) -> serde_json::Value {
    let samples: Vec<_> = ttfts.iter().map(|t| json!({ "ok": true, "e2e": t + 0.1, "ttft": t })).collect();
    json!({ "format": 1, "suites": [{ "name": "s", "tests": [{ "name": "loop", "status": "passed", "observation": {
        "kind": "perf", "levels": [{ "concurrency": 1, "requests": ttfts.len(),
            "figures": { "ttft.p95": ttft_p95 }, "samples": samples }] } }] }] })
}

#[test]
fn fail_if_worse_fails_on_real_changes_only() {
    let ws = Workspace::new();
    // The same 40 requests in both runs, but the figure says 30% worse: beyond the tolerance,
    // and not a change the samples show.
    let ttfts: Vec<f64> = (0..40).map(|i| 0.040 + f64::from(i % 7) * 0.001).collect();
    ws.write("a.json", &report(0.046, &ttfts).to_string());
    ws.write("b.json", &report(0.060, &ttfts).to_string());
    let plain = ws.hxrun(&["compare", "a.json", "b.json"]);
    assert_eq!(plain.code, 1, "without --fail-if-worse the tolerance decides: {}", plain.stdout);
    assert!(
        plain.stdout.contains("REGRESSION beyond 20%") && plain.stdout.contains("within noise"),
        "{}",
        plain.stdout
    );
    let gated = ws.hxrun(&["compare", "a.json", "b.json", "--fail-if-worse"]);
    assert_eq!(gated.code, 0, "within noise: {}", gated.stdout);
    assert!(gated.stdout.contains("none: every figure with samples is within noise"), "{}", gated.stdout);
    // Samples that show it: a real regression, and it fails.
    let slower: Vec<f64> = ttfts.iter().map(|t| t * 1.3).collect();
    ws.write("c.json", &report(0.060, &slower).to_string());
    let real = ws.hxrun(&["compare", "a.json", "c.json", "--fail-if-worse"]);
    assert_eq!(real.code, 1, "{}", real.stdout);
    assert!(real.stdout.contains("worse: loop ttft.p95 [c=1]"), "{}", real.stdout);
    // No samples at all: the tolerance alone judges, as without the flag.
    ws.write("d.json", &report(0.046, &[]).to_string());
    ws.write("e.json", &report(0.060, &[]).to_string());
    assert_eq!(ws.hxrun(&["compare", "d.json", "e.json", "--fail-if-worse"]).code, 1);
}
