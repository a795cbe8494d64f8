//! `hxrun fuzz`: mutates real suites (random bytes, truncation, YAML tokens, line and key
//! swaps, type swaps, indentation) and runs load + plan on each mutant. Nothing may panic,
//! and every error must name a position — the promise the loader makes to suite authors.
//!
//! Deterministic for a seed, spread over every core; `cargo test` runs a few hundred cases,
//! docs/reliability.md records the last million-case run.

use super::FuzzArgs;
use crate::exit;
use crate::load::{self, LoadOptions};
use crate::plan::{self, PlanOptions};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// What a fuzz run found.
#[derive(Debug, Default)]
pub(super) struct Findings {
    pub(crate) cases: u64,
    pub(crate) accepted: u64,
    pub(crate) rejected: u64,
    /// Panics, with the mutant that caused one (the first few).
    pub(crate) panics: Vec<(String, String)>,
    /// Errors that name no position, with their message (the first few).
    pub(crate) unplaced: Vec<String>,
    pub(crate) panic_count: u64,
    pub(crate) unplaced_count: u64,
}

const KEEP: usize = 5;

pub(super) fn fuzz(args: &FuzzArgs) -> u8 {
    let suites = if args.suites.is_empty() { default_suites() } else { args.suites.clone() };
    let seeds: Vec<(PathBuf, String)> =
        suites.iter().filter_map(|p| std::fs::read_to_string(p).ok().map(|t| (p.clone(), t))).collect();
    if seeds.is_empty() {
        eprintln!("error: no suite to mutate (give suite files, or run where suites/ is)");
        return exit::INVALID;
    }
    let started = Instant::now();
    // Panics are findings, reported below with their mutant: keep them off stderr.
    std::panic::set_hook(Box::new(|_| {}));
    let findings = run(&seeds, args.cases, args.seed);
    let _ = std::panic::take_hook();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fuzz: {} cases from {} suites (seed {}) in {secs:.1}s ({:.0}/s): {} panics, {} errors without a \
         position; {} mutants rejected with errors, {} accepted",
        findings.cases,
        seeds.len(),
        args.seed,
        findings.cases as f64 / secs.max(1e-9),
        findings.panic_count,
        findings.unplaced_count,
        findings.rejected,
        findings.accepted
    );
    for (message, text) in &findings.panics {
        println!("\npanic: {message}\n--- mutant ---\n{text}\n--------------");
    }
    for message in &findings.unplaced {
        println!("error without a position: {message}");
    }
    if findings.panic_count + findings.unplaced_count > 0 { exit::FAILED } else { exit::PASSED }
}

/// The shipped suites and examples, when run from the repository.
fn default_suites() -> Vec<PathBuf> {
    ["suites", "examples"]
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect()
}

/// Runs `cases` mutants of `seeds` on every core.
pub(super) fn run(seeds: &[(PathBuf, String)], cases: u64, seed: u64) -> Findings {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let findings = Mutex::new(Findings::default());
    std::thread::scope(|scope| {
        for t in 0..threads {
            let findings = &findings;
            scope.spawn(move || {
                let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(t + 1) | 1);
                let mut local = Findings::default();
                let share = cases / threads + u64::from(t < cases % threads);
                for _ in 0..share {
                    let (path, text) = &seeds[rng.below(seeds.len())];
                    let mutant = mutate(text, &mut rng);
                    check(path, mutant, &mut local);
                }
                merge(&mut findings.lock().expect("findings lock"), local);
            });
        }
    });
    findings.into_inner().expect("findings lock")
}

fn merge(into: &mut Findings, from: Findings) {
    into.cases += from.cases;
    into.accepted += from.accepted;
    into.rejected += from.rejected;
    into.panic_count += from.panic_count;
    into.unplaced_count += from.unplaced_count;
    into.panics.extend(from.panics.into_iter().take(KEEP - into.panics.len().min(KEEP)));
    into.unplaced.extend(from.unplaced.into_iter().take(KEEP - into.unplaced.len().min(KEEP)));
}

/// Loads and plans one mutant, recording what happened.
fn check(path: &Path, mutant: String, f: &mut Findings) {
    f.cases += 1;
    let opts = LoadOptions::default();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let planned = load::load_str(path, mutant.clone(), &opts)
            .and_then(|s| plan::plan_suite(&s, &PlanOptions::default()));
        // The errors as a person sees them: drawing the snippet must not panic either.
        if let Err(errors) = &planned {
            let _ = errors.render(false);
        }
        planned
    }));
    match outcome {
        Err(panic) => {
            f.panic_count += 1;
            if f.panics.len() < KEEP {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                f.panics.push((message, mutant));
            }
        }
        Ok(Ok(_)) => f.accepted += 1,
        Ok(Err(errors)) => {
            f.rejected += 1;
            for d in errors.0.iter().filter(|d| !d.span.is_some_and(|s| s.is_known())) {
                f.unplaced_count += 1;
                if f.unplaced.len() < KEEP && !f.unplaced.contains(&d.message) {
                    f.unplaced.push(d.message.clone());
                }
            }
        }
    }
}

