//! The reports people look at: report.html (self-contained, failures first, charts), summary.md
//! (Markdown that renders, Mermaid charts), `hxrun report` re-rendering a saved run to the same
//! bytes, and `hxrun compare` gating on a regression.

mod common;
use common::{Sim, Workspace, repo};
use hxrun::sim::SimConfig;
use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
use std::time::Duration;

fn sim(tokens_per_s: f64) -> Sim {
    Sim::start(SimConfig {
        tokens_per_s,
        ttft: Duration::from_millis(2),
        load_time: Duration::from_millis(5),
        jitter: 0.0,
        ..SimConfig::default()
    })
}

fn perf_suite(url: &str) -> String {
    format!(
        "suite: speed\ntarget: {{ url: \"{url}\" }}\ntests:\n  - name: answer\n    generate: {{ model: phi3:latest, prompt: Summarize, stream: true, options: {{ num_predict: 8 }} }}\n  - name: baseline phi3\n    perf:\n      generate: {{ model: phi3:latest, prompt: Summarize, options: {{ num_predict: 8 }} }}\n      iterations: 3\n    thresholds:\n      ttft.p95: \"< 5s\"\n"
    )
}

/// The code blocks of a Markdown text, with their info strings, as a Markdown parser sees them.
fn code_blocks(md: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for event in Parser::new(md) {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                current = Some((info.to_string(), String::new()))
            }
            Event::Text(t) => {
                if let Some((_, body)) = &mut current {
                    body.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => out.extend(current.take()),
            _ => {}
        }
    }
    out
}

/// A Mermaid `xychart-beta` bar chart as hxrun writes it: its header, one label per bar.
fn check_xychart(block: &str) {
    let lines: Vec<&str> = block.lines().map(str::trim).collect();
    assert_eq!(lines[0], "xychart-beta", "{block}");
    assert!(lines[1].starts_with("title \"") && lines[1].ends_with('"'), "{block}");
    let list = |prefix: &str| -> Vec<String> {
        let line =
            lines.iter().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix} in {block}"));
        let inner = line[prefix.len()..].trim().trim_start_matches('[').trim_end_matches(']');
        inner.split(", ").map(str::to_string).collect()
    };
    let labels = list("x-axis");
    let bars = list("bar");
    assert_eq!(labels.len(), bars.len(), "one label per bar: {block}");
    assert!(
        labels.iter().all(|l| l.len() >= 2
            && l.starts_with('"')
            && l.ends_with('"')
            && !l[1..l.len() - 1].contains('"'))
    );
    assert!(bars.iter().all(|b| b.parse::<f64>().is_ok()), "{block}");
    let y = lines.iter().find(|l| l.starts_with("y-axis \"")).expect("a y axis");
    assert!(y.contains(" --> "), "{block}");
}

