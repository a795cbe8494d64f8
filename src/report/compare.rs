//! `hxrun compare`: saved runs side by side — two servers, two builds, two days. For every
//! test of the first run (the reference), each run's value of the headline figures, the change
//! in percent, and for perf figures with a tolerance the same verdict `--baseline` gives
//! (`perf::baseline::compare`), so CI can gate on it. Rendered as text, Markdown and HTML with
//! the runs' distributions overlaid.

use super::svg;
use super::view::{Level, Run, Test};
use crate::perf::baseline::{self, Change};
use crate::suite::Tolerance;
use crate::suite::metrics::{Figure, Metric, Stat};
use crate::suite::values::format_seconds;
use maud::{DOCTYPE, PreEscaped, html};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Figures a perf test is compared on (when the reference run has them).
const PERF_FIGURES: &[Figure] = &[
    Figure::stat(Metric::TokensPerS, Stat::Mean),
    Figure::stat(Metric::ServerTokensPerS, Stat::Mean),
    Figure::stat(Metric::Ttft, Stat::P50),
    Figure::stat(Metric::Ttft, Stat::P95),
    Figure::stat(Metric::Itl, Stat::P95),
    Figure::stat(Metric::E2e, Stat::P50),
    Figure::stat(Metric::E2e, Stat::P95),
    Figure::of(Metric::RequestThroughput),
    Figure::of(Metric::OutputTokenThroughput),
    Figure::of(Metric::ErrorRate),
    Figure::of(Metric::Goodput),
    Figure::of(Metric::SloAttainment),
];
/// Figures of a single generate/chat answer.
const ANSWER_FIGURES: &[Metric] = &[Metric::Ttft, Metric::E2e, Metric::TokensPerS];

/// What a row compares: a figure of a perf level, or a metric of a single answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Measure {
    Level(Figure),
    Answer(Metric),
}

impl Measure {
    fn format(self, v: f64) -> String {
        match self {
            Measure::Level(f) => f.format(v),
            Measure::Answer(m) => m.format(v),
        }
    }
}

impl std::fmt::Display for Measure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Measure::Level(figure) => figure.fmt(f),
            Measure::Answer(metric) => metric.fmt(f),
        }
    }
}

/// One figure of one test, in every run.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) test: String,
    /// The perf level (`c=4`, `stage 2 (8/s)`), or None for a single answer.
    pub(crate) level: Option<String>,
    pub(crate) figure: Measure,
    pub(crate) values: Vec<Option<f64>>,
    /// Each later run against the reference, where the figure has a tolerance.
    pub(crate) verdicts: Vec<Option<Change>>,
    /// Each later run's change with its interval, where both runs kept per-request samples.
    pub(crate) noise: Vec<Option<crate::perf::change::Interval>>,
}

impl Row {
    pub(crate) fn change_pct(&self, run: usize) -> Option<f64> {
        match (self.values[0], self.values[run]) {
            (Some(a), Some(b)) if a != 0.0 => Some((b - a) / a.abs() * 100.0),
            _ => None,
        }
    }

    pub(crate) fn regressed(&self) -> bool {
        self.verdicts.iter().flatten().any(|c| c.regressed)
    }

    /// Run `run`'s change is beyond noise (its interval excludes 0, and it is not negligible).
    pub(crate) fn real(&self, run: usize) -> bool {
        match (self.noise.get(run - 1).copied().flatten(), self.change_pct(run)) {
            (Some(i), Some(pct)) => i.real(pct),
            _ => false,
        }
    }

    /// A regression beyond the tolerance whose change is real — or that no samples can judge.
    pub(crate) fn regressed_for_real(&self) -> bool {
        self.verdicts.iter().enumerate().any(|(i, c)| {
            c.as_ref().is_some_and(|c| c.regressed)
                && (self.noise.get(i).copied().flatten().is_none() || self.real(i + 1))
        })
    }
}

pub(crate) struct Comparison {
    pub(crate) names: Vec<String>,
    pub(crate) runs: Vec<Run>,
    pub(crate) rows: Vec<Row>,
    /// Tests some run has and the reference does not, by run.
    pub(crate) extra: Vec<(usize, String)>,
    /// Each pass-rate gate's cases, paired with a later run's (`ab`).
    pub(crate) gates: Vec<super::ab::GateChange>,
}

