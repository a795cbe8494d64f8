//! Verdicts on perf steps: thresholds at every concurrency level (a failure lists every
//! threshold with its actual value), failed requests, and regressions against a baseline.

use super::{fail, pass};
use crate::perf::baseline;
use crate::perf::result::{LevelResult, PerfObservation};
use crate::perf::search::SearchResult;
use crate::plan::PlannedTest;
use crate::record::{AssertionResult, Source};
use crate::suite::metrics::{Figure, Metric};
use crate::suite::{Comparison, Unit};

pub(crate) fn check_perf(test: &PlannedTest, o: &PerfObservation, out: &mut Vec<AssertionResult>) {
    if let Some(search) = &o.search {
        return check_search(test, o, search, out);
    }
    let many = o.levels.len() > 1;
    for level in &o.levels {
        let at = if many { format!("[{}] ", level.label()) } else { String::new() };
        let mut judged = Vec::new();
        thresholds(test, level, &at, &mut judged);
        none_succeeded(test, level, &at, judged.iter().any(|a| !a.passed), out);
        out.append(&mut judged);
        empty_answers(o, level, &at, out);
        errors(test, level, &at, out);
        rate_sent(level, &at, out);
        regressions(test, level, &at, out);
        drift(test, level, &at, out);
    }
}

/// A capacity search: it found a capacity in its range (or the test fails saying where it
/// lies), and the thresholds hold at the level of the capacity found — the probes around it
/// were meant to meet or miss the SLOs, their errors and lateness are the search's data.
fn check_search(
    test: &PlannedTest,
    o: &PerfObservation,
    search: &SearchResult,
    out: &mut Vec<AssertionResult>,
) {
    let conclusion = search.conclusion();
    let target = format!("slo_attainment ≥ {}%", crate::suite::values::trim_float(search.target));
    let found =
        search.capacity.map_or_else(|| format!("below {}", search.show(search.range[0])), |c| search.show(c));
    out.push(match search.capacity {
        Some(_) => pass("capacity search").values(target, found),
        None => fail("capacity search", format!("capacity search: {conclusion}")).values(target, found),
    });
    match search.capacity_probe().and_then(|p| o.levels.get(p.level)) {
        Some(level) => {
            let at = format!("[{}] ", level.label());
            thresholds(test, level, &at, out);
            regressions(test, level, &at, out);
        }
        None => {
            for (name, c) in &test.thresholds {
                let mut verdict = fail(
                    format!("threshold {name}"),
                    format!("{name}: not measured, no probe met the target ({conclusion})"),
                )
                .values(c.text.clone(), "not measured");
                verdict.key = Some(Source::Threshold(*name));
                verdict.pos = c.at.known();
                out.push(verdict);
            }
        }
    }
}

/// An open loop's load is the rate it was asked for, or the test says it was not.
fn rate_sent(level: &LevelResult, at: &str, out: &mut Vec<AssertionResult>) {
    let Some(rate) = level.rate else { return };
    let label = format!("{at}rate sent");
    let (asked, sent) = (format!("{:.1}/s", rate.asked), format!("{:.1}/s", rate.sent));
    out.push(match rate.shortfall(level.elapsed) {
        Some(why) => fail(label, format!("{at}rate: {why}")).values(asked, sent),
        None => pass(label).values(asked, sent),
    });
}

/// A soak's drift bounds: the change from the first full window to the last.
fn drift(test: &PlannedTest, level: &LevelResult, at: &str, out: &mut Vec<AssertionResult>) {
    let full = level.windows.len();
    for (name, c) in &test.drift {
        let label = format!("{at}drift {name}");
        let percent = c.unit == Unit::Percent;
        let moved = level.drift.get(name);
        let shown = |v: f64| {
            if percent {
                format!("{v:+.1}%")
            } else {
                format!("{}{}", if v >= 0.0 { "+" } else { "" }, show(c, name, v))
            }
        };
        let mut verdict = match moved.and_then(|d| d.value(percent).map(|v| (d, v))) {
            Some((_, v)) if c.holds(v) => pass(label).values(c.text.clone(), shown(v)),
            Some((d, v)) => fail(
                label,
                format!(
                    "{at}drift of {name}: expected {}, got {} ({} in the first window, {} in the last; {} per hour)",
                    c.text,
                    shown(v),
                    name.format(d.first),
                    name.format(d.last),
                    name.format(d.per_hour),
                ),
            )
            .values(c.text.clone(), shown(v)),
            None => {
                let why = match moved {
                    Some(_) => "its first window's value is 0, so it has no change in percent".to_string(),
                    None if full < 2 => {
                        format!("the run had {full} window(s); drift compares the first full window with the last")
                    }
                    None => "not measured in the first and the last window".to_string(),
                };
                fail(label, format!("{at}drift of {name}: {why}")).values(c.text.clone(), "not measured")
            }
        };
        verdict.key = Some(Source::Drift(*name));
        verdict.pos = c.at.known();
        out.push(verdict);
    }
}

/// An actual figure in the threshold's unit (durations are stored in seconds).
fn show(c: &Comparison, figure: &Figure, v: f64) -> String {
    match c.unit {
        Unit::None => figure.format(v),
        _ => c.format_actual(v),
    }
}

