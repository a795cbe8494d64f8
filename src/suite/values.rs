//! Small value types that suites write as short strings: comparisons (`"> 0"`, `"< 500ms"`,
//! `">= 32GiB"`, `"< 20%"`) and code sets (`200`, `[200, 204]`, `"2xx"`).
//!
//! They parse while the suite loads, so a typo is a load error with a position, not a
//! surprise half-way through a run.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// The unit a comparison was written in; values are normalised (seconds, bytes, percent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Unit {
    None,
    Seconds,
    Bytes,
    Percent,
}

/// A numeric comparison such as `>= 1.5`, `< 2s` or `<= 32GiB`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Comparison {
    pub(crate) op: Op,
    /// The bound, normalised: seconds for durations, bytes for sizes, percent for `%`.
    pub(crate) value: f64,
    pub(crate) unit: Unit,
    /// The text as written, for messages.
    pub(crate) text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum Op {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
}

impl Op {
    /// The operator as written.
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }
}

/// The units a comparison may carry, with their scale to the normalised unit.
pub(crate) const UNITS: &[(&str, f64, Unit)] = &[
    ("ns", 1e-9, Unit::Seconds),
    ("us", 1e-6, Unit::Seconds),
    ("µs", 1e-6, Unit::Seconds),
    ("ms", 1e-3, Unit::Seconds),
    ("s", 1.0, Unit::Seconds),
    ("m", 60.0, Unit::Seconds),
    ("min", 60.0, Unit::Seconds),
    ("h", 3600.0, Unit::Seconds),
    ("B", 1.0, Unit::Bytes),
    ("KiB", 1024.0, Unit::Bytes),
    ("MiB", 1048576.0, Unit::Bytes),
    ("GiB", 1073741824.0, Unit::Bytes),
    ("TiB", 1099511627776.0, Unit::Bytes),
    ("KB", 1e3, Unit::Bytes),
    ("MB", 1e6, Unit::Bytes),
    ("GB", 1e9, Unit::Bytes),
    ("TB", 1e12, Unit::Bytes),
    ("%", 1.0, Unit::Percent),
];

/// Whether a text is meant as a comparison: it starts with an operator-like character
/// (`<`, `>`, `=`, `!`, `~`, `≤`, `≥`, `≈`), or with a word such as "less" or "at most" and
/// has a number in it. Such a text must then parse as one — a misspelt operator is an error
/// with the accepted forms, never a text to equal that could never match.
pub(crate) fn looks_like_comparison(text: &str) -> bool {
    let t = text.trim_start().to_ascii_lowercase();
    if t.starts_with(['<', '>', '=', '!', '~', '≤', '≥', '≈']) {
        return true;
    }
    const WORDS: &[&str] = &[
        "less", "more", "greater", "fewer", "under", "over", "below", "above", "at least", "at most", "lt ",
        "gt ", "le ", "ge ", "eq ", "ne ", "lte", "gte", "max ", "min ",
    ];
    WORDS.iter().any(|w| t.starts_with(w)) && t.chars().any(|c| c.is_ascii_digit())
}

impl Comparison {
    /// Parses `OP NUMBER[UNIT]`; a bare number means `==`.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let (op, rest) = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<", Op::Lt),
            (">", Op::Gt),
            ("=", Op::Eq),
        ]
        .iter()
        .find_map(|(p, op)| t.strip_prefix(p).map(|r| (*op, r.trim())))
        .unwrap_or((Op::Eq, t));
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e'))
            .unwrap_or(rest.len());
        let (num, unit) = (rest[..split].trim(), rest[split..].trim());
        let number: f64 = num.parse().map_err(|_| {
            format!(
                "\"{text}\" is not a comparison: expected an operator (<, <=, >, >=, ==, !=) and a \
                 number with an optional unit, like \"> 0\", \"< 500ms\", \">= 32GiB\" or \"< 20%\""
            )
        })?;
        let (scale, unit) = if unit.is_empty() {
            (1.0, Unit::None)
        } else {
            UNITS.iter().find(|(u, _, _)| *u == unit).map(|(_, s, k)| (*s, *k)).ok_or_else(|| {
                format!(
                    "unknown unit \"{unit}\" in \"{text}\": expected one of ns, us, ms, s, m, h, \
                     B, KiB, MiB, GiB, KB, MB, GB or %"
                )
            })?
        };
        Ok(Comparison { op, value: number * scale, unit, text: t.to_string() })
    }

    /// Whether `actual` (in the same normalised unit) satisfies the comparison.
    pub(crate) fn holds(&self, actual: f64) -> bool {
        const EPS: f64 = 1e-9;
        match self.op {
            Op::Lt => actual < self.value,
            Op::Le => actual <= self.value + EPS * self.value.abs().max(1.0),
            Op::Gt => actual > self.value,
            Op::Ge => actual >= self.value - EPS * self.value.abs().max(1.0),
            Op::Eq => (actual - self.value).abs() <= EPS * self.value.abs().max(1.0),
            Op::Ne => (actual - self.value).abs() > EPS * self.value.abs().max(1.0),
        }
    }

    /// Formats an actual value in this comparison's unit, for messages.
    pub(crate) fn format_actual(&self, actual: f64) -> String {
        match self.unit {
            Unit::Seconds => format_seconds(actual),
            Unit::Bytes => format_bytes(actual),
            Unit::Percent => format!("{}%", trim_float(actual)),
            Unit::None => trim_float(actual),
        }
    }
}

