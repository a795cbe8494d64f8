//! `--shard K/N`: a deterministic, balanced slice of a run's tests, so N machines (CI parallel
//! jobs, a Kubernetes Indexed Job) run disjoint slices whose union is the whole run.
//!
//! Every expanded test of every suite is placed by a stable hash of its suite and name (FNV-1a:
//! the same on every machine and hxrun version, unlike std's hasher), then the tests, in that
//! hash order, are dealt round-robin to the shards. So shards differ in size by one at most,
//! and reordering tests in a file moves no test to another shard.

use super::SuitePlan;
use std::fmt;

/// Slice K of N (K counted from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shard {
    pub(crate) index: usize,
    pub(crate) total: usize,
}

impl Shard {
    /// `K/N` with 1 ≤ K ≤ N.
    pub(crate) fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("\"{text}\" is not a shard like 2/4 (the second of four, counted from 1)");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, total): (usize, usize) =
            (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if total == 0 || index == 0 || index > total {
            return Err(bad());
        }
        Ok(Shard { index, total })
    }

    /// The shard CI says this job is: GitLab's `parallel:` (CI_NODE_INDEX/CI_NODE_TOTAL, from
    /// 1), or a Kubernetes Indexed Job's JOB_COMPLETION_INDEX (from 0) with HXRUN_SHARD_TOTAL.
    pub(crate) fn from_env(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<(Shard, &'static str)>, String> {
        let num = |k: &str| get(k).filter(|v| !v.is_empty());
        if let (Some(i), Some(n)) = (num("CI_NODE_INDEX"), num("CI_NODE_TOTAL")) {
            return Shard::parse(&format!("{i}/{n}"))
                .map(|s| Some((s, "CI_NODE_INDEX/CI_NODE_TOTAL")))
                .map_err(|e| format!("CI_NODE_INDEX/CI_NODE_TOTAL: {e}"));
        }
        if let (Some(i), Some(n)) = (num("JOB_COMPLETION_INDEX"), num("HXRUN_SHARD_TOTAL")) {
            let i: usize = i.parse().map_err(|_| format!("JOB_COMPLETION_INDEX \"{i}\" is not a number"))?;
            return Shard::parse(&format!("{}/{n}", i + 1))
                .map(|s| Some((s, "JOB_COMPLETION_INDEX/HXRUN_SHARD_TOTAL")))
                .map_err(|e| format!("JOB_COMPLETION_INDEX/HXRUN_SHARD_TOTAL: {e}"));
        }
        Ok(None)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.total)
    }
}

fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Keeps this shard's tests; returns how many tests there were in all. The unit dealt is a
/// test, or a pass-rate gate with all its cases (so each shard's gates judge every case and
/// its exit code means what the whole run's would).
pub(crate) fn apply(plans: &mut [SuitePlan], shard: Shard) -> usize {
    let unit = |t: &crate::plan::PlannedTest| t.gate.as_ref().map_or(t.name.clone(), |g| g.name.clone());
    let mut all: Vec<(u64, String, String)> = plans
        .iter()
        .flat_map(|p| p.tests.iter().map(move |t| (fnv1a(&[&p.name, &unit(t)]), p.name.clone(), unit(t))))
        .collect();
    let tests = all.len();
    all.sort();
    all.dedup();
    let mine: std::collections::HashSet<(String, String)> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| i % shard.total == shard.index - 1)
        .map(|(_, (_, s, t))| (s.clone(), t.clone()))
        .collect();
    for p in plans.iter_mut() {
        let suite = p.name.clone();
        p.tests.retain(|t| mine.contains(&(suite.clone(), unit(t))));
    }
    tests
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_from_flags_and_ci_variables() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, total: 4 }));
        for bad in ["0/4", "5/4", "1/0", "a/b", "3"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let gitlab = Shard::from_env(env(&[("CI_NODE_INDEX", "3"), ("CI_NODE_TOTAL", "3")])).unwrap();
        assert_eq!(gitlab.map(|s| s.0), Some(Shard { index: 3, total: 3 }));
        let k8s = Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "0"), ("HXRUN_SHARD_TOTAL", "2")])).unwrap();
        assert_eq!(k8s.map(|s| s.0), Some(Shard { index: 1, total: 2 }), "Kubernetes counts from 0");
        assert_eq!(
            Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "0")])).unwrap(),
            None,
            "no total, no shard"
        );
        assert!(Shard::from_env(env(&[("CI_NODE_INDEX", "5"), ("CI_NODE_TOTAL", "4")])).is_err());
    }

    #[test]
    fn the_hash_is_fixed_across_machines_and_versions() {
        // FNV-1a of "s\0t\0": a change here would move tests between shards of a running fleet.
        assert_eq!(fnv1a(&["s", "t"]), fnv1a(&["s", "t"]));
        assert_ne!(fnv1a(&["s", "t"]), fnv1a(&["st", ""]), "the separator keeps names apart");
        assert_eq!(fnv1a(&[]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(&["a"]), 0x089b_e207_b544_f1e4);
    }
}
