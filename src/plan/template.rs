//! `{{placeholder}}` substitution for `for_each` expansion.
//!
//! A scalar that is exactly `{{name}}` takes the bound value with its type, so
//! `stream: "{{stream}}"` over `[false, true]` yields real booleans; inside longer text the
//! value is written as text. `{{'text'}}` is `text` (how a suite writes a literal `{{`); a `{{`
//! never closed is an error.

use crate::load::de::{DeError, did_you_mean};
use crate::load::tree::{Node, Span, Value};
use crate::suite::placeholder::{self, Piece};
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

fn fill_str(s: &str, node: &Node, bindings: &BTreeMap<String, Node>, errors: &mut Vec<DeError>) -> Node {
    if !placeholder::has_any(s) {
        return node.clone();
    }
    let pieces = placeholder::scan(s);
    let mut values: Vec<Option<&Node>> = Vec::with_capacity(pieces.len());
    for piece in &pieces {
        match piece {
            // `{{captures.NAME}}` is filled when the test runs, from what an earlier test captured.
            Piece::Name { name, .. } if name.starts_with(crate::suite::capture::PREFIX) => values.push(None),
            Piece::Name { name, .. } => match lookup(name, bindings) {
                Some(v) => values.push(Some(v)),
                None => {
                    errors.push(unknown(name, bindings, node));
                    return node.clone();
                }
            },
            Piece::Unclosed(rest) => {
                errors.push(DeError { message: placeholder::unclosed_message(rest), span: Some(node.span) });
                return node.clone();
            }
            Piece::Text(_) | Piece::Literal { .. } => values.push(None),
        }
    }
    if let ([Piece::Name { .. }], [Some(value)]) = (pieces.as_slice(), values.as_slice()) {
        return value.respanned(node.span);
    }
    let mut out = String::with_capacity(s.len());
    for (piece, value) in pieces.iter().zip(values) {
        match (piece, value) {
            (_, Some(value)) => out.push_str(&text_of(value)),
            (Piece::Text(t) | Piece::Literal { text: t, .. }, None) => out.push_str(t),
            (Piece::Name { raw, .. } | Piece::Unclosed(raw), None) => out.push_str(raw),
        }
    }
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
    // A field its mapping value does not have (a case row without `answer`): say which it has.
    if let Some((parent, field)) = name.rsplit_once('.')
        && let Some(Value::Map(entries)) = lookup(parent, bindings).map(|n| &n.value)
    {
        let fields: Vec<String> = entries.iter().map(|(k, _)| format!("`{}`", k.name)).collect();
        let have =
            if fields.is_empty() { "no fields".to_string() } else { format!("only {}", fields.join(", ")) };
        return DeError {
            message: format!("`{{{{{name}}}}}`: `{parent}` has no field `{field}` (it has {have})"),
            span: Some(node.span),
        };
    }
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

/// The `{{captures.NAME}}` used in a test's strings, its `for_each` values included (not its
/// name or its own `capture:`), with where each is written.
pub(super) fn captures_used(test: &Node) -> Vec<(String, Span)> {
    fn walk(node: &Node, out: &mut Vec<(String, Span)>) {
        match &node.value {
            Value::Str(s) => {
                for name in crate::suite::capture::used_in(s) {
                    if !out.iter().any(|(n, _)| n == name) {
                        out.push((name.to_string(), node.span));
                    }
                }
            }
            Value::Seq(items) => items.iter().for_each(|n| walk(n, out)),
            Value::Map(entries) => entries.iter().for_each(|(_, n)| walk(n, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Value::Map(entries) = &test.value {
        for (k, v) in entries {
            if !matches!(k.name.as_str(), "name" | "description" | "capture" | "tags") {
                walk(v, &mut out);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::tree::parse;
    use crate::suite::emit;

    /// Texts a hostile server could send as a model name or an answer.
    const HOSTILE: &[&str] = &[
        "m\n  - name: pwned\n    exec: { command: [touch, /tmp/pwned] }",
        "a\"b'c",
        "# not a comment",
        "{{x}}",
        "${HOME}",
        "$${HOME}",
        "{{'{{'}}",
        "a: b",
        "- item",
        "&anchor *alias !tag",
        "yes",
        "null",
        "0x1F",
        "",
        " padded ",
        "tab\there",
        "\r\n\u{85}\u{2028}\u{2029}",
        "\u{0}\u{7f}\u{9b}\u{feff}\u{fffe}\u{ffff}",
        "{{ model }} {{",
        "}}{{}}",
        "\\",
        "ünïcødé 模型 🦙",
    ];

    #[test]
    fn every_hostile_text_loads_back_as_itself() {
        let long = "x ".repeat(200);
        for text in HOSTILE.iter().copied().chain([long.as_str()]) {
            let name = emit::scalar(&format!("t{text}"));
            assert!(!name.contains('\n'), "{name}");
            // In a comment, a test name, a variable a step takes whole, and a field of a
            // `for_each` value filled into a test (the probe's per-model entries).
            let doc = format!(
                "suite: s\ntarget: {{ url: \"http://127.0.0.1:9\" }}\nvars:\n  v: [{}]\n  w: [{{ name: {} }}]\ntests:\n  # {}\n  - name: {name}\n    models: {{ present: \"${{v}}\" }}\n  - name: \"u{{{{m.name}}}}\"\n    for_each: {{ m: \"${{w}}\" }}\n    models: {{ present: [\"{{{{m.name}}}}\"] }}\n",
                emit::scalar(text),
                emit::scalar(text),
                emit::comment(text, 80)
            );
            let path = std::path::Path::new("s.yaml");
            let loaded = crate::load::load_str(path, doc.clone(), &Default::default())
                .unwrap_or_else(|e| panic!("{doc}\n{e}"));
            let plan = crate::plan::plan_suite(&loaded, &Default::default())
                .unwrap_or_else(|e| panic!("{doc}\n{e}"));
            assert_eq!(plan.tests.len(), 2, "{doc}");
            assert_eq!(plan.tests[0].name, format!("t{text}"), "{doc}");
            assert_eq!(plan.tests[1].name, format!("u{text}"), "{doc}");
            for t in &plan.tests {
                let crate::suite::Step::Models(m) = &t.step else { panic!("{doc}") };
                assert_eq!(m.present, [text], "{doc}");
            }
        }
    }

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
