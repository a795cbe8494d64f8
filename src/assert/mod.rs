//! Stage 4, assert: pure functions from an observation and the expectations to verdicts with
//! messages a person understands (expected vs actual, with a short excerpt).

pub(crate) mod embed;
pub(crate) mod gate;
pub(crate) mod gpu;
pub(crate) mod json;
pub(crate) mod llm;
pub(crate) mod perf;
pub(crate) mod text;

use crate::plan::PlannedTest;
use crate::record::{AssertionResult, Observation, Source};
use crate::suite::spanned::Pos;
use crate::suite::{CodeMatch, Comparison};

/// Evaluates every expectation of a test that applies to the observation, including the
/// defaults (2xx for http, exit code 0 for exec, no failed requests in a perf loop).
pub(crate) fn check(test: &PlannedTest, obs: &Observation) -> Vec<AssertionResult> {
    let expect = &test.expect;
    let mut out = Vec::new();
    match obs {
        Observation::Http(h) => {
            let status =
                expect.status.as_deref().cloned().unwrap_or_else(|| CodeMatch { any_of: vec!["2xx".into()] });
            under(&mut out, expect.status.as_ref().map(|s| (Source::expect("status"), s.at)), |out| {
                out.push(code("status", &status, i64::from(h.status), || {
                    format!("; body: {}", text::quote(&h.body, 200))
                }))
            });
            for (name, m) in &expect.headers {
                let value = h.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
                under(&mut out, Some((Source::expect(format!("headers.{name}")), name.at)), |out| {
                    match (value, m.exists) {
                        (Some(v), Some(false)) => out.push(
                            fail(
                                format!("header {name} exists"),
                                format!(
                                    "header {name}: expected it absent, but the response has it: {}",
                                    text::quote(v, 120)
                                ),
                            )
                            .values("absent", text::quote(v, 120)),
                        ),
                        (Some(v), exists) => {
                            if exists == Some(true) {
                                out.push(pass(format!("header {name} exists")));
                            }
                            out.extend(text::check(&format!("header {name}"), m, v))
                        }
                        (None, Some(false)) => out.push(pass(format!("header {name} exists"))),
                        (None, _) => out.push(
                            fail(
                                format!("header {name}"),
                                format!("header {name}: expected it in the response, but it is absent"),
                            )
                            .values("present", "absent"),
                        ),
                    }
                });
            }
            let from = out.len();
            if let Some(m) = &expect.body {
                under(&mut out, Some((Source::expect("body"), m.at)), |out| {
                    out.extend(text::check("body", m, &h.body))
                });
            }
            json::check_all(&expect.json, &h.body, "body", &mut out);
            json::check_schema(expect.schema.as_ref(), &h.body, "body", &mut out);
            if h.body_truncated {
                note_cut(&mut out[from..], "the body");
            }
        }
        Observation::Exec(e) => {
            let want = expect.exit_code.as_deref().cloned().unwrap_or_else(|| CodeMatch::exactly(0));
            under(&mut out, expect.exit_code.as_ref().map(|s| (Source::expect("exit_code"), s.at)), |out| {
                match e.exit_code {
                    Some(c) => out.push(code("exit_code", &want, i64::from(c), || {
                        format!("; stderr: {}", text::quote(&e.stderr, 200))
                    })),
                    None => out.push(
                        fail(
                            "exit_code",
                            format!("exit_code: expected {want}, but the process was killed by a signal"),
                        )
                        .values(want.to_string(), "killed by a signal"),
                    ),
                }
            });
            let from = out.len();
            if let Some(m) = &expect.stdout {
                under(&mut out, Some((Source::expect("stdout"), m.at)), |out| {
                    out.extend(text::check("stdout", m, &e.stdout))
                });
            }
            if let Some(m) = &expect.stderr {
                under(&mut out, Some((Source::expect("stderr"), m.at)), |out| {
                    out.extend(text::check("stderr", m, &e.stderr))
                });
            }
            json::check_all(&expect.json, &e.stdout, "stdout", &mut out);
            json::check_schema(expect.schema.as_ref(), &e.stdout, "stdout", &mut out);
            if e.output_truncated {
                note_cut(&mut out[from..], "the command's output");
            }
        }
        Observation::Llm(l) => llm::check_llm(expect, l, &mut out),
        Observation::Embed(e) => embed::check_embed(expect, e, &mut out),
        Observation::Pull(p) => llm::check_pull(p, &mut out),
        Observation::Models(m) => {
            llm::check_models(m, &mut out);
            if let crate::suite::Step::Models(step) = &test.step {
                llm::check_loaded(step, m, &mut out);
            }
        }
        Observation::Perf(p) => perf::check_perf(test, p, &mut out),
        Observation::Gpu(g) => {
            if let crate::suite::Step::Gpu(step) = &test.step {
                gpu::check_gpu(step, g, &mut out);
            }
        }
        Observation::Tcp(_) => {}
    }
    if let Some(c) = &expect.duration {
        under(&mut out, Some((Source::expect("duration"), c.at)), |out| {
            out.push(compare("duration", c, obs.elapsed().as_secs_f64()))
        });
    }
    out
}

