//! The suite as a YAML tree whose every node knows where it came from.
//!
//! serde-saphyr parses the text (anchors, aliases and merge keys included) and hands us
//! `Spanned` values; we keep them as a small tree so that the later stages — variable
//! interpolation, `for_each` expansion, typed deserialization — can all point a user at
//! file:line:col without re-reading the YAML.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// A position in a suite file: 1-based line and column, plus the byte range for snippets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub(crate) line: u32,
    pub(crate) col: u32,
    pub(crate) offset: usize,
    pub(crate) len: usize,
}

impl Span {
    pub(crate) fn from_location(loc: serde_saphyr::Location) -> Self {
        let span = loc.span();
        Span {
            line: loc.line() as u32,
            col: loc.column() as u32,
            offset: span.byte_offset().unwrap_or(0) as usize,
            len: span.byte_len().unwrap_or(0) as usize,
        }
    }

    /// True for spans that came from the file (not synthesised, e.g. from `--var`).
    pub(crate) fn is_known(&self) -> bool {
        self.line > 0
    }
}

/// One YAML node and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) span: Span,
}

impl Node {
    /// A text standing for a list — a YAML flow list `[a, b]` or comma-separated `a,b`, as an
    /// environment variable or env file gives one (`MODELS=phi3:latest,cogito:32b`) — as its
    /// items, each typed as YAML would type it (numbers, booleans, text). None for a text
    /// with neither brackets nor a comma, and for anything but text.
    pub(crate) fn list_in_text(&self) -> Option<Vec<Node>> {
        let Value::Str(s) = &self.value else { return None };
        let t = s.trim();
        let inner = match t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            Some(inner) => inner,
            None if t.contains(',') => t,
            None => return None,
        };
        let item = |raw: &str| {
            let raw = raw.trim();
            let unquoted = raw
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .or_else(|| raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')));
            let value = match unquoted {
                Some(text) => Value::Str(text.to_string()),
                None => match raw {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => raw
                        .parse::<i64>()
                        .map(Value::Int)
                        .or_else(|_| raw.parse::<f64>().map(Value::Float))
                        .unwrap_or_else(|_| Value::Str(raw.to_string())),
                },
            };
            Node { value, span: self.span }
        };
        Some(inner.split(',').filter(|p| !p.trim().is_empty()).map(item).collect())
    }
}

/// The value of a node. Map keys are strings: YAML allows others, suites never need them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its own position (unknown-field errors point at the key).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    pub(crate) name: String,
    pub(crate) span: Span,
}

impl Node {
    pub(crate) fn new(value: Value, span: Span) -> Self {
        Node { value, span }
    }

    /// The value under `key` when this node is a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key and value under `key` when this node is a mapping.
    pub(crate) fn entry(&self, key: &str) -> Option<(&Key, &Node)> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A short name for the node's kind, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// Text for a scalar as it would be interpolated into a string.
    pub(crate) fn scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Null => Some(String::new()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Str(s) => Some(s.clone()),
            Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// The same value with every node re-pointed at `span` (used when a variable's value is
    /// copied to the place that references it, so errors point at the use).
    pub(crate) fn respanned(&self, span: Span) -> Node {
        let value = match &self.value {
            Value::Seq(items) => Value::Seq(items.iter().map(|n| n.respanned(span)).collect()),
            Value::Map(entries) => Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| (Key { name: k.name.clone(), span }, v.respanned(span)))
                    .collect(),
            ),
            other => other.clone(),
        };
        Node { value, span }
    }

    /// Converts to JSON (for `json:` request bodies and the JSON report).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => {
                J::Object(entries.iter().map(|(k, v)| (k.name.clone(), v.to_json())).collect())
            }
        }
    }
}

/// Parses YAML text into a tree. The error is serde-saphyr's, with its location.
/// Largest suite file hxrun reads, and most YAML nodes in it: far above any real suite (a
/// 10 MB suite of 20,000 tests has about 600,000 nodes), low enough that a runaway file is
/// refused before it takes the machine's memory.
pub(crate) const MAX_SUITE_BYTES: usize = 64 * 1024 * 1024;
const MAX_NODES: usize = 1_000_000;
/// The longest one value may be: a prompt of 8 MiB is about 2 million tokens, past any model's
/// context; a longer one is a mistake, and would be copied as the suite is planned.
pub(crate) const MAX_VALUE_BYTES: usize = 8 * 1024 * 1024;

fn too_long<E: de::Error>(len: usize) -> E {
    E::custom(format!(
        "a value of {} MiB: hxrun takes values up to {} MiB (about 2 million tokens of prompt)",
        len >> 20,
        MAX_VALUE_BYTES >> 20
    ))
}

