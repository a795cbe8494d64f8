//! Stopping a run: SIGINT/SIGTERM and `--max-time` keep every finished result in every report,
//! mark the test in flight interrupted and list the rest as not run.

mod common;
use common::faults::FaultServer;
use common::{Sim, Workspace};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Generous deadlines: these tests must hold on a busy 2-core machine.
const PATIENCE: Duration = Duration::from_secs(60);

fn start(ws: &Workspace, args: &[&str]) -> Child {
    ws.command(args).arg("--no-progress").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

/// Waits until events.jsonl holds `n` finished tests (written as they finish).
fn wait_for_finished(ws: &Workspace, n: usize) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let events = std::fs::read_to_string(ws.path().join("reports/events.jsonl")).unwrap_or_default();
        if events.lines().filter(|l| l.contains("\"test_finished\"")).count() >= n {
            return;
        }
        assert!(Instant::now() < deadline, "no {n} finished tests in time: {events}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn finish(child: Child) -> (i32, String, String) {
    let deadline = Instant::now() + PATIENCE;
    let pid = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !waiter.is_finished() {
        assert!(Instant::now() < deadline, "hxrun {pid} did not end after the signal");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = waiter.join().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: sends a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

/// A passing test, a test that hangs (a server that never answers), and one never reached.
fn three_tests(ws: &Workspace, fault: &FaultServer) {
    ws.write(
        "s.yaml",
        &format!(
            r#"suite: stop
target: {{ url: "{url}" }}
tests:
  - name: first passes
    http: {{ path: /ok }}
  - name: second hangs
    timeout: 5m
    http: {{ path: /stall }}
  - name: third never starts
    http: {{ path: /ok }}
"#,
            url = fault.url
        ),
    );
}

fn check_stopped_reports(ws: &Workspace, why: &str) {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join("reports/report.json")).unwrap())
            .unwrap();
    let tests = report["suites"][0]["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 3, "{report}");
    assert_eq!(tests[0]["status"], "passed");
    assert_eq!(tests[1]["status"], "failed");
    assert_eq!(tests[1]["failure_kind"], "interrupted");
    assert!(tests[1]["message"].as_str().unwrap().contains(why), "{}", tests[1]["message"]);
    assert_eq!(tests[2]["status"], "skipped");
    assert_eq!(tests[2]["message"], format!("not run: {why}"));
    assert!(report["stopped"].as_str().unwrap().contains(why));
    let junit = std::fs::read_to_string(ws.path().join("reports/junit.xml")).unwrap();
    assert!(junit.contains("type=\"Interrupted\""), "{junit}");
    assert!(junit.contains("tests=\"3\""), "{junit}");
    let csv = std::fs::read_to_string(ws.path().join("reports/results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
}

/// Sends `sig` once the first test has finished and the second hangs; checks the exit code
/// and every report.
fn stop_mid_run(sig: i32, name: &str, code: i32) {
    let fault = FaultServer::start();
    let ws = Workspace::new();
    three_tests(&ws, &fault);
    let child = start(&ws, &["s.yaml"]);
    wait_for_finished(&ws, 1);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, sig);
    let (got, stdout, stderr) = finish(child);
    assert_eq!(got, code, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains(&format!("{name} received")), "{stderr}");
    assert!(stdout.contains(&format!("run stopped early: interrupted by {name}")), "{stdout}");
    check_stopped_reports(&ws, &format!("interrupted by {name}"));
}

#[test]
fn sigterm_mid_run_keeps_every_finished_result() {
    stop_mid_run(libc::SIGTERM, "SIGTERM", 143);
}

#[test]
fn sigint_mid_run_exits_130_with_reports() {
    stop_mid_run(libc::SIGINT, "SIGINT", 130);
}

#[test]
fn max_time_ends_a_hanging_run_with_reports() {
    let fault = FaultServer::start();
    let ws = Workspace::new();
    three_tests(&ws, &fault);
    let started = Instant::now();
    let (code, stdout, stderr) = finish(start(&ws, &["s.yaml", "--max-time", "3s"]));
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(started.elapsed() < PATIENCE, "took {:?}", started.elapsed());
    check_stopped_reports(&ws, "the run's time limit (--max-time 3s) was reached");
}

#[test]
fn a_stopped_perf_loop_keeps_what_it_measured() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &format!(
            "suite: soak\ntarget: {{ url: \"{}\" }}\ntests:\n  - name: long loop\n    perf:\n      http: {{ path: /api/version }}\n      duration: 10m\n",
            sim.url
        ),
    );
    let child = start(&ws, &["s.yaml"]);
    // The run has started once results.csv has its header.
    let deadline = Instant::now() + PATIENCE;
    while !std::fs::read_to_string(ws.path().join("reports/results.csv"))
        .is_ok_and(|c| c.contains("timestamp"))
    {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_secs(1));
    signal(&child, libc::SIGTERM);
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, 143, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join("reports/report.json")).unwrap())
            .unwrap();
    let test = &report["suites"][0]["tests"][0];
    assert_eq!(test["failure_kind"], "interrupted", "{test}");
    let message = test["message"].as_str().unwrap();
    assert!(message.contains("the perf loop stopped after"), "{message}");
    let level = &test["observation"]["levels"][0];
    let measured = level["requests"].as_u64().unwrap();
    assert!(message.contains(&format!("after {measured} measured requests")), "{message}");
    // report.json keeps the first 1000 requests whole; the figures cover every one.
    let kept = level["samples"].as_array().unwrap().len() as u64;
    assert_eq!(kept, measured.min(1000));
    assert_eq!(level["samples_not_in_report"].as_u64().unwrap_or(0), measured - kept);
    assert_eq!(level["stats"]["e2e"]["count"].as_u64().unwrap(), measured);
}

#[test]
fn a_probe_stops_on_sigterm_while_it_finds_out_what_the_server_is() {
    use std::io::{BufRead, BufReader};
    let fault = FaultServer::start();
    let ws = Workspace::new();
    // Every detection request stalls (each would wait its 10 s).
    let mut child = start(&ws, &["probe", &format!("{}/stall", fault.url), "--quick"]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 && !line.contains("probing") {
        line.clear();
    }
    assert!(line.contains("probing"), "the probe never started detection");
    signal(&child, libc::SIGTERM);
    let (code, _, stderr) = finish(child);
    assert_eq!(code, 143, "{stderr}");
    assert!(stderr.contains("SIGTERM received while finding out what the server is: stopping"), "{stderr}");
}