/// Tokens that mean something to YAML, or to hxrun's own syntax.
const TOKENS: &[&str] = &[
    ":",
    ": ",
    "{",
    "}",
    "[",
    "]",
    "- ",
    "\"",
    "'",
    "\t",
    "\n",
    "&a ",
    "*a",
    "!!str ",
    "!!binary ",
    "%YAML 1.1\n",
    "#",
    "${",
    "${X:-",
    "{{",
    "}}",
    "<<: *a\n",
    ">",
    "|",
    "~",
    "? ",
    ",",
    "null",
    "-1",
    "1e999",
    "0x1F",
    "99999999999999999999",
    "\u{feff}",
    "\0",
    "\u{85}",
    "\r",
    "\u{2028}",
    "é",
    "${HOME}",
    "{{model}}",
    "> 0",
    "$.x[",
    "(?<",
    "\\",
    "---\n",
    "...\n",
];

/// Values of other types, for type swaps.
const VALUES: &[&str] = &[
    "[]",
    "{}",
    "[a, b]",
    "{a: 1}",
    "42",
    "-3.5",
    "true",
    "null",
    "\"\"",
    "10000000000000",
    "\"${X}\"",
    "\"{{x}}\"",
    "\"< 2s\"",
    "\">= 1GiB\"",
    "[1, [2, [3]]]",
    "*a",
    "!!float 1",
    "0.0000001",
    "\"2xx\"",
];

/// One to three random edits of `text`.
fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..1 + rng.below(3) {
        edit(&mut bytes, rng);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn edit(b: &mut Vec<u8>, rng: &mut Rng) {
    let len = b.len();
    let at = rng.below(len + 1);
    match rng.below(10) {
        0 if len > 0 => b[at.min(len - 1)] = rng.below(256) as u8,
        1 => b.truncate(at),
        2 => {
            let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
            b.splice(at..at, t.iter().copied());
        }
        3..=5 => {
            let mut lines: Vec<Vec<u8>> = b.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect();
            let n = lines.len();
            let (i, j) = (rng.below(n), rng.below(n));
            match rng.below(3) {
                0 => {
                    lines.remove(i);
                }
                1 => {
                    let l = lines[i].clone();
                    lines.insert(j, l);
                }
                _ => lines.swap(i, j),
            }
            *b = lines.join(&b'\n');
        }
        // A line past column 65,535 (a minified one-line suite): padding, a long scalar left
        // open, or a long flow list, so an error lands far to the right.
        9 => {
            let long: Vec<u8> = match rng.below(3) {
                0 => vec![b' '; 70_000],
                1 => std::iter::once(b'"').chain(std::iter::repeat_n(b'a', 70_000)).collect(),
                _ => std::iter::once(b'[').chain(b"1, ".repeat(24_000)).collect(),
            };
            b.splice(at..at, long);
        }
        6 => swap_keys(b, rng),
        7 => swap_value(b, rng),
        _ => {
            // Indentation: one or two spaces more or fewer at the start of a line.
            let starts: Vec<usize> = std::iter::once(0)
                .chain(b.iter().enumerate().filter(|(_, c)| **c == b'\n').map(|(i, _)| i + 1))
                .collect();
            let s = starts[rng.below(starts.len())].min(b.len());
            if rng.below(2) == 0 {
                b.splice(s..s, std::iter::repeat_n(b' ', 1 + rng.below(2)));
            } else if b.get(s) == Some(&b' ') {
                b.remove(s);
            }
        }
    }
}

/// The `word:` keys of the text, as byte ranges.
fn keys(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphabetic() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            if b.get(i) == Some(&b':') {
                out.push((start, i));
            }
        }
        i += 1;
    }
    out
}

fn swap_keys(b: &mut Vec<u8>, rng: &mut Rng) {
    let ks = keys(b);
    if ks.len() < 2 {
        return;
    }
    let (mut x, mut y) = (ks[rng.below(ks.len())], ks[rng.below(ks.len())]);
    if x.0 > y.0 {
        std::mem::swap(&mut x, &mut y);
    }
    if x.1 > y.0 {
        return;
    }
    let (kx, ky) = (b[x.0..x.1].to_vec(), b[y.0..y.1].to_vec());
    b.splice(y.0..y.1, kx);
    b.splice(x.0..x.1, ky);
}

fn swap_value(b: &mut Vec<u8>, rng: &mut Rng) {
    let ks = keys(b);
    if ks.is_empty() {
        return;
    }
    let (_, end) = ks[rng.below(ks.len())];
    let from = end + 1;
    let to = b[from..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| from + p);
    let v = format!(" {}", VALUES[rng.below(VALUES.len())]);
    b.splice(from..to, v.into_bytes());
}

/// xorshift64: small, deterministic, good enough to pick edits.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        if n == 0 { 0 } else { (self.0 % n as u64) as usize }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutants_of_the_shipped_suites_never_panic_and_every_error_has_a_place() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let seeds: Vec<(PathBuf, String)> =
            ["suites/phase6.yaml", "suites/capacity.yaml", "examples/secrets.yaml"]
                .iter()
                .map(|p| (root.join(p), std::fs::read_to_string(root.join(p)).unwrap()))
                .collect();
        let f = run(&seeds, 400, 7);
        assert_eq!(f.cases, 400);
        assert_eq!(f.panic_count, 0, "{:?}", f.panics);
        assert_eq!(f.unplaced_count, 0, "{:?}", f.unplaced);
        assert!(f.rejected > 0 && f.accepted > 0, "mutants both accepted and rejected: {f:?}");
    }
}
