//! summary.md: the run in Markdown for a GitHub step summary, a GitLab merge-request note or a
//! chat message — totals, failures with their messages, the perf table per test (the seed
//! report's columns), regressions, and charts as Mermaid `xychart-beta` blocks (GitHub and
//! GitLab draw them). When `GITHUB_STEP_SUMMARY` is set, the summary is appended there too.

use super::figures;
use super::view::Run;
use super::{Event, Output, Reporter};
use crate::suite::values::format_seconds;
use std::fmt::Write;
use std::path::PathBuf;

/// Writes summary.md (and appends to `GITHUB_STEP_SUMMARY` when given) when the run ends.
pub(crate) struct MarkdownReporter {
    path: Option<PathBuf>,
    step_summary: Option<PathBuf>,
}

impl MarkdownReporter {
    pub(crate) fn new(path: Option<PathBuf>, step_summary: Option<PathBuf>) -> Self {
        MarkdownReporter { path, step_summary }
    }
}

impl Reporter for MarkdownReporter {
    fn handle(&mut self, event: &Event, out: &Output) -> Result<(), super::ReportError> {
        let Event::RunFinished { record } = event else { return Ok(()) };
        let text = render(&super::view_of(record, out)?);
        if let Some(path) = &self.path {
            out.write_file(path, &text)?;
        }
        if let Some(path) = &self.step_summary {
            out.append_text(path, &text)?;
        }
        Ok(())
    }
}

/// A table cell: one line, pipes escaped, HTML inert.
pub(crate) fn cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\n', '\r'], " ")
}

/// A fenced block that no backtick run inside the text can close.
fn fenced(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat((longest + 1).max(3));
    format!("{fence}text\n{}\n{fence}\n", text.trim_end())
}

/// A Mermaid label: quoted, without the quote Mermaid cannot escape.
fn label(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "'").replace(['\n', '\r'], " "))
}

/// A Mermaid bar chart of named values.
pub(crate) fn xychart(title: &str, y_label: &str, items: &[(String, f64)]) -> String {
    let names: Vec<String> = items.iter().map(|(n, _)| label(n)).collect();
    let values: Vec<String> = items.iter().map(|(_, v)| format!("{v:.2}")).collect();
    let max = items.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    format!(
        "```mermaid\nxychart-beta\n    title {}\n    x-axis [{}]\n    y-axis {} 0 --> {:.2}\n    bar [{}]\n```\n",
        label(title),
        names.join(", "),
        label(y_label),
        if max > 0.0 { max * 1.1 } else { 1.0 },
        values.join(", ")
    )
}

/// Each pass-rate gate: its rate, interval and the share it needs.
fn pass_rates(run: &Run, md: &mut String) {
    let gates: Vec<_> = run.tests().filter_map(|(s, t)| Some((s, t, t.pass_rate.as_deref()?))).collect();
    if gates.is_empty() {
        return;
    }
    let pct = |v: Option<f64>| v.map_or("—".into(), crate::suite::values::format_share);
    let _ = writeln!(
        md,
        "### Pass rates\n\n| gate | suite | passed | pass rate | 95% interval | required |\n|---|---|---:|---:|---:|---|"
    );
    for (s, t, r) in gates {
        let mark = if t.status == "failed" { "❌ " } else { "" };
        let _ = writeln!(
            md,
            "| {mark}{} | {} | {} of {} | {} | {}–{} | `{}` |",
            cell(&t.name),
            cell(&s.name),
            r.passed,
            r.total,
            pct(r.rate),
            pct(r.low),
            pct(r.high),
            cell(&r.required)
        );
    }
    md.push('\n');
}

/// The summary; no control character from a server's answer reaches it (a terminal, a chat
/// client or GitHub's renderer would each read one differently).
pub(crate) fn render(run: &Run) -> String {
    super::text::clean(&document(run))
}

