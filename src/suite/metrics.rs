//! The metric catalogue: one typed definition per figure hxrun records — its name, unit,
//! which way is better, and what it means. Thresholds, `expect.metrics`, baselines' "worse"
//! direction, perf-summary columns, console and message formatting and the JSON Schema's
//! completion are all derived from it. Adding a metric is one entry here plus the place
//! that measures it (`record::LlmObservation::metrics`, `perf::result::Sample::metric`,
//! `gpu::sampler::figures`).

/// What a figure's number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Durations, stored in seconds.
    Seconds,
    Count,
    /// Tokens or requests per second.
    PerSecond,
    Percent,
    Bytes,
    Watts,
    Celsius,
    /// Not a number (`done_reason`).
    Text,
}

/// Which way a figure improves (what a regression is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Better {
    Higher,
    Lower,
}

/// One metric.
#[derive(Debug)]
pub(crate) struct Metric {
    pub(crate) name: &'static str,
    pub(crate) unit: Unit,
    pub(crate) better: Better,
    pub(crate) doc: &'static str,
    /// The only API whose answers carry it (Ollama's own timing fields, OpenAI's usage);
    /// None when hxrun measures it itself or both report it.
    pub(crate) only: Option<super::Api>,
}

const fn m(name: &'static str, unit: Unit, better: Better, doc: &'static str) -> Metric {
    Metric { name, unit, better, doc, only: None }
}

/// A metric only one API's answers carry.
const fn only(api: super::Api, metric: Metric) -> Metric {
    Metric { only: Some(api), ..metric }
}

use super::Api::{Ollama, Openai};
use Better::{Higher, Lower};
use Unit::*;

/// What a generate or chat step records, usable under `expect.metrics` (durations compared
/// with units: `ttft: "< 2s"`).
pub(crate) const LLM: &[Metric] = &[
    m(
        "ttft",
        Seconds,
        Lower,
        "time to first token: request sent → first non-empty content chunk (stream mode)",
    ),
    m("e2e", Seconds, Lower, "end-to-end latency: request sent → last byte"),
    m("itl_mean", Seconds, Lower, "mean gap between successive content chunks (stream mode)"),
    m("itl_max", Seconds, Lower, "largest gap between successive content chunks (stream mode)"),
    m("chunks", Count, Higher, "content chunks received (stream mode)"),
    m("output_tokens", Count, Higher, "output tokens: the server's count, else the content chunks"),
    m(
        "content_tokens",
        Count,
        Higher,
        "tokens that carried text (stream mode): the server's count less an end-of-sequence token it counted but never sent",
    ),
    m(
        "tokens_per_s",
        PerSecond,
        Higher,
        "client tokens/s: the content tokens after the first chunk / (last chunk − first chunk)",
    ),
    m(
        "server_tokens_per_s",
        PerSecond,
        Higher,
        "server tokens/s: the server's own figure (llama.cpp predicted_per_second), else eval_count / eval_duration (Ollama, TGI headers)",
    ),
    m(
        "eval_count",
        Count,
        Higher,
        "the server's output token count (Ollama eval_count, llama.cpp predicted_n, TGI x-generated-tokens)",
    ),
    m(
        "eval_duration",
        Seconds,
        Lower,
        "the server's time generating (Ollama eval_duration, llama.cpp predicted_ms, TGI x-inference-time)",
    ),
    m(
        "prompt_eval_count",
        Count,
        Higher,
        "the server's prompt token count (Ollama, llama.cpp prompt_n, TGI x-prompt-tokens)",
    ),
    m(
        "prompt_eval_duration",
        Seconds,
        Lower,
        "the server's time evaluating the prompt (Ollama, llama.cpp prompt_ms)",
    ),
    only(Ollama, m("load_duration", Seconds, Lower, "Ollama: time loading the model (0 when it was warm)")),
    m("total_duration", Seconds, Lower, "the server's total time (Ollama total_duration, TGI x-total-time)"),
    only(Openai, m("prompt_tokens", Count, Higher, "OpenAI usage: prompt tokens")),
    only(Openai, m("completion_tokens", Count, Higher, "OpenAI usage: output tokens")),
    m(
        "done_reason",
        Text,
        Higher,
        "why generation stopped: Ollama done_reason or OpenAI finish_reason (text)",
    ),
];

/// Per-request metrics of a perf step; each gets every statistic (`ttft.p95`).
pub(crate) const PER_REQUEST: &[Metric] = &[
    m("ttft", Seconds, Lower, "time to first token"),
    m("itl", Seconds, Lower, "inter-token latency: every gap between content chunks, pooled"),
    m("tpot", Seconds, Lower, "time per output token after the first: (e2e − ttft) / (output_tokens − 1)"),
    m("e2e", Seconds, Lower, "end-to-end request latency"),
    m("tokens_per_s", PerSecond, Higher, "client output tokens/s per request"),
    m("server_tokens_per_s", PerSecond, Higher, "server tokens/s: eval_count / eval_duration"),
    m(
        "prompt_tokens_per_s",
        PerSecond,
        Higher,
        "server prompt tokens/s: prompt_eval_count / prompt_eval_duration",
    ),
    m("load_duration", Seconds, Lower, "model load time reported by the server"),
    m("output_tokens", Count, Higher, "output tokens per request"),
];

/// Statistics every per-request metric gets.
pub(crate) const STATISTICS: &[&str] =
    &["count", "mean", "min", "max", "stddev", "cov", "p50", "p90", "p95", "p99"];

