//! A server that misbehaves on purpose, on 127.0.0.1, for the fault corpus: each path is one
//! fault. It reads the request head, then does what the path says; every loop it runs stops
//! when the client goes away or after a bounded amount of output.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// What a fault server sends at most on one connection (bounds every "endless" case: far more
/// than any cap hxrun applies, so hxrun's caps are what ends them).
const MAX_SENT: usize = 512 * 1024 * 1024;

pub struct FaultServer {
    pub url: String,
}

impl FaultServer {
    pub fn start() -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || serve(stream));
            }
        });
        FaultServer { url }
    }
}

/// Reads a request head; returns its path.
fn read_head(stream: &TcpStream) -> Option<String> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut first = String::new();
    reader.read_line(&mut first).ok()?;
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            content_length = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0u8; content_length];
    reader.read_exact(&mut body).ok()?;
    first.split_whitespace().nth(1).map(str::to_string)
}

/// Writes `piece` again and again until MAX_SENT bytes or the client leaves.
fn repeat(stream: &mut TcpStream, piece: &[u8]) {
    let mut sent = 0;
    while sent < MAX_SENT && stream.write_all(piece).is_ok() {
        sent += piece.len();
    }
}

fn serve(mut s: TcpStream) {
    let Some(path) = read_head(&s) else { return };
    // One request per connection, and said so: a client may then not reuse it.
    let ok = |body: &str| {
        format!("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len())
    };
    match path.as_str() {
        "/ok" => {
            let _ = s.write_all(ok("fine").as_bytes());
        }
        // Accepts, reads, never answers (held until the client gives up).
        p if p.starts_with("/stall") => {
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf);
        }
        // Half a status line, then a reset.
        "/reset-head" => {
            let _ = s.write_all(b"HTTP/1.1 200 O");
            reset(s);
        }
        "/reset-body" => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly some");
            reset(s);
        }
        // Three valid chunks of an Ollama stream, then the connection is reset.
        "/api/generate/reset-stream" | "/reset-stream/api/generate" => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n\r\n");
            for _ in 0..3 {
                let _ = s.write_all(b"{\"model\":\"m\",\"response\":\"x\",\"done\":false}\n");
            }
            std::thread::sleep(Duration::from_millis(50));
            reset(s);
        }
        // One byte every 50 ms of a body that would take minutes.
        "/drip" => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
            for _ in 0..100_000 {
                if s.write_all(b"x").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        // Valid NDJSON chunks that never end.
        "/endless-ndjson/api/generate" => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n\r\n");
            repeat(&mut s, &b"{\"model\":\"m\",\"response\":\"x\",\"done\":false}\n".repeat(100));
        }
        // Valid SSE events that never end.
        "/endless-sse/v1/chat/completions" => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n");
            let event = b"data: {\"model\":\"m\",\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n";
            repeat(&mut s, &event.repeat(100));
        }
        // One SSE line that never ends.
        "/huge-line/v1/chat/completions" => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: {\"x\":\"");
            repeat(&mut s, &[b'a'; 64 * 1024]);
        }
        // One NDJSON line that never ends.
        "/huge-line/api/generate" => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\n{\"response\":\"");
            repeat(&mut s, &[b'a'; 64 * 1024]);
        }
        // A chunk-size line that never ends.
        "/hostile-chunk/api/generate" | "/hostile-chunk" => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1");
            repeat(&mut s, &[b'0'; 64 * 1024]);
        }
        // A body far past any cap (the models list, an unload answer, an http body).
        "/huge-body" | "/huge-body/api/tags" | "/huge-body/api/generate" => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2000000000\r\n\r\n");
            repeat(&mut s, &[b' '; 64 * 1024]);
        }
        // Compressed bytes that would inflate enormously — hxrun never asks for compression.
        "/gzip" => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 50000000\r\n\r\n\x1f\x8b\x08\x00");
            repeat(&mut s, &[0u8; 64 * 1024]);
        }
        "/redirect" | "/redirect/api/generate" => {
            let _ = s.write_all(
                format!("HTTP/1.1 302 Found\r\nLocation: {path}\r\nContent-Length: 0\r\n\r\n").as_bytes(),
            );
        }
        // An HTML error page where JSON was due.
        "/html/api/generate" => {
            let page = "<html><body>502 Bad Gateway</body></html>";
            let _ = s.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{page}",
                    page.len()
                )
                .as_bytes(),
            );
        }
        // A response head of endless headers.
        "/huge-headers" | "/huge-headers/api/generate" => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n");
            repeat(&mut s, &b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(1000));
        }
        "/invalid-utf8" | "/invalid-utf8/api/generate" => {
            let body = b"{\"model\":\"m\",\"response\":\"\xff\xfe\",\"done\":true}";
            let _ =
                s.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes());
            let _ = s.write_all(body);
        }
        // An answer with every kind of character a report format forbids or a viewer runs:
        // XML 1.0's forbidden U+FFFE/U+FFFF, C0 and C1 controls, an ANSI escape, a formula.
        "/hostile-text" | "/hostile-text/api/generate" => {
            let body = "{\"model\":\"m\",\"response\":\"=HYPERLINK(1) \u{fffe}\u{ffff}\u{1}\u{85}\u{1b}[2J \u{7f}\",\"done\":true}";
            let _ = s.write_all(ok(body).as_bytes());
        }
        _ => {
            let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        }
    }
}

/// Closes with a TCP reset (linger 0) instead of a clean FIN.
fn reset(s: TcpStream) {
    set_linger_zero(&s);
    drop(s);
}

fn set_linger_zero(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: setsockopt on our own open socket with a correctly sized linger value.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as u32,
        );
    }
}
