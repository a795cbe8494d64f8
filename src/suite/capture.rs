//! `capture:` — values a test takes from what came back, for later tests of the same suite to
//! use as `{{captures.NAME}}`:
//!
//! ```yaml
//! capture:
//!   digest: "$.models[0].digest"           # JSONPath into the JSON body, answer or stdout
//!   request: { header: x-request-id }      # a response header (http steps)
//!   version: { regex: 'version (\S+)' }    # the first group (or the match) in the text
//!   token: { json: $.token, secret: true } # masked in every output from then on
//! ```

use super::placeholder::{self, Piece};
use super::values::Pattern;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, de};
use serde_json_path::JsonPath;
use std::borrow::Cow;

/// The placeholder prefix of captured values: `{{captures.digest}}`.
pub(crate) const PREFIX: &str = "captures.";

/// Where a captured value comes from, and whether it is a secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Capture {
    pub(crate) from: From,
    pub(crate) secret: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum From {
    /// A JSONPath into the JSON body (http), answer (generate, chat) or stdout (exec).
    Json(String),
    /// A response header (http).
    Header(String),
    /// The first group of a regex (or the whole match) in the body, answer or stdout.
    Regex(Pattern),
}

impl From {
    pub(crate) fn describe(&self) -> String {
        match self {
            From::Json(p) => format!("JSONPath {p}"),
            From::Header(h) => format!("header {h}"),
            From::Regex(r) => format!("regex {}", r.0.as_str()),
        }
    }
}

const FORMS: &str =
    "a JSONPath (\"$.models[0].digest\"), or { json: PATH | header: NAME | regex: PATTERN, secret: true }";

impl<'de> Deserialize<'de> for Capture {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            json: Option<String>,
            header: Option<String>,
            regex: Option<Pattern>,
            #[serde(default)]
            secret: bool,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Path(String),
            Full(Full),
        }
        let json = |p: String| {
            JsonPath::parse(&p)
                .map(|_| From::Json(p.clone()))
                .map_err(|e| de::Error::custom(format!("capture: `{p}` is not a valid JSONPath: {e}")))
        };
        match Raw::deserialize(d).map_err(|_| de::Error::custom(format!("a capture is {FORMS}")))? {
            Raw::Path(p) => Ok(Capture { from: json(p)?, secret: false }),
            Raw::Full(f) => {
                let from = match (f.json, f.header, f.regex) {
                    (Some(p), None, None) => json(p)?,
                    (None, Some(h), None) => From::Header(h),
                    (None, None, Some(r)) => From::Regex(r),
                    _ => {
                        return Err(de::Error::custom(format!(
                            "a capture takes exactly one source: {FORMS}"
                        )));
                    }
                };
                Ok(Capture { from, secret: f.secret })
            }
        }
    }
}

impl JsonSchema for Capture {
    fn schema_name() -> Cow<'static, str> {
        "Capture".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A value for later tests ({{captures.NAME}}): a JSONPath into the JSON body, answer or stdout, or one of json/header/regex, with secret: true to mask it in every output.",
            "oneOf": [
                { "type": "string" },
                {
                    "type": "object",
                    "properties": {
                        "json": { "type": "string", "description": "A JSONPath into the JSON body, answer or stdout." },
                        "header": { "type": "string", "description": "A response header (http steps)." },
                        "regex": { "type": "string", "format": "regex", "description": "The first group (or the whole match) in the body, answer or stdout." },
                        "secret": { "type": "boolean", "description": "Mask the value in every output from then on." }
                    },
                    "additionalProperties": false,
                    "minProperties": 1
                }
            ]
        })
    }
}

/// The names of `{{captures.NAME}}` placeholders in a text.
pub(crate) fn used_in(text: &str) -> Vec<&str> {
    placeholder::scan(text)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Name { name, .. } => name.strip_prefix(PREFIX),
            _ => None,
        })
        .collect()
}

/// `text` with every `{{captures.NAME}}` replaced by its value (everything else as it stands:
/// the plan filled the rest); Err names the first unknown.
pub(crate) fn fill(text: &str, value: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    for piece in placeholder::scan(text) {
        match piece {
            Piece::Name { name, raw } => match name.strip_prefix(PREFIX) {
                Some(name) => out.push_str(&value(name).ok_or_else(|| name.to_string())?),
                None => out.push_str(raw),
            },
            Piece::Text(t) | Piece::Unclosed(t) | Piece::Literal { raw: t, .. } => out.push_str(t),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_and_filled() {
        assert_eq!(used_in("/api/{{captures.id}}/x/{{ captures.b }} {{model}}"), ["id", "b"]);
        let v = |n: &str| (n == "id").then(|| "42".to_string());
        assert_eq!(fill("/a/{{captures.id}}?m={{model}}", &v).unwrap(), "/a/42?m={{model}}");
        assert_eq!(fill("{{captures.nope}}", &v).unwrap_err(), "nope");
    }
}
