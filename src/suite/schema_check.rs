//! `expect.schema`: a JSON Schema that a body, a command's output or an LLM answer must
//! satisfy — written inline, or `{ file: answer.schema.json }` beside the suite (the load stage
//! reads the file in its place). Compiled when the suite loads, so a schema that is not one is
//! a load error at its line, and once per distinct schema however many tests share it.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, de};
use serde_json::Value;
use std::borrow::Cow;
use std::sync::Arc;

/// A compiled JSON Schema and the text it came from.
#[derive(Clone)]
pub(crate) struct SchemaCheck {
    pub(crate) schema: Arc<Value>,
    validator: Arc<jsonschema::Validator>,
}

impl std::fmt::Debug for SchemaCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SchemaCheck({})", self.schema)
    }
}

impl PartialEq for SchemaCheck {
    fn eq(&self, other: &Self) -> bool {
        self.schema == other.schema
    }
}

/// One way an instance breaks the schema: where (a JSON Pointer, `/` for the whole) and why.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Violation {
    pub(crate) at: String,
    pub(crate) why: String,
}

impl SchemaCheck {
    pub(crate) fn new(schema: Value) -> Result<SchemaCheck, String> {
        let validator =
            jsonschema::validator_for(&schema).map_err(|e| format!("not a valid JSON Schema: {e}"))?;
        Ok(SchemaCheck { schema: Arc::new(schema), validator: Arc::new(validator) })
    }

    /// Every violation (at most `max`), in the validator's order.
    pub(crate) fn violations(&self, instance: &Value, max: usize) -> Vec<Violation> {
        self.validator
            .iter_errors(instance)
            .take(max)
            .map(|e| {
                let at = e.instance_path().to_string();
                Violation { at: if at.is_empty() { "/".into() } else { at }, why: e.to_string() }
            })
            .collect()
    }
}

impl Serialize for SchemaCheck {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.schema.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SchemaCheck {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        if !value.is_object() && !value.is_boolean() {
            return Err(de::Error::custom(format!(
                "a JSON Schema is a mapping (like {{ type: object, required: [city] }}) or {{ file: x.schema.json }}, not {value}"
            )));
        }
        SchemaCheck::new(value).map_err(de::Error::custom)
    }
}

impl JsonSchema for SchemaCheck {
    fn schema_name() -> Cow<'static, str> {
        "JsonSchemaCheck".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A JSON Schema the JSON must satisfy, inline (`{ type: object, required: [city] }`) or `{ file: answer.schema.json }` (relative to the suite).",
            "type": ["object", "boolean"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn violations_say_where_and_why() {
        let s = SchemaCheck::new(json!({
            "type": "object",
            "required": ["city", "temp"],
            "properties": { "temp": { "type": "number" } }
        }))
        .unwrap();
        assert!(s.violations(&json!({ "city": "Paris", "temp": 21.5 }), 10).is_empty());
        let v = s.violations(&json!({ "temp": "warm" }), 10);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v.iter().any(|v| v.at == "/" && v.why.contains("city")), "{v:?}");
        assert!(v.iter().any(|v| v.at == "/temp" && v.why.contains("number")), "{v:?}");
        assert!(
            SchemaCheck::new(json!({ "type": "no-such-type" }))
                .unwrap_err()
                .contains("not a valid JSON Schema")
        );
    }
}
