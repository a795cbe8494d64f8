//! The target's side: `defaults.headers` go with every request to it (http steps, generate,
//! chat, the model list, pull, unload, perf loops — a gateway key set once), a header can be
//! required present or absent, and the models it holds in memory can be checked (loaded,
//! fully on the GPU, context length).

mod common;
use common::{Sim, Workspace};
use hxrun::sim::SimConfig;
use std::time::Duration;

const TESTS: &str = r#"
  - name: http
    http: { path: /api/version }
  - name: generate ({{api}})
    for_each: { api: [ollama, openai] }
    generate: { api: "{{api}}", model: phi3:latest, prompt: hi, stream: true, options: { num_predict: 3 } }
  - name: chat
    chat: { model: phi3:latest, messages: [{ role: user, content: hi }], options: { num_predict: 3 } }
  - name: models
    models: { present: [phi3:latest] }
  - name: pull
    pull: { model: phi3:latest, ensure: true }
  - name: unload
    unload: { model: phi3:latest }
  - name: perf
    perf: { generate: { model: phi3:latest, prompt: hi, options: { num_predict: 3 } }, iterations: 2, cold: true }
"#;

#[test]
fn a_gateway_key_in_defaults_headers_reaches_every_kind_of_request() {
    let sim = Sim::start(SimConfig {
        tokens_per_s: 2000.0,
        ttft: Duration::from_millis(2),
        load_time: Duration::from_millis(2),
        gateway_header: Some(("x-gateway-key".into(), "let-me-in".into())),
        ..SimConfig::default()
    });
    let ws = Workspace::new();
    let with = format!(
        "suite: gateway\ntarget: {{ url: \"{}\" }}\ndefaults:\n  headers: {{ X-Gateway-Key: let-me-in }}\ntests:{TESTS}",
        sim.url
    );
    ws.write("with.yaml", &with);
    let run = ws.hxrun(&["with.yaml"]);
    assert_eq!(run.code, 0, "every step sends the suite's headers:\n{}", run.stdout);
    // Without the header the gateway turns every step away: the test above is not vacuous.
    let without = with.replace("defaults:\n  headers: { X-Gateway-Key: let-me-in }\n", "");
    ws.write("without.yaml", &without);
    let run = ws.hxrun(&["without.yaml", "--no-progress"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout.matches("FAIL gateway ›").count(), 8, "{}", run.stdout);
}

#[test]
fn a_header_can_be_required_present_or_absent() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &format!(
            r#"suite: headers
target: {{ url: "{}" }}
tests:
  - name: present and absent as expected
    http: {{ path: /api/version }}
    expect:
      headers: {{ content-type: {{ exists: true, contains: json }}, x-powered-by: {{ exists: false }} }}
  - name: wrongly absent
    http: {{ path: /api/version }}
    expect: {{ headers: {{ x-request-id: {{ exists: true }} }} }}
  - name: wrongly present
    http: {{ path: /api/version }}
    expect: {{ headers: {{ Content-Type: {{ exists: false }} }} }}
"#,
            sim.url
        ),
    );
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("PASS headers › present and absent as expected"), "{}", run.stdout);
    assert!(
        run.stdout.contains("header x-request-id: expected it in the response, but it is absent"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("header Content-Type: expected it absent, but the response has it: \"application/json"),
        "{}",
        run.stdout
    );
    ws.write(
        "bad.yaml",
        "suite: b\ntests:\n  - name: t\n    http: { path: / }\n    expect: { body: { exists: true } }\n",
    );
    let run = ws.hxrun(&["validate", "bad.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("bad.yaml:5:23: `exists` applies to headers"), "{}", run.stderr);
}

#[test]
fn a_model_partly_on_the_cpu_fails_fully_on_gpu_with_the_share() {
    let suite = |url: &str| {
        format!(
            r#"suite: state
target: {{ url: "{url}" }}
tests:
  - name: warm it
    generate: {{ model: gemma2:2b, prompt: hi, options: {{ num_predict: 2 }} }}
  - name: loaded and on the GPU
    models: {{ loaded: [gemma2:2b], fully_on_gpu: true, context_length: ">= 4096" }}
  - name: not loaded
    models: {{ loaded: [cogito:32b] }}
"#
        )
    };
    let whole = Sim::fast();
    let ws = Workspace::new();
    ws.write("s.yaml", &suite(&whole.url));
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("PASS state › loaded and on the GPU"), "{}", run.stdout);
    assert!(
        run.stdout.contains("models: cogito:32b is not loaded (the server has gemma2:2b in memory)"),
        "{}",
        run.stdout
    );
    let offloaded = Sim::start(SimConfig {
        tokens_per_s: 2000.0,
        ttft: Duration::from_millis(2),
        load_time: Duration::from_millis(2),
        faults: hxrun::sim::Faults { gpu_fraction: Some(0.86), ..Default::default() },
        ..SimConfig::default()
    });
    ws.write("s.yaml", &suite(&offloaded.url));
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert!(run.stdout.contains("models: gemma2:2b: 14% of it is on the CPU"), "{}", run.stdout);
    ws.write(
        "bad.yaml",
        "suite: b\ntarget: { api: openai }\ntests:\n  - name: t\n    models: { loaded: [m] }\n",
    );
    let run = ws.hxrun(&["validate", "bad.yaml"]);
    assert!(run.stderr.contains("`models.loaded` needs the Ollama API (/api/ps)"), "{}", run.stderr);
}

#[test]
fn the_model_state_example_passes_against_the_simulator() {
    let sim = common::Sim::fast();
    let ws = Workspace::new();
    let example = common::repo().join("examples/model-state.yaml");
    let run = ws.hxrun_env(
        &[example.to_str().unwrap(), "--target", &sim.url, "--no-progress"],
        &[("HXRUN_SIM", "1")],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("2 passed, 0 failed, 1 skipped"), "{}", run.stdout);
}
