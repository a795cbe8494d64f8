//! `when:` — a condition over a test's placeholders and variables, filled like any other text.
//! On a test, an expansion it is false for is left out; on a block of a list of `expect`
//! blocks, that block's checks apply only where it is true (a TTFT bound only when the
//! expansion streams). A condition is `true`/`false` once filled (`"{{stream}}"`), or a
//! comparison of two texts: `"{{model}} == phi3:latest"`, `"{{api}} != openai"`.

use crate::load::de::DeError;
use crate::load::tree::{Key, Node, Value};

/// The filled test with its conditions decided: None when its own `when` is false; else the
/// test without `when`, its `expect` one mapping of the blocks that hold.
pub(super) fn apply(test: &Node) -> Result<Option<Node>, DeError> {
    let Value::Map(entries) = &test.value else { return Ok(Some(test.clone())) };
    if let Some(cond) = test.get("when")
        && !holds(cond)?
    {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        match key.name.as_str() {
            "when" => {}
            "expect" => out.push((key.clone(), expectations(value)?)),
            _ => out.push((key.clone(), value.clone())),
        }
    }
    Ok(Some(Node::new(Value::Map(out), test.span)))
}

/// Whether a condition holds, once filled.
fn holds(cond: &Node) -> Result<bool, DeError> {
    let refused = |got: &str| DeError {
        message: format!(
            "`when` is `{got}` once filled: write a condition that is true or false (`\"{{{{stream}}}}\"`) or \
             compares two texts (`\"{{{{model}}}} == phi3:latest\"`, `!=`)"
        ),
        span: Some(cond.span),
    };
    match &cond.value {
        Value::Bool(b) => Ok(*b),
        Value::Str(text) => {
            let text = text.trim();
            for (op, equal) in [("==", true), ("!=", false)] {
                if let Some((a, b)) = text.split_once(op) {
                    return Ok((a.trim() == b.trim()) == equal);
                }
            }
            match text.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(refused(text)),
            }
        }
        _ => Err(refused(&cond.scalar_text().unwrap_or_else(|| cond.kind().to_string()))),
    }
}

/// `expect` as one mapping: a single block (whose `when` may turn it off), or a list of blocks
/// merged — each block that holds adds its checks; a check given by two blocks that both hold
/// is an error (which one would count?), except entries of `json`, `metrics`, `headers` and
/// `agree`, which add up when their names differ.
fn expectations(expect: &Node) -> Result<Node, DeError> {
    let blocks: Vec<&Node> = match &expect.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![expect],
    };
    let mut merged: Vec<(Key, Node)> = Vec::new();
    for block in blocks {
        if let Some(cond) = block.get("when")
            && !holds(cond)?
        {
            continue;
        }
        let Value::Map(entries) = &block.value else {
            // Not a mapping: the typed reading says what an expectation block is.
            return Ok(expect.clone());
        };
        for (key, value) in entries.iter().filter(|(k, _)| k.name != "when") {
            let Some(at) = merged.iter().position(|(k, _)| k.name == key.name) else {
                merged.push((key.clone(), value.clone()));
                continue;
            };
            let addable = matches!(key.name.as_str(), "json" | "metrics" | "headers" | "agree");
            match (&mut merged[at].1.value, &value.value) {
                (Value::Map(have), Value::Map(more)) if addable => {
                    for (k, v) in more {
                        if let Some((first, _)) = have.iter().find(|(h, _)| h.name == k.name) {
                            return Err(twice(&format!("{}.{}", key.name, k.name), first, k));
                        }
                        have.push((k.clone(), v.clone()));
                    }
                }
                _ => return Err(twice(&key.name, &merged[at].0, key)),
            }
        }
    }
    Ok(Node::new(Value::Map(merged), expect.span))
}

fn twice(name: &str, first: &Key, again: &Key) -> DeError {
    DeError {
        message: format!(
            "`{name}` is checked by two `expect` blocks that both apply here (the first at line {}): give it \
             in one block, or make their `when`s exclusive",
            first.span.line
        ),
        span: Some(again.span),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::tree::parse;

    fn applied(yaml: &str) -> Result<Option<serde_json::Value>, String> {
        apply(&parse(yaml).unwrap()).map(|n| n.map(|n| n.to_json())).map_err(|e| e.message)
    }

    #[test]
    fn a_test_runs_where_its_condition_holds() {
        assert_eq!(applied("name: a\nwhen: false\n"), Ok(None));
        assert_eq!(applied("name: a\nwhen: 'phi3 == phi3'\n"), Ok(Some(serde_json::json!({ "name": "a" }))));
        assert_eq!(applied("name: a\nwhen: 'phi3 != phi3'\n"), Ok(None));
        assert_eq!(applied("name: a\nwhen: ' TRUE '\n"), Ok(Some(serde_json::json!({ "name": "a" }))));
        let refused = applied("name: a\nwhen: maybe\n").unwrap_err();
        assert!(refused.starts_with("`when` is `maybe` once filled"), "{refused}");
    }

    #[test]
    fn expect_blocks_that_hold_are_merged() {
        let yaml = "expect:\n  - text: { contains: OK }\n    metrics: { e2e: '< 30s' }\n  - when: true\n    metrics: { ttft: '< 5s' }\n  - when: false\n    metrics: { itl_max: '< 1s' }\n";
        assert_eq!(
            applied(yaml),
            Ok(Some(serde_json::json!({ "expect": {
                "text": { "contains": "OK" },
                "metrics": { "e2e": "< 30s", "ttft": "< 5s" }
            } })))
        );
        // One block, off: no expectations beyond the step's own.
        assert_eq!(
            applied("expect: { when: false, status: 500 }\n"),
            Ok(Some(serde_json::json!({ "expect": {} })))
        );
        let twice =
            applied("expect:\n  - metrics: { ttft: '< 1s' }\n  - metrics: { ttft: '< 2s' }\n").unwrap_err();
        assert!(twice.starts_with("`metrics.ttft` is checked by two `expect` blocks"), "{twice}");
        let twice = applied("expect:\n  - status: 200\n  - when: true\n    status: 201\n").unwrap_err();
        assert!(twice.starts_with("`status` is checked by two"), "{twice}");
    }
}
