//! What AIPerf and GuideLLM users ask of a server: goodput — the requests per second that meet
//! per-request SLOs — and its share, per level, gated like any figure.

mod common;
use common::{Sim, Workspace};
use hxrun::sim::SimConfig;
use std::time::Duration;

/// A server of 2 slots, no noise: 20 ms to the first token, then 5 ms a token.
fn two_slots() -> Sim {
    Sim::slots(2)
}

#[test]
fn goodput_counts_the_requests_within_every_slo_per_level() {
    let sim = two_slots();
    let ws = Workspace::new();
    // At 1 in flight the first token comes in ~20 ms; at 4, two requests wait for a whole
    // answer (60 tokens, ~320 ms) in the server's queue: far over the 150 ms bound.
    ws.write(
        "s.yaml",
        &format!(
            r#"suite: slo
target: {{ url: "{}" }}
tests:
  - name: within the SLO
    perf:
      generate: {{ model: phi3:latest, prompt: hi, stream: true, options: {{ num_predict: 60 }} }}
      concurrency: [1, 4]
      iterations: 16
      slo: {{ ttft: 150ms, tpot: 1s }}
    thresholds:
      slo_attainment: ">= 90%"
"#,
            sim.url
        ),
    );
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 1, "the queued level misses its SLO:\n{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    let levels = json["suites"][0]["tests"][0]["observation"]["levels"].as_array().unwrap().clone();
    let figure = |l: &serde_json::Value, name: &str| l["figures"][name].as_f64().unwrap();
    assert!(figure(&levels[0], "slo_attainment") >= 90.0, "{}", levels[0]["figures"]);
    assert!(figure(&levels[1], "slo_attainment") <= 75.0, "{}", levels[1]["figures"]);
    for l in &levels {
        // No request failed: goodput is the request rate times the share that met the SLO.
        let expected = figure(l, "request_throughput") * figure(l, "slo_attainment") / 100.0;
        assert!((figure(l, "goodput") - expected).abs() <= 1e-9 * expected.max(1.0), "{}", l["figures"]);
    }
    assert_eq!(json["suites"][0]["tests"][0]["observation"]["slo"]["ttft"], "150ms");
    assert!(
        run.stdout.contains("[c=4] threshold slo_attainment")
            || run.stdout.contains("slo_attainment: expected >= 90%"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("% of requests within ttft ≤ 150ms, tpot ≤ 1s"), "{}", run.stdout);
    // The figures travel: JUnit properties, OpenMetrics.
    assert!(run.report("junit.xml").contains("within the SLO [c=1] goodput"), "{}", run.report("junit.xml"));
}

#[test]
fn an_slo_the_requests_cannot_show_is_refused_where_it_is_written() {
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        r#"suite: slo
target: { url: "http://127.0.0.1:9" }
tests:
  - name: whole answers
    perf:
      generate: { model: phi3:latest, prompt: hi, stream: false }
      slo: { ttft: 500ms }
  - name: nothing bounded
    perf:
      generate: { model: phi3:latest, prompt: hi }
      slo: {}
  - name: goodput without an slo
    perf:
      generate: { model: phi3:latest, prompt: hi }
    thresholds:
      goodput: "> 1"
"#,
    );
    let run = ws.hxrun(&["validate", "s.yaml"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    for (place, said) in [
        (
            "s.yaml:7:14",
            "`slo.ttft` is measured on a streamed answer, and this perf step's requests are not streamed",
        ),
        ("s.yaml:11:7", "`slo` bounds nothing"),
        (
            "s.yaml:16:7",
            "`goodput` counts the requests that meet the perf step's `slo`, and this one has none",
        ),
    ] {
        assert!(run.stderr.contains(place) && run.stderr.contains(said), "{place} {said}:\n{}", run.stderr);
    }
}

/// A server whose answers end on their own (an end-of-sequence) before the length asked.
fn stopping(flavor: hxrun::sim::Flavor) -> Sim {
    Sim::start(SimConfig {
        tokens_per_s: 2000.0,
        ttft: Duration::from_millis(2),
        load_time: Duration::ZERO,
        flavor,
        eos: true,
        ..SimConfig::default()
    })
}

fn lengths_suite(ws: &Workspace, url: &str, api: &str, output: &str) {
    ws.write(
        "s.yaml",
        &format!(
            r#"suite: lengths
target: {{ url: "{url}", api: {api} }}
tests:
  - name: held
    perf:
      generate: {{ model: phi3:latest, prompt: "Write about GPUs.", stream: true }}
      iterations: 20
      output: {output}
"#
        ),
    );
}

#[test]
fn output_lengths_are_held_where_the_server_can_hold_them() {
    let ws = Workspace::new();
    let figures = |run: &common::Run| run.json()["suites"][0]["tests"][0]["observation"]["levels"][0].clone();
    // llama.cpp honours ignore_eos: every answer is as long as asked.
    let llama = stopping(hxrun::sim::Flavor::LlamaCpp);
    lengths_suite(&ws, &llama.url, "openai", "{ tokens: 40 }");
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let level = figures(&run);
    assert_eq!(level["stats"]["output_tokens"]["min"].as_f64(), Some(40.0), "{level}");
    assert_eq!(level["stats"]["output_tokens"]["max"].as_f64(), Some(40.0));
    assert_eq!(level["figures"]["short_outputs"].as_f64(), Some(0.0));
    // Ollama cannot: num_predict is a ceiling, and the answers that stopped short are counted.
    let ollama = stopping(hxrun::sim::Flavor::Ollama);
    lengths_suite(&ws, &ollama.url, "ollama", "{ tokens: 40 }");
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let level = figures(&run);
    assert!(level["stats"]["output_tokens"]["max"].as_f64().unwrap() < 40.0, "{level}");
    assert_eq!(level["figures"]["short_outputs"].as_f64(), Some(100.0));
    assert!(
        run.stdout.contains("100% of answers stopped short of the output length asked"),
        "{}",
        run.stdout
    );
    // A distribution, drawn per request from its seed: the same lengths every run.
    lengths_suite(&ws, &llama.url, "openai", "{ tokens: { uniform: [10, 30] }, seed: 3 }");
    let lengths = |run: &common::Run| {
        let level = figures(run);
        let mut samples: Vec<(u64, u64)> = level["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["iter"].as_u64().unwrap(), s["output_tokens"].as_u64().unwrap()))
            .collect();
        samples.sort_unstable();
        samples
    };
    let first = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let drawn = lengths(&first);
    assert_eq!(drawn.len(), 20);
    assert!(drawn.iter().all(|(_, n)| (10..=30).contains(n)), "{drawn:?}");
    let distinct: std::collections::BTreeSet<u64> = drawn.iter().map(|(_, n)| *n).collect();
    assert!(distinct.len() >= 8, "drawn, not fixed: {drawn:?}");
    assert_eq!(lengths(&ws.hxrun(&["s.yaml", "--no-progress"])), drawn, "the seed's lengths again");
}

#[test]
fn an_output_length_that_cannot_be_drawn_is_refused() {
    let ws = Workspace::new();
    for (output, said) in [
        ("{ tokens: 0 }", "an answer of 0 tokens measures nothing"),
        ("{ tokens: { uniform: [30, 10] } }", "runs backwards"),
        (
            "{ tokens: { normal: { mean: 100, stddev: 10, min: 50, max: 20 } } }",
            "`min` (50) is above `max` (20)",
        ),
        ("{ tokens: 2000000 }", "more than any model's context"),
    ] {
        lengths_suite(&ws, "http://127.0.0.1:9", "openai", output);
        let run = ws.hxrun(&["validate", "s.yaml"]);
        assert_eq!(run.code, 2, "{output}: {}", run.stderr);
        assert!(run.stderr.contains(said) && run.stderr.contains("s.yaml:8:17"), "{output}: {}", run.stderr);
    }
}

/// A simulator of `flavor` that answers fast and counts its prompts by words.
fn tokenizing(flavor: hxrun::sim::Flavor) -> Sim {
    Sim::start(SimConfig {
        flavor,
        tokens_per_s: 2000.0,
        ttft: Duration::from_millis(2),
        load_time: Duration::ZERO,
        jitter: 0.0,
        ..SimConfig::default()
    })
}

fn inputs_suite(ws: &Workspace, url: &str, input: &str, iterations: u32) {
    ws.write(
        "s.yaml",
        &format!(
            r#"suite: inputs
target: {{ url: "{url}", api: openai }}
tests:
  - name: sized prompts
    perf:
      generate: {{ model: phi3:latest, prompt: replaced, stream: true, options: {{ num_predict: 4 }} }}
      input: {input}
      iterations: {iterations}
"#
        ),
    );
}

/// Each request's (input_tokens as hxrun counted, prompt tokens as the server counted) of the
/// run's perf test.
fn input_counts(run: &common::Run) -> Vec<(Option<u64>, u64)> {
    let level = &run.json()["suites"][0]["tests"][0]["observation"]["levels"][0];
    level["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let server = &s["server"];
            let counted = server["prompt_tokens"].as_u64().or(server["prompt_eval_count"].as_u64()).unwrap();
            (s["input_tokens"].as_u64(), counted)
        })
        .collect()
}

#[test]
fn prompts_are_sized_in_the_servers_own_tokens() {
    use hxrun::sim::Flavor;
    let ws = Workspace::new();
    // llama.cpp and vLLM have /tokenize: every prompt is the length asked, as the server counts.
    for flavor in [Flavor::LlamaCpp, Flavor::Vllm] {
        let sim = tokenizing(flavor);
        inputs_suite(&ws, &sim.url, "{ tokens: 200, seed: 3 }", 12);
        let run = ws.hxrun(&["s.yaml", "--no-progress"]);
        assert_eq!(run.code, 0, "{flavor:?}: {}\n{}", run.stdout, run.stderr);
        let counts = input_counts(&run);
        assert_eq!(counts.len(), 12);
        assert!(counts.iter().all(|c| *c == (Some(200), 200)), "{flavor:?}: {counts:?}");
        let obs = &run.json()["suites"][0]["tests"][0]["observation"];
        assert!(obs["input_counted_by"].as_str().unwrap().contains("/tokenize"), "{obs}");
        let figures = &obs["levels"][0]["figures"];
        assert_eq!(figures["input_tokens.mean"], 200.0, "{figures}");
        // A distribution: each request its drawn length, within the bounds, not all alike.
        inputs_suite(&ws, &sim.url, "{ tokens: { uniform: [50, 400] } }", 12);
        let run = ws.hxrun(&["s.yaml", "--no-progress"]);
        let counts = input_counts(&run);
        assert!(
            counts.iter().all(|(ours, server)| *ours == Some(*server) && (50..=400).contains(server)),
            "{counts:?}"
        );
        let distinct: std::collections::BTreeSet<u64> = counts.iter().map(|c| c.1).collect();
        assert!(distinct.len() > 6, "{distinct:?}");
    }
    // Ollama has no tokenizer: calibrated from the server's counts, within a few tokens.
    let sim = tokenizing(Flavor::Ollama);
    inputs_suite(&ws, &sim.url, "{ tokens: 300 }", 8);
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let counts = input_counts(&run);
    assert!(counts.iter().all(|(ours, server)| ours.is_none() && (285..=315).contains(server)), "{counts:?}");
    let obs = &run.json()["suites"][0]["tests"][0]["observation"];
    assert!(
        obs["input_counted_by"].as_str().unwrap().starts_with("calibrated from the server's counts"),
        "{obs}"
    );
}

#[test]
fn an_input_length_that_cannot_be_made_is_refused() {
    let ws = Workspace::new();
    for (input, request, message) in [
        ("{ tokens: 0 }", "generate: { model: m, prompt: p }", "`input.tokens`: a prompt of 0 tokens"),
        ("{ tokens: { uniform: [9, 3] } }", "generate: { model: m, prompt: p }", "runs backwards"),
        (
            "{ tokens: 64 }",
            "http: { path: / }",
            "`input` sets the length of a prompt: it goes with a `generate` or `chat` request",
        ),
    ] {
        ws.write(
            "s.yaml",
            &format!("suite: s\ntests:\n  - name: t\n    perf:\n      {request}\n      input: {input}\n      iterations: 2\n"),
        );
        let run = ws.hxrun(&["validate", "s.yaml"]);
        assert_eq!(run.code, 2, "{input}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{input}: {}", run.stderr);
    }
}

#[test]
fn the_load_shapes_example_passes_against_the_simulator() {
    let ws = Workspace::new();
    let example = common::repo().join("examples/load-shapes.yaml");
    let run = ws.hxrun_env(
        &[example.to_str().unwrap(), "--sim", "--sim-flavor", "llama.cpp", "--no-progress"],
        &[
            ("INPUT_TOKENS", "96"),
            ("OUTPUT_TOKENS", "8"),
            ("ITERATIONS", "6"),
            ("STAGE_FOR", "1s"),
            ("PROBE_FOR", "1s"),
            ("SEARCH_FROM", "4/s"),
        ],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("input 96 tokens,"), "{}", run.stdout);
    // The ramp's stages, and the search's conclusion: the simulator answers 4 at a time, each
    // in about 155 ms (40 ms, 96 prompt tokens at 2,000/s, 8 tokens at 120/s): ~26 a second.
    assert!(run.stdout.contains("stage 2 (4/s): "), "{}", run.stdout);
    let capacity = run.json()["suites"][0]["tests"][3]["observation"]["search"]["capacity"].as_f64().unwrap();
    assert!((8.0..=34.0).contains(&capacity), "{capacity}");
    let counts = input_counts(&run);
    assert!(counts.iter().all(|c| *c == (Some(96), 96)), "{counts:?}");
    // The page draws the lengths sent and received.
    let page = run.report("report.html");
    assert!(page.contains("prompt lengths (input_tokens), 18 requests"), "input histogram");
    assert!(page.contains("answer lengths (output_tokens), 18 requests"), "output histogram");
}
