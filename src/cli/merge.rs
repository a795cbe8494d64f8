//! `hxrun merge DIR... -o OUT`: the runs of a sharded or distributed run as one report.
//!
//! Reads each input's report.json (and the samples files its perf tests name), merges the
//! records (`report::merge`), judges merged perf tests again with their suite's own
//! expectations (thresholds hold or fail on the merged figures, as if one run had measured
//! them), and writes every report through the same reporters a run uses.

use super::MergeArgs;
use crate::exit;
use crate::mask::Secrets;
use crate::perf::samples_file::SampleFile;
use crate::plan::{PlanOptions, PlannedTest, SuitePlan};
use crate::record::{Event, FailureKind, Observation, REPORT_FORMAT, RunRecord, Status};
use crate::report::console;
use crate::report::merge::{Input, Outcome};
use crate::report::outputs::Outputs;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// An input's report.json and the directory its relative paths start from.
fn locate(input: &Path) -> (PathBuf, PathBuf) {
    if input.is_dir() {
        (input.join("report.json"), input.to_path_buf())
    } else {
        (input.to_path_buf(), input.parent().map(Path::to_path_buf).unwrap_or_default())
    }
}

fn read(path: &Path) -> Result<RunRecord, String> {
    let text = crate::files::read_to_string(path, "report").map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            format!("cannot read {}: no such report directory or report.json", path.display())
        }
        _ => format!("cannot read {}: {e}", path.display()),
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    let format = value.get("format").and_then(serde_json::Value::as_u64).unwrap_or(0);
    if format > u64::from(REPORT_FORMAT) {
        return Err(format!(
            "{}: report format {format} is newer than this hxrun reads (format {REPORT_FORMAT}); merge with the \
             hxrun that wrote it",
            path.display()
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| format!("{} is not an hxrun report this version can merge: {e}", path.display()))
}

/// The inputs as given, a quoted glob pattern (`reports/shard-*`, for images without a shell)
/// expanded in name order.
fn expand(given: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for path in given {
        let text = path.to_string_lossy();
        if path.exists() || !text.contains(['*', '?', '[']) {
            out.push(path.clone());
            continue;
        }
        // Report folders and report.json files; a shard's log beside its folder is not one.
        let mut found: Vec<PathBuf> = glob::glob(&text)
            .map_err(|e| format!("{text} is not a valid pattern: {e}"))?
            .flatten()
            .filter(|p| p.is_dir() || p.extension().is_some_and(|x| x == "json"))
            .collect();
        if found.is_empty() {
            return Err(format!("{text} matches nothing: no report to merge"));
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

pub(super) fn merge(args: &MergeArgs) -> u8 {
    let all = match expand(&args.inputs) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    let same =
        |p: &Path| p.canonicalize().ok().zip(args.out.canonicalize().ok()).is_some_and(|(a, b)| a == b);
    if let Some(clash) = all.iter().find(|p| same(&locate(p).1)) {
        eprintln!(
            "error: the output folder {} is one of the inputs: merge into a folder of its own",
            clash.display()
        );
        return exit::INVALID;
    }
    // One run given twice (`merge A A`, or a path and a link to it) would count its requests
    // twice: refused.
    let mut seen: BTreeMap<PathBuf, &PathBuf> = BTreeMap::new();
    for given in &all {
        let report = locate(given).0;
        let key = report.canonicalize().unwrap_or(report);
        if let Some(first) = seen.insert(key, given) {
            eprintln!(
                "error: {} and {} are the same run: each run is merged once (its requests would count twice)",
                first.display(),
                given.display()
            );
            return exit::INVALID;
        }
    }
    let mut inputs = Vec::new();
    let mut dirs = BTreeMap::new();
    for (i, given) in all.iter().enumerate() {
        let (report, dir) = locate(given);
        let mut record = match read(&report) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::INVALID;
            }
        };
        // A perf test's CSV, as a path inside its report directory (where the merged one goes).
        for t in record.suites.iter_mut().flat_map(|s| s.tests.iter_mut()) {
            if let Some(Observation::Perf(p)) = &mut t.observation {
                p.csv = p.csv.take().map(|c| match c.strip_prefix(&dir) {
                    Ok(rel) => rel.to_path_buf(),
                    Err(_) => c.file_name().map(PathBuf::from).unwrap_or(c),
                });
            }
        }
        let label = label_of(given, i, &all);
        dirs.insert(label.clone(), dir);
        inputs.push(Input { label, record });
    }
    let open = |input: &Input, rel: &str| {
        let path = dirs[&input.label].join(rel);
        SampleFile::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "{} is missing: merge needs each run's samples/ folder beside its report.json (copy the \
                 whole report directory as the CI artifact)",
                path.display()
            ),
            _ => format!("{}: {e}", path.display()),
        })
    };
    let Outcome { mut record, recomputed } =
        match crate::report::merge::merge(inputs, &open, &Secrets::default()) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("error: {e}");
                return exit::INVALID;
            }
        };
    if !args.keep_verdicts {
        judge_again(&mut record, &recomputed);
    }
    let out = &args.out;
    for t in record.suites.iter_mut().flat_map(|s| s.tests.iter_mut()) {
        if let Some(Observation::Perf(p)) = &mut t.observation {
            // The per-request CSV is written again, whole, in the output folder (a CSV a
            // reporter appends to: one an earlier merge left there goes first).
            p.csv = p.csv.as_ref().map(|rel| out.join(rel));
            if let Some(csv) = &p.csv {
                let _ = std::fs::remove_file(csv);
            }
        }
    }
    // The same reports as a run's, in the output folder; no event log (nothing ran here).
    let outputs = Outputs { events: None, ..Outputs::in_dir(out) };
    let mut reporters = outputs.reporters(
        Secrets::default(),
        console::ConsoleOptions::detect(true, false),
        !record.gpu_samples.is_empty(),
    );
    let total = record.suites.iter().map(|s| s.tests.len()).sum();
    reporters.emit(&Event::RunStarted { total });
    for s in &record.suites {
        reporters.emit(&Event::SuiteStarted { name: &s.name, tests: s.tests.len(), target: &s.target });
        for t in &s.tests {
            reporters.emit(&Event::TestFinished { result: t });
        }
        reporters.emit(&Event::SuiteFinished { record: s });
    }
    reporters.emit(&Event::RunFinished { record: &record });
    for e in reporters.errors() {
        eprintln!("error: {e}");
    }
    console::say(&format!(
        "merged {} runs into {}: {} tests, {} recomputed from their samples",
        all.len(),
        out.display(),
        total,
        recomputed.len()
    ));
    if !reporters.errors().is_empty() {
        exit::INTERNAL
    } else if record.failed() {
        exit::FAILED
    } else {
        exit::PASSED
    }
}

