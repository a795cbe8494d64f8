//! A run that selects nothing is an error, never a green run of nothing; --exclude-tag and
//! --fail-fast.

mod common;
use common::{Sim, Workspace};

fn suite(url: &str) -> String {
    format!(
        r#"suite: sel
target: {{ url: "{url}" }}
tests:
  - name: root
    tags: [smoke]
    http: {{ path: / }}
  - name: version
    tags: [smoke, inference]
    http: {{ path: /api/version }}
  - name: missing page
    tags: [extra]
    http: {{ path: /nope }}
  - name: last
    http: {{ path: / }}
"#
    )
}

#[test]
fn a_misspelt_tag_or_filter_selects_nothing_and_exits_2() {
    let ws = Workspace::new();
    ws.write("s.yaml", &suite("http://127.0.0.1:9"));
    for args in
        [vec!["s.yaml", "--tag", "infrence"], vec!["validate", "s.yaml", "--filter", "nothing like it"]]
    {
        let run = ws.hxrun(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("error: no test selected: "), "{}", run.stderr);
        assert!(
            run.stderr.contains("matched none of the 4 tests (their tags: extra, inference, smoke)"),
            "{}",
            run.stderr
        );
    }
    let run = ws.hxrun(&["s.yaml", "--tag", "infrence"]);
    assert!(run.stderr.contains("--tag infrence matched none"), "{}", run.stderr);
    assert!(!ws.path().join("reports/junit.xml").exists(), "nothing ran, nothing reported");
}

