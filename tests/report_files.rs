//! Report paths that are not plain files, and a console nobody reads any more.

mod common;
use common::{Sim, Workspace};
use std::io::Read;
use std::process::Stdio;

fn passing_suite(ws: &Workspace, sim: &Sim) {
    ws.write(
        "s.yaml",
        &format!(
            "suite: files\ntarget: {{ url: \"{}\" }}\ntests:\n  - name: root\n    http: {{ path: / }}\n",
            sim.url
        ),
    );
}

#[test]
fn junit_into_a_fifo_is_written_through() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    passing_suite(&ws, &sim);
    let fifo = ws.path().join("junit.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a path in our temp dir.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            std::fs::File::open(fifo).unwrap().read_to_string(&mut s).unwrap();
            s
        })
    };
    let run = ws.hxrun(&["s.yaml", "--junit", "junit.fifo"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let xml = reader.join().unwrap();
    assert!(xml.contains("<testcase name=\"root\""), "{xml}");
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "still a FIFO");
}

#[test]
fn a_symlinked_report_keeps_its_link() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    passing_suite(&ws, &sim);
    std::fs::create_dir(ws.path().join("elsewhere")).unwrap();
    std::fs::write(ws.path().join("elsewhere/junit.xml"), "old").unwrap();
    std::os::unix::fs::symlink("elsewhere/junit.xml", ws.path().join("link.xml")).unwrap();
    let run = ws.hxrun(&["s.yaml", "--junit", "link.xml"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(std::fs::symlink_metadata(ws.path().join("link.xml")).unwrap().file_type().is_symlink());
    let xml = std::fs::read_to_string(ws.path().join("elsewhere/junit.xml")).unwrap();
    assert!(xml.contains("<testcase name=\"root\""), "{xml}");
    let leftovers: Vec<_> = std::fs::read_dir(ws.path().join("elsewhere"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_report_that_cannot_be_written_leaves_no_temp_file_and_exits_3() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    passing_suite(&ws, &sim);
    // A directory where the JSON report should go: the rename cannot replace it.
    std::fs::create_dir_all(ws.path().join("reports/report.json/x")).unwrap();
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("cannot write report"), "{}", run.stderr);
    assert!(run.report("junit.xml").contains("root"), "the other reports are written");
    let names: Vec<String> = std::fs::read_dir(ws.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains(".tmp.")), "{names:?}");
}

#[test]
fn a_closed_stdout_does_not_fail_a_green_run() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    passing_suite(&ws, &sim);
    // `hxrun ... | head -0`: the reader is gone before hxrun writes a line.
    let mut child = ws.command(&["s.yaml"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
    assert!(std::fs::read_to_string(ws.path().join("reports/junit.xml")).unwrap().contains("root"));
}

#[test]
fn a_report_on_standard_output_has_it_alone() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write("s.yaml", &common::suite_text("s", &sim.url, "  - name: a\n    http: { path: / }\n"));
    let run = ws.hxrun(&["s.yaml", "--no-progress", "--junit", "/dev/stdout"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("<?xml"), "console text mixed into the XML:\n{}", run.stdout);
    assert!(run.stdout.trim_end().ends_with("</testsuites>"), "{}", run.stdout);
    assert!(run.stderr.contains("PASS s › a") && run.stderr.contains("reports: "), "{}", run.stderr);
}
