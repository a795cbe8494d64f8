//! JUnit XML for Jenkins' junit step and GitLab's `artifacts:reports:junit`.
//!
//! One `<testsuite>` per suite, one `<testcase>` per expanded test (classname = suite name,
//! name = the unique test name). A failure's message is in the attribute (Jenkins shows it)
//! and in the element text (GitLab shows that); the request and a response excerpt go to
//! `system-out`. Text is cleaned of ANSI and control characters first. Only what the Jenkins
//! xunit schema allows is written (checked in CI with shared/tools/junitcheck).

use super::text::clean;
use super::{Event, Output, Reporter};
use crate::record::{RunRecord, Status, TestResult};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use std::path::PathBuf;

pub(crate) struct JunitReporter {
    path: PathBuf,
}

impl JunitReporter {
    pub(crate) fn new(path: PathBuf) -> Self {
        JunitReporter { path }
    }
}

impl Reporter for JunitReporter {
    fn handle(&mut self, event: &Event, out: &Output) -> Result<(), super::ReportError> {
        let Event::RunFinished { record } = event else {
            return Ok(());
        };
        let xml = render(record)?;
        out.write_file(&self.path, &xml)
    }
}

/// The run as a JUnit XML document.
pub(crate) fn render(record: &RunRecord) -> Result<String, super::ReportError> {
    let mut report = Report::new("hxrun");
    report.set_time(record.duration);
    let names = suite_names(record);
    for (suite, name) in record.suites.iter().zip(names) {
        let mut ts = TestSuite::new(name.clone());
        ts.set_timestamp(suite.started_at).set_time(suite.duration);
        ts.add_property(Property::new("file", clean(&suite.file)));
        ts.add_property(Property::new("target", clean(&suite.target)));
        // Perf statistics as suite properties (Jenkins' schema allows none on a testcase).
        for t in &suite.tests {
            if let Some(crate::record::Observation::Perf(p)) = &t.observation {
                for l in &p.levels {
                    for (figure, v) in &l.figures {
                        let name = format!("{} [{}] {figure}", clean(&t.name), l.label());
                        ts.add_property(Property::new(name, format!("{v:.6}")));
                    }
                }
            }
        }
        ts.add_test_cases(suite.tests.iter().map(|t| test_case(t, &name)));
        report.add_test_suite(ts);
    }
    let xml = report.to_string().map_err(|e| super::ReportError::render("JUnit XML")(&e))?;
    Ok(drop_root_skipped(xml))
}

/// quick-junit always writes `skipped` on `<testsuites>`, which the Jenkins xunit schema
/// rejects; the per-suite counts carry the same number.
fn drop_root_skipped(xml: String) -> String {
    let Some(start) = xml.find("<testsuites") else {
        return xml;
    };
    let Some(end) = xml[start..].find('>').map(|e| e + start) else {
        return xml;
    };
    let tag = &xml[start..end];
    let Some(attr) = tag.find(" skipped=\"") else {
        return xml;
    };
    let Some(close) = tag[attr + 10..].find('"') else {
        return xml;
    };
    let cut = (start + attr)..(start + attr + 10 + close + 1);
    let mut out = xml;
    out.replace_range(cut, "");
    out
}

/// A distinct `<testsuite>` name for each suite run: its name, then, where two runs share
/// it (one suite file given twice, two files naming the same suite, one suite against two
/// targets), the file, then the target, then a count. GitLab and Jenkins key test cases by
/// suite (classname) and name, and would drop or merge the repeats.
fn suite_names(record: &RunRecord) -> Vec<String> {
    let plain: Vec<String> = record.suites.iter().map(|s| clean(&s.name)).collect();
    let count = |names: &[String], n: &String| names.iter().filter(|m| *m == n).count();
    let with_file: Vec<String> = record
        .suites
        .iter()
        .zip(&plain)
        .map(|(s, n)| if count(&plain, n) > 1 { format!("{n} ({})", clean(&s.file)) } else { n.clone() })
        .collect();
    let with_target: Vec<String> = record
        .suites
        .iter()
        .zip(&with_file)
        .map(|(s, n)| {
            // The target, where it tells the repeats apart.
            let targets: std::collections::BTreeSet<&str> = record
                .suites
                .iter()
                .zip(&with_file)
                .filter(|(_, m)| *m == n)
                .map(|(o, _)| o.target.as_str())
                .collect();
            if targets.len() > 1 {
                format!("{} @ {})", n.trim_end_matches(')'), clean(&s.target))
            } else {
                n.clone()
            }
        })
        .collect();
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    with_target
        .iter()
        .map(|n| {
            let k = seen.entry(n.clone()).or_default();
            *k += 1;
            if count(&with_target, n) > 1 { format!("{n} #{k}") } else { n.clone() }
        })
        .collect()
}

fn test_case(t: &TestResult, suite: &str) -> TestCase {
    let status = match t.status {
        Status::Passed => TestCaseStatus::success(),
        Status::Skipped => {
            let mut s = TestCaseStatus::skipped();
            let reason = clean(t.message.as_deref().unwrap_or("skipped"));
            s.set_message(reason.clone()).set_description(reason);
            s
        }
        Status::Failed => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let message = clean(t.message.as_deref().unwrap_or("failed"));
            // The element text (what GitLab shows) also points at the failing lines.
            s.set_message(message).set_description(clean(&super::detail::failure(t)));
            if let Some(kind) = &t.failure_kind {
                s.set_type(kind.junit_type());
            }
            s
        }
    };
    let mut case = TestCase::new(clean(&t.name), status);
    case.set_classname(suite).set_time(t.duration);
    // Jenkins' schema allows no properties, timestamp or assertions on a testcase: the
    // test's own facts go first in system-out instead.
    let mut out = format!("{} step at {}\n", t.step, t.location);
    if !t.params.is_empty() {
        let params: Vec<String> = t.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!("for_each: {}\n", params.join(", ")));
    }
    if !t.tags.is_empty() {
        out.push_str(&format!("tags: {}\n", t.tags.join(", ")));
    }
    out.push('\n');
    out.push_str(&super::detail::of(t));
    let mut out = clean(&out);
    if t.attempts.len() > 1 {
        out.push_str("\n\nattempts:\n");
        for a in &t.attempts {
            let verdict = if a.passed { "passed".to_string() } else { a.message.clone().unwrap_or_default() };
            out.push_str(&format!("  #{} ({} ms): {}\n", a.number, a.duration.as_millis(), clean(&verdict)));
        }
    }
    if !out.trim().is_empty() {
        case.set_system_out(out);
    }
    case
}
