//! LLM steps against the simulator: both protocols in both modes, stream measurements, every
//! way a stream can break, pulls, agreement checks, and API keys that never leak.

mod common;
use common::{Run, Sim, Workspace};
use hxrun::sim::{Faults, SimConfig};
use serde_json::Value;
use std::time::Duration;

fn sim(f: impl FnOnce(&mut SimConfig)) -> Sim {
    let mut c = SimConfig {
        tokens_per_s: 1000.0,
        ttft: Duration::from_millis(2),
        load_time: Duration::from_millis(5),
        ..SimConfig::default()
    };
    f(&mut c);
    Sim::start(c)
}

fn run_suite(sim: &Sim, tests: &str, args: &[&str]) -> Run {
    let ws = Workspace::new();
    ws.write("s.yaml", &format!("suite: llm\ntarget: {{ url: \"{}\" }}\ntests:\n{tests}", sim.url));
    // Keep the workspace alive as long as the run's reports are read.
    let mut all = vec!["s.yaml"];
    all.extend_from_slice(args);
    let run = ws.hxrun(&all);
    std::mem::forget(ws);
    run
}

fn tests(run: &Run) -> Vec<Value> {
    run.json()["suites"][0]["tests"].as_array().unwrap().clone()
}

#[test]
fn both_protocols_both_modes_give_text_and_metrics() {
    let sim = sim(|_| {});
    let run = run_suite(
        &sim,
        r#"
  - name: generate {{api}} stream={{stream}}
    for_each: { api: [ollama, openai], stream: [false, true] }
    generate: { api: "{{api}}", model: phi3:latest, prompt: "Return exactly the text: HX-OK", stream: "{{stream}}" }
    expect:
      text: { equals: HX-OK }
      metrics: { output_tokens: "== 3", done_reason: stop }
  - name: chat {{api}} stream={{stream}}
    for_each: { api: [ollama, openai], stream: [false, true] }
    chat:
      api: "{{api}}"
      model: gemma2:2b
      messages: [{ role: system, content: be terse }, { role: user, content: "Return exactly the text: HX-OK" }]
      stream: "{{stream}}"
    expect:
      text: { trimmed_equals: HX-OK, equals: "HX-OK \n" }
"#,
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    let tests = tests(&run);
    assert_eq!(tests.len(), 8);
    for t in &tests {
        let o = &t["observation"];
        let stream = o["stream"].as_bool().unwrap();
        assert_eq!(o["status"], 200);
        assert_eq!(o["problems"], Value::Array(vec![]), "{t}");
        assert!(o["e2e"].as_f64().unwrap() > 0.0);
        if stream {
            assert!(o["ttft"].as_f64().unwrap() > 0.0, "{t}");
            assert_eq!(o["itl"].as_array().unwrap().len(), o["chunks"].as_u64().unwrap() as usize - 1);
        } else {
            assert!(o["ttft"].is_null());
        }
        match o["api"].as_str().unwrap() {
            "ollama" => assert!(o["server"]["eval_count"].as_u64().unwrap() > 0, "{t}"),
            _ => assert!(o["server"]["completion_tokens"].as_u64().unwrap() > 0, "{t}"),
        }
    }
}

/// TTFT and e2e against the simulator's configured pacing: never earlier than the server can
/// send (a clock started late, or stopped at the response head, would show here), and the
/// median not far later. The margin above holds on a loaded 2-core machine; hxrun's timing
/// precision itself is measured by `hxrun bench --part timing` (docs/perf.md).
#[test]
fn ttft_and_e2e_follow_the_simulators_pacing() {
    let sim = sim(|c| {
        c.tokens_per_s = 100.0;
        c.ttft = Duration::from_millis(50);
        c.load_time = Duration::ZERO;
    });
    let run = run_suite(
        &sim,
        r#"
  - name: paced {{api}} {{n}}
    for_each: { api: [ollama, openai], n: [1, 2, 3, 4, 5] }
    generate: { api: "{{api}}", model: phi3:latest, prompt: "Return exactly the text: HX-OK", stream: true }
"#,
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    for api in ["ollama", "openai"] {
        let mut ttft_err = Vec::new();
        let mut e2e_err = Vec::new();
        for t in tests(&run).iter().filter(|t| t["name"].as_str().unwrap().contains(api)) {
            let o = &t["observation"];
            // 3 tokens: the first after TTFT + 1 token time, the last 2 token times later.
            ttft_err.push(o["ttft"].as_f64().unwrap() - 0.060);
            e2e_err.push(o["e2e"].as_f64().unwrap() - 0.080);
        }
        ttft_err.sort_by(f64::total_cmp);
        e2e_err.sort_by(f64::total_cmp);
        // The timer may round a sleep down by up to a millisecond; nothing arrives earlier.
        assert!(ttft_err[0] > -0.002, "{api} TTFT before the first token was sent: {ttft_err:?}");
        assert!(e2e_err[0] > -0.002, "{api} e2e before the last token was sent: {e2e_err:?}");
        assert!(ttft_err[2] < 0.030, "{api} TTFT errors: {ttft_err:?}");
        assert!(e2e_err[2] < 0.030, "{api} e2e errors: {e2e_err:?}");
    }
}

#[test]
fn a_stalled_stream_fails_on_chunk_timeout() {
    let sim = sim(|c| c.faults = Faults { stall: Some((2, Duration::from_secs(3))), ..Faults::default() });
    let run = run_suite(
        &sim,
        r#"
  - name: stall {{api}}
    for_each: { api: [ollama, openai] }
    generate: { api: "{{api}}", model: phi3:latest, prompt: "Summarize", stream: true, chunk_timeout: 300ms, options: { num_predict: 6 } }
"#,
        &[],
    );
    assert_eq!(run.code, 1);
    for t in tests(&run) {
        let message = t["message"].as_str().unwrap();
        assert!(message.starts_with("stream: stream stalled: no chunk for 30"), "{message}");
        assert!(message.ends_with("ms after chunk 2 (chunk_timeout 300ms)"), "{message}");
        // The answer stops at the stall: two chunks were recorded.
        assert_eq!(t["observation"]["chunks"], 2);
    }
}

#[test]
fn a_truncated_stream_fails() {
    let sim = sim(|c| c.faults = Faults { truncate_after: Some(2), ..Faults::default() });
    let run = run_suite(
        &sim,
        r#"
  - name: cut {{api}}
    for_each: { api: [ollama, openai] }
    generate: { api: "{{api}}", model: phi3:latest, prompt: "Summarize", stream: true, options: { num_predict: 6 } }
"#,
        &[],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains(
            "stream: truncated: the stream ended after 2 content chunks without the final `done: true` object"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("stream: truncated: the stream ended after 2 content chunks without a `finish_reason`")
    );
    assert!(run.stdout.contains("stream: the stream ended without the `data: [DONE]` terminator"));
}

#[test]
fn an_invalid_chunk_fails_with_its_position() {
    let sim = sim(|c| c.faults = Faults { garble_chunk: Some(3), ..Faults::default() });
    let run = run_suite(
        &sim,
        r#"
  - name: garbled {{api}}
    for_each: { api: [ollama, openai] }
    chat: { api: "{{api}}", model: phi3:latest, messages: [{ role: user, content: hi }], stream: true, options: { num_predict: 6 } }
"#,
        &[],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("stream: stream line 3 is not valid JSON (expected value at line 1 column 11)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("stream: SSE event 3 is not valid JSON"), "{}", run.stdout);
}

#[test]
fn unknown_model_fails_with_the_servers_words() {
    let sim = sim(|_| {});
    let run = run_suite(
        &sim,
        r#"
  - name: unknown {{api}}
    for_each: { api: [ollama, openai] }
    generate: { api: "{{api}}", model: "no-such:7b", prompt: hi }
  - name: expected 404
    generate: { model: "no-such:7b", prompt: hi }
    expect: { status: 404 }
"#,
        &[],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("/api/generate answered 404 (expected 2xx): model 'no-such:7b' not found"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("/v1/completions answered 404 (expected 2xx): model 'no-such:7b' not found"));
    assert!(run.stdout.contains("PASS llm › expected 404"), "{}", run.stdout);
}

#[test]
fn pull_progress_is_parsed_and_errors_fail() {
    let sim = sim(|c| c.pull_bytes_per_s = 5e10);
    let run = run_suite(
        &sim,
        r#"
  - name: pull new
    pull: { model: "qwen2.5:7b" }
  - name: now listed
    models: { present: ["qwen2.5:7b", phi3], absent: ["mistral:7b"] }
  - name: ensure skips
    pull: { model: "qwen2.5:7b", ensure: true }
  - name: not in the registry
    pull: { model: "no-such:1b" }
"#,
        &[],
    );
    assert_eq!(run.code, 1);
    let tests = tests(&run);
    let o = &tests[0]["observation"];
    assert_eq!(tests[0]["status"], "passed");
    let statuses: Vec<&str> = o["statuses"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert_eq!(statuses.first(), Some(&"pulling manifest"));
    assert_eq!(statuses.last(), Some(&"success"));
    assert!(
        statuses.iter().any(|s| s.starts_with("pulling ") && s.len() == "pulling ".len() + 12),
        "{statuses:?}"
    );
    let total = o["bytes_total"].as_u64().unwrap();
    assert!(total > 4_000_000_000, "{o}");
    assert_eq!(o["bytes_completed"].as_u64().unwrap(), total);
    assert_eq!(tests[1]["status"], "passed");
    assert_eq!(tests[2]["observation"]["already_present"], true);
    assert!(
        run.stdout.contains(
            "pull no-such:1b: the server reported an error: pull model manifest: file does not exist"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn agree_catches_a_server_whose_timings_lie() {
    let tests_yaml = r#"
  - name: agree
    generate: { model: phi3:latest, prompt: Summarize, stream: true, options: { num_predict: 40 } }
    expect:
      agree: { tokens_per_s: 10%, tokens: 0 }
"#;
    let honest = sim(|c| c.tokens_per_s = 400.0);
    let run = run_suite(&honest, tests_yaml, &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let liar = sim(|c| {
        c.tokens_per_s = 400.0;
        c.faults = Faults { eval_duration_scale: Some(0.5), ..Faults::default() };
    });
    let run = run_suite(&liar, tests_yaml, &[]);
    assert_eq!(run.code, 1);
    let client: f64 = run
        .stdout
        .split("agree.tokens_per_s: client ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no agree failure in {}", run.stdout));
    assert!((360.0..440.0).contains(&client), "the client measured the true 400 tokens/s: {client}");
    assert!(run.stdout.contains("vs server 800.00 (-"), "{}", run.stdout);
    assert!(run.stdout.contains("beyond the tolerance 10%"), "{}", run.stdout);
    assert!(!run.stdout.contains("agree.tokens:"), "token counts still agree: {}", run.stdout);
}

#[test]
fn cold_load_after_unload() {
    let sim = sim(|c| c.load_time = Duration::from_millis(120));
    let run = run_suite(
        &sim,
        r#"
  - name: warm up
    generate: { model: phi3:latest, prompt: hi, stream: false }
  - name: warm
    generate: { model: phi3:latest, prompt: hi, stream: false }
    expect: { metrics: { load_duration: "< 1ms" } }
  - name: unload
    unload: { model: phi3:latest }
    expect: { json: { $.done_reason: unload } }
  - name: cold
    generate: { model: phi3:latest, prompt: hi, stream: false }
    expect: { metrics: { load_duration: ">= 120ms" } }
"#,
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("PASS llm › cold"), "{}", run.stdout);
    // (ttft asked of a non-stream answer is a load error: tests/suite_errors.rs.)
}

#[test]
fn the_api_key_never_appears_in_any_output() {
    let key = "sk-hxrun-test-9f8e7d6c5b4a";
    let sim = sim(|c| c.api_key = Some(key.to_string()));
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &format!(
            r#"suite: keys
target: {{ url: "{}", api: openai, api_key: "${{OPENAI_API_KEY}}" }}
tests:
  - name: models with the key
    models: {{ present: [phi3:latest] }}
  - name: chat with the key
    chat: {{ model: phi3:latest, messages: [{{ role: user, content: "Return exactly the text: {key}" }}], stream: true }}
    expect: {{ text: {{ equals: wrong }} }}
  - name: wrong key is refused
    http: {{ path: /v1/models, headers: {{ Authorization: "Bearer {key}-wrong" }} }}
"#,
            sim.url
        ),
    );
    let run = ws.hxrun_env(&["s.yaml", "--verbose"], &[("OPENAI_API_KEY", key)]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("PASS keys › models with the key"), "{}", run.stdout);
    assert!(run.stdout.contains("text: expected exactly \"wrong\", got \"***\""), "{}", run.stdout);
    assert!(run.stdout.contains("status: expected 2xx, got 401"), "{}", run.stdout);
    for text in run.everything() {
        assert!(!text.contains(key), "the API key leaked:\n{text}");
        assert!(!text.contains("9f8e7d6c5b4a"), "part of the API key leaked:\n{text}");
    }
}

/// A server that echoes any model name it is asked for: the answer names the model asked for,
/// but the server's list lacks it — the test fails with both facts; a listed model passes, and
/// a server that lists nothing is taken at its word, said once.
#[test]
fn an_answer_from_a_server_that_echoes_any_model_name_is_checked_against_its_list() {
    let sim = sim(|c| c.faults = Faults { echo_model: true, ..Faults::default() });
    let tests = r#"
  - name: unknown {{stream}}
    for_each: { stream: [false, true] }
    generate: { api: openai, model: "no-such:7b", prompt: "Return exactly the text: HX-OK", stream: "{{stream}}" }
  - name: listed
    generate: { api: openai, model: phi3:latest, prompt: "Return exactly the text: HX-OK", stream: true }
"#;
    let run = run_suite(&sim, tests, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.stdout.matches("FAIL").count(), 2, "{}", run.stdout);
    assert!(run.stdout.contains("PASS llm › listed"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "the answer names \"no-such:7b\" as asked, but the server's model list (GET {}/v1/models) does not have it: \"phi3:latest\"",
            sim.url
        )),
        "{}",
        run.stdout
    );
    let empty = self::sim(|c| {
        c.faults = Faults { echo_model: true, ..Faults::default() };
        c.models = vec![];
    });
    let run = run_suite(&empty, tests.replace("phi3:latest", "other:1b").as_str(), &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        run.stdout
            .matches("lists no models: answers that name the model asked for are taken at their word")
            .count(),
        1,
        "{}",
        run.stdout
    );
}

#[test]
fn chunks_naming_another_model_fail_the_stream() {
    let sim = sim(|c| c.faults = Faults { wrong_model: Some("gemma2:2b".into()), ..Faults::default() });
    let run = run_suite(
        &sim,
        r#"
  - name: misrouted {{api}}
    for_each: { api: [ollama, openai] }
    generate: { api: "{{api}}", model: phi3, prompt: "Return exactly the text: HX-OK", stream: true }
  - name: misrouted whole {{api}}
    for_each: { api: [ollama, openai] }
    generate: { api: "{{api}}", model: phi3, prompt: "Return exactly the text: HX-OK", stream: false }
"#,
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(run.stdout.matches("FAIL").count(), 4, "both modes, both APIs: {}", run.stdout);
    assert!(
        run.stdout.contains("answer: the answer's model is \"gemma2:2b\" but the request asked for \"phi3\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "stream: chunk model is \"gemma2:2b\" but the request asked for \"phi3\" (stream line 1)"
        ),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("(SSE event 1)"), "{}", run.stdout);
}

#[test]
fn base_urls_as_users_write_them_and_a_404_that_names_the_api_to_set() {
    // The OpenAI SDKs' OPENAI_BASE_URL convention: a base url ending in /v1.
    let sim = sim(|_| {});
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &format!(
            "suite: v1\ntarget: {{ url: \"{}/v1/\", api: openai }}\ntests:\n  - name: models\n    models: {{ present: [phi3:latest] }}\n  - name: chat\n    chat: {{ model: phi3:latest, messages: [{{ role: user, content: hi }}] }}\n",
            sim.url
        ),
    );
    let run = ws.hxrun(&["s.yaml", "-v"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("ends in /v1: using"), "{}", run.stderr);

    // An Ollama request to a server without Ollama's API: a bare 404 gets a hint.
    let fault = common::faults::FaultServer::start();
    ws.write(
        "o.yaml",
        &format!("suite: o\ntarget: {{ url: \"{}\" }}\ntests:\n  - name: gen\n    generate: {{ model: m, prompt: hi }}\n", fault.url),
    );
    let run = ws.hxrun(&["o.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("answered 404 (expected 2xx)"), "{}", run.stdout);
    assert!(run.stdout.contains("set `api: openai` on the target"), "{}", run.stdout);
}

#[test]
fn a_stream_cut_by_the_step_timeout_keeps_what_it_measured() {
    let sim = sim(|c| c.faults = Faults { stall: Some((3, Duration::from_secs(30))), ..Faults::default() });
    let run = run_suite(
        &sim,
        r#"
  - name: slow {{api}}
    for_each: { api: [ollama, openai] }
    timeout: 1s
    generate: { api: "{{api}}", model: phi3:latest, prompt: "Summarize", stream: true }
"#,
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    for t in tests(&run) {
        assert_eq!(t["failure_kind"], "timeout", "{t}");
        let message = t["message"].as_str().unwrap();
        assert!(
            message.contains(
                "timed out after 1s (the step timeout) with 3 content chunks received; first token after"
            ),
            "{message}"
        );
        let obs = &t["observation"];
        assert_eq!(obs["chunks"], 3, "{obs}");
        assert!(obs["ttft"].as_f64().is_some_and(|v| v > 0.0), "TTFT kept: {obs}");
        assert_eq!(obs["timed_out"], true);
        let took = t["duration"].as_f64().unwrap();
        assert!(took < 10.0, "ended near its timeout: {took}s");
    }
}

#[test]
fn the_first_number_of_an_answer_is_checked_exactly_or_within_a_tolerance() {
    let sim = sim(|_| {});
    let run = run_suite(
        &sim,
        r#"  - name: arithmetic
    for_each: { want: ["42", "40"], within: ["0", "10%"] }
    generate: { model: phi3:latest, prompt: "Return exactly the text: Six times seven is 42." }
    expect:
      text: { number: { equals: "{{want}}", within: "{{within}}" } }
  - name: off by one
    generate: { model: phi3:latest, prompt: "Return exactly the text: Six times seven is 42." }
    expect:
      text: { number: 41 }
"#,
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    let results = tests(&run);
    let status =
        |name: &str| results.iter().find(|t| t["name"] == name).map(|t| t["status"].clone()).unwrap();
    assert_eq!(status("arithmetic [want=42, within=0]"), "passed");
    assert_eq!(status("arithmetic [want=40, within=10%]"), "passed", "42 is within 10% of 40");
    assert_eq!(status("arithmetic [want=40, within=0]"), "failed");
    assert_eq!(status("off by one"), "failed");
    assert!(
        run.stdout
            .contains(r#"text: expected its first number to be 41, got 42 in "Six times seven is 42.""#),
        "{}",
        run.stdout
    );
}
