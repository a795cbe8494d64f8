//! JSONPath matchers (`expect.json`).
//!
//! A path that selects one value is matched against that value; a path that selects several
//! (`$.models[*].name`) is matched against the list of them, so `contains` asks "is this
//! among the selected values".

use super::{compare, fail, pass};
use crate::record::{AssertionResult, Source};
use crate::suite::schema_check::SchemaCheck;
use crate::suite::spanned::Spanned;
use crate::suite::{JsonMatch, JsonMatchFull, JsonType};
use serde_json::Value;
use serde_json_path::JsonPath;
use std::collections::BTreeMap;

use super::text::quote;

/// Checks every path against `doc_text` (parsed once); `source` names it in messages.
pub(crate) fn check_all(
    matchers: &Spanned<BTreeMap<Spanned<String>, Box<JsonMatch>>>,
    doc_text: &str,
    source: &str,
    out: &mut Vec<AssertionResult>,
) {
    if matchers.is_empty() {
        return;
    }
    let doc: Value = match serde_json::from_str(doc_text) {
        Ok(v) => v,
        Err(e) => {
            let from = out.len();
            out.push(fail(
                "json",
                format!(
                    "json: the {source} is not valid JSON ({e}), so no JSONPath can be checked; got {}",
                    quote(doc_text, 120)
                ),
            ));
            super::keyed(&mut out[from..], (Source::expect("json"), matchers.at));
            return;
        }
    };
    for (path, m) in matchers.iter() {
        super::under(out, Some((Source::expect(format!("json.{path}")), path.at)), |out| {
            out.extend(check(path, m, &doc))
        });
    }
}

/// Violations listed in a failure, at most.
const MAX_VIOLATIONS: usize = 10;

/// `expect.schema`: `doc_text` parsed as JSON satisfies the schema; a failure lists where and
/// why (the first `MAX_VIOLATIONS`).
pub(crate) fn check_schema(
    schema: Option<&Spanned<SchemaCheck>>,
    doc_text: &str,
    source: &str,
    out: &mut Vec<AssertionResult>,
) {
    let Some(schema) = schema else { return };
    super::under(out, Some((Source::expect("schema"), schema.at)), |out| {
        let doc: Value = match serde_json::from_str(doc_text.trim()) {
            Ok(v) => v,
            Err(e) => {
                out.push(
                    fail(
                        "schema",
                        format!("schema: the {source} is not JSON ({e}); got {}", quote(doc_text, 200)),
                    )
                    .values("JSON matching the schema", "not JSON"),
                );
                return;
            }
        };
        let violations = schema.violations(&doc, MAX_VIOLATIONS + 1);
        if violations.is_empty() {
            out.push(pass("schema"));
            return;
        }
        let mut lines: Vec<String> =
            violations.iter().take(MAX_VIOLATIONS).map(|v| format!("  at {}: {}", v.at, v.why)).collect();
        if violations.len() > MAX_VIOLATIONS {
            lines.push(format!("  (more past the first {MAX_VIOLATIONS})"));
        }
        let n = violations.len().min(MAX_VIOLATIONS);
        out.push(
            fail(
                "schema",
                format!(
                    "schema: the {source} does not match the schema ({n}{} violation{}):\n{}\n{source}: {}",
                    if violations.len() > MAX_VIOLATIONS { "+" } else { "" },
                    if n == 1 { "" } else { "s" },
                    lines.join("\n"),
                    quote(doc_text, 300)
                ),
            )
            .values("matches the schema", format!("{n} violation{}", if n == 1 { "" } else { "s" })),
        );
    });
}

pub(crate) fn check(path_text: &str, m: &JsonMatch, doc: &Value) -> Vec<AssertionResult> {
    let label = format!("json {path_text}");
    let path = match JsonPath::parse(path_text) {
        Ok(p) => p,
        Err(e) => {
            return vec![fail(label, format!("`{path_text}` is not a valid JSONPath: {e}"))];
        }
    };
    let nodes = path.query(doc).all();
    let selected: Option<Value> = match nodes.len() {
        0 => None,
        1 => Some(nodes[0].clone()),
        _ => Some(Value::Array(nodes.into_iter().cloned().collect())),
    };
    check_value(path_text, &label, m, selected, || {
        let stopped = where_it_stopped(path_text, doc).map(|s| format!("; {s}")).unwrap_or_default();
        format!("{path_text}: selects nothing in {}{stopped}", show(doc))
    })
}

/// One step of a plain JSONPath: a member name or an index.
enum Segment {
    Name(String),
    Index(usize),
}

