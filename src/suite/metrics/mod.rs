//! The metric catalogue: one typed definition per figure hxrun records — its name, unit,
//! which way is better, what it means, and which API's answers carry it. Every figure map,
//! threshold, drift bound, baseline and comparison is keyed by `Metric` (a `Figure` with a
//! statistic); dotted names (`ttft.p95`) exist only at the edges — the suite's YAML,
//! report.json, CSV headers and the schema — and are read and written here. Adding a metric
//! is one variant and one entry in `DEFS`, plus the place that measures it
//! (`record::LlmObservation::metric`, `perf::result::Sample::metric`,
//! `gpu::sampler::figures`); renaming one is a compile error everywhere it is used.

mod figure;

pub(crate) use figure::{Figure, Figures, Stat, by_name};

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

/// Every figure hxrun records. Maps keyed by it iterate in name order (`Ord` compares the
/// names), so reports list figures as they always did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Metric {
    Ttft,
    E2e,
    ItlMean,
    ItlMax,
    Chunks,
    OutputTokens,
    ContentTokens,
    TokensPerS,
    ServerTokensPerS,
    EvalCount,
    EvalDuration,
    PromptEvalCount,
    PromptEvalDuration,
    LoadDuration,
    TotalDuration,
    PromptTokens,
    CompletionTokens,
    DoneReason,
    Itl,
    Tpot,
    PromptTokensPerS,
    InputTokens,
    RequestThroughput,
    OutputTokenThroughput,
    ErrorRate,
    Goodput,
    SloAttainment,
    ShortOutputs,
    CapacityRate,
    CapacityConcurrency,
    Requests,
    Errors,
    ModelVram,
    GpuMemoryUsedMax,
    GpuMemoryUsedMean,
    GpuUtilMean,
    GpuUtilMax,
    GpuPowerMax,
    GpuPowerMean,
    GpuTempMax,
    GpuTempMean,
    GpuThrottled,
    GpuSamples,
}

/// One metric's definition.
#[derive(Debug)]
pub(crate) struct Def {
    metric: Metric,
    name: &'static str,
    unit: Unit,
    better: Better,
    doc: &'static str,
    /// The only API whose answers carry it (Ollama's own timing fields, OpenAI's usage);
    /// None when hxrun measures it itself or both report it.
    only: Option<super::Api>,
}

const fn m(metric: Metric, name: &'static str, unit: Unit, better: Better, doc: &'static str) -> Def {
    Def { metric, name, unit, better, doc, only: None }
}

/// A metric only one API's answers carry.
const fn only(api: super::Api, def: Def) -> Def {
    Def { only: Some(api), ..def }
}

use super::Api::{Ollama, Openai};
use Better::{Higher, Lower};
use Metric::*;
use Unit::*;

