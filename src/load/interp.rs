//! `${VAR}` / `${VAR:-default}` / `${VAR:+alternative}` interpolation and `KEY=VALUE` env
//! files.
//!
//! One lookup order, documented in the README, decides every `${...}`:
//! `--var` > suite `vars` > process environment > `--env-file` files > suite `env_file` >
//! the `:-default`. A scalar that is exactly `${name}` takes the variable's value whole, so a
//! list defined once in `vars` can feed `for_each`; inside a longer string a list is joined
//! with ", ". `${VAR:+text}` gives `text` when VAR is set and non-empty, else nothing (as in
//! POSIX shells). `$${` writes a literal `${`.

use super::de::DeError;
use super::tree::{Node, Span, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Where `${name}` values come from, highest precedence first.
#[derive(Debug, Default, Clone)]
pub(crate) struct Scope {
    pub(crate) cli_vars: BTreeMap<String, Node>,
    pub(crate) suite_vars: BTreeMap<String, Node>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) env_files: BTreeMap<String, String>,
}

enum Found<'a> {
    Node(&'a Node),
    Text(&'a str),
}

impl Scope {
    fn lookup(&self, name: &str) -> Option<Found<'_>> {
        if let Some(n) = self.cli_vars.get(name).or_else(|| self.suite_vars.get(name)) {
            return Some(Found::Node(n));
        }
        self.env.get(name).or_else(|| self.env_files.get(name)).map(|s| Found::Text(s.as_str()))
    }

    /// The text of a variable, if it is defined (used to collect secret values).
    pub(crate) fn text_of(&self, name: &str) -> Option<String> {
        match self.lookup(name)? {
            Found::Node(n) => Some(joined_text(n)),
            Found::Text(t) => Some(t.to_string()),
        }
    }
}

impl Scope {
    /// A variable's text, and for a list each item's text too (each may be used alone).
    pub(crate) fn texts_of(&self, name: &str) -> Option<Vec<String>> {
        let mut out = vec![self.text_of(name)?];
        match self.lookup(name)? {
            Found::Node(Node { value: Value::Seq(items), .. }) => out.extend(items.iter().map(joined_text)),
            // A list given as text (`SECLIST=a,b` or `[a, b]`), as `for_each` reads one.
            Found::Node(node) => out.extend(node.list_in_text().unwrap_or_default().iter().map(joined_text)),
            Found::Text(t) => {
                let node = Node::new(Value::Str(t.to_string()), Span::default());
                out.extend(node.list_in_text().unwrap_or_default().iter().map(joined_text));
            }
        }
        Some(out)
    }
}

fn joined_text(node: &Node) -> String {
    match &node.value {
        Value::Seq(items) => items.iter().map(joined_text).collect::<Vec<_>>().join(", "),
        _ => node.scalar_text().unwrap_or_default(),
    }
}

/// One `${...}` reference found in a string.
struct Reference<'a> {
    start: usize,
    end: usize,
    name: &'a str,
    default: Option<&'a str>,
    /// `${VAR:+text}`: `text` when VAR is set and non-empty.
    alternative: Option<&'a str>,
}