/// A short, distinct name per input: its directory's name, or its path when names repeat.
fn label_of(given: &Path, i: usize, all: &[PathBuf]) -> String {
    let name = |p: &Path| {
        let (_, dir) = locate(p);
        let base = if p.is_dir() { p } else { dir.as_path() };
        base.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
    };
    let mine = name(given);
    if all.iter().enumerate().any(|(j, p)| j != i && name(p) == mine) {
        format!("{} (#{})", given.display(), i + 1)
    } else {
        mine
    }
}

/// Merged perf tests judged with their suite's expectations, where the suite still loads;
/// otherwise their runs' verdicts stay, and the run says why.
fn judge_again(record: &mut RunRecord, recomputed: &[(String, String)]) {
    let mut plans: BTreeMap<String, Result<SuitePlan, String>> = BTreeMap::new();
    for suite in &mut record.suites {
        let wanted: Vec<&String> =
            recomputed.iter().filter(|(s, _)| *s == suite.name).map(|(_, t)| t).collect();
        if wanted.is_empty() {
            continue;
        }
        let plan = plans.entry(suite.file.clone()).or_insert_with(|| plan_of(&suite.file));
        let plan = match plan {
            Ok(p) => p,
            Err(why) => {
                let note = format!(
                    "kept the runs' verdicts on {}'s perf tests: cannot judge them again ({why}); \
                     run merge where the suite is, or pass --keep-verdicts",
                    suite.name
                );
                if !record.warnings.contains(&note) {
                    record.warnings.push(note);
                }
                continue;
            }
        };
        for t in suite.tests.iter_mut().filter(|t| wanted.contains(&&t.name)) {
            let Some(planned) = plan.tests.iter().find(|p| p.name == t.name) else { continue };
            let Some(obs) = &t.observation else { continue };
            judge(planned, obs.clone(), t);
        }
    }
}

fn plan_of(file: &str) -> Result<SuitePlan, String> {
    let opts = crate::load::LoadOptions::from_process_env();
    let loaded =
        crate::load::load(Path::new(file), &opts).map_err(|e| format!("{file}: {}", e.render(false)))?;
    crate::plan::plan_suite(&loaded, &PlanOptions::default())
        .map_err(|e| format!("{file}: {}", e.render(false)))
}

fn judge(planned: &PlannedTest, obs: Observation, t: &mut crate::record::TestResult) {
    let mut assertions = crate::assert::check(planned, &obs);
    for a in &mut assertions {
        a.at = a.pos.map(|p| planned.place(p));
    }
    let failures: Vec<String> =
        assertions.iter().filter(|a| !a.passed).filter_map(|a| a.message.clone()).collect();
    t.assertions = assertions;
    if failures.is_empty() {
        (t.status, t.message, t.failure_kind) = (Status::Passed, None, None);
    } else {
        (t.status, t.message, t.failure_kind) =
            (Status::Failed, Some(failures.join("\n")), Some(FailureKind::Assertion));
    }
}