fn thresholds(test: &PlannedTest, level: &LevelResult, at: &str, out: &mut Vec<AssertionResult>) {
    let verdicts: Vec<(Figure, Comparison, Option<f64>, bool)> = test
        .thresholds
        .iter()
        .map(|(name, c)| {
            let actual = level.figures.get(name).copied();
            let ok = actual.is_some_and(|v| c.holds(v));
            (*name, c.value.clone(), actual, ok)
        })
        .collect();
    if verdicts.is_empty() {
        return;
    }
    let table: Vec<String> = verdicts
        .iter()
        .map(|(name, c, actual, ok)| {
            let shown = actual.map_or("not measured".to_string(), |v| show(c, name, v));
            format!("{} {name} = {shown} (expected {})", if *ok { "✓" } else { "✗" }, c.text)
        })
        .collect();
    // The table of every threshold goes with the first failure only: once is enough.
    let mut table_said = false;
    // Why the GPUs gave no figures, said with the first GPU threshold only.
    let mut gpu_why =
        Some(level.gpu_error.as_deref().unwrap_or("no GPU sample was taken while the level ran"));
    for (name, c, actual, ok) in &verdicts {
        let label = format!("{at}threshold {name}");
        let shown = actual.map_or("not measured".to_string(), |v| show(c, name, v));
        if *ok {
            // Kept on a pass too: the HTML report draws every threshold on its chart.
            let mut verdict = pass(label).values(c.text.clone(), shown);
            verdict.key = Some(Source::Threshold(*name));
            verdict.pos = test.thresholds.get(name).and_then(|c| c.at.known());
            out.push(verdict);
            continue;
        }
        let why = match actual {
            Some(v) => format!("expected {}, got {}", c.text, show(c, name, *v)),
            None if name.metric.needs_server_timing() && level.requests > level.errors => {
                format!("not measured: {}", super::llm::NO_TIMING)
            }
            None if name.metric.is_gpu() => match gpu_why.take() {
                Some(why) => format!("not measured: {why}"),
                None => "not measured: no GPU figures (said above)".to_string(),
            },
            None => "not measured (no successful request produced it)".to_string(),
        };
        let all =
            if table_said { String::new() } else { format!("\n    all thresholds: {}", table.join("; ")) };
        table_said = true;
        let mut verdict = fail(label, format!("{at}{name}: {why}{all}")).values(c.text.clone(), shown);
        verdict.key = Some(Source::Threshold(*name));
        verdict.pos = test.thresholds.get(name).and_then(|c| c.at.known());
        out.push(verdict);
    }
}

/// An LLM loop whose every successful answer was empty measured nothing worth a figure (a
/// model that stops at once, a proxy that drops the content): it fails, whatever else held.
fn empty_answers(o: &PerfObservation, level: &LevelResult, at: &str, out: &mut Vec<AssertionResult>) {
    let ok = level.requests - level.errors;
    if o.request == "http" || ok == 0 {
        return;
    }
    // Judged only where a count exists (the server's, or the chunks of a stream).
    let Some(tokens) = level.stats.get(&Metric::OutputTokens) else { return };
    out.push(if tokens.max > 0.0 {
        pass(format!("{at}answers"))
    } else {
        fail(
            format!("{at}answers"),
            format!("{at}answers were empty: {ok} successful requests produced no output tokens, so their figures mean nothing"),
        )
    });
}

/// A level none of whose requests succeeded says why first: its figures are not measured
/// because of that one cause, which the thresholds' verdicts below cannot tell.
/// A test that tolerates every request failing (`error_rate: "<= 100%"`) and whose thresholds
/// hold is not failed by it.
fn none_succeeded(
    test: &PlannedTest,
    level: &LevelResult,
    at: &str,
    thresholds_failed: bool,
    out: &mut Vec<AssertionResult>,
) {
    let tolerated = test.thresholds.keys().any(|k| matches!(k.metric, Metric::ErrorRate | Metric::Errors));
    if level.errors == 0 || level.errors < level.requests || (tolerated && !thresholds_failed) {
        return;
    }
    out.push(fail(
        format!("{at}requests"),
        format!(
            "{at}{}: all {} requests failed, so nothing below was measured",
            level.first_error().unwrap_or("unknown error"),
            level.errors
        ),
    ));
}

/// Failed requests fail the test unless a threshold on `error_rate`/`errors` says how many
/// are acceptable.
fn errors(test: &PlannedTest, level: &LevelResult, at: &str, out: &mut Vec<AssertionResult>) {
    let judged = test.thresholds.keys().any(|k| matches!(k.metric, Metric::ErrorRate | Metric::Errors));
    if judged || (level.errors == level.requests && level.errors > 0) {
        return;
    }
    out.push(if level.errors == 0 {
        pass(format!("{at}errors"))
    } else {
        fail(
            format!("{at}errors"),
            format!(
                "{at}{} of {} requests failed (first: {}); set a threshold on error_rate to tolerate some",
                level.errors,
                level.requests,
                level.first_error().unwrap_or("unknown")
            ),
        )
    });
}

fn regressions(test: &PlannedTest, level: &LevelResult, at: &str, out: &mut Vec<AssertionResult>) {
    let Some(base) = &test.baseline else { return };
    let Some(old) = base.levels.get(&level.key()) else { return };
    let tolerances = test.regression.iter().map(|(f, t)| (*f, **t));
    for change in baseline::compare(old, &level.figures, tolerances) {
        let label = format!("{at}regression {}", change.figure);
        let mut verdict = if change.regressed {
            let (old, new) = change.shown();
            fail(label, format!("{at}regression against {}: {}", base.source, change.describe()))
                .values(format!("{old} (baseline) within {}", change.tolerance), new)
        } else {
            pass(label)
        };
        verdict.key = Some(Source::Regression(change.figure));
        verdict.pos = test.regression.get(&change.figure).and_then(|t| t.at.known());
        out.push(verdict);
    }
}
