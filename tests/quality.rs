//! Quality gates: a pass rate over a test's cases (`pass_rate: ">= 90%"`), with its Wilson
//! interval and the failed cases; the shipped data set and gate against the simulator, which
//! knows the answers (and gets a share wrong with `--wrong-rate`); `hxrun compare` pairing two
//! runs' cases with McNemar's exact test.

mod common;
use common::{Sim, Workspace, repo};

/// A report.json of a run in `ws` (`dir/report.json`).
fn report(ws: &Workspace, dir: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(ws.path().join(dir).join("report.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The one gate of a run's first suite.
fn gate_of(ws: &Workspace, dir: &str) -> serde_json::Value {
    let tests = report(ws, dir)["suites"][0]["tests"].clone();
    let gates: Vec<_> =
        tests.as_array().unwrap().iter().filter(|t| t.get("pass_rate").is_some()).cloned().collect();
    assert_eq!(gates.len(), 1, "{tests:#}");
    gates[0].clone()
}

#[test]
fn the_shipped_gate_passes_with_right_answers_and_an_ab_catches_a_model_that_got_worse() {
    let ws = Workspace::new();
    let example = repo().join("examples/quality-gate.yaml");
    let example = example.to_str().unwrap();
    let run = |dir: &str, wrong: &str| {
        let mut args = vec![example, "--sim", "--no-progress", "--report-dir", dir];
        if !wrong.is_empty() {
            args.extend(["--wrong-rate", wrong]);
        }
        ws.hxrun(&args)
    };
    let right = run("right", "");
    assert_eq!(right.code, 0, "{}\n{}", right.stdout, right.stderr);
    let gate = gate_of(&ws, "right");
    let rate = &gate["pass_rate"];
    assert_eq!((rate["passed"].as_u64(), rate["total"].as_u64()), (Some(50), Some(50)), "{gate:#}");
    assert_eq!(rate["cases"].as_array().unwrap().len(), 50);
    // 50 of 50 is not "certainly 100%": the interval says how sure.
    let low = rate["low"].as_f64().unwrap();
    assert!((92.0..93.5).contains(&low), "{low}");
    assert!(right.stdout.contains("1 passed, 0 failed"), "{}", right.stdout);

    let worse = run("worse", "20%");
    assert_eq!(worse.code, 1, "{}\n{}", worse.stdout, worse.stderr);
    let gate = gate_of(&ws, "worse");
    let passed = gate["pass_rate"]["passed"].as_u64().unwrap();
    assert!((30..=46).contains(&passed), "{passed} of 50 right at a 20% wrong rate");
    let message = gate["message"].as_str().unwrap();
    assert!(message.contains("is below the required >= 90%"), "{message}");
    assert!(message.contains(&format!("{} cases failed:", 50 - passed)), "{message}");
    // The run's verdict is the gate's: one test, failed.
    assert!(worse.stdout.contains("0 passed, 1 failed"), "{}", worse.stdout);
    assert!(worse.stdout.contains("MISS quality-gate › answers right [case="), "{}", worse.stdout);
    // The CSV has every case (a failed one `missed`: its gate decides) and the gate.
    let read = |path: &str| std::fs::read_to_string(ws.path().join(path)).unwrap();
    let csv = read("worse/results.csv");
    assert_eq!(csv.lines().count(), 1 + 50 + 1, "{csv}");
    assert_eq!(csv.lines().filter(|l| l.contains(",missed,")).count() as u64, 50 - passed, "{csv}");
    assert_eq!(csv.lines().filter(|l| l.contains(",failed,")).count(), 1, "{csv}");
    // JUnit: the gate is the testcase, its cases listed in it.
    let junit = read("worse/junit.xml");
    assert_eq!(junit.matches("<testcase ").count(), 1, "{junit}");
    assert!(junit.contains("✗ case=") && junit.contains("✓ case=arith-01"), "{junit}");

    // report.html: the grid of cases × gates, the answer on hover, a failed case's reason in it.
    let html = read("worse/report.html");
    assert!(html.contains(r#"<h2 id="quality">Quality gates</h2>"#), "{html}");
    let grid = &html[html.find(r#"<table class="data grid""#).unwrap()..];
    let grid = &grid[..grid.find("</table>").unwrap()];
    assert_eq!(grid.matches(r#"<td class="failed""#).count() as u64, 50 - passed, "{grid}");
    assert_eq!(grid.matches(r#"<td class="passed" title="answer: "#).count() as u64, passed, "{grid}");
    assert!(grid.contains("model=phi3:latest<br>") && grid.contains("95%: "), "{grid}");
    assert!(grid.contains("<summary>why</summary>") && grid.contains("I am not sure."), "{grid}");
    // summary.md: the gate's rate and interval.
    let md = read("worse/summary.md");
    let row = format!("| ❌ answers right [model=phi3:latest] | quality-gate | {passed} of 50 | ");
    assert!(md.contains("### Pass rates") && md.contains(&row), "{md}");

    // Paired case by case: the drop is real, and `--fail-if-worse` gates on it.
    let (a, b) = ("right/report.json", "worse/report.json");
    let compared = ws.hxrun(&["compare", a, b, "--md", "ab.md"]);
    assert_eq!(compared.code, 0, "no figure regressed, and no gate asked for:\n{}", compared.stdout);
    assert!(compared.stdout.contains("significantly worse"), "{}", compared.stdout);
    assert!(compared.stdout.contains(&format!("{} lost, 0 gained", 50 - passed)), "{}", compared.stdout);
    let gated = ws.hxrun(&["compare", a, b, "--fail-if-worse"]);
    assert_eq!(gated.code, 1, "{}", gated.stdout);
    let md = std::fs::read_to_string(ws.path().join("ab.md")).unwrap();
    assert!(md.contains("### Pass rates, case by case (1 significantly worse)"), "{md}");
    // Every case the worse run missed is listed as lost.
    let tests = gate_of(&ws, "worse")["pass_rate"]["cases"].clone();
    for case in tests.as_array().unwrap().iter().filter(|c| c["status"] == "failed") {
        let id = &case["params"].as_array().unwrap().iter().find(|p| p[0] == "case").unwrap()[1];
        assert!(
            compared.stdout.contains(&format!("case={}", id.as_str().unwrap())),
            "{id} in\n{}",
            compared.stdout
        );
    }

    // A model a little worse on 50 cases: no detectable change, no failure.
    let slightly = run("slightly", "3%");
    let lost = 50 - gate_of(&ws, "slightly")["pass_rate"]["passed"].as_u64().unwrap();
    assert!((1..=4).contains(&lost), "{lost}");
    // A case or two missed, the gate still met: the run passes.
    assert_eq!(slightly.code, 0, "{}", slightly.stdout);
    let same = ws.hxrun(&["compare", a, "slightly/report.json", "--fail-if-worse"]);
    assert_eq!(same.code, 0, "{}", same.stdout);
    assert!(same.stdout.contains("no detectable change at this sample size"), "{}", same.stdout);
}

/// A suite of `n` cases `c0..`, the ones in `wrong` expecting what the simulator does not say.
fn cases_suite(url: &str, n: usize, wrong: &[usize], gate: &str, models: &str) -> String {
    let values: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
    let expect: Vec<String> = (0..n)
        .map(|i| {
            let says = if wrong.contains(&i) { "NOT-SAID" } else { "OK-{{q}}" };
            format!("      - {{ when: \"{{{{q}}}} == c{i}\", text: {{ contains: \"{says}\" }} }}")
        })
        .collect();
    format!(
        "suite: gates\ntarget: {{ url: \"{url}\" }}\ntests:\n  - name: first\n    http: {{ path: /api/version }}\n  \
         - name: cases\n    for_each: {{ q: [{}], model: [{models}] }}\n    pass_rate: \"{gate}\"\n    \
         generate: {{ model: \"{{{{model}}}}\", prompt: \"Return exactly the text: OK-{{{{q}}}}\" }}\n    expect:\n{}\n  \
         - name: last\n    http: {{ path: /api/version }}\n",
        values.join(", "),
        expect.join("\n")
    )
}

#[test]
fn a_case_that_fails_counts_against_its_gate_not_the_run() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    // With no case file, every expansion is a case; a gate per model.
    ws.write("s.yaml", &cases_suite(&sim.url, 10, &[3], ">= 80%", "phi3:latest, gemma2:2b"));
    let run = ws.hxrun(&["s.yaml", "--no-progress", "--fail-fast"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let tests = run.json()["suites"][0]["tests"].clone();
    let names: Vec<&str> = tests.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    // In the plan's order: each gate where its first case was.
    assert_eq!(names, ["first", "cases [model=phi3:latest]", "cases [model=gemma2:2b]", "last"], "{tests:#}");
    for gate in &tests.as_array().unwrap()[1..3] {
        let rate = &gate["pass_rate"];
        // `--fail-fast` did not stop at the failed case: every case ran.
        assert_eq!((rate["passed"].as_u64(), rate["total"].as_u64()), (Some(9), Some(10)), "{gate:#}");
        assert_eq!(gate["status"], "passed");
        assert!(gate["message"].as_str().unwrap().contains("q=c3: text: expected"), "{gate:#}");
    }
    assert!(run.stdout.contains("4 passed, 0 failed"), "{}", run.stdout);

    // Asked for more than 90%, the same answers fail each model's gate.
    ws.write("s.yaml", &cases_suite(&sim.url, 10, &[3], "> 90%", "phi3:latest"));
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let gate = &run.json()["suites"][0]["tests"][1];
    assert_eq!(gate["status"], "failed");
    let message = gate["message"].as_str().unwrap();
    assert!(
        message.starts_with("pass rate 90% (9 of 10; 95% interval 59.6%–98.2%) is below the required > 90%"),
        "{message}"
    );
    assert!(message.contains("the interval reaches across 90%"), "{message}");
    // The failure points at the gate as written.
    assert!(run.stdout.contains("at s.yaml:8:16\n      8 │     pass_rate: \"> 90%\""), "{}", run.stdout);
}

#[test]
fn a_gate_is_sharded_whole_and_merged_whole() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write("s.yaml", &cases_suite(&sim.url, 8, &[1], ">= 80%", "phi3:latest"));
    let mut gates = Vec::new();
    for shard in ["1/2", "2/2"] {
        let dir = format!("shard{}", &shard[..1]);
        let run = ws.hxrun(&["s.yaml", "--shard", shard, "--report-dir", &dir, "--no-progress"]);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        for t in report(&ws, &dir)["suites"][0]["tests"].as_array().unwrap() {
            if let Some(rate) = t.get("pass_rate") {
                gates.push(rate["total"].as_u64().unwrap());
            }
        }
    }
    // All 8 cases in one shard: its verdict is the whole gate's.
    assert_eq!(gates, [8], "{gates:?}");
    let merged = ws.hxrun(&["merge", "shard*", "-o", "merged"]);
    assert_eq!(merged.code, 0, "{}\n{}", merged.stdout, merged.stderr);
    let merged = report(&ws, "merged");
    let tests = merged["suites"][0]["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 3, "{tests:#?}");
    let gate = tests.iter().find(|t| t.get("pass_rate").is_some()).unwrap();
    assert_eq!(gate["pass_rate"]["passed"], 7);
}

#[test]
fn a_gate_that_could_not_fail_or_has_no_cases_is_refused_where_it_is_written() {
    let ws = Workspace::new();
    for (gate, extra, message) in [
        (r#"">= 0.9""#, "for_each: { q: [a, b] }", "is a share of the cases that pass: write it in percent"),
        (r#""<= 90%""#, "for_each: { q: [a, b] }", "must ask for at least a share"),
        (r#"">= 0%""#, "for_each: { q: [a, b] }", "holds for any result, so the gate could never fail"),
        (r#""> 100%""#, "for_each: { q: [a, b] }", "can never be met or never fail"),
        (r#"">= 90%""#, "", "`pass_rate` judges the cases of a test that runs several: give it `for_each`"),
    ] {
        ws.write(
            "suite.yaml",
            &format!(
                "suite: s\ntests:\n  - name: t\n    {extra}\n    pass_rate: {gate}\n    generate: {{ model: m, prompt: \"{{{{q}}}}\" }}\n"
            )
            .replace("\"{{q}}\"", if extra.is_empty() { "hi" } else { "\"{{q}}\"" }),
        );
        let run = ws.hxrun(&["validate", "suite.yaml"]);
        assert_eq!(run.code, 2, "{gate}: {}", run.stderr);
        assert!(run.stderr.contains("error: suite.yaml:5:16: "), "{gate}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{gate}: {}", run.stderr);
        assert!(!run.stderr.contains("(and any case like it)") || extra.is_empty(), "{}", run.stderr);
    }
    ws.write(
        "suite.yaml",
        "suite: s\ntests:\n  - name: t\n    for_each: { c: [1, 2] }\n    pass_rate: \">= 90%\"\n    perf: { generate: { model: m, prompt: hi }, iterations: 2 }\n",
    );
    let run = ws.hxrun(&["validate", "suite.yaml"]);
    assert!(run.stderr.contains("judges answers, not a perf loop's figures"), "{}", run.stderr);
}

#[test]
fn the_standalone_simulator_answers_a_case_file_and_gets_the_share_asked_wrong() {
    let cases = repo().join("examples/quality/cases.jsonl");
    let ask = |wrong: &str| -> Vec<String> {
        let sim = common::SimProcess::spawn(&["--answers", cases.to_str().unwrap(), "--wrong-rate", wrong]);
        let url = &sim.url;
        let client = reqwest::blocking::Client::new();
        std::fs::read_to_string(&cases)
            .unwrap()
            .lines()
            .map(|l| {
                let row: serde_json::Value = serde_json::from_str(l).unwrap();
                let body =
                    serde_json::json!({ "model": "phi3:latest", "prompt": row["question"], "stream": false });
                let r: serde_json::Value =
                    client.post(format!("{url}/api/generate")).json(&body).send().unwrap().json().unwrap();
                r["response"].as_str().unwrap().to_string()
            })
            .collect()
    };
    let right = ask("0%");
    assert_eq!(right[0], "42");
    assert_eq!(right[49], r#"{"answer": "0"}"#, "a row's `reply` is what it says");
    let wrong = ask("30%");
    let differ = right.iter().zip(&wrong).filter(|(a, b)| a != b).count();
    assert!((6..=25).contains(&differ), "{differ} of 50 wrong at 30%");
    assert_eq!(wrong, ask("30%"), "the same ones every run");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_hxrun"))
        .args(["sim", "--answers", "nope.jsonl"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("error: --answers nope.jsonl: cannot read the case file"),
        "{bad:?}"
    );
}

#[test]
fn cases_that_fail_for_one_reason_are_said_once() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write("s.yaml", &cases_suite(&sim.url, 10, &[], ">= 90%", "nope:1b"));
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let gate = &run.json()["suites"][0]["tests"][1];
    let message = gate["message"].as_str().unwrap();
    assert!(message.contains("10 cases failed:\n  10 cases (q=c0, q=c1, …): "), "{message}");
    assert!(message.contains("model 'nope:1b' not found"), "{message}");
    assert_eq!(message.lines().count(), 3, "the verdict, the count, one reason: {message}");
}

#[test]
fn the_grid_compares_each_model_with_the_first_case_by_case() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    // One model the server has, one it lacks: every case lost, beyond chance (p = 2/2^10).
    ws.write("s.yaml", &cases_suite(&sim.url, 10, &[], ">= 90%", "phi3:latest, nope:1b"));
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let page = run.report("report.html");
    assert!(page.contains("vs model=phi3:latest: -100.0 points, p = 0.002 — significantly worse"), "{page}");
    // The first model's column is the reference: no comparison of its own.
    assert_eq!(page.matches("vs model=").count(), 1);
}
