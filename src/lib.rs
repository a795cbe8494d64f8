//! hxrun: a declarative, YAML-driven test runner for LLM inference servers.
//!
//! The pipeline, one module per stage: [`load`] (YAML with positions, variables) →
//! [`plan`] (for_each expansion, filters; no I/O) → [`execute`] (steps under timeouts) →
//! [`assert`] (pure verdicts) → [`report`] (console, JUnit, CSV, JSON). [`spec`] holds the
//! suite format and [`sim`] the built-in server used for hermetic tests.

pub mod assert;
pub mod bench;
pub mod cli;
pub mod execute;
pub mod exit;
pub mod gpu;
pub mod load;
pub mod mask;
pub mod perf;
pub mod plan;
pub mod protocol;
pub mod record;
pub mod report;
pub mod sim;
pub mod spec;
