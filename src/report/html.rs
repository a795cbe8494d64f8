//! report.html: one self-contained page — no request leaves it (no CDN, font or script from
//! elsewhere). Charts are static SVG drawn with presentation attributes, the layout is plain
//! tables and headings, so the page stays readable under the strict Content-Security-Policy
//! Jenkins' HTML Publisher applies (no inline style or script runs there); where the browser
//! allows them, a stylesheet and a small script add styling and filtering by status and tag.
//! HTML is escaped by `maud`.

use super::figures;
use super::svg;
use super::view::{Assertion, Run, Suite, Test};
use super::{Event, Output, Reporter};
use crate::perf::result::LevelKey;
use crate::record::Source;
use crate::suite::metrics::{Figure, Metric, Stat};
use crate::suite::values::format_seconds;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::path::PathBuf;

const STYLE: &str = include_str!("html.css");
const SCRIPT: &str = include_str!("html.js");

/// The drift of a soak's figures people look at first, in this order.
const DRIFT_SHOWN: [Figure; 7] = [
    Figure::stat(Metric::E2e, Stat::P50),
    Figure::stat(Metric::E2e, Stat::P95),
    Figure::stat(Metric::Ttft, Stat::P95),
    Figure::stat(Metric::TokensPerS, Stat::Mean),
    Figure::of(Metric::RequestThroughput),
    Figure::of(Metric::ErrorRate),
    Figure::of(Metric::GpuMemoryUsedMax),
];

/// Writes report.html when the run ends.
pub(crate) struct HtmlReporter {
    path: PathBuf,
}

impl HtmlReporter {
    pub(crate) fn new(path: PathBuf) -> Self {
        HtmlReporter { path }
    }
}

impl Reporter for HtmlReporter {
    fn handle(&mut self, event: &Event, out: &Output) -> Result<(), super::ReportError> {
        let Event::RunFinished { record } = event else { return Ok(()) };
        let run = super::view_of(record, out)?;
        out.write_file(&self.path, &render(&run))
    }
}

fn status_mark(status: &str) -> &'static str {
    match status {
        "passed" => "✓ passed",
        "failed" => "✗ FAILED",
        _ => "○ skipped",
    }
}

/// The whole page.
pub(crate) fn render(run: &Run) -> String {
    let failed: Vec<(&Suite, &Test)> = run.tests().filter(|(_, t)| t.status == "failed").collect();
    let title = format!(
        "hxrun: {} passed, {} failed, {} skipped",
        run.count("passed"),
        run.count("failed"),
        run.count("skipped")
    );
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // No favicon request leaves the page either.
                link rel="icon" href="data:,";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "hxrun report" }
                (banner(run, &failed))
                (glance(run))
                @for m in run.fleets() {
                    h2 id="fleet" { "Fleet " (m.suite) ": checks × hosts" }
                    table class="fleet" {
                        tr { th { "check" } @for h in &m.hosts { th { (h) } } }
                        @for (test, cells) in &m.rows {
                            tr {
                                td { (test) }
                                @for c in cells {
                                    td class=(c.as_deref().unwrap_or("none")) { (super::matrix::mark(c.as_deref())) }
                                }
                            }
                        }
                    }
                }
                @if !run.verdicts.is_empty() {
                    h2 id="verdicts" { "Verdicts" }
                    ul class="verdicts" {
                        @for v in &run.verdicts {
                            li class=(if v.ok { "ok" } else { "bad" }) {
                                strong { (if v.ok { "✓ " } else { "✗ " }) (v.subject) }
                                ul { @for f in &v.findings { li { (f) } } }
                            }
                        }
                    }
                }
                (failures(&failed))
                (super::grid::section(run))
                (models(run))
                (perf(run))
                (gpu(run))
                (baselines(run))
                (all_tests(run))
                p class="foot" { "Written by hxrun " (run.hxrun_version) ". This page loads nothing from elsewhere." }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    };
    page.into_string()
}

