//! Shards and load generators merged into one report (`hxrun merge`), with `--shard`,
//! `--start-at` and `--barrier`.

mod common;
use common::{Sim, Workspace};
use serde_json::Value;
use std::collections::BTreeMap;

fn suite(url: &str) -> String {
    common::suite_text(
        "fleet",
        url,
        r#"  - name: root
    http: { path: / }
  - name: version
    http: { path: /api/version }
  - name: missing page
    http: { path: /nope }
  - name: tags
    http: { path: /api/tags }
  - name: answer
    generate: { model: "phi3:latest", prompt: "Return exactly the text: HX-OK", stream: true }
  - name: models
    models: { present: ["phi3:latest"] }
  - name: load
    perf:
      generate: { model: "phi3:latest", prompt: "Return exactly the text: HX-OK", stream: true }
      concurrency: [1, 2]
      iterations: 12
      csv: perf/load.csv
    thresholds:
      e2e.p95: "< 30s"
"#,
    )
}

fn json(ws: &Workspace, dir: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(ws.path().join(dir).join("report.json")).unwrap()).unwrap()
}

fn read(ws: &Workspace, path: &str) -> String {
    std::fs::read_to_string(ws.path().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every test's (name, status) in a report.json.
fn statuses(report: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = report["suites"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["tests"].as_array().unwrap())
        .map(|t| (t["name"].as_str().unwrap().to_string(), t["status"].as_str().unwrap().to_string()))
        .collect();
    out.sort();
    out
}

/// The levels of the perf test `load`: concurrency → level.
fn levels(report: &Value) -> BTreeMap<u64, Value> {
    let test = report["suites"][0]["tests"].as_array().unwrap().iter().find(|t| t["name"] == "load").unwrap();
    test["observation"]["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["concurrency"].as_u64().unwrap(), l.clone()))
        .collect()
}

fn testcase_names(junit: &str) -> Vec<String> {
    let mut names: Vec<String> = junit
        .split("<testcase ")
        .skip(1)
        .map(|c| c.split("name=\"").nth(1).unwrap().split('"').next().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn three_shards_merge_into_the_whole_run() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write("s.yaml", &suite(&sim.url));
    let whole = ws.hxrun(&["s.yaml", "--report-dir", "whole", "--no-progress"]);
    assert_eq!(whole.code, 1, "the missing page fails: {}", whole.stderr);
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let dir = format!("shard{k}");
        let run = ws.hxrun(&["s.yaml", "--shard", &shard, "--report-dir", &dir, "--no-progress"]);
        assert!(run.code <= 1, "{}", run.stderr);
    }
    // A quoted pattern names them (an image without a shell has no glob of its own).
    let merged = ws.hxrun(&["merge", "shard*", "-o", "merged"]);
    assert_eq!(merged.code, 1, "a failed test fails the merge: {}\n{}", merged.stdout, merged.stderr);
    assert!(merged.stdout.contains("merged 3 runs into merged: 7 tests"), "{}", merged.stdout);

    let (whole_json, merged_json) = (json(&ws, "whole"), json(&ws, "merged"));
    assert_eq!(statuses(&merged_json), statuses(&whole_json));
    assert_eq!(merged_json["suites"].as_array().unwrap().len(), 1, "one suite, as in the whole run");

    let junit = read(&ws, "merged/junit.xml");
    assert_eq!(testcase_names(&junit), testcase_names(&read(&ws, "whole/junit.xml")), "{junit}");
    assert!(junit.contains("tests=\"7\"") && junit.contains("failures=\"1\""), "{junit}");

    let csv = read(&ws, "merged/results.csv");
    let header = csv.lines().next().unwrap();
    assert_eq!(csv.lines().filter(|l| *l == header).count(), 1, "one header: {csv}");
    assert_eq!(csv.lines().count(), 8, "a row per test: {csv}");
    // The per-request CSV of the one perf test came along, one header, a row per request.
    let perf = read(&ws, "merged/perf/load.csv");
    assert_eq!(perf.lines().count(), 1 + 24, "{perf}");
    // Merging again into the same folder writes the same files, not twice the rows.
    let again = ws.hxrun(&["merge", "shard*", "-o", "merged"]);
    assert_eq!(again.code, 1);
    assert_eq!(read(&ws, "merged/perf/load.csv").lines().count(), 1 + 24);
    // The perf test ran in one shard: its merged figures are its own, to the bit.
    let shard_of_load = (1..=3)
        .map(|k| json(&ws, &format!("shard{k}")))
        .find(|j| statuses(j).iter().any(|(n, _)| n == "load"))
        .unwrap();
    for (c, level) in levels(&merged_json) {
        let own = &levels(&shard_of_load)[&c];
        assert_eq!(level["stats"], own["stats"], "c={c}");
        assert_eq!(level["figures"]["request_throughput"], own["figures"]["request_throughput"], "c={c}");
    }
    for f in ["report.html", "summary.md", "perf-summary.csv"] {
        assert!(ws.path().join("merged").join(f).exists(), "{f}");
    }
}

#[test]
fn generators_started_together_merge_into_the_statistics_of_all_their_requests() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write("s.yaml", &suite(&sim.url));
    let at = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    // Three processes at once, as three CI jobs would be.
    let generators: Vec<_> = (1..=3)
        .map(|k| {
            let dir = format!("gen{k}");
            ws.command(&[
                "s.yaml",
                "--filter",
                "load",
                "--report-dir",
                &dir,
                "--no-progress",
                "--start-at",
                &at,
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
        })
        .collect();
    for mut g in generators {
        assert!(g.wait().unwrap().success());
    }
    let at = chrono::DateTime::parse_from_rfc3339(&at).unwrap();
    for k in 1..=3 {
        let first = &levels(&json(&ws, &format!("gen{k}")))[&1]["started_at"];
        let first = chrono::DateTime::parse_from_rfc3339(first.as_str().unwrap()).unwrap();
        assert!(first >= at, "gen{k} began measuring at {first}, before {at}");
    }
    let merged = ws.hxrun(&["merge", "gen1", "gen2", "gen3", "-o", "merged"]);
    assert_eq!(merged.code, 0, "{}\n{}", merged.stdout, merged.stderr);
    let parts: Vec<_> = (1..=3).map(|k| levels(&json(&ws, &format!("gen{k}")))).collect();
    for (c, level) in levels(&json(&ws, "merged")) {
        let of = |l: &Value, stat: &str| l["stats"]["e2e"][stat].as_f64().unwrap();
        assert_eq!(level["requests"].as_u64(), Some(36), "c={c}: 3 × 12 requests");
        assert_eq!(level["stats"]["e2e"]["count"].as_u64(), Some(36));
        let mins = parts.iter().map(|p| of(&p[&c], "min")).fold(f64::INFINITY, f64::min);
        let maxes = parts.iter().map(|p| of(&p[&c], "max")).fold(0.0, f64::max);
        assert_eq!((of(&level, "min"), of(&level, "max")), (mins, maxes), "c={c}");
        // The union's median lies between the parts' medians (an average of percentiles
        // would too; exactness itself is proven in the unit tests, to the bit).
        let p50s: Vec<f64> = parts.iter().map(|p| of(&p[&c], "p50")).collect();
        let p50 = of(&level, "p50");
        assert!(p50s.iter().any(|x| *x <= p50) && p50s.iter().any(|x| *x >= p50), "{p50} vs {p50s:?}");
    }
    let samples = std::fs::read_dir(ws.path().join("merged/samples")).unwrap().count();
    assert_eq!(samples, 1, "the merged samples file, for a merge of merges");
    // A merge of one generator recomputes its statistics from its samples: the same, to the bit.
    let again = ws.hxrun(&["merge", "gen2", "-o", "again"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        levels(&json(&ws, "again")).values().map(|l| l["stats"].clone()).collect::<Vec<_>>(),
        parts[1].values().map(|l| l["stats"].clone()).collect::<Vec<_>>()
    );
}

#[test]
fn a_missing_samples_folder_or_report_is_said_plainly() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write("s.yaml", &suite(&sim.url));
    let run = ws.hxrun(&["s.yaml", "--filter", "load", "--report-dir", "one", "--no-progress"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    std::fs::remove_dir_all(ws.path().join("one/samples")).unwrap();
    let merged = ws.hxrun(&["merge", "one", "-o", "out"]);
    assert_eq!(merged.code, 2);
    assert!(
        merged.stderr.contains("is missing: merge needs each run's samples/ folder"),
        "{}",
        merged.stderr
    );
    for twice in [["one", "one"], ["one", "one/report.json"]] {
        let run = ws.hxrun(&["merge", twice[0], twice[1], "-o", "out"]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains("are the same run: each run is merged once"), "{}", run.stderr);
    }
    let into_itself = ws.hxrun(&["merge", "one", "-o", "one"]);
    assert_eq!(into_itself.code, 2);
    assert!(into_itself.stderr.contains("is one of the inputs"), "{}", into_itself.stderr);
    let none = ws.hxrun(&["merge", "nowhere", "-o", "out"]);
    assert_eq!(none.code, 2);
    assert!(none.stderr.contains("cannot read nowhere: no such report directory"), "{}", none.stderr);
}

#[test]
fn a_barrier_that_never_opens_runs_nothing_and_says_why() {
    let ws = Workspace::new();
    ws.write("s.yaml", &suite("http://127.0.0.1:9"));
    let run = ws.hxrun(&["s.yaml", "--barrier", "go.flag", "--barrier-timeout", "300ms", "--no-progress"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert!(report["stopped"].as_str().unwrap().contains("the barrier go.flag did not open within 300ms"));
    assert!(statuses(&report).iter().all(|(_, s)| s == "skipped"), "{:?}", statuses(&report));
    // Once the flag exists, the run goes.
    ws.write("go.flag", "");
    let sim = Sim::fast();
    ws.write("s.yaml", &suite(&sim.url));
    let run = ws.hxrun(&["s.yaml", "--filter", "version", "--barrier", "go.flag", "--no-progress"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // --max-time bounds the wait too: a barrier left to its 30-minute default ends with it.
    let run = ws.hxrun(&["s.yaml", "--barrier", "never.flag", "--max-time", "500ms", "--no-progress"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.json()["stopped"].as_str().unwrap().contains("--max-time 500ms"), "{}", run.stdout);
}

#[test]
fn shards_each_run_against_their_own_simulator_merge_into_one_suite() {
    let ws = Workspace::new();
    ws.write("s.yaml", &common::suite_text("s", "http://127.0.0.1:9", "  - name: root\n    http: { path: / }\n  - name: version\n    http: { path: /api/version }\n  - name: tags\n    http: { path: /api/tags }\n"));
    for k in 1..=2 {
        let dir = format!("shard{k}");
        let run = ws.hxrun(&[
            "s.yaml",
            "--sim",
            "--no-progress",
            "--shard",
            &format!("{k}/2"),
            "--report-dir",
            &dir,
        ]);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    }
    let merged = ws.hxrun(&["merge", "shard1", "shard2", "-o", "out"]);
    assert_eq!(merged.code, 0, "{}", merged.stderr);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join("out/report.json")).unwrap()).unwrap();
    let suites = report["suites"].as_array().unwrap();
    assert_eq!(suites.len(), 1, "each shard's simulator had its own port; they are one server: {suites:?}");
    assert_eq!(statuses(&report).len(), 3);
}
