//! Performance measurement, independent of how requests are sent: statistics, per-level
//! results, saturation (knee) detection, and baseline comparison. Pure data and functions;
//! the loop that produces samples is `execute/perf.rs`.

pub(crate) mod baseline;
pub(crate) mod change;
pub(crate) mod knee;
pub(crate) mod merge;
pub(crate) mod result;
pub(crate) mod samples;
pub(crate) mod samples_file;
pub(crate) mod stats;
pub(crate) mod windows;