/// Why a text is not a tree.
#[derive(Debug)]
pub(crate) enum ParseError {
    Yaml(serde_saphyr::Error),
    /// Past `MAX_SUITE_BYTES` or the node budget, said in words.
    TooLarge(String),
}

/// The YAML library's message without what hxrun says itself: its first line, without
/// "error: " and "line 4 column 62: " (the place is shown as file:line:col).
pub(crate) fn plain_message(text: &str) -> &str {
    let first = text.lines().next().unwrap_or(text).trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    first.strip_prefix("line ").and_then(|r| r.split_once(": ")).map_or(first, |(_, m)| m)
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            ParseError::Yaml(e) => f.write_str(plain_message(&e.to_string())),
            ParseError::TooLarge(why) => f.write_str(why),
        }
    }
}

pub(crate) fn parse(text: &str) -> Result<Node, ParseError> {
    if text.trim().is_empty() {
        return Ok(Node::new(Value::Null, Span::default()));
    }
    if text.len() > MAX_SUITE_BYTES {
        return Err(ParseError::TooLarge(format!(
            "the suite is {} MiB, more than the {} MiB hxrun reads: split it into several suites",
            text.len() / (1024 * 1024),
            MAX_SUITE_BYTES / (1024 * 1024)
        )));
    }
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = MAX_NODES;
    budget.max_events = MAX_NODES * 4;
    // Anchors hold shared blocks (defaults, a request); an alias bomb is refused early.
    budget.max_aliases = 10_000;
    budget.max_recorded_anchor_events = 100_000;
    budget.max_recorded_anchor_bytes = 8 * 1024 * 1024;
    budget.max_total_scalar_bytes = MAX_SUITE_BYTES * 2;
    // YAML 1.2 booleans only: `no`, `off` and `n` stay text (`trimmed_equals: no` means "no").
    let options = serde_saphyr::options! { strict_booleans: true, budget: Some(budget) };
    serde_saphyr::from_str_with_options::<Node>(text, options).map_err(|e| {
        let text = e.to_string();
        if text.lines().next().is_some_and(|l| l.contains("budget breached")) {
            ParseError::TooLarge(format!(
                "the suite is too large to load (more than {MAX_NODES} YAML values, anchors past 8 MiB, or nested too deep): split \
                 it into several suites"
            ))
        } else {
            ParseError::Yaml(e)
        }
    })
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<RawValue>::deserialize(d)?;
        Ok(Node { value: spanned.value.0, span: Span::from_location(spanned.defined) })
    }
}

struct RawValue(Value);

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor).map(RawValue)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(RawVisitor)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        if v.len() > MAX_VALUE_BYTES {
            return Err(too_long(v.len()));
        }
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        if v.len() > MAX_VALUE_BYTES {
            return Err(too_long(v.len()));
        }
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(node) = seq.next_element::<Node>()? {
            items.push(node);
        }
        // Held for the whole run: no room for growth (a list of one is one, not four).
        items.shrink_to_fit();
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(Key, Node)> = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
            let value = map.next_value::<Node>()?;
            let key = Key { name: key.value.0, span: Span::from_location(key.referenced) };
            // A later duplicate (or a key overriding a merged one) replaces the earlier value.
            if let Some(slot) = entries.iter_mut().find(|(k, _)| k.name == key.name) {
                *slot = (key, value);
            } else {
                entries.push((key, value));
            }
        }
        entries.shrink_to_fit();
        Ok(Value::Map(entries))
    }
}

struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Keys as written: `1.0:` stays "1.0", `on:` stays "on".
        String::deserialize(d).map(KeyText)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_and_merges() {
        let text = "base: &b\n  timeout: 5s\nt:\n  <<: *b\n  name: x\n  list: [1, two, 3.5, true, ~, no]\n  n: 1\n  1.10: v\n";
        let root = parse(text).unwrap();
        let t = root.get("t").unwrap();
        assert_eq!(t.get("timeout").unwrap().as_str(), Some("5s"));
        let name = t.entry("name").unwrap();
        assert_eq!((name.0.span.line, name.0.span.col), (5, 3));
        assert_eq!((name.1.span.line, name.1.span.col), (5, 9));
        let list = t.get("list").unwrap();
        match &list.value {
            Value::Seq(items) => {
                assert_eq!(items[0].value, Value::Int(1));
                assert_eq!(items[1].value, Value::Str("two".into()));
                assert_eq!(items[2].value, Value::Float(3.5));
                assert_eq!(items[3].value, Value::Bool(true));
                assert_eq!(items[4].value, Value::Null);
                assert_eq!(items[5].value, Value::Str("no".into()));
                assert_eq!(items[1].span.col, 13);
            }
            other => panic!("expected a list, got {other:?}"),
        }
        assert!(t.get("n").is_some(), "`n` is a key, not `false`");
        assert!(t.get("1.10").is_some(), "keys keep their text");
    }
}
