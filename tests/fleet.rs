//! Fleets (`targets:`, repeated `--target`) and `--jobs`.

mod common;
use common::{Sim, Workspace};
use hxrun::sim::{Faults, SimConfig};
use serde_json::Value;
use std::time::Duration;

fn checks() -> &'static str {
    r#"  - name: version
    http: { path: /api/version }
  - name: answer
    generate: { model: "phi3:latest", prompt: "Return exactly the text: HX-OK", stream: true }
    expect: { text: { equals: HX-OK } }
"#
}

#[test]
fn a_fleet_runs_every_check_on_every_server_and_shows_hosts_by_checks() {
    let good = Sim::fast();
    // The second server answers as another model: its answer check fails, its version passes.
    let bad = Sim::start(SimConfig {
        tokens_per_s: 2000.0,
        ttft: Duration::from_millis(2),
        faults: Faults { wrong_model: Some("gemma2:2b".into()), ..Faults::default() },
        ..SimConfig::default()
    });
    let ws = Workspace::new();
    ws.write(
        "fleet.yaml",
        &format!(
            "suite: fleet\ntarget: {{ api_key: shared-key-123 }}\ntargets:\n  - {{ name: llm-01, url: \"{}\" }}\n  - {{ name: llm-02, url: \"{}\", api_key: own-key-456 }}\ntests:\n{}",
            good.url,
            bad.url,
            checks()
        ),
    );
    let run = ws.hxrun(&["fleet.yaml", "--no-progress"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("fleet — checks × hosts:"), "{}", run.stdout);
    assert!(run.stdout.contains("  version  ✓       ✓"), "{}", run.stdout);
    assert!(run.stdout.contains("  answer   ✓       ✗"), "{}", run.stdout);
    let report = run.json();
    let suites = report["suites"].as_array().unwrap();
    let names: Vec<&str> = suites.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["fleet @ llm-01", "fleet @ llm-02"]);
    assert_eq!(suites[1]["host"], "llm-02");
    assert_eq!(suites[1]["target"].as_str().unwrap(), bad.url);
    let junit = run.report("junit.xml");
    assert!(junit.contains("<testsuite name=\"fleet @ llm-02\""), "{junit}");
    assert!(run.report("summary.md").contains("| fleet | llm-01 | llm-02 |"));
    assert!(run.report("report.html").contains("checks × hosts"));
    for text in run.everything() {
        assert!(
            !text.contains("own-key-456") && !text.contains("shared-key-123"),
            "a target's key leaked:\n{text}"
        );
    }
}

#[test]
fn repeated_target_flags_make_a_fleet_named_by_host_and_port() {
    let (a, b) = (Sim::fast(), Sim::fast());
    let ws = Workspace::new();
    ws.write("s.yaml", &common::suite_text("smoke", "http://127.0.0.1:9", checks()));
    let run = ws.hxrun(&["s.yaml", "--target", &a.url, "--target", &b.url, "--no-progress"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    let host = |i: usize| report["suites"][i]["host"].as_str().unwrap().to_string();
    assert_eq!(host(0), a.url.trim_start_matches("http://"));
    assert_eq!(report["suites"][1]["name"].as_str().unwrap(), format!("smoke @ {}", host(1)));
    // The same server twice is a load error: reports could not tell the two apart.
    let twice = ws.hxrun(&["s.yaml", "--target", &a.url, "--target", &a.url]);
    assert_eq!(twice.code, 2);
    assert!(twice.stderr.contains("two targets are both called"), "{}", twice.stderr);
}

/// (start, end) of each test, seconds since the epoch.
fn spans(report: &Value) -> Vec<(String, f64, f64)> {
    report["suites"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["tests"].as_array().unwrap())
        .map(|t| {
            let start = chrono::DateTime::parse_from_rfc3339(t["started_at"].as_str().unwrap()).unwrap();
            let start = start.timestamp_micros() as f64 / 1e6;
            (t["name"].as_str().unwrap().to_string(), start, start + t["duration"].as_f64().unwrap())
        })
        .collect()
}

fn overlap(a: &(String, f64, f64), b: &(String, f64, f64)) -> bool {
    a.1 < b.2 && b.1 < a.2
}

#[test]
fn jobs_run_independent_tests_at_once_and_a_perf_test_alone() {
    // Every answer takes at least 400 ms: tests that run at once overlap, whatever the load.
    let sim = Sim::start(SimConfig {
        tokens_per_s: 2000.0,
        ttft: Duration::from_millis(400),
        load_time: Duration::from_millis(1),
        ..SimConfig::default()
    });
    let ws = Workspace::new();
    let answer = |n: u32| {
        format!(
            "  - name: answer {n}\n    generate: {{ model: \"phi3:latest\", prompt: \"Return exactly the text: HX-OK\" }}\n"
        )
    };
    let tests = [
        answer(1),
        answer(2),
        answer(3),
        "  - name: load\n    perf:\n      generate: { model: \"phi3:latest\", prompt: hi }\n      iterations: 2\n".to_string(),
        answer(4),
        answer(5),
    ]
    .concat();
    ws.write("s.yaml", &common::suite_text("jobs", &sim.url, &tests));
    let run = ws.hxrun(&["s.yaml", "--jobs", "3", "--no-progress"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let spans = spans(&run.json());
    let names: Vec<&str> = spans.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(
        names,
        ["answer 1", "answer 2", "answer 3", "load", "answer 4", "answer 5"],
        "the plan's order"
    );
    assert!(overlap(&spans[0], &spans[1]) && overlap(&spans[1], &spans[2]), "{spans:?}");
    assert!(overlap(&spans[4], &spans[5]), "{spans:?}");
    for (i, s) in spans.iter().enumerate().filter(|(i, _)| *i != 3) {
        assert!(!overlap(s, &spans[3]), "test {i} ran during the perf test: {spans:?}");
    }
    // Without --jobs, one after another.
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    let one_by_one = self::spans(&run.json());
    assert!(one_by_one.windows(2).all(|w| !overlap(&w[0], &w[1])), "{one_by_one:?}");
}

#[test]
fn with_jobs_a_fleets_servers_go_side_by_side_each_answering_one_test_at_a_time() {
    let slow = || {
        Sim::start(SimConfig {
            tokens_per_s: 2000.0,
            ttft: Duration::from_millis(400),
            load_time: Duration::from_millis(1),
            ..SimConfig::default()
        })
    };
    let (a, b) = (slow(), slow());
    let ws = Workspace::new();
    let answers: String = (1..=3)
        .map(|n| format!("  - name: answer {n}\n    generate: {{ model: \"phi3:latest\", prompt: \"Return exactly the text: HX-OK\" }}\n"))
        .collect();
    ws.write("s.yaml", &common::suite_text("pair", "http://127.0.0.1:9", &answers));
    let run = ws.hxrun(&["s.yaml", "--target", &a.url, "--target", &b.url, "--jobs", "4", "--no-progress"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let all = spans(&run.json());
    let (first, second) = all.split_at(3);
    assert!(overlap(&first[0], &second[0]), "the two servers at once: {all:?}");
    for host in [first, second] {
        assert!(host.windows(2).all(|w| !overlap(&w[0], &w[1])), "one test at a time per server: {host:?}");
    }
    // Asked for, a server answers several at once.
    let run = ws.hxrun(&[
        "s.yaml",
        "--target",
        &a.url,
        "--target",
        &b.url,
        "--jobs",
        "4",
        "--jobs-per-target",
        "2",
        "--no-progress",
    ]);
    let all = spans(&run.json());
    assert!(overlap(&all[0], &all[1]), "{all:?}");
}
