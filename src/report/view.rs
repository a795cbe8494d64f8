//! A run as the HTML and Markdown reports see it, read from report.json's shape.
//!
//! Both a live run and `hxrun report`/`hxrun compare` render from this one view: the live
//! run serializes its record to JSON and reads it back here, so a report re-rendered from a
//! saved report.json is the report the run wrote — and report.json is proven to hold all a
//! report shows. Fields hxrun did not write (an older report) read as absent, never an error.

use crate::suite::metrics::{Figure, Figures, Metric, by_name};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

use crate::record::REPORT_FORMAT;

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Run {
    #[serde(default)]
    pub(crate) format: u32,
    #[serde(default)]
    pub(crate) hxrun_version: String,
    #[serde(default)]
    pub(crate) started_at: String,
    #[serde(default)]
    pub(crate) duration: f64,
    #[serde(default)]
    pub(crate) suites: Vec<Suite>,
    #[serde(default)]
    pub(crate) gpu_samples: Vec<GpuSample>,
    #[serde(default)]
    pub(crate) stopped: Option<String>,
    #[serde(default)]
    pub(crate) warnings: Vec<String>,
    #[serde(default)]
    pub(crate) verdicts: Vec<crate::record::Verdict>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Suite {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) file: String,
    #[serde(default)]
    pub(crate) target: String,
    #[serde(default)]
    pub(crate) host: Option<String>,
    #[serde(default)]
    pub(crate) duration: f64,
    #[serde(default)]
    pub(crate) tests: Vec<Test>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Test {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) tags: Vec<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) location: String,
    #[serde(default)]
    pub(crate) step: String,
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default)]
    pub(crate) cause: Option<crate::record::Cause>,
    #[serde(default)]
    pub(crate) duration: f64,
    #[serde(default)]
    pub(crate) assertions: Vec<Assertion>,
    #[serde(default)]
    pub(crate) detail: String,
    #[serde(default)]
    pub(crate) observation: Option<Value>,
    #[serde(default)]
    pub(crate) params: Vec<(String, String)>,
    /// A pass-rate gate's figures and cases.
    #[serde(default)]
    pub(crate) pass_rate: Option<Box<PassRate>>,
}

/// A pass-rate gate as report.json holds it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PassRate {
    #[serde(default)]
    pub(crate) required: String,
    #[serde(default)]
    pub(crate) passed: u64,
    #[serde(default)]
    pub(crate) total: u64,
    #[serde(default)]
    pub(crate) rate: Option<f64>,
    #[serde(default)]
    pub(crate) low: Option<f64>,
    #[serde(default)]
    pub(crate) high: Option<f64>,
    #[serde(default)]
    pub(crate) cases: Vec<Test>,
}

impl Test {
    /// What tells a gate's case from its other cases: its own `for_each` values, else its name.
    pub(crate) fn case_label(&self, gate: &Test) -> String {
        crate::assert::gate::label(&self.name, &self.params, &gate.params)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Assertion {
    pub(crate) what: String,
    pub(crate) passed: bool,
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default)]
    pub(crate) expected: Option<String>,
    #[serde(default)]
    pub(crate) actual: Option<String>,
    #[serde(default)]
    pub(crate) key: Option<crate::record::Source>,
    #[serde(default)]
    pub(crate) at: Option<Place>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Place {
    pub(crate) file: String,
    pub(crate) line: u32,
    #[serde(default)]
    pub(crate) source: String,
}

/// What a generate/chat step measured (the figures a report shows).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Llm {
    #[serde(default)]
    pub(crate) model: String,
    #[serde(default)]
    pub(crate) stream: bool,
    #[serde(default)]
    pub(crate) ttft: Option<f64>,
    #[serde(default)]
    pub(crate) e2e: f64,
    #[serde(default)]
    pub(crate) client_tokens_per_s: Option<f64>,
    #[serde(default)]
    pub(crate) server_tokens_per_s: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Perf {
    #[serde(default)]
    pub(crate) model: Option<String>,
    #[serde(default)]
    pub(crate) request: String,
    #[serde(default)]
    pub(crate) levels: Vec<Level>,
    /// A report written before the knee had intervals has none here.
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) knee: Option<crate::perf::knee::Knee>,
    /// The lengths asked for (`perf.input`, `perf.output`), when the step set them.
    #[serde(default)]
    pub(crate) input: Option<Value>,
    #[serde(default)]
    pub(crate) output: Option<Value>,
    /// A capacity search's path and result (a report of another version's shape: none).
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) search: Option<crate::perf::search::SearchResult>,
}

impl Level {
    /// What identifies it across runs (`perf::result::LevelKey`).
    pub(crate) fn key(&self) -> crate::perf::result::LevelKey {
        crate::perf::result::LevelKey::of(self.concurrency, self.stage, &self.figures)
    }

