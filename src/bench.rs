//! `hxrun bench`: hxrun's own overhead, measured side by side on this machine.
//!
//! A test runner's overhead must vanish next to what it measures. Four measurements, each
//! against the simulator running as a separate process (so it is not sharing hxrun's runtime):
//! request rate against wrk, timing error against injected delays, CPU per streamed token
//! through the NDJSON and SSE parsers, and memory with 1,000 concurrent streams.

use crate::execute::llm;
use crate::execute::perf::{PerfContext, run as run_perf};
use crate::perf::stats::Stats;
use crate::plan::SuitePlan;
use crate::protocol::{self, LlmCall};
use crate::record::LlmObservation;
use crate::suite::perf::{Concurrency, PerfStep};
use crate::suite::{Api, GenerateStep, HttpStep, Target};
use bytes::Bytes;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// What `hxrun bench` measures, and for how long.
#[derive(Debug, Clone)]
pub(crate) struct BenchOptions {
    /// Length of each request-rate run (wrk and hxrun).
    pub(crate) duration: Duration,
    /// Connections for the request-rate comparison.
    pub(crate) connections: u32,
    /// Streamed requests for the timing-error measurement.
    pub(crate) timing_requests: u32,
    /// Tokens pushed through each parser.
    pub(crate) parser_tokens: usize,
    /// Concurrent streams for the memory measurement.
    pub(crate) streams: u32,
    /// Interleaved rounds of the request-rate comparison (each runs wrk and hxrun once, the
    /// order alternating).
    pub(crate) rounds: u32,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            duration: Duration::from_secs(5),
            connections: 64,
            timing_requests: 60,
            parser_tokens: 200_000,
            streams: 1000,
            rounds: 6,
        }
    }
}

/// One line of the results table.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) what: String,
    pub(crate) result: String,
    pub(crate) target: String,
    pub(crate) met: Option<bool>,
}

/// The simulator as a child process, stopped on drop.
struct SimProcess {
    child: Child,
    url: String,
}

