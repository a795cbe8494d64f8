//! Typed deserialization from the positioned tree.
//!
//! Deserializing from our own tree (rather than from the YAML text) lets interpolation and
//! `for_each` expansion happen first, and still gives every error the position of the node
//! that caused it. It is deliberately lenient with scalars: after `{{stream}}` expands to the
//! string `"true"`, a boolean field still accepts it, and a number where a string is expected
//! is taken as its text.

use super::tree::{Key, Node, Span, Value};
use crate::suite::spanned;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use std::fmt;

/// A deserialization error with the position of the offending node.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct DeError {
    pub(crate) message: String,
    pub(crate) span: Option<Span>,
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError { message: msg.to_string(), span: None }
    }

    fn invalid_value(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        // A duration written as a bare number (`timeout: 30`): say the unit it needs.
        let expected = exp.to_string();
        if expected == "a duration" {
            let written = match unexp {
                de::Unexpected::Str(s) => Some(s.trim().to_string()),
                de::Unexpected::Unsigned(n) => Some(n.to_string()),
                de::Unexpected::Signed(n) => Some(n.to_string()),
                de::Unexpected::Float(n) => Some(n.to_string()),
                _ => None,
            };
            if let Some(w) = written.filter(|w| !w.is_empty() && w.parse::<f64>().is_ok()) {
                return Self::custom(format!(
                    "`{w}` is a duration without a unit: write {w}s (or {w}ms, {w}m)"
                ));
            }
        }
        Self::custom(format_args!("invalid value: {unexp}, expected {expected}"))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Self::custom(unknown_message("field", field, expected))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Self::custom(unknown_message("key", variant, expected))
    }

    fn missing_field(field: &'static str) -> Self {
        Self::custom(format!("missing required field `{field}`"))
    }
}

fn unknown_message(what: &str, found: &str, expected: &[&str]) -> String {
    let mut msg = format!("unknown {what} `{found}`");
    if let Some(best) = did_you_mean(found, expected) {
        msg.push_str(&format!(", did you mean `{best}`?"));
    }
    if expected.is_empty() {
        msg.push_str(" (no fields are allowed here)");
    } else {
        let list: Vec<String> = expected.iter().map(|e| format!("`{e}`")).collect();
        msg.push_str(&format!(" — expected one of: {}", list.join(", ")));
    }
    msg
}

/// The closest candidate by edit distance, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(found: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(found, c), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn at(span: Span) -> impl Fn(DeError) -> DeError {
    move |mut e| {
        if e.span.is_none() {
            e.span = Some(span);
        }
        e
    }
}

/// Deserializes a typed value from a node.
pub(crate) fn from_node<T: DeserializeOwned>(node: &Node) -> Result<T, DeError> {
    T::deserialize(NodeDe(node)).map_err(at(node.span))
}

struct NodeDe<'a>(&'a Node);

impl NodeDe<'_> {
    fn invalid(&self, expected: &dyn de::Expected) -> DeError {
        let node = self.0;
        let found = match &node.value {
            Value::Str(s) => format!("the string \"{}\"", short(s)),
            Value::Int(i) => format!("the number {i}"),
            Value::Float(f) => format!("the number {f}"),
            Value::Bool(b) => format!("the boolean {b}"),
            _ => node.kind().to_string(),
        };
        let expected = match expected.to_string().as_str() {
            "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)".to_string(),
            "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".to_string(),
            "f32" | "f64" => "a number".to_string(),
            other => other.to_string(),
        };
        DeError { message: format!("expected {expected}, found {found}"), span: Some(node.span) }
    }
}

fn short(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

struct Expecting<'a, V>(&'a V);
impl<'de, V: Visitor<'de>> de::Expected for Expecting<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)
    }
}

