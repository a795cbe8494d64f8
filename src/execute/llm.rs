//! Generate and chat steps: one request through the step's protocol, the answer measured as
//! the field's tools measure it (TTFT, inter-chunk gaps, end-to-end, client tokens/s), and
//! the stream's integrity checked as it arrives.

use super::Limits;
use super::http::chain;
use super::transport::{Purpose, Transport};
use crate::protocol::{
    At, Frame, LlmCall, Protocol, ServerFigures, StreamFormat, StreamProblem, ToolArguments, same_model,
};
use crate::record::{LlmObservation, StepError};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::codec::{FramedRead, LinesCodec};
use tokio_util::io::StreamReader;

/// Longest stream line accepted, NDJSON or SSE (a final object with a long `context` stays
/// well below). It also bounds what the SSE parser buffers for an unterminated line.
const MAX_LINE: usize = 1024 * 1024;

/// Where to send a call and how.
pub(crate) struct Request<'a> {
    pub(crate) endpoint: super::endpoint::Endpoint<'a>,
    pub(crate) waits: Waits,
}

/// How long a streamed answer may take: between chunks (`chunk_timeout`), and in all (the
/// step's timeout, as a deadline and the limit it came from). A stream cut by either keeps
/// what it measured (TTFT, chunks, text) instead of vanishing with a dropped future.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Waits {
    pub(crate) chunk: Option<Duration>,
    pub(crate) deadline: Option<(Instant, Duration)>,
}

impl Waits {
    /// From now: the test's deadline, and the gap allowed between chunks.
    pub(crate) fn of(deadline: &crate::plan::deadline::Deadline, chunk: Option<Duration>) -> Waits {
        let limit = deadline.limit;
        Waits { chunk, deadline: Instant::now().checked_add(limit).map(|at| (at, limit)) }
    }
}

/// Asks `repeat` times in a row (once by default), all within the step's deadline; the last
/// answer is the observation, with every answer's text in `answers`. An answer that fails
/// (an error status, a broken stream) ends the repeats: that one is what gets judged.
pub(crate) async fn run_repeated(
    transport: &Transport,
    protocol: &dyn Protocol,
    call: LlmCall<'_>,
    req: &Request<'_>,
) -> Result<LlmObservation, StepError> {
    let times = call.repeat().max(1);
    let mut answers = Vec::new();
    let mut obs = run(transport, protocol, call, req).await?;
    for _ in 1..times {
        if !(200..300).contains(&obs.status) || !obs.problems.is_empty() {
            break;
        }
        answers.push(std::mem::take(&mut obs.text));
        obs = run(transport, protocol, call, req).await?;
    }
    if times > 1 {
        answers.push(obs.text.clone());
        obs.answers = answers;
    }
    Ok(obs)
}

pub(crate) async fn run(
    transport: &Transport,
    protocol: &dyn Protocol,
    call: LlmCall<'_>,
    req: &Request<'_>,
) -> Result<LlmObservation, StepError> {
    let url = req.endpoint.url(protocol.path(&call));
    let stream = call.stream().unwrap_or_else(|| protocol.default_stream());
    let detail = format!("POST {url} (model {}, stream {stream})", call.model());
    let with_detail = |mut e: StepError| {
        e.detail = detail.clone();
        e
    };
    let request = req.endpoint.post_json(protocol.path(&call), &protocol.body(&call, stream));
    let limits = transport.limits;
    let started = Instant::now();
    let response = transport.send(&request, Purpose::Api).await.map_err(with_detail)?;
    let mut obs = LlmObservation::new(protocol.api(), &url, call.model(), stream, response.status);
    if !response.is_success() {
        let (body, _) = response.text().await.map_err(with_detail)?;
        record_error(protocol, &body, started, &mut obs);
        return Ok(obs);
    }
    let from_headers = protocol.header_figures(&response.headers);
    if stream {
        read_stream(response.into_stream(), protocol, call, req.waits, limits, started, &mut obs).await;
    } else {
        let whole = response.body().await.map_err(with_detail)?;
        record_whole(protocol, call, whole, limits, started, &mut obs);
    }
    if from_headers != ServerFigures::default() {
        // The body's own figures win; headers fill what it lacks (TGI times answers there).
        obs.server.fill_from(from_headers);
        obs.server_tokens_per_s = obs.server.tokens_per_s();
        obs.output_tokens = obs.output_tokens.or(obs.server.output_tokens());
    }
    Ok(obs)
}