fn key(suite: &str, test: &str) -> (String, String) {
    (suite.to_string(), test.to_string())
}

fn answer_figure(t: &Test, metric: Metric) -> Option<f64> {
    let l = t.llm()?;
    match metric {
        Metric::Ttft => l.ttft,
        Metric::E2e => Some(l.e2e),
        Metric::TokensPerS => l.client_tokens_per_s,
        _ => None,
    }
}

pub(crate) fn compare(named: Vec<(String, Run)>, tolerances: &BTreeMap<Figure, Tolerance>) -> Comparison {
    let (names, runs): (Vec<String>, Vec<Run>) = named.into_iter().unzip();
    let index: Vec<BTreeMap<(String, String), &Test>> =
        runs.iter().map(|r| r.tests().map(|(s, t)| (key(&s.name, &t.name), t)).collect()).collect();
    let mut rows = Vec::new();
    let mut pending = Vec::new();
    for (suite, test) in runs[0].tests() {
        let k = key(&suite.name, &test.name);
        let others: Vec<Option<&Test>> = index.iter().map(|i| i.get(&k).copied()).collect();
        if let Some(p) = test.perf() {
            let perfs: Vec<Option<super::view::Perf>> =
                others.iter().map(|t| t.and_then(Test::perf)).collect();
            // A search's probes went where each run's verdicts led: only its capacity pairs up.
            for level in
                p.levels.iter().filter(|l| !matches!(l.key(), crate::perf::result::LevelKey::Probe(_)))
            {
                let level_of = |i: usize| -> Option<Level> {
                    perfs[i].as_ref()?.levels.iter().find(|l| l.key() == level.key()).cloned()
                };
                let levels: Vec<Option<Level>> = (0..runs.len()).map(level_of).collect();
                for figure in PERF_FIGURES.iter().filter(|f| level.figures.contains_key(*f)) {
                    let values: Vec<Option<f64>> = levels
                        .iter()
                        .map(|l| l.as_ref().and_then(|l| l.figures.get(figure).copied()))
                        .collect();
                    let verdicts = levels
                        .iter()
                        .skip(1)
                        .map(|l| {
                            let new = l.as_ref()?;
                            let one = tolerances.get(figure).map(|t| (*figure, *t));
                            baseline::compare(&level.figures, &new.figures, one).into_iter().next()
                        })
                        .collect();
                    let runs = levels
                        .iter()
                        .map(|l| l.as_ref().and_then(|l| super::noise::per_request(l, figure.metric)));
                    pending.push(super::noise::Pending {
                        row: rows.len(),
                        figure: *figure,
                        runs: runs.collect(),
                    });
                    rows.push(Row {
                        test: test.name.clone(),
                        level: Some(level.label()),
                        figure: Measure::Level(*figure),
                        values,
                        verdicts,
                        noise: Vec::new(),
                    });
                }
            }
        } else if test.llm().is_some() {
            for figure in ANSWER_FIGURES {
                let values: Vec<Option<f64>> =
                    others.iter().map(|t| t.and_then(|t| answer_figure(t, *figure))).collect();
                if values[0].is_some() {
                    let verdicts = vec![None; runs.len() - 1];
                    rows.push(Row {
                        test: test.name.clone(),
                        level: None,
                        figure: Measure::Answer(*figure),
                        values,
                        verdicts,
                        noise: Vec::new(),
                    });
                }
            }
        }
    }
    let extra = index
        .iter()
        .enumerate()
        .skip(1)
        .flat_map(|(i, idx)| idx.keys().filter(|k| !index[0].contains_key(*k)).map(move |k| (i, k.1.clone())))
        .collect();
    for (row, noise) in super::noise::judge(&pending) {
        rows[row].noise = noise;
    }
    let gates = super::ab::changes(&runs);
    Comparison { names, runs, rows, extra, gates }
}

impl Comparison {
    pub(crate) fn regressions(&self) -> usize {
        self.rows.iter().filter(|r| r.regressed()).count()
    }

    /// Gates whose pass rate got significantly worse.
    pub(crate) fn worse(&self) -> usize {
        self.gates.iter().filter(|g| g.verdict == super::ab::Verdict::Worse).count()
    }

