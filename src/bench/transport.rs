//! The lean HTTP/1.1 client (`execute/h1.rs`, hand-made framing on httparse) against hyper's
//! low-level `client::conn::http1`, each driven in the measuring task (no connection task, no
//! pool): the same loop of `GET /api/version` on `connections` kept-alive connections, in
//! interleaved rounds. If hyper came within 5% it would be preferred (maintained framing and
//! header validation); this part is what decides.

use super::measure::{Load, Spread, interleave, process_cpu};
use super::rate::Run;
use super::setup::SimProcess;
use super::{BenchOptions, Row};
use crate::execute::h1::{H1Client, Held};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// Runs `c` workers until `until`, each counting its requests; the rate and CPU per request.
fn measure<F, Fut>(rt: &tokio::runtime::Runtime, c: u32, secs: u64, worker: F) -> Result<Run, String>
where
    F: Fn(Instant) -> Fut,
    Fut: Future<Output = Result<u64, String>> + Send + 'static,
{
    let before = process_cpu();
    let started = std::time::Instant::now();
    let until = Instant::now() + std::time::Duration::from_secs(secs);
    // A worker whose server stops answering is given up 30 s after the end (the JoinSet
    // aborts it when dropped).
    let limit = std::time::Duration::from_secs(secs + 30);
    let counts = rt.block_on(async {
        let mut set = JoinSet::new();
        for _ in 0..c {
            set.spawn(worker(until));
        }
        tokio::time::timeout(limit, set.join_all()).await
    });
    let counts =
        counts.map_err(|_| format!("the server stopped answering: no end within {}s", limit.as_secs()))?;
    let (wall, cpu) = (started.elapsed().as_secs_f64(), process_cpu().saturating_sub(before));
    let n = counts.into_iter().sum::<Result<u64, String>>()?;
    if n == 0 {
        return Err("no request was answered".into());
    }
    Ok(Run { rate: n as f64 / wall, cpu_us: cpu.as_secs_f64() * 1e6 / n as f64 })
}

/// The lean client's worker: the prepared request sent again and again on the connection the
/// worker keeps, as a perf loop's worker does.
async fn lean(client: Arc<H1Client>, until: Instant) -> Result<u64, String> {
    let mut held = Held::default();
    let mut n = 0;
    while Instant::now() < until {
        let r = client.send_held(&mut held).await.map_err(|e| e.message)?;
        if r.status != 200 {
            return Err(format!("HTTP {}", r.status));
        }
        n += 1;
    }
    Ok(n)
}

/// Polls `fut` and the connection that serves it in this task until `fut` is done.
async fn drive<C, F>(mut conn: Pin<&mut C>, fut: F) -> Result<F::Output, String>
where
    C: Future<Output = hyper::Result<()>>,
    F: Future,
{
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(done) = conn.as_mut().poll(cx) {
            // The connection ended: the request can no longer be answered, unless it already was.
            return match fut.as_mut().poll(cx) {
                Poll::Ready(out) => Poll::Ready(Ok(out)),
                Poll::Pending => Poll::Ready(Err(match done {
                    Ok(()) => "the connection closed".to_string(),
                    Err(e) => e.to_string(),
                })),
            };
        }
        fut.as_mut().poll(cx).map(Ok)
    })
    .await
}

/// hyper's worker: one connection, its requests sent and their bodies read in this task.
async fn hyper_worker(addr: String, until: Instant) -> Result<u64, String> {
    let stream = tokio::net::TcpStream::connect(&addr).await.map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    let mut conn = std::pin::pin!(conn);
    let mut n = 0;
    while Instant::now() < until {
        drive(conn.as_mut(), sender.ready()).await?.map_err(|e| e.to_string())?;
        let request = hyper::Request::get("/api/version")
            .header(hyper::header::HOST, addr.as_str())
            .header(hyper::header::USER_AGENT, concat!("hxrun/", env!("CARGO_PKG_VERSION")))
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response =
            drive(conn.as_mut(), sender.send_request(request)).await?.map_err(|e| e.to_string())?;
        if response.status() != 200 {
            return Err(format!("HTTP {}", response.status()));
        }
        let mut body = response.into_body();
        while let Some(frame) = drive(conn.as_mut(), body.frame()).await? {
            frame.map_err(|e| e.to_string())?;
        }
        n += 1;
    }
    Ok(n)
}

pub(super) fn compare(rt: &tokio::runtime::Runtime, opts: &BenchOptions) -> Result<Vec<Row>, String> {
    let sim = SimProcess::start(&[])?;
    let url = reqwest::Url::parse(&format!("{}/api/version", sim.url)).map_err(|e| e.to_string())?;
    let addr = format!("{}:{}", url.host_str().unwrap_or("127.0.0.1"), url.port().unwrap_or(80));
    let client = Arc::new(H1Client::new("GET", &url, &[], b"").ok_or("the lean client refused the url")?);
    let (c, secs) = (opts.connections, opts.duration.as_secs().max(1));
    let load = Load::now();
    // A second of each first, not counted (first connections, first page faults).
    measure(rt, c, 1, |until| lean(Arc::clone(&client), until))?;
    measure(rt, c, 1, |until| hyper_worker(addr.clone(), until))?;
    let runs = interleave(
        opts.rounds,
        &mut [&mut || measure(rt, c, secs, |until| lean(Arc::clone(&client), until)), &mut || {
            measure(rt, c, secs, |until| hyper_worker(addr.clone(), until))
        }],
    )?;
    let (ours, hyper) = (&runs[0], &runs[1]);
    let of =
        |f: &dyn Fn(usize) -> f64| Spread::of(&(0..ours.len()).map(f).collect::<Vec<_>>()).ok_or("no rounds");
    let rate = of(&|i| hyper[i].rate / ours[i].rate)?;
    let cpu = of(&|i| hyper[i].cpu_us / ours[i].cpu_us)?;
    let verdict = load.verdict(&[&rate, &cpu]);
    let within = rate.median >= 0.95 && cpu.median <= 1.05;
    Ok(vec![Row {
        what: format!(
            "HTTP/1.1 framing, GET /api/version on {c} kept-alive connections, {secs}s × {} rounds, each driven in its worker task: hyper's client::conn::http1 / hxrun's lean client (rate; CPU per request); {}",
            opts.rounds,
            load.text()
        ),
        result: format!(
            "rate {}; CPU {}; lean {} at {}, hyper {} at {}; {verdict}; {}",
            rate.ratio(),
            cpu.ratio(),
            of(&|i| ours[i].rate)?.with_unit("req/s", 0),
            of(&|i| ours[i].cpu_us)?.with_unit("µs", 2),
            of(&|i| hyper[i].rate)?.with_unit("req/s", 0),
            of(&|i| hyper[i].cpu_us)?.with_unit("µs", 2),
            if within {
                "hyper is within 5%: prefer it"
            } else {
                "hyper is not within 5%: the lean client stays"
            }
        ),
        target: "hyper within 5% → prefer hyper".into(),
        met: None,
    }])
}
