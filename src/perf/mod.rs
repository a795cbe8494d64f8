//! Performance measurement, independent of how requests are sent: statistics, per-level
//! results, saturation (knee) detection, and baseline comparison. Pure data and functions;
//! the loop that produces samples is `execute/perf.rs`.

pub mod baseline;
pub mod knee;
pub mod result;
pub mod samples;
pub mod stats;
