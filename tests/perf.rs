//! Perf loops against the simulator: thresholds at their boundary, warm-up, errors, cold
//! loads, the saturation knee, the seed-format CSV and its appends, baselines.

mod common;
use common::{Run, Sim, Workspace};
use hxrun::sim::SimConfig;
use serde_json::Value;
use std::time::Duration;

fn sim(f: impl FnOnce(&mut SimConfig)) -> Sim {
    let mut c = SimConfig {
        tokens_per_s: 500.0,
        ttft: Duration::from_millis(2),
        load_time: Duration::from_millis(30),
        ..SimConfig::default()
    };
    f(&mut c);
    Sim::start(c)
}

fn suite(sim: &Sim, tests: &str) -> String {
    format!("suite: perf\ntarget: {{ url: \"{}\" }}\ntests:\n{tests}", sim.url)
}

fn level(run: &Run, test: usize, level: usize) -> Value {
    run.json()["suites"][0]["tests"][test]["observation"]["levels"][level].clone()
}

const SEED_HEADER: &str =
    "timestamp,model,iter,total_duration_ms,prompt_tokens,prompt_eval_ms,gen_tokens,gen_eval_ms,tokens_per_s";

#[test]
fn thresholds_pass_and_fail_at_the_boundary() {
    let sim = sim(|_| {});
    let ws = Workspace::new();
    let test = |name: &str, threshold: &str| {
        format!(
            "  - name: {name}\n    perf:\n      generate: {{ model: phi3:latest, prompt: Summarize, options: {{ num_predict: 10 }} }}\n      iterations: 2\n    thresholds:\n      server_tokens_per_s.mean: \"{threshold}\"\n      output_tokens.max: \"== 10\"\n"
        )
    };
    ws.write("s.yaml", &suite(&sim, &(test("at the bound", ">= 500") + &test("just over", "> 500"))));
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("PASS perf › at the bound"), "{}", run.stdout);
    assert!(run.stdout.contains("server_tokens_per_s.mean: expected > 500, got 500"), "{}", run.stdout);
    // A failure lists every threshold with its actual value.
    assert!(run.stdout.contains("✓ output_tokens.max = 10 (expected == 10)"), "{}", run.stdout);
    assert!(run.stdout.contains("✗ server_tokens_per_s.mean = 500 (expected > 500)"), "{}", run.stdout);
    let junit = run.report("junit.xml");
    assert!(
        junit.contains("<property name=\"just over [c=1] server_tokens_per_s.mean\" value=\"500.000000\"/>"),
        "{junit}"
    );
}

#[test]
fn warmup_is_excluded_and_cold_loads_are_measured() {
    let sim = sim(|_| {});
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &suite(
            &sim,
            r#"
  - name: warm
    perf:
      generate: { model: gemma2:2b, prompt: hi, stream: false }
      warmup: 2
      iterations: 3
      csv: warm.csv
    thresholds:
      load_duration.max: "== 0"
  - name: cold
    perf:
      generate: { model: phi3:latest, prompt: hi, stream: false }
      iterations: 3
      cold: true
    thresholds:
      load_duration.min: ">= 30ms"
      load_duration.count: "== 3"
"#,
        ),
    );
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let warm = level(&run, 0, 0);
    assert_eq!(warm["requests"], 3, "warm-up requests are not counted");
    assert_eq!(warm["samples"].as_array().unwrap().len(), 3);
    let csv = run.report("warm.csv");
    assert_eq!(csv.lines().count(), 4, "header + 3 measured rows: {csv}");
    assert_eq!(level(&run, 1, 0)["figures"]["load_duration.mean"], 0.03);
}

#[test]
fn failed_requests_are_counted_not_dropped() {
    let sim = sim(|_| {});
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &suite(
            &sim,
            r#"
  - name: unknown model
    perf:
      chat: { model: "no-such:1b", messages: [{ role: user, content: hi }] }
      iterations: 3
      csv: errors.csv
  - name: tolerated
    perf:
      http: { path: /api/missing }
      iterations: 4
    thresholds:
      error_rate: "<= 100%"
"#,
        ),
    );
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains(
            "HTTP 404: model 'no-such:1b' not found: all 3 requests failed, so nothing below was measured"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("PASS perf › tolerated"), "{}", run.stdout);
    let l = level(&run, 1, 0);
    assert_eq!((l["requests"].as_u64(), l["errors"].as_u64()), (Some(4), Some(4)));
    assert_eq!(l["figures"]["error_rate"], 100.0);
    let csv = run.report("errors.csv");
    assert_eq!(
        csv.lines().filter(|l| l.contains(",error,HTTP 404: model 'no-such:1b' not found")).count(),
        3,
        "{csv}"
    );
}