/// Seconds as a short human duration: `850µs`, `12.3ms`, `2.05s`; zero is `0` (a chart's axis
/// starts at 0, not at "0µs").
pub(crate) fn format_seconds(s: f64) -> String {
    if s == 0.0 {
        "0".to_string()
    } else if s.abs() < 1e-3 {
        format!("{}µs", trim_float(s * 1e6))
    } else if s.abs() < 1.0 {
        format!("{}ms", trim_float(s * 1e3))
    } else {
        format!("{}s", trim_float(s))
    }
}

pub(crate) fn format_bytes(b: f64) -> String {
    const GIB: f64 = 1073741824.0;
    const MIB: f64 = 1048576.0;
    if b >= GIB {
        format!("{}GiB", trim_float(b / GIB))
    } else if b >= MIB {
        format!("{}MiB", trim_float(b / MIB))
    } else if b >= 1024.0 {
        format!("{}KiB", trim_float(b / 1024.0))
    } else {
        format!("{}B", trim_float(b))
    }
}

/// A percentage to a tenth, as reports show pass rates and their intervals: `92.3%`, `100%`.
pub(crate) fn format_share(percent: f64) -> String {
    format!("{}%", trim_float((percent * 10.0).round() / 10.0))
}

/// A number with at most three decimals and no trailing zeros.
pub(crate) fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_string() } else { s.to_string() }
}

impl<'de> Deserialize<'de> for Comparison {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Comparison::parse(&text).map_err(de::Error::custom)
    }
}

impl JsonSchema for Comparison {
    fn schema_name() -> Cow<'static, str> {
        "Comparison".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A numeric comparison: an operator (<, <=, >, >=, ==, !=) and a number with an optional unit (ms, s, m, h, B, KiB, MiB, GiB, %). Examples: \"> 0\", \"< 500ms\", \">= 32GiB\", \"< 20%\". A bare number means ==.",
            "type": ["string", "number"]
        })
    }
}

/// A set of acceptable codes: `200`, `[200, 204]`, `"2xx"`, `"2xx|404"`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct CodeMatch {
    /// Patterns such as `200` or `2xx`, any of which may match.
    pub(crate) any_of: Vec<String>,
}

impl CodeMatch {
    pub(crate) fn exactly(code: i64) -> Self {
        CodeMatch { any_of: vec![code.to_string()] }
    }

    pub(crate) fn matches(&self, code: i64) -> bool {
        let code = code.to_string();
        self.any_of.iter().any(|p| {
            p.len() == code.len()
                && p.chars().zip(code.chars()).all(|(pc, cc)| pc == cc || pc.eq_ignore_ascii_case(&'x'))
        })
    }

    fn push_pattern<E: de::Error>(&mut self, p: &str) -> Result<(), E> {
        for part in p.split('|').map(str::trim) {
            let ok =
                !part.is_empty() && part.chars().all(|c| c.is_ascii_digit() || c.eq_ignore_ascii_case(&'x'));
            if !ok {
                return Err(E::custom(format!(
                    "\"{part}\" is not a code pattern: expected a number like 200 or a pattern like \"2xx\""
                )));
            }
            self.any_of.push(part.to_ascii_lowercase());
        }
        Ok(())
    }
}

impl fmt::Display for CodeMatch {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.any_of.join(" or "))
    }
}

