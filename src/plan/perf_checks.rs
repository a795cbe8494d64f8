//! Checks of a perf test that its types cannot express: one request inside, iterations or a
//! duration, windows, rounds and concurrency in range, cold loads where they can be measured,
//! SLOs its request can meet, and thresholds, drift and regressions on figures it measures.

use super::checks::{check_figure_name, unit_problem};
use crate::load::de::DeError;
use crate::load::tree::Node;
use crate::protocol::LlmCall;
use crate::suite::metrics::{self, Figure, Metric};
use crate::suite::{Api, Step, TestSpec};

/// Most rounds a sweep is run in.
const MAX_ROUNDS: u32 = 100;

/// Most windows a soak level is split into.
const MAX_WINDOWS: u32 = 10_000;

/// Most requests a perf level keeps in flight (each is a task and a connection).
const MAX_CONCURRENCY: u32 = 10_000;

/// Perf steps: one request inside, iterations or duration, cold loads only where they can
/// be measured; thresholds and regressions name real figures and only on perf tests.
pub(super) fn check_perf(
    spec: &TestSpec,
    step: &Step,
    suite_api: Api,
    node: &Node,
    errors: &mut Vec<DeError>,
) {
    let perf_node = node.get("perf");
    let key_span = |key: &str| perf_node.and_then(|s| s.entry(key)).map(|(k, _)| k.span);
    let mut err = |message: String, span| errors.push(DeError { message, span });
    if let Step::Perf(p) = step {
        let inner = [p.generate.is_some(), p.chat.is_some(), p.embed.is_some(), p.http.is_some()]
            .iter()
            .filter(|x| **x)
            .count();
        if inner != 1 {
            err(
                format!(
                    "a perf step repeats exactly one request (`generate`, `chat`, `embed` or `http`); this one has {inner}"
                ),
                perf_node.map(|n| n.span),
            );
        }
        if p.iterations.is_some() && p.duration.is_some() {
            err("a perf step takes `iterations` or `duration`, not both".to_string(), key_span("duration"));
        }
        if p.gpu_interval.is_some_and(|i| i < crate::gpu::sampler::MIN_INTERVAL) {
            err(
                "`gpu_interval` must be at least 100ms (NVML updates about that often)".to_string(),
                key_span("gpu_interval"),
            );
        }
        match (p.window, p.duration) {
            (Some(_), None) => err(
                "`window` splits a timed run: give the perf step a `duration` (e.g. `duration: 8h, window: 5m`)"
                    .to_string(),
                key_span("window"),
            ),
            (Some(w), Some(d)) if w.is_zero() || w > d => err(
                "`window` must be longer than 0 and no longer than `duration`".to_string(),
                key_span("window"),
            ),
            (Some(w), Some(d)) if d.as_secs_f64() / w.as_secs_f64() > MAX_WINDOWS as f64 => err(
                format!("`window` makes more than {MAX_WINDOWS} windows of `duration`: choose a longer window"),
                key_span("window"),
            ),
            _ => {}
        }
        if !spec.drift.is_empty() && p.window.is_none() {
            err(
                "`drift` compares a soak's first window with its last: give the perf step `duration` and \
                 `window` (e.g. `duration: 8h, window: 5m`)"
                    .to_string(),
                node.entry("drift").map(|(k, _)| k.span),
            );
        }
        if p.iterations == Some(0) {
            err("`iterations` must be at least 1".to_string(), key_span("iterations"));
        }
        if let Some(rounds) = p.rounds {
            use crate::suite::perf::Rounds;
            let sweep = p.concurrency.as_ref().is_some_and(|c| c.0.len() > 1);
            let iterations = p.iterations.unwrap_or(crate::suite::perf::DEFAULT_ITERATIONS);
            let r = rounds.least();
            let problem = if r == 0 || rounds.most() > MAX_ROUNDS {
                Some(format!("`rounds` must be 1 to {MAX_ROUNDS}"))
            } else if let Rounds::Until { min, max } = rounds
                && (min < 2 || max <= min)
            {
                Some(format!(
                    "`rounds: {{ min: {min}, max: {max} }}` runs at least `min` rounds and looks again after \
                     each more: give `min` 2 or more (the knee compares rounds) and `max` above it"
                ))
            } else if r == 1 {
                None
            } else if !sweep {
                Some(
                    "`rounds` interleaves the levels of a sweep: give `concurrency` a list ([1, 2, 4, 8])"
                        .into(),
                )
            } else if p.rate.is_some() {
                Some("`rounds` is for a closed-loop sweep (its knee); an open loop (`rate`) has none".into())
            } else if p.window.is_some() {
                Some(
                    "`rounds` and `window` do not go together: a soak's windows need one unbroken level"
                        .into(),
                )
            } else if p.duration.is_none() && iterations < r {
                Some(format!(
                    "`iterations` ({iterations}) are shared out over the {r} rounds: give at least one a round"
                ))
            } else {
                None
            };
            if let Some(message) = problem {
                err(message, key_span("rounds"));
            }
        }
        if let Some(c) =
            p.concurrency.as_ref().and_then(|c| c.0.iter().find(|l| **l == 0 || **l > MAX_CONCURRENCY))
        {
            err(
                format!(
                    "concurrency {c} is out of range: a level keeps 1 to {MAX_CONCURRENCY} requests in flight \
                     (one client machine opens no more connections than that usefully; for more load, run \
                     hxrun on several machines)"
                ),
                key_span("concurrency"),
            );
        }
        if p.cold {
            let api = LlmCall::of_perf(p).and_then(|c| c.api()).unwrap_or(suite_api);
            let sequential =
                p.concurrency.as_ref().is_none_or(|c| c.0.iter().all(|l| *l == 1)) && p.rate.is_none();
            if p.http.is_some() || p.embed.is_some() || api != Api::Ollama || !sequential {
                err(
                    "`cold: true` unloads the model before each request, so it needs an Ollama `generate` or \
                     `chat` at concurrency 1 without `rate`"
                        .to_string(),
                    key_span("cold"),
                );
            }
        }
        let mut shaped = Vec::new();
        super::shape_checks::check_shapes(spec, p, perf_node, node, MAX_CONCURRENCY, &mut shaped);
        shaped.into_iter().for_each(|e| err(e.message, e.span));
        if spec.expect.is_some() {
            err(
                "a perf test is judged by `thresholds` (and `regression`), not `expect`".to_string(),
                node.entry("expect").map(|(k, _)| k.span),
            );
        }
        // The lengths of an answer (`output`) and of a prompt (`input`).
        let lengths = [
            ("output", "an answer", p.output.as_ref().map(|o| &o.tokens)),
            ("input", "a prompt", p.input.as_ref().map(|i| &i.tokens)),
        ];
        for (key, what, tokens) in lengths {
            let Some(tokens) = tokens else { continue };
            let at = perf_node.and_then(|n| n.get(key)).and_then(|o| o.entry("tokens")).map(|(k, _)| k.span);
            if LlmCall::of_perf(p).is_none() {
                err(
                    format!("`{key}` sets the length of {what}: it goes with a `generate` or `chat` request"),
                    key_span(key),
                );
            } else if let Some(problem) = length_problem(tokens, what) {
                err(format!("`{key}.tokens`: {problem}"), at.or(key_span(key)));
            }
        }
        if let Some(slo) = &p.slo {
            let slo_node = perf_node.and_then(|n| n.get("slo"));
            let at = |key: &str| slo_node.and_then(|n| n.entry(key)).map(|(k, _)| k.span).or(key_span("slo"));
            if slo.is_empty() {
                err(
                    "`slo` bounds nothing: give `ttft`, `tpot` or `e2e` (e.g. `slo: { ttft: 500ms }`)".into(),
                    key_span("slo"),
                );
            }
            // What only a stream measures: a request without it would never meet the SLO.
            let call = LlmCall::of_perf(p);
            let streamed = call.is_some_and(|c| {
                c.stream().unwrap_or_else(|| {
                    crate::protocol::for_api(c.api().unwrap_or(suite_api)).default_stream()
                })
            });
            for (key, bound) in [("ttft", slo.ttft), ("tpot", slo.tpot)] {
                if bound.is_some() && !streamed {
                    err(
                        format!(
                            "`slo.{key}` is measured on a streamed answer, and this perf step's requests are {}: set \
                             `stream: true` on its request, or bound `e2e` instead",
                            if call.is_some() { "not streamed (stream: false)" } else { "not LLM answers" }
                        ),
                        at(key),
                    );
                }
            }
            for (key, bound) in [("ttft", slo.ttft), ("tpot", slo.tpot), ("e2e", slo.e2e)] {
                if bound.is_some_and(|b| b.is_zero()) {
                    err(
                        format!(
                            "`slo.{key}: 0s` can never be met: give the bound a request must stay within"
                        ),
                        at(key),
                    );
                }
            }
        }
    }
    let is_perf = matches!(step, Step::Perf(_));
    for (field, names) in [
        ("thresholds", spec.thresholds.keys().collect::<Vec<_>>()),
        ("regression", spec.regression.keys().collect::<Vec<_>>()),
        ("drift", spec.drift.keys().collect::<Vec<_>>()),
    ] {
        let field_node = node.get(field);
        if !is_perf && !names.is_empty() {
            err(
                format!("`{field}` applies to perf tests; this test's step is `{}`", step.kind()),
                node.entry(field).map(|(k, _)| k.span),
            );
            continue;
        }
        let has_slo = matches!(step, Step::Perf(p) if p.slo.as_ref().is_some_and(|s| !s.is_empty()));
        let has_output = matches!(step, Step::Perf(p) if p.output.is_some());
        for name in names {
            let at = field_node.and_then(|f| f.entry(name)).map(|(k, _)| k.span);
            if let Err(message) = check_figure_name(name) {
                err(message, at);
            } else if !has_slo
                && Figure::parse(name)
                    .is_some_and(|f| matches!(f.metric, Metric::Goodput | Metric::SloAttainment))
            {
                err(
                    format!(
                        "`{name}` counts the requests that meet the perf step's `slo`, and this one has none:                          give it one (e.g. `slo: {{ ttft: 500ms, tpot: 50ms }}`)"
                    ),
                    at,
                );
            } else if !has_output && Figure::parse(name).is_some_and(|f| f.metric == Metric::ShortOutputs) {
                err(
                    format!(
                        "`{name}` counts the answers shorter than the perf step's `output.tokens`, and this one \
                         asks for no length: give it one (e.g. `output: {{ tokens: 128 }}`)"
                    ),
                    at,
                );
            }
        }
    }
    // A bound's unit is its figure's: a bare number on a time or a percentage is refused.
    let bounds = spec.thresholds.iter().map(|b| ("thresholds", b, false));
    for (field, (name, c), relative_ok) in bounds.chain(spec.drift.iter().map(|b| ("drift", b, true))) {
        let Some(figure) = Figure::parse(name) else { continue };
        // In `drift`, `%` is a change relative to the first window; a percentage figure's
        // absolute change is in percentage points, a bare number.
        let points = figure.unit() == metrics::Unit::Percent && c.unit == crate::suite::Unit::None;
        if relative_ok && (c.unit == crate::suite::Unit::Percent || points) {
            continue;
        }
        if let Some(message) = unit_problem(name, figure.unit(), c) {
            let at = node.get(field).and_then(|f| f.get(name)).map(|n| n.span);
            err(message, at);
        }
    }
    for (name, tolerance) in &spec.regression {
        let Some(figure) = Figure::parse(name) else { continue };
        if let Some(message) = tolerance.problem_for(name, figure.unit()) {
            err(message, node.get("regression").and_then(|f| f.get(name)).map(|n| n.span));
        }
    }
}

