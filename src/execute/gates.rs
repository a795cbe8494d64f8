//! Pass-rate gates at the end of a suite: each gate's cases taken out of the suite's results
//! and judged together (by the assert stage's judge, given to the executor); the gate stands
//! where its first case stood.

use super::step::blank_result;
use crate::plan::SuitePlan;
use crate::record::{Place, TestResult};
use crate::suite::Comparison;
use std::collections::BTreeMap;

/// Judges a gate's cases into it (`assert::gate::judge`, given by the caller).
pub(crate) type GateJudge = fn(&Comparison, Option<Place>, &mut TestResult, Vec<TestResult>);

/// The suite's results with every gate's cases replaced by the gate, in the plan's order;
/// each gate as it is made (`made`, to say it finished).
pub(super) fn gather(
    plan: &SuitePlan,
    results: Vec<TestResult>,
    judge: GateJudge,
    made: &mut dyn FnMut(TestResult) -> TestResult,
) -> Vec<TestResult> {
    if results.iter().all(|r| r.gate.is_none()) {
        return results;
    }
    let mut out: Vec<Option<TestResult>> = Vec::with_capacity(results.len());
    let mut groups: BTreeMap<String, (usize, Vec<TestResult>)> = BTreeMap::new();
    for r in results {
        match r.gate.clone() {
            Some(name) => match groups.get_mut(&name) {
                Some((_, cases)) => cases.push(r),
                None => {
                    groups.insert(name, (out.len(), vec![r]));
                    out.push(None);
                }
            },
            None => out.push(Some(r)),
        }
    }
    for (name, (at, cases)) in groups {
        let Some((test, spec)) =
            plan.tests.iter().find_map(|t| t.gate.as_ref().filter(|g| g.name == name).map(|g| (t, g)))
        else {
            // A case whose gate the plan does not have cannot be: keep the cases as they are.
            out.extend(cases.into_iter().map(Some));
            continue;
        };
        let mut gate = blank_result(plan, test);
        gate.name = name;
        gate.params = spec.params.clone();
        gate.step = "pass_rate".to_string();
        gate.gate = None;
        gate.description = None;
        let start = cases.iter().map(|c| c.started_at).min().unwrap_or(gate.started_at);
        let end = cases
            .iter()
            .map(|c| c.started_at + chrono::Duration::from_std(c.duration).unwrap_or_default())
            .max()
            .unwrap_or(start);
        gate.started_at = start;
        gate.duration = (end - start).to_std().unwrap_or_default();
        judge(&spec.required, spec.at.known().map(|p| test.place(p)), &mut gate, cases);
        out[at] = Some(made(gate));
    }
    out.into_iter().flatten().collect()
}
