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
    if let Some(Value::Object(test)) = defs.get_mut("TestSpec") {
        // Each branch names its property too, as strict validators (ajv) want.
        let kinds: Vec<Value> =
            super::step_kinds().map(|k| json!({ "required": [k], "properties": { k: true } })).collect();
        test.insert("oneOf".into(), Value::Array(kinds));
        let properties =
            test.get_mut("properties").and_then(Value::as_object_mut).expect("a test has fields");
        let figures: Vec<(String, String)> =
            super::metrics::figures().iter().map(|f| (f.name(), f.doc())).collect();
        named(properties, "thresholds", &figures, "#/definitions/Comparison");
        named(properties, "regression", &figures, "#/definitions/Tolerance");
        named(properties, "drift", &figures, "#/definitions/Comparison");
    }
    if let Some(properties) =
        defs.get_mut("Expect").and_then(|e| e.get_mut("properties")).and_then(Value::as_object_mut)
    {
        // The loader's names: what an answer records, and GPU figures sampled during the step.
        let metrics: Vec<(String, String)> = super::metrics::LLM
            .iter()
            .chain(super::metrics::GPU)
            .map(|m| (m.name.to_string(), m.doc.to_string()))
            .collect();
        named(properties, "metrics", &metrics, "#/definitions/JsonMatch");
    }
    value
}

/// Gives a name → value map a property per known name (completed and documented by editors)
/// and refuses other names, as the loader does.
fn named(properties: &mut Map<String, Value>, field: &str, names: &[(String, String)], value_ref: &str) {
    let Some(Value::Object(schema)) = properties.get_mut(field) else { return };
    let props: Map<String, Value> = names
        .iter()
        .map(|(name, description)| (name.clone(), json!({ "$ref": value_ref, "description": description })))
        .collect();
    schema.remove("additionalProperties");
    schema.insert("properties".into(), Value::Object(props));
    schema.insert("additionalProperties".into(), Value::Bool(false));
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