/// Records a whole (non-stream) answer: the body, and whether it was cut at the cap.
fn record_whole(
    protocol: &dyn Protocol,
    call: LlmCall<'_>,
    (body, cut): (Vec<u8>, bool),
    limits: Limits,
    started: Instant,
    obs: &mut LlmObservation,
) {
    let mut rec = Recorder::new(started, call.model());
    let body = String::from_utf8_lossy(&body);
    let body = body.as_ref();
    if cut {
        rec.problem(StreamProblem::BodyCut { cap: limits.max_body });
        obs.e2e = started.elapsed();
        rec.finish(obs);
        return;
    }
    match protocol.decode(&call, body) {
        Ok(frame) => {
            rec.text = frame.content.to_string();
            rec.check_model(frame.model.as_deref(), None);
            rec.take_figures(frame);
        }
        Err(e) => rec.problem(undecodable(None, &e, crate::record::excerpt(body, 200))),
    }
    obs.e2e = started.elapsed();
    rec.finish(obs);
}

/// Records an error answer: the server's words, in its protocol's shape if it has one.
/// A 404 that is not in the protocol's error shape means the endpoint is not there at all —
/// most often the other API family — and the message says which `api:` to try.
fn record_error(protocol: &dyn Protocol, body: &str, started: Instant, obs: &mut LlmObservation) {
    obs.error = Some(match protocol.error_text(body) {
        Some(text) => text,
        None if obs.status == 404 => {
            format!("{} — {}", crate::record::excerpt(body, 200), protocol.not_here_hint())
        }
        None => crate::record::excerpt(body, 300),
    });
    obs.e2e = started.elapsed();
}

/// The next item of a stream, or None when the chunk timeout or the deadline passed first
/// (recorded as a stall or a timeout).
async fn next_or_stall<S: Stream + Unpin>(
    s: &mut S,
    waits: Waits,
    rec: &mut Recorder,
) -> Option<Option<S::Item>> {
    let stall = waits.chunk.map(|d| (super::after(Instant::now(), d), d));
    let until = match (stall, waits.deadline) {
        (Some(a), Some(b)) => Some(if a.0 < b.0 { (a, false) } else { (b, true) }),
        (Some(a), None) => Some((a, false)),
        (None, Some(b)) => Some((b, true)),
        (None, None) => None,
    };
    let Some(((at, limit), is_deadline)) = until else { return Some(s.next().await) };
    match tokio::time::timeout_at(at, s.next()).await {
        Ok(item) => Some(item),
        Err(_) if is_deadline => {
            rec.timed_out(limit);
            None
        }
        Err(_) => {
            rec.stalled(limit);
            None
        }
    }
}

/// Reads a streamed answer from any byte stream (a response body, or memory in the
/// benchmark), records it into `obs` and checks how it ended.
pub(crate) async fn read_stream<S, E>(
    bytes: S,
    protocol: &dyn Protocol,
    call: LlmCall<'_>,
    waits: Waits,
    limits: Limits,
    started: Instant,
    obs: &mut LlmObservation,
) where
    S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
    E: std::error::Error + Send + Sync + 'static,
{
    let mut rec = Recorder::new(started, call.model());
    let format = protocol.stream_format();
    let mut messages = messages(guarded(bytes, limits.max_body), format);
    let mut n = 0;
    while let Some(item) = next_or_stall(&mut messages, waits, &mut rec).await {
        let Some(message) = item else { break };
        n += 1;
        let at = match format {
            StreamFormat::Ndjson => At::Line(n),
            StreamFormat::Sse => At::Event(n),
        };
        match message {
            Err(e) => {
                rec.problem(StreamProblem::Unreadable { at, reason: e.to_string() });
                break;
            }
            Ok(Message::Terminator) => rec.terminator(at),
            Ok(Message::Data(text)) if text.trim().is_empty() => {}
            Ok(Message::Data(text)) => {
                if !rec.message(protocol, &call, &text, at) {
                    break;
                }
            }
        }
    }
    rec.check_end(protocol);
    obs.e2e = started.elapsed();
    rec.finish(obs);
}

