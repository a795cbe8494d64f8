//! `hxrun sim`: the simulator as a standalone server.

use super::parse_duration;
use crate::exit;
use crate::sim::{Faults, SimConfig, SimServer, default_models, models::model_named};
use clap::Args;
use std::time::Duration;

pub(super) fn serve(args: SimArgs) -> u8 {
    let known = crate::sim::known::Known::default();
    for path in &args.answers {
        match crate::load::cases::read_path(path) {
            Ok(rows) => crate::load::cases::teach_rows(&rows, &mut |q, a| known.teach(q, a)),
            Err(e) => {
                eprintln!("error: --answers {}: {e}", path.display());
                return exit::INVALID;
            }
        }
    }
    let config = SimConfig {
        known,
        wrong_rate: args.wrong_rate.unwrap_or(0.0),
        models: if args.models.is_empty() {
            default_models()
        } else {
            args.models.iter().map(|m| model_named(m.trim())).collect()
        },
        tokens_per_s: args.tokens_per_s,
        ttft: args.ttft,
        load_time: args.load_time,
        api_key: args.api_key.clone(),
        prompt_tokens_per_s: (args.prompt_tokens_per_s > 0.0).then_some(args.prompt_tokens_per_s),
        jitter: args.jitter / 100.0,
        capacity: (args.capacity > 0).then_some(args.capacity),
        precise: args.precise,
        flavor: args.flavor,
        eos: args.eos,
        faults: Faults {
            stall: args.stall,
            truncate_after: args.truncate_after,
            garble_chunk: args.garble_chunk,
            eval_duration_scale: args.eval_duration_scale,
            wrong_model: args.wrong_model.clone(),
            echo_model: args.echo_model,
            no_stream_usage: args.no_stream_usage,
            vary_answers: args.vary_answers,
            gpu_fraction: args.gpu_fraction,
            slow_down_per_s: args.slow_down,
        },
        ..SimConfig::realistic()
    };
    let runtime = match super::runtime(true) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let server = match SimServer::start(config, &args.host, args.port).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot listen on {}:{}: {e}", args.host, args.port);
                return exit::INTERNAL;
            }
        };
        // Printed only once the socket accepts connections, so scripts can wait for it.
        println!("hxrun sim listening on {}", server.url());
        tokio::select! {
            _ = server.wait() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        exit::PASSED
    })
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 11434)]
    pub port: u16,
    /// Models to serve (comma-separated); default: the seed's five models.
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Generation speed in tokens per second.
    #[arg(long, default_value_t = 120.0)]
    pub tokens_per_s: f64,
    /// Prompt processing time before the first token.
    #[arg(long, default_value = "40ms", value_parser = parse_duration)]
    pub ttft: Duration,
    /// Extra time for a model's first (cold) request.
    #[arg(long, default_value = "250ms", value_parser = parse_duration)]
    pub load_time: Duration,
    /// Prompt processing speed (TTFT grows with the prompt); 0 makes prompts free.
    #[arg(long, default_value_t = 2000.0)]
    pub prompt_tokens_per_s: f64,
    /// Per-request speed variation, percent (5 = ±5%).
    #[arg(long, default_value_t = 5.0)]
    pub jitter: f64,
    /// Answer at most N requests at once, others queue, like Ollama's OLLAMA_NUM_PARALLEL
    /// (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub capacity: usize,
    /// Pace tokens to the microsecond, spending CPU (for timing measurements).
    #[arg(long)]
    pub precise: bool,
    /// Require `Authorization: Bearer KEY` on the /v1 endpoints.
    #[arg(long, value_name = "KEY", env = "HXRUN_SIM_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Which server the OpenAI-compatible endpoints answer as (its figures, token counting,
    /// tokens per chunk).
    #[arg(long, value_enum, default_value_t)]
    pub flavor: crate::sim::Flavor,
    /// Fault: pause streams for DURATION after N content chunks (N:DURATION, e.g. 3:2s).
    #[arg(long, value_name = "N:DURATION", value_parser = parse_stall)]
    pub stall: Option<(usize, Duration)>,
    /// Fault: end streams after N content chunks, without the final object or [DONE].
    #[arg(long, value_name = "N")]
    pub truncate_after: Option<usize>,
    /// Free-form answers end on their own (an end-of-sequence) after half to all of the tokens
    /// asked, as a model's do, unless held: `ignore_eos` (llama.cpp, vLLM flavors), `min_tokens`
    /// (vLLM).
    #[arg(long)]
    pub eos: bool,
    /// Fault: send invalid JSON in place of content chunk N (1-based).
    #[arg(long, value_name = "N")]
    pub garble_chunk: Option<usize>,
    /// Fault: report eval_duration multiplied by FACTOR (timings that lie).
    #[arg(long, value_name = "FACTOR")]
    pub eval_duration_scale: Option<f64>,
    /// Fault: keep only this fraction (0–1) of each loaded model in GPU memory (/api/ps).
    #[arg(long, value_name = "FRACTION")]
    pub gpu_fraction: Option<f64>,
    /// Fault: answer every second request a little differently (nondeterminism at temperature 0).
    #[arg(long)]
    pub vary_answers: bool,
    /// Fault: name MODEL in every chunk instead of the one asked for.
    #[arg(long, value_name = "MODEL")]
    pub wrong_model: Option<String>,
    /// Fault (/v1): answer any model name asked for with its first model, echoing the name
    /// (as llama-server and some proxies do); /v1/models still lists only its own.
    #[arg(long)]
    pub echo_model: bool,
    /// Fault (/v1): a stream carries no `usage` (token counts), even when it asks for one.
    #[arg(long)]
    pub no_stream_usage: bool,
    /// Fault: answers get slower as the server runs, by PERCENT of their time per second,
    /// minute or hour (e.g. 20%/min: 20% slower after a minute, 40% after two) — a server
    /// that degrades over a soak.
    #[arg(long, value_name = "PERCENT/UNIT", value_parser = parse_slow_down)]
    pub slow_down: Option<f64>,
    /// Answer the questions of this case file (JSON Lines, CSV, JSON or YAML): each row's
    /// `question` with its `reply`, else its `answer`. May be given several times.
    #[arg(long, value_name = "FILE")]
    pub answers: Vec<std::path::PathBuf>,
    /// Answer PERCENT of the known questions wrongly (e.g. 10%), the same ones every time.
    #[arg(long, value_name = "PERCENT", value_parser = super::parse_share)]
    pub wrong_rate: Option<f64>,
}

/// `20%/min` as a fraction per second.
fn parse_slow_down(s: &str) -> Result<f64, String> {
    let bad = || format!("expected PERCENT/UNIT like 20%/min (units: s, min, h), got \"{s}\"");
    let (pct, unit) = s.split_once('/').ok_or_else(bad)?;
    let pct: f64 = pct.trim().trim_end_matches('%').parse().map_err(|_| bad())?;
    let secs = match unit.trim() {
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" | "hour" => 3600.0,
        _ => return Err(bad()),
    };
    if !(pct.is_finite() && pct >= 0.0) {
        return Err(bad());
    }
    Ok(pct / 100.0 / secs)
}

fn parse_stall(s: &str) -> Result<(usize, Duration), String> {
    let (n, d) = s.split_once(':').ok_or_else(|| format!("expected N:DURATION like 3:2s, got \"{s}\""))?;
    let n = n.trim().parse().map_err(|_| format!("\"{n}\" is not a chunk count"))?;
    Ok((n, parse_duration(d.trim())?))
}
