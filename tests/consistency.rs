//! `repeat: N` with `expect.consistent`: the same question asked again, the distinct answers
//! reported — a server that batches requests may answer differently at temperature 0.

mod common;
use common::{Sim, Workspace};
use hxrun::sim::{Faults, SimConfig};
use std::time::Duration;

fn sim(vary: bool) -> Sim {
    Sim::start(SimConfig {
        tokens_per_s: 2000.0,
        ttft: Duration::from_millis(2),
        load_time: Duration::from_millis(2),
        faults: Faults { vary_answers: vary, ..Faults::default() },
        ..SimConfig::default()
    })
}

fn suite(sim: &Sim, tests: &str) -> String {
    format!("suite: consistency\ntarget: {{ url: \"{}\" }}\ntests:\n{tests}", sim.url)
}

const TESTS: &str = r#"
  - name: same answer ({{api}})
    for_each: { api: [ollama, openai] }
    chat:
      api: "{{api}}"
      model: phi3:latest
      messages: [{ role: user, content: "What is the capital of France?" }]
      options: { temperature: 0, seed: 42 }
      repeat: 3
    expect:
      consistent: true
  - name: alike answers
    generate: { model: phi3:latest, prompt: "What is the capital of France?", repeat: 3 }
    expect:
      consistent: { min_similarity: 0.8 }
"#;

#[test]
fn a_deterministic_server_answers_the_same_every_time() {
    let sim = sim(false);
    let ws = Workspace::new();
    ws.write("s.yaml", &suite(&sim, TESTS));
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let answers = &run.json()["suites"][0]["tests"][0]["observation"]["answers"];
    assert_eq!(answers.as_array().map(Vec::len), Some(3), "every answer is kept: {answers}");
}

#[test]
fn a_server_that_varies_fails_with_the_distinct_answers_it_gave() {
    let sim = sim(true);
    let ws = Workspace::new();
    ws.write("s.yaml", &suite(&sim, TESTS));
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("FAIL consistency › same answer (ollama)"), "{}", run.stdout);
    assert!(
        run.stdout.contains("consistent: expected 3 identical answers of 3, got 2 distinct:"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(" ×2, ") && run.stdout.contains("indeed"),
        "each distinct answer with its count: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("PASS consistency › alike answers"),
        "a similarity bound allows a word: {}",
        run.stdout
    );
}

#[test]
fn repeat_and_consistent_are_checked_before_anything_runs() {
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        r#"suite: bad
tests:
  - name: nothing to compare
    generate: { model: m, prompt: p }
    expect: { consistent: true }
  - name: too many
    generate: { model: m, prompt: p, repeat: 1000 }
  - name: in a loop
    perf: { generate: { model: m, prompt: p, repeat: 3 }, iterations: 2 }
  - name: a bad bound
    generate: { model: m, prompt: p, repeat: 2 }
    expect: { consistent: { min_similarity: 1.5 } }
"#,
    );
    let run = ws.hxrun(&["validate", "s.yaml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    for want in [
        "s.yaml:5:15: `expect.consistent` compares repeated answers: add `repeat: 5`",
        "s.yaml:7:38: `repeat: 1000`: ask 1 to 100 times",
        "`repeat` does not apply inside a perf loop",
        "min_similarity 1.5 is not between 0 and 1",
    ] {
        assert!(run.stderr.contains(want), "missing {want:?} in:\n{}", run.stderr);
    }
}
