//! Dependencies run one way. The pipeline's stages — load → plan → execute → assert → report —
//! use earlier stages and the shared rooms below them, never a later stage, and never the
//! simulator (the runner does not know it exists); the shared rooms (the suite format,
//! protocols, masking, GPUs, statistics, the run's records) use only rooms below themselves.
//! Checked by reading every path into the crate in src/: `crate::x`, grouped imports
//! (`use crate::{x::A, y}`), and `super::` chains that climb out of their top module; a planted
//! violation of each kind must be found (the test of the test at the end).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The shared rooms, lowest first: each may use only those before it.
const ROOMS: &[&str] = &["exit", "files", "mask", "suite", "protocol", "gpu", "perf", "record", "sim"];
/// The stages, in pipeline order.
const STAGES: &[&str] = &["load", "plan", "execute", "assert", "report"];
/// The top: it wires everything.
const TOP: &[&str] = &["cli", "bench", "lib", "main"];
/// Rooms a stage may not use.
const NOT_FOR_STAGES: &[&str] = &["sim"];

/// A file's module path: `src/report/html.rs` → [report, html]; `mod.rs` is its folder;
/// `lib.rs`/`main.rs` are the root.
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
    let file = parts.pop().unwrap_or_default();
    let stem = file.trim_end_matches(".rs");
    let root = parts.is_empty() && matches!(stem, "lib" | "main");
    if stem != "mod" && !root {
        parts.push(stem.to_string());
    }
    parts
}

/// The top module a file belongs to (`lib`/`main` for the root files).
fn module_of(rel: &Path) -> String {
    let first = rel.iter().next().unwrap().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_string()
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// May module `from` use module `to`?
fn allowed(from: &str, to: &str) -> bool {
    if from == to || TOP.contains(&from) {
        return true;
    }
    let room = |m: &str| ROOMS.iter().position(|r| *r == m);
    let stage = |m: &str| STAGES.iter().position(|s| *s == m);
    match (room(from), stage(from)) {
        (Some(f), _) => room(to).is_some_and(|t| t < f),
        (_, Some(f)) => {
            (room(to).is_some() && !NOT_FOR_STAGES.contains(&to)) || stage(to).is_some_and(|t| t < f)
        }
        _ => false,
    }
}

fn ident(s: &str) -> String {
    s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
}

/// The top modules a line of `file` (at module path `path`, `inline` modules deep in inline
/// `mod x {` blocks) names: after `crate::`, each first item of a `crate::{...}` group, and
/// where a `super::` chain reaches the crate root.
fn targets(line: &str, path: &[String], inline: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let tail = &rest[at + 7..];
        if let Some(group) = tail.strip_prefix('{') {
            // Top-level items of the group, split on commas outside nested braces.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(ident(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.push(ident(item.trim()));
        } else {
            out.push(ident(tail));
        }
        rest = tail;
    }
    let mut rest = line;
    while let Some(at) = rest.find("super::") {
        // Only the start of a chain: `super::super::x` is one chain.
        let before = &rest[..at];
        let chain_start = !before.ends_with("super::");
        let mut tail = &rest[at..];
        let mut ups: usize = 0;
        while let Some(t) = tail.strip_prefix("super::") {
            ups += 1;
            tail = t;
        }
        if chain_start {
            // Inline modules are climbed first; then the file's own path.
            let climbs_out = ups.saturating_sub(inline);
            if climbs_out >= path.len() && climbs_out > 0 {
                out.push(ident(tail));
            }
        }
        rest = &rest[at + 7..];
    }
    out.retain(|t| !t.is_empty() && t != "self" && t != "super");
    out
}

/// Wrong-way arrows (from → to: places) in files given as (path under src/, text).
fn violations(files: &[(PathBuf, String)]) -> BTreeMap<(String, String), Vec<String>> {
    let mut arrows: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (rel, text) in files {
        let from = module_of(rel);
        let path = module_path(rel);
        let mut inline = 0;
        for (i, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            // An inline module (`mod tests {`) holds the rest of the file here: the house
            // puts them last.
            if (code.starts_with("mod ")
                || code.starts_with("pub mod ")
                || code.starts_with("pub(crate) mod "))
                && code.ends_with('{')
            {
                inline += 1;
            }
            for to in targets(line, &path, inline) {
                if !allowed(&from, &to) {
                    let place = format!("{}:{}", rel.display(), i + 1);
                    arrows.entry((from.clone(), to)).or_default().push(place);
                }
            }
        }
    }
    arrows
}

#[test]
fn dependencies_run_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    rs_files(&src, &mut paths);
    let files: Vec<(PathBuf, String)> = paths
        .iter()
        .map(|p| (p.strip_prefix(&src).unwrap().to_path_buf(), std::fs::read_to_string(p).unwrap()))
        .collect();
    let known: Vec<&str> = ROOMS.iter().chain(STAGES).chain(TOP).copied().collect();
    for (rel, _) in &files {
        let m = module_of(rel);
        assert!(known.contains(&m.as_str()), "src/{m} is in no layer: add it to ROOMS, STAGES or TOP");
    }
    let arrows = violations(&files);
    assert!(
        arrows.is_empty(),
        "dependencies that run the wrong way (module → module: places):\n{}",
        arrows
            .iter()
            .map(|((f, t), p)| format!("  {f} → {t}: {}", p.join(", ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The checker finds a violation planted in each form it reads, and lets the right ones be.
#[test]
fn a_planted_violation_of_each_kind_is_found() {
    let planted = |rel: &str, text: &str| violations(&[(PathBuf::from(rel), text.to_string())]);
    let found = |rel: &str, text: &str| planted(rel, text).into_keys().map(|(_, to)| to).collect::<Vec<_>>();
    assert_eq!(found("report/html.rs", "use crate::cli::run;"), ["cli"], "a later layer by crate::");
    assert_eq!(
        found("report/html.rs", "use crate::{record::Status, cli::run, perf::{knee, stats}};"),
        ["cli"],
        "one item of a grouped import"
    );
    assert_eq!(
        found("execute/perf.rs", "let s = crate::sim::SimConfig::default();"),
        ["sim"],
        "a stage on sim"
    );
    assert_eq!(found("perf/knee.rs", "use super::super::report::view;"), ["report"], "super:: climbing out");
    assert_eq!(found("report/mod.rs", "use super::cli;"), ["cli"], "super:: from a folder's mod.rs");
    assert_eq!(found("perf/knee/tests.rs", "use super::super::super::plan::x;"), ["plan"]);
    // Not violations: within the module, down the layers, an inline test module's super.
    assert!(
        found("report/html.rs", "use super::svg; use crate::perf::knee; use crate::{record::X, mask};")
            .is_empty()
    );
    assert!(found("cli/probe/suite.rs", "super::super::init::SCHEMA_FILE").is_empty());
    assert!(found("report/html.rs", "fn a() {}\nmod tests {\n    use super::super::svg;\n}").is_empty());
    assert!(found("cli/run.rs", "use crate::{sim, report::html};").is_empty(), "the top wires everything");
    assert!(found("report/html.rs", "// crate::cli is named in a comment").is_empty());
}
