//! The run's results as OpenMetrics text, for Prometheus: written to a file for
//! node_exporter's textfile collector (`--metrics-file`), or sent to a Pushgateway (`--push`).
//!
//! Encoded by prometheus-client (the Prometheus project's Rust client): names, `# HELP`,
//! `# TYPE`, `# UNIT`, label values escaped as the format says. Every series is a gauge — the
//! last run's figure; Prometheus keeps the history. The scheme (docs/prometheus.md):
//!
//! - `hxrun_run_passed`, `hxrun_run_duration_seconds`, `hxrun_run_start_timestamp_seconds`
//! - `hxrun_tests{suite,target,status}` — tests of each status (a pass rate is
//!   `passed / (passed + failed)`)
//! - `hxrun_test_passed{suite,test,target,model}` (1 or 0; skipped tests have none) and
//!   `hxrun_test_duration_seconds{...}`
//! - every figure of an answer, `hxrun_<metric>_<unit>{suite,test,target,model}`, and of each
//!   perf level, `hxrun_<metric>_<unit>{suite,test,target,model,concurrency,stat}` (and `level`,
//!   `stage 2` or `capacity`, for a ramp's stages and a capacity search's probes) with `stat`
//!   one of mean, min, max, stddev, p50, p90, p95, p99 (absent for a level's whole figures:
//!   `hxrun_request_throughput_per_second`, `hxrun_gpu_memory_used_max_bytes`...). Units are
//!   Prometheus' base units: seconds, bytes, ratios (0–1, for percentages), watts, celsius,
//!   `per_second` for rates (`hxrun_tokens_per_second`); a coefficient of variation is
//!   `hxrun_<metric>_cov_ratio` (`hxrun_tokens_per_second_cov_ratio`); Ollama's token counts
//!   are `_tokens`, not `_count` (a histogram's suffix): `hxrun_eval_tokens`.
//!
//! The text is masked like every report (`Output::write_file`; the push masks it the same way).

use super::{Event, Output, Reporter};
use crate::record::{Observation, RunRecord, Status, SuiteRecord, TestResult};
use crate::suite::metrics::{Metric, Stat, Unit};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{self, Registry};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

/// A gauge of an f64.
type Value = Gauge<f64, AtomicU64>;
/// Label pairs, in the order written.
type Labels = Vec<(String, String)>;

/// Writes the run's metrics to a file (atomically: the textfile collector never reads half).
pub(crate) struct OpenMetricsReporter {
    path: PathBuf,
}

impl OpenMetricsReporter {
    pub(crate) fn new(path: PathBuf) -> Self {
        OpenMetricsReporter { path }
    }
}

impl Reporter for OpenMetricsReporter {
    fn handle(&mut self, event: &Event, out: &Output) -> Result<(), super::ReportError> {
        let Event::RunFinished { record } = event else {
            return Ok(());
        };
        out.write_file(&self.path, &render(record)?)
    }
}

/// One metric family: its name without the prefix, help and unit.
#[derive(Clone)]
struct Name {
    name: String,
    help: String,
    unit: Option<registry::Unit>,
}

/// The families of a run, gathered before they are registered (a registry takes each once).
#[derive(Default)]
struct Families {
    by_name: BTreeMap<String, (Name, Family<Labels, Value>)>,
}

impl Families {
    fn set(&mut self, name: Name, labels: Labels, value: f64) {
        let key = format!("{}_{}", name.name, name.unit.as_ref().map_or("", |u| u.as_str()));
        let (_, family) = self.by_name.entry(key).or_insert_with(|| (name, Family::default()));
        family.get_or_create(&labels).set(value);
    }

    fn registry(self) -> Registry {
        let mut registry = Registry::with_prefix("hxrun");
        for (_, (name, family)) in self.by_name {
            match name.unit {
                Some(unit) => registry.register_with_unit(name.name, name.help, unit, family),
                None => registry.register(name.name, name.help, family),
            }
        }
        registry
    }
}

/// A metric's family: its name (`tokens_per_s` read as `tokens`, the unit saying per second),
/// Prometheus' unit, and the factor from hxrun's unit to it (percent to ratio).
fn family_of(metric: Metric) -> Option<(Name, f64)> {
    // Ollama's `eval_count` is a number of tokens; a `_count` suffix is a histogram's.
    let base = metric.name().replace('.', "_").replace("_count", "_tokens");
    let (name, unit, scale) = match metric.unit() {
        Unit::Seconds => (base, Some(registry::Unit::Seconds), 1.0),
        Unit::Count => (base, None, 1.0),
        Unit::PerSecond => {
            (base.strip_suffix("_per_s").unwrap_or(&base).to_string(), Some(other("per_second")), 1.0)
        }
        Unit::Percent => (base, Some(other("ratio")), 0.01),
        Unit::Bytes => (base, Some(registry::Unit::Bytes), 1.0),
        Unit::Watts => (base, Some(other("watts")), 1.0),
        Unit::Celsius => (base, Some(registry::Unit::Celsius), 1.0),
        Unit::Text => return None,
    };
    Some((Name { name, help: metric.doc().to_string(), unit }, scale))
}

fn other(unit: &str) -> registry::Unit {
    registry::Unit::Other(unit.to_string())
}