/// The byte stream, failing once it is longer than `max_total` bytes or a line grows past
/// `MAX_LINE`: an endless stream or an unterminated line costs a bounded amount of memory and
/// time, whichever parser reads it.
fn guarded<S, E>(
    bytes: S,
    max_total: usize,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin + Send
where
    S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
    E: std::error::Error + Send + Sync + 'static,
{
    let (mut total, mut line) = (0usize, 0usize);
    bytes.map(move |piece| {
        let piece = piece.map_err(std::io::Error::other)?;
        total += piece.len();
        line = match piece.iter().rposition(|&b| b == b'\n' || b == b'\r') {
            Some(end) => piece.len() - end - 1,
            None => line + piece.len(),
        };
        if total > max_total {
            return Err(std::io::Error::other(format!(
                "the stream is longer than {} (--max-body): hxrun stopped reading it",
                crate::suite::values::format_bytes(max_total as f64)
            )));
        }
        if line > MAX_LINE {
            return Err(std::io::Error::other(format!(
                "a line of the stream is longer than {} without an end: hxrun stopped reading it",
                crate::suite::values::format_bytes(MAX_LINE as f64)
            )));
        }
        Ok(piece)
    })
}

/// One message of a stream, whatever its framing.
enum Message {
    Data(String),
    /// OpenAI's `data: [DONE]`.
    Terminator,
}

type Messages<'a> = std::pin::Pin<Box<dyn Stream<Item = Result<Message, String>> + Send + 'a>>;

/// Splits a byte stream into messages: NDJSON lines or SSE events, both framed by
/// tokio-util's line codec with a length cap.
///
/// SSE events are assembled here from those lines (`data:` fields joined by newlines, an
/// empty line ends the event, `:` comments and other fields skipped, an unfinished event at
/// the end dropped, as the EventSource spec says) rather than by eventsource-stream: that
/// crate searches its whole buffer again on every read, so one unterminated line cost time
/// quadratic in its length (a hostile 1 MiB line took seconds of CPU); the codec remembers
/// where it stopped. Lone-CR line ends, which no LLM server sends, are not supported.
fn messages<'a, S>(bytes: S, format: StreamFormat) -> Messages<'a>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin + Send + 'a,
{
    let lines = FramedRead::new(StreamReader::new(bytes), LinesCodec::new_with_max_length(MAX_LINE));
    match format {
        StreamFormat::Ndjson => Box::pin(lines.map(|line| line.map(Message::Data).map_err(|e| chain(&e)))),
        StreamFormat::Sse => {
            let events = futures_util::stream::unfold(
                (lines, String::new(), false),
                |(mut lines, mut data, mut has)| async move {
                    loop {
                        let line = match lines.next().await? {
                            Ok(line) => line,
                            Err(e) => return Some((Err(chain(&e)), (lines, data, has))),
                        };
                        if line.is_empty() {
                            if !has {
                                continue;
                            }
                            let event = std::mem::take(&mut data);
                            let message = if event.trim() == "[DONE]" {
                                Message::Terminator
                            } else {
                                Message::Data(event)
                            };
                            return Some((Ok(message), (lines, data, false)));
                        }
                        let (field, value) = match line.split_once(':') {
                            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                            None => (line.as_str(), ""),
                        };
                        if field == "data" {
                            if has {
                                data.push('\n');
                            }
                            data.push_str(value);
                            has = true;
                        }
                    }
                },
            );
            Box::pin(events)
        }
    }
}

/// A message (or the whole answer) that is not JSON, or not the protocol's shape.
fn undecodable(at: Option<At>, e: &serde_json::Error, excerpt: String) -> StreamProblem {
    let shape = e.classify() == serde_json::error::Category::Data;
    StreamProblem::Undecodable { at, shape, reason: e.to_string(), excerpt }
}

/// How a stream's tokens are counted against the server's count. A server that counts the
/// end-of-sequence token (llama.cpp does, when the answer ends on its own) reports one token
/// more than ever arrives; a server that sends several tokens per chunk (vLLM can) reports more
/// tokens than chunks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TokenAccounting {
    /// Tokens that carried the answer's text.
    pub(crate) content_tokens: u64,
    /// The server's count included the end-of-sequence token, which never arrives as a chunk.
    pub(crate) eos_counted: bool,
}

