//! The shipped suites run green against the simulator, with every report written.

mod common;
use common::{Sim, Workspace, repo};

#[test]
fn phase6_passes_against_the_simulator() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    let suite = repo().join("suites/phase6.yaml");
    let run = ws.hxrun(&[suite.to_str().unwrap(), "--target", &sim.url, "--var", "HXRUN_SIM=1"]);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("0 failed"), "{}", run.stdout);
    let report = run.json();
    let tests = report["suites"][0]["tests"].as_array().unwrap();
    // 2 runtime + 3 smoke/registry + 5 show + 5 inference checks.
    assert_eq!(tests.len(), 15);
    let names: Vec<&str> = tests.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"exact answer from gemma2:2b (non-stream)"), "{names:?}");
    let junit = run.report("junit.xml");
    assert_eq!(junit.matches("<testcase ").count(), 15);
    let csv = run.report("results.csv");
    assert!(csv.starts_with("timestamp,suite,test,status,duration_ms,attempts,message\n"));
    assert_eq!(csv.lines().count(), 16);
}

#[test]
fn sim_flag_runs_phase6_in_process() {
    let ws = Workspace::new();
    let suite = repo().join("suites/phase6.yaml");
    let run = ws.hxrun(&[suite.to_str().unwrap(), "--sim"]);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("built-in simulator listening on http://127.0.0.1:"));
    // The systemd check cannot run against the simulator and says why.
    assert!(run.stdout.contains("SKIP phase6 › ollama service active"), "{}", run.stdout);
    assert!(run.stdout.contains("14 passed, 0 failed, 1 skipped"), "{}", run.stdout);
}

#[test]
fn smoke_suites_pass() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    for name in ["smoke.yaml", "comprehensive-smoke.yaml"] {
        let suite = repo().join("suites").join(name);
        let run = ws.hxrun(&[suite.to_str().unwrap(), "--target", &sim.url]);
        assert_eq!(run.code, 0, "{name}\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    }
}
