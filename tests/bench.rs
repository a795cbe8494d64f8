//! `hxrun bench` works end to end: the parts run in their own processes against simulators of
//! their own, their rows land in the document's generated block (replaced, not appended, when
//! run again), and a missing peer tool is a note, not a failure. No figure is judged here:
//! timing claims live in the bench's own output (docs/perf.md), never in a test.

mod common;
use common::Workspace;

#[test]
fn parts_write_their_rows_into_the_generated_block() {
    let ws = Workspace::new();
    let doc = ws.write("perf.md", "# hxrun's own performance\n\nMethod text stays.\n");
    let args = [
        "bench",
        "--parts",
        "transport,parsers,memory,loop",
        "--rounds",
        "1",
        "--duration",
        "1s",
        "--parser-runs",
        "2",
        "--streams",
        "40",
        "--loop-duration",
        "3s",
        "--doc",
        "perf.md",
        "--settle",
        "0s",
    ];
    let run = ws.hxrun(&args);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let text = std::fs::read_to_string(&doc).unwrap();
    assert!(text.starts_with("# hxrun's own performance\n\nMethod text stays.\n"), "{text}");
    assert!(text.contains("<!-- hxrun bench: begin"), "{text}");
    assert!(text.contains(" cores") && text.contains("Measured 20"), "the date and the machine: {text}");
    for needle in [
        "hyper's client::conn::http1 / hxrun's lean client",
        "NDJSON (Ollama) parser",
        "SSE (OpenAI) parser",
        "peak RSS (VmHWM) of hxrun with 40 concurrent streams",
        "a 3s loop as a user runs one",
        "B/request",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    assert!(!text.contains("failed:"), "{text}");
    // Again: the block is replaced, the rest of the file kept.
    let again = ws.hxrun(&["bench", "--parts", "parsers", "--parser-runs", "1", "--doc", "perf.md"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let text = std::fs::read_to_string(&doc).unwrap();
    assert_eq!(text.matches("<!-- hxrun bench: begin").count(), 1, "{text}");
    assert!(!text.contains("hyper's"), "the old rows are gone: {text}");
    assert!(text.contains("Method text stays."), "{text}");
}

#[test]
fn peer_tools_that_are_not_installed_are_a_note() {
    let ws = Workspace::new();
    let run =
        ws.hxrun_env(&["bench", "--part", "peers"], &[("PATH", "/nonexistent"), ("HXRUN_BENCH_PEERS", "")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("skipped: neither is installed (pip install aiperf guidellm"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_unknown_part_is_a_usage_error() {
    let ws = Workspace::new();
    let run = ws.hxrun(&["bench", "--parts", "rate,speed"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("unknown bench part \"speed\""), "{}", run.stderr);
}