impl SimProcess {
    fn start(args: &[&str]) -> Result<SimProcess, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find the hxrun binary: {e}"))?;
        let mut child = Command::new(exe)
            .args(["sim", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the simulator: {e}"))?;
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or("the simulator has no stdout")?;
        BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
        let url = line
            .trim()
            .strip_prefix("hxrun sim listening on ")
            .ok_or("the simulator did not start")?
            .to_string();
        Ok(SimProcess { child, url })
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn suite_plan(url: &str) -> SuitePlan {
    SuitePlan {
        host: None,
        name: "bench".into(),
        file: "bench".into(),
        description: None,
        target: Target { url: url.to_string(), api: Api::Ollama, api_key: None, tls: Default::default() },
        headers: Default::default(),
        base_dir: Default::default(),
        secret_values: Vec::new(),
        tests: Vec::new(),
        expanded: 0,
        tags: Default::default(),
        notes: Vec::new(),
    }
}

/// A perf loop's context against `url`, without GPU sampling or progress reports.
fn perf_context(url: &str, request_timeout: Duration) -> PerfContext {
    // Nobody listens to progress here: a closed channel makes each report a no-op.
    let (progress, _) = tokio::sync::mpsc::unbounded_channel();
    PerfContext {
        transport: std::sync::Arc::new(crate::execute::transport::Transport::new(Default::default())),
        suite: std::sync::Arc::new(suite_plan(url)),
        request_timeout,
        progress,
        test: "bench".into(),
        csv: None,
        samples_file: None,
        gpu: None,
        control: Default::default(),
    }
}

fn perf_step(http: Option<HttpStep>, generate: Option<GenerateStep>, c: u32) -> PerfStep {
    PerfStep {
        generate,
        chat: None,
        http,
        embed: None,
        warmup: 0,
        iterations: None,
        duration: None,
        window: None,
        concurrency: Some(Concurrency(vec![c])),
        rate: None,
        arrival: Default::default(),
        cold: false,
        csv: None,
        gpu_interval: None,
    }
}

/// The measurements, each run in a process of its own so none inherits another's memory
/// peak or warm caches.
pub(crate) const PARTS: &[&str] = &["rate", "timing", "parsers", "memory"];

/// Runs one measurement in this process.
pub(crate) fn run_part(part: &str, opts: &BenchOptions) -> Result<Vec<Row>, String> {
    let rt = if std::env::var_os("HXRUN_BENCH_CT").is_some() {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    }
    .map_err(|e| e.to_string())?;
    match part {
        "rate" => request_rate(&rt, opts),
        "timing" => timing_error(&rt, opts),
        "parsers" => Ok(parser_cost(opts)),
        "memory" => memory(&rt, opts).map(|r| vec![r]),
        other => Err(format!("unknown bench part \"{other}\": expected one of {}", PARTS.join(", "))),
    }
}

/// wrk's request rate on `url`, or None without wrk.
fn wrk_rate(url: &str, connections: u32, secs: u64) -> Option<f64> {
    let out = Command::new("wrk")
        .args(["-t2", &format!("-c{connections}"), &format!("-d{secs}s"), url])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find_map(|l| l.strip_prefix("Requests/sec:").map(|n| n.trim().parse::<f64>().ok())).flatten()
}

/// The 1-minute load average and the core count (Linux), to say whether a figure can be
/// trusted: other work on the machine takes cycles from both sides unevenly.
fn load() -> (f64, usize) {
    let avg = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0);
    (avg, std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// hxrun's request rate against wrk's on the same endpoint, in interleaved rounds (the order
/// alternating: wrk first, then hxrun first), so a change in background load touches both
/// sides; the median ratio and its range, the load before and after, and a word on whether
/// the figure can be trusted.
fn request_rate(rt: &tokio::runtime::Runtime, opts: &BenchOptions) -> Result<Vec<Row>, String> {
    let sim = SimProcess::start(&[])?;
    let url = format!("{}/api/version", sim.url);
    let secs = opts.duration.as_secs().max(1);
    let ours = || -> Result<f64, String> {
        let ctx = perf_context(&sim.url, Duration::from_secs(10));
        let mut step = perf_step(
            Some(HttpStep { path: Some("/api/version".into()), ..Default::default() }),
            None,
            opts.connections,
        );
        step.duration = Some(Duration::from_secs(secs));
        let obs = rt.block_on(run_perf(ctx, &step)).map_err(|e| e.message)?;
        Ok(obs.levels[0].figures.get("request_throughput").copied().unwrap_or(0.0))
    };
    let (load_before, cores) = load();
    let mut rounds: Vec<(f64, Option<f64>)> = Vec::new();
    for round in 0..opts.rounds.max(1) {
        let (h, w) = if round % 2 == 0 {
            let w = wrk_rate(&url, opts.connections, secs);
            (ours()?, w)
        } else {
            let h = ours()?;
            (h, wrk_rate(&url, opts.connections, secs))
        };
        rounds.push((h, w));
    }
    let (load_after, _) = load();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
    };
    let hxrun: Vec<f64> = rounds.iter().map(|r| r.0).collect();
    let mut rows = vec![Row {
        what: format!(
            "request rate, GET /api/version, {} connections, {secs}s × {} rounds: hxrun (median)",
            opts.connections,
            rounds.len()
        ),
        result: format!("{:.0} req/s", median(hxrun.clone())),
        target: String::new(),
        met: None,
    }];
    let ratios: Vec<f64> = rounds.iter().filter_map(|(h, w)| w.map(|w| h / w)).collect();
    if ratios.len() < rounds.len() {
        rows.push(Row {
            what: "request rate: wrk".to_string(),
            result: "wrk not found (apt-get install wrk)".to_string(),
            target: "≥ 0.90×".to_string(),
            met: None,
        });
        return Ok(rows);
    }
    let (lo, hi) = ratios.iter().fold((f64::INFINITY, 0.0f64), |(a, b), r| (a.min(*r), b.max(*r)));
    let med = median(ratios.clone());
    // The load after includes the benchmark's own; the load before is other work.
    let busy = load_before > 0.5 * cores as f64 + 0.5;
    let spread = hi / lo > 1.3;
    let trust = match (busy, spread) {
        (false, false) => "trustworthy".to_string(),
        (true, _) => {
            format!("NOT trustworthy: the machine was busy before (load {load_before:.2} on {cores} cores)")
        }
        (false, true) => format!("NOT trustworthy: the rounds spread {:.0}% apart", (hi / lo - 1.0) * 100.0),
    };
    rows.push(Row {
        what: format!(
            "request rate: wrk -t2 on the same endpoint, interleaved; ratio hxrun / wrk, median (range) over {} rounds; load {load_before:.2} → {load_after:.2} on {cores} cores",
            ratios.len()
        ),
        result: format!(
            "{med:.2}× ({lo:.2}–{hi:.2}); per round {}; {trust}",
            ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(" ")
        ),
        target: "≥ 0.90×".to_string(),
        met: Some(med >= 0.9),
    });
    Ok(rows)
}

fn timing_error(rt: &tokio::runtime::Runtime, opts: &BenchOptions) -> Result<Vec<Row>, String> {
    // Exact pacing: TTFT 50 ms + one token at 100 tokens/s; three tokens, the last 20 ms later.
    let sim = SimProcess::start(&[
        "--ttft",
        "50ms",
        "--tokens-per-s",
        "100",
        "--load-time",
        "0s",
        "--jitter",
        "0",
        "--prompt-tokens-per-s",
        "0",
        "--capacity",
        "0",
        "--precise",
    ])?;
    let transport = crate::execute::transport::Transport::new(Default::default());
    let (want_ttft, want_e2e) = (0.060, 0.080);
    let mut rows = Vec::new();
    for api in [Api::Ollama, Api::Openai] {
        let step = GenerateStep {
            model: "phi3:latest".into(),
            prompt: "Return exactly the text: HX-OK".into(),
            system: None,
            options: Default::default(),
            format: None,
            keep_alive: None,
            raw: None,
            stream: Some(true),
            api: Some(api),
            repeat: None,
            chunk_timeout: None,
        };
        let no_headers = Default::default();
        let endpoint = crate::execute::endpoint::Endpoint::new(&sim.url, None, &no_headers);
        let req = llm::Request { endpoint, waits: Default::default() };
        let proto = protocol::for_api(api);
        let (mut ttft_err, mut e2e_err) = (Vec::new(), Vec::new());
        for _ in 0..opts.timing_requests {
            let o = rt
                .block_on(llm::run(&transport, proto, LlmCall::Generate(&step), &req))
                .map_err(|e| e.message)?;
            let ttft = o.ttft.ok_or("no TTFT measured")?.as_secs_f64();
            ttft_err.push((ttft - want_ttft).abs() * 1000.0);
            e2e_err.push((o.e2e.as_secs_f64() - want_e2e).abs() * 1000.0);
        }
        let (t, e) = (Stats::of(&ttft_err).ok_or("no samples")?, Stats::of(&e2e_err).ok_or("no samples")?);
        if api == Api::Ollama {
            let floor = reference_ttft_error(&sim.url, opts.timing_requests)?;
            rows.push(Row {
                what: format!(
                    "reference: a blocking raw-socket client's TTFT error on the same server, {} requests \
                     (the floor set by the simulator and the kernel)",
                    opts.timing_requests
                ),
                result: format!("p50 {:.3} ms; p99 {:.3} ms", floor.p50, floor.p99),
                target: String::new(),
                met: None,
            });
        }
        rows.push(Row {
            what: format!(
                "timing error vs injected delays, {api:?} stream, {} requests (TTFT / e2e)",
                opts.timing_requests
            ),
            result: format!("p50 {:.3} / {:.3} ms; p99 {:.3} / {:.3} ms", t.p50, e.p50, t.p99, e.p99),
            target: "p99 ≤ 1 ms".to_string(),
            met: Some(t.p99 <= 1.0 && e.p99 <= 1.0),
        });
    }
    Ok(rows)
}

/// TTFT error of the simplest possible client: a blocking socket, the request written by
/// hand, the clock stopped when the first token's bytes arrive. What hxrun adds is the
/// difference between its error and this one.
fn reference_ttft_error(url: &str, requests: u32) -> Result<Stats, String> {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let body = r#"{"model":"phi3:latest","prompt":"Return exactly the text: HX-OK","stream":true}"#;
    let request = format!(
        "POST /api/generate HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut errors = Vec::new();
    let mut s = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut buf = [0u8; 16384];
    for _ in 0..requests {
        let t0 = std::time::Instant::now();
        s.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
        let mut seen = Vec::new();
        let mut first = None;
        while !seen.windows(5).any(|w| w == b"0\r\n\r\n") {
            let n = s.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the simulator closed the connection".into());
            }
            seen.extend_from_slice(&buf[..n]);
            if first.is_none() && seen.windows(15).any(|w| w == b"\"response\":\"HX\"") {
                first = Some(t0.elapsed());
            }
        }
        let ttft = first.ok_or("no first token")?;
        errors.push((ttft.as_secs_f64() - 0.060).abs() * 1000.0);
    }
    Stats::of(&errors).ok_or_else(|| "no samples".to_string())
}

/// CPU time of this thread, from the scheduler's own accounting (Linux), else wall time.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .map(Duration::from_nanos)
        .unwrap_or_else(|| {
            static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
            START.get_or_init(std::time::Instant::now).elapsed()
        })
}

/// A stream of `n` token chunks in a protocol's wire format, one network read per chunk.
pub(crate) fn synthetic_stream(api: Api, n: usize) -> Vec<Bytes> {
    let mut chunks = Vec::with_capacity(n + 3);
    for i in 0..n {
        let word = if i == 0 { "The" } else { " word" };
        chunks.push(Bytes::from(match api {
            Api::Ollama => format!(
                "{{\"model\":\"phi3:latest\",\"created_at\":\"2026-11-27T12:00:00.000000000Z\",\"message\":{{\"role\":\"assistant\",\"content\":\"{word}\"}},\"done\":false}}\n"
            ),
            Api::Openai => format!(
                "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"phi3:latest\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{word}\"}},\"finish_reason\":null}}]}}\n\n"
            ),
        }));
    }
    match api {
        Api::Ollama => chunks.push(Bytes::from(format!(
            "{{\"model\":\"phi3:latest\",\"created_at\":\"2026-11-27T12:00:01Z\",\"message\":{{\"role\":\"assistant\",\"content\":\"\"}},\"done\":true,\"done_reason\":\"length\",\"total_duration\":1,\"load_duration\":0,\"prompt_eval_count\":1,\"prompt_eval_duration\":1,\"eval_count\":{n},\"eval_duration\":1000}}\n"
        ))),
        Api::Openai => {
            chunks.push(Bytes::from_static(
                b"data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"phi3:latest\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}]}\n\n",
            ));
            chunks.push(Bytes::from_static(b"data: [DONE]\n\n"));
        }
    }
    chunks
}

