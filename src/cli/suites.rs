//! Loading and planning for the commands: `validate`, `list`, and the first half of `run`.

use super::SuiteArgs;
use crate::exit;
use crate::load::{self, LoadOptions};
use crate::plan::{self, PlanOptions, SuitePlan};
use std::collections::BTreeMap;
use std::io::IsTerminal;

/// Loads and plans every suite; prints every error of every suite, returns None if any.
/// `outputs` are `--report-dir` and `--perf-csv` for a run (None for validate and list).
pub(super) fn load_and_plan(
    args: &SuiteArgs,
    extra_env: BTreeMap<String, String>,
    outputs: Option<(&std::path::Path, Option<&std::path::Path>)>,
    loaded: Option<&dyn Fn(&load::LoadedSuite)>,
) -> Option<Vec<SuitePlan>> {
    let mut load_opts = LoadOptions::from_process_env();
    load_opts.env.extend(extra_env);
    load_opts.vars = args.vars.clone();
    load_opts.env_files = args.env_files.clone();
    load_opts.baseline = args.baseline.clone();
    let plan_opts = PlanOptions {
        filter: args.filter.clone(),
        tags: args.tags.clone(),
        exclude_tags: args.exclude_tags.clone(),
        timeout: args.timeout,
        targets: args.target.clone(),
        tls: args.tls.settings(),
        gpu_source: args.gpu_source.clone(),
        report_dir: outputs.map_or_else(Default::default, |o| o.0.to_path_buf()),
        perf_csv: outputs.and_then(|o| o.1.map(std::path::Path::to_path_buf)),
    };
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut plans = Vec::new();
    let mut ok = true;
    let paths = match suite_files(&args.suites) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return None;
        }
    };
    for path in &paths {
        let planned = load::load(path, &load_opts).and_then(|s| {
            for w in &s.warnings {
                eprintln!("warning: {w}");
            }
            if let Some(f) = loaded {
                f(&s);
            }
            plan::plan_fleet(&s, &plan_opts)
        });
        match planned {
            Ok(p) => plans.extend(p),
            Err(errors) => {
                ok = false;
                eprint!("{}", errors.render(color));
            }
        }
    }
    if ok && plans.iter().all(|p| p.tests.is_empty()) {
        eprintln!("error: {}", nothing_selected(args, &plans));
        return None;
    }
    if ok {
        let from_env = || plan::shard::Shard::from_env(|k| std::env::var(k).ok());
        let shard = match (args.shard, from_env()) {
            (Some(s), _) => Some((s, "--shard")),
            (None, Ok(s)) => s,
            (None, Err(e)) => {
                eprintln!("error: {e}");
                return None;
            }
        };
        // 1/1 is the whole run (what `hxrun probe` pins, so a CI job's sharding does not cut it).
        if let Some((shard, from)) = shard.filter(|(s, _)| s.total > 1) {
            let all = plan::shard::apply(&mut plans, shard);
            let mine: usize = plans.iter().map(|p| p.tests.len()).sum();
            eprintln!("note: shard {shard} ({from}): {mine} of {all} tests");
        }
    }
    ok.then_some(plans)
}

/// The suite files a command line names: files as given, a folder's *.yaml and *.yml (in
/// name order), a glob pattern's matches (in name order). A folder or pattern that holds
/// none is an error: a run of nothing would pass.
pub(super) fn suite_files(given: &[std::path::PathBuf]) -> Result<Vec<std::path::PathBuf>, String> {
    let is_yaml = |p: &std::path::Path| p.extension().is_some_and(|e| e == "yaml" || e == "yml");
    let mut out = Vec::new();
    for path in given {
        let text = path.to_string_lossy();
        let found: Vec<std::path::PathBuf> = if path.is_dir() {
            let entries =
                std::fs::read_dir(path).map_err(|e| format!("cannot read the folder {text}: {e}"))?;
            let mut files: Vec<_> =
                entries.flatten().map(|e| e.path()).filter(|p| p.is_file() && is_yaml(p)).collect();
            files.sort();
            files
        } else if !path.exists() && text.contains(['*', '?', '[']) {
            let matches = glob::glob(&text).map_err(|e| format!("{text} is not a valid pattern: {e}"))?;
            let mut files: Vec<_> = matches.flatten().filter(|p| p.is_file()).collect();
            files.sort();
            files
        } else {
            vec![path.clone()]
        };
        if found.is_empty() {
            return Err(format!("{text} holds no suite (*.yaml or *.yml): a run of nothing would pass"));
        }
        // A suite named twice runs twice (a soak of the same checks, say).
        out.extend(found);
    }
    Ok(out)
}

/// Why a run selected no test: which filter, and what it could have matched.
fn nothing_selected(args: &SuiteArgs, plans: &[SuitePlan]) -> String {
    let mut filters = Vec::new();
    if let Some(f) = &args.filter {
        filters.push(format!("--filter {f:?}"));
    }
    filters.extend(args.tags.iter().map(|t| format!("--tag {t}")));
    filters.extend(args.exclude_tags.iter().map(|t| format!("--exclude-tag {t}")));
    let expanded: usize = plans.iter().map(|p| p.expanded).sum();
    let tags: std::collections::BTreeSet<&String> = plans.iter().flat_map(|p| &p.tags).collect();
    let known = if tags.is_empty() {
        "the tests carry no tags".to_string()
    } else {
        format!("their tags: {}", tags.into_iter().map(String::as_str).collect::<Vec<_>>().join(", "))
    };
    format!(
        "no test selected: {} matched none of the {expanded} tests ({known}). A run of nothing would \
         pass unseen: check the spelling, or `hxrun list` the suites to see names and tags",
        filters.join(" and ")
    )
}

pub(super) fn validate(args: &SuiteArgs) -> u8 {
    match load_and_plan(args, BTreeMap::new(), None, None) {
        Some(plans) => {
            for p in &plans {
                println!("{}: ok — suite \"{}\", {} tests", p.file, p.name, p.tests.len());
            }
            exit::PASSED
        }
        None => exit::INVALID,
    }
}

pub(super) fn list(args: &SuiteArgs) -> u8 {
    let Some(plans) = load_and_plan(args, BTreeMap::new(), None, None) else {
        return exit::INVALID;
    };
    for p in &plans {
        println!("{} ({})", p.name, p.file);
        for t in &p.tests {
            let tags = if t.tags.is_empty() { String::new() } else { format!("  [{}]", t.tags.join(", ")) };
            let skip = t.skip.as_ref().map(|r| format!("  (skip: {r})")).unwrap_or_default();
            println!("  {}{tags}{skip}", t.name);
        }
    }
    exit::PASSED
}
