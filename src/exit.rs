//! Process exit codes: the one place that defines them (README and --help repeat them).

/// Every test passed (or was skipped).
pub(crate) const PASSED: u8 = 0;
/// At least one test failed.
pub(crate) const FAILED: u8 = 1;
/// A suite is invalid, or the command line is wrong.
pub(crate) const INVALID: u8 = 2;
/// hxrun itself could not do its job (e.g. a report could not be written).
pub(crate) const INTERNAL: u8 = 3;

/// The text `--help` shows.
pub(crate) const HELP: &str = "Exit codes:\n  0  all tests passed\n  1  at least one test failed\n  \
2  invalid suite or usage\n  3  hxrun error (e.g. a report could not be written)";
