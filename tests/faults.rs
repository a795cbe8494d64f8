//! The fault corpus: servers that refuse, reset, stall, drip, flood, lie and break HTTP. For
//! each, hxrun must fail that one test with a message a person understands, go on to the
//! next test, write every report, stay within the step timeout × 1.5 and under 100 MiB.
//! docs/reliability.md lists the cases and what hxrun does with each.

mod common;
use common::Workspace;
use common::faults::FaultServer;
use std::time::Duration;

/// The step timeout of every faulty test.
const TIMEOUT: Duration = Duration::from_secs(2);
const MAX_RSS_KIB: u64 = 100 * 1024;

/// Runs a suite of two tests — the faulty one (`step`, against `target`), then a healthy one
/// on the fault server's `/ok` — and checks everything the corpus promises.
fn corpus_case(target: &str, step: &str, expected: &[&str]) {
    corpus_case_with(target, step, expected, &[]);
}

fn corpus_case_with(target: &str, step: &str, expected: &[&str], args: &[&str]) {
    let server = FaultServer::start();
    let target = target.replace("FAULT", &server.url);
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &format!(
            "suite: faults\ntarget: {{ url: \"{target}\" }}\ntests:\n  - name: faulty\n    timeout: {}s\n{step}\n  - name: healthy afterwards\n    http: {{ url: \"{}/ok\" }}\n    expect: {{ body: {{ equals: fine }} }}\n",
            TIMEOUT.as_secs(),
            server.url
        ),
    );
    let m = ws.hxrun_measured(&[&["s.yaml"], args].concat());
    let run = &m.run;
    let context = format!("stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert_eq!(run.code, 1, "one failed test means exit 1\n{context}");
    let report = run.json();
    let tests = report["suites"][0]["tests"].as_array().expect("both tests in report.json").clone();
    assert_eq!(tests.len(), 2, "{context}");
    assert_eq!(tests[0]["status"], "failed", "{context}");
    assert_eq!(tests[1]["status"], "passed", "the run goes on after the fault\n{context}");
    let message = tests[0]["message"].as_str().unwrap_or_default();
    assert!(
        expected.iter().any(|e| message.contains(e)),
        "the failure should say one of {expected:?}, it says: {message}\n{context}"
    );
    let took = tests[0]["duration"].as_f64().unwrap();
    eprintln!("fault case: {message} — {took:.2}s, peak RSS {} KiB", m.max_rss_kib);
    assert!(took <= TIMEOUT.as_secs_f64() * 1.5, "the faulty test took {took:.2}s\n{context}");
    assert!(m.max_rss_kib < MAX_RSS_KIB, "peak RSS {} KiB\n{context}", m.max_rss_kib);
    let junit = run.report("junit.xml");
    assert!(junit.contains("failures=\"1\""), "{junit}");
    let csv = run.report("results.csv");
    assert_eq!(csv.lines().count(), 3, "header and two rows: {csv}");
    let events = run.report("events.jsonl");
    assert_eq!(events.lines().filter(|l| l.contains("\"test_finished\"")).count(), 2, "{events}");
}

fn http(path: &str) -> String {
    format!("    http: {{ path: {path} }}\n    expect: {{ body: {{ contains: needle }} }}")
}

const GENERATE: &str =
    "    generate: { model: m, prompt: hi, stream: true }\n    expect: { text: { equals: HX-OK } }";
const GENERATE_WHOLE: &str =
    "    generate: { model: m, prompt: hi, stream: false }\n    expect: { text: { equals: HX-OK } }";
const CHAT_SSE: &str =
    "    chat: { model: m, messages: [{ role: user, content: hi }], stream: true, api: openai }";

#[test]
fn refused() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    corpus_case(&url, &http("/"), &["connection refused"]);
}

#[test]
fn reset_in_the_head() {
    corpus_case("FAULT", &http("/reset-head"), &["request to", "connection", "broke"]);
}

#[test]
fn reset_in_the_body() {
    corpus_case("FAULT", &http("/reset-body"), &["broke off"]);
}

#[test]
fn reset_in_the_stream() {
    corpus_case("FAULT/reset-stream", GENERATE, &["could not be read", "truncated", "broke"]);
}

#[test]
fn a_cut_stream_is_blamed_for_the_counts_it_lost() {
    let step = "    generate: { model: m, prompt: hi, stream: true }\n    expect: { metrics: { eval_count: \"> 0\" } }";
    corpus_case("FAULT/reset-stream", step, &["eval_count: not recorded: the stream ended early ("]);
}

#[test]
fn stalled() {
    corpus_case("FAULT", &http("/stall"), &["timed out after 2s"]);
}

#[test]
fn dripping() {
    corpus_case("FAULT", &http("/drip"), &["timed out after 2s"]);
}

