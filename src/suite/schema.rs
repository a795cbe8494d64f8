//! The suite JSON Schema (draft-07, as yaml-language-server expects): the loader's contract,
//! given to editors. Generated from the Rust types (schemars), then brought in line with what
//! the loader accepts and refuses:
//!
//! - any scalar may be written as a `${var}` or `{{placeholder}}` reference, a number or a
//!   boolean as text (`timeout: '7'`, `stream: "{{stream}}"`), and a text field takes a number
//!   (`prompt: 42`) — interpolation and lenient typing happen before the value is checked;
//! - a test has exactly one step kind;
//! - comparisons must parse (`"< 2s"`, not `"less than 2s"`);
//! - threshold, regression and `expect.metrics` names come from the catalogues the loader
//!   checks against (`suite::metrics`), with their descriptions, so editors
//!   complete them;
//! - no `format` keywords: schemars writes non-standard ones (`uint32`), and a strict
//!   validator without format plugins (plain ajv) refuses even standard ones; the loader checks
//!   what they would (a regex compiles, a count is not negative).

use super::SuiteDoc;
use super::values::Unit;
use serde_json::{Map, Value, json};

pub fn json_schema() -> Value {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<SuiteDoc>();
    let mut value = serde_json::to_value(schema).expect("a schema is always valid JSON");
    drop_formats(&mut value);
    lenient_scalars(&mut value);
    let defs =
        value.get_mut("definitions").and_then(Value::as_object_mut).expect("schemars writes definitions");
    defs.insert(
        "Reference".to_string(),
        json!({
            "description": "A ${var} or {{placeholder}} reference (replaced before the value is checked), or a number or boolean written as text.",
            "type": "string",
            "pattern": r"^(\$\{[^}]+\}|\{\{[^}]+\}\}|-?[0-9]+(\.[0-9]+)?|true|false)$"
        }),
    );
    if let Some(c) = defs.get_mut("Comparison") {
        let description = c.get("description").cloned().unwrap_or(Value::Null);
        *c = json!({
            "description": description,
            "anyOf": [
                { "type": "number" },
                { "type": "string", "pattern": comparison_pattern() },
                // `">= ${min_tokens_per_s}"`: checked once the variable is in.
                { "type": "string", "pattern": r"\$\{|\{\{" },
            ]
        });
    }
    // A bound in its figure's unit, as the loader requires (`ttft.p95: "< 500"` is refused).
    for (name, units, bare, description) in UNIT_BOUNDS {
        defs.insert(name.to_string(), unit_bound(units, *bare, description));
    }
    if let Some(Value::Object(test)) = defs.get_mut("TestSpec") {
        // Each branch names its property too, as strict validators (ajv) want.
        let kinds: Vec<Value> =
            super::step_kinds().map(|k| json!({ "required": [k], "properties": { k: true } })).collect();
        test.insert("oneOf".into(), Value::Array(kinds));
        let properties =
            test.get_mut("properties").and_then(Value::as_object_mut).expect("a test has fields");
        let figures: Vec<(String, String)> =
            super::metrics::Figure::all().iter().map(|f| (f.name(), f.doc())).collect();
        let by_unit = |relative: bool| -> Vec<(String, String, String)> {
            super::metrics::Figure::all()
                .iter()
                .map(|f| (f.name(), f.doc(), format!("#/definitions/{}", bound_name(f.unit(), relative))))
                .collect()
        };
        named_refs(properties, "thresholds", &by_unit(false));
        named(properties, "regression", &figures, "#/definitions/Tolerance");
        named_refs(properties, "drift", &by_unit(true));
    }
    if let Some(properties) =
        defs.get_mut("Expect").and_then(|e| e.get_mut("properties")).and_then(Value::as_object_mut)
    {
        // The loader's names: what an answer records, and GPU figures sampled during the step.
        let metrics: Vec<(String, String)> = super::metrics::LLM
            .iter()
            .chain(super::metrics::GPU)
            .map(|m| (m.name().to_string(), m.doc().to_string()))
            .collect();
        named(properties, "metrics", &metrics, "#/definitions/JsonMatch");
    }
    value
}

/// Gives a name → value map a property per known name (completed and documented by editors)
/// and refuses other names, as the loader does.
fn named(properties: &mut Map<String, Value>, field: &str, names: &[(String, String)], value_ref: &str) {
    let refs: Vec<(String, String, String)> =
        names.iter().map(|(n, d)| (n.clone(), d.clone(), value_ref.to_string())).collect();
    named_refs(properties, field, &refs);
}

/// `named`, each name with its own value schema.
fn named_refs(properties: &mut Map<String, Value>, field: &str, names: &[(String, String, String)]) {
    let Some(Value::Object(schema)) = properties.get_mut(field) else { return };
    let props: Map<String, Value> = names
        .iter()
        .map(|(name, description, value_ref)| {
            (name.clone(), json!({ "$ref": value_ref, "description": description }))
        })
        .collect();
    schema.remove("additionalProperties");
    schema.insert("properties".into(), Value::Object(props));
    schema.insert("additionalProperties".into(), Value::Bool(false));
}

