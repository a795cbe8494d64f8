//! A lean HTTP/1.1 keep-alive client for plain `http://`: perf loops and LLM requests.
//!
//! The general client (reqwest over hyper) runs each connection in a task of its own and
//! spends most of its time on per-request machinery; measured against the simulator it
//! reached 0.4× wrk's request rate, and every streamed chunk crossed a task boundary before
//! hxrun could stamp its arrival. This client reads the socket in the task that measures,
//! parses heads with httparse, decodes Content-Length, chunked and read-to-close bodies
//! incrementally, and keeps connections alive in a pool. It follows no redirects and speaks
//! no TLS: `https://` targets (and runs behind a proxy) keep using the general client.

use crate::record::{FailureKind, StepError};
use crate::suite::step::{is_header_value, is_token};
use bytes::{Buf, Bytes, BytesMut};
use futures_util::Stream;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Body bytes kept by `send` for messages (the rest is read and dropped).
const KEEP_BODY: usize = 4096;
/// Longest chunk-size or trailer line accepted (a size and its extensions): a line that never
/// ends is refused once it passes this, instead of being buffered and searched again.
const MAX_CHUNK_LINE: usize = 4096;

/// Whether the lean client may serve `url`: plain http, and no proxy configured.
pub(crate) fn serves(url: &reqwest::Url) -> bool {
    let proxied = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|p| !p.is_empty()));
    url.scheme() == "http" && !proxied
}

