//! What a perf step measured: every request (a `Sample`), and per concurrency level the
//! statistics and aggregates that thresholds, baselines and reports read by name.

use super::knee::Knee;
use super::samples::Summary;
use super::samples_file::SampleFile;
use super::stats::Stats;
use crate::protocol::ServerFigures;
use crate::suite::metrics::{Figure, Figures, Metric, Stat, by_name};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// One measured request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Sample {
    pub(crate) started_at: DateTime<Utc>,
    /// 1-based, within its concurrency level.
    pub(crate) iter: u32,
    pub(crate) concurrency: u32,
    pub(crate) ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    /// Seconds.
    pub(crate) e2e: f64,
    pub(crate) ttft: Option<f64>,
    /// Gaps between content chunks, seconds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) itl: Vec<f64>,
    pub(crate) output_tokens: Option<u64>,
    /// The prompt's tokens as hxrun counted them with the server's tokenizer (`perf.input`).
    pub(crate) input_tokens: Option<u64>,
    /// Client tokens/s of this request.
    pub(crate) tokens_per_s: Option<f64>,
    pub(crate) server: ServerFigures,
}

impl Sample {
    /// A request that measured only its end-to-end time (and failed when `error` is set);
    /// the caller fills in what else it measured, and when and where it ran.
    pub(crate) fn bare(error: Option<String>, e2e: f64) -> Sample {
        Sample::at(Utc::now(), error, e2e)
    }

    /// `bare`, started at `started_at`.
    pub(crate) fn at(started_at: DateTime<Utc>, error: Option<String>, e2e: f64) -> Sample {
        Sample {
            started_at,
            iter: 0,
            concurrency: 0,
            ok: error.is_none(),
            error,
            e2e,
            ttft: None,
            itl: Vec::new(),
            output_tokens: None,
            input_tokens: None,
            tokens_per_s: None,
            server: ServerFigures::default(),
        }
    }

    /// Time per output token after the first: (e2e − ttft) / (tokens − 1), for an answer of two
    /// tokens or more whose first token was timed.
    pub(crate) fn tpot(&self) -> Option<f64> {
        match (self.ttft, self.output_tokens) {
            (Some(t), Some(n)) if n > 1 => Some((self.e2e - t) / (n - 1) as f64),
            _ => None,
        }
    }

    /// Whether this request succeeded and met every bound of `slo` (time per output token as
    /// `Metric::Tpot` has it; an answer of one token meets a `tpot` bound, as in vLLM's goodput).
    pub(crate) fn meets(&self, slo: &crate::suite::perf::Slo) -> bool {
        let within = |v: f64, bound: Duration| v <= bound.as_secs_f64();
        let tpot_met = |bound: Duration| match self.tpot() {
            Some(t) => within(t, bound),
            // One token (or none): nothing between tokens to be slow.
            None => self.output_tokens.is_some_and(|n| n <= 1),
        };
        self.ok
            && slo.ttft.is_none_or(|b| self.ttft.is_some_and(|t| within(t, b)))
            && slo.tpot.is_none_or(tpot_met)
            && slo.e2e.is_none_or(|b| within(self.e2e, b))
    }

    /// Adds this request's values of a per-request metric (`suite::metrics::PER_REQUEST`) to `out`.
    pub(crate) fn metric(&self, metric: Metric, out: &mut Vec<f64>) {
        let s = &self.server;
        let value = match metric {
            Metric::Ttft => self.ttft,
            Metric::Itl => {
                out.extend_from_slice(&self.itl);
                return;
            }
            Metric::Tpot => self.tpot(),
            Metric::E2e => Some(self.e2e),
            Metric::TokensPerS => self.tokens_per_s,
            Metric::ServerTokensPerS => s.tokens_per_s(),
            Metric::PromptTokensPerS => match (s.prompt_eval_count, s.prompt_eval_duration_ns) {
                (Some(n), Some(d)) if d > 0 => Some(n as f64 / d as f64 * 1e9),
                _ => None,
            },
            Metric::LoadDuration => s.load_duration_ns.map(|n| n as f64 / 1e9),
            Metric::OutputTokens => self.output_tokens.map(|n| n as f64),
            Metric::InputTokens => {
                self.input_tokens.or(s.prompt_tokens).or(s.prompt_eval_count).map(|n| n as f64)
            }
            // Not a per-request metric.
            _ => None,
        };
        out.extend(value);
    }
}

