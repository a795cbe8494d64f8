//! The simulator speaks Ollama's API as documented: text, NDJSON streams, metric fields
//! consistent with its pacing, model load state, errors.

mod common;
use common::Sim;
use hxrun::sim::SimConfig;
use serde_json::{Value, json};
use std::time::Duration;

fn config() -> SimConfig {
    SimConfig {
        tokens_per_s: 1000.0,
        ttft: Duration::from_millis(3),
        load_time: Duration::from_millis(20),
        ..SimConfig::default()
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

fn post(sim: &Sim, path: &str, body: Value) -> (u16, String) {
    let r = client().post(format!("{}{path}", sim.url)).json(&body).send().unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

#[test]
fn static_endpoints() {
    let sim = Sim::start(config());
    let get = |p: &str| client().get(format!("{}{p}", sim.url)).send().unwrap().text().unwrap();
    assert_eq!(get("/"), "Ollama is running");
    assert_eq!(serde_json::from_str::<Value>(&get("/api/version")).unwrap(), json!({"version": "0.11.4"}));
    let tags: Value = serde_json::from_str(&get("/api/tags")).unwrap();
    let names: Vec<&str> =
        tags["models"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["phi3:latest", "gemma2:2b", "cogito:32b", "deepcoder:14b", "dolphin3:8b"]);
    let m = &tags["models"][2];
    assert_eq!(m["details"]["parameter_size"], "32.8B");
    assert_eq!(m["digest"].as_str().unwrap().len(), 64);
    assert!(m["size"].as_u64().unwrap() > 19_000_000_000);
}

#[test]
fn stream_is_ndjson_with_final_metrics() {
    let sim = Sim::start(config());
    let (status, body) = post(
        &sim,
        "/api/generate",
        json!({"model": "phi3:latest", "prompt": "Return exactly the text: HX-OK"}),
    );
    assert_eq!(status, 200);
    let chunks: Vec<Value> = body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(chunks.len(), 4, "3 tokens and the final object: {body}");
    let text: String = chunks.iter().map(|c| c["response"].as_str().unwrap()).collect();
    assert_eq!(text, "HX-OK");
    assert!(chunks[..3].iter().all(|c| c["done"] == false && c["model"] == "phi3:latest"));
    let last = &chunks[3];
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    assert_eq!(last["eval_count"], 3);
    // Server tokens/s = eval_count / eval_duration * 1e9 = the configured 1000 tokens/s.
    assert_eq!(last["eval_duration"], 3_000_000);
    assert_eq!(last["prompt_eval_duration"], 3_000_000);
    assert_eq!(last["load_duration"], 20_000_000, "first request pays the load");
    let total = last["total_duration"].as_u64().unwrap();
    assert!(total >= 26_000_000, "total covers load + prompt + tokens: {total}");
}

#[test]
fn non_stream_chat_and_load_state() {
    let sim = Sim::start(config());
    let ask = |keep_alive: Value| {
        let (status, body) = post(
            &sim,
            "/api/chat",
            json!({"model": "gemma2:2b", "stream": false, "keep_alive": keep_alive,
                   "messages": [{"role": "user", "content": "Return exactly the text: HX-OK"}]}),
        );
        assert_eq!(status, 200);
        serde_json::from_str::<Value>(&body).unwrap()
    };
    let cold = ask(Value::Null);
    // gemma2:2b adds whitespace, as the seed report saw.
    assert_eq!(cold["message"]["content"], "HX-OK \n");
    assert_eq!(cold["message"]["role"], "assistant");
    assert_eq!(cold["load_duration"], 20_000_000);
    let ps: Value = client().get(format!("{}/api/ps", sim.url)).send().unwrap().json().unwrap();
    assert_eq!(ps["models"][0]["name"], "gemma2:2b");
    assert!(ps["models"][0]["size_vram"].as_u64().unwrap() > 0);
    let warm = ask(json!(0));
    assert_eq!(warm["load_duration"], 0, "loaded model answers warm");
    let ps: Value = client().get(format!("{}/api/ps", sim.url)).send().unwrap().json().unwrap();
    assert_eq!(ps["models"], json!([]), "keep_alive 0 unloads");
    assert_eq!(ask(Value::Null)["load_duration"], 20_000_000, "cold again after unload");
}

#[test]
fn unload_request_and_num_predict() {
    let sim = Sim::start(config());
    let (_, body) = post(&sim, "/api/generate", json!({"model": "phi3:latest", "keep_alive": 0}));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["done_reason"], "unload");
    let (_, body) = post(
        &sim,
        "/api/generate",
        json!({"model": "phi3:latest", "prompt": "Summarize HX Infrastructure in one sentence.",
               "stream": false, "options": {"num_predict": 9}}),
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["eval_count"], 9);
    assert_eq!(v["done_reason"], "length");
    assert_eq!(v["response"].as_str().unwrap().split_whitespace().count(), 9);
}

#[test]
fn errors_are_ollama_shaped() {
    let sim = Sim::start(config());
    let (status, body) = post(&sim, "/api/generate", json!({"model": "nope:1b", "prompt": "hi"}));
    assert_eq!(status, 404);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!({"error": "model 'nope:1b' not found"}));
    let (status, body) = post(&sim, "/api/generate", json!({"prompt": "hi"}));
    assert_eq!((status, body.as_str()), (400, r#"{"error":"model is required"}"#));
    let r = client().post(format!("{}/api/chat", sim.url)).body("{not json").send().unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().unwrap().starts_with(r#"{"error":"invalid request body"#));
}

#[test]
fn sim_command_prints_its_url_once_listening() {
    let sim = common::SimProcess::spawn(&["--models", "llama3:70b,phi3:latest"]);
    let tags: Value = client().get(format!("{}/api/tags", sim.url)).send().unwrap().json().unwrap();
    drop(sim);
    assert_eq!(tags["models"][0]["name"], "llama3:70b");
    assert_eq!(tags["models"][0]["details"]["parameter_size"], "70B");
    assert_eq!(tags["models"][1]["name"], "phi3:latest");
}
