//! Captures between tests: values taken from what a step returned (`capture:`), filled into
//! later tests' `{{captures.NAME}}` when they run.

use crate::load::tree::{Node, Value as TreeValue};
use crate::plan::PlannedTest;
use crate::record::{AssertionResult, Observation};
use crate::suite::TestSpec;
use crate::suite::capture::{self, Capture, From};
use crate::suite::spanned::Spanned;
use serde_json::Value;
use serde_json_path::JsonPath;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Bytes a captured value may have (a value is meant for a url, a header, a prompt).
const MAX_VALUE: usize = 64 * 1024;

/// A value a test captured.
#[derive(Debug, Clone)]
pub(crate) struct Captured {
    pub(crate) name: String,
    pub(crate) value: String,
    pub(crate) secret: bool,
}

/// The text a capture reads, and what to call it in messages.
fn source(obs: &Observation) -> Option<(&str, &'static str)> {
    match obs {
        Observation::Http(h) => Some((&h.body, "body")),
        Observation::Exec(e) => Some((&e.stdout, "stdout")),
        Observation::Llm(l) => Some((&l.text, "answer")),
        _ => None,
    }
}

fn verdict(name: &Spanned<String>, failure: Option<String>) -> AssertionResult {
    AssertionResult {
        what: format!("capture {name}"),
        passed: failure.is_none(),
        message: failure,
        expected: None,
        actual: None,
        key: Some(crate::record::Source::Capture(name.to_string())),
        at: None,
        pos: name.at.known(),
    }
}

fn excerpt(text: &str) -> String {
    format!("\"{}\"", crate::record::excerpt(text, 200))
}

/// Takes each capture from the observation: a verdict per capture (a failed one fails the
/// test, saying what came back), and the values found.
pub(crate) fn extract(
    captures: &BTreeMap<Spanned<String>, Capture>,
    obs: &Observation,
) -> (Vec<AssertionResult>, Vec<Captured>) {
    let mut verdicts = Vec::new();
    let mut values = Vec::new();
    for (name, c) in captures {
        match take(c, obs) {
            Ok(value) if value.len() > MAX_VALUE => verdicts.push(verdict(
                name,
                Some(format!(
                    "capture {name}: the value is {} bytes, more than the {} KiB a capture keeps",
                    value.len(),
                    MAX_VALUE / 1024
                )),
            )),
            Ok(value) => {
                verdicts.push(verdict(name, None));
                values.push(Captured { name: name.to_string(), value, secret: c.secret });
            }
            Err(why) => {
                verdicts.push(verdict(name, Some(format!("capture {name} ({}): {why}", c.from.describe()))))
            }
        }
    }
    (verdicts, values)
}

fn take(c: &Capture, obs: &Observation) -> Result<String, String> {
    if let (From::Header(name), Observation::Http(h)) = (&c.from, obs) {
        return h
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .ok_or_else(|| {
                let names: Vec<&str> = h.headers.iter().map(|(k, _)| k.as_str()).collect();
                format!("the response has no such header (it has: {})", names.join(", "))
            });
    }
    let Some((text, what)) = source(obs) else {
        return Err("this step returns nothing to capture from".into());
    };
    match &c.from {
        From::Json(path) => {
            let doc: Value = serde_json::from_str(text.trim())
                .map_err(|e| format!("the {what} is not JSON ({e}); got {}", excerpt(text)))?;
            let path = JsonPath::parse(path).map_err(|e| format!("not a JSONPath: {e}"))?;
            let nodes = path.query(&doc).all();
            match nodes.as_slice() {
                [] => Err(format!("selects nothing in the {what}: {}", excerpt(text))),
                [Value::String(s)] => Ok(s.clone()),
                [one] => Ok(one.to_string()),
                many => Ok(Value::Array(many.iter().map(|v| (*v).clone()).collect()).to_string()),
            }
        }
        From::Regex(r) => {
            let found =
                r.0.captures(text)
                    .ok_or_else(|| format!("matches nothing in the {what}: {}", excerpt(text)))?;
            Ok(found.get(1).or_else(|| found.get(0)).map(|m| m.as_str().to_string()).unwrap_or_default())
        }
        From::Header(_) => Err(format!("headers are kept by http steps only, not for a {what}")),
    }
}

/// Why a test that uses captures cannot run.
#[derive(Debug)]
pub(crate) enum Unfilled {
    /// No earlier test captured this name (it failed, was skipped or was not selected).
    Missing(String),
    /// The test, its captures filled in, is no longer valid (a value where a number goes).
    Invalid(String),
}

/// The test with its `{{captures.NAME}}` filled in: its written form (kept by the plan) with
/// the values put in, typed again the way the suite was, so every field of every step kind and
/// every expectation takes captures alike.
pub(crate) fn fill<'a>(
    test: &'a PlannedTest,
    values: &BTreeMap<String, String>,
) -> Result<Cow<'a, PlannedTest>, Unfilled> {
    let Some(node) = &test.written else { return Ok(Cow::Borrowed(test)) };
    if let Some(missing) = test.captures_used.iter().find(|n| !values.contains_key(*n)) {
        return Err(Unfilled::Missing(missing.clone()));
    }
    let value = |name: &str| values.get(name).cloned();
    let filled = fill_node(node, &value).map_err(Unfilled::Missing)?;
    let spec = crate::load::de::from_node::<TestSpec>(&filled).map_err(|e| {
        let at =
            e.span.map(|s| format!(" (at {}:{}:{})", test.source.name, s.line, s.col)).unwrap_or_default();
        Unfilled::Invalid(format!("{}{at}", e.message))
    })?;
    let expect = spec.expect.clone().unwrap_or_default();
    let step =
        spec.steps().into_iter().next().ok_or_else(|| Unfilled::Invalid("the test has no step".into()))?;
    let mut out = test.clone();
    out.step = step;
    out.expect = Box::new(expect);
    Ok(Cow::Owned(out))
}

/// Every text of a written test filled.
fn fill_node(node: &Node, value: &dyn Fn(&str) -> Option<String>) -> Result<Node, String> {
    let v = match &node.value {
        TreeValue::Str(s) => TreeValue::Str(capture::fill(s, value)?),
        TreeValue::Seq(items) => {
            TreeValue::Seq(items.iter().map(|n| fill_node(n, value)).collect::<Result<_, _>>()?)
        }
        TreeValue::Map(entries) => TreeValue::Map(
            entries
                .iter()
                .map(|(k, n)| Ok((k.clone(), fill_node(n, value)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    };
    Ok(Node::new(v, node.span))
}
