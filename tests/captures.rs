//! `capture:` between tests: values from bodies, headers, answers and command output, used
//! later as `{{captures.NAME}}`; failures say what came back; secrets stay masked.

mod common;

use common::{Sim, Workspace};
use hxrun::sim::SimConfig;

#[test]
fn values_flow_from_one_test_to_the_next() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    let tests = r#"  - name: list the models
    http: { path: /api/tags }
    capture:
      model: "$.models[0].name"
      digest: { json: "$.models[0].digest" }
      type: { header: content-type }
  - name: show the first model
    http:
      method: POST
      path: /api/show
      json: { model: "{{captures.model}}" }
    expect:
      headers: { content-type: { equals: "{{captures.type}}" } }
      json: { $.details.format: gguf }
  - name: ask it
    generate: { model: "{{captures.model}}", prompt: "Return exactly the text: ver 7.2 ok", stream: false }
    capture:
      version: { regex: 'ver (\d+\.\d+)' }
  - name: the values reach a command
    exec: { command: [echo, "{{captures.version}} {{captures.digest}}"] }
    expect:
      stdout: { matches: '^7\.2 [0-9a-f]{12,}' }
"#;
    ws.write("s.yaml", &common::suite_text("c", &sim.url, tests));
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("4 passed, 0 failed"), "{}", run.stdout);
    // What was sent is in the report, filled in.
    let json = run.json();
    let exec = &json["suites"][0]["tests"][3]["observation"];
    assert!(exec["stdout"].as_str().unwrap().starts_with("7.2 "), "{exec}");
}

#[test]
fn a_capture_that_finds_nothing_fails_and_its_users_do_not_run() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    let tests = r#"  - name: list
    http: { path: /api/tags }
    capture: { digest: "$.nothing[0]" }
  - name: use
    http: { path: "/api/show/{{captures.digest}}" }
"#;
    ws.write("s.yaml", &common::suite_text("c", &sim.url, tests));
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("capture digest (JSONPath $.nothing[0]): selects nothing in the body: \"{\"models\""),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("at s.yaml:6:16\n"), "the capture's place: {}", run.stdout);
    assert!(
        run.stdout.contains("not run: it uses {{captures.digest}}, which no earlier test captured"),
        "{}",
        run.stdout
    );
}

#[test]
fn captures_are_checked_before_anything_runs() {
    let ws = Workspace::new();
    let tests = r#"  - name: uses what nobody captured
    http: { path: "/x/{{captures.nope}}" }
  - name: header from a command
    exec: { command: [echo, hi] }
    capture: { h: { header: x-id } }
  - name: two sources
    http: { path: / }
    capture: { t: { json: $.a, regex: a } }
  - name: perf cannot capture
    perf: { http: { path: / }, iterations: 1 }
    capture: { x: $.a }
"#;
    ws.write("s.yaml", &common::suite_text("c", "http://127.0.0.1:9", tests));
    let run = ws.hxrun(&["validate", "s.yaml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("s.yaml:5:19"), "{}", run.stderr);
    assert!(run.stderr.contains("no earlier test of this suite captures `nope`"), "{}", run.stderr);
    assert!(run.stderr.contains("`capture.h` reads a header, which only http steps keep"), "{}", run.stderr);
    assert!(run.stderr.contains("a capture takes exactly one source"), "{}", run.stderr);
    assert!(run.stderr.contains("captures come from http, exec, generate and chat steps"), "{}", run.stderr);
}

#[test]
fn a_test_filled_with_captures_keeps_the_places_of_its_checks_and_of_its_errors() {
    let ws = Workspace::new();
    // Lines 4.. of the file (three header lines first). `{{captures.op}}` is a plain value at
    // plan time; filled with "> abc" it reads as a comparison, and not a valid one.
    let tests = r#"  - name: get values
    exec: { command: [echo, '{"op": "> abc", "word": "absent-word"}'] }
    capture: { op: $.op, word: $.word }
  - name: a comparison from a capture
    exec: { command: [echo, '{"a": 1}'] }
    expect: { json: { $.a: "{{captures.op}}" } }
  - name: a filled check that fails
    exec: { command: [echo, hi] }
    expect:
      stdout: { contains: "{{captures.word}}" }
"#;
    ws.write("s.yaml", &common::suite_text("c", "http://127.0.0.1:9", tests));
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    // Typed again with the value filled in: the error says where the value is.
    assert!(
        run.stdout.contains("not run: with its captures filled in, \"> abc\" is not a comparison"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("(at s.yaml:9:28)"), "the value's place: {}", run.stdout);
    // The failed check of the filled test points at its line, as an unfilled one's would.
    assert!(run.stdout.contains("at s.yaml:13:7\n"), "the check's place: {}", run.stdout);
    assert!(
        run.stdout.contains("13 │       stdout: { contains: \"{{captures.word}}\" }"),
        "the line as written: {}",
        run.stdout
    );
}

#[test]
fn a_secret_capture_is_masked_everywhere_from_then_on() {
    let token = "tok-captured-5f1e9a";
    let sim = Sim::start(SimConfig {
        api_key: Some(token.into()),
        tokens_per_s: 2000.0,
        ttft: std::time::Duration::from_millis(2),
        ..SimConfig::default()
    });
    let ws = Workspace::new();
    let tests = format!(
        r#"  - name: log in
    exec: {{ command: [echo, '{{"token": "{token}"}}'] }}
    capture: {{ token: {{ json: $.token, secret: true }} }}
  - name: use the token
    http:
      path: /v1/models
      headers: {{ Authorization: "Bearer {{{{captures.token}}}}", X-Echo: "{{{{captures.token}}}}" }}
    expect:
      body: {{ contains: "{{{{captures.token}}}}" }}
"#
    );
    ws.write("s.yaml", &common::suite_text("c", &sim.url, &tests));
    let run = ws.hxrun(&["s.yaml", "--no-progress", "-v"]);
    // The second test fails (the body does not hold the token): its message must mask it.
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("PASS c › log in"), "the key was accepted: {}", run.stdout);
    assert!(run.stdout.contains("contains"), "{}", run.stdout);
    for text in run.everything() {
        assert!(!text.contains(token), "the captured secret leaked:\n{text}");
    }
}

#[test]
fn the_example_passes_against_the_simulator() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    let run = ws.example_passes(&sim, "captures.yaml");
    assert!(run.stdout.contains("4 passed, 0 failed"), "{}", run.stdout);
}
