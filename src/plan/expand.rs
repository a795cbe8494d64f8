//! `for_each`: the cartesian product of a test's lists, each value read as suite text, or the
//! rows of a case file (`{ file: cases.jsonl }`, `cases.rs`).

use super::{MAX_EXPANSION, template};
use crate::load::de::DeError;
use crate::load::tree::{Node, Value};
use std::collections::BTreeMap;

/// One expansion of a test: its placeholders' values, and for a case file's row what names
/// it in the test's name and where it is written.
#[derive(Default, Clone)]
pub(super) struct Combo {
    pub(super) bindings: BTreeMap<String, Node>,
    /// Placeholder → the row's name in the test's name (`add-3`, or `cases.jsonl:7`).
    pub(super) labels: BTreeMap<String, String>,
    /// Where each case row of it is written (`cases.jsonl:7`), for its errors.
    pub(super) rows: Vec<String>,
}

/// The cartesian product of a test's `for_each` lists, in the order written; a case file's
/// rows are those the load stage read (`cases`).
pub(super) fn expand(test: &Node, cases: &crate::load::cases::Cases) -> Result<Vec<Combo>, DeError> {
    let Some(for_each) = test.get("for_each") else {
        return Ok(vec![Combo::default()]);
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
    // A mapping `{ file: ... }` is a case file: its rows, named and placed.
    let mut rows: BTreeMap<usize, &Vec<crate::load::cases::Row>> = BTreeMap::new();
    for (i, (_, list)) in axes.iter().enumerate() {
        if matches!(list.value, Value::Map(_)) {
            // Read at load time; one that could not be read was said there: no expansion.
            let Some(read) = cases.get(&list.span.offset) else {
                return Ok(Vec::new());
            };
            rows.insert(i, read);
        }
    }
    let lists: Vec<Option<Vec<Node>>> = axes
        .iter()
        .enumerate()
        .map(|(i, (_, list))| match &list.value {
            Value::Seq(values) => Some(values.clone()),
            Value::Str(_) => Some(list.list_in_text().unwrap_or_else(|| vec![list.clone()])),
            Value::Map(_) => rows.get(&i).map(|r| r.iter().map(|r| r.node.clone()).collect()),
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
    let mut combos = vec![Combo::default()];
    for (axis, ((key, list), values)) in axes.iter().zip(&lists).enumerate() {
        if let Some(rows) = rows.get(&axis) {
            // A case's fields are data: filled in as written, never read as placeholders.
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    rows.iter().map(move |row| {
                        let mut c = c.clone();
                        c.bindings.insert(key.name.clone(), row.node.clone());
                        c.labels.insert(key.name.clone(), row.label.clone());
                        c.rows.push(row.origin.clone());
                        c
                    })
                })
                .collect();
            continue;
        }
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
                    "`for_each.{}` must be a list: [a, b], a `${{var}}` holding one, a text `a,b`, or a case file \
                 `{{ file: cases.jsonl }}`; found {}",
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
                    c.bindings.insert(key.name.clone(), v.clone());
                    c
                })
            })
            .collect();
    }
    Ok(combos)
}
