//! `hxrun report` (re-render saved runs) and `hxrun compare` (runs side by side).

use super::{CompareArgs, ReportArgs};
use crate::exit;
use crate::report::view::Run;
use crate::report::{Output, compare, html, markdown};
use std::path::{Path, PathBuf};

/// Reads a saved report.json.
fn read(path: &Path) -> Result<Run, String> {
    let text = crate::files::read_to_string(path, "report")
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let value = serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    Run::from_value(value).map_err(|e| format!("{}: {e}", path.display()))
}

fn read_all(paths: &[PathBuf]) -> Result<Vec<Run>, u8> {
    let mut runs = Vec::new();
    for p in paths {
        match read(p) {
            Ok(r) => runs.push(r),
            Err(e) => {
                eprintln!("error: {e}");
                return Err(exit::INVALID);
            }
        }
    }
    Ok(runs)
}

fn write(path: &Path, text: &str) -> Result<(), u8> {
    Output::default().write_file(path, text).map_err(|e| {
        eprintln!("error: {e}");
        exit::INTERNAL
    })?;
    crate::report::console::say(&format!("wrote {}", path.display()));
    Ok(())
}

/// Several saved runs as one: their suites in order (a sharded or split run read together).
fn combine(mut runs: Vec<Run>) -> Run {
    let mut first = runs.remove(0);
    for r in runs {
        first.duration += r.duration;
        first.suites.extend(r.suites);
        first.gpu_samples.extend(r.gpu_samples);
    }
    first
}

pub(super) fn report(args: &ReportArgs) -> u8 {
    let runs = match read_all(&args.reports) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let run = combine(runs);
    // Beside the first report, under the names a run gives them (`report::Outputs`).
    let dir = args.reports[0].parent().map(Path::to_path_buf).unwrap_or_default();
    let (html_path, md_path) = match (&args.html, &args.md) {
        (None, None) => {
            let beside = crate::report::outputs::Outputs::in_dir(&dir);
            (beside.html, Some(beside.summary))
        }
        (h, m) => (h.clone(), m.clone()),
    };
    let written = html_path
        .map(|p| write(&p, &html::render(&run)))
        .transpose()
        .and_then(|_| md_path.map(|p| write(&p, &markdown::render(&run))).transpose());
    written.map_or_else(|code| code, |_| exit::PASSED)
}

pub(super) fn compare(args: &CompareArgs) -> u8 {
    let runs = match read_all(&args.reports) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let mut tolerances = crate::perf::baseline::default_tolerances();
    tolerances.extend(args.tolerance.iter().cloned());
    let names = args.reports.iter().map(|p| p.display().to_string());
    let c = compare::compare(names.zip(runs).collect(), &tolerances);
    crate::report::console::say(c.text().trim_end());
    let written = args
        .html
        .as_ref()
        .map(|p| write(p, &c.html()))
        .transpose()
        .and_then(|_| args.md.as_ref().map(|p| write(p, &c.markdown())).transpose());
    if let Err(code) = written {
        return code;
    }
    // Without --fail-if-worse every regression beyond its tolerance fails; with it, only those
    // whose change is real (or that no samples can judge), and a pass rate significantly worse.
    let failed = if args.fail_if_worse { c.real_regressions() + c.worse() > 0 } else { c.regressions() > 0 };
    if failed { exit::FAILED } else { exit::PASSED }
}