/// A sweep against servers of 1, 2, 4 and 8 slots whose speed varies ±20% request to request
/// finds each one's slots: the knee from steady-state throughput and its interval, run side by
/// side. Each request is ~100 ms of simulated pacing: a client at concurrency 1 leaves the
/// slot idle between its requests, and a busy machine's 5 ms there must stay well inside the
/// knee's 10% (at 50 ms it did not: c=1 read 9% below c=2 on a 1-slot server under load).
#[test]
fn sweeps_find_the_slots_of_noisy_servers() {
    let runs: Vec<_> = [1u32, 2, 4, 8]
        .into_iter()
        .map(|slots| {
            std::thread::spawn(move || {
                let sim = sim(|c| {
                    c.capacity = Some(slots as usize);
                    c.tokens_per_s = 200.0;
                    c.jitter = 0.2;
                });
                let ws = Workspace::new();
                ws.write(
                    "s.yaml",
                    &suite(
                        &sim,
                        r#"
  - name: capacity
    perf:
      generate: { model: phi3:latest, prompt: Summarize, stream: false, options: { num_predict: 20 } }
      iterations: 44
      concurrency: [1, 2, 4, 8, 16]
"#,
                    ),
                );
                let run = ws.hxrun(&["s.yaml"]);
                (slots, run.code, run.stdout.clone(), run.json(), run.report("perf-summary.csv"))
            })
        })
        .collect();
    for run in runs {
        let (slots, code, stdout, json, summary) = run.join().unwrap();
        assert_eq!(code, 0, "{stdout}");
        let knee = &json["suites"][0]["tests"][0]["observation"]["knee"];
        assert_eq!(
            (knee["finding"].as_str(), knee["concurrency"].as_u64()),
            (Some("saturates"), Some(u64::from(slots))),
            "{slots} slots: {knee}"
        );
        assert!(stdout.contains(&format!("throughput saturates at concurrency {slots}: ")), "{stdout}");
        assert!(stdout.contains("(95% CI "), "the interval is stated: {stdout}");
        assert_eq!(summary.lines().count(), 6, "header + one row per level: {summary}");
    }
}

#[test]
fn a_sweep_in_rounds_goes_up_and_down_the_levels_and_compares_them_round_by_round() {
    let sim = sim(|c| {
        c.capacity = Some(2);
        c.tokens_per_s = 400.0;
        c.jitter = 0.1;
    });
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &suite(
            &sim,
            r#"
  - name: rounds
    perf:
      generate: { model: phi3:latest, prompt: Summarize, stream: false, options: { num_predict: 20 } }
      iterations: 61
      concurrency: [1, 2, 4]
      rounds: 4
"#,
        ),
    );
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let json = run.json();
    let o = &json["suites"][0]["tests"][0]["observation"];
    let mut segments: Vec<(String, u64)> = Vec::new();
    for l in o["levels"].as_array().unwrap() {
        // Every request measured, the 61 shared out 16, 15, 15, 15, numbered through the rounds.
        assert_eq!(l["requests"], 61, "{l}");
        let rounds = l["rounds"].as_array().unwrap();
        assert_eq!(rounds.len(), 4);
        segments.extend(
            rounds
                .iter()
                .map(|r| (r["started_at"].as_str().unwrap().to_string(), l["concurrency"].as_u64().unwrap())),
        );
        let mut iters: Vec<u64> =
            l["samples"].as_array().unwrap().iter().map(|s| s["iter"].as_u64().unwrap()).collect();
        iters.sort_unstable();
        assert_eq!(iters, (1..=61).collect::<Vec<u64>>());
    }
    segments.sort();
    let order: Vec<u64> = segments.iter().map(|s| s.1).collect();
    assert_eq!(order, [1, 2, 4, 4, 2, 1, 1, 2, 4, 4, 2, 1], "up, down, up, down");
    assert_eq!(o["knee"]["rounds"], 4, "{}", o["knee"]);
    assert!(run.stdout.contains("paired over 4 rounds"), "{}", run.stdout);
    // `hxrun merge` of the run keeps each level's rounds, and so the knee over them.
    let merged = ws.hxrun(&["merge", "reports", "--out", "merged"]);
    assert!(merged.code == 0, "{}\n{}", merged.stdout, merged.stderr);
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join("merged/report.json")).unwrap())
            .unwrap();
    let mo = &m["suites"][0]["tests"][0]["observation"];
    assert!(
        mo["levels"].as_array().unwrap().iter().all(|l| l["rounds"].as_array().map(Vec::len) == Some(4)),
        "{mo}"
    );
    assert_eq!(mo["knee"]["rounds"], 4, "{}", mo["knee"]);
    // A sweep is what rounds interleave; a single level has none.
    ws.write(
        "one.yaml",
        &suite(&sim, "  - name: one\n    perf: { http: { path: / }, concurrency: 2, rounds: 3 }\n"),
    );
    let refused = ws.hxrun(&["validate", "one.yaml"]);
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("`rounds` interleaves the levels of a sweep"), "{}", refused.stderr);
}

