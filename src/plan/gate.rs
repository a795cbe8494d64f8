//! `pass_rate:` — a gate over a test's cases: which expansions are its cases, the gate's name,
//! and what a gate may ask for.

use super::template;
use crate::load::de::DeError;
use crate::load::tree::{Node, Value};
use crate::suite::values::{Op, Unit};
use crate::suite::{Comparison, Step, TestSpec};
use std::collections::BTreeMap;

/// A pass-rate gate (`pass_rate: ">= 90%"`): the cases of one written test that share their
/// other `for_each` values (a model) are judged together, by the share that passed.
#[derive(Debug, Clone)]
pub(crate) struct Gate {
    /// Its name in the reports: the test's name with each case placeholder as `*`, its other
    /// values filled in (`capital of * [model=phi3]`).
    pub(crate) name: String,
    /// The least share of cases that must pass (percent).
    pub(crate) required: Comparison,
    /// Where `pass_rate` is written.
    pub(crate) at: crate::suite::spanned::Pos,
    /// The `for_each` values the gate's cases share (not the cases' own).
    pub(crate) params: Vec<(String, String)>,
}

/// The name of the gate a case of `test` counts toward (`Gate::name`), and the values its
/// cases share: the written name with each placeholder of a case axis as `*` and the others
/// filled; the shared values appended where the name does not hold them.
pub(super) fn name(
    test: &Node,
    combo: &super::expand::Combo,
    case_axes: &[String],
    append_params: bool,
) -> (String, Vec<(String, String)>) {
    use crate::suite::placeholder::{Piece, scan};
    let written = test.get("name").and_then(Node::as_str).unwrap_or_default();
    let is_case =
        |name: &str| case_axes.iter().any(|a| name.split('.').next().map(str::trim) == Some(a.as_str()));
    let mut text = String::new();
    for piece in scan(written) {
        match piece {
            Piece::Name { name, .. } if is_case(name) => text.push('*'),
            Piece::Name { raw, .. } | Piece::Literal { raw, .. } => text.push_str(raw),
            Piece::Text(t) | Piece::Unclosed(t) => text.push_str(t),
        }
    }
    let shared: BTreeMap<String, Node> =
        combo.bindings.iter().filter(|(k, _)| !is_case(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let node = Node::new(Value::Str(text.clone()), test.get("name").map_or(test.span, |n| n.span));
    let mut name = template::fill(&node, &shared, &mut Vec::new()).as_str().map_or(text, str::to_string);
    let params: Vec<(String, String)> =
        shared.iter().map(|(k, v)| (k.clone(), template::text_of(v))).collect();
    if append_params && !params.is_empty() {
        let list: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        name = format!("{name} [{}]", list.join(", "));
    }
    (name, params)
}

/// The `for_each` axes whose values are a gate's cases: those of its case files; with none,
/// every axis but the one that names the model the step asks (a gate per model).
pub(super) fn case_axes(test: &Node) -> Vec<String> {
    let Some(Value::Map(axes)) = test.get("for_each").map(|n| &n.value) else { return Vec::new() };
    let files: Vec<String> =
        axes.iter().filter(|(_, v)| matches!(v.value, Value::Map(_))).map(|(k, _)| k.name.clone()).collect();
    if !files.is_empty() {
        return files;
    }
    let model = crate::suite::step_kinds()
        .find_map(|kind| test.get(kind).and_then(|step| step.get("model")))
        .and_then(Node::as_str)
        .unwrap_or_default();
    let in_model: Vec<&str> = crate::suite::placeholder::scan(model)
        .into_iter()
        .filter_map(|p| match p {
            crate::suite::placeholder::Piece::Name { name, .. } => name.split('.').next().map(str::trim),
            _ => None,
        })
        .collect();
    axes.iter().map(|(k, _)| k.name.clone()).filter(|k| !in_model.contains(&k.as_str())).collect()
}

/// A gate needs cases: a test with `pass_rate` and no `for_each` is refused (once, on the test
/// as written).
pub(super) fn check_written(test: &Node, errors: &mut Vec<DeError>) {
    if let Some((_, at)) = test.entry("pass_rate")
        && test.get("for_each").is_none()
    {
        errors.push(DeError {
            message:
                "`pass_rate` judges the cases of a test that runs several: give it `for_each` (a case file \
                      `{ case: { file: cases.jsonl } }` or lists)"
                    .to_string(),
            span: Some(at.span),
        });
    }
}

/// A gate that could not fail, or could not mean what it says, is refused where it is written.
pub(super) fn check(spec: &TestSpec, step: &Step, node: &Node, errors: &mut Vec<DeError>) {
    let Some(required) = &spec.pass_rate else { return };
    let span = node.entry("pass_rate").map(|(_, v)| v.span);
    let mut refuse = |message: String| errors.push(DeError { message, span });
    if required.unit != Unit::Percent {
        refuse(format!(
            "`pass_rate: \"{}\"` is a share of the cases that pass: write it in percent, like \">= 90%\"",
            required.text
        ));
    } else if !matches!(required.op, Op::Ge | Op::Gt) {
        refuse(format!(
            "`pass_rate: \"{}\"` must ask for at least a share (`>= 90%` or `> 90%`): a gate that fails \
             when more cases pass would reward a broken server",
            required.text
        ));
    } else if !(0.0..=100.0).contains(&required.value) || (required.op == Op::Gt && required.value >= 100.0) {
        refuse(format!(
            "`pass_rate: \"{}\"` can never be met or never fail: give a share between 0% and 100%",
            required.text
        ));
    } else if required.op == Op::Ge && required.value <= 0.0 {
        refuse(format!(
            "`pass_rate: \"{}\"` holds for any result, so the gate could never fail: give the share that must \
             pass, like \">= 90%\"",
            required.text
        ));
    }
    if matches!(step, Step::Perf(_)) {
        errors.push(DeError {
            message: "`pass_rate` judges answers, not a perf loop's figures: give a perf test `thresholds`"
                .to_string(),
            span,
        });
    }
}