/// Every metric's definition, in the order of the variants (`Metric::def` indexes it).
const DEFS: &[Def] = &[
    m(
        Ttft,
        "ttft",
        Seconds,
        Lower,
        "time to first token: request sent → first non-empty content chunk (stream mode)",
    ),
    m(E2e, "e2e", Seconds, Lower, "end-to-end latency: request sent → last byte"),
    m(ItlMean, "itl_mean", Seconds, Lower, "mean gap between successive content chunks (stream mode)"),
    m(ItlMax, "itl_max", Seconds, Lower, "largest gap between successive content chunks (stream mode)"),
    m(Chunks, "chunks", Count, Higher, "content chunks received (stream mode)"),
    m(
        OutputTokens,
        "output_tokens",
        Count,
        Higher,
        "output tokens: the server's count, else the content chunks",
    ),
    m(
        ContentTokens,
        "content_tokens",
        Count,
        Higher,
        "tokens that carried text (stream mode): the server's count less an end-of-sequence token it counted but never sent",
    ),
    m(
        TokensPerS,
        "tokens_per_s",
        PerSecond,
        Higher,
        "client tokens/s: the content tokens after the first chunk / (last chunk − first chunk)",
    ),
    m(
        ServerTokensPerS,
        "server_tokens_per_s",
        PerSecond,
        Higher,
        "server tokens/s: the server's own figure (llama.cpp predicted_per_second), else eval_count / eval_duration (Ollama, TGI headers)",
    ),
    m(
        EvalCount,
        "eval_count",
        Count,
        Higher,
        "the server's output token count (Ollama eval_count, llama.cpp predicted_n, TGI x-generated-tokens)",
    ),
    m(
        EvalDuration,
        "eval_duration",
        Seconds,
        Lower,
        "the server's time generating (Ollama eval_duration, llama.cpp predicted_ms, TGI x-inference-time)",
    ),
    m(
        PromptEvalCount,
        "prompt_eval_count",
        Count,
        Higher,
        "the server's prompt token count (Ollama, llama.cpp prompt_n, TGI x-prompt-tokens)",
    ),
    m(
        PromptEvalDuration,
        "prompt_eval_duration",
        Seconds,
        Lower,
        "the server's time evaluating the prompt (Ollama, llama.cpp prompt_ms)",
    ),
    only(
        Ollama,
        m(
            LoadDuration,
            "load_duration",
            Seconds,
            Lower,
            "Ollama: time loading the model (0 when it was warm)",
        ),
    ),
    m(
        TotalDuration,
        "total_duration",
        Seconds,
        Lower,
        "the server's total time (Ollama total_duration, TGI x-total-time)",
    ),
    only(Openai, m(PromptTokens, "prompt_tokens", Count, Higher, "OpenAI usage: prompt tokens")),
    only(Openai, m(CompletionTokens, "completion_tokens", Count, Higher, "OpenAI usage: output tokens")),
    m(
        DoneReason,
        "done_reason",
        Text,
        Higher,
        "why generation stopped: Ollama done_reason or OpenAI finish_reason (text)",
    ),
    m(Itl, "itl", Seconds, Lower, "inter-token latency: every gap between content chunks, pooled"),
    m(
        Tpot,
        "tpot",
        Seconds,
        Lower,
        "time per output token after the first: (e2e − ttft) / (output_tokens − 1)",
    ),
    m(
        PromptTokensPerS,
        "prompt_tokens_per_s",
        PerSecond,
        Higher,
        "server prompt tokens/s: prompt_eval_count / prompt_eval_duration",
    ),
    m(
        InputTokens,
        "input_tokens",
        Count,
        Higher,
        "prompt tokens sent: as hxrun counted them with the server's tokenizer (perf.input), else as the server reports them",
    ),
    m(RequestThroughput, "request_throughput", PerSecond, Higher, "successful requests per second"),
    m(
        OutputTokenThroughput,
        "output_token_throughput",
        PerSecond,
        Higher,
        "output tokens per second, all requests together",
    ),
    m(ErrorRate, "error_rate", Percent, Lower, "failed requests, percent of all"),
    m(
        Goodput,
        "goodput",
        PerSecond,
        Higher,
        "requests per second that succeeded and met every SLO of the perf step (`slo`)",
    ),
    m(
        SloAttainment,
        "slo_attainment",
        Percent,
        Higher,
        "requests that succeeded and met every SLO of the perf step (`slo`), percent of all",
    ),
    m(
        ShortOutputs,
        "short_outputs",
        Percent,
        Lower,
        "successful answers that stopped before the output tokens asked (`output.tokens`), percent",
    ),
    m(
        CapacityRate,
        "capacity_rate",
        PerSecond,
        Higher,
        "a capacity search's result: the highest request rate whose probe kept slo_attainment at its target (`search.attainment`)",
    ),
    m(
        CapacityConcurrency,
        "capacity_concurrency",
        Count,
        Higher,
        "a capacity search's result: the highest concurrency whose probe kept slo_attainment at its target (`search.attainment`)",
    ),
    m(Requests, "requests", Count, Higher, "requests measured"),
    m(Errors, "errors", Count, Lower, "failed requests"),
    m(ModelVram, "model_vram", Bytes, Lower, "the model's VRAM as Ollama's /api/ps reports it (size_vram)"),
    m(GpuMemoryUsedMax, "gpu.memory_used.max", Bytes, Lower, "most GPU memory in use, all GPUs together"),
    m(GpuMemoryUsedMean, "gpu.memory_used.mean", Bytes, Lower, "mean GPU memory in use, all GPUs together"),
    m(GpuUtilMean, "gpu.util.mean", Percent, Higher, "mean GPU utilisation"),
    m(GpuUtilMax, "gpu.util.max", Percent, Higher, "highest GPU utilisation"),
    m(GpuPowerMax, "gpu.power.max", Watts, Lower, "highest power draw, all GPUs together"),
    m(GpuPowerMean, "gpu.power.mean", Watts, Lower, "mean power draw, all GPUs together"),
    m(GpuTempMax, "gpu.temp.max", Celsius, Lower, "hottest GPU temperature"),
    m(GpuTempMean, "gpu.temp.mean", Celsius, Lower, "mean GPU temperature"),
    m(GpuThrottled, "gpu.throttled", Count, Lower, "samples of a GPU slowed by power or thermal limits"),
    m(GpuSamples, "gpu.samples", Count, Higher, "sampling instants"),
];

