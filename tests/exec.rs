//! Exec steps: their own process group (no step, timed out or not, leaves an orphan), output
//! read until the program exits (not until a background child lets go), output kept up to
//! --max-body.

mod common;
use common::Workspace;
use std::time::{Duration, Instant};

fn alive(pid: i32) -> bool {
    // A zombie no longer counts: it is dead, waiting for init to reap it.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
}

fn read_pid(ws: &Workspace) -> i32 {
    std::fs::read_to_string(ws.path().join("pid")).unwrap().trim().parse().unwrap()
}

fn kill(pid: i32) {
    // SAFETY: a signal to a process this test started.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

#[test]
fn a_timeout_kills_the_whole_process_group() {
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        r#"suite: exec
tests:
  - name: leaves a grandchild
    timeout: 1s
    exec: { command: [sh, -c, "sleep 300 & echo $! > pid; wait"] }
"#,
    );
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("timed out after 1s"), "{}", run.stdout);
    let pid = read_pid(&ws);
    let deadline = Instant::now() + Duration::from_secs(30);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let orphan = alive(pid);
    if orphan {
        kill(pid);
    }
    assert!(!orphan, "the background sleep {pid} outlived the timed-out step");
}

#[test]
fn a_background_child_holding_stdout_does_not_hold_the_step() {
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        r#"suite: exec
tests:
  - name: starts a daemon
    timeout: 60s
    exec: { command: [sh, -c, "sleep 300 & echo $! > pid; echo started"] }
    expect: { stdout: { trimmed_equals: started } }
"#,
    );
    let run = ws.hxrun(&["s.yaml"]);
    let pid = read_pid(&ws);
    // The step owns what it started: the background sleep ends with it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while alive(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let orphan = alive(pid);
    if orphan {
        kill(pid);
    }
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(!orphan, "the background sleep {pid} outlived the step that started it");
    let took = run.json()["suites"][0]["tests"][0]["duration"].as_f64().unwrap();
    assert!(took < 30.0, "the step waited for the background child: {took}s");
}

#[test]
fn output_is_kept_up_to_max_body() {
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        r#"suite: exec
tests:
  - name: prints 200 MB
    timeout: 60s
    exec: { command: [sh, -c, "head -c 200000000 /dev/zero | tr '\\0' x"] }
    expect: { stdout: { equals: short } }
"#,
    );
    let m = ws.hxrun_measured(&["s.yaml", "--max-body", "1MiB"]);
    assert_eq!(m.run.code, 1, "{}", m.run.stdout);
    assert!(m.max_rss_kib < 100 * 1024, "peak RSS {} KiB", m.max_rss_kib);
    let test = &m.run.json()["suites"][0]["tests"][0];
    let message = test["message"].as_str().unwrap();
    assert!(message.contains("kept only the first part of the command's output"), "{message}");
    assert_eq!(test["observation"]["output_truncated"], true);
    let kept = test["observation"]["stdout"].as_str().unwrap();
    assert!(kept.len() < 100 * 1024, "reports keep an excerpt, not {} bytes", kept.len());
    assert!(kept.ends_with("more bytes not kept in reports]"), "{}", &kept[kept.len() - 60..]);
    let report = std::fs::metadata(ws.path().join("reports/report.json")).unwrap().len();
    assert!(report < 1024 * 1024, "report.json is {report} bytes");
}