#[test]
fn a_sweep_run_until_decided_stops_at_the_first_look_that_decides() {
    // A quiet 2-slot server: a look before the last decides, and no more rounds run (the
    // first look's interval is ~25 standard errors wide over 3 rounds; a busy machine's noise
    // on 100 ms requests can take it to the second or third).
    let two_slots = |jitter: f64| {
        sim(move |c| {
            c.capacity = Some(2);
            c.tokens_per_s = 200.0;
            c.jitter = jitter;
        })
    };
    let quiet = two_slots(0.05);
    // A noisy one (±60% service times): however many rounds it takes, a sweep that stopped
    // before its most rounds had decided, and every level ran every round in full.
    let noisy = two_slots(0.6);
    let test = r#"
  - name: until decided
    perf:
      generate: { model: phi3:latest, prompt: Summarize, stream: false, options: { num_predict: 20 } }
      iterations: 36   # 12 a round
      concurrency: [1, 2, 4]
      rounds: { min: 3, max: 7 }
"#;
    for (sim, quiet) in [(&quiet, true), (&noisy, false)] {
        let ws = Workspace::new();
        ws.write("s.yaml", &suite(sim, test));
        let run = ws.hxrun(&["s.yaml"]);
        assert_eq!(run.code, 0, "{}", run.stdout);
        let json = run.json();
        let o = &json["suites"][0]["tests"][0]["observation"];
        let knee = &o["knee"];
        let rounds = knee["rounds"].as_u64().unwrap();
        assert_eq!(knee["until"], serde_json::json!([3, 7]), "{knee}");
        assert!((3..=7).contains(&rounds), "{knee}");
        for l in o["levels"].as_array().unwrap() {
            assert_eq!(l["rounds"].as_array().unwrap().len() as u64, rounds, "{l}");
            assert_eq!(l["requests"].as_u64().unwrap(), 12 * rounds, "12 a round, every round: {l}");
        }
        let decided = knee["finding"] == "saturates";
        if quiet {
            assert_eq!(
                (knee["finding"].as_str(), knee["concurrency"].as_u64()),
                (Some("saturates"), Some(2))
            );
            assert!(rounds < 7, "a decided sweep stops at its look: {knee}");
            // An early look's intervals are wider than 95%: five looks share the 5%.
            let confidence = knee["confidence"].as_f64().unwrap();
            assert!(confidence > 0.97, "{knee}");
            let said =
                format!("decided after {rounds} of 3 to 7 rounds: looked at after each round from round 3");
            assert!(run.stdout.contains(&said), "{}", run.stdout);
        } else {
            assert!(decided || rounds == 7, "stopped after {rounds} rounds undecided: {knee}");
            assert!(decided || knee["finding"] == "not_determined", "{knee}");
            assert!(knee["finding"] != "saturates" || knee["concurrency"] == 2, "a wrong knee: {knee}");
        }
        // `hxrun merge` judges the rounds again at the same look's confidence.
        let merged = ws.hxrun(&["merge", "reports", "--out", "merged"]);
        assert!(merged.code == 0, "{}\n{}", merged.stdout, merged.stderr);
        let m: Value =
            serde_json::from_str(&std::fs::read_to_string(ws.path().join("merged/report.json")).unwrap())
                .unwrap();
        let mk = &m["suites"][0]["tests"][0]["observation"]["knee"];
        assert_eq!(
            (&mk["finding"], &mk["concurrency"], &mk["confidence"], &mk["until"]),
            (&knee["finding"], &knee["concurrency"], &knee["confidence"], &knee["until"])
        );
    }
    // A run stopped inside a round (`--max-time`) keeps what it measured; its levels' rounds
    // are unequal, so its knee (if any) is one pass at 95%, not a look.
    let ws = Workspace::new();
    ws.write("s.yaml", &suite(&quiet, test));
    let run = ws.hxrun(&["s.yaml", "--max-time", "4s"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let json = run.json();
    let o = &json["suites"][0]["tests"][0]["observation"];
    let rounds: Vec<usize> =
        o["levels"].as_array().unwrap().iter().map(|l| l["rounds"].as_array().map_or(0, Vec::len)).collect();
    assert!(
        rounds.iter().any(|r| *r != rounds[0]) || rounds[0] < 3,
        "stopped inside the first rounds: {rounds:?}"
    );
    assert!(
        o["knee"].is_null() || (o["knee"]["until"].is_null() && o["knee"]["confidence"] == 0.95),
        "{}",
        o["knee"]
    );
    // `min` below 2 or `max` not above it, or another form, is refused where it is written.
    let refuses = |rounds: &str, says: &str| {
        let ws = Workspace::new();
        let test = format!(
            "  - name: t\n    perf: {{ http: {{ path: / }}, concurrency: [1, 2], rounds: {rounds} }}\n"
        );
        ws.write("bad.yaml", &suite(&quiet, &test));
        let run = ws.hxrun(&["validate", "bad.yaml"]);
        assert_eq!(run.code, 2, "{rounds}");
        assert!(run.stderr.contains(says) && run.stderr.contains("bad.yaml:"), "{rounds}: {}", run.stderr);
    };
    refuses("{ min: 4, max: 4 }", "give `min` 2 or more (the knee compares rounds) and `max` above it");
    refuses("{ least: 4 }", "or rounds until the knee is decided (`{ min: 4, max: 12 }`)");
}

#[test]
fn seed_csv_columns_append_and_refusal() {
    let sim = sim(|_| {});
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &suite(&sim, "  - name: baseline\n    perf:\n      generate: { model: phi3:latest, prompt: Summarize }\n      iterations: 3\n      csv: perf/baseline.csv\n"),
    );
    assert_eq!(ws.hxrun(&["s.yaml"]).code, 0);
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 0);
    let csv = run.report("perf/baseline.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "{SEED_HEADER},ttft_ms,e2e_ms,client_tokens_per_s,concurrency,target,test,status,error"
        )),
        "{}",
        lines[0]
    );
    assert_eq!(lines.len(), 7, "one header, two runs of three rows: {csv}");
    assert_eq!(csv.matches("timestamp,").count(), 1);
    let row: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(row.len(), 17);
    assert!(row[0].ends_with('Z') && row[0].len() == 20, "UTC ISO timestamp: {}", row[0]);
    assert_eq!(&row[1..3], &["phi3:latest", "1"]);
    assert_eq!(row[8], "500.00", "server tokens/s from eval_count / eval_duration");
    assert_eq!(row[6], "24", "gen_tokens = eval_count");

    // A file with another header is refused, untouched, and the run says so (exit 3).
    let foreign = "timestamp,model,iter,tokens_per_s\n2025-08-14T00:00:00Z,phi3:latest,1,128.7\n";
    std::fs::write(ws.path().join("reports/perf/baseline.csv"), foreign).unwrap();
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("refusing to append to reports/perf/baseline.csv"), "{}", run.stderr);
    assert!(run.stderr.contains("found:    timestamp,model,iter,tokens_per_s"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("expected: {SEED_HEADER}\n")),
        "both accepted headers shown: {}",
        run.stderr
    );
    assert_eq!(run.report("perf/baseline.csv"), foreign);
}