/// What a generate or chat step records, usable under `expect.metrics` (durations compared
/// with units: `ttft: "< 2s"`).
pub(crate) const LLM: &[Metric] = &[
    Ttft,
    E2e,
    ItlMean,
    ItlMax,
    Chunks,
    OutputTokens,
    ContentTokens,
    TokensPerS,
    ServerTokensPerS,
    EvalCount,
    EvalDuration,
    PromptEvalCount,
    PromptEvalDuration,
    LoadDuration,
    TotalDuration,
    PromptTokens,
    CompletionTokens,
    DoneReason,
];

/// Per-request metrics of a perf step; each gets every statistic (`ttft.p95`).
pub(crate) const PER_REQUEST: &[Metric] = &[
    Ttft,
    Itl,
    Tpot,
    E2e,
    TokensPerS,
    ServerTokensPerS,
    PromptTokensPerS,
    LoadDuration,
    InputTokens,
    OutputTokens,
];

/// Whole-level figures of a perf step (no statistic suffix).
pub(crate) const AGGREGATES: &[Metric] = &[
    RequestThroughput,
    OutputTokenThroughput,
    ErrorRate,
    Goodput,
    SloAttainment,
    ShortOutputs,
    CapacityRate,
    CapacityConcurrency,
    Requests,
    Errors,
    ModelVram,
];

/// GPU figures of a perf level or an LLM step, from the samples taken while it ran (NVML).
/// Memory and power are summed over the GPUs at each instant; utilisation and temperature
/// per GPU.
pub(crate) const GPU: &[Metric] = &[
    GpuMemoryUsedMax,
    GpuMemoryUsedMean,
    GpuUtilMean,
    GpuUtilMax,
    GpuPowerMax,
    GpuPowerMean,
    GpuTempMax,
    GpuTempMean,
    GpuThrottled,
    GpuSamples,
];

impl Metric {
    fn def(self) -> &'static Def {
        &DEFS[self as usize]
    }

    /// The name suites and reports use (`ttft`, `gpu.memory_used.max`).
    pub(crate) fn name(self) -> &'static str {
        self.def().name
    }

    pub(crate) fn unit(self) -> Unit {
        self.def().unit
    }

    pub(crate) fn better(self) -> Better {
        self.def().better
    }

    pub(crate) fn doc(self) -> &'static str {
        self.def().doc
    }

    /// The only API whose answers carry it, if only one does.
    pub(crate) fn only(self) -> Option<super::Api> {
        self.def().only
    }

    /// The metric of this name, if there is one.
    pub(crate) fn parse(name: &str) -> Option<Metric> {
        DEFS.iter().find(|d| d.name == name).map(|d| d.metric)
    }

    /// An LLM step's metric, or a GPU figure sampled while it ran (`expect.metrics`).
    pub(crate) fn of_step(name: &str) -> Option<Metric> {
        Metric::parse(name).filter(|m| LLM.contains(m) || GPU.contains(m))
    }

    /// What only a streamed answer measures: the first token's time, the gaps between chunks,
    /// the chunks themselves, the client's rate.
    pub(crate) fn stream_only(self) -> bool {
        matches!(self, Ttft | ItlMean | ItlMax | Chunks | ContentTokens | TokensPerS)
    }

    /// A figure of the GPUs' samples.
    pub(crate) fn is_gpu(self) -> bool {
        GPU.contains(&self)
    }

    /// A figure only the server's own timings give (a server without them never records it).
    pub(crate) fn needs_server_timing(self) -> bool {
        matches!(
            self,
            ServerTokensPerS
                | PromptTokensPerS
                | EvalDuration
                | PromptEvalDuration
                | LoadDuration
                | TotalDuration
        )
    }
}

impl Ord for Metric {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name().cmp(other.name())
    }
}

impl PartialOrd for Metric {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_definition_per_metric_in_variant_order() {
        for (i, d) in DEFS.iter().enumerate() {
            assert_eq!(d.metric as usize, i, "{} is out of place in DEFS", d.name);
            assert_eq!(Metric::parse(d.name), Some(d.metric));
        }
        assert_eq!(DEFS.len(), GpuSamples as usize + 1, "every variant has a definition");
        let names: std::collections::BTreeSet<&str> = DEFS.iter().map(|d| d.name).collect();
        assert_eq!(names.len(), DEFS.len(), "one name per metric");
    }

    #[test]
    fn maps_keyed_by_metric_iterate_in_name_order() {
        let set: std::collections::BTreeSet<Metric> = [Ttft, E2e, Tpot, GpuUtilMax].into_iter().collect();
        let names: Vec<&str> = set.iter().map(|m| m.name()).collect();
        assert_eq!(names, ["e2e", "gpu.util.max", "tpot", "ttft"]);
        assert_eq!(Metric::of_step("itl"), None, "pooled gaps are a perf figure");
        assert_eq!(Metric::of_step("gpu.temp.max"), Some(GpuTempMax));
    }
}