enum Piece<'a> {
    Text(&'a str),
    Literal(&'static str),
    Ref(Reference<'a>),
}

fn scan(s: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest_start = 0;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if s[i..].starts_with("$${") {
            pieces.push(Piece::Text(&s[rest_start..i]));
            pieces.push(Piece::Literal("${"));
            i += 3;
            rest_start = i;
        } else if s[i..].starts_with("${") {
            let close = s[i..].find('}').ok_or_else(|| {
                format!("unterminated `${{` in \"{s}\": expected `}}` to close the variable")
            })?;
            let inner = &s[i + 2..i + close];
            let (name, default, alternative) = match (inner.find(":-"), inner.find(":+")) {
                (Some(p), _) => (&inner[..p], Some(&inner[p + 2..]), None),
                (None, Some(p)) => (&inner[..p], None, Some(&inner[p + 2..])),
                (None, None) => (inner, None, None),
            };
            let valid =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            if !valid {
                return Err(format!(
                    "`${{{inner}}}` is not a variable reference: expected `${{NAME}}` or `${{NAME:-default}}`"
                ));
            }
            pieces.push(Piece::Text(&s[rest_start..i]));
            pieces.push(Piece::Ref(Reference { start: i, end: i + close + 1, name, default, alternative }));
            i += close + 1;
            rest_start = i;
        } else {
            i += s[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    pieces.push(Piece::Text(&s[rest_start..]));
    Ok(pieces)
}

/// Replaces every `${...}` in the tree, taking it: text without `${` moves through as it is
/// (a suite is never held twice). Errors are collected, not returned one at a time.
pub(crate) fn interpolate_owned(node: Node, scope: &Scope, errors: &mut Vec<DeError>) -> Node {
    let value = match node.value {
        Value::Str(s) if s.contains("${") => return interpolate_str(&s, node.span, scope, errors),
        Value::Seq(items) => {
            Value::Seq(items.into_iter().map(|n| interpolate_owned(n, scope, errors)).collect())
        }
        Value::Map(entries) => {
            Value::Map(entries.into_iter().map(|(k, v)| (k, interpolate_owned(v, scope, errors))).collect())
        }
        other => other,
    };
    Node::new(value, node.span)
}

/// Replaces every `${...}` in the tree. Errors are collected, not returned one at a time.
pub(crate) fn interpolate(node: &Node, scope: &Scope, errors: &mut Vec<DeError>) -> Node {
    let value = match &node.value {
        Value::Str(s) => return interpolate_str(s, node.span, scope, errors),
        Value::Seq(items) => Value::Seq(items.iter().map(|n| interpolate(n, scope, errors)).collect()),
        Value::Map(entries) => {
            Value::Map(entries.iter().map(|(k, v)| (k.clone(), interpolate(v, scope, errors))).collect())
        }
        other => other.clone(),
    };
    Node::new(value, node.span)
}

fn interpolate_str(s: &str, span: Span, scope: &Scope, errors: &mut Vec<DeError>) -> Node {
    let pieces = match scan(s) {
        Ok(p) => p,
        Err(message) => {
            errors.push(DeError { message, span: Some(span) });
            return Node::new(Value::Str(s.to_string()), span);
        }
    };
    // A scalar that is exactly one reference takes the variable's value whole.
    if let [Piece::Text(""), Piece::Ref(r), Piece::Text("")] = pieces.as_slice()
        && r.start == 0
        && r.end == s.len()
        && r.alternative.is_none()
    {
        match scope.lookup(r.name) {
            Some(Found::Node(n)) => return n.respanned(span),
            Some(Found::Text(t)) => return Node::new(Value::Str(t.to_string()), span),
            None => {}
        }
    }
    let mut out = String::with_capacity(s.len());
    for piece in &pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Literal(t) => out.push_str(t),
            Piece::Ref(r) if r.alternative.is_some() => {
                let set = scope.text_of(r.name).is_some_and(|v| !v.is_empty());
                if set {
                    out.push_str(r.alternative.unwrap_or_default());
                }
            }
            Piece::Ref(r) => match (scope.lookup(r.name), r.default) {
                (Some(Found::Node(n)), _) => out.push_str(&joined_text(n)),
                (Some(Found::Text(t)), _) => out.push_str(t),
                (None, Some(d)) => out.push_str(d),
                (None, None) => errors.push(DeError {
                    message: format!(
                        "undefined variable `{}`: define it under `vars:`, in the environment, \
                         in an env file, or give a default with `${{{}:-value}}`",
                        r.name, r.name
                    ),
                    span: Some(span),
                }),
            },
        }
    }
    Node::new(Value::Str(out), span)
}

/// Reads a `KEY=VALUE` env file (`#` comments, blank lines, optional `export`, quotes).
pub(crate) fn read_env_file(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = crate::files::read_to_string(path, "env file")
        .map_err(|e| format!("cannot read env file {}: {e}", path.display()))?;
    parse_env_text(&text).map_err(|(line, msg)| format!("{}:{line}: {msg}", path.display()))
}

/// Parses env-file text; an error carries its 1-based line number.
pub(crate) fn parse_env_text(text: &str) -> Result<BTreeMap<String, String>, (usize, String)> {
    let mut vars = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, value) =
            line.split_once('=').ok_or_else(|| (i + 1, format!("expected KEY=VALUE, found \"{line}\"")))?;
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err((i + 1, format!("\"{key}\" is not a valid variable name")));
        }
        let value = value.trim();
        let value = match (value.chars().next(), value.chars().last()) {
            (Some(q @ ('"' | '\'')), Some(e)) if q == e && value.len() >= 2 => &value[1..value.len() - 1],
            // An unquoted value may carry a trailing ` # comment`.
            _ => value.split(" #").next().unwrap_or(value).trim_end(),
        };
        vars.insert(key.to_string(), value.to_string());
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::tree::parse;

    fn scope() -> Scope {
        let mut s = Scope::default();
        s.suite_vars.insert("models".into(), parse("[a, b]").unwrap());
        s.suite_vars.insert("who".into(), parse("suite").unwrap());
        s.env.insert("who".into(), "env".into());
        s.env.insert("HOST".into(), "h:1".into());
        s.env_files.insert("FILEONLY".into(), "f".into());
        s
    }

    #[test]
    fn whole_scalar_takes_list() {
        let mut errs = vec![];
        let n = interpolate(&parse("x: ${models}").unwrap(), &scope(), &mut errs);
        assert!(errs.is_empty());
        assert!(matches!(&n.get("x").unwrap().value, Value::Seq(v) if v.len() == 2));
    }

    #[test]
    fn precedence_and_defaults() {
        let mut errs = vec![];
        let n = interpolate(
            &parse("a: ${who}\nb: http://${HOST}/x\nc: ${NOPE:-d}\nd: ${FILEONLY:-x}\ne: $${HOST}\nf: m=${models}\ng: ${HOST:+yes}\nh: ${NOPE:+yes}")
                .unwrap(),
            &scope(),
            &mut errs,
        );
        assert!(errs.is_empty(), "{errs:?}");
        let get = |k: &str| n.get(k).unwrap().as_str().unwrap().to_string();
        assert_eq!(get("a"), "suite");
        assert_eq!(get("b"), "http://h:1/x");
        assert_eq!(get("c"), "d");
        assert_eq!(get("d"), "f");
        assert_eq!(get("e"), "${HOST}");
        assert_eq!(get("f"), "m=a, b");
        assert_eq!(get("g"), "yes");
        assert_eq!(get("h"), "");
    }

    #[test]
    fn undefined_is_an_error_with_position() {
        let mut errs = vec![];
        interpolate(&parse("a: 1\nb: x${MISSING}").unwrap(), &scope(), &mut errs);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].message.contains("undefined variable `MISSING`"));
        assert_eq!(errs[0].span.unwrap().line, 2);
    }

    #[test]
    fn env_file_syntax() {
        let v = parse_env_text("# c\n\nexport A=1\nB = \"two words\"\nC=x # note\n").unwrap();
        assert_eq!(v["A"], "1");
        assert_eq!(v["B"], "two words");
        assert_eq!(v["C"], "x");
        assert_eq!(parse_env_text("A=1\nnonsense\n").unwrap_err().0, 2);
    }
}
