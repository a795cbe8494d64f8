//! Load shapes against the simulator: a ramp's stages, each with figures of its own, and the
//! capacity search — the highest request rate at which the SLOs still hold — found against a
//! server whose capacity the test knows. (The search's statistics and path are tested on a
//! modelled server in `perf::search::tests`, ten seeded searches; the real-time runs are
//! `scripts/capacity-search.sh`.)

mod common;
use common::{Sim, Workspace};
use serde_json::Value;

/// 4 slots, no noise: 20 ms to the first token, then 5 ms a token.
fn four_slots() -> Sim {
    Sim::slots(4)
}

/// A suite of one perf test against `url` (its `perf` keys after the request, and its
/// thresholds), run against it: the workspace and the run.
fn run_shaped(url: &str, perf: &str, thresholds: &str) -> (Workspace, common::Run) {
    let ws = Workspace::new();
    ws.write("s.yaml", &suite(url, perf, thresholds));
    let run = ws.hxrun(&["s.yaml", "--no-progress", "--metrics-file", "reports/hxrun.prom"]);
    (ws, run)
}

/// `hxrun merge` of the run's report directory, and the merged report.
fn merged(ws: &Workspace) -> Value {
    let merged = ws.hxrun(&["merge", "reports", "-o", "merged"]);
    assert_eq!(merged.code, 0, "{}\n{}", merged.stdout, merged.stderr);
    serde_json::from_str(&std::fs::read_to_string(ws.path().join("merged/report.json")).unwrap()).unwrap()
}

fn suite(url: &str, perf: &str, thresholds: &str) -> String {
    format!(
        r#"suite: shapes
target: {{ url: "{url}" }}
tests:
  - name: shaped
    perf:
      generate: {{ model: phi3:latest, prompt: hi, stream: true, options: {{ num_predict: 8 }} }}
{perf}
{thresholds}
"#
    )
}

fn observation(run: &common::Run) -> Value {
    run.json()["suites"][0]["tests"][0]["observation"].clone()
}