impl TokenAccounting {
    /// From the content chunks received, the server's count and why the answer ended: a
    /// count one above the chunks of an answer that stopped on its own is the EOS token.
    pub(crate) fn of(chunks: usize, server: Option<u64>, done_reason: Option<&str>) -> TokenAccounting {
        let chunks = chunks as u64;
        let stopped = matches!(done_reason, Some("stop" | "eos" | "stop_sequence" | "eos_token"));
        match server {
            Some(n) if stopped && chunks > 0 && n == chunks + 1 => {
                TokenAccounting { content_tokens: n - 1, eos_counted: true }
            }
            Some(n) => TokenAccounting { content_tokens: n, eos_counted: false },
            None => TokenAccounting { content_tokens: chunks, eos_counted: false },
        }
    }

    /// Client tokens/s: the tokens after the first chunk over the time from the first chunk
    /// to the last. With one token per chunk that is (n−1)/span; with several, the first
    /// chunk's share is n/chunks (exact when chunks are even, as servers batch them).
    pub(crate) fn rate(&self, chunks: usize, span: Duration) -> Option<f64> {
        let n = self.content_tokens as f64;
        let after_first = n - n / chunks.max(1) as f64;
        (after_first > 0.0 && span > Duration::ZERO).then(|| after_first / span.as_secs_f64())
    }
}

/// Everything observed while an answer arrives.
struct Recorder {
    started: Instant,
    model: String,
    arrivals: Vec<Instant>,
    text: String,
    figures: ServerFigures,
    /// The figures of the message that ended the answer, once it came.
    final_figures: Option<ServerFigures>,
    terminated: bool,
    data_after_end: bool,
    wrong_model: bool,
    error: Option<String>,
    problems: Vec<StreamProblem>,
    /// Tool calls by index, as their pieces arrive: name, argument text, or a whole value.
    calls: Vec<(Option<String>, String, Option<serde_json::Value>)>,
}

impl Recorder {
    fn new(started: Instant, model: &str) -> Self {
        Recorder {
            started,
            model: model.to_string(),
            arrivals: Vec::new(),
            text: String::new(),
            figures: ServerFigures::default(),
            final_figures: None,
            terminated: false,
            data_after_end: false,
            wrong_model: false,
            error: None,
            problems: Vec::new(),
            calls: Vec::new(),
        }
    }

    fn problem(&mut self, p: StreamProblem) {
        self.problems.push(p);
    }

    fn ended(&self, protocol: &dyn Protocol) -> bool {
        protocol.stream_ended(self.final_figures.is_some(), self.terminated)
    }

    /// Records one stream message; false when it cannot be decoded (reading stops).
    fn message(&mut self, protocol: &dyn Protocol, call: &LlmCall, text: &str, at: At) -> bool {
        if self.ended(protocol) && !self.data_after_end {
            self.data_after_end = true;
            self.problem(StreamProblem::DataAfterEnd { at });
        }
        let frame = match protocol.decode(call, text) {
            Ok(f) => f,
            Err(e) => {
                self.problem(undecodable(Some(at), &e, crate::record::excerpt(text, 120)));
                return false;
            }
        };
        // A piece of a tool call is a token arriving too (its text goes to the call).
        let call_piece = frame.tool_calls.iter().any(|p| match &p.arguments {
            ToolArguments::Text(t) => !t.is_empty(),
            ToolArguments::Value(_) => true,
            ToolArguments::None => false,
        });
        if !frame.content.is_empty() || call_piece {
            self.arrivals.push(Instant::now());
            self.text.push_str(&frame.content);
        }
        self.check_model(frame.model.as_deref(), Some(at));
        if frame.is_final && self.final_figures.is_none() {
            self.final_figures = Some(frame.figures.clone());
        }
        self.take_figures(frame);
        true
    }

