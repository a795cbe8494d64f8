//! Dependencies run one way. The pipeline's stages — load → plan → execute → assert → report —
//! use earlier stages and the shared rooms below them, never a later stage; the shared rooms
//! (the suite format, protocols, masking, GPUs, statistics, the run's records) use only rooms
//! below themselves. Checked by reading every `crate::` path in src/.

use std::collections::BTreeMap;
use std::path::Path;

/// The shared rooms, lowest first: each may use only those before it.
const ROOMS: &[&str] = &["exit", "files", "mask", "suite", "protocol", "gpu", "perf", "record", "sim"];
/// The stages, in pipeline order.
const STAGES: &[&str] = &["load", "plan", "execute", "assert", "report"];
/// The top: it wires everything.
const TOP: &[&str] = &["cli", "bench", "lib", "main"];

fn module_of(path: &Path, src: &Path) -> String {
    let rel = path.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_string()
}

fn rs_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
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
        (_, Some(f)) => room(to).is_some() || stage(to).is_some_and(|t| t < f),
        _ => false,
    }
}

#[test]
fn dependencies_run_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    let mut arrows: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for file in &files {
        let from = module_of(file, &src);
        let text = std::fs::read_to_string(file).unwrap();
        for (i, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(at) = rest.find("crate::") {
                let tail = &rest[at + 7..];
                let to: String =
                    tail.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !to.is_empty() && !allowed(&from, &to) {
                    let place = format!("{}:{}", file.strip_prefix(&src).unwrap().display(), i + 1);
                    arrows.entry((from.clone(), to)).or_default().push(place);
                }
                rest = tail;
            }
        }
    }
    let known: Vec<&str> = ROOMS.iter().chain(STAGES).chain(TOP).copied().collect();
    for file in &files {
        let m = module_of(file, &src);
        assert!(known.contains(&m.as_str()), "src/{m} is in no layer: add it to ROOMS, STAGES or TOP");
    }
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