/// The status of an API call (an LLM answer, embeddings): 2xx unless `expect.status` says
/// otherwise, failing with the server's words. True when the answer is one to check further
/// (a 2xx that was expected); false after a failure or an expected error status.
pub(crate) fn api_status(
    expect: &crate::suite::Expect,
    url: &str,
    status: u16,
    error: Option<&str>,
    out: &mut Vec<AssertionResult>,
) -> bool {
    let want = expect.status.as_deref().cloned().unwrap_or_else(|| CodeMatch { any_of: vec!["2xx".into()] });
    if !want.matches(i64::from(status)) {
        let why = error.map(|e| format!(": {e}")).unwrap_or_default();
        under(out, expect.status.as_ref().map(|s| (Source::expect("status"), s.at)), |out| {
            out.push(
                fail("status", format!("POST {url} answered {status} (expected {want}){why}"))
                    .values(want.to_string(), status.to_string()),
            )
        });
        return false;
    }
    out.push(pass("status"));
    // An expected error status: the body is an error, not an answer to check.
    (200..300).contains(&status)
}

/// Says on each failed check that it saw only the first part of what was sent.
fn note_cut(results: &mut [AssertionResult], what: &str) {
    for r in results.iter_mut().filter(|r| !r.passed) {
        if let Some(m) = &mut r.message {
            m.push_str(&format!(
                " (hxrun kept only the first part of {what}: it was longer than --max-body allows)"
            ));
        }
    }
}

fn code(what: &str, want: &CodeMatch, actual: i64, context: impl Fn() -> String) -> AssertionResult {
    if want.matches(actual) {
        pass(what)
    } else {
        fail(what, format!("{what}: expected {want}, got {actual}{}", context()))
            .values(want.to_string(), actual.to_string())
    }
}

/// A numeric comparison on a measured figure.
pub(crate) fn compare(what: &str, c: &Comparison, actual: f64) -> AssertionResult {
    if c.holds(actual) {
        pass(what)
    } else {
        let shown = c.format_actual(actual);
        fail(what, format!("{what}: expected {}, got {shown}", c.text)).values(c.text.clone(), shown)
    }
}

pub(crate) fn pass(what: impl Into<String>) -> AssertionResult {
    AssertionResult {
        what: what.into(),
        passed: true,
        message: None,
        expected: None,
        actual: None,
        key: None,
        at: None,
        pos: None,
    }
}

pub(crate) fn fail(what: impl Into<String>, message: String) -> AssertionResult {
    AssertionResult {
        what: what.into(),
        passed: false,
        message: Some(message),
        expected: None,
        actual: None,
        key: None,
        at: None,
        pos: None,
    }
}

/// Runs `f` and marks what it added as coming from the expectation at `key` (when written).
pub(crate) fn under(
    out: &mut Vec<AssertionResult>,
    key: Option<(Source, Pos)>,
    f: impl FnOnce(&mut Vec<AssertionResult>),
) {
    let from = out.len();
    f(out);
    if let Some(key) = key {
        keyed(&mut out[from..], key);
    }
}

/// Says which written expectation these verdicts come from, and where it is written.
pub(crate) fn keyed(results: &mut [AssertionResult], (source, at): (Source, Pos)) {
    for r in results.iter_mut().filter(|r| r.key.is_none()) {
        r.key = Some(source.clone());
        r.pos = at.known();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_code_or_comparison_keeps_what_was_expected_and_what_came() {
        let r = code("status", &CodeMatch { any_of: vec!["2xx".into()] }, 503, || "; body: \"busy\"".into());
        assert!(!r.passed);
        assert_eq!((r.expected.as_deref(), r.actual.as_deref()), (Some("2xx"), Some("503")));
        assert_eq!(r.message.as_deref(), Some("status: expected 2xx, got 503; body: \"busy\""));
        let c = Comparison::parse("< 2s").unwrap();
        let r = compare("duration", &c, 2.5);
        assert_eq!((r.expected.as_deref(), r.actual.as_deref()), (Some("< 2s"), Some("2.5s")));
        assert!(compare("duration", &c, 1.0).passed);
    }

    #[test]
    fn verdicts_are_keyed_to_the_expectation_that_was_written() {
        let mut out = vec![pass("first")];
        let at = Pos { line: 7, col: 5 };
        under(&mut out, Some((Source::expect("body"), at)), |out| {
            out.extend([pass("a"), fail("b", "b: no".into())])
        });
        under(&mut out, None, |out| out.push(pass("default")));
        let keys: Vec<(Option<Source>, Option<Pos>)> = out.iter().map(|r| (r.key.clone(), r.pos)).collect();
        let body = (Some(Source::expect("body")), Some(at));
        assert_eq!(keys, vec![(None, None), body.clone(), body, (None, None)]);
    }

    #[test]
    fn a_cut_body_is_said_on_failures_only() {
        let mut out = vec![pass("a"), fail("b", "b: expected x".into())];
        note_cut(&mut out, "the body");
        assert!(out[0].message.is_none());
        assert!(out[1].message.as_deref().unwrap().ends_with("longer than --max-body allows)"));
    }
}