fn glance(run: &Run) -> Markup {
    let verdict = if run.count("failed") > 0 { "FAILED" } else { "PASSED" };
    html! {
        table class="glance" border="1" cellpadding="4" {
            tr { th { "verdict" } td class=(verdict.to_lowercase()) { strong { (verdict) } } }
            tr { th { "tests" } td {
                (run.count("passed")) " passed, " (run.count("failed")) " failed, " (run.count("skipped")) " skipped"
            } }
            tr { th { "suites" } td {
                @for (i, s) in run.suites.iter().enumerate() {
                    @if i > 0 { ", " }
                    (s.name) " (" (s.file) ", " (format_seconds(s.duration)) ")"
                    @if let Some(d) = &s.description { " — " (d) }
                }
            } }
            tr { th { "target" } td { (run.targets().join(", ")) } }
            tr { th { "duration" } td { (format_seconds(run.duration)) } }
            tr { th { "when" } td { (run.started_at) } }
            tr { th { "hxrun" } td { (run.hxrun_version) } }
            @if let Some(why) = &run.stopped { tr { th { "stopped" } td { (why) } } }
            @for w in &run.warnings { tr { th { "warning" } td class="failed" { strong { (w) } } } }
        }
    }
}

/// The verdict first, in one line, with the failed tests named (each a link to its failure).
fn banner(run: &Run, failed: &[(&Suite, &Test)]) -> Markup {
    let total = run.tests().count();
    html! {
        @if failed.is_empty() {
            p class="banner passed" { strong { "✓ PASSED" } " — every one of " (total) " tests passed or was skipped" }
        } @else {
            div class="banner failed" {
                p { strong { "✗ FAILED" } " — " (failed.len()) " of " (total) " tests failed:" }
                ul {
                    @for (i, (_, t)) in failed.iter().enumerate() {
                        li { a href=(format!("#failure-{i}")) { (t.name) } }
                    }
                }
            }
        }
    }
}

/// The failures, those with one shared cause (a server that is down) as one entry first.
fn failures(failed: &[(&Suite, &Test)]) -> Markup {
    let named: Vec<_> = failed.iter().map(|(_, t)| (t.name.as_str(), t.cause.as_ref())).collect();
    let (groups, alone) = super::causes::group(&named);
    html! {
        @if !failed.is_empty() {
            h2 id="failures" { "Failures (" (failed.len()) ")" }
            @for g in &groups {
                section class="failure cause" {
                    h3 { "✗ " (g.cause) }
                    p class="where" { "one cause: " (g.counts()) }
                    ul {
                        @for (name, i) in g.tests.iter().zip(&g.at) {
                            li id=(format!("failure-{i}")) { (name) }
                        }
                    }
                }
            }
            @for i in &alone {
                (failure(failed[*i].0, failed[*i].1, *i))
            }
        }
    }
}

fn failure(suite: &Suite, test: &Test, index: usize) -> Markup {
    let failed: Vec<&Assertion> = test.assertions.iter().filter(|a| !a.passed).collect();
    html! {
        section class="failure" id=(format!("failure-{index}")) {
            h3 { "✗ " (test.name) }
            p class="where" { (suite.name) " — " (test.location) " — " (test.step) " step" }
            @if failed.is_empty() {
                @if let Some(m) = &test.message { pre { (m) } }
            }
            @for a in &failed {
                div class="verdict" {
                    pre { (a.message.as_deref().unwrap_or(&a.what)) }
                    @if let (Some(e), Some(got)) = (&a.expected, &a.actual) {
                        table border="1" cellpadding="4" {
                            tr { th { "expected" } td { code { (e) } } }
                            tr { th { "actual" } td { code { (got) } } }
                        }
                    }
                    @if let Some(at) = &a.at {
                        pre class="place" { (at.file) ":" (at.line) "\n" (at.line) " │ " (at.source) }
                    }
                }
            }
            @if let Some(req) = test.request_line() { p { "request: " code { (req) } } }
            @else if !test.detail.is_empty() { p { "request: " code { (test.detail) } } }
            @if let Some(resp) = test.response_excerpt() { details { summary { "response excerpt" } pre { (resp) } } }
        }
    }
}

