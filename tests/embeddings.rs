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

#[test]
fn an_answer_is_compared_with_its_reference_by_meaning() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    // The simulator's vectors follow word overlap: the same words, however ordered, are alike.
    let tests = r#"  - name: same meaning
    for_each: { api: [ollama, openai] }
    generate: { model: phi3:latest, prompt: "Return exactly the text: Paris is the capital of France.", api: "{{api}}" }
    expect:
      similar: { to: "The capital of France is Paris.", model: phi3:latest, score: ">= 0.95", api: "{{api}}" }
  - name: another meaning
    generate: { model: phi3:latest, prompt: "Return exactly the text: Paris is the capital of France." }
    expect:
      similar: { to: "Bananas grow in bunches.", model: phi3:latest, score: ">= 0.8" }
  - name: no such embedding model
    generate: { model: phi3:latest, prompt: "Return exactly the text: yes" }
    expect:
      similar: { to: "yes", model: nope, score: ">= 0.8" }
"#;
    ws.write("s.yaml", &common::suite_text("meaning", &sim.url, tests));
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let json = run.json();
    let tests = json["suites"][0]["tests"].as_array().unwrap();
    let status: Vec<&str> = tests.iter().map(|t| t["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["passed", "passed", "failed", "failed"], "{}", run.stdout);
    let same = &tests[0]["observation"]["similarity"];
    assert_eq!(
        (same["model"].as_str(), same["value"].as_f64().map(|v| (v * 1e6).round())),
        (Some("phi3:latest"), Some(1e6)),
        "{same}"
    );
    assert!(
        run.stdout
            .contains(r#"similar: the answer's similarity to "Bananas grow in bunches." by phi3:latest is "#)
            && run.stdout.contains(r#"expected >= 0.8; the answer: "Paris is the capital of France.""#),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("similar: not measured: the embedding model answered 404"), "{}", run.stdout);
    // On a step that has no answer, refused before anything runs.
    ws.write(
        "bad.yaml",
        &common::suite_text(
            "meaning",
            "http://127.0.0.1:9",
            "  - name: on http\n    http: { path: / }\n    expect: { similar: { to: x, model: m, score: \">= 0.8\" } }\n",
        ),
    );
    let bad = ws.hxrun(&["validate", "bad.yaml"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("`expect.similar` applies to `generate`, `chat` steps"), "{}", bad.stderr);
}