#[test]
fn an_empty_suite_or_for_each_list_is_an_error_with_its_place() {
    let ws = Workspace::new();
    ws.write("empty.yaml", "suite: e\ntests: []\n");
    let run = ws.hxrun(&["validate", "empty.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("empty.yaml:2:8: the suite has no tests"), "{}", run.stderr);
    ws.write(
        "list.yaml",
        "suite: l\nvars: { models: [] }\ntests:\n  - name: m {{model}}\n    for_each: { model: \"${models}\" }\n    http: { path: / }\n",
    );
    let run = ws.hxrun(&["validate", "list.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("list.yaml:5:24: `for_each.model` is an empty list"), "{}", run.stderr);
}

#[test]
fn exclude_tag_leaves_tests_out() {
    let ws = Workspace::new();
    ws.write("s.yaml", &suite("http://127.0.0.1:9"));
    let run = ws.hxrun(&["list", "s.yaml", "--tag", "smoke", "--exclude-tag", "inference"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("  root"), "{}", run.stdout);
    assert!(!run.stdout.contains("version") && !run.stdout.contains("last"), "{}", run.stdout);
}

#[test]
fn fail_fast_stops_at_the_first_failure_with_every_report() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write("s.yaml", &suite(&sim.url));
    let run = ws.hxrun(&["s.yaml", "--fail-fast"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let tests = run.json()["suites"][0]["tests"].as_array().unwrap().clone();
    let status: Vec<&str> = tests.iter().map(|t| t["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["passed", "passed", "failed", "skipped"]);
    assert_eq!(tests[3]["message"], "not run: --fail-fast: \"missing page\" failed");
    assert!(run.report("junit.xml").contains("tests=\"4\""));
}

#[test]
fn junit_testcases_stay_unique_when_a_suite_runs_twice() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    let one = format!(
        "suite: same\ntarget: {{ url: \"{}\" }}\ntests:\n  - name: root\n    http: {{ path: / }}\n",
        sim.url
    );
    ws.write("a.yaml", &one);
    ws.write("b.yaml", &one);
    let run = ws.hxrun(&["a.yaml", "a.yaml", "b.yaml"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let junit = run.report("junit.xml");
    let suites: Vec<&str> =
        junit.split("<testsuite name=\"").skip(1).map(|s| s.split('"').next().unwrap()).collect();
    assert_eq!(suites, ["same (a.yaml) #1", "same (a.yaml) #2", "same (b.yaml)"], "{junit}");
    let classes: Vec<&str> =
        junit.split("classname=\"").skip(1).map(|s| s.split('"').next().unwrap()).collect();
    let unique: std::collections::BTreeSet<&&str> = classes.iter().collect();
    assert_eq!(unique.len(), 3, "classname + name identify each case: {classes:?}");
}

/// The test names `hxrun list` prints for these arguments.
fn listed(ws: &Workspace, args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let run = ws.hxrun_env(args, env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    run.stdout
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(|l| l.trim().split("  ").next().unwrap().to_string())
        .collect()
}

#[test]
fn shards_are_disjoint_balanced_cover_the_run_and_ignore_order() {
    let ws = Workspace::new();
    let names: Vec<String> = (0..23).map(|i| format!("check {i:02}")).collect();
    let body = |order: &[String]| {
        let tests: String =
            order.iter().map(|n| format!("  - name: {n}\n    tcp: {{ port: 1 }}\n")).collect();
        format!("suite: many\ntests:\n{tests}")
    };
    ws.write("a.yaml", &body(&names));
    let mut reversed = names.clone();
    reversed.reverse();
    ws.write("b.yaml", &body(&reversed));
    let mut union = Vec::new();
    for k in 1..=4 {
        let shard = format!("{k}/4");
        let mut a = listed(&ws, &["list", "a.yaml", "--shard", &shard], &[]);
        let mut b = listed(&ws, &["list", "b.yaml", "--shard", &shard], &[]);
        a.sort();
        b.sort();
        assert_eq!(a, b, "reordering the file moves no test to another shard");
        assert!(a.len() == 5 || a.len() == 6, "23 tests over 4 shards: 5 or 6 each, got {}", a.len());
        union.extend(a);
    }
    union.sort();
    assert_eq!(union, names, "disjoint, and together the whole run");
    // From a GitLab parallel job's variables, and a Kubernetes Indexed Job's (counted from 0).
    let gitlab = listed(&ws, &["list", "a.yaml"], &[("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "4")]);
    assert_eq!(gitlab, {
        let mut s = listed(&ws, &["list", "a.yaml", "--shard", "2/4"], &[]);
        s.sort_by_key(|n| names.iter().position(|x| x == n));
        s
    });
    let k8s = listed(&ws, &["list", "a.yaml"], &[("JOB_COMPLETION_INDEX", "1"), ("HXRUN_SHARD_TOTAL", "4")]);
    assert_eq!(k8s.len(), gitlab.len());
    let bad = ws.hxrun(&["list", "a.yaml", "--shard", "5/4"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("is not a shard like 2/4"), "{}", bad.stderr);
}

#[test]
fn a_folder_or_a_quoted_glob_names_its_suites_and_an_empty_one_is_an_error() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    std::fs::create_dir_all(ws.path().join("suites/more")).unwrap();
    std::fs::create_dir_all(ws.path().join("empty")).unwrap();
    let one = |name: &str| {
        common::suite_text(name, &sim.url, "  - name: version\n    http: { path: /api/version }\n")
    };
    ws.write("suites/b.yaml", &one("b"));
    ws.write("suites/a.yml", &one("a"));
    ws.write("suites/notes.txt", "not a suite");
    ws.write("suites/more/c.yaml", &one("c"));
    let run = ws.hxrun(&["suites", "--no-progress"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let names = suite_names(&run);
    assert_eq!(names, ["a", "b"], "the folder's suites in name order, not its subfolders'");
    let run = ws.hxrun(&["suites/**/*.yaml", "--no-progress"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let names = suite_names(&run);
    assert_eq!(names, ["b", "c"]);
    for args in [vec!["empty"], vec!["nothing/*.yaml"]] {
        let run = ws.hxrun(&args);
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stderr.contains("holds no suite"), "{}", run.stderr);
    }
}

/// The names of the suites a run's report.json lists, in its order.
fn suite_names(run: &common::Run) -> Vec<String> {
    run.json()["suites"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_string()).collect()
}

/// `when` on a test leaves out expansions; on an `expect` block it applies that block's checks
/// only where it holds — a TTFT bound only on the streamed expansion, which `validate` accepts
/// and the run measures.
#[test]
fn when_chooses_the_expansions_a_test_or_a_check_applies_to() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    let tests = r#"
  - name: answer from {{model}} (stream={{stream}})
    for_each: { model: [phi3:latest, gemma2:2b], stream: [false, true] }
    when: "{{model}} != gemma2:2b"
    generate: { model: "{{model}}", prompt: "Return exactly the text: HX-OK", stream: "{{stream}}" }
    expect:
      - text: { trimmed_equals: HX-OK }
      - when: "{{stream}}"
        metrics: { ttft: "< 1ms" }
"#;
    let write = |tests: &str| {
        ws.write("s.yaml", &format!("suite: w\ntarget: {{ url: \"{}\" }}\ntests:{tests}", sim.url))
    };
    write(tests);
    let list = ws.hxrun(&["list", "s.yaml"]);
    assert_eq!(list.code, 0, "{}{}", list.stdout, list.stderr);
    assert!(list.stdout.contains("answer from phi3:latest (stream=false)"), "{}", list.stdout);
    assert!(!list.stdout.contains("gemma2:2b"), "left out by its when:\n{}", list.stdout);
    // The simulator's TTFT is 2 ms: the bound fails where it applies, and only there.
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("PASS w › answer from phi3:latest (stream=false)"), "{}", run.stdout);
    assert!(run.stdout.contains("FAIL w › answer from phi3:latest (stream=true)"), "{}", run.stdout);
    assert!(run.stdout.contains("ttft: expected < 1ms"), "{}", run.stdout);

    // Without the `when`, validate refuses what the unstreamed expansion cannot measure.
    write(&tests.replace("      - when: \"{{stream}}\"\n        metrics", "      - metrics"));
    let refused = ws.hxrun(&["validate", "s.yaml"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("is measured only on a streamed answer"), "{}", refused.stderr);
    assert!(refused.stderr.contains("with `when: \"{{stream}}\"`"), "{}", refused.stderr);

    // A `when` no expansion meets is a test that never runs: refused.
    write(&tests.replace("!= gemma2:2b", "== llama3"));
    let never = ws.hxrun(&["validate", "s.yaml"]);
    assert_eq!(never.code, 2, "{}", never.stderr);
    assert!(never.stderr.contains("s.yaml:6:11: `when` is false for every expansion"), "{}", never.stderr);
}