#[test]
fn the_seed_csv_with_its_nine_columns_is_continued_in_nine() {
    let sim = sim(|_| {});
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &suite(&sim, "  - name: baseline\n    perf:\n      generate: { model: phi3:latest, prompt: Summarize }\n      iterations: 2\n      csv: baseline.csv\n"),
    );
    // The trend file the seed's baseline.sh built, as it was.
    let history =
        format!("{SEED_HEADER}\n2025-08-14T09:12:03Z,phi3:latest,1,2811.20,15,52.10,120,2401.30,49.97\n");
    std::fs::create_dir_all(ws.path().join("reports")).unwrap();
    std::fs::write(ws.path().join("reports/baseline.csv"), &history).unwrap();
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let csv = run.report("baseline.csv");
    assert!(csv.starts_with(&history), "history kept as it was: {csv}");
    let rows: Vec<&str> = csv.lines().skip(2).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    for row in rows {
        let cells: Vec<&str> = row.split(',').collect();
        assert_eq!(cells.len(), 9, "the seed's columns only: {row}");
        assert_eq!(cells[1], "phi3:latest");
        assert_eq!(cells[8], "500.00");
    }
}

#[test]
fn two_processes_append_at_once_without_torn_lines() {
    let sim = sim(|c| c.tokens_per_s = 20000.0);
    let ws = Workspace::new();
    let shared = ws.path().join("shared.csv");
    ws.write(
        "s.yaml",
        &suite(&sim, "  - name: writer\n    perf:\n      generate: { model: phi3:latest, prompt: Summarize }\n      iterations: 40\n      concurrency: 4\n"),
    );
    let spawn = |dir: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_hxrun"))
            .args(["s.yaml", "--no-progress", "--report-dir", dir, "--perf-csv", shared.to_str().unwrap()])
            .current_dir(ws.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn("a"), spawn("b"));
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    let csv = std::fs::read_to_string(&shared).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 81, "one header and 80 rows");
    assert_eq!(lines.iter().filter(|l| l.starts_with("timestamp,")).count(), 1);
    assert!(lines[1..].iter().all(|l| l.split(',').count() == 17 && l.contains(",ok,")), "{csv}");
}

