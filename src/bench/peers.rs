//! The LLM benchmark tools people would pick instead, when installed, on the workloads hxrun is
//! measured on: AIPerf (`aiperf profile`) and GuideLLM (`guidellm benchmark run`), found on
//! the PATH or in `$HXRUN_BENCH_PEERS` (a virtualenv's `bin`). Each is measured against the
//! same simulators as hxrun, with hxrun measured in the same part, round for round:
//!
//! - TTFT error against the exactly paced simulator (60 ms injected), one request at a time,
//!   from each tool's own per-request export;
//! - CPU per streamed token, marginal: (CPU of a long run − CPU of a short one) / the tokens
//!   between them, so a Python tool's start-up (seconds of imports) is not charged per token;
//! - peak memory of the whole process tree (the tools run worker processes) with 1,000
//!   concurrent streams, sampled from /proc every 50 ms.
//!
//! A tool that is not installed is skipped with a note; one that fails says why.

use super::measure::{Load, Spread, interleave};
use super::process::run_tree;
use super::setup::SimProcess;
use super::{BenchOptions, Row};
use crate::perf::stats::Stats;
use crate::suite::Api;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The longest one tool run may take.
const RUN_LIMIT: Duration = Duration::from_secs(600);

/// Where a tool is: `$HXRUN_BENCH_PEERS/<name>`, else the PATH.
fn find(program: &str) -> Option<PathBuf> {
    let dirs = std::env::var_os("HXRUN_BENCH_PEERS")
        .into_iter()
        .chain(std::env::var_os("PATH"))
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    dirs.map(|d| d.join(program)).find(|p| p.is_file())
}

/// A word-level Hugging Face tokenizer over the simulator's vocabulary, written to `dir`: the
/// tools need one to make prompts and count tokens, and there is no hub to fetch one from.
fn tokenizer(dir: &Path) -> Result<PathBuf, String> {
    let tok = dir.join("tokenizer");
    std::fs::create_dir_all(&tok).map_err(|e| e.to_string())?;
    let mut vocab = serde_json::Map::new();
    vocab.insert("[UNK]".into(), 0.into());
    for (i, w) in crate::sim::text::vocabulary().iter().enumerate() {
        vocab.insert((*w).to_string(), (i + 1).into());
    }
    let json = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        // [UNK] is an ordinary token: a prompt made of words outside the vocabulary decodes to
        // "[UNK] [UNK] ..." instead of nothing (special tokens are dropped when decoding).
        "added_tokens": [],
        "normalizer": null, "pre_tokenizer": { "type": "Whitespace" }, "post_processor": null,
        "decoder": null, "model": { "type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]" },
    });
    // No unk_token here either: it would make [UNK] special to transformers.
    let config = serde_json::json!({ "tokenizer_class": "PreTrainedTokenizerFast" });
    std::fs::write(tok.join("tokenizer.json"), json.to_string()).map_err(|e| e.to_string())?;
    std::fs::write(tok.join("tokenizer_config.json"), config.to_string()).map_err(|e| e.to_string())?;
    Ok(tok)
}

/// How a tool is asked for a workload, and where its per-request TTFTs are.
trait Tool {
    fn name(&self) -> &'static str;
    /// A run of `requests` chat streams, `concurrency` at once, `tokens` tokens each, writing
    /// its results under `out`.
    fn command(
        &self,
        url: &str,
        requests: u32,
        concurrency: u32,
        tokens: u32,
        out: &Path,
        tok: &Path,
    ) -> Command;
    /// Per-request TTFTs in ms from what the run wrote under `out`.
    fn ttfts(&self, out: &Path) -> Result<Vec<f64>, String>;
}

struct AiPerf(PathBuf);

impl Tool for AiPerf {
    fn name(&self) -> &'static str {
        "AIPerf"
    }

    fn command(
        &self,
        url: &str,
        requests: u32,
        concurrency: u32,
        tokens: u32,
        out: &Path,
        tok: &Path,
    ) -> Command {
        let mut c = Command::new(&self.0);
        c.args(["profile", "--model", "phi3:latest", "--url", url, "--endpoint-type", "chat", "--streaming"])
            .args(["--request-count", &requests.to_string(), "--concurrency", &concurrency.to_string()])
            .args(["--prompt-input-tokens-mean", "8", "--prompt-input-tokens-stddev", "0"])
            .args(["--prompt-output-tokens-mean", &tokens.to_string(), "--prompt-output-tokens-stddev", "0"])
            .args(["--export-level", "records", "--ui", "none"])
            .args(["--no-server-metrics", "--no-gpu-telemetry", "--random-seed", "1"])
            .arg("--tokenizer")
            .arg(tok)
            .arg("--output-artifact-dir")
            .arg(out);
        c
    }

    fn ttfts(&self, out: &Path) -> Result<Vec<f64>, String> {
        let file = find_file(out, "profile_export.jsonl").ok_or("AIPerf wrote no profile_export.jsonl")?;
        let text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
        let ms = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|row| {
                let m = row.pointer("/metrics/time_to_first_token")?;
                let v = m.get("value")?.as_f64()?;
                Some(match m.get("unit").and_then(|u| u.as_str()) {
                    Some("ns") => v / 1e6,
                    Some("us") => v / 1e3,
                    Some("s") => v * 1e3,
                    _ => v,
                })
            })
            .collect();
        Ok(ms)
    }
}

