//! `hxrun bench`: hxrun's own overhead, measured side by side on this machine.
//!
//! A test runner's overhead must vanish next to what it measures. Every figure is measured
//! beside a reference on the same machine in interleaved rounds (A B, then B A...), so load
//! that comes and goes touches both; the median and range over the rounds, the load before and
//! after, and a verdict say how far a figure can be trusted. Each part runs in a process of its
//! own, against the simulator in another, so none shares a runtime, a memory peak or a warm
//! cache with another:
//!
//! - `rate`: request rate and client CPU per request against wrk;
//! - `transport`: the lean HTTP/1.1 client against hyper's `client::conn::http1`;
//! - `timing`: TTFT and e2e error against injected delays, beside a raw-socket client;
//! - `parsers`: CPU per token of the NDJSON and SSE parsers, alternating;
//! - `stream`: CPU per token end to end against curl reading the same streams;
//! - `memory`: peak RSS with 1,000 concurrent streams, in fresh processes;
//! - `validate`: `hxrun validate` of 10,000 tests, wall time and peak memory;
//! - `loop`: a long perf loop run as a user runs one: memory over it, report and samples sizes;
//! - `peers`: AIPerf and GuideLLM on the timing and stream workloads, when installed.

mod measure;
mod memory;
mod peers;
mod process;
mod rate;
mod setup;
mod soak;
mod timing;
mod tokens;
mod transport;
mod validate;

pub(crate) use measure::{machine, settle};

use std::time::Duration;

/// What `hxrun bench` measures, and for how long.
#[derive(Debug, Clone)]
pub(crate) struct BenchOptions {
    /// Length of each request-rate run (wrk and hxrun).
    pub(crate) duration: Duration,
    /// Connections for the request-rate comparison.
    pub(crate) connections: u32,
    /// Streamed requests for the timing-error measurement (spread over the rounds).
    pub(crate) timing_requests: u32,
    /// Tokens pushed through each parser in one run.
    pub(crate) parser_tokens: usize,
    /// Runs of each parser (alternating).
    pub(crate) parser_runs: u32,
    /// Concurrent streams for the memory measurement.
    pub(crate) streams: u32,
    /// Streams at once, and tokens in each, for the end-to-end comparison with curl.
    pub(crate) e2e_streams: u32,
    pub(crate) e2e_tokens: u32,
    /// Interleaved rounds of each comparison (the order rotated each round).
    pub(crate) rounds: u32,
    /// Length of the long loop.
    pub(crate) loop_duration: Duration,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            duration: Duration::from_secs(5),
            connections: 64,
            timing_requests: 120,
            parser_tokens: 200_000,
            parser_runs: 10,
            streams: 1000,
            e2e_streams: 16,
            e2e_tokens: 1000,
            rounds: 6,
            loop_duration: Duration::from_secs(60),
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

/// The measurements, each run in a process of its own so none inherits another's memory
/// peak or warm caches.
pub(crate) const PARTS: &[&str] =
    &["rate", "transport", "timing", "parsers", "stream", "memory", "validate", "loop", "peers"];

/// Runs one measurement in this process.
pub(crate) fn run_part(part: &str, opts: &BenchOptions) -> Result<Vec<Row>, String> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    match part {
        "rate" => rate::request_rate(&rt, opts),
        "transport" => transport::compare(&rt, opts),
        "timing" => timing::timing_error(&rt, opts),
        "parsers" => tokens::parser_cost(opts),
        "stream" => tokens::end_to_end(&rt, opts),
        "memory" => memory::memory(opts),
        "validate" => validate::validate(opts),
        "loop" => soak::long_loop(opts),
        "peers" => peers::compare(opts),
        // One round of `memory`, in a fresh process: prints the peak in MiB.
        "memory-once" => memory::once(&rt, opts.streams).map(|peak| {
            vec![Row { what: String::new(), result: format!("{peak:.2}"), target: String::new(), met: None }]
        }),
        other => Err(format!("unknown bench part \"{other}\": expected one of {}", PARTS.join(", "))),
    }
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

/// Where `hxrun bench --doc FILE` puts its table: between these lines (added at the end of
/// the file the first time).
pub(crate) const DOC_BEGIN: &str = "<!-- hxrun bench: begin (generated; do not edit) -->";
pub(crate) const DOC_END: &str = "<!-- hxrun bench: end -->";

/// `doc` with the generated block replaced by `block` (or added at its end).
pub(crate) fn replace_block(doc: &str, block: &str) -> String {
    let fenced = format!("{DOC_BEGIN}\n{block}{DOC_END}");
    match (doc.find(DOC_BEGIN), doc.find(DOC_END)) {
        (Some(a), Some(b)) if a < b => format!("{}{fenced}{}", &doc[..a], &doc[b + DOC_END.len()..]),
        _ => format!("{}\n{fenced}\n", doc.trim_end()),
    }
}

#[cfg(test)]
mod tests {
    use super::tokens::{parse_synthetic, synthetic_stream};
    use super::*;

    #[test]
    fn the_generated_block_is_replaced_in_place_or_added() {
        let first = replace_block("# perf\n\ntext\n", "| a |\n");
        assert_eq!(first, format!("# perf\n\ntext\n{DOC_BEGIN}\n| a |\n{DOC_END}\n"));
        let again = replace_block(&format!("{first}\n## later\n"), "| b |\n");
        assert_eq!(again, format!("# perf\n\ntext\n{DOC_BEGIN}\n| b |\n{DOC_END}\n\n## later\n"));
    }

    #[test]
    fn synthetic_streams_parse_cleanly() {
        for api in [crate::suite::Api::Ollama, crate::suite::Api::Openai] {
            let obs = parse_synthetic(api, synthetic_stream(api, 50));
            assert_eq!(obs.chunks, 50, "{api:?}");
            assert!(obs.problems.is_empty(), "{api:?}: {:?}", obs.problems);
            assert!(obs.text.starts_with("The word word"));
        }
    }
}