#[test]
fn baseline_regression_detected_and_tolerance_respected() {
    let tests = "  - name: speed\n    perf:\n      generate: { model: phi3:latest, prompt: Summarize, options: { num_predict: 20 } }\n      iterations: 3\n    regression:\n      server_tokens_per_s.mean: 10%\n";
    let ws = Workspace::new();
    let run_against = |tps: f64, args: &[&str]| {
        let s = sim(|c| c.tokens_per_s = tps);
        ws.write("s.yaml", &suite(&s, tests));
        let mut all = vec!["s.yaml"];
        all.extend_from_slice(args);
        ws.hxrun(&all)
    };
    assert_eq!(run_against(500.0, &["--save-baseline", "base.json"]).code, 0);
    let slower = run_against(400.0, &["--baseline", "base.json"]);
    assert_eq!(slower.code, 1, "{}", slower.stdout);
    assert!(
        slower.stdout.contains(
            "regression against base.json: server_tokens_per_s.mean: 500 → 400 (-20.0%, worse beyond 10%)"
        ),
        "{}",
        slower.stdout
    );
    let close = run_against(480.0, &["--baseline", "base.json"]);
    assert_eq!(close.code, 0, "4% slower is within 10%: {}", close.stdout);
    let faster = run_against(1000.0, &["--baseline", "base.json"]);
    assert_eq!(faster.code, 0, "faster is never a regression: {}", faster.stdout);
}

#[test]
fn a_perf_loop_of_empty_answers_fails() {
    let sim = sim(|_| {});
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &suite(&sim, "  - name: nothing said\n    perf:\n      chat: { api: openai, model: phi3:latest, messages: [{ role: user, content: hi }], stream: false, options: { num_predict: 0 } }\n      iterations: 2\n"),
    );
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("answers were empty: 2 successful requests produced no output tokens"),
        "{}",
        run.stdout
    );
}