    /// How a person reads which level it was: `c=4`, `stage 2 (8/s)`.
    pub(crate) fn label(&self) -> String {
        self.key().label(self.concurrency, self.rate.map(|r| r.asked))
    }
}

/// A value of a shape this build cannot read is left out, not an error.
fn lenient<'de, D: serde::Deserializer<'de>, T: serde::de::DeserializeOwned>(
    d: D,
) -> Result<Option<T>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(value).ok())
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Level {
    pub(crate) concurrency: u32,
    /// A stage of a ramp or a probe of a capacity search.
    #[serde(default)]
    pub(crate) stage: Option<crate::perf::result::StageOf>,
    /// An open loop's rate, asked and sent.
    #[serde(default)]
    pub(crate) rate: Option<crate::perf::result::RateSent>,
    #[serde(default)]
    pub(crate) requests: usize,
    #[serde(default)]
    pub(crate) errors: usize,
    #[serde(default, deserialize_with = "by_name::deserialize")]
    pub(crate) stats: BTreeMap<Metric, Stats>,
    #[serde(default, deserialize_with = "by_name::deserialize")]
    pub(crate) figures: Figures,
    #[serde(default)]
    pub(crate) samples: Vec<Sample>,
    #[serde(default)]
    pub(crate) samples_not_in_report: usize,
    #[serde(default)]
    pub(crate) gpu_samples: Vec<GpuSample>,
    /// A soak's window length (seconds), its windows and the drift of each figure.
    #[serde(default)]
    pub(crate) window: Option<f64>,
    #[serde(default)]
    pub(crate) windows: Vec<Window>,
    #[serde(default, deserialize_with = "by_name::deserialize")]
    pub(crate) drift: BTreeMap<Figure, Drift>,
}