/// A request's head: `METHOD target HTTP/1.1`, Host and the given headers, and the body;
/// with the address to connect to. A method, header name or value that would break the
/// framing is refused (the loader refuses them first; this is the last line).
pub(crate) fn serialize(
    method: &str,
    url: &reqwest::Url,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<(String, Vec<u8>), String> {
    let host = url.host_str().ok_or_else(|| format!("the url {url} has no host"))?;
    let port = url.port_or_known_default().ok_or_else(|| format!("the url {url} has no port"))?;
    if !is_token(method) {
        return Err(format!("\"{method}\" is not an HTTP method"));
    }
    if let Some((k, _)) = headers.iter().find(|(k, v)| !is_token(k) || !is_header_value(v)) {
        return Err(format!(
            "header \"{}\" has a name or value that cannot be sent (CR, LF or NUL)",
            k.escape_debug()
        ));
    }
    let host_header = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: hxrun/{}\r\nAccept: */*\r\n",
        env!("CARGO_PKG_VERSION")
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || !matches!(method, "GET" | "HEAD") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    let addr = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    Ok((addr, request))
}

/// Idle keep-alive connections by address.
#[derive(Default)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<String, Vec<Connection>>>,
}

impl Pool {
    /// An idle connection the server has not closed meanwhile. A server may close a
    /// keep-alive connection after a streamed answer without saying so (llama.cpp's
    /// llama-server does): writing the next request to it would be lost, and the retry on a
    /// new connection would land in that request's TTFT.
    fn take(&self, addr: &str) -> Option<Connection> {
        let mut idle = self.idle.lock().expect("connection pool lock");
        let conns = idle.get_mut(addr)?;
        std::iter::from_fn(|| conns.pop()).find(Connection::quiet)
    }

    fn give(&self, addr: &str, conn: Connection) {
        self.idle.lock().expect("connection pool lock").entry(addr.to_string()).or_default().push(conn);
    }

    /// Sends a serialized request (on an idle connection if there is one) and reads the head;
    /// with `keep_headers` the response headers are kept (perf loops need none).
    pub(crate) async fn open(
        self: &Arc<Self>,
        addr: &str,
        request: &[u8],
        keep_headers: bool,
    ) -> Result<Response, StepError> {
        if let Some(mut conn) = self.take(addr)
            && let Ok(head) = send_head(&mut conn, request, keep_headers).await
        {
            return Ok(Response::new(head, conn, Arc::clone(self), addr));
        }
        // No idle connection, or the server closed it meanwhile: a new one.
        let mut conn = connect(addr).await?;
        let head = send_head(&mut conn, request, keep_headers).await?;
        Ok(Response::new(head, conn, Arc::clone(self), addr))
    }
}

/// One connection and the bytes read from it but not consumed yet.
pub(crate) struct Connection {
    stream: TcpStream,
    buf: BytesMut,
}

impl Connection {
    /// Whether the server left this idle connection open and quiet, as it should be. Tokio
    /// knows when nothing arrived since the last read: then this costs no system call.
    fn quiet(&self) -> bool {
        let mut probe = [0u8; 1];
        // Nothing to read: open. Closed (0), broken, or sending unasked bytes: not reusable.
        matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }
}

async fn connect(addr: &str) -> Result<Connection, StepError> {
    let stream = TcpStream::connect(addr).await.map_err(|e| {
        let message = if e.kind() == std::io::ErrorKind::ConnectionRefused {
            super::refused(addr)
        } else {
            format!("could not connect to {addr}: {e}")
        };
        StepError { kind: FailureKind::Connection, message, detail: String::new() }
    })?;
    let _ = stream.set_nodelay(true);
    // Enough for a response head and a short answer; grown for longer ones (10,000 perf workers
    // each hold a connection).
    Ok(Connection { stream, buf: BytesMut::with_capacity(4096) })
}

fn broken(e: impl std::fmt::Display) -> StepError {
    StepError {
        kind: FailureKind::Connection,
        message: format!("the connection broke: {e}"),
        detail: String::new(),
    }
}

/// Reads more bytes into the buffer; false at end of stream.
async fn fill(conn: &mut Connection) -> Result<bool, StepError> {
    // Room for a response's head and a short answer at first; doubled for a longer one (each
    // of 10,000 perf workers holds a buffer).
    if conn.buf.capacity() - conn.buf.len() < 1024 {
        conn.buf.reserve(conn.buf.len().max(4096));
    }
    let n = conn.stream.read_buf(&mut conn.buf).await.map_err(broken)?;
    Ok(n > 0)
}

/// What the head says about the body.
struct Head {
    status: u16,
    headers: Vec<(String, String)>,
    body: BodyState,
    close: bool,
}

async fn send_head(conn: &mut Connection, request: &[u8], keep_headers: bool) -> Result<Head, StepError> {
    conn.stream.write_all(request).await.map_err(broken)?;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&conn.buf) {
            Ok(httparse::Status::Complete(n)) => {
                let mut body = BodyState::UntilClose;
                let mut close = resp.version == Some(0);
                for h in resp.headers.iter() {
                    if h.name.eq_ignore_ascii_case("content-length") {
                        let len = std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse().ok());
                        body = BodyState::Length(len.ok_or_else(|| broken("invalid Content-Length"))?);
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding")
                        && h.value.eq_ignore_ascii_case(b"chunked")
                    {
                        body = BodyState::ChunkSize;
                    } else if h.name.eq_ignore_ascii_case("connection") {
                        close = h.value.eq_ignore_ascii_case(b"close");
                    }
                }
                let status = resp.code.unwrap_or(0);
                let headers = if keep_headers {
                    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                    resp.headers.iter().map(|h| (h.name.to_string(), text(h.value))).collect()
                } else {
                    Vec::new()
                };
                if status == 204 || status == 304 || (100..200).contains(&status) {
                    body = BodyState::Length(0);
                }
                if matches!(body, BodyState::UntilClose) {
                    close = true;
                }
                conn.buf.advance(n);
                return Ok(Head { status, headers, body, close });
            }
            Ok(httparse::Status::Partial) => {
                if conn.buf.len() > MAX_HEAD {
                    return Err(broken("response head too large"));
                }
                if !fill(conn).await? {
                    return Err(broken("closed before a response"));
                }
            }
            Err(e) => return Err(broken(format!("invalid HTTP response ({e})"))),
        }
    }
}

/// Where the body decoder is.
enum BodyState {
    Length(usize),
    ChunkSize,
    ChunkData(usize),
    /// The CRLF after a chunk's data.
    ChunkEnd,
    /// After the last (empty) chunk: trailer lines, then an empty line.
    Trailers,
    UntilClose,
    Done,
}

/// Where the CRLF ending the line at the start of `buf` is, searching no further than a
/// chunk line may be long.
fn line_end(buf: &[u8]) -> Option<usize> {
    buf[..buf.len().min(MAX_CHUNK_LINE + 2)].windows(2).position(|w| w == b"\r\n")
}

/// The next piece of the body, or None at its end.
async fn next_piece(conn: &mut Connection, state: &mut BodyState) -> Result<Option<Bytes>, StepError> {
    loop {
        match state {
            BodyState::Done | BodyState::Length(0) => {
                *state = BodyState::Done;
                return Ok(None);
            }
            BodyState::Length(left) | BodyState::ChunkData(left) => {
                if conn.buf.is_empty() && !fill(conn).await? {
                    return Err(broken("closed in the middle of the body"));
                }
                let take = (*left).min(conn.buf.len());
                let piece = conn.buf.split_to(take).freeze();
                *left -= take;
                if *left == 0 && matches!(state, BodyState::ChunkData(_)) {
                    *state = BodyState::ChunkEnd;
                }
                return Ok(Some(piece));
            }
            BodyState::ChunkSize => match line_end(&conn.buf) {
                Some(pos) => {
                    let line = std::str::from_utf8(&conn.buf[..pos]).map_err(broken)?;
                    let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                        .map_err(|_| broken("invalid chunk size"))?;
                    conn.buf.advance(pos + 2);
                    *state = if size == 0 { BodyState::Trailers } else { BodyState::ChunkData(size) };
                }
                None if conn.buf.len() > MAX_CHUNK_LINE => {
                    return Err(broken(
                        "a chunk-size line longer than 4 KiB: the response is not valid HTTP",
                    ));
                }
                None if !fill(conn).await? => return Err(broken("closed in the middle of a chunked body")),
                None => {}
            },
            // Trailer lines after the last chunk, up to the empty line that ends the body.
            BodyState::Trailers => match line_end(&conn.buf) {
                Some(pos) => {
                    conn.buf.advance(pos + 2);
                    if pos == 0 {
                        *state = BodyState::Done;
                    }
                }
                None if conn.buf.len() > MAX_CHUNK_LINE => {
                    return Err(broken("a trailer line longer than 4 KiB: the response is not valid HTTP"));
                }
                None if !fill(conn).await? => return Err(broken("closed in the middle of a chunked body")),
                None => {}
            },
            BodyState::ChunkEnd => {
                if conn.buf.len() < 2 {
                    if !fill(conn).await? {
                        return Err(broken("closed in the middle of a chunked body"));
                    }
                    continue;
                }
                if &conn.buf[..2] != b"\r\n" {
                    return Err(broken(
                        "a chunk is longer than its size says: the response is not valid HTTP",
                    ));
                }
                conn.buf.advance(2);
                *state = BodyState::ChunkSize;
            }
            BodyState::UntilClose => {
                if conn.buf.is_empty() && !fill(conn).await? {
                    *state = BodyState::Done;
                    return Ok(None);
                }
                let all = conn.buf.len();
                return Ok(Some(conn.buf.split_to(all).freeze()));
            }
        }
    }
}

/// Reads a body keeping its first `keep` bytes; past them, stops (`stop`, leaving the body
/// unread) or reads on and drops; true when there was more than `keep`.
async fn read_body(
    conn: &mut Connection,
    body: &mut BodyState,
    keep: usize,
    stop: bool,
) -> Result<(Vec<u8>, bool), StepError> {
    let mut out = Vec::new();
    let mut cut = false;
    while let Some(piece) = next_piece(conn, body).await? {
        let room = keep.saturating_sub(out.len());
        out.extend_from_slice(&piece[..piece.len().min(room)]);
        cut |= piece.len() > room;
        if cut && stop {
            break;
        }
    }
    Ok((out, cut))
}

/// A response whose body has not been read yet; the connection goes back to the pool when
/// the body is read to its end (and not when it is dropped half-way).
pub(crate) struct Response {
    pub(crate) status: u16,
    /// The response headers, when asked for.
    pub(crate) headers: Vec<(String, String)>,
    conn: Connection,
    body: BodyState,
    close: bool,
    pool: Arc<Pool>,
    addr: String,
}

impl Response {
    fn new(head: Head, conn: Connection, pool: Arc<Pool>, addr: &str) -> Self {
        Response {
            status: head.status,
            headers: head.headers,
            conn,
            body: head.body,
            close: head.close,
            pool,
            addr: addr.to_string(),
        }
    }

    fn recycle(self) {
        if !self.close {
            self.pool.give(&self.addr, self.conn);
        }
    }

    /// The body up to `cap` bytes; true when it was longer. Reading stops at the cap (the
    /// connection is then closed, not reused).
    pub(crate) async fn capped(self, cap: usize) -> Result<(Vec<u8>, bool), StepError> {
        self.read(cap, true).await
    }

    /// Reads the body keeping `keep` bytes; past them, stops (`stop`) or reads on and drops.
    async fn read(mut self, keep: usize, stop: bool) -> Result<(Vec<u8>, bool), StepError> {
        let (out, cut) = read_body(&mut self.conn, &mut self.body, keep, stop).await?;
        if !(cut && stop) {
            self.recycle();
        }
        Ok((out, cut))
    }

    /// The body as a stream of pieces, as they arrive.
    pub(crate) fn into_stream(self) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin + Send {
        Box::pin(futures_util::stream::unfold(Some(self), |state| async move {
            let mut r = state?;
            match next_piece(&mut r.conn, &mut r.body).await {
                Ok(Some(piece)) => Some((Ok(piece), Some(r))),
                Ok(None) => {
                    r.recycle();
                    None
                }
                Err(e) => Some((Err(std::io::Error::other(e.message)), None)),
            }
        }))
    }
}

/// A request serialized once and sent many times (a perf loop's `http` request).
pub(crate) struct H1Client {
    addr: String,
    request: Vec<u8>,
}

/// What one exchange returned.
#[derive(Debug)]
pub(crate) struct H1Response {
    pub(crate) status: u16,
    /// The first bytes of the body (for error messages).
    pub(crate) body: Vec<u8>,
}

impl H1Client {
    /// Prepares `method url` with headers and body (each worker keeps its own connection); None
    /// for anything the lean client does not serve.
    pub(crate) fn new(
        method: &str,
        url: &reqwest::Url,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Option<H1Client> {
        if !serves(url) {
            return None;
        }
        let (addr, request) = serialize(method, url, headers, body).ok()?;
        Some(H1Client { addr, request })
    }

    /// Sends the request once and reads the whole response, on the connection `held` keeps for
    /// one worker between its requests (no pool, no lock): a new one when it has none or the
    /// server closed it, kept again when the response allows. The body is kept only when the
    /// status is not a success (for messages).
    pub(crate) async fn send_held(&self, held: &mut Held) -> Result<H1Response, StepError> {
        let kept = held.0.take().filter(Connection::quiet);
        let reused = kept.is_some();
        let mut conn = match kept {
            Some(conn) => conn,
            None => connect(&self.addr).await?,
        };
        let head = match send_head(&mut conn, &self.request, false).await {
            Ok(head) => head,
            // The server closed a kept one as the request went out: once more, on a new one.
            Err(_) if reused => {
                conn = connect(&self.addr).await?;
                send_head(&mut conn, &self.request, false).await?
            }
            Err(e) => return Err(e),
        };
        let keep = if (200..300).contains(&head.status) { 0 } else { KEEP_BODY };
        let mut body = head.body;
        let (body_kept, _) = read_body(&mut conn, &mut body, keep, false).await?;
        if !head.close {
            held.0 = Some(conn);
        }
        Ok(H1Response { status: head.status, body: body_kept })
    }
}

/// The connection a perf worker keeps between its requests.
#[derive(Default)]
pub(crate) struct Held(Option<Connection>);

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use tokio::net::TcpListener;

    /// A server that answers each request on one connection with the next canned response.
    async fn serve(responses: Vec<&'static str>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/x?a=1", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            for r in responses {
                let n = s.read(&mut buf).await.unwrap();
                assert!(
                    std::str::from_utf8(&buf[..n])
                        .unwrap()
                        .starts_with("GET /x?a=1 HTTP/1.1\r\nHost: 127.0.0.1:")
                );
                s.write_all(r.as_bytes()).await.unwrap();
            }
        });
        url
    }

    #[tokio::test]
    async fn length_and_chunked_bodies_on_one_kept_connection() {
        let url = serve(vec![
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            "HTTP/1.1 204 No Content\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nline\r\n1\r\n\n\r\n0\r\n\r\n",
        ])
        .await;
        let c = H1Client::new("GET", &reqwest::Url::parse(&url).unwrap(), &[], b"").unwrap();
        let mut held = Held::default();
        let a = c.send_held(&mut held).await.unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &b""[..]), "a success's body is not kept");
        let b = c.send_held(&mut held).await.unwrap();
        assert_eq!((b.status, b.body.as_slice()), (404, &b"abcde"[..]));
        assert_eq!(c.send_held(&mut held).await.unwrap().status, 204);
        // The same connection, through a pool, for a streamed body.
        let pool = Arc::new(Pool::default());
        pool.give(&c.addr, held.0.take().expect("the connection was kept"));
        let streamed = pool.open(&c.addr, &c.request, false).await.unwrap();
        let pieces: Vec<Bytes> = streamed.into_stream().map(|p| p.unwrap()).collect().await;
        assert_eq!(pieces, vec![Bytes::from_static(b"line"), Bytes::from_static(b"\n")]);
        assert_eq!(pool.idle.lock().unwrap()[&c.addr].len(), 1, "one connection, kept alive");
    }

    #[tokio::test]
    async fn a_connection_the_server_closed_is_not_reused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let pool = Pool::default();
        let client = TcpStream::connect(&addr).await.unwrap();
        let (server_side, _) = listener.accept().await.unwrap();
        pool.give(&addr, Connection { stream: client, buf: BytesMut::new() });
        let kept = TcpStream::connect(&addr).await.unwrap();
        let (_kept_server_side, _) = listener.accept().await.unwrap();
        // The server closes the first without a word; wait (bounded) until its FIN is here.
        drop(server_side);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        let closed = pool.take(&addr).unwrap();
        loop {
            match closed.stream.try_read(&mut [0u8; 1]) {
                Ok(0) => break,
                _ if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await
                }
                other => panic!("the close never arrived: {other:?}"),
            }
        }
        pool.give(&addr, closed);
        pool.give(&addr, Connection { stream: kept, buf: BytesMut::new() });
        // The open one is taken; the closed one is dropped, not handed out.
        assert!(pool.take(&addr).is_some());
        assert!(pool.take(&addr).is_none(), "a closed connection came out of the pool");
    }

    #[test]
    fn only_plain_http() {
        let https = reqwest::Url::parse("https://example.invalid/").unwrap();
        assert!(H1Client::new("GET", &https, &[], b"").is_none());
    }
}
