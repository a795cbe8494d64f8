//! The committed JSON Schema matches the Rust types, and every shipped suite starts with the
//! yaml-language-server modeline and validates against it.

mod common;
use common::repo;

fn schema() -> serde_json::Value {
    let text = std::fs::read_to_string(repo().join("schemas/suite.schema.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn committed_schema_matches_the_types() {
    let generated = hxrun::json_schema();
    assert!(
        schema() == generated,
        "schemas/suite.schema.json is stale: run `cargo run -- schema > schemas/suite.schema.json`"
    );
}

fn suite_files() -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for dir in ["suites", "examples"] {
        for entry in std::fs::read_dir(repo().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 6, "{files:?}");
    files
}

#[test]
fn every_suite_has_the_modeline_and_validates() {
    let validator = jsonschema::draft7::new(&schema()).unwrap();
    for path in suite_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../schemas/suite.schema.json\n"),
            "{} lacks the $schema modeline",
            path.display()
        );
        let value: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
}

#[test]
fn schema_catches_a_typo() {
    let validator = jsonschema::draft7::new(&schema()).unwrap();
    let bad: serde_json::Value =
        serde_saphyr::from_str("suite: s\ntests:\n  - name: a\n    timeuot: 5s\n    http: { path: / }\n")
            .unwrap();
    assert!(!validator.is_valid(&bad));
    let good: serde_json::Value = serde_saphyr::from_str(
        "suite: s\ntests:\n  - name: a\n    retries: \"${R}\"\n    http: { path: / }\n",
    )
    .unwrap();
    assert!(validator.is_valid(&good), "a ${{var}} may stand for a number");
}

#[test]
fn shipped_suites_validate_with_hxrun() {
    for path in suite_files() {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hxrun"))
            .args(["validate", path.to_str().unwrap()])
            .env("API_KEY", "x")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    }
}

/// Whether the loader accepts a suite (hxrun validate), and whether the schema does.
fn both_verdicts(text: &str) -> (bool, bool) {
    let ws = common::Workspace::new();
    ws.write("s.yaml", text);
    let loader = ws.hxrun(&["validate", "s.yaml"]).code == 0;
    let strict = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .should_ignore_unknown_formats(false)
        .build(&schema())
        .expect("the schema compiles with unknown formats refused");
    let value: serde_json::Value = serde_saphyr::from_str(text).unwrap();
    (loader, strict.is_valid(&value))
}

#[test]
fn the_schema_agrees_with_the_loader_both_ways() {
    let accepted = [
        // A placeholder where an enum or a boolean goes, a number where text goes, numbers as text.
        "suite: s\ntests:\n  - name: a {{api}} {{s}}\n    for_each: { api: [ollama, openai], s: [true, false] }\n    chat: { model: m, messages: [{ role: user, content: hi }], api: \"{{api}}\", stream: \"{{s}}\" }\n",
        "suite: s\ntests:\n  - name: a\n    generate: { model: m, prompt: 42 }\n    retries: '2'\n",
        "suite: s\nvars: { floor: 10 }\ntests:\n  - name: a\n    perf: { generate: { model: m, prompt: hi }, iterations: 2 }\n    thresholds: { ttft.p95: \"< 2s\", server_tokens_per_s.mean: \">= ${floor}\", error_rate: \"== 0\" }\n",
        "suite: s\ntests:\n  - name: a\n    generate: { model: m, prompt: hi }\n    expect: { metrics: { ttft: \"< 2s\", eval_count: \"> 0\", done_reason: stop } }\n",
        // Units where they belong; 0 without; a drift relative with %, or in percentage points.
        "suite: s\ntests:\n  - name: a\n    perf: { generate: { model: m, prompt: hi }, duration: 2s, window: 1s }\n    thresholds: { ttft.p95: \"< 500ms\", tokens_per_s.cov: \"< 20%\", gpu.memory_used.max: \"< 24GiB\", e2e.min: \"> 0\", request_throughput: \">= 5\" }\n    drift: { e2e.p95: \"< 10%\", ttft.p50: \"< 50ms\", error_rate: \"< 1\" }\n",
    ];
    for text in accepted {
        assert_eq!(both_verdicts(text), (true, true), "both should accept:\n{text}");
    }
    let refused = [
        (
            "unknown threshold",
            "suite: s\ntests:\n  - name: a\n    perf: { generate: { model: m, prompt: hi } }\n    thresholds: { ttft.p96: \"< 2s\" }\n",
        ),
        (
            "unknown metric",
            "suite: s\ntests:\n  - name: a\n    generate: { model: m, prompt: hi }\n    expect: { metrics: { tft: \"< 2s\" } }\n",
        ),
        (
            "comparison in words",
            "suite: s\ntests:\n  - name: a\n    perf: { generate: { model: m, prompt: hi } }\n    thresholds: { ttft.p95: \"less than 2s\" }\n",
        ),
        (
            "a time without its unit",
            "suite: s\ntests:\n  - name: a\n    perf: { generate: { model: m, prompt: hi } }\n    thresholds: { ttft.p95: \"< 500\" }\n",
        ),
        (
            "a percentage without %",
            "suite: s\ntests:\n  - name: a\n    perf: { generate: { model: m, prompt: hi } }\n    thresholds: { tokens_per_s.cov: \"< 0.2\" }\n",
        ),
        (
            "a unit on a plain number",
            "suite: s\ntests:\n  - name: a\n    perf: { generate: { model: m, prompt: hi } }\n    thresholds: { request_throughput: \"> 5s\" }\n",
        ),
        ("two steps", "suite: s\ntests:\n  - name: a\n    http: { path: / }\n    tcp: {}\n"),
        ("no step", "suite: s\ntests:\n  - name: a\n    timeout: 5s\n"),
    ];
    for (what, text) in refused {
        assert_eq!(both_verdicts(text), (false, false), "both should refuse ({what}):\n{text}");
    }
}

#[test]
fn thresholds_and_metrics_complete_from_the_catalogue() {
    let s = schema();
    let thresholds = &s["definitions"]["TestSpec"]["properties"]["thresholds"]["properties"];
    assert!(thresholds["ttft.p95"]["description"].as_str().unwrap().contains("time to first token"));
    assert!(thresholds["gpu.memory_used.max"].is_object());
    let metrics = &s["definitions"]["Expect"]["properties"]["metrics"]["properties"];
    assert!(metrics["eval_count"]["description"].as_str().unwrap().contains("output token count"));
    let text = serde_json::to_string(&s).unwrap();
    assert!(!text.contains("uint32") && !text.contains("uint16"), "only standard formats");
}

#[test]
fn init_puts_a_schema_and_a_green_starter_suite_into_a_users_repo() {
    for api in ["ollama", "openai"] {
        let ws = common::Workspace::new();
        let init = ws.hxrun(&["init", "--api", api, "--models", "phi3:latest,gemma2:2b"]);
        assert_eq!(init.code, 0, "{}", init.stderr);
        let text = std::fs::read_to_string(ws.path().join("hxrun-suite.yaml")).unwrap();
        assert!(text.starts_with("# yaml-language-server: $schema=./hxrun.schema.json\n"), "{text}");
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(ws.path().join("hxrun.schema.json")).unwrap())
                .unwrap();
        assert_eq!(written, schema(), "the schema written is the committed one");
        let value: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        assert!(jsonschema::draft7::new(&written).unwrap().is_valid(&value), "{api}: {text}");
        let run = ws.hxrun(&["hxrun-suite.yaml", "--sim"]);
        assert_eq!(run.code, 0, "{api}: {}", run.stdout);
        assert_eq!(ws.hxrun(&["init"]).code, 2, "an existing suite is not replaced without --force");
    }
    let ws = common::Workspace::new();
    assert_eq!(ws.hxrun(&["schema", "--write", "editor/suite.schema.json"]).code, 0);
    assert!(ws.path().join("editor/suite.schema.json").exists());
}