    /// The pass-rate gates' changes as text lines (the terminal's and Markdown's).
    fn quality_lines(&self, md: bool) -> Vec<String> {
        let mut out = Vec::new();
        for g in &self.gates {
            let mark = match (g.verdict, md) {
                (super::ab::Verdict::Worse, true) => "❌ ",
                (super::ab::Verdict::Worse, false) => "✗ ",
                _ => "",
            };
            let name = if g.other == g.gate { g.gate.clone() } else { format!("{} vs {}", g.gate, g.other) };
            // In Markdown, text from a suite or a case file is one inert line of a list item.
            let inert =
                |t: &str| if md { super::markdown::cell(t).replace('*', "\\*") } else { t.to_string() };
            let name = if md { format!("**{}**", inert(&name)) } else { name };
            let against =
                if self.names.len() > 2 { format!(" ({})", self.names[g.run]) } else { String::new() };
            out.push(format!("{mark}{name}{against}: {}", g.line()));
            for (what, list) in [("lost", &g.lost), ("gained", &g.gained)] {
                if !list.is_empty() {
                    out.push(format!("    {what}: {}", inert(&super::ab::GateChange::flips(list, false))));
                }
            }
        }
        out
    }

    fn value(&self, row: &Row, i: usize) -> String {
        row.values[i].map_or("—".into(), |v| row.figure.format(v))
    }

    fn change(&self, row: &Row, i: usize) -> String {
        let pct = row.change_pct(i).map_or(String::new(), |p| format!(" ({p:+.1}%)"));
        let verdict = match &row.verdicts[i - 1] {
            Some(c) if c.regressed => format!(" REGRESSION beyond {}", c.tolerance),
            _ => String::new(),
        };
        format!("{}{pct}{verdict}{}", self.value(row, i), Self::noise(row, i))
    }

    /// What the samples say of run `i`'s change: real (with its interval) or within noise;
    /// nothing where no samples judge it.
    fn noise(row: &Row, i: usize) -> String {
        match row.noise.get(i - 1).copied().flatten() {
            Some(n) if row.real(i) => format!(" real [{:+.1}%, {:+.1}%]", n.low, n.high),
            Some(_) => " within noise".to_string(),
            None => String::new(),
        }
    }

    /// Whether any figure had per-request samples to judge its change by.
    fn tested(&self) -> bool {
        self.rows.iter().any(|r| r.noise.iter().any(Option::is_some))
    }

    /// Rows whose change in some later run is real, with that run.
    fn real_changes(&self) -> Vec<(&Row, usize)> {
        self.rows
            .iter()
            .flat_map(|r| (1..self.names.len()).filter(|&i| r.real(i)).map(move |i| (r, i)))
            .collect()
    }

    /// Regressions beyond their tolerance that are real, or that no samples can judge: what
    /// `--fail-if-worse` fails on.
    pub(crate) fn real_regressions(&self) -> usize {
        self.rows.iter().filter(|r| r.regressed_for_real()).count()
    }

    /// `test figure [c=N]: a → b (+x%) real [..]` for each real change.
    fn real_lines(&self) -> Vec<String> {
        self.real_changes()
            .into_iter()
            .map(|(r, i)| {
                let against =
                    if self.names.len() > 2 { format!(" ({})", self.names[i]) } else { String::new() };
                let worse = r.values[0].zip(r.values[i]).is_some_and(|(a, b)| match r.figure {
                    Measure::Level(f) => {
                        if f.higher_is_better() {
                            b < a
                        } else {
                            b > a
                        }
                    }
                    Measure::Answer(_) => false,
                });
                format!(
                    "{}{} {}{}{against}: {} → {}",
                    if worse { "worse: " } else { "better: " },
                    r.test,
                    r.figure,
                    Self::where_(r),
                    self.value(r, 0),
                    self.change(r, i)
                )
            })
            .collect()
    }

    fn where_(row: &Row) -> String {
        row.level.as_ref().map_or(String::new(), |l| format!(" [{l}]"))
    }

