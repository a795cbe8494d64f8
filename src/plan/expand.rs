//! `for_each`: the cartesian product of a test's lists, each value read as suite text.

use super::{MAX_EXPANSION, template};
use crate::load::de::DeError;
use crate::load::tree::{Node, Value};
use std::collections::BTreeMap;

/// The cartesian product of a test's `for_each` lists, in the order written.
pub(super) fn expand(test: &Node) -> Result<Vec<BTreeMap<String, Node>>, DeError> {
    let Some(for_each) = test.get("for_each") else {
        return Ok(vec![BTreeMap::new()]);
    };
    let Value::Map(axes) = &for_each.value else {
        return Err(DeError {
            message: format!(
                "`for_each` must be a mapping of placeholder names to lists, found {}",
                for_each.kind()
            ),
            span: Some(for_each.span),
        });
    };
    // A text stands for a list where one is expected: `${MODELS}` from the environment as
    // `a,b` or `[a, b]`, or one value.
    let lists: Vec<Option<Vec<Node>>> = axes
        .iter()
        .map(|(_, list)| match &list.value {
            Value::Seq(values) => Some(values.clone()),
            Value::Str(_) => Some(list.list_in_text().unwrap_or_else(|| vec![list.clone()])),
            _ => None,
        })
        .collect();
    let count = lists.iter().try_fold(1usize, |n, l| match l {
        Some(values) => n.checked_mul(values.len()),
        None => Some(n),
    });
    if count.is_none_or(|n| n > MAX_EXPANSION) {
        let sizes: Vec<String> = axes
            .iter()
            .zip(&lists)
            .map(|((k, _), l)| format!("{} ({})", k.name, l.as_ref().map_or(1, Vec::len)))
            .collect();
        return Err(DeError {
            message: format!(
                "`for_each` expands to {} tests ({}), more than the {MAX_EXPANSION} one test may expand to: \
                 split the test or shorten its lists",
                count.map_or("too many".to_string(), |n| n.to_string()),
                sizes.join(" × ")
            ),
            span: Some(for_each.span),
        });
    }
    let mut combos = vec![BTreeMap::new()];
    for ((key, list), values) in axes.iter().zip(&lists) {
        // A value is suite text like any other: `{{'{{'}}` in it is a literal `{{` (as in the
        // test it fills), and a `{{name}}` is refused, not kept as text by accident.
        let values = values.as_ref().map(|values| {
            let mut errs = Vec::new();
            let filled: Vec<Node> =
                values.iter().map(|v| template::fill(v, &BTreeMap::new(), &mut errs)).collect();
            match errs.into_iter().next() {
                Some(e) => Err(DeError {
                    message: format!(
                        "a `for_each` value is filled into the test, not filled itself: {}; write {} for a \
                         literal `{{{{`",
                        e.message.split(':').next().unwrap_or(&e.message),
                        crate::suite::emit::LITERAL_OPEN
                    ),
                    span: e.span,
                }),
                None => Ok(filled),
            }
        });
        let values = values.transpose()?;
        let Some(values) = values else {
            return Err(DeError {
                message: format!(
                    "`for_each.{}` must be a list: [a, b], a `${{var}}` holding one, or a text `a,b`; found {}",
                    key.name,
                    list.kind()
                ),
                span: Some(list.span),
            });
        };
        if values.is_empty() {
            return Err(DeError {
                message: format!(
                    "`for_each.{}` is an empty list: the test would run zero times and pass unseen; give it \
                     values, or `skip:` the test",
                    key.name
                ),
                span: Some(list.span),
            });
        }
        combos = combos
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.insert(key.name.clone(), v.clone());
                    c
                })
            })
            .collect();
    }
    Ok(combos)
}
