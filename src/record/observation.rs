//! What a step observed: one type per step kind, each what its assertions read and what
//! report.json records (secrets masked, long texts cut to `REPORT_TEXT`).

use super::{excerpt, opt_secs, secs, secs_list};
use crate::protocol::ServerFigures;
use crate::suite::Api;
use crate::suite::metrics::Metric;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What a step observed; assertions are evaluated against this.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Observation {
    Http(HttpObservation),
    Tcp(TcpObservation),
    Exec(ExecObservation),
    // Boxed: an LLM observation is several times larger than the others.
    Llm(Box<LlmObservation>),
    Pull(PullObservation),
    Models(ModelsObservation),
    Embed(EmbedObservation),
    Perf(Box<crate::perf::result::PerfObservation>),
    Gpu(GpuObservation),
}

impl Observation {
    /// Takes from `from` (the same observation) what report.json does not record: an embed's
    /// vectors, a perf step's elapsed time and its levels' samples files.
    pub(crate) fn keep_unrecorded(&mut self, from: &Observation) {
        match (self, from) {
            (Observation::Embed(e), Observation::Embed(f)) => e.vectors.clone_from(&f.vectors),
            (Observation::Perf(p), Observation::Perf(f)) => {
                p.elapsed = f.elapsed;
                for (l, fl) in p.levels.iter_mut().zip(&f.levels) {
                    l.file.clone_from(&fl.file);
                }
            }
            _ => {}
        }
    }
}

/// Bytes of a body, an answer or a command's output that a report keeps: assertions see all
/// that was read (up to --max-body), reports an excerpt this long, so report.json stays small
/// however large the answers.
pub(crate) const REPORT_TEXT: usize = 64 * 1024;

/// Cuts `s` to at most `max` bytes (at a character boundary), saying how much was left out.
fn trim_text(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let left = s.len() - end;
    s.truncate(end);
    s.push_str(&format!("…[{left} more bytes not kept in reports]"));
    true
}

impl Observation {
    /// Keeps reports small: long texts cut to `max` bytes. Call after secrets are masked, so
    /// a cut never leaves part of a secret behind.
    pub(crate) fn trim_for_report(&mut self, max: usize) {
        match self {
            Observation::Http(h) => h.body_truncated |= trim_text(&mut h.body, max),
            Observation::Exec(e) => {
                e.output_truncated |= trim_text(&mut e.stdout, max) | trim_text(&mut e.stderr, max);
            }
            Observation::Llm(l) => {
                trim_text(&mut l.text, max);
            }
            _ => {}
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        match self {
            Observation::Http(o) => o.elapsed,
            Observation::Tcp(o) => o.elapsed,
            Observation::Exec(o) => o.elapsed,
            Observation::Llm(o) => o.e2e,
            Observation::Pull(o) => o.elapsed,
            Observation::Models(o) => o.elapsed,
            Observation::Embed(o) => o.elapsed,
            Observation::Perf(o) => o.elapsed,
            Observation::Gpu(o) => o.elapsed,
        }
    }
}

/// What a generate or chat step measured. Definitions in `suite::metrics::LLM`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LlmObservation {
    pub(crate) api: Api,
    pub(crate) url: String,
    pub(crate) model: String,
    pub(crate) stream: bool,
    pub(crate) status: u16,
    /// The server's error text (an error status, or an error inside the stream).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    /// `expect.similar`: the answer's similarity to the reference, as the embedding model saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) similarity: Option<Similarity>,
    pub(crate) text: String,
    pub(crate) chunks: usize,
    #[serde(with = "opt_secs")]
    pub(crate) ttft: Option<Duration>,
    /// Gaps between successive content chunks.
    #[serde(with = "secs_list")]
    pub(crate) itl: Vec<Duration>,
    #[serde(with = "secs")]
    pub(crate) e2e: Duration,
    pub(crate) output_tokens: Option<u64>,
    /// Tokens that carried text (a stream): the server's count less an end-of-sequence token it
    /// counted but never sent (`eos_counted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) content_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) eos_counted: bool,
    pub(crate) client_tokens_per_s: Option<f64>,
    pub(crate) server_tokens_per_s: Option<f64>,
    pub(crate) server: ServerFigures,
    /// Broken stream rules: truncation, invalid chunks, stalls, data after the end...
    pub(crate) problems: Vec<crate::protocol::StreamProblem>,
    /// Every answer's text when the step asked more than once (`repeat`), in order; the other
    /// fields describe the last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) answers: Vec<String>,
    /// GPU figures sampled while the step ran (`gpu.memory_used.max`...), when its
    /// expectations name one; or why there are none.
    #[serde(
        default,
        skip_serializing_if = "std::collections::BTreeMap::is_empty",
        with = "crate::suite::metrics::by_name"
    )]
    pub(crate) gpu: crate::suite::metrics::Figures,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) gpu_error: Option<String>,
    /// The functions the answer called (chat with `tools`), arguments assembled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) tool_calls: Vec<ToolCall>,
    /// The step's timeout ended the stream; what arrived before is recorded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) timed_out: bool,
}