#[test]
fn endless_ndjson_stream() {
    // The default cap; on a very busy machine reading 8 MiB may take longer than the timeout,
    // which then ends it — either way on time and within memory.
    let ends = ["the stream is longer than 8MiB (--max-body)", "timed out after 2s"];
    corpus_case("FAULT/endless-ndjson", GENERATE, &ends);
}

#[test]
fn endless_sse_stream() {
    let ends = ["the stream is longer than 1MiB (--max-body)"];
    corpus_case_with("FAULT/endless-sse", CHAT_SSE, &ends, &["--max-body", "1MiB"]);
}

#[test]
fn unterminated_ndjson_line() {
    corpus_case("FAULT/huge-line", GENERATE, &["longer than 1MiB without an end", "line length"]);
}

#[test]
fn unterminated_sse_line() {
    corpus_case("FAULT/huge-line", CHAT_SSE, &["longer than 1MiB without an end"]);
}

#[test]
fn hostile_chunk_size_on_the_lean_client() {
    corpus_case("FAULT/hostile-chunk", GENERATE, &["chunk-size line longer than 4 KiB"]);
}

#[test]
fn hostile_chunk_size_on_the_general_client() {
    corpus_case("FAULT", &http("/hostile-chunk"), &["broke off", "chunk"]);
}

#[test]
fn hostile_chunk_size_in_a_perf_loop() {
    let step = "    perf:\n      http: { path: /hostile-chunk }\n      iterations: 3";
    corpus_case("FAULT", step, &["all 3 requests failed", "chunk-size line"]);
}

#[test]
fn huge_body_on_an_http_step() {
    corpus_case("FAULT", &http("/huge-body"), &["kept only the first part of the body"]);
}

#[test]
fn huge_body_on_the_models_list() {
    corpus_case("FAULT/huge-body", "    models: { present: [m] }", &["longer than 8MiB (--max-body)"]);
}

#[test]
fn huge_non_stream_answer() {
    corpus_case("FAULT/huge-body", GENERATE_WHOLE, &["longer than 8MiB (--max-body)"]);
}

#[test]
fn gzip_bomb_is_never_inflated() {
    corpus_case("FAULT", &http("/gzip"), &["kept only the first part of the body"]);
}

#[test]
fn redirect_loop() {
    corpus_case("FAULT", &http("/redirect"), &["redirect"]);
}

#[test]
fn redirect_on_an_llm_request() {
    corpus_case("FAULT/redirect", GENERATE, &["answered 302"]);
}

#[test]
fn html_where_json_was_due() {
    corpus_case("FAULT/html", GENERATE_WHOLE, &["is not valid JSON"]);
}

#[test]
fn an_unload_answered_with_a_page_is_no_unload() {
    corpus_case(
        "FAULT/html",
        "    unload: { model: m }",
        &["status 200, but the answer is not JSON: Ollama confirms an unload"],
    );
}

#[test]
fn endless_headers() {
    corpus_case("FAULT", &http("/huge-headers"), &["request to", "head", "header"]);
}

#[test]
fn endless_headers_on_the_lean_client() {
    corpus_case("FAULT/huge-headers", GENERATE, &["response head too large", "too many headers"]);
}

#[test]
fn invalid_utf8_in_an_answer() {
    corpus_case("FAULT/invalid-utf8", GENERATE_WHOLE, &["text: expected exactly \"HX-OK\""]);
}

#[test]
fn tls_to_a_plain_port_fails_at_once() {
    let step = "    http: { url: \"HTTPS/ok\" }";
    let server = FaultServer::start();
    let https = server.url.replace("http://", "https://");
    corpus_case("FAULT", &step.replace("HTTPS", &https), &["the TLS handshake failed"]);
}

#[test]
fn a_silent_server_cannot_hold_the_requests_hxrun_makes_for_itself() {
    // Cold loads unload the model first and read /api/ps afterwards: both under the timeout.
    let server = FaultServer::start();
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &format!(
            "suite: silent\ntarget: {{ url: \"{}/stall\" }}\ntests:\n  - name: cold loads\n    timeout: 1s\n    perf:\n      generate: {{ model: m, prompt: hi }}\n      cold: true\n      iterations: 2\n",
            server.url
        ),
    );
    let m = ws.hxrun_measured(&["s.yaml"]);
    assert_eq!(m.run.code, 1, "{}", m.run.stdout);
    assert!(m.wall < Duration::from_secs(60), "took {:?}", m.wall);
    assert!(
        m.run.stdout.contains(
            "unloading before the cold request failed: timed out after 1s (the step timeout, per request, set by `timeout` at s.yaml:5:14)"
        ),
        "{}",
        m.run.stdout
    );
}
