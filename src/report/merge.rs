//! Several runs' records as one: the shards of a CI matrix, or N load generators that ran
//! the same perf test at once (`hxrun merge`).
//!
//! Suites meet by name, file and target; a test that ran in one input is taken as it is; a
//! test that ran in several is one test: a perf test's levels are computed again from the
//! union of its samples (`perf::merge`), any other keeps its first failure (or its first
//! result) and the others are noted. Counts, JUnit, CSVs and every report then come from the
//! merged record through the ordinary reporters, so a merged report is a report.

use crate::perf::merge::{Merged, Part};
use crate::perf::result::PerfObservation;
use crate::record::{Observation, RunRecord, Status, SuiteRecord, TestResult};
use std::collections::BTreeMap;

/// One run to merge: where it came from, and its record.
pub(crate) struct Input {
    pub(crate) label: String,
    pub(crate) record: RunRecord,
}

/// A perf test's samples file of one input, opened (or why not).
pub(crate) type OpenSamples<'a> =
    dyn Fn(&Input, &str) -> Result<crate::perf::samples_file::SampleFile, String> + 'a;

/// The merged record, and what a person should know about how it was merged.
pub(crate) struct Outcome {
    pub(crate) record: RunRecord,
    /// (suite, test) of every perf test whose figures were computed again.
    pub(crate) recomputed: Vec<(String, String)>,
}

pub(crate) fn merge(
    inputs: Vec<Input>,
    open: &OpenSamples<'_>,
    mask: &crate::mask::Secrets,
) -> Result<Outcome, String> {
    let Some(first) = inputs.first() else { return Err("nothing to merge".into()) };
    let mut record = first.record.clone();
    record.suites.clear();
    record.gpu_samples.clear();
    record.warnings.clear();
    record.verdicts.clear();
    record.stopped = None;
    let start = inputs.iter().map(|i| i.record.started_at).min().unwrap_or(record.started_at);
    let end = inputs.iter().map(|i| i.record.started_at + i.record.duration).max().unwrap_or(start);
    record.started_at = start;
    record.duration = (end - start).to_std().unwrap_or_default();

    // Every suite and test, in the order first seen, with each input's copy.
    type Key = (String, String, String);
    let mut suites: Vec<(Key, SuiteRecord)> = Vec::new();
    let mut copies: BTreeMap<(usize, String), Vec<(usize, TestResult)>> = BTreeMap::new();
    let mut order: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (i, input) in inputs.iter().enumerate() {
        let r = &input.record;
        for w in &r.warnings {
            push_new(&mut record.warnings, w.clone());
        }
        if let Some(why) = &r.stopped {
            let said = format!("{}: {why}", input.label);
            record.stopped = Some(record.stopped.map_or(said.clone(), |s| format!("{s}; {said}")));
        }
        for v in &r.verdicts {
            if !record.verdicts.contains(v) {
                record.verdicts.push(v.clone());
            }
        }
        record.gpu_samples.extend(r.gpu_samples.iter().cloned().map(|mut s| {
            s.host.get_or_insert_with(|| input.label.clone());
            s
        }));
        for s in &r.suites {
            // Runs against the built-in simulator each had a port of their own: one server.
            let target = if s.simulated { "the simulator".to_string() } else { s.target.clone() };
            let key = (s.name.clone(), s.file.clone(), target);
            let at = match suites.iter().position(|(k, _)| *k == key) {
                Some(at) => {
                    let kept = &mut suites[at].1;
                    let end = (kept.started_at + kept.duration).max(s.started_at + s.duration);
                    kept.started_at = kept.started_at.min(s.started_at);
                    kept.duration = (end - kept.started_at).to_std().unwrap_or_default();
                    at
                }
                None => {
                    let mut empty = s.clone();
                    empty.tests.clear();
                    suites.push((key, empty));
                    suites.len() - 1
                }
            };
            for t in &s.tests {
                let copies = copies.entry((at, t.name.clone())).or_default();
                if copies.is_empty() {
                    order.entry(at).or_default().push(t.name.clone());
                }
                copies.push((i, t.clone()));
            }
        }
    }

    let mut recomputed = Vec::new();
    for (at, (_, suite)) in suites.iter_mut().enumerate() {
        for name in order.remove(&at).unwrap_or_default() {
            let copies = copies.remove(&(at, name.clone())).unwrap_or_default();
            let perf = copies.iter().all(|(_, t)| samples_of(t).is_some());
            let gates = copies.len() > 1 && copies.iter().all(|(_, t)| t.pass_rate.is_some());
            let test = if perf {
                recomputed.push((suite.name.clone(), name.clone()));
                merge_perf(&inputs, copies, open, mask, &mut record.warnings)?
            } else if gates {
                merge_gate(&inputs, copies, &mut record.warnings)
            } else {
                one_of(&inputs, copies, &mut record.warnings)
            };
            suite.tests.push(test);
        }
    }
    record.suites = suites.into_iter().map(|(_, s)| s).collect();
    Ok(Outcome { record, recomputed })
}

