//! The built-in simulator: Ollama's API and the OpenAI-compatible one, with realistic,
//! configurable timings and injectable faults.
//!
//! It is how hxrun's own tests stay hermetic and how a user tries hxrun without a GPU. Tokens
//! are paced on absolute deadlines (first token after load time + TTFT, then one per
//! 1/tokens_per_s), and the metric fields it reports agree with that pacing, so a client's
//! measurements can be checked against it.

mod answer;
mod identity;
pub mod known;
mod lifecycle;
pub mod models;
mod ollama;
mod openai;
mod state;
mod structured;
pub mod text;
mod tokenizer;

use axum::Router;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use models::{SimModel, default_models};
pub use state::SimState;

/// How the simulated server behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub models: Vec<SimModel>,
    /// Generation speed after the first token.
    pub tokens_per_s: f64,
    /// Time from request to first token for a loaded model (prompt processing).
    pub ttft: Duration,
    /// Extra delay on a model's first request (or after it was unloaded).
    pub load_time: Duration,
    /// What /api/version reports.
    pub version: String,
    /// Names `/api/pull` can fetch besides the installed models.
    pub registry: Vec<String>,
    /// Download speed of a simulated pull.
    pub pull_bytes_per_s: f64,
    /// When set, the /v1 endpoints require `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// Prompt processing speed: TTFT grows by prompt tokens / this (None: prompts are free).
    pub prompt_tokens_per_s: Option<f64>,
    /// Each request's generation speed varies by up to this fraction (0.05 = ±5%).
    pub jitter: f64,
    /// Answer at most this many requests at once; the others queue (a saturating server).
    pub capacity: Option<usize>,
    /// Pace tokens to the microsecond (spending CPU) rather than the timer's millisecond.
    pub precise: bool,
    /// Which server the OpenAI-compatible endpoints answer as.
    pub flavor: Flavor,
    /// A gateway in front: every request without this header (name, value) gets a 401.
    pub gateway_header: Option<(String, String)>,
    /// Free-form answers end on their own (a model's end-of-sequence) after half to all of the
    /// tokens asked, unless the request holds them: `ignore_eos` on the llama.cpp and vLLM
    /// flavors' /v1, or vLLM's `min_tokens`. Off: an answer runs to its limit.
    pub eos: bool,
    /// Questions it knows the answer to (test case files' `question` and `answer`).
    pub known: known::Known,
    /// The share (0..=1) of known questions it answers wrongly, the same ones every time.
    pub wrong_rate: f64,
    pub faults: Faults,
}

/// The server the `/v1` endpoints imitate, each in its own shape (what tests need to keep
/// hxrun honest about servers it cannot start here).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Flavor {
    /// Ollama's `/v1`: usage counts only, one token per chunk.
    #[default]
    Ollama,
    /// llama.cpp's llama-server: `timings` in the last chunk and whole answers (its own
    /// tokens/s over n−1 tokens), the end-of-sequence token counted when an answer stops on
    /// its own.
    #[value(name = "llama.cpp")]
    LlamaCpp,
    /// vLLM: usage counts only (no timing of its own), two tokens per chunk.
    Vllm,
    /// TGI: timing headers (`x-inference-time`, `x-generated-tokens`...) on whole answers.
    Tgi,
}

/// Misbehaviour to inject, so tests can prove hxrun catches it. Applies to streamed answers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// After this many content chunks, pause this long before the next.
    pub stall: Option<(usize, Duration)>,
    /// End the stream after this many content chunks, with no final object or `[DONE]`.
    pub truncate_after: Option<usize>,
    /// Send invalid JSON in place of this content chunk (1-based).
    pub garble_chunk: Option<usize>,
    /// Report `eval_duration` multiplied by this (a server whose timings lie).
    pub eval_duration_scale: Option<f64>,
    /// Name this model in every chunk instead of the one asked for (a misrouting proxy).
    pub wrong_model: Option<String>,
    /// `/v1`: answer a model it does not have with its first one, naming the model asked for
    /// (llama-server and some proxies echo the name); `/v1/models` lists only its own.
    pub echo_model: bool,
    /// `/v1`: a stream carries no `usage`, even when it asks for one (servers that never send it).
    pub no_stream_usage: bool,
    /// Keep only this fraction of each loaded model in GPU memory (`/api/ps` `size_vram`): a
    /// model partly offloaded to the CPU.
    pub gpu_fraction: Option<f64>,
    /// Answer every second request a little differently (a batching server's nondeterminism
    /// at temperature 0).
    pub vary_answers: bool,
    /// Answers get slower as the server runs: their time-to-first-token and time per token
    /// grow by this fraction for every second since it started (a server that degrades over
    /// a soak: a leak, fragmentation, thermal throttling).
    pub slow_down_per_s: Option<f64>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            models: default_models(),
            tokens_per_s: 120.0,
            ttft: Duration::from_millis(40),
            load_time: Duration::from_millis(250),
            version: "0.11.4".to_string(),
            registry: ["llama3.1:8b", "qwen2.5:7b", "mistral:7b", "nomic-embed-text:latest"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            pull_bytes_per_s: 2.0e9,
            api_key: None,
            prompt_tokens_per_s: None,
            jitter: 0.0,
            capacity: None,
            precise: false,
            flavor: Flavor::default(),
            gateway_header: None,
            eos: false,
            known: known::Known::default(),
            wrong_rate: 0.0,
            faults: Faults::default(),
        }
    }
}

impl SimConfig {
    /// The defaults of `hxrun sim` and `--sim`: the exact pacing of `default()` plus what a
    /// real server shows — prompt processing that grows with the prompt, ±5% speed jitter,
    /// and 4 requests answered at once (Ollama's usual OLLAMA_NUM_PARALLEL); more queue.
    pub fn realistic() -> Self {
        SimConfig {
            prompt_tokens_per_s: Some(2000.0),
            jitter: 0.05,
            capacity: Some(4),
            ..SimConfig::default()
        }
    }
}

/// A running simulator; dropping it stops the server.
pub struct SimServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SimServer {
    /// Binds `host:port` (port 0 picks a free one) and serves on the current tokio runtime.
    pub async fn start(config: SimConfig, host: &str, port: u16) -> std::io::Result<SimServer> {
        let listener = TcpListener::bind((host, port)).await?;
        let addr = listener.local_addr()?;
        let app = router(config);
        let (stop, stopped) = oneshot::channel::<()>();
        // Streamed first tokens would wait ~40 ms for delayed ACKs without TCP_NODELAY.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(SimServer { addr, stop: Some(stop), task: Some(task) })
    }

    /// Base url, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves until the process is stopped (for `hxrun sim`).
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The simulator's routes.
pub fn router(config: SimConfig) -> Router {
    let gateway = config.gateway_header.clone();
    let flavor = config.flavor;
    let state = SimState::new(config);
    // Ollama serves its own API and the OpenAI-compatible one; the others only the latter.
    let mut app = openai::routes(state.clone()).merge(identity::routes(state.clone()));
    if flavor == Flavor::Ollama {
        app = app.merge(ollama::routes(state));
    }
    let app = identity::server_header(flavor, app);
    match gateway {
        None => app,
        Some((name, value)) => app.layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let allowed =
                    req.headers().get(name.as_str()).is_some_and(|v| v.as_bytes() == value.as_bytes());
                async move {
                    if allowed {
                        next.run(req).await
                    } else {
                        use axum::response::IntoResponse;
                        (axum::http::StatusCode::UNAUTHORIZED, "missing gateway key").into_response()
                    }
                }
            },
        )),
    }
}
