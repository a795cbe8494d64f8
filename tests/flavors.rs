//! Each server's own figures and token counting, against the simulator's flavors: llama.cpp's
//! `timings` (its own tokens/s, the end-of-sequence token counted), vLLM's two tokens per chunk
//! and no timing of its own, TGI's timing headers.

mod common;
use common::{Sim, Workspace};
use hxrun::sim::{Flavor, SimConfig};
use serde_json::Value;
use std::time::Duration;

fn sim(flavor: Flavor) -> Sim {
    paced(flavor, 200.0)
}

/// A simulator of `flavor` at `tokens_per_s` (slower where a test compares client timing with
/// the server's: the margin must hold on a loaded 2-core machine).
fn paced(flavor: Flavor, tokens_per_s: f64) -> Sim {
    Sim::start(SimConfig {
        flavor,
        tokens_per_s,
        ttft: Duration::from_millis(5),
        load_time: Duration::from_millis(5),
        ..SimConfig::default()
    })
}

/// A suite of one OpenAI-API test against `sim`.
fn suite(sim: &Sim, test: &str) -> String {
    format!("suite: flavor\ntarget: {{ url: \"{}\", api: openai }}\ntests:\n{test}", sim.url)
}

fn observation(run: &common::Run, test: usize) -> Value {
    run.json()["suites"][0]["tests"][test]["observation"].clone()
}

const ANSWER: &str = "Summarize HX Infrastructure in one sentence.";

#[test]
fn llama_cpp_timings_are_the_servers_figures_and_its_eos_token_is_accounted_for() {
    // 20 ms a token: a streamed answer spans about half a second, so `tokens_per_s: 10%`
    // tolerates 50 ms of scheduling delay.
    let sim = paced(Flavor::LlamaCpp, 50.0);
    let ws = Workspace::new();
    let tests = format!(
        "  - name: streamed\n    chat: {{ model: phi3:latest, stream: true, messages: [{{ role: user, content: \"{ANSWER}\" }}] }}\n    expect:\n      agree: {{ tokens: 0, tokens_per_s: 10% }}\n      metrics: {{ server_tokens_per_s: \">= 45\", eval_duration: \"> 0s\" }}\n  - name: whole\n    chat: {{ model: phi3:latest, stream: false, messages: [{{ role: user, content: \"{ANSWER}\" }}] }}\n    expect:\n      metrics: {{ server_tokens_per_s: \">= 45\", prompt_eval_count: \">= 1\" }}\n"
    );
    ws.write("s.yaml", &suite(&sim, &tests));
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let o = observation(&run, 0);
    assert_eq!(o["server"]["done_reason"], "stop");
    assert_eq!(o["eos_counted"], true, "{o}");
    let chunks = o["chunks"].as_u64().unwrap();
    assert_eq!(o["output_tokens"].as_u64(), Some(chunks + 1), "the server counted the EOS token");
    assert_eq!(o["content_tokens"].as_u64(), Some(chunks));
    let server = o["server_tokens_per_s"].as_f64().unwrap();
    assert!((server - 50.0).abs() < 0.5, "the server's own predicted_per_second, not n/t: {server}");
    assert!(observation(&run, 1)["server_tokens_per_s"].as_f64().is_some(), "timings of a whole answer");
}

#[test]
fn vllm_sends_two_tokens_per_chunk_and_no_timing_and_hxrun_says_so() {
    let sim = sim(Flavor::Vllm);
    let ws = Workspace::new();
    let tests = format!(
        "  - name: counted\n    generate: {{ model: phi3:latest, prompt: \"{ANSWER}\", stream: true }}\n    expect:\n      agree: {{ tokens: 0 }}\n  - name: timed\n    generate: {{ model: phi3:latest, prompt: \"{ANSWER}\", stream: true }}\n    expect:\n      agree: {{ tokens_per_s: 10% }}\n"
    );
    ws.write("s.yaml", &suite(&sim, &tests));
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("PASS flavor › counted"), "a possible count passes: {}", run.stdout);
    assert!(run.stdout.contains("this server reports no timing of its own"), "{}", run.stdout);
    let o = observation(&run, 0);
    let (chunks, tokens) = (o["chunks"].as_u64().unwrap(), o["output_tokens"].as_u64().unwrap());
    assert!(
        chunks * 2 >= tokens && chunks * 2 <= tokens + 1,
        "two tokens per chunk: {chunks} chunks, {tokens} tokens"
    );
    let rate = o["client_tokens_per_s"].as_f64().unwrap();
    // The tokens after the first chunk over the time from first to last chunk: the server's
    // pace, not inflated by the chunks holding two (margins for a busy 2-core machine).
    assert!(rate > 150.0 && rate < 260.0, "client tokens/s {rate}");
    let verdict = &run.json()["suites"][0]["tests"][0]["assertions"];
    assert!(verdict.to_string().contains("several per chunk"), "{verdict}");
}

#[test]
fn tgi_timing_headers_fill_a_whole_answers_figures() {
    let sim = sim(Flavor::Tgi);
    let ws = Workspace::new();
    let tests = format!(
        "  - name: whole\n    generate: {{ model: phi3:latest, prompt: \"{ANSWER}\", stream: false }}\n    expect:\n      metrics: {{ eval_count: \">= 1\", server_tokens_per_s: \"> 0\", total_duration: \"> 0s\" }}\n"
    );
    ws.write("s.yaml", &suite(&sim, &tests));
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let o = observation(&run, 0);
    assert_eq!(o["server"]["eval_count"], o["output_tokens"], "{o}");
}

#[test]
fn a_perf_loop_against_llama_cpp_fills_the_seed_csvs_server_columns() {
    let sim = sim(Flavor::LlamaCpp);
    let ws = Workspace::new();
    let tests = "  - name: loop\n    perf:\n      generate: { model: phi3:latest, prompt: hi, stream: true, options: { num_predict: 6 } }\n      iterations: 2\n      csv: perf.csv\n    thresholds:\n      server_tokens_per_s.mean: \">= 150\"\n";
    ws.write("s.yaml", &suite(&sim, tests));
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let csv = run.report("perf.csv");
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    // timestamp,model,iter,total_duration_ms,prompt_tokens,prompt_eval_ms,gen_tokens,gen_eval_ms,tokens_per_s
    assert!(row[4].parse::<u64>().is_ok() && row[5].parse::<f64>().is_ok(), "prompt columns: {csv}");
    assert_eq!(row[6], "6", "a cut answer (length) counts no EOS token: {csv}");
    assert!(row[7].parse::<f64>().unwrap() > 0.0 && row[8].parse::<f64>().unwrap() > 150.0, "{csv}");
}

#[test]
fn a_perf_threshold_on_a_server_figure_says_when_the_server_reports_none() {
    let sim = sim(Flavor::Vllm);
    let ws = Workspace::new();
    let tests = "  - name: loop\n    perf:\n      generate: { model: phi3:latest, prompt: hi, stream: true, options: { num_predict: 6 } }\n      iterations: 2\n    thresholds:\n      server_tokens_per_s.mean: \">= 1\"\n";
    ws.write("s.yaml", &suite(&sim, tests));
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("server_tokens_per_s.mean: not measured: this server reports no timing of its own"),
        "{}",
        run.stdout
    );
}
