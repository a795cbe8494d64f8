//! The CI examples under examples/ci parse, wire their shards to a merge, and call hxrun only
//! with options it has (the Jenkinsfiles' Groovy is parsed in .ci/run).

mod common;
use serde_json::Value;
use std::collections::BTreeSet;

fn docs(name: &str) -> Vec<Value> {
    let path = common::repo().join("examples/ci").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("{name} is not YAML: {e}"))
}

/// Every `--option` of every hxrun command line in a text.
fn options(text: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for line in
        text.lines().filter(|l| l.contains("hxrun ") || l.contains("\"merge\"") || l.contains("--report-dir"))
    {
        let sub = if line.contains("hxrun merge") || line.contains("\"merge\"") { "merge" } else { "run" };
        for word in line.split(|c: char| c.is_whitespace() || c == '"' || c == ',' || c == '[' || c == ']') {
            if let Some(flag) =
                word.strip_prefix("--").filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
            {
                out.insert((sub.to_string(), format!("--{}", flag.split('=').next().unwrap())));
            }
        }
    }
    out
}

fn help(sub: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hxrun")).args([sub, "--help"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_ci_example_parses_and_uses_real_options() {
    let dir = common::repo().join("examples/ci");
    let (run_help, merge_help) = (help("run"), help("merge"));
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(entry.path()).unwrap();
        if name.ends_with(".yml") || name.ends_with(".yaml") {
            assert!(!docs(&name).is_empty(), "{name}");
        }
        for (sub, flag) in options(&text) {
            let help = if sub == "merge" { &merge_help } else { &run_help };
            assert!(help.contains(&flag), "{name}: hxrun {sub} has no {flag}");
            seen += 1;
        }
    }
    assert!(seen >= 10, "the examples' hxrun options were found ({seen})");
}

#[test]
fn gitlab_parallel_jobs_feed_one_merge() {
    let ci = &docs("gitlab-parallel.yml")[0];
    assert_eq!(ci["checks"]["parallel"], 4);
    let needs: Vec<&str> =
        ci["merge"]["needs"].as_array().unwrap().iter().map(|n| n["job"].as_str().unwrap()).collect();
    assert_eq!(needs, ["checks", "load"]);
    let merge = ci["merge"]["script"].to_string();
    assert!(merge.contains("hxrun merge 'reports/shard-*'"), "{merge}");
    assert!(ci["load"]["script"].to_string().contains("--start-at"));
}

#[test]
fn github_matrix_shards_feed_one_merge() {
    let wf = &docs("github-matrix.yml")[0];
    let shards = wf["jobs"]["shard"]["strategy"]["matrix"]["shard"].as_array().unwrap().len();
    assert_eq!(shards, 3);
    assert_eq!(wf["jobs"]["merge"]["needs"], "shard");
    let steps = wf["jobs"]["shard"]["steps"].to_string();
    assert!(steps.contains(&format!("--shard ${{{{ matrix.shard }}}}/{shards}")), "{steps}");
}

#[test]
fn the_kubernetes_indexed_job_shards_as_many_ways_as_it_has_pods() {
    let docs = docs("k8s-indexed-job.yaml");
    let job = docs.iter().find(|d| d["metadata"]["name"] == "hxrun-shards").unwrap();
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(spec["completions"], spec["parallelism"]);
    let env = spec["template"]["spec"]["containers"][0]["env"].as_array().unwrap();
    let total = env.iter().find(|e| e["name"] == "HXRUN_SHARD_TOTAL").unwrap();
    assert_eq!(total["value"].as_str().unwrap(), spec["completions"].to_string());
    let merge = docs.iter().find(|d| d["metadata"]["name"] == "hxrun-merge").unwrap();
    let args = &merge["spec"]["template"]["spec"]["containers"][0]["args"];
    assert_eq!(args[0], "merge");
    // The suite it ships is a fleet hxrun accepts.
    let suite = docs.iter().find(|d| d["kind"] == "ConfigMap").unwrap()["data"]["smoke.yaml"]
        .as_str()
        .unwrap()
        .to_string();
    let ws = common::Workspace::new();
    ws.write("smoke.yaml", &suite);
    let run = ws.hxrun(&["validate", "smoke.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}
