//! Failing, hanging and unreachable servers: one failed test each, a message a person
//! understands in every report, the run goes on, and the exit code says so.

mod common;
use common::{Sim, Workspace};
use std::net::TcpListener;

fn suite(url: &str, tests: &str) -> String {
    format!("suite: failing\ntarget: {{ url: \"{url}\" }}\ntests:\n{tests}")
}

#[test]
fn wrong_expectation_shows_expected_and_actual_everywhere() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &suite(
            &sim.url,
            r#"
  - name: root says hello
    http: { path: / }
    expect:
      body: { equals: Hello }
  - name: version still checked
    http: { path: /api/version }
    expect:
      json:
        $.version: "0.11.4"
"#,
        ),
    );
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let expected = r#"body: expected exactly "Hello", got "Ollama is running""#;
    assert!(run.stdout.contains(expected), "console:\n{}", run.stdout);
    assert!(
        run.stdout
            .contains("      at s.yaml:8:7\n      8 │       body: { equals: Hello }\n        │       ^"),
        "{}",
        run.stdout
    );
    let report = run.json();
    let verdict = &report["suites"][0]["tests"][0]["assertions"][1];
    assert_eq!(
        (verdict["key"].as_str(), verdict["at"]["line"].as_u64()),
        (Some("expect.body"), Some(8)),
        "{verdict}"
    );
    assert!(run.stdout.contains("1 passed, 1 failed, 0 skipped"), "{}", run.stdout);

    let junit = run.report("junit.xml");
    let escaped = "body: expected exactly &quot;Hello&quot;, got &quot;Ollama is running&quot;";
    assert!(junit.contains(&format!("message=\"{escaped}\"")), "{junit}");
    // GitLab's text: the message, then the YAML line of the expectation with a caret.
    let place = "at s.yaml:8:7\n8 │       body: { equals: Hello }\n  │       ^";
    assert!(junit.contains(&format!(">{escaped}\n{place}</failure>")), "{junit}");
    assert!(junit.contains("type=\"AssertionFailed\""));
    assert!(junit.contains("GET http"), "request line in system-out: {junit}");

    let csv = run.report("results.csv");
    let row = csv.lines().find(|l| l.contains("root says hello")).unwrap();
    assert!(row.contains(",failed,"), "{row}");
    assert!(row.contains(r#"body: expected exactly ""Hello"", got ""Ollama is running"""#), "{row}");
}

/// A server that accepts connections and never answers.
fn silent_server() -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(4) {
            held.push(stream);
        }
        // Keep the accepted sockets open until the process ends.
        std::thread::park();
    });
    (url, handle)
}

#[test]
fn hanging_server_times_out_and_the_run_goes_on() {
    let (url, _server) = silent_server();
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &format!(
            r#"suite: hang
target: {{ url: "{url}" }}
tests:
  - name: hangs
    timeout: 300ms
    http: {{ path: /api/version }}
  - name: next test still runs
    http: {{ url: "{}/api/version" }}
"#,
            sim.url
        ),
    );
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("timed out after 300ms (the step timeout, set by `timeout` at s.yaml:5:14)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("PASS hang › next test still runs"), "{}", run.stdout);
    let junit = run.report("junit.xml");
    assert!(junit.contains("type=\"Timeout\""), "{junit}");
    assert_eq!(run.json()["suites"][0]["tests"][1]["status"], "passed");
}

#[test]
fn refused_connection_is_a_clear_failure() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &suite(
            &format!("http://127.0.0.1:{port}"),
            "  - name: root\n    http: { path: / }\n  - name: port bound\n    tcp: {}\n",
        ),
    );
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains(&format!(
            "connection refused by 127.0.0.1:{port}: is the server running and listening on that port?"
        )),
        "{}",
        run.stdout
    );
    // The tcp step and the request meet one cause: said once, then grouped in the summary.
    assert!(run.stdout.contains("(the same cause as above)"), "{}", run.stdout);
    assert!(run.stdout.contains("      2 requests, 2 tests: root, port bound\n"), "{}", run.stdout);
    let html = run.report("report.html");
    assert!(html.contains("✗ FAILED</strong> — 2 of 2 tests failed:"), "the verdict banner: {html}");
    assert_eq!(html.matches("<section class=\"failure cause\"").count(), 1, "{html}");
    assert_eq!(html.matches("<section class=\"failure\"").count(), 0, "grouped, not one each: {html}");
    let md = run.report("summary.md");
    assert!(
        md.contains(
            "is the server running and listening on that port?** — 2 requests, 2 tests: root, port bound"
        ),
        "{md}"
    );
    assert!(run.report("junit.xml").contains("type=\"ConnectionFailed\""));
}

