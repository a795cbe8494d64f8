//! CPU per streamed token: the NDJSON and SSE parsers on their own (the same code a real
//! answer takes, fed from memory), alternating; and end to end (socket, HTTP, parse, record)
//! against curl reading the same paced streams from the simulator.

use super::measure::{Load, Spread, children_cpu, interleave, process_cpu, thread_cpu};
use super::process::installed;
use super::setup::{SimProcess, generate, perf_context, perf_step, quiet_sim};
use super::{BenchOptions, Row};
use crate::execute::llm;
use crate::execute::perf::run as run_perf;
use crate::protocol::{self, LlmCall};
use crate::record::LlmObservation;
use crate::suite::Api;
use bytes::Bytes;
use std::process::{Command, Stdio};
use std::time::Duration;

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

/// One parser run: CPU µs per token, or why the stream did not parse.
fn parse_run(api: Api, tokens: usize) -> Result<f64, String> {
    let chunks = synthetic_stream(api, tokens);
    let before = thread_cpu();
    let obs = parse_synthetic(api, chunks);
    let per_token = (thread_cpu() - before).as_secs_f64() * 1e6 / tokens as f64;
    if obs.chunks != tokens || !obs.problems.is_empty() {
        return Err(format!("the synthetic {api} stream did not parse: {:?}", obs.problems));
    }
    Ok(per_token)
}

pub(super) fn parser_cost(opts: &BenchOptions) -> Result<Vec<Row>, String> {
    let load = Load::now();
    let runs = interleave(
        opts.parser_runs,
        &mut [&mut || parse_run(Api::Ollama, opts.parser_tokens), &mut || {
            parse_run(Api::Openai, opts.parser_tokens)
        }],
    )?;
    let mut rows = Vec::new();
    for (i, (name, target)) in [("NDJSON (Ollama)", 0.6), ("SSE (OpenAI)", 1.0)].into_iter().enumerate() {
        let s = Spread::of(&runs[i]).ok_or("no runs")?;
        rows.push(Row {
            what: format!(
                "CPU per streamed token, {name} parser, {} tokens × {} runs alternating with the other parser; {}",
                opts.parser_tokens,
                opts.parser_runs,
                load.text()
            ),
            result: format!("{}; {}", s.with_unit("µs", 3), load.verdict(&[&s])),
            target: format!("≤ {target} µs"),
            met: Some(s.median <= target),
        });
    }
    Ok(rows)
}

/// The simulator streaming one token a millisecond, every answer the same length.
pub(super) fn paced_sim() -> Result<SimProcess, String> {
    quiet_sim("1ms", "1000", false)
}

/// hxrun's perf loop over `streams` streams at once of `tokens` tokens each, in `api`'s
/// protocol: this process's CPU time, and the tokens it read (all of them, or an error).
pub(super) fn stream_cpu(
    rt: &tokio::runtime::Runtime,
    url: &str,
    api: Api,
    streams: u32,
    tokens: u32,
) -> Result<(Duration, f64), String> {
    let ctx = perf_context(url, Duration::from_secs(120));
    let mut step = perf_step(None, Some(generate(api, Some(tokens))), streams);
    step.iterations = Some(streams);
    let before = process_cpu();
    let obs = rt.block_on(run_perf(ctx, &step)).map_err(|e| e.message)?;
    let cpu = process_cpu().saturating_sub(before);
    let level = &obs.levels[0];
    let got = level
        .stats
        .get(&crate::suite::metrics::Metric::OutputTokens)
        .map_or(0.0, |s| s.mean * s.count as f64);
    if level.errors > 0 || got < f64::from(streams * tokens) {
        return Err(format!(
            "hxrun's streams failed: {} errors ({:?}), {got} tokens",
            level.errors, level.first_error
        ));
    }
    Ok((cpu, got))
}

/// `stream_cpu` of Ollama streams, in µs per token.
fn hxrun_streams(rt: &tokio::runtime::Runtime, url: &str, streams: u32, tokens: u32) -> Result<f64, String> {
    stream_cpu(rt, url, Api::Ollama, streams, tokens).map(|(cpu, got)| cpu.as_secs_f64() * 1e6 / got)
}

/// curl reading the same streams at once (`--parallel`), its output thrown away: its CPU µs
/// per token (start-up included, about a millisecond of it).
fn curl_streams(url: &str, streams: u32, tokens: u32) -> Result<f64, String> {
    let body = serde_json::json!({
        "model": "phi3:latest",
        "prompt": "Summarize HX Infrastructure in one sentence.",
        "stream": true,
        "options": { "num_predict": tokens },
    })
    .to_string();
    let target = format!("{url}/api/generate");
    let before = children_cpu();
    let out = Command::new("curl")
        .args([
            "-sS",
            "--no-progress-meter",
            "-N",
            "--fail",
            "--max-time",
            "300",
            "--parallel",
            "--parallel-max",
            &streams.to_string(),
        ])
        .args(["-H", "Content-Type: application/json", "--data", &body])
        .args((0..streams).map(|_| target.as_str()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|child| child.wait_with_output())
        .map_err(|e| format!("cannot run curl: {e}"))?;
    if !out.status.success() {
        return Err(format!("curl failed: {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    let cpu = children_cpu().saturating_sub(before);
    Ok(cpu.as_secs_f64() * 1e6 / f64::from(streams * tokens))
}

pub(super) fn end_to_end(rt: &tokio::runtime::Runtime, opts: &BenchOptions) -> Result<Vec<Row>, String> {
    let sim = paced_sim()?;
    let (streams, tokens) = (opts.e2e_streams, opts.e2e_tokens);
    let what = format!(
        "CPU per streamed token end to end (socket, HTTP, parse, record), {streams} Ollama streams at once of {tokens} tokens, one token a millisecond each, × {} rounds",
        opts.rounds
    );
    let load = Load::now();
    if !installed("curl", "--version") {
        let runs = interleave(opts.rounds, &mut [&mut || hxrun_streams(rt, &sim.url, streams, tokens)])?;
        let s = Spread::of(&runs[0]).ok_or("no rounds")?;
        return Ok(vec![Row {
            what: format!("{what}: hxrun; {}", load.text()),
            result: format!("{}; curl not found: no ratio", s.with_unit("µs", 2)),
            target: "≤ 1.2× curl".into(),
            met: None,
        }]);
    }
    let runs = interleave(
        opts.rounds,
        &mut [&mut || hxrun_streams(rt, &sim.url, streams, tokens), &mut || {
            curl_streams(&sim.url, streams, tokens)
        }],
    )?;
    let ratios: Vec<f64> = runs[0].iter().zip(&runs[1]).map(|(h, c)| h / c).collect();
    let (ours, curl, ratio) = (
        Spread::of(&runs[0]).ok_or("no rounds")?,
        Spread::of(&runs[1]).ok_or("no rounds")?,
        Spread::of(&ratios).ok_or("no rounds")?,
    );
    Ok(vec![Row {
        what: format!("{what}: hxrun; curl; ratio hxrun / curl, interleaved; {}", load.text()),
        result: format!(
            "{}; {}; {}; {}",
            ours.with_unit("µs", 2),
            curl.with_unit("µs", 2),
            ratio.ratio(),
            load.verdict(&[&ratio])
        ),
        target: "≤ 1.2×".into(),
        met: Some(ratio.median <= 1.2),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

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