/// Whole-level figures of a perf step (no statistic suffix).
pub(crate) const AGGREGATES: &[Metric] = &[
    m("request_throughput", PerSecond, Higher, "successful requests per second"),
    m("output_token_throughput", PerSecond, Higher, "output tokens per second, all requests together"),
    m("error_rate", Percent, Lower, "failed requests, percent of all"),
    m("requests", Count, Higher, "requests measured"),
    m("errors", Count, Lower, "failed requests"),
    m("model_vram", Bytes, Lower, "the model's VRAM as Ollama's /api/ps reports it (size_vram)"),
];

/// GPU figures of a perf level, from the samples taken while it ran (NVML). Memory and power
/// are summed over the GPUs at each instant; utilisation and temperature per GPU.
pub(crate) const GPU: &[Metric] = &[
    m("gpu.memory_used.max", Bytes, Lower, "most GPU memory in use, all GPUs together"),
    m("gpu.memory_used.mean", Bytes, Lower, "mean GPU memory in use, all GPUs together"),
    m("gpu.util.mean", Percent, Higher, "mean GPU utilisation"),
    m("gpu.util.max", Percent, Higher, "highest GPU utilisation"),
    m("gpu.power.max", Watts, Lower, "highest power draw, all GPUs together"),
    m("gpu.power.mean", Watts, Lower, "mean power draw, all GPUs together"),
    m("gpu.temp.max", Celsius, Lower, "hottest GPU temperature"),
    m("gpu.temp.mean", Celsius, Lower, "mean GPU temperature"),
    m("gpu.throttled", Count, Lower, "samples of a GPU slowed by power or thermal limits"),
    m("gpu.samples", Count, Higher, "sampling instants"),
];

/// A perf figure a threshold or baseline names: a metric, with a statistic for per-request
/// metrics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Figure {
    pub(crate) metric: &'static Metric,
    pub(crate) statistic: Option<&'static str>,
}

impl Figure {
    pub(crate) fn name(&self) -> String {
        match self.statistic {
            Some(s) => format!("{}.{s}", self.metric.name),
            None => self.metric.name.to_string(),
        }
    }

    pub(crate) fn unit(&self) -> Unit {
        match self.statistic {
            Some("count") => Count,
            Some("cov") => Percent,
            _ => self.metric.unit,
        }
    }

    /// Whether a larger value is an improvement (spread never is).
    pub(crate) fn higher_is_better(&self) -> bool {
        !matches!(self.statistic, Some("stddev" | "cov")) && self.metric.better == Higher
    }

    pub(crate) fn doc(&self) -> String {
        match self.statistic {
            Some(s) => format!("{s} of {}", self.metric.doc),
            None => self.metric.doc.to_string(),
        }
    }

    /// A value for people: `52.1ms`, `12.5%`, `1.2GiB`, `48.3`.
    pub(crate) fn format(&self, v: f64) -> String {
        use super::values::{format_seconds, trim_float};
        match self.unit() {
            Seconds => format_seconds(v),
            Bytes => format!("{}GiB", trim_float(v / 1073741824.0)),
            Percent => format!("{}%", trim_float(v)),
            Watts => format!("{}W", trim_float(v)),
            Celsius => format!("{}°C", trim_float(v)),
            Count | PerSecond | Text => trim_float(v),
        }
    }
}

/// A value of the named figure (`ttft.p95`, `request_throughput`) or LLM metric (`ttft`) for
/// people, in its unit; a name outside the catalogue as a plain number.
pub(crate) fn show(name: &str, v: f64) -> String {
    figure(name)
        .or_else(|| llm(name).map(|metric| Figure { metric, statistic: None }))
        .map_or_else(|| super::values::trim_float(v), |f| f.format(v))
}

/// Every perf figure, in catalogue order.
pub(crate) fn figures() -> Vec<Figure> {
    let plain = AGGREGATES.iter().chain(GPU).map(|metric| Figure { metric, statistic: None });
    let stats = PER_REQUEST
        .iter()
        .flat_map(|metric| STATISTICS.iter().map(move |s| Figure { metric, statistic: Some(s) }));
    plain.chain(stats).collect()
}

/// The perf figure of this name, if there is one.
pub(crate) fn figure(name: &str) -> Option<Figure> {
    figures().into_iter().find(|f| f.name() == name)
}

/// The LLM metric of this name, if there is one.
pub(crate) fn llm(name: &str) -> Option<&'static Metric> {
    LLM.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_know_their_unit_direction_and_format() {
        let p95 = figure("ttft.p95").unwrap();
        assert_eq!(
            (p95.unit(), p95.higher_is_better(), p95.format(0.0521)),
            (Seconds, false, "52.1ms".to_string())
        );
        let cov = figure("tokens_per_s.cov").unwrap();
        assert_eq!(
            (cov.unit(), cov.higher_is_better(), cov.format(12.5)),
            (Percent, false, "12.5%".to_string())
        );
        assert!(figure("tokens_per_s.mean").unwrap().higher_is_better());
        assert_eq!(figure("model_vram").unwrap().format(2.0 * 1073741824.0), "2GiB");
        assert!(figure("ttft.p96").is_none() && figure("ttft").is_none());
        let names: Vec<String> = figures().iter().map(Figure::name).collect();
        let unique: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "one definition per figure");
    }
}
