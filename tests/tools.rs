//! Tool calling: `tools:` on chat in both APIs, `expect.tool_calls` in stream and whole mode.

mod common;

use common::{Sim, Workspace};

const TOOLS: &str = r#"      tools:
        - name: get_weather
          parameters: { type: object, properties: { city: { type: string }, days: { type: integer, minimum: 3 } } }
"#;

#[test]
fn the_example_passes_against_the_simulator() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    let run = ws.example_passes(&sim, "tool-calls.yaml");
    assert!(run.stdout.contains("4 passed, 0 failed"), "{}", run.stdout);
    let json = run.json();
    let call = &json["suites"][0]["tests"][1]["observation"]["tool_calls"][0];
    assert_eq!(call["name"], "get_weather", "{call}");
    assert_eq!(call["arguments"]["city"], "Paris", "{call}");
}

#[test]
fn calls_that_differ_from_what_was_expected_fail_with_what_was_called() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    let mut tests = String::new();
    for (name, api, stream, prompt, expect) in [
        (
            "other city",
            "ollama",
            true,
            "Weather in Paris?",
            "[{ name: get_weather, arguments: { city: Berlin, days: \">= 3\" } }]",
        ),
        (
            "other api",
            "openai",
            true,
            "Weather in Paris?",
            "[{ name: get_weather, arguments: { city: { contains: Berlin } } }]",
        ),
        ("no call", "openai", false, "Say hello.", "[{ name: get_weather }]"),
        ("unexpected call", "ollama", false, "Weather in Paris?", "[]"),
    ] {
        tests.push_str(&format!(
            "  - name: {name}\n    chat:\n      api: {api}\n      model: phi3:latest\n      stream: {stream}\n      messages: [{{ role: user, content: \"{prompt}\" }}]\n{TOOLS}    expect: {{ tool_calls: {expect} }}\n"
        ));
    }
    ws.write("s.yaml", &common::suite_text("t", &sim.url, &tests));
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("0 passed, 4 failed"), "{}", run.stdout);
    assert!(
        run.stdout.contains("tool call get_weather argument city: expected \"Berlin\""),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("argument days"), "days (3) matched: {}", run.stdout);
    assert!(
        run.stdout.contains("expected a call to get_weather, got no tool call (the answer: "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("tool_calls: expected no tool call, got get_weather({\"city\":\"Paris\",\"days\":3})"),
        "{}",
        run.stdout
    );
}

#[test]
fn tool_calls_need_tools_and_a_chat_step() {
    let ws = Workspace::new();
    let tests = r#"  - name: no tools
    chat: { model: m, messages: [{ role: user, content: hi }] }
    expect: { tool_calls: [{ name: f }] }
  - name: generate
    generate: { model: m, prompt: hi }
    expect: { tool_calls: [] }
"#;
    ws.write("s.yaml", &common::suite_text("t", "http://127.0.0.1:9", tests));
    let run = ws.hxrun(&["validate", "s.yaml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("s.yaml:6:27: `expect.tool_calls` needs `tools:` on the chat step"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("`expect.tool_calls` applies to `chat` steps"), "{}", run.stderr);
}