/// The most output tokens a request may be asked for.
const MAX_OUTPUT_TOKENS: u32 = 1_000_000;

/// Why a length of `what` (an answer, a prompt) cannot be drawn from, if it cannot.
fn length_problem(length: &crate::suite::perf::Length, what: &str) -> Option<String> {
    use crate::suite::perf::Length;
    let (lo, hi) = length.bounds();
    match length {
        Length::Uniform { uniform: [a, b] } if a > b => {
            return Some(format!("`uniform: [{a}, {b}]` runs backwards: write the smaller first"));
        }
        Length::Normal { normal }
            if !(normal.mean.is_finite() && normal.stddev.is_finite() && normal.stddev >= 0.0) =>
        {
            return Some("a normal distribution needs a finite `mean` and a `stddev` of 0 or more".into());
        }
        Length::Normal { normal } if normal.min > normal.max => {
            return Some(format!("`min` ({}) is above `max` ({})", normal.min, normal.max));
        }
        _ => {}
    }
    if lo == 0 {
        Some(format!("{what} of 0 tokens measures nothing: ask for at least 1"))
    } else if hi > MAX_OUTPUT_TOKENS {
        Some(format!("{hi} tokens is more than any model's context: ask for at most {MAX_OUTPUT_TOKENS}"))
    } else {
        None
    }
}