fn seconds_or_dash(v: Option<f64>) -> String {
    v.map_or("—".into(), format_seconds)
}

fn models(run: &Run) -> Markup {
    let rows = figures::model_rows(run);
    let answers = figures::answer_figures(run);
    if rows.is_empty() && answers.is_empty() {
        return html! {};
    }
    let labels = figures::row_labels(&rows);
    let tps: Vec<(String, f64)> =
        rows.iter().zip(&labels).filter_map(|(r, l)| Some((l.clone(), r.tokens_per_s?))).collect();
    let ttft: Vec<(String, f64)> =
        rows.iter().zip(&labels).filter_map(|(r, l)| Some((l.clone(), r.ttft_p95?))).collect();
    let a_ttft: Vec<(String, f64)> =
        answers.iter().filter_map(|(m, t, _)| Some((m.clone(), (*t)?))).collect();
    let a_tps: Vec<(String, f64)> = answers.iter().filter_map(|(m, _, s)| Some((m.clone(), (*s)?))).collect();
    let num = |v: f64| format!("{v:.1}");
    html! {
        h2 id="models" { "Models" }
        @if !rows.is_empty() {
            table class="data" border="1" cellpadding="4" {
                tr { th { "model" } th { "test" } th { "concurrency" } th { "requests" } th { "tokens/s mean (perf loop)" } th { "CoV" } th { "TTFT p95" } th { "e2e p95" } }
                @for r in &rows {
                    tr {
                        td { (r.model) } td { (r.test) } td class="n" { (r.concurrency) } td class="n" { (r.requests) }
                        td class="n" { (r.tokens_per_s.map_or("—".into(), num)) }
                        td class="n" { (r.cov.map_or("—".into(), |c| format!("{c:.1}%"))) }
                        td class="n" { (seconds_or_dash(r.ttft_p95)) } td class="n" { (seconds_or_dash(r.e2e_p95)) }
                    }
                }
            }
            div class="charts" {
                @if !tps.is_empty() { (PreEscaped(svg::bars("tokens/s (mean) per perf loop", &tps, &num, None))) }
                @if !ttft.is_empty() { (PreEscaped(svg::bars("TTFT p95 per perf loop", &ttft, &format_seconds, None))) }
            }
        }
        @if !a_ttft.is_empty() || !a_tps.is_empty() {
            p { "Single streamed answers (the generate and chat tests, not the perf loops above), per model:" }
            div class="charts" {
                @if !a_ttft.is_empty() { (PreEscaped(svg::bars("TTFT of single streamed answers, mean per model", &a_ttft, &format_seconds, None))) }
                @if !a_tps.is_empty() { (PreEscaped(svg::bars("tokens/s of single streamed answers, mean per model", &a_tps, &num, None))) }
            }
        }
    }
}

/// A capacity search: its conclusion, then every probe in the order run.
fn search_table(s: &crate::perf::search::SearchResult, levels: &[super::view::Level]) -> Markup {
    html! {
        p { strong { "capacity search: " } (s.conclusion()) }
        table class="data" border="1" cellpadding="4" {
            tr { th { "probe" } th { "load" } th { "requests" } th { "met the SLOs" } th { "95% interval" } th { "lengths run" } th { "verdict" } }
            @for (i, p) in s.probes.iter().enumerate() {
                tr class=(if p.verdict.met() { "pass" } else { "fail" }) {
                    td class="n" { (i + 1) }
                    td { (s.show(p.value)) }
                    td class="n" { (p.requests) }
                    td class="n" { (format!("{:.1}%", p.attainment)) }
                    td class="n" { (format!("{:.1}–{:.1}%", p.low, p.high)) }
                    td class="n" { (p.lengths) }
                    td { (p.verdict.describe()) @if let Some(why) = &p.why { ": " (why) } }
                }
            }
        }
        @if levels.len() > s.probes.len() {
            p { (levels.len() - s.probes.len()) " probe(s) cut short without a verdict." }
        }
    }
}