fn document(run: &Run) -> String {
    let mut md = String::new();
    let (passed, failed, skipped) = (run.count("passed"), run.count("failed"), run.count("skipped"));
    let verdict = if failed > 0 { "❌ FAILED" } else { "✅ PASSED" };
    let _ = writeln!(md, "## hxrun: {verdict} — {passed} passed, {failed} failed, {skipped} skipped\n");
    let suites: Vec<String> = run.suites.iter().map(|s| format!("`{}`", cell(&s.name))).collect();
    let _ = writeln!(
        md,
        "Suites {} against {} in {}{}.\n",
        suites.join(", "),
        run.targets().iter().map(|t| format!("`{}`", cell(t))).collect::<Vec<_>>().join(", "),
        format_seconds(run.duration),
        run.stopped.as_deref().map(|s| format!(" — stopped: {}", cell(s))).unwrap_or_default()
    );
    for w in &run.warnings {
        let _ = writeln!(md, "> **⚠ {}**\n", cell(w));
    }
    for m in run.fleets() {
        let _ = writeln!(md, "### Fleet `{}`: checks × hosts\n\n{}", cell(&m.suite), m.markdown(cell));
    }
    if !run.verdicts.is_empty() {
        let _ = writeln!(md, "### Verdicts\n");
        for v in &run.verdicts {
            let mark = if v.ok { "✓" } else { "✗" };
            let _ = writeln!(md, "- **{mark} {}**", cell(&v.subject));
            for f in &v.findings {
                let _ = writeln!(md, "  - {}", cell(f));
            }
        }
        md.push('\n');
    }
    pass_rates(run, &mut md);
    let failures: Vec<_> = run.tests().filter(|(_, t)| t.status == "failed").collect();
    if !failures.is_empty() {
        let _ = writeln!(md, "### Failures\n");
        let named: Vec<_> = failures.iter().map(|(_, t)| (t.name.as_str(), t.cause.as_ref())).collect();
        let (groups, alone) = super::causes::group(&named);
        for g in &groups {
            let _ = writeln!(md, "**✗ {}** — {}: {}\n", cell(g.cause), g.counts(), cell(&g.names(20)));
        }
        for (suite, t) in alone.iter().map(|&i| failures[i]) {
            let _ =
                writeln!(md, "**✗ {}** ({}, `{}`)\n", cell(&t.name), cell(&suite.name), cell(&t.location));
            let message = t.message.as_deref().unwrap_or("failed");
            md.push_str(&fenced(&crate::record::excerpt(message, 1500)));
            md.push('\n');
        }
    }
    let rows = figures::model_rows(run);
    if !rows.is_empty() {
        let _ = writeln!(md, "### Performance\n");
        let _ = writeln!(
            md,
            "| model | test | requests | tokens/s mean (perf loop) | CoV | TTFT p95 | e2e p95 |"
        );
        let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---:|");
        let dash = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("—".to_string(), f);
        for r in &rows {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                cell(&r.model),
                cell(&r.test),
                r.requests,
                dash(r.tokens_per_s, &|v| format!("{v:.1}")),
                dash(r.cov, &|v| format!("{v:.1}%")),
                dash(r.ttft_p95, &format_seconds),
                dash(r.e2e_p95, &format_seconds),
            );
        }
        md.push('\n');
        for (_, t) in run.tests() {
            if let Some(search) = t.perf().and_then(|p| p.search) {
                let _ = writeln!(md, "**{}**: {}\n", cell(&t.name), cell(&search.conclusion()));
            }
        }
        let labels = figures::row_labels(&rows);
        let tps: Vec<(String, f64)> =
            rows.iter().zip(&labels).filter_map(|(r, l)| Some((l.clone(), r.tokens_per_s?))).collect();
        if !tps.is_empty() {
            md.push_str(&xychart("tokens/s (mean) per perf test", "tokens/s", &tps));
            md.push('\n');
        }
        let ttft: Vec<(String, f64)> =
            rows.iter().zip(&labels).filter_map(|(r, l)| Some((l.clone(), r.ttft_p95? * 1000.0))).collect();
        if !ttft.is_empty() {
            md.push_str(&xychart("TTFT p95 per perf test (ms)", "ms", &ttft));
            md.push('\n');
        }
    }
    let regressions: Vec<String> = run
        .tests()
        .flat_map(|(_, t)| {
            t.assertions.iter().filter(|a| a.judges_a_regression() && !a.passed).map(move |a| {
                format!("| {} | {} |", cell(&t.name), cell(a.message.as_deref().unwrap_or(&a.what)))
            })
        })
        .collect();
    if !regressions.is_empty() {
        let _ = writeln!(md, "### Regressions against the baseline\n\n| test | change |\n|---|---|");
        for r in regressions {
            let _ = writeln!(md, "{r}");
        }
        md.push('\n');
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_fences_cannot_be_broken_out_of() {
        assert_eq!(cell("a|b\n<i>"), "a\\|b &lt;i&gt;");
        let f = fenced("x ```` y");
        assert!(f.starts_with("`````text\n") && f.ends_with("\n`````\n"), "{f}");
    }

    #[test]
    fn regressions_are_the_verdicts_on_a_baseline_never_a_label_that_says_so() {
        let run = Run::from_value(serde_json::json!({ "suites": [{ "name": "s", "tests": [
            { "name": "t", "status": "failed", "assertions": [
                { "what": "json $.regression equals", "passed": false, "message": "a json check",
                  "key": "expect.json.$.regression" },
                { "what": "e2e.p95 got slower", "passed": false, "message": "against the baseline: slower",
                  "key": "regression.e2e.p95" }
            ] }
        ] }] }))
        .unwrap();
        let md = render(&run);
        let section = &md[md.find("### Regressions against the baseline").expect("a section")..];
        assert!(section.contains("against the baseline: slower"), "{section}");
        assert!(!section.contains("a json check"), "{section}");
    }

    #[test]
    fn a_mermaid_bar_chart_quotes_its_labels() {
        let chart = xychart("t", "tokens/s", &[("phi3 \"q\"".into(), 120.0), ("b".into(), 50.5)]);
        assert!(chart.contains("x-axis [\"phi3 'q'\", \"b\"]"), "{chart}");
        assert!(chart.contains("bar [120.00, 50.50]"));
        assert!(chart.contains("y-axis \"tokens/s\" 0 --> 132.00"));
    }
}