/// One concurrency level's results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LevelResult {
    pub(crate) concurrency: u32,
    /// When the measured phase began (a merge finds the window common to several runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) started_at: Option<DateTime<Utc>>,
    pub(crate) requests: usize,
    pub(crate) errors: usize,
    /// Wall time of the measured phase, seconds.
    pub(crate) elapsed: f64,
    /// Statistics per metric (successful requests only), over every request of the level.
    #[serde(with = "by_name")]
    pub(crate) stats: BTreeMap<Metric, Stats>,
    /// Every figure: `ttft.p95`, `tokens_per_s.cov`, `error_rate`...
    #[serde(with = "by_name")]
    pub(crate) figures: Figures,
    /// The first `perf::samples::KEEP` requests; every one is in `file` (and the perf CSV).
    pub(crate) samples: Vec<Sample>,
    /// Requests measured past those in `samples` (not in report.json).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) samples_not_in_report: usize,
    #[serde(skip, default)]
    pub(crate) file: Option<Arc<SampleFile>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) first_error: Option<String>,
    /// Why samples past the kept ones could not be stored (a full temp disk); figures hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) samples_error: Option<String>,
    /// A soak's window length, seconds (`perf.window`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) window: Option<f64>,
    /// A soak's figures per window, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) windows: Vec<super::windows::WindowResult>,
    /// How each figure moved from the first full window to the last.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", with = "by_name")]
    pub(crate) drift: BTreeMap<Figure, super::windows::Drift>,
    /// GPU samples taken while this level ran (empty without a GPU).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) gpu_samples: Vec<crate::gpu::GpuSample>,
    /// Why GPU sampling stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) gpu_error: Option<String>,
    /// An open-loop level's rate: asked and sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rate: Option<RateSent>,
    /// A sweep in interleaved rounds (`perf.rounds`): when each of this level's rounds ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) rounds: Vec<Segment>,
    /// A stage of `perf.stages`, or a probe of `perf.search`: which one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) stage: Option<StageOf>,
}

/// Which stage (or search probe) a level was, 1-based in the order they ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StageOf {
    pub(crate) index: u32,
    /// A probe of a capacity search (else a stage of a ramp).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) probe: bool,
}

/// What identifies a level among a test's levels, across runs: baselines, compare and merge
/// pair levels by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum LevelKey {
    /// A level of one concurrency (or of a sweep).
    Concurrency(u32),
    /// The n-th stage of a ramp.
    Stage(u32),
    /// The level at which a capacity search found its capacity (whatever its rate).
    Capacity,
    /// Another probe of a capacity search, n-th in the order run.
    Probe(u32),
}

impl LevelKey {
    /// The key of a level of `concurrency`, stage `stage`, with these figures (the level of a
    /// search's capacity carries `capacity_rate` or `capacity_concurrency`).
    pub(crate) fn of(concurrency: u32, stage: Option<StageOf>, figures: &Figures) -> LevelKey {
        let capacity = [Metric::CapacityRate, Metric::CapacityConcurrency]
            .iter()
            .any(|m| figures.contains_key(&Figure::of(*m)));
        match stage {
            None => LevelKey::Concurrency(concurrency),
            Some(_) if capacity => LevelKey::Capacity,
            Some(s) if s.probe => LevelKey::Probe(s.index),
            Some(s) => LevelKey::Stage(s.index),
        }
    }

    /// How a person reads which level it was, with its load (`rate` asked, requests/s, for an
    /// open loop): `c=4`, `stage 2 (8/s)`, `probe 3 (c=12)`, `capacity (22.6/s)`.
    pub(crate) fn label(self, concurrency: u32, rate: Option<f64>) -> String {
        let load = match rate {
            Some(r) => crate::suite::shapes::format_rate(r),
            None => format!("c={concurrency}"),
        };
        match self {
            // A sweep's levels are its concurrencies (an open loop's rate is the step's, one).
            LevelKey::Concurrency(c) => format!("c={c}"),
            key => format!("{key} ({load})"),
        }
    }
}

impl std::fmt::Display for LevelKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LevelKey::Concurrency(c) => write!(f, "c={c}"),
            LevelKey::Stage(n) => write!(f, "stage {n}"),
            LevelKey::Capacity => write!(f, "capacity"),
            LevelKey::Probe(n) => write!(f, "probe {n}"),
        }
    }
}

/// One round of a level in a sweep run in rounds: its requests are those that started in it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Segment {
    pub(crate) started_at: DateTime<Utc>,
    /// Seconds.
    pub(crate) elapsed: f64,
}

/// The request rate an open loop was asked for and the one it sent (requests per second), and
/// how far its schedule fell behind (seconds): a client (or a concurrency cap) that cannot start
/// requests that fast measures a lighter load than the suite asked for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub(crate) struct RateSent {
    pub(crate) asked: f64,
    pub(crate) sent: f64,
    pub(crate) behind: f64,
}

impl RateSent {
    /// Lateness forgiven: scheduling noise on a busy client, not a lighter load.
    const SLACK_S: f64 = 0.25;