fn perf(run: &Run) -> Markup {
    let tests: Vec<(&Suite, &Test)> = run.tests().filter(|(_, t)| t.perf().is_some()).collect();
    if tests.is_empty() {
        return html! {};
    }
    html! {
        h2 id="perf" { "Performance" }
        @for (_, t) in &tests {
            @let p = t.perf().unwrap_or_default();
            section class="perf" {
                h3 { (status_mark(&t.status)) " " (t.name) }
                @if let Some(search) = &p.search {
                    (search_table(search, &p.levels))
                }
                // A search's probes are in its table; the capacity's level is shown whole.
                @for l in p.levels.iter().filter(|l| p.search.is_none() || l.key() == LevelKey::Capacity) {
                    p { (l.label()) ": " (l.requests) " requests, " (l.errors) " failed"
                        @if l.samples_not_in_report > 0 { " (" (l.samples.len()) " kept in the report for the charts; statistics cover all)" } }
                    table class="data" border="1" cellpadding="4" {
                        tr { th { "metric" } th { "n" } th { "mean" } th { "min" } th { "p50" } th { "p90" } th { "p95" } th { "p99" } th { "max" } th { "CoV" } }
                        @for (name, s) in &l.stats {
                            tr {
                                td { (name) } td class="n" { (s.count) }
                                @for v in [s.mean, s.min, s.p50, s.p90, s.p95, s.p99, s.max] { td class="n" { (name.format(v)) } }
                                td class="n" { (format!("{:.1}%", s.cov)) }
                            }
                        }
                    }
                }
                @let thresholds: Vec<&Assertion> = t.assertions.iter().filter(|a| matches!(a.key, Some(Source::Threshold(_)))).collect();
                @if !thresholds.is_empty() {
                    table class="data" border="1" cellpadding="4" {
                        tr { th { "threshold" } th { "expected" } th { "actual" } th { "verdict" } }
                        @for a in &thresholds {
                            tr class=(if a.passed { "pass" } else { "fail" }) {
                                td { (a.what) } td { (a.expected.as_deref().unwrap_or("")) } td { (a.actual.as_deref().unwrap_or("")) }
                                td { (if a.passed { "✓" } else { "✗" }) }
                            }
                        }
                    }
                }
                @if let Some(k) = &p.knee {
                    p { strong { "knee: " } (k.describe()) }
                }
                @for l in p.levels.iter().filter(|l| !l.drift.is_empty()) {
                    @let judged: Vec<&Assertion> = t.assertions.iter().filter(|a| matches!(a.key, Some(Source::Drift(_)))).collect();
                    p { "drift over " (l.windows.len()) " windows of " (format_seconds(l.window.unwrap_or(0.0))) " (" (l.label()) "), first full window to last:" }
                    table class="data" border="1" cellpadding="4" {
                        tr { th { "figure" } th { "first" } th { "last" } th { "change" } th { "per hour" } th { "bound" } }
                        @for name in &DRIFT_SHOWN {
                            @if let Some(d) = l.drift.get(name) {
                                @let bound = judged.iter().find(|a| a.key == Some(Source::Drift(*name)));
                                tr class=(bound.map_or("", |a| if a.passed { "pass" } else { "fail" })) {
                                    td { (name) }
                                    td class="n" { (name.format(d.first)) }
                                    td class="n" { (name.format(d.last)) }
                                    td class="n" { (d.relative.map_or_else(|| name.format(d.last - d.first), |r| format!("{r:+.1}%"))) }
                                    td class="n" { (name.format(d.per_hour)) }
                                    td { (bound.map_or(String::new(), |a| format!("{} {}", a.expected.as_deref().unwrap_or(""), if a.passed { "✓" } else { "✗" }))) }
                                }
                            }
                        }
                    }
                }
                div class="charts" { @for chart in figures::perf_charts(t, &p) { (PreEscaped(chart)) } }
            }
        }
    }
}