/// Parses a synthetic stream through the same code path as a real answer.
pub(crate) fn parse_synthetic(api: Api, chunks: Vec<Bytes>) -> LlmObservation {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime");
    let call = crate::suite::ChatStep {
        model: "phi3:latest".into(),
        messages: Vec::new(),
        options: Default::default(),
        format: None,
        keep_alive: None,
        tools: Vec::new(),
        stream: Some(true),
        api: Some(api),
        repeat: None,
        chunk_timeout: None,
    };
    let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    let mut obs = LlmObservation::new(api, "memory", "phi3:latest", true, 200);
    rt.block_on(llm::read_stream(
        stream,
        protocol::for_api(api),
        LlmCall::Chat(&call),
        Default::default(),
        // Large enough for any benchmark stream: the cap is not what is measured.
        crate::execute::Limits { max_body: usize::MAX },
        tokio::time::Instant::now(),
        &mut obs,
    ));
    obs
}

fn parser_cost(opts: &BenchOptions) -> Vec<Row> {
    [Api::Ollama, Api::Openai]
        .into_iter()
        .map(|api| {
            let chunks = synthetic_stream(api, opts.parser_tokens);
            let before = thread_cpu();
            let obs = parse_synthetic(api, chunks);
            let per_token = (thread_cpu() - before).as_secs_f64() * 1e6 / opts.parser_tokens as f64;
            let ok = obs.chunks == opts.parser_tokens && obs.problems.is_empty();
            Row {
                what: format!(
                    "CPU per streamed token, {} parser, {} tokens",
                    if api == Api::Ollama { "NDJSON (Ollama)" } else { "SSE (OpenAI)" },
                    opts.parser_tokens
                ),
                result: if ok {
                    format!("{per_token:.3} µs")
                } else {
                    format!("parse failed: {:?}", obs.problems)
                },
                target: "≤ 2 µs".to_string(),
                met: Some(ok && per_token <= 2.0),
            }
        })
        .collect()
}