#[test]
fn a_ramp_measures_each_stage_on_its_own_and_a_merge_keeps_the_stages() {
    let sim = four_slots();
    let (ws, run) = run_shaped(
        &sim.url,
        "      concurrency: 16
      slo: { ttft: 1s }
      stages:
        - { rate: 5/s, for: 1s }
        - { rate: 20/s, for: 1s }
        - { concurrency: 2, for: 1s }",
        "    thresholds:\n      error_rate: \"== 0\"",
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let o = observation(&run);
    let levels = o["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 3, "{o}");
    let stages: Vec<u64> = levels.iter().map(|l| l["stage"]["index"].as_u64().unwrap()).collect();
    assert_eq!(stages, [1, 2, 3]);
    assert_eq!(levels[0]["rate"]["asked"], 5.0);
    assert_eq!(levels[1]["rate"]["asked"], 20.0);
    assert!(levels[2]["rate"].is_null(), "a closed-loop stage: {}", levels[2]);
    assert_eq!(levels[2]["concurrency"], 2);
    // Uniform arrivals: 5 and 20 requests, over the stage's whole second (a busy machine may
    // start the last one too late to count).
    let requests = |i: usize| levels[i]["requests"].as_u64().unwrap();
    assert!((4..=5).contains(&requests(0)) && (17..=20).contains(&requests(1)), "{o}");
    let throughput = levels[0]["figures"]["request_throughput"].as_f64().unwrap();
    assert!((3.5..=5.5).contains(&throughput), "over the stage's time, not to its last answer: {throughput}");
    assert!(o["knee"].is_null(), "a ramp has no knee");
    assert!(run.stdout.contains("stage 2 (20/s): "), "{}", run.stdout);
    assert!(run.report("perf-summary.csv").contains(",stage 2 (20/s),"), "a row per stage");
    assert!(run.report("report.html").contains("requests per second, stage by stage"));
    assert!(run.report("hxrun.prom").contains(r#"level="stage 2""#), "each stage its own series");

    // Merged again from the samples: each stage keeps its own requests and figures.
    let again = merged(&ws);
    let again = &again["suites"][0]["tests"][0]["observation"]["levels"];
    for (a, b) in levels.iter().zip(again.as_array().unwrap()) {
        assert_eq!((&a["stage"], &a["requests"], &a["rate"]), (&b["stage"], &b["requests"], &b["rate"]));
        assert_eq!(
            a["figures"]["ttft.p95"], b["figures"]["ttft.p95"],
            "computed again from the same samples"
        );
    }
    // Compared stage by stage.
    let compared = ws.hxrun(&["compare", "reports/report.json", "merged/report.json"]);
    assert!(compared.stdout.contains("[stage 2 (20/s)]"), "{}", compared.stdout);
}

#[test]
fn a_capacity_search_finds_a_simulated_servers_capacity_and_gates_it() {
    let sim = four_slots();
    let (ws, run) = run_shaped(
        &sim.url,
        "      concurrency: 64
      slo: { ttft: 150ms }
      search: { rate: [8/s, 256/s], attainment: \"90%\", for: 1500ms, precision: 10% }",
        "    thresholds:\n      capacity_rate: \">= 5\"",
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let o = observation(&run);
    let search = &o["search"];
    let probes = search["probes"].as_array().unwrap();
    let path: Vec<f64> = probes.iter().map(|p| p["value"].as_f64().unwrap()).collect();
    assert_eq!(&path[..3], &[8.0, 16.0, 32.0], "doubling from the bottom: {path:?}");
    // The capacity the server has: 4 slots over one answer's time, as the first probe (no
    // queue) measured it.
    let service = o["levels"][0]["figures"]["e2e.mean"].as_f64().unwrap();
    let known = 4.0 / service;
    let found = search["capacity"].as_f64().unwrap();
    // A busy machine slows the simulator (a lower capacity) more than it could speed it up.
    assert!(
        found >= known * 0.6 && found <= known * 1.15,
        "found {found:.1}/s, the server's is {known:.1}/s"
    );
    let missed = search["missed_at"].as_f64().unwrap();
    assert!(missed > found && missed <= found * 1.1 + 1e-9, "bracket within 10%: {found} – {missed}");
    // The level of the capacity carries it, and the gate judged it.
    let at = probes.iter().find(|p| p["value"] == search["capacity"]).unwrap()["level"].as_u64().unwrap();
    assert_eq!(o["levels"][at as usize]["figures"]["capacity_rate"].as_f64(), Some(found));
    let tests = &run.json()["suites"][0]["tests"][0];
    let gate = tests["assertions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["what"].as_str().unwrap().ends_with("threshold capacity_rate"))
        .unwrap()
        .clone();
    assert_eq!(gate["passed"], true, "{gate}");
    assert!(
        run.stdout.contains(&format!("capacity {} (slo_attainment ≥ 90%)", fmt(found))),
        "{}",
        run.stdout
    );
    let page = run.report("report.html");
    assert!(page.contains("capacity search: slo_attainment of each probe"), "the path is drawn");
    assert!(page.contains("capacity search: </strong>"), "and stated");
    assert!(run.report("summary.md").contains("**shaped**: capacity "));

    // A merge of the one run keeps its search and the level that carries the capacity.
    let again = merged(&ws);
    let again = &again["suites"][0]["tests"][0]["observation"];
    assert_eq!(again["search"], o["search"]);
    assert_eq!(again["levels"][at as usize]["figures"]["capacity_rate"].as_f64(), Some(found));
    assert_eq!(again["levels"][at as usize]["stage"]["probe"], true);
    // Compared run to run: the capacity's level pairs up, the probes (each run's own path) do not.
    let compared = ws.hxrun(&["compare", "reports/report.json", "merged/report.json"]);
    assert!(compared.stdout.contains("[capacity ("), "{}", compared.stdout);
    assert!(!compared.stdout.contains("[probe "), "{}", compared.stdout);
}

/// A rate as hxrun writes it (`format_rate`): up to three decimals.
fn fmt(rate: f64) -> String {
    let s = format!("{rate:.3}");
    format!("{}/s", s.trim_end_matches('0').trim_end_matches('.'))
}

#[test]
fn a_server_below_the_searched_range_fails_the_search_and_its_gate() {
    let sim = four_slots();
    let (_ws, run) = run_shaped(
        &sim.url,
        "      concurrency: 4
      slo: { ttft: 1ms }
      search: { rate: [2/s, 8/s], attainment: \"90%\", for: 1s }",
        "    thresholds:\n      capacity_rate: \">= 2\"",
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("capacity search: capacity below 2/s (slo_attainment ≥ 90%): the lowest probe missed it; search lower"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("capacity_rate: not measured, no probe met the target"), "{}", run.stdout);
    assert_eq!(observation(&run)["search"]["probes"].as_array().unwrap().len(), 1);
}

#[test]
fn shapes_that_cannot_run_are_load_errors_at_their_place() {
    let ws = Workspace::new();
    for (perf, thresholds, message) in [
        (
            "      stages: [{ rate: 2/s, for: 1s }]",
            "",
            "stage 1 (`rate`) is an open loop: give the perf step `concurrency`",
        ),
        (
            "      concurrency: 4\n      stages: [{ rate: 2/s, concurrency: 2, for: 1s }]",
            "",
            "stage 1 takes a `rate`",
        ),
        (
            "      concurrency: 4\n      iterations: 5\n      stages: [{ concurrency: 2, for: 1s }]",
            "",
            "`iterations` does not go with `stages`",
        ),
        (
            "      concurrency: 4\n      search: { rate: [1/s, 8/s], attainment: \"95%\", for: 2s }",
            "",
            "`search` finds the highest load at which requests meet the step's SLOs, and this step has none",
        ),
        (
            "      slo: { ttft: 1s }\n      search: { concurrency: [8, 2], attainment: \"95%\", for: 2s }",
            "",
            "`search.concurrency`: the lowest first, then the highest",
        ),
        (
            "      slo: { ttft: 1s }\n      search: { concurrency: [1, 8], attainment: \"95\", for: 2s }",
            "",
            "\"95\" is not a share",
        ),
        (
            "      slo: { ttft: 1s }\n      search: { concurrency: [1, 8], attainment: \"95%\", for: 2s }",
            "    thresholds:\n      capacity_rate: \">= 1\"",
            "`capacity_rate` is what a capacity search over `rate` finds",
        ),
    ] {
        ws.write("s.yaml", &suite("http://127.0.0.1:9", perf, thresholds));
        let run = ws.hxrun(&["validate", "s.yaml"]);
        assert_eq!(run.code, 2, "{perf}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{perf}: {}", run.stderr);
        assert!(run.stderr.contains("s.yaml:"), "file:line:col: {}", run.stderr);
    }
}
