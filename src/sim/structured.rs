//! Structured answers: what the simulator says when asked for JSON (Ollama `format`, OpenAI
//! `response_format`). Deterministic: the answer it would have given, as `{"answer": ...}` for
//! plain JSON, or filled into the schema asked for — strings get that answer, numbers the
//! lowest value allowed (or 42), arrays one item, objects every property.

use serde_json::{Map, Value, json};

/// The JSON text of a structured answer; `text` is what the model would have said.
pub(super) fn answer(format: &Value, text: &str) -> String {
    let value = match format {
        Value::Object(_) => instance(format, text, 0),
        _ => json!({ "answer": text }),
    };
    value.to_string()
}

/// `format` as the OpenAI API writes it: `json_object`, or `json_schema` with its schema.
pub(super) fn from_response_format(rf: &Value) -> Option<Value> {
    match rf.get("type").and_then(Value::as_str)? {
        "json_object" => Some(Value::String("json".into())),
        "json_schema" => rf.pointer("/json_schema/schema").cloned(),
        _ => None,
    }
}

/// A value the schema accepts (for the schemas LLM servers take: types, properties, items,
/// enum, const, minimum/maximum, minLength, minItems).
fn instance(schema: &Value, text: &str, depth: usize) -> Value {
    if depth > 16 {
        return Value::Null;
    }
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => {
            ts.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null")
        }
        _ if schema.get("properties").is_some() => "object",
        _ if schema.get("items").is_some() => "array",
        _ => "string",
    };
    let number = || {
        let min = schema.get("minimum").and_then(Value::as_f64);
        let max = schema.get("maximum").and_then(Value::as_f64);
        let v = min.unwrap_or(42.0);
        max.map_or(v, |m| v.min(m))
    };
    match kind {
        "object" => {
            let mut out = Map::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, s) in props {
                    out.insert(name.clone(), instance(s, text, depth + 1));
                }
            }
            Value::Object(out)
        }
        "array" => {
            let n = schema.get("minItems").and_then(Value::as_u64).unwrap_or(1).max(1);
            let item = schema.get("items").cloned().unwrap_or(json!({}));
            Value::Array((0..n).map(|_| instance(&item, text, depth + 1)).collect())
        }
        "integer" => json!(number().ceil() as i64),
        "number" => json!(number()),
        "boolean" => Value::Bool(true),
        "null" => Value::Null,
        _ => {
            let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
            let mut s = text.to_string();
            while s.chars().count() < min {
                s.push('x');
            }
            Value::String(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_fills_the_schema() {
        let schema = json!({
            "type": "object",
            "properties": {
                "city": { "type": "string" },
                "temp": { "type": "number", "minimum": -50 },
                "days": { "type": "array", "items": { "type": "integer" }, "minItems": 2 },
                "unit": { "enum": ["C", "F"] },
                "sunny": { "type": ["boolean", "null"] }
            }
        });
        let v: Value = serde_json::from_str(&answer(&schema, "Paris")).unwrap();
        assert_eq!(
            v,
            json!({ "city": "Paris", "temp": -50.0, "days": [42, 42], "unit": "C", "sunny": true })
        );
        assert_eq!(answer(&json!("json"), "HX-OK"), r#"{"answer":"HX-OK"}"#);
        let rf =
            json!({ "type": "json_schema", "json_schema": { "name": "a", "schema": { "type": "object" } } });
        assert_eq!(from_response_format(&rf), Some(json!({ "type": "object" })));
    }
}