macro_rules! forward_number {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
            let span = self.0.span;
            match &self.0.value {
                Value::Int(i) => v.visit_i64(*i),
                Value::Float(f) => v.visit_f64(*f),
                Value::Str(s) => match (s.trim().parse::<i64>(), s.trim().parse::<f64>()) {
                    (Ok(i), _) => v.visit_i64(i),
                    (_, Ok(f)) => v.visit_f64(f),
                    _ => Err(self.invalid(&Expecting(&v))),
                },
                _ => Err(self.invalid(&Expecting(&v))),
            }
            .map_err(at(span))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let span = self.0.span;
        match &self.0.value {
            Value::Null => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(*b),
            Value::Int(i) => v.visit_i64(*i),
            Value::Float(f) => v.visit_f64(*f),
            Value::Str(s) => v.visit_str(s),
            Value::Seq(items) => v.visit_seq(SeqDe { items: items.iter() }),
            Value::Map(entries) => v.visit_map(MapDe { entries: entries.iter(), value: None }),
        }
        .map_err(at(span))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.0.value {
            Value::Bool(b) => v.visit_bool(*b),
            Value::Str(s) if s == "true" => v.visit_bool(true),
            Value::Str(s) if s == "false" => v.visit_bool(false),
            _ => Err(self.invalid(&"true or false")),
        }
        .map_err(at(self.0.span))
    }

    forward_number! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_u8
        deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32 deserialize_f64
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let span = self.0.span;
        match &self.0.value {
            Value::Str(s) => v.visit_str(s),
            Value::Seq(_) | Value::Map(_) | Value::Null => Err(self.invalid(&Expecting(&v))),
            _ => v.visit_string(self.0.scalar_text().unwrap_or_default()),
        }
        .map_err(at(span))
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.0.value {
            Value::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.0.value {
            Value::Null => v.visit_unit(),
            _ => Err(self.invalid(&"nothing (null)")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.0.value {
            Value::Seq(items) => v.visit_seq(SeqDe { items: items.iter() }).map_err(at(self.0.span)),
            // A text stands for a list (`a,b`, `[a, b]`, or one item), as an environment
            // variable gives one: `MODELS=phi3:latest,cogito:32b`.
            Value::Str(_) => {
                let items = self.0.list_in_text().unwrap_or_else(|| vec![self.0.clone()]);
                v.visit_seq(SeqDe { items: items.iter() }).map_err(at(self.0.span))
            }
            _ => Err(self.invalid(&"a list")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.0.value {
            Value::Map(entries) => {
                v.visit_map(MapDe { entries: entries.iter(), value: None }).map_err(at(self.0.span))
            }
            Value::Null => v.visit_map(MapDe { entries: [].iter(), value: None }),
            _ => Err(self.invalid(&"a mapping (key: value lines)")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        if name == spanned::NAME {
            return v.visit_map(SpannedDe { span: self.0.span, of: Of::Node(self.0), step: 0 });
        }
        self.deserialize_map(v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let span = self.0.span;
        match &self.0.value {
            Value::Str(s) => v.visit_enum(s.as_str().into_deserializer()).map_err(at(span)),
            Value::Map(entries) if entries.len() == 1 => {
                let (key, value) = &entries[0];
                v.visit_enum(EnumDe { key, value }).map_err(at(span))
            }
            _ => {
                let list: Vec<String> = variants.iter().map(|e| format!("`{e}`")).collect();
                Err(DeError {
                    message: format!("expected exactly one of {}, found {}", list.join(", "), self.0.kind()),
                    span: Some(span),
                })
            }
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i128 u128 bytes byte_buf unit_struct tuple tuple_struct
    }
}

struct SeqDe<'a> {
    items: std::slice::Iter<'a, Node>,
}

impl<'de> de::SeqAccess<'de> for SeqDe<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(node) => seed.deserialize(NodeDe(node)).map(Some).map_err(at(node.span)),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapDe<'a> {
    entries: std::slice::Iter<'a, (Key, Node)>,
    value: Option<(&'a Node, Span)>,
}

impl<'de> de::MapAccess<'de> for MapDe<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some((value, key.span));
                seed.deserialize(KeyDe(key)).map(Some).map_err(|e: DeError| at(key.span)(e))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let (node, key) = self.value.take().expect("next_value_seed called before next_key_seed");
        seed.deserialize(ValueDe { node, key }).map_err(at(node.span))
    }
}

/// A map's value: the node, except that a `Spanned` value is placed at its key (`status:`,
/// not the value after it), where a person looks for the check.
struct ValueDe<'a> {
    node: &'a Node,
    key: Span,
}

macro_rules! forward_to_node {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
            NodeDe(self.node).$method(v)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for ValueDe<'_> {
    type Error = DeError;

    forward_to_node! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.node.value {
            Value::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> Result<V::Value, DeError> {
        NodeDe(self.node).deserialize_unit_struct(name, v)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, DeError> {
        NodeDe(self.node).deserialize_tuple(len, v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        v: V,
    ) -> Result<V::Value, DeError> {
        NodeDe(self.node).deserialize_tuple_struct(name, len, v)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        if name == spanned::NAME {
            return v.visit_map(SpannedDe { span: self.key, of: Of::Node(self.node), step: 0 });
        }
        NodeDe(self.node).deserialize_struct(name, fields, v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        NodeDe(self.node).deserialize_enum(name, variants, v)
    }
}

/// A map's key: its name, or its name with the key's place (`suite::spanned::Spanned`).
struct KeyDe<'a>(&'a Key);

impl<'de> de::Deserializer<'de> for KeyDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_str(&self.0.name)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let names: de::value::StrDeserializer<'_, DeError> = self.0.name.as_str().into_deserializer();
        names.deserialize_enum(name, variants, v)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        if name == spanned::NAME {
            return v.visit_map(SpannedDe { span: self.0.span, of: Of::Key(self.0), step: 0 });
        }
        v.visit_str(&self.0.name)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit unit_struct newtype_struct seq tuple tuple_struct map identifier ignored_any
    }
}

/// What a `Spanned` is made from.
enum Of<'a> {
    Node(&'a Node),
    Key(&'a Key),
}

/// A `Spanned` value: its line, its column, then the value itself.
struct SpannedDe<'a> {
    span: Span,
    of: Of<'a>,
    step: u8,
}

impl<'de> de::MapAccess<'de> for SpannedDe<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        let key = match self.step {
            0 => spanned::LINE,
            1 => spanned::COL,
            2 => spanned::VALUE,
            _ => return Ok(None),
        };
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        self.step += 1;
        match (self.step, &self.of) {
            (1, _) => seed.deserialize(self.span.line.into_deserializer()),
            (2, _) => seed.deserialize(self.span.col.into_deserializer()),
            (_, Of::Node(node)) => seed.deserialize(NodeDe(node)),
            (_, Of::Key(key)) => seed.deserialize(KeyDe(key)),
        }
    }
}

struct EnumDe<'a> {
    key: &'a Key,
    value: &'a Node,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumDe<'a> {
    type Error = DeError;
    type Variant = NodeDe<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, NodeDe<'a>), DeError> {
        let span = self.key.span;
        let variant =
            seed.deserialize(self.key.name.as_str().into_deserializer()).map_err(|e: DeError| at(span)(e))?;
        Ok((variant, NodeDe(self.value)))
    }
}

impl<'de> de::VariantAccess<'de> for NodeDe<'_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_seq(self, v)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_map(self, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::tree::parse;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        name: String,
        timeout: Option<u32>,
        flag: Option<bool>,
    }

    #[test]
    fn unknown_field_points_at_key_and_suggests() {
        let node = parse("name: x\ntimeuot: 3\n").unwrap();
        let err = from_node::<T>(&node).unwrap_err();
        assert!(err.message.contains("did you mean `timeout`"), "{}", err.message);
        let span = err.span.unwrap();
        assert_eq!((span.line, span.col), (2, 1));
    }

    #[test]
    fn wrong_type_points_at_value() {
        let node = parse("name: x\ntimeout: [1]\n").unwrap();
        let err = from_node::<T>(&node).unwrap_err();
        let span = err.span.unwrap();
        assert_eq!((span.line, span.col), (2, 10));
        assert!(err.message.contains("found a list"), "{}", err.message);
    }

    #[test]
    fn lenient_scalars() {
        let node = parse("name: 12\ntimeout: '7'\nflag: 'true'\n").unwrap();
        let t = from_node::<T>(&node).unwrap();
        assert_eq!((t.name.as_str(), t.timeout, t.flag), ("12", Some(7), Some(true)));
    }

    #[test]
    fn missing_field_points_at_mapping() {
        let node = parse("timeout: 1\n").unwrap();
        let err = from_node::<T>(&node).unwrap_err();
        assert!(err.message.contains("missing required field `name`"));
        assert_eq!(err.span.unwrap().line, 1);
    }

    #[test]
    fn a_spanned_value_or_key_knows_where_it_is_written() {
        use crate::suite::spanned::Spanned;
        use std::collections::BTreeMap;
        #[derive(Debug, Deserialize)]
        struct S {
            name: Spanned<String>,
            limits: BTreeMap<Spanned<String>, Spanned<u32>>,
            maybe: Option<Spanned<bool>>,
        }
        let node = parse("name: x\nlimits:\n  a: 1\n  bb:   22\nmaybe: true\n").unwrap();
        let s = from_node::<S>(&node).unwrap();
        // A map's value is placed at its key (where a person looks for the check).
        assert_eq!((s.name.as_str(), s.name.at.line, s.name.at.col), ("x", 1, 1));
        let (k, v) = s.limits.iter().nth(1).unwrap();
        assert_eq!((k.as_str(), k.at.line, k.at.col, **v, v.at.col), ("bb", 4, 3, 22, 3));
        let items = from_node::<Vec<Spanned<u32>>>(&parse("- 1\n-   2\n").unwrap()).unwrap();
        assert_eq!((items[1].at.line, items[1].at.col), (2, 5), "a list's item where it is");
        assert_eq!(s.limits.get("a").map(|v| **v), Some(1), "looked up by name");
        assert!(s.maybe.is_some_and(|m| *m && m.at.line == 5));
        let err = from_node::<S>(&parse("name: x\nlimits: { a: [1] }\n").unwrap()).unwrap_err();
        assert_eq!(err.span.map(|s| (s.line, s.col)), Some((2, 14)), "{}", err.message);
    }
}