    /// Why the asked rate was not the load sent, if it was not: the schedule fell behind by more
    /// than a tenth of the time it covered (and a quarter second).
    pub(crate) fn shortfall(&self, elapsed: f64) -> Option<String> {
        (self.behind > Self::SLACK_S.max(elapsed * 0.1)).then(|| {
            format!(
                "asked for {:.1} requests/s, sent {:.1}/s (the schedule fell {:.1}s behind): the client could \
                 not start requests that fast, or every `concurrency` slot was busy; lower `rate` or raise \
                 `concurrency`",
                self.asked, self.sent, self.behind
            )
        })
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl LevelResult {
    pub(crate) fn new(concurrency: u32, elapsed: Duration, summary: Summary) -> Self {
        let Summary {
            kept,
            file,
            stats,
            requests,
            errors,
            output_tokens,
            met,
            short,
            first_error,
            spill_error,
            windows,
        } = summary;
        let ok = requests - errors;
        let secs = elapsed.as_secs_f64().max(1e-9);
        let mut figures = BTreeMap::new();
        for (metric, st) in &stats {
            for stat in Stat::ALL {
                figures.insert(Figure::stat(*metric, stat), st.get(stat));
            }
        }
        figures.insert(Figure::of(Metric::Requests), requests as f64);
        figures.insert(Figure::of(Metric::Errors), errors as f64);
        figures.insert(
            Figure::of(Metric::ErrorRate),
            if requests > 0 { errors as f64 / requests as f64 * 100.0 } else { 0.0 },
        );
        figures.insert(Figure::of(Metric::RequestThroughput), ok as f64 / secs);
        figures.insert(Figure::of(Metric::OutputTokenThroughput), output_tokens as f64 / secs);
        if let Some(met) = met {
            figures.insert(Figure::of(Metric::Goodput), met as f64 / secs);
            figures.insert(
                Figure::of(Metric::SloAttainment),
                if requests > 0 { met as f64 / requests as f64 * 100.0 } else { 0.0 },
            );
        }
        if let Some((sized, short)) = short {
            figures.insert(
                Figure::of(Metric::ShortOutputs),
                if sized > 0 { short as f64 / sized as f64 * 100.0 } else { 0.0 },
            );
        }
        LevelResult {
            concurrency,
            started_at: None,
            requests,
            errors,
            elapsed: elapsed.as_secs_f64(),
            stats,
            figures,
            samples_not_in_report: requests - kept.len(),
            samples: kept,
            file,
            first_error,
            samples_error: spill_error,
            window: None,
            drift: super::windows::drift(&windows),
            windows,
            gpu_samples: Vec::new(),
            gpu_error: None,
            rate: None,
            rounds: Vec::new(),
            stage: None,
        }
    }

    /// What identifies it across runs.
    pub(crate) fn key(&self) -> LevelKey {
        LevelKey::of(self.concurrency, self.stage, &self.figures)
    }

    /// How a person reads which level it was (`LevelKey::label`).
    pub(crate) fn label(&self) -> String {
        self.key().label(self.concurrency, self.rate.map(|r| r.asked))
    }

    /// The first failed request's error, for messages.
    pub(crate) fn first_error(&self) -> Option<&str> {
        self.first_error.as_deref()
    }

    /// Every measured request, in the order they finished (only those kept in memory when
    /// the samples file could not be written).
    pub(crate) fn each_sample(&self) -> Box<dyn Iterator<Item = Sample> + '_> {
        match &self.file {
            Some(f) => Box::new(f.samples().map_while(Result::ok)),
            None => Box::new(self.samples.iter().cloned()),
        }
    }
}

/// A perf step's whole result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PerfObservation {
    /// What was measured: `generate`, `chat` or `http`.
    pub(crate) request: String,
    pub(crate) model: Option<String>,
    pub(crate) target: String,
    pub(crate) warmup: u32,
    pub(crate) cold: bool,
    /// The per-request CSV this step appends to (relative to the report directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) csv: Option<std::path::PathBuf>,
    /// Every request of every level, compact (`perf::samples_file`), relative to the report
    /// directory; `hxrun merge` reads these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) samples_file: Option<String>,
    pub(crate) levels: Vec<LevelResult>,
    /// Where a concurrency sweep stopped scaling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) knee: Option<Knee>,
    /// The per-request SLOs its goodput counts (`hxrun merge` counts them again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) slo: Option<crate::suite::perf::Slo>,
    /// The output lengths its requests asked for (`short_outputs` is counted against them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) output: Option<crate::suite::perf::OutputLength>,
    /// The prompt lengths its requests were made with, and how they were counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) input: Option<crate::suite::perf::InputLength>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) input_counted_by: Option<String>,
    /// A capacity search's path and what it found (`perf.search`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) search: Option<super::search::SearchResult>,
    #[serde(skip_serializing, default)]
    pub(crate) elapsed: Duration,
}
