//! Files from outside are bounded: a device, a FIFO or a folder where a file is due is refused
//! with what to give instead, a file past 64 MiB is refused unread, and a report path that is a
//! FIFO nothing reads fails that report instead of blocking the run.

mod common;
use common::{Sim, Workspace};
use std::time::{Duration, Instant};

/// Far beyond what any case needs (each ends in well under a second when right); a hang is
/// what this catches.
const DEADLINE: Duration = Duration::from_secs(60);

/// Runs hxrun and returns (exit code, stderr), failing the test if it runs past DEADLINE.
fn run(ws: &Workspace, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut child = ws
        .command(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("hxrun {args:?} still running after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn fifo(ws: &Workspace, name: &str) -> String {
    let path = ws.path().join(name);
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a path inside the test's own folder.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    path.display().to_string()
}

#[test]
fn devices_fifos_and_huge_files_are_refused_as_inputs() {
    let ws = Workspace::new();
    let pipe = fifo(&ws, "pipe");
    ws.write(
        "s.yaml",
        "suite: s\ntarget: { url: \"https://127.0.0.1:9\" }\ntests:\n  - name: a\n    http: { path: / }\n",
    );
    // Sparse: no disk space used.
    std::fs::File::create(ws.path().join("huge.yaml")).unwrap().set_len(65 * 1024 * 1024).unwrap();
    let cases: &[(&[&str], i32, &str)] = &[
        (&["run", "/dev/zero"], 2, "/dev/zero is a device, not a file: give the suite as a regular file"),
        (&["run", &pipe], 2, "is a FIFO (named pipe), not a file: give the suite as a regular file"),
        (&["validate", "huge.yaml"], 2, "huge.yaml is larger than 64 MiB, more than any suite needs"),
        (&["s.yaml", "--env-file", "/dev/zero"], 2, "give the env file as a regular file"),
        (&["s.yaml", "--baseline", "/dev/zero"], 2, "give the baseline as a regular file"),
        (&["s.yaml", "--cacert", "/dev/zero"], 1, "give the CA file (ca_cert, --cacert) as a regular file"),
        (&["report", "/dev/zero"], 2, "/dev/zero is a device, not a file: give the report as a regular file"),
    ];
    for (args, code, says) in cases {
        let (got, err) = run(&ws, args, &[]);
        assert_eq!(got, *code, "hxrun {args:?}: {err}");
        let all = format!(
            "{err}{}",
            std::fs::read_to_string(ws.path().join("reports/report.json")).unwrap_or_default()
        );
        assert!(all.contains(says), "hxrun {args:?} should say {says:?}:\n{err}");
    }
    // A merge input whose report.json is a device.
    std::fs::create_dir(ws.path().join("shard")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", ws.path().join("shard/report.json")).unwrap();
    let (got, err) = run(&ws, &["merge", "shard", "-o", "merged"], &[]);
    assert_ne!(got, 0, "{err}");
    assert!(err.contains("is a device, not a file: give the report as a regular file"), "{err}");
}

#[test]
fn a_report_path_that_is_a_fifo_nothing_reads_does_not_block_the_run() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write("s.yaml", &common::suite_text("s", &sim.url, "  - name: a\n    http: { path: / }\n"));
    let junit = fifo(&ws, "junit-pipe");
    let (code, err) = run(&ws, &["s.yaml", "--no-progress", "--junit", &junit], &[]);
    assert_eq!(code, 3, "a report that could not be written is exit 3: {err}");
    assert!(err.contains("is a FIFO (named pipe) that nothing reads: start its reader first"), "{err}");
    assert!(ws.path().join("reports/report.json").exists(), "the other reports are written");
    let summary = fifo(&ws, "summary-pipe");
    let (code, err) = run(&ws, &["s.yaml", "--no-progress"], &[("GITHUB_STEP_SUMMARY", &summary)]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("cannot append to"), "{err}");
}