    /// Plain text for the terminal, cleaned of escapes and control characters.
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        for (i, n) in self.names.iter().enumerate() {
            let _ = writeln!(out, "{} {n}", if i == 0 { "reference:" } else { "compared: " });
        }
        let real = self.real_lines();
        if self.tested() {
            let _ = writeln!(out, "\nchanges beyond noise (bootstrap intervals of the per-request samples):");
            for l in &real {
                let _ = writeln!(out, "  {l}");
            }
            if real.is_empty() {
                let _ = writeln!(out, "  none: every figure with samples is within noise");
            }
        }
        if !self.gates.is_empty() {
            let _ = writeln!(out, "\npass rates, case by case:");
            for l in self.quality_lines(false) {
                let _ = writeln!(out, "  {l}");
            }
        }
        let mut last = String::new();
        for row in &self.rows {
            if row.test != last {
                let _ = writeln!(out, "\n{}", row.test);
                last = row.test.clone();
            }
            let others: Vec<String> = (1..self.names.len()).map(|i| self.change(row, i)).collect();
            let _ = writeln!(
                out,
                "  {}{:<28} {:>12} → {}",
                if row.regressed() { "✗ " } else { "  " },
                format!("{}{}", row.figure, Self::where_(row)),
                self.value(row, 0),
                others.join(" | ")
            );
        }
        for (i, test) in &self.extra {
            let _ = writeln!(out, "\nonly in {}: {test}", self.names[*i]);
        }
        let n = self.regressions();
        let _ = writeln!(out, "\n{n} regression{} beyond the tolerances", if n == 1 { "" } else { "s" });
        if !self.gates.is_empty() {
            let w = self.worse();
            let _ = writeln!(
                out,
                "{w} pass rate{} significantly worse (McNemar, p < {})",
                if w == 1 { "" } else { "s" },
                super::ab::ALPHA
            );
        }
        // Names and case labels come from suites and case files: no escape reaches the terminal.
        super::text::clean(&out)
    }

    pub(crate) fn markdown(&self) -> String {
        let mut md = format!("## hxrun compare: {} regression(s)\n\n", self.regressions());
        if self.tested() {
            let real = self.real_lines();
            let _ = writeln!(md, "### Changes beyond noise ({})\n", real.len());
            for l in &real {
                let _ = writeln!(md, "- {}", super::markdown::cell(l));
            }
            if real.is_empty() {
                let _ = writeln!(md, "None: every figure with per-request samples is within noise.");
            }
            md.push('\n');
        }
        if !self.gates.is_empty() {
            let _ = writeln!(md, "### Pass rates, case by case ({} significantly worse)\n", self.worse());
            for l in self.quality_lines(true) {
                // A case list goes under its gate.
                let indent = if l.starts_with(' ') { "  " } else { "" };
                let _ = writeln!(md, "{indent}- {}", l.trim_start());
            }
            md.push('\n');
        }
        let header: Vec<String> = self.names.iter().map(|n| format!("`{n}`")).collect();
        let _ = writeln!(md, "| test | figure | {} |", header.join(" | "));
        let _ = writeln!(md, "|---|---|{}", "---:|".repeat(self.names.len()));
        for row in &self.rows {
            let mut cells = vec![self.value(row, 0)];
            cells.extend((1..self.names.len()).map(|i| self.change(row, i)));
            let mark = if row.regressed() { "❌ " } else { "" };
            let _ = writeln!(
                md,
                "| {mark}{} | {}{} | {} |",
                row.test.replace('|', "\\|"),
                row.figure,
                Self::where_(row),
                cells.join(" | ")
            );
        }
        md
    }

    pub(crate) fn html(&self) -> String {
        let charts = self.overlays();
        html! {
            (DOCTYPE)
            html lang="en" {
                head { meta charset="utf-8"; title { "hxrun compare" } style { (PreEscaped(include_str!("html.css"))) } }
                body {
                    h1 { "hxrun compare" }
                    p { strong { (self.regressions()) " regression(s)" } " beyond the tolerances (the " code { "--baseline" } " rules)." }
                    ol { @for (i, n) in self.names.iter().enumerate() {
                        li { (n) @if i == 0 { " (reference)" } " — " (self.runs[i].started_at) ", " (self.runs[i].targets().join(", ")) }
                    } }
                    @if self.tested() {
                        @let real = self.real_lines();
                        h2 { "Changes beyond noise (" (real.len()) ")" }
                        @if real.is_empty() { p { "None: every figure with per-request samples is within noise." } }
                        ul { @for l in &real { li { (l) } } }
                    }
                    @if !self.gates.is_empty() {
                        h2 { "Pass rates, case by case" }
                        p { (self.worse()) " significantly worse (McNemar's exact test on the cases that changed, p < " (super::ab::ALPHA) ")." }
                        table class="data" border="1" cellpadding="4" {
                            tr { th { "gate" } th { "change" } th { "lost" } th { "gained" } }
                            @for g in &self.gates {
                                tr class=(if g.verdict == super::ab::Verdict::Worse { "fail" } else { "" }) {
                                    td { (g.gate) @if g.other != g.gate { " vs " (g.other) } @if self.names.len() > 2 { " (" (self.names[g.run]) ")" } }
                                    td { (g.line()) }
                                    td { (super::ab::GateChange::flips(&g.lost, true)) }
                                    td { (super::ab::GateChange::flips(&g.gained, true)) }
                                }
                            }
                        }
                        h2 { "Figures" }
                    }
                    table class="data" border="1" cellpadding="4" {
                        tr { th { "test" } th { "figure" } @for n in &self.names { th { (n) } } }
                        @for row in &self.rows {
                            tr class=(if row.regressed() { "fail" } else { "" }) {
                                td { (row.test) } td { (row.figure) (Self::where_(row)) }
                                td class="n" { (self.value(row, 0)) }
                                @for i in 1..self.names.len() { td class="n" { (self.change(row, i)) } }
                            }
                        }
                    }
                    @for (i, test) in &self.extra { p { "only in " (self.names[*i]) ": " (test) } }
                    h2 { "Distributions" }
                    div class="charts" { @for c in &charts { (PreEscaped(c)) } }
                }
            }
        }
        .into_string()
    }

    /// For each perf test of the reference: its e2e and TTFT distributions in every run,
    /// overlaid (first level, the samples each report kept).
    fn overlays(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (suite, test) in self.runs[0].tests().filter(|(_, t)| t.perf().is_some()) {
            for (metric, pick) in [
                ("e2e", (|s: &super::view::Sample| Some(s.e2e)) as fn(&_) -> Option<f64>),
                ("ttft", |s| s.ttft),
            ] {
                let series: Vec<(String, Vec<f64>)> = self
                    .runs
                    .iter()
                    .zip(&self.names)
                    .filter_map(|(run, name)| {
                        let (_, t) =
                            run.tests().find(|(s, t)| s.name == suite.name && t.name == test.name)?;
                        let level = t.perf()?.levels.into_iter().next()?;
                        let v: Vec<f64> = level.samples.iter().filter(|s| s.ok).filter_map(pick).collect();
                        (!v.is_empty()).then(|| (name.clone(), v))
                    })
                    .collect();
                if series.len() > 1 {
                    out.push(svg::cdf(&format!("{} — {metric}", test.name), &series, &format_seconds, &[]));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(tps: f64, e2e: f64) -> Run {
        Run::from_value(json!({ "suites": [{ "name": "s", "tests": [
            { "name": "perf", "status": "passed", "observation": { "kind": "perf", "levels": [
                { "concurrency": 1, "figures": { "tokens_per_s.mean": tps, "e2e.p95": e2e, "requests": 3.0 } }
            ] } }
        ] }] }))
        .unwrap()
    }

    #[test]
    fn a_worse_run_beyond_the_tolerance_is_a_regression_and_a_better_one_is_not() {
        let tol = baseline::default_tolerances();
        let c = compare(vec![("a".into(), run(100.0, 0.2)), ("b".into(), run(85.0, 0.19))], &tol);
        let level = |name: &str| Measure::Level(Figure::parse(name).unwrap());
        let tps = c.rows.iter().find(|r| r.figure == level("tokens_per_s.mean")).unwrap();
        assert!(tps.regressed(), "15% fewer tokens/s is beyond the 10% tolerance");
        assert_eq!(tps.change_pct(1), Some(-15.0));
        let e2e = c.rows.iter().find(|r| r.figure == level("e2e.p95")).unwrap();
        assert!(!e2e.regressed(), "a faster e2e is no regression");
        assert_eq!(c.regressions(), 1);
        assert!(c.text().contains("REGRESSION beyond 10%"), "{}", c.text());
        assert!(c.rows.iter().all(|r| r.figure != level("requests")), "only the headline figures");
        let same = compare(vec![("a".into(), run(100.0, 0.2)), ("b".into(), run(95.0, 0.21))], &tol);
        assert_eq!(same.regressions(), 0);
    }
}