#[test]
fn retries_rerun_and_report_attempts() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &suite(
            &sim.url,
            "  - name: never 404\n    retries: 2\n    retry_delay: 1ms\n    http: { path: /nope }\n    expect: { status: 200 }\n",
        ),
    );
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("status: expected 200, got 404"), "{}", run.stdout);
    assert!(run.stdout.contains("(failed on all 3 attempts)"), "{}", run.stdout);
    assert_eq!(run.json()["suites"][0]["tests"][0]["attempts"].as_array().unwrap().len(), 3);
    assert!(run.report("junit.xml").contains("attempts:\n  #1"));
}

#[test]
fn exec_steps_check_exit_code_and_output() {
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        r#"suite: exec
tests:
  - name: echo works
    exec: { command: [sh, -c, "echo active"] }
    expect: { stdout: { trimmed_equals: active } }
  - name: failing command
    exec: { command: [sh, -c, "echo boom >&2; exit 3"] }
  - name: missing program
    exec: { command: [definitely-not-a-program-hxrun] }
  - name: slow command is killed
    timeout: 200ms
    exec: { command: [sleep, "30"] }
"#,
    );
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("PASS exec › echo works"), "{}", run.stdout);
    assert!(run.stdout.contains(r#"exit_code: expected 0, got 3; stderr: "boom\n""#), "{}", run.stdout);
    assert!(run.stdout.contains(r#"command not found: "definitely-not-a-program-hxrun""#), "{}", run.stdout);
    assert!(run.stdout.contains("timed out after 200ms"), "{}", run.stdout);
}

#[test]
fn unwritable_report_is_exit_code_3_and_other_reports_still_written() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write("s.yaml", &suite(&sim.url, "  - name: root\n    http: { path: / }\n"));
    std::fs::write(ws.path().join("blocker"), "a file where a folder should be").unwrap();
    let run = ws.hxrun(&["s.yaml", "--junit", "blocker/junit.xml"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("cannot write report blocker/junit.xml"), "{}", run.stderr);
    assert!(run.report("results.csv").contains(",passed,"));
}

#[test]
fn timeout_flag_replaces_the_default_but_not_a_tests_own() {
    let (url, _server) = silent_server();
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &format!(
            "suite: t\ntarget: {{ url: \"{url}\" }}\ndefaults: {{ timeout: 10s }}\ntests:\n  - name: default\n    http: {{ path: / }}\n  - name: own\n    timeout: 150ms\n    http: {{ path: / }}\n"
        ),
    );
    let run = ws.hxrun(&["s.yaml", "--timeout", "100ms"]);
    assert!(
        run.stdout.contains("timed out after 100ms (the step timeout, set by --timeout on the command line)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("timed out after 150ms (the step timeout, set by `timeout` at s.yaml:8:14)"),
        "{}",
        run.stdout
    );
}

/// A server that closes a kept-alive connection when the next request arrives on it, without
/// answering (what a server closing idle connections does when the request crosses the close):
/// the request is sent again on a new connection, as curl does, and the test passes.
#[test]
fn a_request_lost_on_a_connection_the_server_closed_is_sent_again() {
    // The server closes the kept-alive connection with the next request read (hyper: "closed
    // before message completed"), or unread (the kernel resets it: "connection reset by peer").
    for reset in [false, true] {
        lost_request_is_sent_again(reset);
    }
}

fn lost_request_is_sent_again(reset: bool) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine";
        // A request head read whole: true; the connection closed first: false.
        let read_head = |r: &mut BufReader<std::net::TcpStream>| -> bool {
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    return false;
                }
                if line == "\r\n" {
                    return true;
                }
            }
        };
        // The first connection: one answer, then the next request on it is dropped unanswered.
        let (first, _) = listener.accept().unwrap();
        let mut r = BufReader::new(first.try_clone().unwrap());
        if read_head(&mut r) {
            let _ = (&first).write_all(answer);
        }
        if reset {
            // Wait for the next request and close with it unread: the kernel answers with RST.
            let _ = first.peek(&mut [0u8; 1]);
        } else {
            let _ = read_head(&mut r);
        }
        drop(r);
        drop(first);
        // Every later connection is answered.
        for s in listener.incoming().flatten() {
            let mut r = BufReader::new(s.try_clone().unwrap());
            while read_head(&mut r) {
                let _ = (&s).write_all(answer);
            }
        }
    });
    let ws = Workspace::new();
    let url = format!("http://127.0.0.1:{port}");
    ws.write(
        "s.yaml",
        &suite(&url, "  - name: one\n    http: { path: /a }\n  - name: two\n    http: { path: /b }\n    expect: { body: { equals: fine } }\n"),
    );
    let run = ws.hxrun(&["s.yaml", "--no-progress"]);
    assert_eq!(run.code, 0, "reset: {reset}\n{}", run.stdout);
    assert!(run.stdout.contains("PASS failing › two"), "{}", run.stdout);
}
