//! A lean HTTP/1.1 keep-alive client for perf loops over plain `http://`.
//!
//! A perf loop sends the same request thousands of times; the general client (reqwest over
//! hyper) spends most of its time on per-request machinery the loop does not need, and
//! measured at 0.4× wrk's request rate against the simulator. This client serializes the
//! request once, keeps one connection per in-flight request, parses responses with httparse
//! (Content-Length, chunked, or read-to-close), and reaches wrk's rate. It follows no
//! redirects and speaks no TLS: `https://` targets keep using the general client.

use super::record::{FailureKind, StepError};
use bytes::{Buf, BytesMut};
use std::sync::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Body bytes kept for messages (the rest is read and dropped).
const KEEP_BODY: usize = 4096;

/// A request serialized once, with connections to its server.
pub struct H1Client {
    addr: String,
    request: Vec<u8>,
    idle: Mutex<Vec<Connection>>,
}

struct Connection {
    stream: TcpStream,
    buf: BytesMut,
}

/// What one exchange returned.
#[derive(Debug)]
pub struct H1Response {
    pub status: u16,
    /// The first bytes of the body (for error messages).
    pub body: Vec<u8>,
}

fn error(kind: FailureKind, message: String) -> StepError {
    StepError { kind, message, detail: String::new() }
}

impl H1Client {
    /// Prepares `method url` with headers and body; None for anything but plain http.
    pub fn new(
        method: &str,
        url: &reqwest::Url,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Option<H1Client> {
        if url.scheme() != "http" {
            return None;
        }
        let host = url.host_str()?;
        let port = url.port_or_known_default()?;
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
        Some(H1Client { addr, request, idle: Mutex::new(Vec::new()) })
    }

    /// Sends the request once (on an idle connection if there is one) and reads the response.
    pub async fn send(&self) -> Result<H1Response, StepError> {
        let reused = self.idle.lock().expect("connection pool lock").pop();
        let fresh = reused.is_none();
        let mut conn = match reused {
            Some(c) => c,
            None => self.connect().await?,
        };
        match exchange(&mut conn, &self.request).await {
            Ok((response, keep)) => {
                if keep {
                    self.idle.lock().expect("connection pool lock").push(conn);
                }
                Ok(response)
            }
            // A kept-alive connection the server closed meanwhile: once more on a new one.
            Err(_) if !fresh => {
                let mut conn = self.connect().await?;
                let (response, keep) = exchange(&mut conn, &self.request).await?;
                if keep {
                    self.idle.lock().expect("connection pool lock").push(conn);
                }
                Ok(response)
            }
            Err(e) => Err(e),
        }
    }

    async fn connect(&self) -> Result<Connection, StepError> {
        let stream = TcpStream::connect(&self.addr).await.map_err(|e| {
            let message = if e.kind() == std::io::ErrorKind::ConnectionRefused {
                format!(
                    "connection refused by {}: is the server running and listening on that port?",
                    self.addr
                )
            } else {
                format!("could not connect to {}: {e}", self.addr)
            };
            error(FailureKind::Connection, message)
        })?;
        let _ = stream.set_nodelay(true);
        Ok(Connection { stream, buf: BytesMut::with_capacity(8192) })
    }
}

fn broken(e: impl std::fmt::Display) -> StepError {
    error(FailureKind::Connection, format!("the connection broke: {e}"))
}

/// Reads more bytes into the buffer; false at end of stream.
async fn fill(conn: &mut Connection) -> Result<bool, StepError> {
    if conn.buf.capacity() - conn.buf.len() < 4096 {
        conn.buf.reserve(8192);
    }
    let n = conn.stream.read_buf(&mut conn.buf).await.map_err(broken)?;
    Ok(n > 0)
}

/// One request/response; returns whether the connection may be reused.
async fn exchange(conn: &mut Connection, request: &[u8]) -> Result<(H1Response, bool), StepError> {
    conn.stream.write_all(request).await.map_err(broken)?;
    let (status, framing, close, head_len) = loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&conn.buf) {
            Ok(httparse::Status::Complete(n)) => {
                let mut framing = Framing::UntilClose;
                let mut close = resp.version == Some(0);
                for h in resp.headers.iter() {
                    if h.name.eq_ignore_ascii_case("content-length") {
                        let len = std::str::from_utf8(h.value).ok().and_then(|v| v.trim().parse().ok());
                        framing = Framing::Length(len.ok_or_else(|| broken("invalid Content-Length"))?);
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding")
                        && h.value.eq_ignore_ascii_case(b"chunked")
                    {
                        framing = Framing::Chunked;
                    } else if h.name.eq_ignore_ascii_case("connection") {
                        close = h.value.eq_ignore_ascii_case(b"close");
                    }
                }
                let status = resp.code.unwrap_or(0);
                if status == 204 || status == 304 || (100..200).contains(&status) {
                    framing = Framing::Length(0);
                }
                break (status, framing, close, n);
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
    };
    conn.buf.advance(head_len);
    let mut body = Vec::new();
    let mut keep = |bytes: &[u8]| {
        let room = KEEP_BODY.saturating_sub(body.len());
        body.extend_from_slice(&bytes[..bytes.len().min(room)]);
    };
    let reusable = match framing {
        Framing::Length(mut left) => {
            while left > 0 {
                if conn.buf.is_empty() && !fill(conn).await? {
                    return Err(broken("closed in the middle of the body"));
                }
                let take = left.min(conn.buf.len());
                keep(&conn.buf[..take]);
                conn.buf.advance(take);
                left -= take;
            }
            !close
        }
        Framing::Chunked => {
            loop {
                let size = loop {
                    if let Some(pos) = conn.buf.windows(2).position(|w| w == b"\r\n") {
                        let line = std::str::from_utf8(&conn.buf[..pos]).map_err(broken)?;
                        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                            .map_err(|_| broken("invalid chunk size"))?;
                        conn.buf.advance(pos + 2);
                        break size;
                    }
                    if !fill(conn).await? {
                        return Err(broken("closed in the middle of a chunked body"));
                    }
                };
                // The chunk, then its CRLF (the last, empty chunk is followed by one CRLF too).
                let mut left = size + 2;
                while left > 0 {
                    if conn.buf.is_empty() && !fill(conn).await? {
                        return Err(broken("closed in the middle of a chunk"));
                    }
                    let take = left.min(conn.buf.len());
                    let data = take.min(left.saturating_sub(2));
                    keep(&conn.buf[..data]);
                    conn.buf.advance(take);
                    left -= take;
                }
                if size == 0 {
                    break;
                }
            }
            !close
        }
        Framing::UntilClose => {
            loop {
                keep(&conn.buf);
                conn.buf.clear();
                if !fill(conn).await? {
                    break;
                }
            }
            false
        }
    };
    Ok((H1Response { status, body }, reusable))
}

enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// A server that answers each request on a connection with the next canned response.
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
        ])
        .await;
        let c = H1Client::new("GET", &reqwest::Url::parse(&url).unwrap(), &[], b"").unwrap();
        let a = c.send().await.unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &b"hello"[..]));
        let b = c.send().await.unwrap();
        assert_eq!((b.status, b.body.as_slice()), (404, &b"abcde"[..]));
        assert_eq!(c.send().await.unwrap().status, 204);
        assert_eq!(c.idle.lock().unwrap().len(), 1, "one connection, kept alive");
    }

    #[test]
    fn only_plain_http() {
        let https = reqwest::Url::parse("https://example.invalid/").unwrap();
        assert!(H1Client::new("GET", &https, &[], b"").is_none());
    }
}