impl Assertion {
    /// A perf figure against the baseline (`--baseline`).
    pub(crate) fn judges_a_regression(&self) -> bool {
        matches!(self.key, Some(crate::record::Source::Regression(_)))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Window {
    pub(crate) index: u64,
    #[serde(default, deserialize_with = "by_name::deserialize")]
    pub(crate) figures: Figures,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Drift {
    pub(crate) first: f64,
    pub(crate) last: f64,
    #[serde(default)]
    pub(crate) relative: Option<f64>,
    #[serde(default)]
    pub(crate) per_hour: f64,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(crate) struct Stats {
    #[serde(default)]
    pub(crate) count: usize,
    pub(crate) mean: f64,
    #[serde(default)]
    pub(crate) cov: f64,
    pub(crate) p50: f64,
    #[serde(default)]
    pub(crate) p90: f64,
    pub(crate) p95: f64,
    pub(crate) p99: f64,
    #[serde(default)]
    pub(crate) min: f64,
    #[serde(default)]
    pub(crate) max: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Sample {
    #[serde(default)]
    pub(crate) started_at: String,
    #[serde(default)]
    pub(crate) ok: bool,
    #[serde(default)]
    pub(crate) e2e: f64,
    #[serde(default)]
    pub(crate) ttft: Option<f64>,
    #[serde(default)]
    pub(crate) itl: Vec<f64>,
    #[serde(default)]
    pub(crate) tokens_per_s: Option<f64>,
    #[serde(default)]
    pub(crate) input_tokens: Option<f64>,
    #[serde(default)]
    pub(crate) output_tokens: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GpuSample {
    pub(crate) timestamp: String,
    pub(crate) gpu: u32,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) util_pct: Option<f64>,
    #[serde(default)]
    pub(crate) mem_used: u64,
    #[serde(default)]
    pub(crate) power_w: Option<f64>,
    #[serde(default)]
    pub(crate) temp_c: Option<f64>,
    #[serde(default)]
    pub(crate) test: Option<String>,
    /// The machine the GPU is in, when not the one hxrun ran on.
    #[serde(default)]
    pub(crate) host: Option<String>,
}

impl Run {
    /// Reads a run from report.json's value; a newer format is refused.
    pub(crate) fn from_value(value: Value) -> Result<Run, String> {
        Run::checked(serde_json::from_value(value).map_err(|e| format!("not an hxrun report: {e}"))?)
    }

    /// A run from report.json's text.
    pub(crate) fn from_str(text: &str) -> Result<Run, String> {
        Run::checked(serde_json::from_str(text).map_err(|e| format!("not an hxrun report: {e}"))?)
    }

    fn checked(run: Run) -> Result<Run, String> {
        if run.format > REPORT_FORMAT {
            return Err(format!(
                "report format {} is newer than this hxrun reads (format {REPORT_FORMAT}); use the hxrun \
                 that wrote it (version {})",
                run.format, run.hxrun_version
            ));
        }
        Ok(run)
    }

    pub(crate) fn tests(&self) -> impl Iterator<Item = (&Suite, &Test)> {
        self.suites.iter().flat_map(|s| s.tests.iter().map(move |t| (s, t)))
    }

    /// The fleets of the run: checks × hosts.
    pub(crate) fn fleets(&self) -> Vec<super::matrix::Matrix> {
        super::matrix::fleets(self.suites.iter().map(|s| {
            (
                s.name.as_str(),
                s.host.as_deref(),
                s.tests.iter().map(|t| (t.name.as_str(), t.status.as_str())).collect(),
            )
        }))
    }

    pub(crate) fn count(&self, status: &str) -> usize {
        self.tests().filter(|(_, t)| t.status == status).count()
    }

    /// Every distinct target, in order.
    pub(crate) fn targets(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for s in &self.suites {
            if !s.target.is_empty() && !out.contains(&s.target.as_str()) {
                out.push(&s.target);
            }
        }
        out
    }
}

impl Test {
    fn observation_as<T: for<'de> Deserialize<'de>>(&self, kind: &str) -> Option<T> {
        let o = self.observation.as_ref()?;
        (o.get("kind").and_then(Value::as_str) == Some(kind))
            .then(|| serde_json::from_value(o.clone()).ok())?
    }

    pub(crate) fn llm(&self) -> Option<Llm> {
        self.observation_as("llm")
    }

    pub(crate) fn perf(&self) -> Option<Perf> {
        self.observation_as("perf")
    }

    /// The request line or address the step used, for the failure list.
    pub(crate) fn request_line(&self) -> Option<String> {
        let o = self.observation.as_ref()?;
        let get = |k: &str| o.get(k).and_then(Value::as_str);
        match (get("method"), get("url")) {
            (Some(m), Some(u)) => Some(format!("{m} {u}")),
            // Without a method: an LLM call or a pull (POST), a model listing (GET).
            (None, Some(u)) => {
                let method =
                    if o.get("kind").and_then(Value::as_str) == Some("models") { "GET" } else { "POST" };
                Some(format!("{method} {u}"))
            }
            _ => get("address").map(|a| format!("connect {a}")).or_else(|| {
                o.get("command")
                    .and_then(Value::as_array)
                    .map(|c| c.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "))
            }),
        }
    }

    /// A short excerpt of what came back (body, answer, output), for the failure list.
    pub(crate) fn response_excerpt(&self) -> Option<String> {
        let o = self.observation.as_ref()?;
        ["body", "text", "stdout", "error"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()))
            .map(|s| crate::record::excerpt(s, 400))
    }
}

impl Level {
    /// Seconds since the level's first request, with the value `f` picks from each sample.
    pub(crate) fn timeline(&self, f: impl Fn(&Sample) -> Option<f64>) -> Vec<(f64, f64)> {
        let times: Vec<Option<f64>> = self.samples.iter().map(|s| seconds_of(&s.started_at)).collect();
        let start = times.iter().flatten().copied().fold(f64::INFINITY, f64::min);
        self.samples.iter().zip(times).filter_map(|(s, t)| Some((t? - start, f(s)?))).collect()
    }
}

/// An RFC 3339 timestamp as seconds since the epoch.
pub(crate) fn seconds_of(ts: &str) -> Option<f64> {
    let t = chrono::DateTime::parse_from_rfc3339(ts).ok()?;
    Some(t.timestamp() as f64 + f64::from(t.timestamp_subsec_nanos()) / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_newer_format_is_refused_and_an_old_one_reads() {
        let err = Run::from_value(json!({ "format": 99, "hxrun_version": "9.0", "suites": [] })).unwrap_err();
        assert!(err.contains("format 99 is newer"), "{err}");
        let old = Run::from_value(json!({ "suites": [{ "name": "s", "tests": [
            { "name": "t", "status": "passed", "observation": { "kind": "llm", "model": "m", "ttft": 0.05 } }
        ] }] }))
        .unwrap();
        let (_, t) = old.tests().next().unwrap();
        assert_eq!(t.llm().unwrap().ttft, Some(0.05));
        assert!(t.perf().is_none(), "an llm observation is not a perf one");
    }

    #[test]
    fn a_timeline_counts_from_the_first_request() {
        let level: Level = serde_json::from_value(json!({ "concurrency": 1, "samples": [
            { "started_at": "2026-01-01T00:00:01.5Z", "ok": true, "e2e": 0.2 },
            { "started_at": "2026-01-01T00:00:01Z", "ok": true, "e2e": 0.1 }
        ] }))
        .unwrap();
        assert_eq!(level.timeline(|s| Some(s.e2e)), vec![(0.5, 0.2), (0.0, 0.1)]);
    }
}