#[test]
fn a_failing_run_writes_a_page_with_its_failures_first_and_nothing_from_elsewhere() {
    let ws = Workspace::new();
    let fixture = repo().join("tests/fixtures/failing.yaml");
    let run = ws.hxrun(&[fixture.to_str().unwrap(), "--sim"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let html = run.report("report.html");
    let failures = html.find("id=\"failures\"").expect("a failure list");
    assert!(failures < html.find("id=\"tests\"").unwrap(), "failures come before the full list");
    assert!(html.contains("colour codes &amp; &lt;markup&gt; in output"), "names are escaped");
    assert!(!html.contains("<markup>"));
    for outside in
        ["src=\"http", "href=\"http", "src=\"//", "href=\"//", "@import", "url(", "rel=\"stylesheet\""]
    {
        assert!(!html.contains(outside), "the page must load nothing from elsewhere: {outside}");
    }
    assert!(html.contains("expected</th><td><code>2xx</code>"), "a verdict's values side by side");
    assert!(html.contains("request: <code>GET http://127.0.0.1:"), "the failed step's request line");
    let md = run.report("summary.md");
    assert!(md.starts_with("## hxrun: ❌ FAILED — 1 passed, 7 failed, 1 skipped"), "{md}");
    assert!(md.contains("**✗ nothing listens on port 1**"), "{md}");
    assert!(md.contains("connection refused by 127.0.0.1:1"), "the failure's message: {md}");
    let blocks = code_blocks(&md);
    assert!(
        blocks.iter().any(|(info, body)| info == "text" && body.contains("\\u{1b}[31mred")),
        "{blocks:?}"
    );
    assert!(
        run.stdout.contains("reports/report.html") && run.stdout.contains("reports/summary.md"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_saved_run_re_renders_to_the_same_page_and_summary() {
    let sim = sim(500.0);
    let ws = Workspace::new();
    ws.write("s.yaml", &perf_suite(&sim.url));
    let run = ws.hxrun(&["s.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let html = run.report("report.html");
    assert!(html.contains("<svg"), "charts are drawn");
    assert!(html.contains("p95 &lt; 5s"), "the threshold is drawn on the TTFT distribution");
    let again = ws.hxrun(&["report", "reports/report.json", "--html", "again.html", "--md", "again.md"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert_eq!(std::fs::read_to_string(ws.path().join("again.html")).unwrap(), html);
    let md = run.report("summary.md");
    assert_eq!(std::fs::read_to_string(ws.path().join("again.md")).unwrap(), md);
    assert!(md.contains("| phi3:latest | baseline phi3 | 3 |"), "the seed's perf table: {md}");
    let charts: Vec<String> =
        code_blocks(&md).into_iter().filter(|(i, _)| i == "mermaid").map(|(_, b)| b).collect();
    assert_eq!(charts.len(), 2, "tokens/s and TTFT per model: {md}");
    charts.iter().for_each(|c| check_xychart(c));
}

#[test]
fn a_newer_or_foreign_report_is_refused_with_exit_2() {
    let ws = Workspace::new();
    ws.write("new.json", r#"{ "format": 99, "hxrun_version": "9.9.9", "suites": [] }"#);
    ws.write("junk.json", "[1, 2]");
    let run = ws.hxrun(&["report", "new.json"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("report format 99 is newer than this hxrun reads"), "{}", run.stderr);
    let run = ws.hxrun(&["compare", "new.json", "junk.json"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn compare_shows_the_change_and_fails_on_a_regression_only() {
    let (fast, slow) = (sim(600.0), sim(200.0));
    let ws = Workspace::new();
    ws.write("fast.yaml", &perf_suite(&fast.url));
    ws.write("slow.yaml", &perf_suite(&slow.url));
    assert_eq!(ws.hxrun(&["fast.yaml", "--json", "fast.json"]).code, 0);
    assert_eq!(ws.hxrun(&["slow.yaml", "--json", "slow.json"]).code, 0);
    let worse = ws.hxrun(&["compare", "fast.json", "slow.json", "--md", "cmp.md", "--html", "cmp.html"]);
    assert_eq!(worse.code, 1, "slower tokens/s is a regression: {}", worse.stdout);
    assert!(worse.stdout.contains("REGRESSION beyond 10%"), "{}", worse.stdout);
    assert!(worse.stdout.contains("tokens_per_s.mean [c=1]"), "{}", worse.stdout);
    let html = std::fs::read_to_string(ws.path().join("cmp.html")).unwrap();
    assert!(
        html.contains("<code>--baseline</code>") && !html.contains('`'),
        "Markdown backticks in HTML: {html}"
    );
    assert!(
        html.contains("<tr class=\"fail\">") && html.contains("baseline phi3 — e2e"),
        "overlaid distributions"
    );
    let md = std::fs::read_to_string(ws.path().join("cmp.md")).unwrap();
    assert!(md.contains("| ❌ baseline phi3 | tokens_per_s.mean [c=1] |"), "{md}");
    // The same slowdown judged by --baseline shows in the page's baseline section.
    let judged = ws.hxrun(&["slow.yaml", "--baseline", "fast.json"]);
    assert_eq!(judged.code, 1, "{}", judged.stdout);
    let page = judged.report("report.html");
    let section = &page[page.find("id=\"baseline\"").expect("a baseline section")..];
    assert!(section.contains("<tr class=\"fail\">") && section.contains("✗ regression"), "{section}");
    assert!(judged.report("summary.md").contains("### Regressions against the baseline"));
    assert!(
        judged.report("report.json").contains("\"regression.tokens_per_s.mean\""),
        "the verdict's source"
    );
    // Both servers take ~2 ms to a first token, so TTFT is scheduling noise on a busy machine:
    // its tolerance is widened; the throughput figures, three times apart, are what is judged.
    let better = ws.hxrun(&["compare", "slow.json", "fast.json", "--tolerance", "ttft.p95=1000%"]);
    assert_eq!(better.code, 0, "a faster run is no regression: {}", better.stdout);
    let loose = ws.hxrun(&[
        "compare",
        "fast.json",
        "slow.json",
        "--tolerance",
        "tokens_per_s.mean=90%",
        "--tolerance",
        "e2e.p95=500%",
        "--tolerance",
        "ttft.p95=500%",
    ]);
    assert_eq!(loose.code, 0, "tolerances widen the gate: {}", loose.stdout);
}

#[test]
fn the_summary_is_appended_to_the_github_step_summary() {
    let sim = sim(500.0);
    let ws = Workspace::new();
    ws.write("s.yaml", &perf_suite(&sim.url));
    let summary = ws.write("step-summary.md", "earlier step\n");
    let run = ws.hxrun_env(&["s.yaml", "--no-html"], &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.starts_with("earlier step\n## hxrun: ✅ PASSED"), "{text}");
    assert!(!ws.path().join("reports/report.html").exists(), "--no-html writes none");
}

/// Whether `c` may appear in an XML 1.0 document.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

#[test]
fn every_report_stays_valid_whatever_the_server_answers() {
    let server = common::faults::FaultServer::start();
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &format!(
            r#"suite: hostile
target: {{ url: "{0}/hostile-text" }}
tests:
  - name: "=HYPERLINK(\"http://x\",\"click\")"
    generate: {{ model: m, prompt: hi, stream: false }}
    expect: {{ text: {{ equals: something else }} }}
  - name: "@SUM(1) raw body"
    http: {{ url: "{0}/hostile-text" }}
    expect: {{ body: {{ equals: nope }} }}
"#,
            server.url
        ),
    );
    let run = ws.hxrun(&["s.yaml", "--verbose"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let junit = run.report("junit.xml");
    assert!(junit.contains("=HYPERLINK"), "{junit}");
    let bad: Vec<char> = junit.chars().filter(|c| !xml_char(*c)).collect();
    assert!(bad.is_empty(), "junit.xml holds characters XML 1.0 forbids: {bad:?}");
    let summary = run.report("summary.md");
    let controls: Vec<char> =
        summary.chars().filter(|c| c.is_control() && *c != '\n' && *c != '\t').collect();
    assert!(controls.is_empty(), "summary.md holds control characters: {controls:?}");
    assert!(!run.stdout.contains('\u{1b}'), "the console shows the server's escape sequence");
    let csv = run.report("results.csv");
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let names: Vec<String> = rows.records().map(|r| r.unwrap()[2].to_string()).collect();
    assert_eq!(names, ["'=HYPERLINK(\"http://x\",\"click\")", "'@SUM(1) raw body"], "{csv}");
    for line in csv.lines().skip(1) {
        for cell in line.split(',') {
            let cell = cell.trim_start_matches('"');
            assert!(!cell.starts_with(['=', '+', '@']), "a formula cell: {line}");
        }
    }
}