/// The segments of a plain path (`$.a.b[0]['c d']`); None for anything else (wildcards,
/// filters, slices, descendants), where "where it stopped" has no single answer.
fn plain_segments(path: &str) -> Option<Vec<Segment>> {
    let mut rest = path.trim().strip_prefix('$')?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let name = &r[..end];
            if name.is_empty() || name == "*" || name.starts_with('.') {
                return None;
            }
            out.push(Segment::Name(name.to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = r[..end].trim();
            let quoted = inner
                .strip_prefix('\'')
                .and_then(|i| i.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|i| i.strip_suffix('"')));
            match (quoted, inner.parse::<usize>()) {
                (Some(name), _) => out.push(Segment::Name(name.to_string())),
                (None, Ok(i)) => out.push(Segment::Index(i)),
                _ => return None,
            }
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(out)
}

/// Where a plain path stops matching, and what is there: the keys of the object it reached, the
/// length of the array, or the kind of value it cannot go into.
fn where_it_stopped(path: &str, doc: &Value) -> Option<String> {
    let mut at = "$".to_string();
    let mut here = doc;
    for segment in plain_segments(path)? {
        let next = match (&segment, here) {
            (Segment::Name(n), Value::Object(map)) => map.get(n).ok_or_else(|| {
                let keys: Vec<&str> = map.keys().map(String::as_str).take(30).collect();
                if keys.is_empty() {
                    format!("`{at}` is an empty object (no `{n}`)")
                } else {
                    format!("`{at}` has no `{n}`; its keys are: {}", keys.join(", "))
                }
            }),
            (Segment::Index(i), Value::Array(items)) => {
                items.get(*i).ok_or_else(|| format!("`{at}` is an array of {} (no index {i})", items.len()))
            }
            (Segment::Name(n), other) => Err(format!("`{at}` is {}, not an object with `{n}`", kind(other))),
            (Segment::Index(i), other) => {
                Err(format!("`{at}` is {}, not an array with an index {i}", kind(other)))
            }
        };
        match next {
            Ok(v) => {
                at.push_str(&match &segment {
                    Segment::Name(n) => format!(".{n}"),
                    Segment::Index(i) => format!("[{i}]"),
                });
                here = v;
            }
            Err(said) => return Some(said),
        }
    }
    None
}

/// A JSON value's kind, for people.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Applies a matcher to an already selected value; `name` starts messages, `missing` explains
/// an absent value.
pub(crate) fn check_value(
    name: &str,
    label: &str,
    m: &JsonMatch,
    selected: Option<Value>,
    missing: impl Fn() -> String,
) -> Vec<AssertionResult> {
    let path_text = name;
    let full = match m {
        JsonMatch::Compare(c) => JsonMatchFull { compare: Some(c.clone()), ..Default::default() },
        JsonMatch::Equals(v) => JsonMatchFull { equals: Some(v.clone()), ..Default::default() },
        JsonMatch::Full(f) => f.clone(),
    };
    let mut out = Vec::new();
    if let Some(want) = full.exists {
        out.push(match (want, &selected) {
            (true, Some(_)) | (false, None) => pass(format!("{label} exists")),
            (true, None) => fail(
                format!("{label} exists"),
                format!("{path_text}: expected it to exist, but it selects nothing"),
            )
            .values("exists", "nothing"),
            (false, Some(v)) => fail(
                format!("{label} exists"),
                format!("{path_text}: expected nothing there, found {}", show(v)),
            )
            .values("nothing", show(v)),
        });
    }
    let wants_value = full.equals.is_some()
        || full.matches.is_some()
        || full.contains.is_some()
        || full.contains_all.is_some()
        || full.type_.is_some()
        || full.length.is_some()
        || full.compare.is_some();
    let Some(actual) = selected else {
        if wants_value {
            out.push(fail(label, missing()).values("a value", "nothing"));
        }
        return out;
    };
    if let Some(want) = &full.equals {
        out.push(if json_eq(want, &actual) {
            pass(format!("{label} equals"))
        } else {
            fail(
                format!("{label} equals"),
                format!("{path_text}: expected {}, got {}", show(want), show(&actual)),
            )
            .values(show(want), show(&actual))
        });
    }
    if let Some(re) = &full.matches {
        let text = as_text(&actual);
        out.push(if re.0.is_match(&text) {
            pass(format!("{label} matches"))
        } else {
            fail(
                format!("{label} matches"),
                format!("{path_text}: expected a match for /{}/, got {}", re.0.as_str(), show(&actual)),
            )
            .values(format!("/{}/", re.0.as_str()), show(&actual))
        });
    }
    let contains = |item: &Value| match (&actual, item) {
        (Value::Array(items), _) => items.iter().any(|i| json_eq(item, i)),
        (Value::String(s), Value::String(sub)) => s.contains(sub.as_str()),
        _ => false,
    };
    if let Some(item) = &full.contains {
        out.push(if contains(item) {
            pass(format!("{label} contains"))
        } else {
            fail(
                format!("{label} contains"),
                format!("{path_text}: expected it to contain {}, got {}", show(item), show(&actual)),
            )
            .values(format!("contains {}", show(item)), show(&actual))
        });
    }
    if let Some(items) = &full.contains_all {
        let missing: Vec<String> = items.iter().filter(|i| !contains(i)).map(show).collect();
        out.push(if missing.is_empty() {
            pass(format!("{label} contains_all"))
        } else {
            fail(
                format!("{label} contains_all"),
                format!("{path_text}: missing {} in {}", missing.join(", "), show(&actual)),
            )
            .values(format!("contains all of {}", show(&Value::Array(items.clone()))), show(&actual))
        });
    }
    if let Some(t) = full.type_ {
        let found = type_of(&actual);
        let ok = found == t || (t == JsonType::Number && found == JsonType::Integer);
        out.push(if ok {
            pass(format!("{label} type"))
        } else {
            fail(
                format!("{label} type"),
                format!("{path_text}: expected type {t:?}, got {found:?} {}", show(&actual)).to_lowercase(),
            )
            .values(format!("{t:?}").to_lowercase(), format!("{found:?}").to_lowercase())
        });
    }
    if let Some(c) = &full.length {
        let len = match &actual {
            Value::String(s) => Some(s.chars().count()),
            Value::Array(a) => Some(a.len()),
            Value::Object(o) => Some(o.len()),
            _ => None,
        };
        out.push(match len {
            Some(n) => compare(&format!("{path_text} length"), c, n as f64),
            None => fail(
                format!("{label} length"),
                format!("{path_text}: expected something with a length, got {}", show(&actual)),
            )
            .values(format!("length {}", c.text), show(&actual)),
        });
    }
    if let Some(c) = &full.compare {
        let number = match &actual {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        out.push(match number {
            Some(n) => compare(path_text, c, n),
            None => fail(label, format!("{path_text}: expected a number {}, got {}", c.text, show(&actual)))
                .values(c.text.clone(), show(&actual)),
        });
    }
    out
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn type_of(v: &Value) -> JsonType {
    match v {
        Value::Null => JsonType::Null,
        Value::Bool(_) => JsonType::Boolean,
        Value::Number(n) if n.is_i64() || n.is_u64() => JsonType::Integer,
        Value::Number(_) => JsonType::Number,
        Value::String(_) => JsonType::String,
        Value::Array(_) => JsonType::Array,
        Value::Object(_) => JsonType::Object,
    }
}

/// A JSON value shortened for a message.
fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 160 { format!("{}…", s.chars().take(160).collect::<String>()) } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::Comparison;
    use serde_json::json;

    #[test]
    fn a_path_that_selects_nothing_says_where_it_stopped_and_what_is_there() {
        let doc = json!({ "models": [{ "name": "phi3", "size": 1 }], "version": "0.11" });
        let said = |path: &str| {
            let r = check(path, &JsonMatch::Equals(json!("x")), &doc);
            r[0].message.clone().unwrap_or_default()
        };
        assert!(
            said("$.models[0].nme").ends_with("; `$.models[0]` has no `nme`; its keys are: name, size"),
            "{}",
            said("$.models[0].nme")
        );
        assert!(said("$.models[3].name").ends_with("; `$.models` is an array of 1 (no index 3)"));
        assert!(said("$.version.major").ends_with("; `$.version` is a string, not an object with `major`"));
        assert!(said("$['modles']").contains("`$` has no `modles`; its keys are: models, version"));
        // A wildcard or a filter has no single place where it stopped: nothing added.
        assert!(said("$.models[*].nme").ends_with("}"), "{}", said("$.models[*].nme"));
    }

    fn full(f: impl FnOnce(&mut JsonMatchFull)) -> JsonMatch {
        let mut m = JsonMatchFull::default();
        f(&mut m);
        JsonMatch::Full(m)
    }

    #[test]
    fn matches_over_selected_list() {
        let doc = json!({"models": [{"name": "a"}, {"name": "b"}]});
        let m = full(|m| m.contains_all = Some(vec![json!("a"), json!("b")]));
        assert!(check("$.models[*].name", &m, &doc).iter().all(|r| r.passed));
        let m = full(|m| m.contains = Some(json!("c")));
        let r = check("$.models[*].name", &m, &doc);
        assert!(!r[0].passed);
        assert!(r[0].message.as_ref().unwrap().contains(r#"expected it to contain "c", got ["a","b"]"#));
        let m = full(|m| m.length = Some(Comparison::parse(">= 2").unwrap()));
        assert!(check("$.models", &m, &doc)[0].passed);
    }

    #[test]
    fn shorthand_compare_and_equals() {
        let doc = json!({"n": 5, "v": "0.11.4"});
        assert!(check("$.n", &JsonMatch::Compare(Comparison::parse("> 0").unwrap()), &doc)[0].passed);
        let r = check("$.n", &JsonMatch::Compare(Comparison::parse("> 9").unwrap()), &doc);
        assert_eq!(r[0].message.as_deref(), Some("$.n: expected > 9, got 5"));
        assert!(check("$.v", &JsonMatch::Equals(json!("0.11.4")), &doc)[0].passed);
        let r = check("$.missing", &JsonMatch::Equals(json!(1)), &doc);
        assert!(r[0].message.as_ref().unwrap().contains("selects nothing"));
    }
}