    /// The answer must name the model asked for (a server that answers any name with the
    /// model it has loaded passes every other check); said once, in stream and whole answers.
    fn check_model(&mut self, named: Option<&str>, at: Option<At>) {
        if let Some(m) = named
            && !self.wrong_model
            && !same_model(m, &self.model)
        {
            self.wrong_model = true;
            self.problem(StreamProblem::WrongModel { named: m.to_string(), asked: self.model.clone(), at });
        }
    }

    fn take_figures(&mut self, frame: Frame<'_>) {
        for piece in frame.tool_calls {
            if self.calls.len() <= piece.index {
                // An index far past the calls so far is a broken stream, not a reason to allocate.
                if piece.index > self.calls.len() + 64 {
                    continue;
                }
                self.calls.resize(piece.index + 1, (None, String::new(), None));
            }
            let call = &mut self.calls[piece.index];
            if let Some(name) = piece.name {
                call.0 = Some(name);
            }
            match piece.arguments {
                ToolArguments::Text(t) => call.1.push_str(&t),
                ToolArguments::Value(v) => call.2 = Some(v),
                ToolArguments::None => {}
            }
        }
        if let Some(e) = frame.error {
            self.problem(StreamProblem::ServerError { message: e.clone() });
            self.error = Some(e);
        }
        self.figures.merge(frame.figures);
    }

    fn terminator(&mut self, at: At) {
        if self.terminated && !self.data_after_end {
            self.data_after_end = true;
            self.problem(StreamProblem::DataAfterEnd { at });
        }
        self.terminated = true;
    }

    /// The step's time ran out mid-stream: what arrived so far stays recorded.
    fn timed_out(&mut self, limit: Duration) {
        let first_token = self.arrivals.first().map(|t| *t - self.started);
        self.problem(StreamProblem::TimedOut { limit, chunks: self.arrivals.len(), first_token });
    }

    fn stalled(&mut self, chunk_timeout: Duration) {
        let gap = self.arrivals.last().copied().unwrap_or(self.started).elapsed();
        self.problem(StreamProblem::Stalled { gap, after_chunks: self.arrivals.len(), chunk_timeout });
    }

    /// Whether the stream ended the way the protocol says it must.
    fn check_end(&mut self, protocol: &dyn Protocol) {
        if self.problems.iter().any(StreamProblem::cut_by_client) {
            return;
        }
        let problems =
            protocol.end_problems(self.arrivals.len(), self.final_figures.as_ref(), self.terminated);
        self.problems.extend(problems);
    }

