//! The embed step against both APIs: count, dimensions, norm, similarity; perf over it.

mod common;

use common::{Sim, Workspace};

#[test]
fn the_example_passes_against_the_simulator() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    let run = ws.example_passes(&sim, "embeddings.yaml");
    assert!(run.stdout.contains("3 passed, 0 failed"), "{}", run.stdout);
    let json = run.json();
    let obs = &json["suites"][0]["tests"][1]["observation"];
    assert_eq!((obs["kind"].as_str(), obs["count"].as_u64()), (Some("embed"), Some(3)), "{obs}");
    assert_eq!(obs["dimensions"], serde_json::json!([64, 64, 64]), "{obs}");
}

#[test]
fn vectors_that_miss_say_which_and_by_how_much() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    let tests = r#"  - name: wrong size
    embed: { model: phi3:latest, input: [one text, another text], dimensions: 32, api: openai }
    expect:
      embeddings:
        dimensions: "== 768"
        similarity: { a: 0, b: 1, value: "> 0.99" }
  - name: no such model
    embed: { model: nope, input: hello }
"#;
    ws.write("s.yaml", &common::suite_text("e", &sim.url, tests));
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("dimensions: expected == 768, got 32 (vector 0 of 2)"), "{}", run.stdout);
    assert!(run.stdout.contains("similarity 0 1: expected > 0.99, got 0."), "{}", run.stdout);
    assert!(
        run.stdout.contains("/api/embed answered 404 (expected 2xx): model 'nope' not found"),
        "{}",
        run.stdout
    );
}

#[test]
fn embed_mistakes_are_caught_before_anything_runs() {
    let ws = Workspace::new();
    let tests = r#"  - name: similarity past the inputs
    embed: { model: m, input: [a, b] }
    expect: { embeddings: { similarity: { a: 0, b: 2, value: "> 0.5" } } }
  - name: empty input
    embed: { model: m, input: [] }
  - name: embeddings on http
    http: { path: / }
    expect: { embeddings: { count: "== 1" } }
"#;
    ws.write("s.yaml", &common::suite_text("e", "http://127.0.0.1:9", tests));
    let run = ws.hxrun(&["validate", "s.yaml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("`similarity` compares inputs 0 and 2, but `input` has 2 texts"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("`input` is an empty list"), "{}", run.stderr);
    assert!(run.stderr.contains("`expect.embeddings` applies to `embed` steps"), "{}", run.stderr);
}