fn push_new(list: &mut Vec<String>, s: String) {
    if !list.contains(&s) {
        list.push(s);
    }
}

fn samples_of(t: &TestResult) -> Option<&str> {
    match &t.observation {
        Some(Observation::Perf(p)) => p.samples_file.as_deref(),
        _ => None,
    }
}

/// Several copies of a test that is not a perf test with samples: the first that failed,
/// or the first.
fn one_of(inputs: &[Input], mut copies: Vec<(usize, TestResult)>, warnings: &mut Vec<String>) -> TestResult {
    let pick = copies.iter().position(|(_, t)| t.status == Status::Failed).unwrap_or(0);
    if copies.len() > 1 {
        let labels: Vec<&str> = copies.iter().map(|(i, _)| inputs[*i].label.as_str()).collect();
        let (i, t) = &copies[pick];
        push_new(
            warnings,
            format!(
                "\"{}\" ran in {} inputs ({}): kept the result of {} ({:?})",
                t.name,
                copies.len(),
                labels.join(", "),
                inputs[*i].label,
                t.status
            ),
        );
    }
    copies.swap_remove(pick).1
}

/// Copies of a pass-rate gate (inputs that each ran some of its cases, or the same ones): one
/// gate judged again over every case, a case that ran in several inputs kept as `one_of` keeps
/// a test.
fn merge_gate(inputs: &[Input], copies: Vec<(usize, TestResult)>, warnings: &mut Vec<String>) -> TestResult {
    let required = copies[0].1.pass_rate.as_ref().map(|r| crate::suite::Comparison::parse(&r.required));
    let Some(Ok(required)) = required else { return one_of(inputs, copies, warnings) };
    let mut gate = copies[0].1.clone();
    let at = gate.assertions.iter().find_map(|a| a.at.clone());
    // Each case by its name, in the order first met (an index, so 10,000 cases merge in one pass).
    let mut cases: Vec<Vec<(usize, TestResult)>> = Vec::new();
    let mut by_name: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, t) in copies {
        let end = t.started_at + chrono::Duration::from_std(t.duration).unwrap_or_default();
        let kept_end = gate.started_at + chrono::Duration::from_std(gate.duration).unwrap_or_default();
        gate.started_at = gate.started_at.min(t.started_at);
        gate.duration = (end.max(kept_end) - gate.started_at).to_std().unwrap_or_default();
        for c in t.pass_rate.map(|r| r.cases).unwrap_or_default() {
            match by_name.get(&c.name) {
                Some(&at) => cases[at].push((i, c)),
                None => {
                    by_name.insert(c.name.clone(), cases.len());
                    cases.push(vec![(i, c)]);
                }
            }
        }
    }
    let cases = cases.into_iter().map(|same| one_of(inputs, same, warnings)).collect();
    (gate.pass_rate, gate.message, gate.failure_kind) = (None, None, None);
    gate.assertions.clear();
    crate::assert::gate::judge(&required, at, &mut gate, cases);
    gate
}

fn merge_perf(
    inputs: &[Input],
    copies: Vec<(usize, TestResult)>,
    open: &OpenSamples<'_>,
    mask: &crate::mask::Secrets,
    warnings: &mut Vec<String>,
) -> Result<TestResult, String> {
    let name = copies[0].1.name.clone();
    let mut parts = Vec::new();
    let mut base: Option<TestResult> = None;
    for (i, t) in copies {
        let file = samples_of(&t).expect("checked by the caller").to_string();
        let samples = open(&inputs[i], &file).map_err(|e| format!("\"{name}\": {e}"))?;
        let Some(Observation::Perf(p)) = &t.observation else { unreachable!("checked by the caller") };
        parts.push(Part { host: inputs[i].label.clone(), observation: PerfObservation::clone(p), samples });
        // The result kept around the merged figures: the first that failed, or the first.
        if base.as_ref().is_none_or(|b| b.status != Status::Failed && t.status == Status::Failed) {
            base = Some(t);
        }
    }
    let n = parts.len();
    let Merged { observation, notes } = crate::perf::merge::merge(&name, parts, mask)?;
    warnings.extend(notes);
    let mut test = base.expect("at least one copy");
    if n > 1 {
        test.detail = format!("merged from {n} runs; {}", test.detail).trim_end_matches("; ").to_string();
    }
    test.observation = Some(Observation::Perf(Box::new(observation)));
    Ok(test)
}
