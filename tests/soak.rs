//! Soak runs: statistics per window and drift bounds, against a simulator whose answers get
//! slower as it runs (`slow_down_per_s`) and one that does not.

mod common;
use common::{Sim, Workspace};
use hxrun::sim::{Faults, SimConfig};
use std::time::Duration;

fn sim(slow_down_per_s: Option<f64>) -> Sim {
    Sim::start(SimConfig {
        tokens_per_s: 500.0,
        ttft: Duration::from_millis(10),
        load_time: Duration::from_millis(5),
        faults: Faults { slow_down_per_s, ..Faults::default() },
        ..SimConfig::default()
    })
}

fn soak(url: &str) -> String {
    common::suite_text(
        "soak",
        url,
        r#"  - name: soak
    perf:
      generate: { model: "phi3:latest", prompt: "Return exactly the text: HX-OK", stream: true }
      concurrency: 2
      duration: 4s
      window: 1s
    thresholds:
      error_rate: "== 0"
    drift:
      e2e.p50: "< 150%"
      error_rate: "< 1"
"#,
    )
}

fn level(run: &common::Run) -> serde_json::Value {
    run.json()["suites"][0]["tests"][0]["observation"]["levels"][0].clone()
}

#[test]
fn a_server_that_slows_down_fails_its_drift_bound_with_the_windows_that_show_it() {
    // Every second of uptime adds 300% of an answer's time: 4 s later answers take ~13× as
    // long, far past the bound (a steady server stays far inside it, even on a busy machine).
    let sim = sim(Some(3.0));
    let ws = Workspace::new();
    ws.write("s.yaml", &soak(&sim.url));
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("drift of e2e.p50: expected < 150%, got +"), "{}", run.stdout);
    assert!(run.stdout.contains("in the first window"), "{}", run.stdout);
    assert!(run.stdout.contains("drift over 4 windows of 1s, first to last: e2e.p95 +"), "{}", run.stdout);
    let level = level(&run);
    let windows = level["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 4, "{level}");
    let p50s: Vec<f64> = windows.iter().map(|w| w["figures"]["e2e.p50"].as_f64().unwrap()).collect();
    assert!(p50s.windows(2).all(|p| p[1] > p[0]), "each window slower than the last: {p50s:?}");
    let drift = &level["drift"]["e2e.p50"];
    assert!(drift["relative"].as_f64().unwrap() > 150.0, "{drift}");
    assert!(drift["per_hour"].as_f64().unwrap() > 0.0, "{drift}");
    // The error-rate bound held: the failure is the slowdown only.
    let report = run.report("report.json");
    assert!(report.contains("\"drift error_rate\""), "{report}");
}

#[test]
fn a_steady_server_passes_and_a_merge_keeps_the_windows() {
    let sim = sim(None);
    let ws = Workspace::new();
    ws.write("s.yaml", &soak(&sim.url));
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let level = level(&run);
    assert_eq!(level["windows"].as_array().unwrap().len(), 4, "{level}");
    let total: f64 =
        level["windows"].as_array().unwrap().iter().map(|w| w["figures"]["requests"].as_f64().unwrap()).sum();
    assert_eq!(total, level["requests"].as_f64().unwrap(), "every request is in one window");

    let merged = ws.hxrun(&["merge", "reports", "-o", "merged"]);
    assert_eq!(merged.code, 0, "{}\n{}", merged.stdout, merged.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join("merged/report.json")).unwrap())
            .unwrap();
    let again = &report["suites"][0]["tests"][0]["observation"]["levels"][0];
    assert_eq!(again["windows"], level["windows"], "windows computed again from the samples are the run's");
}

#[test]
fn drift_without_windows_is_a_load_error() {
    let ws = Workspace::new();
    ws.write("s.yaml", &soak("http://127.0.0.1:9").replace("      window: 1s\n", ""));
    let run = ws.hxrun(&["validate", "s.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("`drift` compares a soak's first window with its last"), "{}", run.stderr);
    ws.write("s.yaml", &soak("http://127.0.0.1:9").replace("duration: 4s", "iterations: 5"));
    let run = ws.hxrun(&["validate", "s.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("`window` splits a timed run"), "{}", run.stderr);
}

#[test]
fn a_gpu_memory_leak_over_the_soak_fails_its_drift_bound() {
    let sim = sim(None);
    let ws = Workspace::new();
    // VRAM that grows 64 MiB per sample (every 100 ms): about 640 MiB more per 1 s window.
    let readings: String = (0..200)
        .map(|i| {
            format!("  - - {{ util_pct: 90, mem_used_mib: {}, power_w: 150, temp_c: 60 }}\n", 4000 + i * 64)
        })
        .collect();
    ws.write(
        "gpus.yaml",
        &format!(
            "driver_version: \"575.57.08\"\ngpus:\n  - {{ name: NVIDIA H200, memory_total_mib: 143771 }}\nreadings:\n{readings}"
        ),
    );
    ws.write(
        "s.yaml",
        &soak(&sim.url)
            .replace("      window: 1s\n", "      window: 1s\n      gpu_interval: 100ms\n")
            .replace(
                "      error_rate: \"< 1\"\n",
                "      error_rate: \"< 1\"\n      gpu.memory_used.max: \"< 512MiB\"\n",
            ),
    );
    let gpus = ws.path().join("gpus.yaml");
    let run = ws.hxrun_env(&["s.yaml", "--no-progress"], &[("HXRUN_GPU_FAKE", gpus.to_str().unwrap())]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("drift of gpu.memory_used.max: expected < 512MiB, got +"), "{}", run.stdout);
    let level = level(&run);
    let first = level["windows"][0]["figures"]["gpu.memory_used.max"].as_f64().unwrap();
    let last = level["windows"][3]["figures"]["gpu.memory_used.max"].as_f64().unwrap();
    assert!(last - first > 1024.0 * 1024.0 * 1024.0, "{first} → {last}");
    // The same leak read from the GPU host's endpoint (hxrun monitor --listen there): the
    // drift bound works the same with either source.
    let monitor = common::Monitor::start(gpus.to_str().unwrap());
    let run = ws.hxrun(&["s.yaml", "--no-progress", "--gpu-source", &monitor.url]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("drift of gpu.memory_used.max: expected < 512MiB, got +"), "{}", run.stdout);
}

#[test]
fn the_examples_pass_against_the_simulator() {
    let sim = sim(None);
    let ws = Workspace::new();
    let example = common::repo().join("examples/soak.yaml");
    let run = ws.hxrun(&[
        example.to_str().unwrap(),
        "--target",
        &sim.url,
        "--var",
        "soak=3s",
        "--var",
        "window=1s",
        "--no-progress",
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("drift over 3 windows of 1s"), "{}", run.stdout);
    // The fleet example against two simulators (its own urls come from the environment).
    let other = Sim::fast();
    let fleet = common::repo().join("examples/fleet.yaml");
    let run = ws.hxrun_env(
        &[fleet.to_str().unwrap(), "--jobs", "2", "--no-progress"],
        &[("LLM_01", &sim.url), ("LLM_02", &other.url)],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("fleet-smoke — checks × hosts:"), "{}", run.stdout);
}