impl LlmObservation {
    /// An observation before anything was read.
    pub(crate) fn new(api: Api, url: &str, model: &str, stream: bool, status: u16) -> Self {
        LlmObservation {
            api,
            url: url.to_string(),
            model: model.to_string(),
            stream,
            status,
            error: None,
            similarity: None,
            text: String::new(),
            chunks: 0,
            ttft: None,
            itl: Vec::new(),
            e2e: Duration::ZERO,
            output_tokens: None,
            content_tokens: None,
            eos_counted: false,
            client_tokens_per_s: None,
            server_tokens_per_s: None,
            server: ServerFigures::default(),
            problems: Vec::new(),
            answers: Vec::new(),
            gpu: Default::default(),
            gpu_error: None,
            tool_calls: Vec::new(),
            timed_out: false,
        }
    }

    /// A recorded figure of an `expect.metrics` check (durations in seconds); None when this
    /// answer did not record it.
    pub(crate) fn metric(&self, metric: Metric) -> Option<serde_json::Value> {
        use serde_json::Value;
        let secs = |d: Duration| Value::from(d.as_secs_f64());
        let ns = |n: Option<u64>| n.map(|n| Value::from(n as f64 / 1e9));
        let s = &self.server;
        match metric {
            Metric::Ttft => self.ttft.map(secs),
            Metric::E2e => Some(secs(self.e2e)),
            Metric::ItlMean if !self.itl.is_empty() => {
                Some(secs(self.itl.iter().sum::<Duration>() / self.itl.len() as u32))
            }
            Metric::ItlMax => self.itl.iter().max().copied().map(secs),
            Metric::Chunks if self.stream => Some(self.chunks.into()),
            Metric::OutputTokens => self.output_tokens.map(Value::from),
            Metric::ContentTokens => self.content_tokens.map(Value::from),
            Metric::TokensPerS => self.client_tokens_per_s.map(Value::from),
            Metric::ServerTokensPerS => self.server_tokens_per_s.map(Value::from),
            Metric::EvalCount => s.eval_count.map(Value::from),
            Metric::EvalDuration => ns(s.eval_duration_ns),
            Metric::PromptEvalCount => s.prompt_eval_count.map(Value::from),
            Metric::PromptEvalDuration => ns(s.prompt_eval_duration_ns),
            Metric::LoadDuration => ns(s.load_duration_ns),
            Metric::TotalDuration => ns(s.total_duration_ns),
            Metric::PromptTokens => s.prompt_tokens.map(Value::from),
            Metric::CompletionTokens => s.completion_tokens.map(Value::from),
            Metric::DoneReason => s.done_reason.clone().map(Value::from),
            m if m.is_gpu() => self.gpu.get(&crate::suite::metrics::Figure::of(m)).copied().map(Value::from),
            // Not recorded by an answer (a perf figure), or not in this mode.
            _ => None,
        }
    }
}

