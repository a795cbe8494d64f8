//! Where each expectation of a test is written (file, line, column and the line's text), so a
//! failure shows that line: found once per written test, shared by its expansions.

use crate::load::LoadedSuite;
use crate::load::tree::{Node, Value};

/// The place of every expectation a test writes, two levels deep under `expect` (a matcher,
/// or one JSONPath, metric, header or agreement) and one under `thresholds`, `regression`
/// and `drift`.
pub(super) fn places(suite: &LoadedSuite, lines: &[&str], test: &Node) -> Places {
    let place = |span: crate::load::tree::Span| crate::record::Place {
        file: suite.source.name.clone(),
        line: span.line,
        col: span.col,
        source: lines.get(span.line.saturating_sub(1) as usize).unwrap_or(&"").to_string(),
    };
    let mut out = Vec::new();
    fn entries(n: &Node) -> &[(crate::load::tree::Key, Node)] {
        match &n.value {
            Value::Map(e) => e.as_slice(),
            _ => &[],
        }
    }
    for top in ["expect", "thresholds", "regression", "drift"] {
        let Some(node) = test.get(top) else { continue };
        // A list of `expect` blocks: each block's checks, the first place of a name kept.
        let blocks: Vec<&Node> = match &node.value {
            Value::Seq(items) if top == "expect" => items.iter().collect(),
            _ => vec![node],
        };
        for (k, v) in blocks.into_iter().flat_map(entries) {
            if !k.span.is_known() || k.name == "when" {
                continue;
            }
            out.push((format!("{top}.{}", k.name), place(k.span)));
            if top == "expect" && matches!(k.name.as_str(), "json" | "metrics" | "headers" | "agree") {
                for (sub, _) in entries(v) {
                    if sub.span.is_known() {
                        out.push((format!("expect.{}.{}", k.name, sub.name), place(sub.span)));
                    }
                }
            }
        }
    }
    Places(out.into())
}

/// Where each written expectation of a test is, by its path: a short list shared by the
/// test's expansions (a map's node per test was most of a 10,000-test plan's memory).
#[derive(Debug, Clone, Default)]
pub(crate) struct Places(std::sync::Arc<[(String, crate::record::Place)]>);

impl Places {
    /// Where the expectation a verdict judges is written.
    pub(crate) fn get(&self, source: &crate::record::Source) -> Option<&crate::record::Place> {
        let path = source.to_string();
        self.0.iter().find(|(k, _)| *k == path).map(|(_, p)| p)
    }
}
