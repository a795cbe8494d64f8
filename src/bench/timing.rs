//! Timing error against injected delays: the simulator, pacing to the microsecond, releases
//! the three tokens of "HX-OK" 60, 70 and 80 ms after each request arrives; the error is
//! |measured − injected| for TTFT (60 ms) and e2e (80 ms). Beside hxrun, in the same
//! interleaved rounds, a blocking raw-socket client: the floor no client beats on this machine.

use super::measure::{Load, Spread, interleave};
use super::setup::{SimProcess, generate, quiet_sim};
use super::{BenchOptions, Row};
use crate::execute::llm;
use crate::perf::stats::Stats;
use crate::protocol::{self, LlmCall};
use crate::suite::Api;
use std::time::Duration;

/// The injected TTFT and e2e, in seconds.
const TTFT: f64 = 0.060;
const E2E: f64 = 0.080;

/// The simulator paced exactly: TTFT 50 ms + one token at 100 tokens/s; three tokens.
pub(crate) fn exact_sim() -> Result<SimProcess, String> {
    quiet_sim("50ms", "100", true)
}

/// One round's errors in ms: TTFT, and e2e where measured.
type Errors = (Vec<f64>, Vec<f64>);

/// hxrun's TTFT errors in ms over `n` streams, one at a time.
pub(super) fn hxrun_ttfts(
    rt: &tokio::runtime::Runtime,
    url: &str,
    api: Api,
    n: u32,
) -> Result<Vec<f64>, String> {
    hxrun(rt, url, api, n).map(|(ttft, _)| ttft)
}

fn hxrun(rt: &tokio::runtime::Runtime, url: &str, api: Api, n: u32) -> Result<Errors, String> {
    let transport = crate::execute::transport::Transport::new(Default::default());
    let step = generate(api, None);
    let no_headers = Default::default();
    let endpoint = crate::execute::endpoint::Endpoint::new(url, None, &no_headers);
    let req = llm::Request { endpoint, waits: Default::default() };
    let proto = protocol::for_api(api);
    let (mut ttft, mut e2e) = (Vec::new(), Vec::new());
    for _ in 0..n {
        // Each answer takes 80 ms: one that has not ended in 10 s ends the part, said so.
        let ask = async {
            let call = llm::run(&transport, proto, LlmCall::Generate(&step), &req);
            tokio::time::timeout(Duration::from_secs(10), call).await
        };
        let o = rt
            .block_on(ask)
            .map_err(|_| "the simulator did not answer within 10 s".to_string())?
            .map_err(|e| e.message)?;
        ttft.push((o.ttft.ok_or("no TTFT measured")?.as_secs_f64() - TTFT).abs() * 1000.0);
        e2e.push((o.e2e.as_secs_f64() - E2E).abs() * 1000.0);
    }
    Ok((ttft, e2e))
}

/// TTFT error of the simplest possible client: a blocking socket, the request written by
/// hand, the clock stopped when the first token's bytes arrive.
fn reference(url: &str, n: u32) -> Result<Errors, String> {
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
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let mut buf = [0u8; 16384];
    for _ in 0..n {
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
        errors.push((first.ok_or("no first token")?.as_secs_f64() - TTFT).abs() * 1000.0);
    }
    Ok((errors, Vec::new()))
}

/// p50 and p99 of every round's values together, and the range of the rounds' p50s.
fn pooled(rounds: &[Vec<f64>]) -> Option<(Stats, Spread)> {
    let all: Vec<f64> = rounds.iter().flatten().copied().collect();
    let p50s: Vec<f64> = rounds.iter().filter_map(|r| Stats::of(r).map(|s| s.p50)).collect();
    Some((Stats::of(&all)?, Spread::of(&p50s)?))
}

pub(super) fn timing_error(rt: &tokio::runtime::Runtime, opts: &BenchOptions) -> Result<Vec<Row>, String> {
    let sim = exact_sim()?;
    let per_round = opts.timing_requests.div_ceil(opts.rounds.max(1));
    let load = Load::now();
    let runs = interleave(
        opts.rounds,
        &mut [
            &mut || reference(&sim.url, per_round),
            &mut || hxrun(rt, &sim.url, Api::Ollama, per_round),
            &mut || hxrun(rt, &sim.url, Api::Openai, per_round),
        ],
    )?;
    let ttfts = |who: usize| runs[who].iter().map(|r| r.0.clone()).collect::<Vec<_>>();
    let (floor, floor_p50s) = pooled(&ttfts(0)).ok_or("no samples")?;
    let total = per_round * opts.rounds.max(1);
    let mut rows = vec![Row {
        what: format!(
            "timing: a blocking raw-socket client's TTFT error on the same server (the floor set by the simulator and the kernel), {total} requests in {} interleaved rounds; {}",
            opts.rounds,
            load.text()
        ),
        result: format!(
            "p50 {:.3} ms; p99 {:.3} ms; rounds' p50 {}",
            floor.p50,
            floor.p99,
            floor_p50s.with_unit("ms", 3)
        ),
        target: String::new(),
        met: None,
    }];
    for (who, api) in [(1, Api::Ollama), (2, Api::Openai)] {
        let (t, t50s) = pooled(&ttfts(who)).ok_or("no samples")?;
        let (e, _) =
            pooled(&runs[who].iter().map(|r| r.1.clone()).collect::<Vec<_>>()).ok_or("no samples")?;
        rows.push(Row {
            what: format!("timing error vs injected delays, hxrun, {api} stream, {total} requests (TTFT / e2e)"),
            result: format!(
                "p50 {:.3} / {:.3} ms; p99 {:.3} / {:.3} ms; rounds' TTFT p50 {}; above the floor's p50 by {:+.3} ms",
                t.p50,
                e.p50,
                t.p99,
                e.p99,
                t50s.with_unit("ms", 3),
                t.p50 - floor.p50
            ),
            target: "p99 ≤ 1 ms".into(),
            met: Some(t.p99 <= 1.0 && e.p99 <= 1.0),
        });
    }
    // Sub-millisecond errors move by more than a third between rounds on any machine: only the
    // load judges these.
    let verdict = load.verdict(&[]);
    if let Some(last) = rows.last_mut() {
        last.result.push_str(&format!("; {verdict}"));
    }
    Ok(rows)
}