struct GuideLlm(PathBuf);

impl Tool for GuideLlm {
    fn name(&self) -> &'static str {
        "GuideLLM"
    }

    fn command(
        &self,
        url: &str,
        requests: u32,
        concurrency: u32,
        tokens: u32,
        out: &Path,
        tok: &Path,
    ) -> Command {
        // GuideLLM 0.8 takes its settings as a scenario (its BenchmarkArgs) in a file.
        let scenario = serde_json::json!({
            "metadata": { "name": "hxrun-bench" },
            "spec": {
                "backend": { "kind": "openai_http", "target": url, "model": "phi3:latest", "stream": true,
                    "request_format": "/v1/chat/completions", "validate_backend": false },
                "profile": { "kind": "concurrent", "streams": [concurrency] },
                "constraints": [{ "kind": "max_requests", "count": requests }],
                "tokenizer": { "kind": "huggingface_auto", "model": tok },
                "data": [{ "kind": "synthetic_text", "prompt_tokens": 8, "output_tokens": tokens }],
                "outputs": [{ "kind": "json", "path": out.join("benchmarks.json") }],
            },
        });
        let file = out.join("scenario.json");
        let _ = std::fs::write(&file, scenario.to_string());
        let mut c = Command::new(&self.0);
        c.args(["run", "--disable-console"]).arg("--scenario").arg(file);
        c
    }

    fn ttfts(&self, out: &Path) -> Result<Vec<f64>, String> {
        let text = std::fs::read_to_string(out.join("benchmarks.json")).map_err(|e| e.to_string())?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let mut ms = Vec::new();
        collect_ttfts(&v, &mut ms);
        Ok(ms)
    }
}