fn gpu(run: &Run) -> Markup {
    let charts = figures::gpu_charts(&figures::gpu_samples(run));
    if charts.is_empty() {
        return html! {};
    }
    html! {
        h2 id="gpu" { "GPUs" }
        p { "Sampled during the run; a dashed line marks where each test began." }
        div class="charts" { @for c in charts { (PreEscaped(c)) } }
    }
}

fn baselines(run: &Run) -> Markup {
    let rows: Vec<(&Test, &Assertion)> = run
        .tests()
        .flat_map(|(_, t)| t.assertions.iter().filter(|a| a.judges_a_regression()).map(move |a| (t, a)))
        .collect();
    if rows.is_empty() {
        return html! {};
    }
    html! {
        h2 id="baseline" { "Against the baseline" }
        table class="data" border="1" cellpadding="4" {
            tr { th { "test" } th { "figure" } th { "change" } th { "verdict" } }
            @for (t, a) in &rows {
                tr class=(if a.passed { "pass" } else { "fail" }) {
                    td { (t.name) } td { (a.what) }
                    td { (a.message.as_deref().or(a.actual.as_deref()).unwrap_or("within the tolerance")) }
                    td { @if a.passed { "✓" } @else { strong { "✗ regression" } } }
                }
            }
        }
    }
}

/// Every test, grouped by status in `<details>` (works without script); with script, a text
/// filter and a tag filter narrow the rows.
fn all_tests(run: &Run) -> Markup {
    let mut tags: Vec<&str> = run.tests().flat_map(|(_, t)| t.tags.iter().map(String::as_str)).collect();
    tags.sort_unstable();
    tags.dedup();
    html! {
        h2 id="tests" { "All tests" }
        div id="filters" hidden {
            label { "name contains " input id="filter-text" type="search"; }
            " "
            label { "status " select id="filter-status" {
                option value="" { "any" } option value="passed" { "passed" } option value="failed" { "failed" } option value="skipped" { "skipped" }
            } }
            " "
            label { "tag " select id="filter-tag" {
                option value="" { "any" }
                @for tag in &tags { option value=(tag) { (tag) } }
            } }
        }
        @for status in ["failed", "passed", "skipped"] {
            @let tests: Vec<(&Suite, &Test)> = run.tests().filter(|(_, t)| t.status == status).collect();
            @if !tests.is_empty() {
                details open[status != "skipped"] {
                    summary { (status_mark(status)) " (" (tests.len()) ")" }
                    table class="data tests" border="1" cellpadding="4" {
                        tr { th { "test" } th { "suite" } th { "step" } th { "tags" } th { "duration" } th { "figures" } th { "message" } }
                        @for (s, t) in &tests {
                            tr data-status=(t.status) data-tags=(t.tags.join(" ")) data-name=(t.name.to_lowercase()) {
                                td title=(t.description.as_deref().unwrap_or("")) { (t.name) } td { (s.name) } td { (t.step) } td { (t.tags.join(", ")) }
                                td class="n" { (format_seconds(t.duration)) }
                                td { (test_figures(t)) }
                                td { (t.message.as_deref().map(|m| crate::record::excerpt(m, 300)).unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A test's headline figures in a few words.
fn test_figures(t: &Test) -> String {
    if let Some(l) = t.llm() {
        let mut parts = vec![format!("e2e {}", format_seconds(l.e2e))];
        parts.extend(l.ttft.map(|v| format!("TTFT {}", format_seconds(v))));
        parts.extend(l.client_tokens_per_s.map(|v| format!("{v:.1} tokens/s")));
        parts.extend(l.server_tokens_per_s.map(|v| format!("server {v:.1} tokens/s")));
        return parts.join(", ");
    }
    if let Some(p) = t.perf() {
        return p
            .levels
            .iter()
            .map(|l| {
                let e2e = l.stats.get(&Metric::E2e).map(|s| format!(", e2e p95 {}", format_seconds(s.p95)));
                format!("{}: {} requests{}", l.label(), l.requests, e2e.unwrap_or_default())
            })
            .collect::<Vec<_>>()
            .join("; ");
    }
    String::new()
}
