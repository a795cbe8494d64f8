//! hxrun: a declarative, YAML-driven test runner for LLM inference servers.
//!
//! The pipeline, one module per stage: [`load`] (YAML with positions, variables) →
//! [`plan`] (for_each expansion, filters; no I/O) → [`execute`] (steps under timeouts) →
//! [`assert`] (pure verdicts) → [`report`] (console, JUnit, CSV, JSON). [`suite`] holds the
//! suite format and [`sim`] the built-in server used for hermetic tests.

#![warn(unreachable_pub)]

pub(crate) mod assert;
pub(crate) mod bench;
pub mod cli;
pub(crate) mod execute;
pub(crate) mod exit;
pub(crate) mod files;
pub(crate) mod gpu;
pub(crate) mod load;
pub(crate) mod mask;
pub(crate) mod perf;
pub(crate) mod plan;
pub(crate) mod protocol;
pub(crate) mod record;
pub(crate) mod report;
pub mod sim;

/// The suite format's JSON Schema (what `hxrun schema` prints).
pub use suite::json_schema;
pub(crate) mod suite;