    fn finish(self, obs: &mut LlmObservation) {
        obs.chunks = self.arrivals.len();
        obs.ttft = self.arrivals.first().map(|t| *t - self.started);
        obs.itl = self.arrivals.windows(2).map(|w| w[1] - w[0]).collect();
        obs.output_tokens = self.figures.output_tokens().or(obs.stream.then_some(obs.chunks as u64));
        let accounting = obs.stream.then(|| {
            TokenAccounting::of(obs.chunks, self.figures.output_tokens(), self.figures.done_reason.as_deref())
        });
        obs.eos_counted = accounting.is_some_and(|a| a.eos_counted);
        obs.content_tokens = accounting.map(|a| a.content_tokens);
        obs.client_tokens_per_s = match (self.arrivals.first(), self.arrivals.last(), accounting) {
            (Some(first), Some(last), Some(a)) if last > first => a.rate(obs.chunks, *last - *first),
            _ => None,
        };
        obs.server_tokens_per_s = self.figures.tokens_per_s();
        obs.text = self.text;
        obs.server = self.figures;
        obs.error = self.error;
        obs.timed_out = self.problems.iter().any(|p| matches!(p, StreamProblem::TimedOut { .. }));
        let mut problems = self.problems;
        for (i, (name, text, value)) in self.calls.into_iter().enumerate() {
            let name = name.unwrap_or_else(|| "(no name)".to_string());
            let arguments = match value {
                Some(v) => v,
                None if text.trim().is_empty() => serde_json::json!({}),
                None => match serde_json::from_str(&text) {
                    Ok(v) => v,
                    Err(e) => {
                        problems.push(StreamProblem::ToolCallArguments {
                            number: i + 1,
                            name: name.clone(),
                            reason: e.to_string(),
                            excerpt: format!("\"{}\"", crate::record::excerpt(&text, 200)),
                        });
                        serde_json::Value::String(text)
                    }
                },
            };
            obs.tool_calls.push(crate::record::ToolCall { name, arguments });
        }
        obs.problems = problems;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(pieces: &[&'static str]) -> Vec<Result<String, String>> {
        let bytes = futures_util::stream::iter(pieces.iter().map(|p| Ok(Bytes::from_static(p.as_bytes()))));
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(messages(bytes, StreamFormat::Sse).collect::<Vec<_>>())
            .into_iter()
            .map(|m| {
                m.map(|m| match m {
                    Message::Data(d) => d,
                    Message::Terminator => "<DONE>".to_string(),
                })
            })
            .collect()
    }

    #[test]
    fn the_eos_token_a_server_counted_is_taken_off_only_when_the_answer_stopped_itself() {
        let a = TokenAccounting::of(23, Some(24), Some("stop"));
        assert_eq!(a, TokenAccounting { content_tokens: 23, eos_counted: true });
        let cut = TokenAccounting::of(23, Some(24), Some("length"));
        assert_eq!(
            cut,
            TokenAccounting { content_tokens: 24, eos_counted: false },
            "a cut answer has no EOS"
        );
        assert!(!TokenAccounting::of(23, Some(23), Some("stop")).eos_counted);
        assert_eq!(TokenAccounting::of(5, None, None).content_tokens, 5, "no count: the chunks");
    }

    #[test]
    fn client_tokens_per_s_counts_the_tokens_after_the_first_chunk() {
        // 24 tokens, one per chunk, 10 ms apart: 23 intervals in 230 ms → 100 tokens/s.
        let one = TokenAccounting { content_tokens: 24, eos_counted: false };
        assert!((one.rate(24, Duration::from_millis(230)).unwrap() - 100.0).abs() < 1e-9);
        // The same answer in 12 chunks of two, 20 ms apart: 22 tokens after the first chunk
        // over 220 ms → 100 tokens/s, where (n−1)/span would say 104.5.
        assert!((one.rate(12, Duration::from_millis(220)).unwrap() - 100.0).abs() < 1e-9);
        assert_eq!(one.rate(1, Duration::from_millis(5)), None, "one chunk has no span");
    }

    #[test]
    fn sse_events_from_lines_split_anywhere() {
        let got = events(&[
            ": keep-alive comment\r\n\r\nda",
            "ta: {\"a\":1}\r",
            "\n\r\nevent: x\ndata:first\ndata: second\nid: 7\n\n",
            "data: [DONE]\n\ndata: {\"cut\"",
        ]);
        let want: Vec<Result<String, String>> =
            vec![Ok("{\"a\":1}".into()), Ok("first\nsecond".into()), Ok("<DONE>".into())];
        assert_eq!(got, want, "an event without its blank line at the end is dropped");
    }

    #[test]
    fn an_unterminated_sse_line_fails_at_the_cap() {
        let long: &'static str = Box::leak("x".repeat(MAX_LINE + 10).into_boxed_str());
        let got = events(&["data: ", long]);
        assert_eq!(got.len(), 1);
        assert!(got[0].as_ref().is_err_and(|e| e.contains("max line length")), "{got:?}");
    }
}
