//! Performance measurement, independent of how requests are sent: statistics, per-level
//! results, saturation (knee) detection, the capacity search's decisions, baseline
//! comparison, and the interval of a share (a pass rate, an SLO attainment). Pure data and
//! functions; the loops that produce samples are `execute/perf.rs` and `execute/shapes.rs`.

pub(crate) mod baseline;
pub(crate) mod change;
pub(crate) mod knee;
pub(crate) mod looks;
pub(crate) mod merge;
pub(crate) mod rate;
pub(crate) mod result;
pub(crate) mod samples;
pub(crate) mod samples_file;
pub(crate) mod search;
pub(crate) mod stats;
pub(crate) mod windows;