impl<'de> Deserialize<'de> for CodeMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CodeMatch;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a code (200), a list of codes ([200, 204]) or a pattern (\"2xx\")")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<CodeMatch, E> {
                Ok(CodeMatch::exactly(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CodeMatch, E> {
                Ok(CodeMatch { any_of: vec![v.to_string()] })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CodeMatch, E> {
                let mut m = CodeMatch { any_of: vec![] };
                m.push_pattern(v)?;
                Ok(m)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<CodeMatch, A::Error> {
                let mut m = CodeMatch { any_of: vec![] };
                while let Some(item) = seq.next_element::<CodeMatch>()? {
                    m.any_of.extend(item.any_of);
                }
                Ok(m)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for CodeMatch {
    fn schema_name() -> Cow<'static, str> {
        "CodeMatch".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A code (200), a list of codes ([200, 204]) or a pattern (\"2xx\", \"2xx|404\").",
            "anyOf": [
                { "type": "integer" },
                { "type": "string", "pattern": "^[0-9xX]+(\\s*\\|\\s*[0-9xX]+)*$" },
                { "type": "array", "items": { "type": ["integer", "string"] } }
            ]
        })
    }
}

/// `skip: true` or `skip: "reason"`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) enum Skip {
    No,
    Yes(Option<String>),
}

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Skip;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true, false, or a reason (text)")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Skip, E> {
                Ok(if v { Skip::Yes(None) } else { Skip::No })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Skip, E> {
                Ok(match v.trim() {
                    // Empty: what `${VAR:+reason}` gives when VAR is unset.
                    "" | "false" => Skip::No,
                    "true" => Skip::Yes(None),
                    reason => Skip::Yes(Some(reason.to_string())),
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Skip {
    fn schema_name() -> Cow<'static, str> {
        "Skip".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Skip this test: true, or the reason as text (shown in reports).",
            "type": ["boolean", "string"]
        })
    }
}

/// A regular expression, compiled when the suite loads.
#[derive(Debug, Clone)]
pub(crate) struct Pattern(pub regex::Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        compiled(&text).map(Pattern).map_err(|e| {
            de::Error::custom(format!("invalid regular expression `{text}`: {}", first_line(&e.to_string())))
        })
    }
}

/// A regex compiled once per distinct text: a `for_each` expands one `matches:` into
/// thousands of tests, and compiling is most of what planning them costs (a `Regex` clone
/// shares the compiled program). The cache holds at most 4,096 patterns.
fn compiled(text: &str) -> Result<regex::Regex, regex::Error> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, regex::Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(r) = cache.lock().expect("regex cache lock").get(text) {
        return Ok(r.clone());
    }
    let r = regex::Regex::new(text)?;
    let mut map = cache.lock().expect("regex cache lock");
    if map.len() < 4096 {
        map.insert(text.to_string(), r.clone());
    }
    Ok(r)
}

/// The regex crate's last line ("error: unclosed group"), without its "error: ".
fn first_line(s: &str) -> String {
    let last = s.lines().rfind(|l| !l.trim().is_empty()).unwrap_or(s).trim();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

impl JsonSchema for Pattern {
    fn schema_name() -> Cow<'static, str> {
        "Pattern".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A regular expression (Rust regex syntax), e.g. '^\\d+\\.\\d+\\.\\d+$'.",
            "type": "string",
            "format": "regex"
        })
    }
}

/// Schema for `Duration` fields written as humantime text (`10s`, `500ms`, `1m 30s`).
pub(crate) struct DurationText;

impl JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration such as \"10s\", \"500ms\" or \"1m 30s\".",
            "type": "string"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        let shown: Vec<String> = [0.0, 0.00085, 0.0123, 2.05].iter().map(|s| format_seconds(*s)).collect();
        assert_eq!(shown, ["0", "850µs", "12.3ms", "2.05s"]);
    }

    #[test]
    fn comparisons_parse_units() {
        let c = Comparison::parse("< 500ms").unwrap();
        assert_eq!((c.op, c.unit), (Op::Lt, Unit::Seconds));
        assert!((c.value - 0.5).abs() < 1e-12);
        assert_eq!(Comparison::parse(">= 32GiB").unwrap().value, 32.0 * 1073741824.0);
        assert_eq!(Comparison::parse("3").unwrap().op, Op::Eq);
        assert!(Comparison::parse("> lots").is_err());
        for meant in ["~= 5s", "=> 3", "≤ 2s", "less than 2s", "at most 10", "gte 5"] {
            assert!(looks_like_comparison(meant), "{meant}");
            assert!(Comparison::parse(meant).is_err(), "{meant}");
        }
        for text in ["stop", "length", "less is more", "HX-OK"] {
            assert!(!looks_like_comparison(text), "{text}");
        }
        assert!(Comparison::parse("> 3 parsecs").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn comparison_boundaries() {
        let ge = Comparison::parse(">= 50").unwrap();
        assert!(ge.holds(50.0) && !ge.holds(49.999));
        let lt = Comparison::parse("< 20%").unwrap();
        assert!(lt.holds(19.99) && !lt.holds(20.0));
        assert!(Comparison::parse("== 0.3").unwrap().holds(0.1 + 0.2));
        assert!(Comparison::parse("!= 1").unwrap().holds(2.0));
    }

    #[test]
    fn code_patterns() {
        let m = CodeMatch { any_of: vec!["2xx".into(), "404".into()] };
        assert!(m.matches(204) && m.matches(404) && !m.matches(500) && !m.matches(20));
    }
}