#[test]
fn the_table_of_thresholds_is_said_once_however_many_fail() {
    let sim = sim(|_| {});
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &suite(&sim, "  - name: strict\n    perf:\n      generate: { model: phi3:latest, prompt: Summarize, options: { num_predict: 5 } }\n      iterations: 2\n    thresholds:\n      server_tokens_per_s.mean: \">= 100000\"\n      e2e.p95: \"< 1us\"\n      output_tokens.max: \"== 5\"\n"),
    );
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let message = run.json()["suites"][0]["tests"][0]["message"].as_str().unwrap().to_string();
    assert_eq!(message.matches("all thresholds:").count(), 1, "{message}");
    assert!(message.contains("server_tokens_per_s.mean") && message.contains("e2e.p95"), "{message}");
}

#[test]
fn a_timeout_too_far_to_add_is_no_timeout_and_each_request_has_its_wall_clock_start() {
    let sim = sim(|_| {});
    let ws = Workspace::new();
    let test = "  - name: far\n    timeout: 400000000000y\n    perf:\n      http: { path: /api/version }\n      concurrency: 4\n      iterations: 200\n";
    ws.write("s.yaml", &suite(&sim, test));
    let before = chrono::Utc::now();
    let run = ws.hxrun(&["s.yaml"]);
    let after = chrono::Utc::now();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let l = level(&run, 0, 0);
    assert_eq!((l["requests"].as_u64(), l["errors"].as_u64()), (Some(200), Some(0)), "{l}");
    let samples = l["samples"].as_array().expect("the samples kept");
    assert_eq!(samples.len(), 200);
    let mut iters: Vec<u64> = samples.iter().map(|s| s["iter"].as_u64().unwrap()).collect();
    iters.sort_unstable();
    assert_eq!(iters, (1..=200).collect::<Vec<u64>>());
    for s in samples {
        // Derived from the monotonic clock, it is still a moment of this run on the wall clock.
        let at: chrono::DateTime<chrono::Utc> = s["started_at"].as_str().unwrap().parse().unwrap();
        assert!(
            at >= before - chrono::TimeDelta::milliseconds(1) && at <= after,
            "{at} not in {before}..{after}"
        );
    }
}

#[test]
fn absurd_waits_are_as_good_as_forever_and_never_overflow_a_clock() {
    let sim = sim(|_| {});
    let ws = Workspace::new();
    let far = "400000000000y";
    let tests = format!(
        "  - name: soak\n    timeout: {far}\n    perf:\n      generate: {{ model: phi3:latest, prompt: Summarize, options: {{ num_predict: 5 }}, chunk_timeout: {far} }}\n      concurrency: 2\n      duration: 2s\n      window: 1s\n"
    );
    ws.write("s.yaml", &suite(&sim, &tests));
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let l = level(&run, 0, 0);
    assert!(l["requests"].as_u64().unwrap() > 0 && l["errors"].as_u64() == Some(0), "{l}");
    assert!(!l["windows"].as_array().unwrap().is_empty(), "the windows still close at the end: {l}");
}

#[test]
fn an_open_loop_the_client_cannot_send_ends_with_its_duration_and_says_so() {
    let sim = sim(|_| {});
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &suite(&sim, "  - name: flood\n    perf:\n      http: { path: / }\n      rate: 1000000/s\n      duration: 1s\n      concurrency: 4\n"),
    );
    let started = std::time::Instant::now();
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    // The duration bounds the loop (it ran 25 s and more before); a wide margin for a busy machine.
    assert!(started.elapsed() < Duration::from_secs(20), "ran {:?}", started.elapsed());
    assert_eq!(run.code, 1, "a rate it could not send is a failure:\n{}", run.stdout);
    assert!(run.stdout.contains("rate: asked for 1000000.0 requests/s, sent "), "{}", run.stdout);
    let rate = &level(&run, 0, 0)["rate"];
    assert!(rate["sent"].as_f64().unwrap() < 1_000_000.0 && rate["asked"] == 1_000_000.0, "{rate}");
}