/// Peak and current resident memory of this process (VmHWM, VmRSS), in MiB.
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse::<f64>().ok()))
            .map_or(f64::NAN, |kib| kib / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn memory(rt: &tokio::runtime::Runtime, opts: &BenchOptions) -> Result<Row, String> {
    // Slow streams (40 tokens at 20 tokens/s ≈ 2 s) so all of them are open at once.
    let sim = SimProcess::start(&[
        "--tokens-per-s",
        "20",
        "--ttft",
        "10ms",
        "--load-time",
        "0s",
        "--capacity",
        "0",
    ])?;
    let ctx = perf_context(&sim.url, Duration::from_secs(60));
    let mut options = std::collections::BTreeMap::new();
    options.insert("num_predict".to_string(), serde_json::json!(40));
    let generate = GenerateStep {
        model: "phi3:latest".into(),
        prompt: "Summarize HX Infrastructure in one sentence.".into(),
        system: None,
        options,
        format: None,
        keep_alive: None,
        raw: None,
        stream: Some(true),
        api: None,
        repeat: None,
        chunk_timeout: None,
    };
    let mut step = perf_step(None, Some(generate), opts.streams);
    step.iterations = Some(opts.streams);
    let (_, before) = memory_mib();
    let obs = rt.block_on(run_perf(ctx, &step)).map_err(|e| e.message)?;
    let (peak, _) = memory_mib();
    let level = &obs.levels[0];
    Ok(Row {
        what: format!(
            "peak RSS (VmHWM) of hxrun with {} concurrent streams ({} ok, {} failed); RSS before: {before:.1} MiB",
            opts.streams,
            level.requests - level.errors,
            level.errors
        ),
        result: format!("{peak:.1} MiB"),
        target: "< 150 MiB".to_string(),
        met: Some(peak < 150.0 && level.errors == 0),
    })
}

/// The header of the results table.
pub(crate) const TABLE_HEADER: &str = "| measurement | result | target | met |\n|---|---|---|---|\n";

/// The rows of the results table (Markdown).
pub(crate) fn table_rows(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        out.push_str(&format!("| {} | {} | {} | {met} |\n", r.what, r.result, r.target));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_streams_parse_cleanly() {
        for api in [Api::Ollama, Api::Openai] {
            let obs = parse_synthetic(api, synthetic_stream(api, 50));
            assert_eq!(obs.chunks, 50, "{api:?}");
            assert!(obs.problems.is_empty(), "{api:?}: {:?}", obs.problems);
            assert!(obs.text.starts_with("The word word"));
        }
    }

    /// A streamed OpenAI tool call, its arguments in fragments (the last event `finish`).
    fn tool_stream(fragments: &[&str]) -> Vec<Bytes> {
        let mut events: Vec<Bytes> = fragments
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let mut call = serde_json::json!({ "index": 0, "function": { "arguments": f } });
                if i == 0 {
                    call["id"] = "call_0".into();
                    call["function"]["name"] = "get_weather".into();
                }
                let v = serde_json::json!({ "model": "phi3:latest", "choices": [{ "index": 0, "delta": { "tool_calls": [call] }, "finish_reason": null }] });
                Bytes::from(format!("data: {v}\n\n"))
            })
            .collect();
        let end = serde_json::json!({ "model": "phi3:latest", "choices": [{ "index": 0, "delta": {}, "finish_reason": "tool_calls" }] });
        events.push(Bytes::from(format!("data: {end}\n\n")));
        events.push(Bytes::from_static(b"data: [DONE]\n\n"));
        events
    }

    #[test]
    fn streamed_tool_calls_are_assembled_and_broken_arguments_fail_the_stream() {
        let obs = parse_synthetic(Api::Openai, tool_stream(&["{\"ci", "ty\": \"Pa", "ris\"}"]));
        assert!(obs.problems.is_empty(), "{:?}", obs.problems);
        assert_eq!(obs.tool_calls.len(), 1);
        assert_eq!(obs.tool_calls[0].name, "get_weather");
        assert_eq!(obs.tool_calls[0].arguments, serde_json::json!({ "city": "Paris" }));
        assert_eq!(obs.chunks, 3, "each fragment is a token arriving");

        let broken = parse_synthetic(Api::Openai, tool_stream(&["{\"city\": \"Pa", "ris"]));
        let problems: Vec<String> = broken.problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with(
                "tool call 1 (get_weather): its arguments, as assembled from what arrived, are not JSON"
            ),
            "{problems:?}"
        );
        assert!(problems[0].contains("\"{\"city\": \"Paris\""), "{problems:?}");
    }
}