/// The coefficient of variation of a metric (hxrun's percent as a ratio).
fn cov_of(metric: Metric) -> Name {
    Name {
        name: format!("{}_cov", metric.name().replace('.', "_").replace("_per_s", "_per_second")),
        help: format!("coefficient of variation of {}", metric.name()),
        unit: Some(other("ratio")),
    }
}

fn plain(name: &str, help: &str, unit: Option<registry::Unit>) -> Name {
    Name { name: name.to_string(), help: help.to_string(), unit }
}

/// The model a test asked for, as its observation recorded it.
fn model_of(t: &TestResult) -> String {
    match &t.observation {
        Some(Observation::Llm(o)) => o.model.clone(),
        Some(Observation::Perf(p)) => p.model.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
    }
}

/// The run as OpenMetrics text (unmasked: the writer masks it).
pub(crate) fn render(record: &RunRecord) -> Result<String, super::ReportError> {
    let mut f = Families::default();
    f.set(
        plain("run_passed", "1 when every test of the run passed", None),
        Vec::new(),
        (!record.failed()) as u8 as f64,
    );
    f.set(
        plain("run_duration", "how long the run took", Some(registry::Unit::Seconds)),
        Vec::new(),
        record.duration.as_secs_f64(),
    );
    f.set(
        plain("run_start_timestamp", "when the run started (Unix time)", Some(registry::Unit::Seconds)),
        Vec::new(),
        record.started_at.timestamp_millis() as f64 / 1000.0,
    );
    for suite in &record.suites {
        suite_metrics(&mut f, suite);
    }
    let mut text = String::new();
    encode(&mut text, &f.registry()).map_err(|e| super::ReportError::render("OpenMetrics")(&e))?;
    Ok(in_order(&text))
}

/// The text with each family's series in their labels' order (the encoder writes them in a
/// hash map's), so a file diffs cleanly against the last run's. Only the order of a family's
/// sample lines changes; every line stays as the encoder wrote it.
fn in_order(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut series: Vec<&str> = Vec::new();
    let flush = |series: &mut Vec<&str>, out: &mut String| {
        series.sort_unstable();
        for l in series.drain(..) {
            out.push_str(l);
            out.push('\n');
        }
    };
    for line in text.lines() {
        if line.starts_with('#') {
            flush(&mut series, &mut out);
            out.push_str(line);
            out.push('\n');
        } else {
            series.push(line);
        }
    }
    flush(&mut series, &mut out);
    out
}

fn suite_metrics(f: &mut Families, suite: &SuiteRecord) {
    for status in [Status::Passed, Status::Failed, Status::Skipped] {
        let labels = vec![
            ("suite".to_string(), suite.name.clone()),
            ("target".to_string(), suite.target.clone()),
            ("status".to_string(), status_name(status).to_string()),
        ];
        f.set(
            plain("tests", "tests of the suite with this status", None),
            labels,
            suite.count(status) as f64,
        );
    }
    for t in &suite.tests {
        let labels: Labels = vec![
            ("suite".to_string(), suite.name.clone()),
            ("test".to_string(), t.name.clone()),
            ("target".to_string(), suite.target.clone()),
            ("model".to_string(), model_of(t)),
        ];
        if t.status == Status::Skipped {
            continue;
        }
        f.set(
            plain("test_passed", "1 when the test passed, 0 when it failed", None),
            labels.clone(),
            (t.status == Status::Passed) as u8 as f64,
        );
        f.set(
            plain(
                "test_duration",
                "how long the test took, its retries included",
                Some(registry::Unit::Seconds),
            ),
            labels.clone(),
            t.duration.as_secs_f64(),
        );
        match &t.observation {
            Some(Observation::Llm(o)) => {
                for &metric in crate::suite::metrics::LLM.iter().chain(crate::suite::metrics::GPU) {
                    let value = match o.metric(metric) {
                        Some(serde_json::Value::Number(n)) => n.as_f64(),
                        _ => None,
                    };
                    if let (Some(v), Some((name, scale))) = (value, family_of(metric)) {
                        f.set(name, labels.clone(), v * scale);
                    }
                }
            }
            Some(Observation::Perf(p)) => {
                for level in &p.levels {
                    let mut at = labels.clone();
                    at.push(("concurrency".to_string(), level.concurrency.to_string()));
                    // A ramp's stages (a search's probes) may share a concurrency: each is its own series.
                    if level.stage.is_some() {
                        at.push(("level".to_string(), level.key().to_string()));
                    }
                    for (&metric, stats) in &level.stats {
                        let Some((name, scale)) = family_of(metric) else { continue };
                        f.set(cov_of(metric), at.clone(), stats.get(Stat::Cov) / 100.0);
                        // Count is `requests`; cov is a ratio of its own (above).
                        for stat in Stat::ALL.into_iter().filter(|s| !matches!(s, Stat::Count | Stat::Cov)) {
                            let mut labels = at.clone();
                            labels.push(("stat".to_string(), stat.name().to_string()));
                            f.set(name.clone(), labels, stats.get(stat) * scale);
                        }
                    }
                    for (figure, &v) in &level.figures {
                        if figure.stat.is_some() {
                            continue;
                        }
                        if let Some((name, scale)) = family_of(figure.metric) {
                            f.set(name, at.clone(), v * scale);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
