//! A pass-rate gate's verdict (`pass_rate: ">= 90%"`): the share of its cases that passed, with
//! its 95% Wilson interval, against the share the suite asks for. Its cases' failures are
//! listed in it; they fail the gate, not the run.

use crate::perf::rate::wilson;
use crate::record::{AssertionResult, FailureKind, PassRate, Place, Source, Status, TestResult};
use crate::suite::Comparison;

/// Failed cases named in a gate's message (report.json and the JUnit case list have all).
const LISTED: usize = 20;

/// Judges `cases` into `gate` (a result that carries the gate's name, suite and place):
/// its status, message, assertion and figures, the cases kept in it.
pub(crate) fn judge(required: &Comparison, at: Option<Place>, gate: &mut TestResult, cases: Vec<TestResult>) {
    let passed = cases.iter().filter(|c| c.status == Status::Passed).count() as u64;
    let failed: Vec<&TestResult> = cases.iter().filter(|c| c.status == Status::Failed).collect();
    let total = passed + failed.len() as u64;
    let skipped = cases.len() as u64 - total;
    let interval = wilson(passed, total);
    let rate = (total > 0).then(|| passed as f64 / total as f64 * 100.0);
    let figures = PassRate {
        required: required.text.clone(),
        passed,
        total,
        skipped,
        rate,
        low: interval.map(|(l, _)| l * 100.0),
        high: interval.map(|(_, h)| h * 100.0),
        cases: Vec::new(),
    };
    let summary = figures.summary();
    let mut lines = Vec::new();
    let Some(rate) = rate else {
        gate.status = Status::Skipped;
        gate.message = Some(format!("pass rate: {summary}"));
        gate.pass_rate = Some(Box::new(PassRate { cases, ..figures }));
        return;
    };
    let holds = required.holds(rate);
    let verdict = if holds {
        format!("pass rate {summary} meets the required {}", required.text)
    } else {
        format!("pass rate {summary} is below the required {}", required.text)
    };
    lines.push(verdict.clone());
    if let (Some(low), Some(high)) = (figures.low, figures.high)
        && required.holds(low) != required.holds(high)
    {
        lines.push(format!(
            "the interval reaches across {}: with {total} cases this verdict may be chance — more cases would decide it",
            required.format_actual(required.value)
        ));
    }
    if skipped > 0 {
        lines.push(format!("{skipped} of {} cases did not run and are not counted", cases.len()));
    }
    if !failed.is_empty() {
        lines.push(format!(
            "{} failed:",
            if failed.len() == 1 { "1 case".into() } else { format!("{} cases", failed.len()) }
        ));
        // Cases that failed for the same reason (a model the server lacks) are one line.
        let mut reasons: Vec<(&str, Vec<String>)> = Vec::new();
        for c in &failed {
            let why = c.message.as_deref().and_then(|m| m.lines().next()).unwrap_or("failed");
            let label = case_label(c, &gate.params);
            match reasons.iter_mut().find(|(w, _)| *w == why) {
                Some((_, labels)) => labels.push(label),
                None => reasons.push((why, vec![label])),
            }
        }
        for (why, labels) in reasons.iter().take(LISTED) {
            let why = crate::record::excerpt(why, 160);
            match labels.as_slice() {
                [one] => lines.push(format!("  {one}: {why}")),
                [a, b] => lines.push(format!("  {a}, {b}: {why}")),
                [a, b, ..] => lines.push(format!("  {} cases ({a}, {b}, …): {why}", labels.len())),
                [] => {}
            }
        }
        if reasons.len() > LISTED {
            let rest: usize = reasons[LISTED..].iter().map(|(_, l)| l.len()).sum();
            lines.push(format!("  … and {rest} more (every case is in report.json)"));
        }
    }
    gate.status = if holds { Status::Passed } else { Status::Failed };
    gate.failure_kind = (!holds).then_some(FailureKind::Assertion);
    gate.message = Some(lines.join("\n"));
    gate.assertions = vec![AssertionResult {
        what: "pass_rate".into(),
        passed: holds,
        message: (!holds).then_some(verdict),
        expected: Some(required.text.clone()),
        actual: Some(format!(
            "{} ({passed} of {total})",
            required.format_actual((rate * 10.0).round() / 10.0)
        )),
        key: Some(Source::PassRate),
        at,
        pos: None,
    }];
    gate.pass_rate = Some(Box::new(PassRate { cases, ..figures }));
}

/// What tells a case from the other cases of its gate: its own `for_each` values (`case=add-3`),
/// else its name.
pub(crate) fn case_label(case: &TestResult, shared: &[(String, String)]) -> String {
    label(&case.name, &case.params, shared)
}

/// A case's label from its name, its `for_each` values and its gate's (`case_label`).
pub(crate) fn label(name: &str, params: &[(String, String)], shared: &[(String, String)]) -> String {
    let own: Vec<String> =
        params.iter().filter(|p| !shared.contains(p)).map(|(k, v)| format!("{k}={v}")).collect();
    if own.is_empty() { name.to_string() } else { own.join(", ") }
}