/// What a gpu step saw: the GPUs, or why there are none.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct GpuObservation {
    pub(crate) snapshot: Option<crate::gpu::GpuSnapshot>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    #[serde(with = "secs")]
    pub(crate) elapsed: Duration,
}

/// What a pull step saw.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PullObservation {
    pub(crate) model: String,
    /// True when `ensure` found the model already listed and nothing was pulled.
    pub(crate) already_present: bool,
    /// The distinct status lines, in order ("pulling manifest", ..., "success").
    pub(crate) statuses: Vec<String>,
    pub(crate) bytes_total: u64,
    pub(crate) bytes_completed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    #[serde(with = "secs")]
    pub(crate) elapsed: Duration,
}

/// What an embed step got back: the vectors (kept for the checks, not in reports), their
/// count, sizes and norms, and the server's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EmbedObservation {
    pub(crate) api: Api,
    pub(crate) url: String,
    pub(crate) model: String,
    pub(crate) status: u16,
    /// The server's error text, or why the answer could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    #[serde(skip, default)]
    pub(crate) vectors: Vec<Vec<f64>>,
    pub(crate) count: usize,
    /// Each vector's size.
    pub(crate) dimensions: Vec<usize>,
    /// Each vector's L2 norm.
    pub(crate) norms: Vec<f64>,
    /// The first values of the first vector, to look at.
    pub(crate) head: Vec<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) prompt_tokens: Option<u64>,
    #[serde(with = "secs")]
    pub(crate) elapsed: Duration,
}

impl EmbedObservation {
    /// Cosine similarity of the vectors at `a` and `b`; None when either is missing, they
    /// differ in size, or one is all zeros.
    pub(crate) fn similarity(&self, a: usize, b: usize) -> Option<f64> {
        let (x, y) = (self.vectors.get(a)?, self.vectors.get(b)?);
        if x.len() != y.len() {
            return None;
        }
        let dot: f64 = x.iter().zip(y).map(|(p, q)| p * q).sum();
        let (nx, ny) = (self.norms[a], self.norms[b]);
        (nx > 0.0 && ny > 0.0).then(|| dot / (nx * ny))
    }
}

/// An answer's cosine similarity to a reference text (`expect.similar`), or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Similarity {
    pub(crate) model: String,
    pub(crate) to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// The models a server listed, and what the step required of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ModelsObservation {
    pub(crate) url: String,
    pub(crate) listed: Vec<String>,
    pub(crate) present: Vec<String>,
    pub(crate) absent: Vec<String>,
    /// What the server has loaded (when the step asked about loaded models).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) loaded: Option<Vec<crate::protocol::LoadedModel>>,
    #[serde(with = "secs")]
    pub(crate) elapsed: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HttpObservation {
    pub(crate) method: String,
    pub(crate) url: String,
    /// The headers hxrun sent (credential values masked in reports).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) request_headers: Vec<(String, String)>,
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
    /// True when the body was longer than hxrun keeps and was cut.
    pub(crate) body_truncated: bool,
    #[serde(with = "secs")]
    pub(crate) elapsed: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TcpObservation {
    pub(crate) address: String,
    #[serde(with = "secs")]
    pub(crate) elapsed: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ExecObservation {
    pub(crate) command: Vec<String>,
    /// None when the process was killed by a signal.
    pub(crate) exit_code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// True when stdout or stderr was longer than hxrun keeps and was cut.
    pub(crate) output_truncated: bool,
    #[serde(with = "secs")]
    pub(crate) elapsed: Duration,
}

/// A function call in an answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct ToolCall {
    pub(crate) name: String,
    /// The arguments (an object, as the model wrote them).
    pub(crate) arguments: serde_json::Value,
}

impl std::fmt::Display for ToolCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.name, excerpt(&self.arguments.to_string(), 200))
    }
}
