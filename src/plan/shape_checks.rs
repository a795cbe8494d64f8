//! Checks of a perf step's load shapes (`stages`, `search`) that their types cannot express:
//! each stage one load for a time, a search's range, target and SLOs, the in-flight cap an
//! open loop needs, and what a shape cannot be combined with.

use crate::load::de::DeError;
use crate::load::tree::{Node, Value};
use crate::suite::TestSpec;
use crate::suite::metrics::{Figure, Metric};
use crate::suite::perf::PerfStep;

/// Most stages a ramp has.
const MAX_STAGES: usize = 1_000;

/// What a shape's step may not also have: (set, its key, why not).
fn clashes(p: &PerfStep) -> [(bool, &'static str, &'static str); 6] {
    let own_time = "each stage (or probe) runs for its own `for`";
    [
        (p.iterations.is_some(), "iterations", own_time),
        (p.duration.is_some(), "duration", own_time),
        (p.window.is_some(), "window", "a soak's windows need one unbroken level"),
        (p.rounds.is_some(), "rounds", "rounds interleave a sweep's levels"),
        (p.rate.is_some(), "rate", "each stage (or the search) sets its own rate"),
        (p.cold, "cold", "a cold load is measured one request at a time"),
    ]
}

pub(super) fn check_shapes(
    spec: &TestSpec,
    p: &PerfStep,
    perf_node: Option<&Node>,
    test_node: &Node,
    max_concurrency: u32,
    errors: &mut Vec<DeError>,
) {
    let key_span = |key: &str| perf_node.and_then(|s| s.entry(key)).map(|(k, _)| k.span);
    let mut err = |message: String, span| errors.push(DeError { message, span });
    let shapes = [(!p.stages.is_empty(), "stages"), (p.search.is_some(), "search")];
    let Some((_, shape)) = shapes.iter().find(|(on, _)| *on) else {
        for (metric, key) in [(Metric::CapacityRate, "rate"), (Metric::CapacityConcurrency, "concurrency")] {
            capacity_without_search(spec, metric, key, test_node, &mut err);
        }
        return;
    };
    if shapes.iter().all(|(on, _)| *on) {
        err(
            "a perf step has `stages` or a `search`, not both: make them two tests".into(),
            key_span("search"),
        );
        return;
    }
    for (_, key, why) in clashes(p).into_iter().filter(|(set, _, _)| *set) {
        err(format!("`{key}` does not go with `{shape}`: {why}"), key_span(key));
    }
    let sweep = p.concurrency.as_ref().is_some_and(|c| c.0.len() > 1);
    if sweep {
        err(
            format!(
                "with `{shape}`, `concurrency` is one number: the most requests in flight of an open loop (a \
                 closed-loop stage sets its own `concurrency`)"
            ),
            key_span("concurrency"),
        );
    }
    let cap_missing = p.concurrency.is_none();
    let cap_message = |what: &str| {
        format!(
            "{what} is an open loop: give the perf step `concurrency`, the most requests in flight at once (e.g. \
             `concurrency: 64`) — more than the server's own slots, so the server's queue, not hxrun's, is measured"
        )
    };
    if !p.stages.is_empty() {
        let stages_node = perf_node.and_then(|n| n.get("stages"));
        if p.stages.len() > MAX_STAGES {
            err(format!("a ramp has at most {MAX_STAGES} stages"), key_span("stages"));
        }
        let mut capped = false;
        for (i, stage) in p.stages.iter().enumerate() {
            let item = stages_node.and_then(|n| match &n.value {
                Value::Seq(items) => items.get(i),
                _ => None,
            });
            let at = item.map(|n| n.span).or(key_span("stages"));
            match (stage.rate, stage.concurrency) {
                (Some(_), Some(_)) | (None, None) => err(
                    format!(
                        "stage {} takes a `rate` (an open loop: `{{ rate: 8/s, for: 60s }}`) or a `concurrency` (a \
                         closed loop: `{{ concurrency: 4, for: 60s }}`), one of the two",
                        i + 1
                    ),
                    at,
                ),
                (None, Some(c)) if c == 0 || c > max_concurrency => {
                    err(format!("stage {}: `concurrency` must be 1 to {max_concurrency}", i + 1), at)
                }
                (Some(_), None) if cap_missing && !capped => {
                    capped = true;
                    err(cap_message(&format!("stage {} (`rate`)", i + 1)), at);
                }
                _ => {}
            }
            if stage.length.is_zero() {
                err(format!("stage {}: `for` must be longer than 0", i + 1), at);
            }
        }
    }
    if let Some(s) = &p.search {
        let search_node = perf_node.and_then(|n| n.get("search"));
        let at =
            |key: &str| search_node.and_then(|n| n.entry(key)).map(|(k, _)| k.span).or(key_span("search"));
        match (&s.rate, &s.concurrency) {
            (Some(_), Some(_)) | (None, None) => err(
                "`search` takes a `rate` range (`rate: [1/s, 64/s]`) or a `concurrency` range (`concurrency: [1, \
                 64]`), one of the two"
                    .into(),
                key_span("search"),
            ),
            (Some([a, b]), None) if a.0 > b.0 => {
                err("`search.rate`: the lowest rate first, then the highest".into(), at("rate"))
            }
            (None, Some([a, b])) if *a == 0 || a > b || *b > max_concurrency => err(
                format!("`search.concurrency`: the lowest first, then the highest, each 1 to {max_concurrency}"),
                at("concurrency"),
            ),
            (Some(_), None) if cap_missing => err(cap_message("a rate search"), key_span("search")),
            _ => {}
        }
        if p.slo.as_ref().is_none_or(|slo| slo.is_empty()) {
            err(
                "`search` finds the highest load at which requests meet the step's SLOs, and this step has none: give \
                 it `slo` (e.g. `slo: { ttft: 500ms, tpot: 50ms }`)"
                    .into(),
                key_span("search"),
            );
        }
        if s.length.is_zero() {
            err("`search.for`: each probe must run longer than 0".into(), at("for"));
        }
        if s.precision.0 >= 1.0 {
            err("`search.precision` is below 100% (e.g. \"5%\")".into(), at("precision"));
        }
        for (metric, key) in [(Metric::CapacityRate, "rate"), (Metric::CapacityConcurrency, "concurrency")] {
            let searched = if key == "rate" { s.rate.is_some() } else { s.concurrency.is_some() };
            if !searched {
                capacity_without_search(spec, metric, key, test_node, &mut err);
            }
        }
    }
}

/// A threshold on a capacity the step does not search.
fn capacity_without_search(
    spec: &TestSpec,
    metric: Metric,
    key: &str,
    node: &Node,
    err: &mut impl FnMut(String, Option<crate::load::tree::Span>),
) {
    let name = Figure::of(metric).name();
    if spec.thresholds.keys().any(|k| Figure::parse(k) == Some(Figure::of(metric))) {
        err(
            format!(
                "`{name}` is what a capacity search over `{key}` finds, and this perf step has none: give it \
                 `search: {{ {key}: [...], attainment: \"95%\", for: 20s }}`"
            ),
            node.get("thresholds").and_then(|t| t.entry(&name)).map(|(k, _)| k.span),
        );
    }
}