/// The bound schemas by the unit of the figure they bound: (name, units allowed, a bare number
/// allowed, description). In `drift`, `%` is relative — and a percentage figure's bare number
/// there is percentage points.
const UNIT_BOUNDS: &[(&str, &[Unit], bool, &str)] = &[
    (
        "TimeBound",
        &[Unit::Seconds],
        false,
        "A bound on a time, with its unit: \"< 500ms\", \">= 2s\" (0 needs none).",
    ),
    ("PercentBound", &[Unit::Percent], false, "A bound on a percentage, with %: \"< 20%\" (0 needs none)."),
    ("SizeBound", &[Unit::Bytes], false, "A bound on a size, with its unit: \"< 24GiB\" (0 needs none)."),
    ("PlainBound", &[], true, "A bound on a plain number, without a unit: \">= 40\"."),
    (
        "TimeDrift",
        &[Unit::Percent, Unit::Seconds],
        false,
        "A drift bound on a time: relative with % (\"< 10%\"), or absolute with its unit (\"< 50ms\").",
    ),
    (
        "SizeDrift",
        &[Unit::Percent, Unit::Bytes],
        false,
        "A drift bound on a size: relative with % (\"< 10%\"), or absolute with its unit (\"< 512MiB\").",
    ),
    (
        "PlainDrift",
        &[Unit::Percent],
        true,
        "A drift bound: relative with % (\"< 10%\"), or absolute as a bare number (percentage points for a percentage).",
    ),
];

/// The schema name of a bound on a figure of `unit` (in `drift` when `drift`).
fn bound_name(unit: super::metrics::Unit, drift: bool) -> &'static str {
    use super::metrics::Unit as Of;
    match (unit, drift) {
        (Of::Seconds, false) => "TimeBound",
        (Of::Percent, false) => "PercentBound",
        (Of::Bytes, false) => "SizeBound",
        (_, false) => "PlainBound",
        (Of::Seconds, true) => "TimeDrift",
        (Of::Bytes, true) => "SizeDrift",
        (_, true) => "PlainDrift",
    }
}

/// A bound's schema: the comparison pattern with only the allowed units' spellings; 0 without
/// a unit; a bare number where allowed; a reference, checked once it is filled in.
fn unit_bound(units: &[Unit], bare: bool, description: &str) -> Value {
    let number = r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?";
    let op = r"^\s*(<=|>=|==|!=|<|>|=)?\s*";
    let spellings: Vec<String> = super::values::UNITS
        .iter()
        .filter(|(_, _, k)| units.contains(k))
        .map(|(s, _, _)| regex::escape(s))
        .collect();
    let mut any_of = vec![json!({ "type": "string", "pattern": r"\$\{|\{\{" })];
    if bare {
        any_of.push(json!({ "type": "number" }));
        any_of.push(json!({ "type": "string", "pattern": format!(r"{op}{number}\s*$") }));
    } else {
        any_of.push(json!({ "const": 0 }));
        any_of.push(json!({ "type": "string", "pattern": format!(r"{op}[-+]?(0+\.?0*|\.0+)\s*$") }));
    }
    if !spellings.is_empty() {
        any_of.push(
            json!({ "type": "string", "pattern": format!(r"{op}{number}\s*({})\s*$", spellings.join("|")) }),
        );
    }
    json!({ "description": description, "anyOf": any_of })
}

/// What `Comparison::parse` accepts, as a pattern.
fn comparison_pattern() -> String {
    let units: Vec<String> = super::values::UNITS.iter().map(|(u, _, _)| regex::escape(u)).collect();
    format!(
        r"^\s*(<=|>=|==|!=|<|>|=)?\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*({})?\s*$",
        units.join("|")
    )
}

fn drop_formats(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.get("format").is_some_and(Value::is_string) {
                map.remove("format");
            }
            map.values_mut().for_each(drop_formats);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_formats),
        _ => {}
    }
}

/// A number, boolean, list or enum may be a reference (or a number/boolean as text); a text
/// field takes numbers and booleans (read as their text).
fn lenient_scalars(schema: &mut Value) {
    let Value::Object(map) = schema else { return };
    for (key, child) in map.iter_mut() {
        // Children of keywords that hold schemas (properties, items, definitions, anyOf...).
        if key != "enum" && key != "const" && key != "required" && key != "examples" {
            match child {
                Value::Object(_) => lenient_scalars(child),
                Value::Array(items) => items.iter_mut().for_each(lenient_scalars),
                _ => {}
            }
        }
    }
    let non_string = |t: &Value| matches!(t.as_str(), Some("integer" | "number" | "boolean" | "array"));
    let is_enum = map.contains_key("enum")
        || map
            .get("oneOf")
            .and_then(Value::as_array)
            .is_some_and(|v| v.iter().all(|o| o.get("const").is_some()));
    let wrap = is_enum
        || match map.get("type") {
            Some(t @ Value::String(_)) => non_string(t),
            Some(Value::Array(ts)) => ts.iter().any(non_string) && !ts.iter().any(|t| t == "string"),
            _ => false,
        };
    if wrap {
        let is_list = map.get("type").is_some_and(|t| t == "array");
        let description = map.remove("description");
        let inner = Value::Object(std::mem::take(map));
        // A list may also be written as text, as a variable gives one: `a,b`, `[a, b]`, or one
        // item (the loader splits it).
        let text =
            if is_list { json!({ "type": "string" }) } else { json!({ "$ref": "#/definitions/Reference" }) };
        map.insert("anyOf".into(), json!([inner, text]));
        if let Some(d) = description {
            map.insert("description".into(), d);
        }
        return;
    }
    // A plain text field (no pattern, no enum) takes a number or boolean as its text.
    let plain_text = |t: &Value| t == "string";
    if !map.contains_key("pattern") {
        match map.get_mut("type") {
            Some(t @ Value::String(_)) if plain_text(t) => *t = json!(["string", "number", "boolean"]),
            Some(Value::Array(ts)) if ts.iter().any(plain_text) && !ts.iter().any(non_string) => {
                ts.extend([json!("number"), json!("boolean")]);
            }
            _ => {}
        }
    }
}