/// Every successful request's `time_to_first_token_ms` in GuideLLM's report.
fn collect_ttfts(v: &serde_json::Value, out: &mut Vec<f64>) {
    match v {
        serde_json::Value::Object(map) => {
            if let Some(successful) = map.get("successful").and_then(|s| s.as_array()) {
                out.extend(successful.iter().filter_map(|r| {
                    r.get("time_to_first_token_ms")
                        .or_else(|| r.pointer("/info/timings/first_token_ms"))
                        .and_then(|x| x.as_f64())
                }));
            }
            map.iter().filter(|(k, _)| *k != "successful").for_each(|(_, x)| collect_ttfts(x, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|x| collect_ttfts(x, out)),
        _ => {}
    }
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let p = entry.path();
        if p.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
    }
    None
}

/// Marginal CPU µs per token: the long run's CPU less the short one's, over the tokens between.
fn marginal(short: Duration, long: Duration, tokens: f64) -> f64 {
    long.saturating_sub(short).as_secs_f64() * 1e6 / tokens
}

/// One contender's round: TTFT errors in ms, marginal CPU µs per token, peak MiB.
struct Measured {
    ttft_errors: Vec<f64>,
    cpu_us: f64,
    peak_mib: f64,
}

/// The simulators every contender is measured against.
struct Sims {
    exact: SimProcess,
    paced: SimProcess,
    slow: SimProcess,
}

/// Stream lengths for the marginal CPU: a short run and a long one.
const SHORT: u32 = 100;
const LONG: u32 = 4000;

fn hxrun_round(
    rt: &tokio::runtime::Runtime,
    sims: &Sims,
    opts: &BenchOptions,
    n: u32,
) -> Result<Measured, String> {
    let ttft = super::timing::hxrun_ttfts(rt, &sims.exact.url, Api::Openai, n)?;
    let streams = opts.e2e_streams;
    let (short, _) = super::tokens::stream_cpu(rt, &sims.paced.url, Api::Openai, streams, SHORT)?;
    let (long, _) = super::tokens::stream_cpu(rt, &sims.paced.url, Api::Openai, streams, LONG)?;
    Ok(Measured {
        ttft_errors: ttft,
        cpu_us: marginal(short, long, f64::from(streams * (LONG - SHORT))),
        // In a fresh process: this one's peak is the whole part's.
        peak_mib: super::memory::fresh_peak(opts.streams)?,
    })
}

fn tool_round(
    tool: &dyn Tool,
    sims: &Sims,
    opts: &BenchOptions,
    n: u32,
    work: &Path,
    tok: &Path,
) -> Result<Measured, String> {
    // A name no earlier run used: how many runs there were before this one.
    let seq = std::fs::read_dir(work).map_or(0, |d| d.count());
    let run = |what: &str, url: &str, requests, concurrency, tokens| {
        let out = work.join(format!("{seq}-{}-{what}", tool.name()));
        std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
        let cost = run_tree(
            tool.command(url, requests, concurrency, tokens, &out, tok),
            &out.join("log.txt"),
            RUN_LIMIT,
        )
        .map_err(|e| format!("{} ({what}): {e}", tool.name()))?;
        Ok::<_, String>((cost, out))
    };
    let (_, out) = run("timing", &sims.exact.url, n, 1, 3)?;
    let ttft_errors: Vec<f64> = tool.ttfts(&out)?.iter().map(|t| (t - 60.0).abs()).collect();
    if ttft_errors.is_empty() {
        return Err(format!("{}: its export held no TTFT ({})", tool.name(), out.display()));
    }
    let streams = opts.e2e_streams;
    let (short, _) = run("short", &sims.paced.url, streams, streams, SHORT)?;
    let (long, _) = run("long", &sims.paced.url, streams, streams, LONG)?;
    let (memory, _) = run("memory", &sims.slow.url, opts.streams, opts.streams, 40)?;
    Ok(Measured {
        ttft_errors,
        cpu_us: marginal(short.cpu, long.cpu, f64::from(streams * (LONG - SHORT))),
        peak_mib: memory.peak_mib,
    })
}

/// One contender's round: its measurement, or why it failed (the others go on); Err of the
/// outer Result would end the whole part.
type Outcome = Result<Result<Measured, String>, String>;
type Contender<'a> = dyn FnMut() -> Outcome + 'a;

/// Rounds of the side-by-side (each round runs every contender once, the order rotated): the
/// Python tools take minutes a round.
const PEER_ROUNDS: u32 = 2;

pub(super) fn compare(opts: &BenchOptions) -> Result<Vec<Row>, String> {
    let tools: Vec<Box<dyn Tool>> = [
        find("aiperf").map(|p| Box::new(AiPerf(p)) as Box<dyn Tool>),
        find("guidellm").map(|p| Box::new(GuideLlm(p)) as Box<dyn Tool>),
    ]
    .into_iter()
    .flatten()
    .collect();
    if tools.is_empty() {
        return Ok(vec![Row {
            what: "AIPerf and GuideLLM side by side".into(),
            result: "skipped: neither is installed (pip install aiperf guidellm; or set HXRUN_BENCH_PEERS to the bin folder of a virtualenv that has them)".into(),
            target: String::new(),
            met: None,
        }]);
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let tok = tokenizer(work.path())?;
    let runs = work.path().join("runs");
    std::fs::create_dir_all(&runs).map_err(|e| e.to_string())?;
    let load = Load::now();
    let sims = Sims {
        exact: super::timing::exact_sim()?,
        paced: super::tokens::paced_sim()?,
        slow: super::memory::slow_sim()?,
    };
    let n = opts.timing_requests.min(60);
    let rounds = opts.rounds.min(PEER_ROUNDS);
    // A tool that fails says why in its row; the others go on.
    let ours = || hxrun_round(&rt, &sims, opts, n).map_err(|e| format!("hxrun: {e}"));
    let mut contenders: Vec<Box<Contender<'_>>> = vec![Box::new(move || Ok(ours()))];
    for tool in &tools {
        let (sims, runs, tok) = (&sims, &runs, &tok);
        contenders.push(Box::new(move || Ok(tool_round(tool.as_ref(), sims, opts, n, runs, tok))));
    }
    let mut refs: Vec<&mut dyn FnMut() -> Outcome> =
        contenders.iter_mut().map(|c| c.as_mut() as &mut dyn FnMut() -> Outcome).collect();
    let results = interleave(rounds, &mut refs)?;
    let names: Vec<&str> = std::iter::once("hxrun").chain(tools.iter().map(|t| t.name())).collect();
    let mut rows = Vec::new();
    // hxrun's medians (the first contender), which the others' are given as multiples of.
    let mut ours: Option<(f64, f64, f64)> = None;
    for (name, got) in names.iter().zip(results) {
        let (ok, failed): (Vec<_>, Vec<_>) = got.into_iter().partition(Result::is_ok);
        let ok: Vec<Measured> = ok.into_iter().filter_map(Result::ok).collect();
        if ok.is_empty() {
            let why = failed.into_iter().find_map(Result::err).unwrap_or_default();
            rows.push(Row {
                what: format!("{name}: side by side"),
                result: format!("could not run: {why}"),
                target: String::new(),
                met: None,
            });
            continue;
        }
        let errors: Vec<f64> = ok.iter().flat_map(|m| m.ttft_errors.iter().copied()).collect();
        let t = Stats::of(&errors).ok_or("no TTFT")?;
        let cpu = Spread::of(&ok.iter().map(|m| m.cpu_us).collect::<Vec<_>>()).ok_or("no rounds")?;
        let mem = Spread::of(&ok.iter().map(|m| m.peak_mib).collect::<Vec<_>>()).ok_or("no rounds")?;
        let times =
            |x: f64, of: f64| if of > 0.0 { format!(" = {:.1}× hxrun's", x / of) } else { String::new() };
        let (vs_ttft, vs_cpu, vs_mem) = match ours {
            Some((t0, c0, m0)) => (times(t.p50, t0), times(cpu.median, c0), times(mem.median, m0)),
            None => {
                ours = Some((t.p50, cpu.median, mem.median));
                Default::default()
            }
        };
        rows.push(Row {
            what: format!(
                "{name}: TTFT error vs 60 ms injected ({} OpenAI chat streams, one at a time); marginal CPU per streamed token ({} streams at once, {LONG} vs {SHORT} tokens); peak memory of its process tree with {} concurrent streams; {} rounds",
                errors.len(),
                opts.e2e_streams,
                opts.streams,
                ok.len()
            ),
            result: format!(
                "TTFT error p50 {:.2} ms{vs_ttft}, p99 {:.2} ms; CPU {}{vs_cpu}; memory {}{vs_mem}",
                t.p50,
                t.p99,
                cpu.with_unit("µs/token", 1),
                mem.with_unit("MiB", 0)
            ),
            target: String::new(),
            met: None,
        });
    }
    if let Some(first) = rows.first_mut() {
        first.what.push_str(&format!(
            ", interleaved with the others; {}; {}",
            load.text(),
            load.verdict(&[])
        ));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aiperf_records_give_their_ttfts_in_ms() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("artifacts/run");
        std::fs::create_dir_all(&nested).unwrap();
        let rows = [
            r#"{"metadata":{},"metrics":{"time_to_first_token":{"value":60.5,"unit":"ms"}}}"#,
            r#"{"metadata":{},"metrics":{"time_to_first_token":{"value":61000000,"unit":"ns"}}}"#,
            r#"{"metadata":{},"metrics":{},"error":{"message":"refused"}}"#,
        ];
        std::fs::write(nested.join("profile_export.jsonl"), rows.join("\n")).unwrap();
        let got = AiPerf(PathBuf::new()).ttfts(dir.path()).unwrap();
        assert_eq!(got, vec![60.5, 61.0]);
        let empty = tempfile::tempdir().unwrap();
        assert!(AiPerf(PathBuf::new()).ttfts(empty.path()).is_err());
    }

    #[test]
    fn guidellm_successful_requests_give_their_ttfts() {
        let dir = tempfile::tempdir().unwrap();
        let report = serde_json::json!({ "benchmarks": [{
            "metrics": { "time_to_first_token_ms": { "successful": { "mean": 1.0 } } },
            "requests": {
                "successful": [{ "time_to_first_token_ms": 61.9 }, { "time_to_first_token_ms": 62.5 }],
                "errored": [{ "time_to_first_token_ms": null }],
            },
        }] });
        std::fs::write(dir.path().join("benchmarks.json"), report.to_string()).unwrap();
        assert_eq!(GuideLlm(PathBuf::new()).ttfts(dir.path()).unwrap(), vec![61.9, 62.5]);
    }

    #[test]
    fn the_tokenizer_is_word_level_over_the_simulators_words() {
        let dir = tempfile::tempdir().unwrap();
        let tok = tokenizer(dir.path()).unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(tok.join("tokenizer.json")).unwrap()).unwrap();
        assert_eq!(json["model"]["type"], "WordLevel");
        assert_eq!(json["model"]["vocab"]["[UNK]"], 0);
        assert_eq!(json["model"]["vocab"]["HX"], 1);
        assert_eq!(json["added_tokens"], serde_json::json!([]), "[UNK] must not be special");
        let config = std::fs::read_to_string(tok.join("tokenizer_config.json")).unwrap();
        assert!(!config.contains("unk_token"), "{config}");
    }
}
