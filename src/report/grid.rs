//! Quality gates in report.html: each written test with a pass-rate gate as a grid —
//! promptfoo's view — its cases down, its gates (a model each, a server each) across; a cell
//! per case and gate, passed or failed, the answer on hover and, for a failed one, in the cell;
//! each gate's pass rate with its 95% interval in its column's head, and as bars against the
//! rate required.

use super::svg;
use super::view::{Run, Suite, Test};
use crate::suite::values::format_share;
use maud::{Markup, PreEscaped, html};

/// A gate's column: its suite, and the gate.
type Column<'a> = (&'a Suite, &'a Test);

/// The quality section: nothing when the run has no gate.
pub(crate) fn section(run: &Run) -> Markup {
    let mut groups: Vec<(String, Vec<Column<'_>>)> = Vec::new();
    for (suite, gate) in run.tests().filter(|(_, t)| t.pass_rate.is_some()) {
        match groups.iter_mut().find(|(at, _)| *at == gate.location) {
            Some((_, columns)) => columns.push((suite, gate)),
            None => groups.push((gate.location.clone(), vec![(suite, gate)])),
        }
    }
    if groups.is_empty() {
        return html! {};
    }
    html! {
        h2 id="quality" { "Quality gates" }
        @for (_, columns) in &groups { (grid(columns)) }
    }
}

/// What tells a gate from the others of its test: its suite's server and its own values.
fn heading(suite: &Suite, gate: &Test, several_suites: bool) -> String {
    let mut parts: Vec<String> = gate.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if several_suites {
        parts.push(suite.host.clone().unwrap_or_else(|| suite.name.clone()));
    }
    if parts.is_empty() { gate.name.clone() } else { parts.join(", ") }
}

fn grid(columns: &[Column<'_>]) -> Markup {
    let several = columns.iter().any(|(s, _)| s.name != columns[0].0.name);
    // Every case of any gate, in the order first met.
    let mut rows: Vec<String> = Vec::new();
    for (_, gate) in columns {
        for case in gate.pass_rate.iter().flat_map(|r| &r.cases) {
            let label = case.case_label(gate);
            if !rows.contains(&label) {
                rows.push(label);
            }
        }
    }
    let find = |gate: &Test, label: &str| -> Option<Test> {
        gate.pass_rate.as_ref()?.cases.iter().find(|c| c.case_label(gate) == label).cloned()
    };
    let rates: Vec<(String, f64)> = columns
        .iter()
        .filter_map(|(s, g)| Some((heading(s, g, several), g.pass_rate.as_ref()?.rate?)))
        .collect();
    let required = columns[0].1.pass_rate.as_ref().map(|r| r.required.clone()).unwrap_or_default();
    let bound = crate::suite::Comparison::parse(&required).ok().map(|c| (c.value, true));
    let title = columns[0].1.name.split(" [").next().unwrap_or_default().to_string();
    html! {
        h3 { (title) " — " (columns.len()) " gate(s), " (rows.len()) " cases, required " code { (required) } }
        div class="scroll" {
            table class="data grid" border="1" cellpadding="4" {
                tr {
                    th { "case" }
                    @for (s, g) in columns {
                        @let r = g.pass_rate.as_deref();
                        th class=(g.status) title=(g.message.as_deref().unwrap_or("")) {
                            (heading(s, g, several)) br;
                            @if let Some(r) = r {
                                @match (r.rate, r.low, r.high) {
                                    (Some(rate), Some(low), Some(high)) => {
                                        strong { (format_share(rate)) } " (" (r.passed) "/" (r.total) ")" br;
                                        small { "95%: " (format_share(low)) "–" (format_share(high)) }
                                    }
                                    _ => { "no case ran" }
                                }
                            }
                            // Beside the first gate (another model on the same cases): the change,
                            // case by case, and whether it is beyond chance.
                            @if let Some(change) = beside_first(columns, g) {
                                br;
                                small title=(change.line()) {
                                    "vs " (heading(columns[0].0, columns[0].1, several)) ": "
                                    (format!("{:+.1}", change.points())) " points, p = " (super::ab::format_p(change.p))
                                    @if change.verdict != super::ab::Verdict::NoChange { " — " (change.verdict_text()) }
                                }
                            }
                        }
                    }
                }
                @for label in &rows {
                    tr {
                        td { (label) }
                        @for (_, g) in columns {
                            @let case = find(g, label);
                            (cell(case.as_ref()))
                        }
                    }
                }
            }
        }
        @if rates.len() > 1 || !rates.is_empty() && bound.is_some() {
            div class="charts" { (PreEscaped(svg::bars("pass rate per gate (%)", &rates, &format_share, bound))) }
        }
    }
}

/// Gate `g` against the first gate of its test, paired case by case (none for the first).
fn beside_first(columns: &[Column<'_>], g: &Test) -> Option<super::ab::GateChange> {
    let first = columns.first()?.1;
    (!std::ptr::eq(first, g)).then(|| super::ab::pair(first, g, 0))
}

/// One case of one gate: its mark, the answer on hover; a failed one shows why and what came
/// back.
fn cell(case: Option<&Test>) -> Markup {
    let Some(case) = case else {
        return html! { td class="none" { "·" } };
    };
    let answer = case
        .observation
        .as_ref()
        .and_then(|o| o.get("text"))
        .and_then(serde_json::Value::as_str)
        .map(|t| crate::record::excerpt(t, 300))
        .unwrap_or_default();
    let why = case.message.as_deref().and_then(|m| m.lines().next()).unwrap_or("").to_string();
    let hover = if answer.is_empty() { why.clone() } else { format!("answer: {answer}") };
    html! {
        td class=(case.status) title=(hover) {
            (super::matrix::mark(Some(case.status.as_str())))
            @if case.status == "failed" {
                details {
                    summary { "why" }
                    p { (crate::record::excerpt(&why, 300)) }
                    @if !answer.is_empty() { p { "answer: " code { (answer) } } }
                }
            }
        }
    }
}
