//! Structured answers: `format` sent to both APIs, `expect.schema` and `expect.json` on
//! answers, bodies and command output; schema files beside the suite; errors at their line.

mod common;

use common::{Sim, Workspace};

#[test]
fn the_example_passes_against_the_simulator() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    let run = ws.example_passes(&sim, "structured-answers.yaml");
    assert!(run.stdout.contains("4 passed, 0 failed"), "{}", run.stdout);
}

#[test]
fn an_answer_outside_the_schema_fails_with_where_and_why() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    // Plain JSON mode answers {"answer": ...}: not the weather the schema wants.
    let tests = r#"  - name: weather
    generate:
      model: phi3:latest
      prompt: "The weather in Paris, as JSON."
      format: json
      stream: true
    expect:
      schema:
        type: object
        required: [city]
        properties: { answer: { type: number } }
  - name: prose where JSON was wanted
    generate: { model: phi3:latest, prompt: "Return exactly the text: HX-OK", stream: false }
    expect:
      json: { $.city: Paris }
      schema: { type: object }
"#;
    ws.write("s.yaml", &common::suite_text("s", &sim.url, tests));
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("schema: the answer does not match the schema (2 violations):"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("at /: \"city\" is a required property"), "{}", run.stdout);
    assert!(run.stdout.contains("at /answer: "), "{}", run.stdout);
    assert!(run.stdout.contains("json: the answer is not valid JSON"), "{}", run.stdout);
    assert!(run.stdout.contains("schema: the answer is not JSON"), "{}", run.stdout);
    // The failure points at the expectation.
    assert!(run.stdout.contains("at s.yaml:11:7"), "{}", run.stdout);
}

#[test]
fn bodies_and_command_output_are_checked_against_a_schema_file() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write(
        "tags.schema.yaml",
        "type: object\nrequired: [models]\nproperties:\n  models: { type: array, minItems: 1 }\n",
    );
    ws.write("strict.json", r#"{ "type": "object", "required": ["nothing_like_this"] }"#);
    let tests = r#"  - name: model list
    http: { path: /api/tags }
    expect: { schema: { file: tags.schema.yaml } }
  - name: command output
    exec: { command: [echo, '{"ok": true}'] }
    expect: { schema: { file: strict.json } }
"#;
    ws.write("s.yaml", &common::suite_text("s", &sim.url, tests));
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("PASS s › model list"), "{}", run.stdout);
    assert!(
        run.stdout.contains("schema: the stdout does not match the schema (1 violation):"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("\"nothing_like_this\" is a required property"), "{}", run.stdout);
}

#[test]
fn a_bad_schema_or_a_missing_file_is_a_load_error_at_its_line() {
    let ws = Workspace::new();
    let tests = r#"  - name: not a schema
    http: { path: / }
    expect: { schema: { type: no-such-type } }
  - name: no file
    generate: { model: m, prompt: p, format: { file: nowhere.json } }
  - name: not for tcp
    tcp: {}
    expect: { schema: { type: object } }
"#;
    ws.write("s.yaml", &common::suite_text("s", "http://127.0.0.1:9", tests));
    let run = ws.hxrun(&["validate", "s.yaml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("s.yaml:6:23") && run.stderr.contains("not a valid JSON Schema"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("s.yaml:8:54") && run.stderr.contains("cannot read"), "{}", run.stderr);
    assert!(run.stderr.contains("`expect.schema` applies to"), "{}", run.stderr);
}
