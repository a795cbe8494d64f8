//! `{{placeholder}}` substitution for `for_each` expansion.
//!
//! A scalar that is exactly `{{name}}` takes the bound value with its type, so
//! `stream: "{{stream}}"` over `[false, true]` yields real booleans; inside longer text the
//! value is written as text.

use crate::load::de::{DeError, did_you_mean};
use crate::load::tree::{Node, Value};
use std::collections::BTreeMap;

/// Fills every placeholder in `node`; unknown names are reported with their position.
pub(crate) fn fill(node: &Node, bindings: &BTreeMap<String, Node>, errors: &mut Vec<DeError>) -> Node {
    let value = match &node.value {
        Value::Str(s) => return fill_str(s, node, bindings, errors),
        Value::Seq(items) => Value::Seq(items.iter().map(|n| fill(n, bindings, errors)).collect()),
        Value::Map(entries) => {
            Value::Map(entries.iter().map(|(k, v)| (k.clone(), fill(v, bindings, errors))).collect())
        }
        other => other.clone(),
    };
    Node::new(value, node.span)
}

/// The placeholder names used in a string, in order, with their byte ranges.
fn placeholders(s: &str) -> Vec<(usize, usize, &str)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(start) = s[from..].find("{{").map(|i| i + from) {
        let Some(end) = s[start + 2..].find("}}").map(|i| i + start + 2) else {
            break;
        };
        found.push((start, end + 2, s[start + 2..end].trim()));
        from = end + 2;
    }
    found
}

fn fill_str(s: &str, node: &Node, bindings: &BTreeMap<String, Node>, errors: &mut Vec<DeError>) -> Node {
    // `{{captures.NAME}}` is filled when the test runs, from what an earlier test captured.
    let found: Vec<_> = placeholders(s)
        .into_iter()
        .filter(|(_, _, name)| !name.starts_with(crate::suite::capture::PREFIX))
        .collect();
    if found.is_empty() {
        return node.clone();
    }
    let mut values = Vec::with_capacity(found.len());
    for (_, _, name) in &found {
        match lookup(name, bindings) {
            Some(v) => values.push(v),
            None => {
                errors.push(unknown(name, bindings, node));
                return node.clone();
            }
        }
    }
    if let [(0, end, _)] = found.as_slice()
        && *end == s.len()
    {
        return values[0].respanned(node.span);
    }
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for ((start, end, _), value) in found.iter().zip(values) {
        out.push_str(&s[last..*start]);
        out.push_str(&text_of(value));
        last = *end;
    }
    out.push_str(&s[last..]);
    Node::new(Value::Str(out), node.span)
}

/// `name` or `name.field.field` (a field of a mapping value, so one `for_each` list of
/// mappings can pair values: `{{case.prompt}}` with `{{case.size}}`).
fn lookup<'a>(name: &str, bindings: &'a BTreeMap<String, Node>) -> Option<&'a Node> {
    let mut parts = name.split('.');
    let mut node = bindings.get(parts.next()?)?;
    for field in parts {
        node = node.get(field)?;
    }
    Some(node)
}

/// A bound value as text (lists joined with ", ").
pub(crate) fn text_of(node: &Node) -> String {
    match &node.value {
        Value::Seq(items) => items.iter().map(text_of).collect::<Vec<_>>().join(", "),
        Value::Map(_) => node.to_json().to_string(),
        _ => node.scalar_text().unwrap_or_default(),
    }
}

fn unknown(name: &str, bindings: &BTreeMap<String, Node>, node: &Node) -> DeError {
    let names: Vec<&str> = bindings.keys().map(String::as_str).collect();
    let mut message = format!("unknown placeholder `{{{{{name}}}}}`");
    if let Some(best) = did_you_mean(name, &names) {
        message.push_str(&format!(", did you mean `{{{{{best}}}}}`?"));
    }
    if names.is_empty() {
        message.push_str(": this test has no `for_each`, so no placeholders are defined");
    } else {
        let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        message.push_str(&format!(": this test's `for_each` defines {}", list.join(", ")));
    }
    DeError { message, span: Some(node.span) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::tree::parse;

    #[test]
    fn typed_whole_and_text_inside() {
        let mut b = BTreeMap::new();
        b.insert("stream".to_string(), parse("true").unwrap());
        b.insert("model".to_string(), parse("phi3:latest").unwrap());
        let mut errs = vec![];
        let n = fill(&parse("s: '{{stream}}'\nn: run {{ model }} ({{stream}})").unwrap(), &b, &mut errs);
        assert!(errs.is_empty());
        assert_eq!(n.get("s").unwrap().value, Value::Bool(true));
        assert_eq!(n.get("n").unwrap().as_str(), Some("run phi3:latest (true)"));
    }

    #[test]
    fn fields_of_mapping_values() {
        let mut b = BTreeMap::new();
        b.insert("case".to_string(), parse("{ size: short, n: 3 }").unwrap());
        let mut errs = vec![];
        let n =
            fill(&parse("a: '{{case.size}} x'\nb: '{{case.n}}'\nc: '{{case.nope}}'").unwrap(), &b, &mut errs);
        assert_eq!(n.get("a").unwrap().as_str(), Some("short x"));
        assert_eq!(n.get("b").unwrap().value, Value::Int(3));
        assert_eq!(errs.len(), 1, "unknown field is an error");
    }

    #[test]
    fn unknown_placeholder_suggests() {
        let mut b = BTreeMap::new();
        b.insert("model".to_string(), parse("x").unwrap());
        let mut errs = vec![];
        fill(&parse("a: 1\nn: '{{modle}}'").unwrap(), &b, &mut errs);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].message.contains("did you mean `{{model}}`"), "{}", errs[0].message);
        assert_eq!(errs[0].span.unwrap().line, 2);
    }
}
