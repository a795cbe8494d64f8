//! `hxrun probe URL`: detection of each server kind, the standard checks, verdicts in every
//! report, and a written suite that passes against the server it came from.

mod common;

use common::{Sim, Workspace};
use hxrun::sim::{Faults, Flavor, SimConfig};
use std::time::Duration;

/// A simulator of `flavor` that serves 2 requests at once, slow enough that client timing holds
/// on a busy machine (200 tokens/s: a token every 5 ms, on the simulator's own schedule — a late
/// token does not delay the next), fast enough that the probe's sweep (4 rounds of 20 requests
/// a level) takes seconds.
fn sim(flavor: Flavor, faults: Faults) -> Sim {
    Sim::start(config(flavor, faults))
}

/// The configuration `sim` starts, for a test that sets more of it.
fn config(flavor: Flavor, faults: Faults) -> SimConfig {
    SimConfig {
        flavor,
        tokens_per_s: 200.0,
        ttft: Duration::from_millis(5),
        load_time: Duration::from_millis(20),
        jitter: 0.0,
        capacity: Some(2),
        faults,
        ..SimConfig::default()
    }
}

/// Probes a simulator of `flavor`, checks what it found, then runs the written suite against
/// the same server: it must pass as written.
/// `another`: a model the server has that the quick probe did not take; added to the written
/// suite as one entry of `models`, it gets every per-model test.
fn probe_then_own(flavor: Flavor, kind: &str, evidence: &str, another: Option<&str>) {
    let sim = sim(flavor, Faults::default());
    let ws = Workspace::new();
    let run = ws.hxrun(&["probe", &sim.url, "--quick", "--no-progress", "--write", "mine/suite.yaml"]);
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(kind), "detected as {kind}: {}", run.stdout);
    assert!(run.stdout.contains(evidence), "says how it knew ({evidence}): {}", run.stdout);
    assert!(run.stdout.contains("answers \"HX-OK\" exactly as asked, whole and streamed"), "{}", run.stdout);
    // The server has 2 slots: the sweep finds them.
    assert!(run.stdout.contains("it serves about 2 in parallel"), "{}", run.stdout);
    let json = run.json();
    let verdicts = json["verdicts"].as_array().expect("verdicts in report.json");
    assert_eq!(verdicts.len(), 2, "one per model and the server's: {verdicts:?}");
    assert!(verdicts.iter().all(|v| v["ok"] == true), "{verdicts:?}");
    assert!(run.report("summary.md").contains("### Verdicts"));
    assert!(run.report("report.html").contains("id=\"verdicts\""));

    let written = std::fs::read_to_string(ws.path().join("mine/suite.yaml")).unwrap();
    assert!(written.starts_with("# yaml-language-server: $schema=./hxrun.schema.json"), "{written}");
    assert!(ws.path().join("mine/hxrun.schema.json").exists(), "the schema its modeline names");
    assert!(written.contains("tokens_per_s.mean: \">= "), "a floor from the measured rate:\n{written}");
    assert!(written.contains(r#"answer: "^\\s*HX-OK\\s*$""#), "the exact answer it gave:\n{written}");
    let valid = ws.hxrun(&["validate", "mine/suite.yaml"]);
    assert_eq!(valid.code, 0, "{}{}", valid.stdout, valid.stderr);
    let again = ws.hxrun(&["mine/suite.yaml", "--no-progress"]);
    assert_eq!(
        again.code, 0,
        "the written suite passes against its server:\n{}\n{}",
        again.stdout, again.stderr
    );
    let Some(another) = another else { return };
    // One edit: a copy of the first entry under another name.
    let entry_at = written.find("    - name: ").unwrap();
    let entry_len = written[entry_at + 1..]
        .find("    - name: ")
        .map_or_else(|| written[entry_at..].find("defaults:").unwrap(), |n| n + 1);
    let entry = &written[entry_at..entry_at + entry_len];
    let first = entry.lines().next().unwrap().trim_start_matches("    - name: ").to_string();
    let added = entry.replacen(&first, &format!("'{another}'"), 1);
    let edited = written.replacen(entry, &format!("{entry}{added}"), 1);
    ws.write("mine/suite.yaml", &edited);
    let grown = ws.hxrun(&["mine/suite.yaml", "--no-progress"]);
    assert_eq!(grown.code, 0, "{}\n{}", grown.stdout, grown.stderr);
    for test in ["served", "whole answer", "streamed answer", "the same answer every time", "baseline"] {
        assert!(
            grown.stdout.contains(&format!("{another}: {test}")),
            "{test} for {another}:\n{}",
            grown.stdout
        );
    }
}

#[test]
fn ollama_is_probed_and_its_suite_passes() {
    probe_then_own(Flavor::Ollama, "Ollama", "GET /api/tags a model list", Some("gemma2:2b"));
}

#[test]
fn llama_server_is_probed_and_its_suite_passes() {
    probe_then_own(
        Flavor::LlamaCpp,
        "llama.cpp llama-server",
        "GET /props answered llama-server's settings",
        None,
    );
}

#[test]
fn vllm_is_probed_and_its_suite_passes() {
    probe_then_own(Flavor::Vllm, "vLLM 0.6.4", "owned_by: vllm", None);
}

#[test]
fn tgi_is_probed_and_its_suite_passes() {
    probe_then_own(
        Flavor::Tgi,
        "TGI (text-generation-inference)",
        "GET /info answered TGI's model info",
        None,
    );
}

#[test]
fn a_faulty_server_gets_verdicts_a_person_can_act_on() {
    let faults = Faults { gpu_fraction: Some(0.86), vary_answers: true, ..Faults::default() };
    let sim = sim(Flavor::Ollama, faults);
    let ws = Workspace::new();
    let run = ws.hxrun(&["probe", &sim.url, "--quick", "--no-progress", "--models", "gemma2:2b"]);
    assert_eq!(run.code, 1, "faults fail the probe:\n{}\n{}", run.stdout, run.stderr);
    let verdict =
        run.stdout.lines().find(|l| l.contains("✗ gemma2:2b:")).unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(verdict.contains("14% of it in CPU memory"), "{verdict}");
    assert!(verdict.contains("— slow"), "{verdict}");
    assert!(verdict.contains("answers differ across repeats at temperature 0"), "{verdict}");
    let json = run.json();
    let model = &json["verdicts"][0];
    assert_eq!(
        (model["subject"].as_str(), model["ok"].as_bool()),
        (Some("gemma2:2b"), Some(false)),
        "{model}"
    );
    assert!(run.report("summary.md").contains("14% of it in CPU memory"));
    let html = run.report("report.html");
    assert!(html.contains("14% of it in CPU memory"));
    // The failed placement check lists the models with a GET, as it was made.
    assert!(html.contains(&format!("<code>GET {}/api/tags</code>", sim.url)), "{html}");
}

#[test]
fn a_broken_stream_is_reported_against_the_model() {
    let sim = sim(Flavor::Ollama, Faults { truncate_after: Some(2), ..Faults::default() });
    let ws = Workspace::new();
    let run = ws.hxrun(&["probe", &sim.url, "--quick", "--no-progress"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let verdict =
        run.stdout.lines().find(|l| l.contains("✗ phi3:latest:")).unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(verdict.contains("streamed answer: "), "{verdict}");
    assert!(verdict.contains("truncated"), "{verdict}");
}

#[test]
fn nothing_listening_says_what_each_endpoint_answered() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let ws = Workspace::new();
    let run = ws.hxrun(&["probe", &format!("http://127.0.0.1:{port}"), "--quick", "--no-progress"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("nothing answers: GET /api/ps → connection refused by"), "{}", run.stderr);
    let bad = ws.hxrun(&["probe", "ftp://example", "--no-progress"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[test]
fn the_api_key_reaches_the_server_and_no_output() {
    let key = "sk-probe-7b1d9e";
    let sim =
        Sim::start(SimConfig { api_key: Some(key.into()), ..config(Flavor::LlamaCpp, Faults::default()) });
    let ws = Workspace::new();
    let run = ws.hxrun_env(
        &["probe", &sim.url, "--quick", "--no-progress", "--write", "s.yaml"],
        &[("HXRUN_API_KEY", key)],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for text in run.everything() {
        assert!(!text.contains(key), "the key leaked: {text}");
    }
    let written = std::fs::read_to_string(ws.path().join("s.yaml")).unwrap();
    assert!(written.contains("api_key: ${HXRUN_API_KEY:-}") && !written.contains(key), "{written}");
}

#[test]
fn the_local_gpus_are_checked_when_nvml_answers() {
    let sim = sim(Flavor::Vllm, Faults::default());
    let ws = Workspace::new();
    let gpus = common::repo().join("tests/fixtures/gpus-2x5060ti.yaml").display().to_string();
    let run = ws.hxrun_env(
        &["probe", &sim.url, "--quick", "--no-progress", "--write", "s.yaml"],
        &[("HXRUN_GPU_FAKE", &gpus)],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("PASS probe › GPUs present"), "{}", run.stdout);
    assert!(run.stdout.contains("2 NVIDIA GPUs on the machine hxrun ran on"), "{}", run.stdout);
    let written = std::fs::read_to_string(ws.path().join("s.yaml")).unwrap();
    assert!(written.contains("gpu: { count: \">= 2\", optional: true }"), "{written}");
}

#[test]
fn an_https_server_with_a_private_ca_is_probed_and_its_suite_keeps_the_ca() {
    let sim = sim(Flavor::Vllm, Faults::default());
    let pki = common::tls::Pki::new();
    let front = common::tls::TlsFront::start(sim.url.trim_start_matches("http://"), &pki, false);
    let ws = Workspace::new();
    ws.write("ca.pem", &pki.ca);
    let untrusted = ws.hxrun(&["probe", &front.url, "--quick", "--no-progress"]);
    assert_eq!(untrusted.code, 1, "{}", untrusted.stdout);
    assert!(untrusted.stderr.contains("nothing answers: GET "), "{}", untrusted.stderr);
    assert!(
        untrusted.stderr.contains("signed by a CA hxrun does not trust: give that CA with --cacert"),
        "{}",
        untrusted.stderr
    );
    let run = ws.hxrun(&[
        "probe",
        &front.url,
        "--quick",
        "--no-progress",
        "--cacert",
        "ca.pem",
        "--write",
        "mine/s.yaml",
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("vLLM"), "{}", run.stdout);
    let written = std::fs::read_to_string(ws.path().join("mine/s.yaml")).unwrap();
    assert!(written.contains("    ca_cert: '/"), "an absolute path: {written}");
    let again = ws.hxrun(&["mine/s.yaml", "--no-progress"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
}

#[test]
fn model_names_from_the_server_stay_text_in_the_written_suite() {
    // A server whose model name would end a comment and add an `exec` step if pasted into
    // YAML, with quotes, `#`, a placeholder and a variable in it.
    let evil = "m\n  - name: pwned\n    exec: { command: [touch, PWNED] }\n# \"q\" 'q' #h {{x}} ${HOME} $${HOME} {{'{{'}}";
    let sim = common::Sim::start(SimConfig {
        models: vec![hxrun::sim::models::model_named(evil)],
        tokens_per_s: 400.0,
        ttft: Duration::from_millis(5),
        jitter: 0.0,
        capacity: Some(2),
        ..SimConfig::default()
    });
    let ws = Workspace::new();
    let run = ws.hxrun(&["probe", &sim.url, "--quick", "--no-progress", "--write", "s.yaml"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(!ws.path().join("PWNED").exists(), "a server's model name ran a command");
    let written = std::fs::read_to_string(ws.path().join("s.yaml")).unwrap();
    assert!(!written.contains("\n  - name: pwned"), "{written}");
    let again = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(!ws.path().join("PWNED").exists(), "the written suite ran a command");
    let json = again.json();
    let names: Vec<&str> =
        json["suites"][0]["tests"].as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    assert!(names.contains(&format!("{evil}: whole answer").as_str()), "{names:?}");
    assert!(names.iter().all(|n| !n.contains("pwned") || n.starts_with("m\n")), "{names:?}");
}

#[test]
fn a_password_in_the_url_reaches_no_output_and_not_the_written_suite() {
    let sim = sim(Flavor::Vllm, Faults::default());
    let ws = Workspace::new();
    // Without a scheme, as a run's target takes it.
    let url = sim.url.replace("http://", "ops:pw-Zk81q@");
    let run = ws.hxrun(&["probe", &url, "--quick", "--no-progress", "--write", "s.yaml"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for text in run.everything() {
        assert!(!text.contains("pw-Zk81q"), "the password leaked: {text}");
    }
    let written = std::fs::read_to_string(ws.path().join("s.yaml")).unwrap();
    assert!(!written.contains("pw-Zk81q"), "{written}");
    assert!(written.contains("ops:${HXRUN_TARGET_PASSWORD}@127.0.0.1"), "{written}");
    let again = ws.hxrun_env(&["s.yaml", "--no-progress"], &[("HXRUN_TARGET_PASSWORD", "pw-Zk81q")]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(again.everything().iter().all(|t| !t.contains("pw-Zk81q")), "{}", again.stdout);
}
