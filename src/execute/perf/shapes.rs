//! Load shapes: a ramp's stages, one after another, and a capacity search's probes, each a
//! level measured by the same loops as a sweep's (`LevelRun`). The search's decisions are
//! `perf::search`; here they are run against the server.

use super::{LevelRun, Shared, Stop};
use crate::perf::result::{LevelResult, StageOf};
use crate::perf::search::{SearchResult, Searcher};
use crate::suite::metrics::{Figure, Metric};
use crate::suite::perf::PerfStep;
use crate::suite::shapes::Search;
use std::sync::Arc;
use tokio::time::Instant;

/// The in-flight cap of an open-loop stage or probe: the step's `concurrency`.
fn cap(step: &PerfStep) -> u32 {
    step.concurrency.as_ref().and_then(|c| c.0.first().copied()).unwrap_or(1)
}

/// Every stage in order, each a level of its own; a stop ends the ramp after the stage it cut.
pub(super) async fn stages(shared: &Arc<Shared>, step: &PerfStep) -> Vec<LevelResult> {
    let mut out = Vec::new();
    for (i, stage) in step.stages.iter().enumerate() {
        if shared.ctx.control.is_stopped() {
            break;
        }
        let mut run = LevelRun::new(stage.concurrency.unwrap_or_else(|| cap(step)));
        run.rate = stage.rate.map(|r| r.0);
        run.warmup = i == 0;
        run.measure(shared, step, Stop::At(crate::execute::after(Instant::now(), stage.length))).await;
        let mut level = run.finish(shared, step, 1);
        level.stage = Some(StageOf { index: i as u32 + 1, probe: false });
        out.push(level);
    }
    out
}

/// The capacity search: probes chosen by `Searcher`, each run for the search's length (again,
/// while its verdict is too close to call); the level of the capacity found carries it as a
/// figure (`capacity_rate` or `capacity_concurrency`), which thresholds judge.
pub(super) async fn search(
    shared: &Arc<Shared>,
    step: &PerfStep,
    spec: &Search,
) -> (Vec<LevelResult>, SearchResult) {
    let by_rate = spec.by_rate();
    let poisson = step.arrival == crate::suite::perf::Arrival::Poisson;
    let mut searcher = Searcher::new(spec.range(), spec.attainment.0, spec.precision.0, !by_rate);
    let mut levels: Vec<LevelResult> = Vec::new();
    let mut cut_short = None;
    while let Some(value) = searcher.next() {
        if shared.ctx.control.is_stopped() {
            cut_short = Some("the run was stopped before the search ended".to_string());
            break;
        }
        let mut run = LevelRun::new(if by_rate { cap(step) } else { value as u32 });
        run.rate = by_rate.then_some(value);
        run.warmup = levels.is_empty();
        run.log_met = true;
        let mut lengths = 0;
        let (verdict, met, unsent) = loop {
            run.measure(shared, step, Stop::At(crate::execute::after(Instant::now(), spec.length))).await;
            // The warm-up runs once, before the first length of the first probe.
            run.warmup = false;
            lengths += 1;
            let store = run.store.as_ref();
            let met = store.map(|s| s.met_in_order()).unwrap_or_default();
            let last = run.segments.last().map_or(0.0, |s| s.elapsed);
            let ends = || store.map(|s| s.ends()).unwrap_or_default();
            let unsent = run.sent.and_then(|r| r.shortfall(last)).or_else(|| {
                by_rate.then(|| crate::perf::search::overloaded(value, &ends(), poisson)).flatten()
            });
            if shared.ctx.control.is_stopped() {
                break (None, met, unsent);
            }
            if let Some(v) = searcher.judge(&met, lengths, unsent.is_some()) {
                break (Some(v), met, unsent);
            }
        };
        let mut level = run.finish(shared, step, 1);
        level.stage = Some(StageOf { index: levels.len() as u32 + 1, probe: true });
        let Some(verdict) = verdict else {
            // A probe cut short by a stop has no verdict: its level is kept, the search ends.
            levels.push(level);
            cut_short = Some("the run was stopped before the search ended".to_string());
            break;
        };
        let mut probe = Searcher::probe(value, levels.len(), &met, lengths, verdict);
        probe.why = unsent;
        searcher.record(probe);
        levels.push(level);
    }
    let found = searcher.finish(by_rate, cut_short);
    if let Some(p) = found.capacity_probe() {
        let metric = if by_rate { Metric::CapacityRate } else { Metric::CapacityConcurrency };
        levels[p.level].figures.insert(Figure::of(metric), p.value);
    }
    (levels, found)
}
