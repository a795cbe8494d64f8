//! Sizes a suite may reach run in bounded memory and linear time, or are refused early with the
//! limit named: many tests with one mistake, an alias bomb, a huge value.

mod common;
use common::Workspace;
use std::time::Duration;

/// Far above what each case takes (a few seconds in a debug build on a busy machine); the
/// quadratic duplicate check took minutes.
const PATIENCE: Duration = Duration::from_secs(60);
const MAX_RSS_KIB: u64 = 100 * 1024;

#[test]
fn thirty_thousand_copies_of_one_mistake_are_checked_in_linear_time() {
    let ws = Workspace::new();
    let mut text = String::from("suite: s\ntarget: { url: \"http://127.0.0.1:9\" }\ntests:\n");
    for _ in 0..30_000 {
        text.push_str("  - { name: same, http: { path: / } }\n");
    }
    ws.write("dup.yaml", &text);
    let m = ws.hxrun_measured(&["dup.yaml"]);
    assert_eq!(m.run.code, 2, "{}", m.run.stderr);
    assert!(m.wall < PATIENCE, "took {:?}", m.wall);
    assert!(m.max_rss_kib < MAX_RSS_KIB, "peak RSS {} KiB", m.max_rss_kib);
    let err = &m.run.stderr;
    assert!(
        err.contains("dup.yaml:1005:5: stopped after 1000 errors: fix these, then validate again"),
        "{}",
        &err[err.len().saturating_sub(600)..]
    );
    assert!(err.len() < 400_000, "every error printed with its snippet: {} bytes", err.len());
}

#[test]
fn an_alias_bomb_is_refused_before_it_takes_memory() {
    let ws = Workspace::new();
    let mut text = String::from("suite: s\na0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        text.push_str(&format!("a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); 9].join(", ")));
    }
    text.push_str("tests:\n  - name: x\n    http: { path: / }\n");
    ws.write("bomb.yaml", &text);
    let m = ws.hxrun_measured(&["bomb.yaml"]);
    assert_eq!(m.run.code, 2, "{}", m.run.stderr);
    assert!(m.run.stderr.contains("the suite is too large to load"), "{}", m.run.stderr);
    assert!(m.max_rss_kib < MAX_RSS_KIB, "peak RSS {} KiB", m.max_rss_kib);
}

#[test]
fn a_value_past_8_mib_is_refused_with_the_limit() {
    let ws = Workspace::new();
    let text = format!(
        "suite: s\ntests:\n  - name: a\n    generate: {{ model: m, prompt: \"{}\" }}\n",
        "x".repeat(9 << 20)
    );
    ws.write("long.yaml", &text);
    let m = ws.hxrun_measured(&["long.yaml"]);
    assert_eq!(m.run.code, 2, "{}", m.run.stderr);
    assert!(
        m.run.stderr.contains("long.yaml:4:35: ")
            && m.run.stderr.contains("a value of 9 MiB: hxrun takes values up to 8 MiB"),
        "{}",
        m.run.stderr
    );
    assert!(m.max_rss_kib < MAX_RSS_KIB, "peak RSS {} KiB", m.max_rss_kib);
}
