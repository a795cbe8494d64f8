//! What can be wrong with an answer on the wire, as data: the executor records these, the
//! assert stage turns each into a failed `stream`/`answer` verdict, reporters print them. The
//! words are made here once (`Display`), so a report and a test see the same sentence, and
//! code that must know what happened (a timeout, a stall) matches a variant, never a text.

use crate::suite::values::{format_bytes, format_seconds};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// Where in a stream a message was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum At {
    /// An NDJSON line (Ollama).
    Line(usize),
    /// A server-sent event (OpenAI-compatible).
    Event(usize),
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            At::Line(n) => write!(f, "stream line {n}"),
            At::Event(n) => write!(f, "SSE event {n}"),
        }
    }
}

/// One broken rule of a streamed or whole answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StreamProblem {
    /// A problem read back from a saved report: its sentence (`hxrun merge`).
    Reported { sentence: String },
    /// The body passed `--max-body`; reading stopped there.
    BodyCut { cap: usize },
    /// A message (or the whole answer, `at: None`) is not JSON, or not the protocol's shape.
    Undecodable { at: Option<At>, shape: bool, reason: String, excerpt: String },
    /// The stream broke mid-message (a connection reset, a line over the cap).
    Unreadable { at: At, reason: String },
    /// Something came after the stream's end.
    DataAfterEnd { at: At },
    /// The answer names another model than the one asked for.
    WrongModel { named: String, asked: String, at: Option<At> },
    /// The answer names the model asked for, but the server's own list lacks it: a server that
    /// echoes any name it is asked for answered with a model it has (`listed`: the first few).
    Unlisted { asked: String, url: String, count: usize, listed: Vec<String> },
    /// The server said, inside the answer, that it failed.
    ServerError { message: String },
    /// The step's time ran out mid-stream; what arrived is kept.
    TimedOut { limit: Duration, chunks: usize, first_token: Option<Duration> },
    /// No chunk within `chunk_timeout`.
    Stalled { gap: Duration, after_chunks: usize, chunk_timeout: Duration },
    /// The stream ended before the protocol's final message (`what` names it).
    Truncated { chunks: usize, what: &'static str },
    /// The stream ended without the protocol's terminator (`what` names it).
    NoTerminator { what: &'static str },
    /// The final message lacks figures the protocol always sends there.
    FinalLacks { fields: Vec<&'static str> },
    /// A tool call's arguments, assembled from the stream (or as sent whole), are not JSON.
    ToolCallArguments { number: usize, name: String, reason: String, excerpt: String },
}

impl StreamProblem {
    /// A stream whose end is not judged (the client stopped reading it).
    pub(crate) fn cut_by_client(&self) -> bool {
        matches!(self, StreamProblem::TimedOut { .. } | StreamProblem::Stalled { .. })
    }
}

/// The cap note said wherever a body is cut (http steps too).
pub(crate) fn cut_note(cap: usize) -> String {
    format!(
        "the body is longer than {} (--max-body): hxrun kept the first {0} and stopped reading",
        format_bytes(cap as f64)
    )
}

impl fmt::Display for StreamProblem {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            StreamProblem::Reported { sentence } => f.write_str(sentence),
            StreamProblem::BodyCut { cap } => f.write_str(&cut_note(*cap)),
            StreamProblem::Undecodable { at, shape, reason, excerpt } => {
                match at {
                    Some(at) => write!(f, "{at} ")?,
                    None => f.write_str("the response ")?,
                }
                let what = if *shape { "does not have the expected shape" } else { "is not valid JSON" };
                write!(f, "{what} ({reason}): {excerpt}")
            }
            StreamProblem::Unreadable { at, reason } => write!(f, "{at} could not be read: {reason}"),
            StreamProblem::DataAfterEnd { at } => write!(f, "data after the end of the stream ({at})"),
            StreamProblem::WrongModel { named, asked, at: Some(at) } => {
                write!(f, "chunk model is \"{named}\" but the request asked for \"{asked}\" ({at})")
            }
            StreamProblem::WrongModel { named, asked, at: None } => {
                write!(f, "the answer's model is \"{named}\" but the request asked for \"{asked}\"")
            }
            StreamProblem::Unlisted { asked, url, count, listed } => {
                let names: Vec<String> = listed.iter().map(|n| format!("\"{n}\"")).collect();
                let more = if *count > listed.len() {
                    format!(" and {} more", count - listed.len())
                } else {
                    String::new()
                };
                write!(
                    f,
                    "the answer names \"{asked}\" as asked, but the server's model list (GET {url}) does not have \
                     it: {}{more} — a server that echoes the model name it is asked for answered with a model it \
                     has; ask for one of those",
                    names.join(", ")
                )
            }
            StreamProblem::ServerError { message } => write!(f, "the server reported an error: {message}"),
            StreamProblem::TimedOut { limit, chunks, first_token } => {
                write!(
                    f,
                    "timed out after {} (the step timeout) with {chunks} content chunks received",
                    humantime::format_duration(*limit)
                )?;
                match first_token {
                    Some(t) => write!(f, "; first token after {}", format_seconds(t.as_secs_f64())),
                    None => Ok(()),
                }
            }
            StreamProblem::Stalled { gap, after_chunks, chunk_timeout } => {
                let after = match after_chunks {
                    0 => "before the first chunk".to_string(),
                    n => format!("after chunk {n}"),
                };
                write!(
                    f,
                    "stream stalled: no chunk for {} {after} (chunk_timeout {})",
                    format_seconds(gap.as_secs_f64()),
                    humantime::format_duration(*chunk_timeout)
                )
            }
            StreamProblem::Truncated { chunks, what } => {
                write!(f, "truncated: the stream ended after {chunks} content chunks without {what}")
            }
            StreamProblem::NoTerminator { what } => {
                write!(f, "the stream ended without the {what} terminator")
            }
            StreamProblem::FinalLacks { fields } => {
                write!(f, "the final `done: true` object lacks the metric fields {}", fields.join(", "))
            }
            StreamProblem::ToolCallArguments { number, name, reason, excerpt } => write!(
                f,
                "tool call {number} ({name}): its arguments, as assembled from what arrived, are not JSON ({reason}): {excerpt}"
            ),
        }
    }
}

/// In report.json a problem is its sentence (the report's readers are people and jq).
impl Serialize for StreamProblem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StreamProblem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(StreamProblem::Reported { sentence: String::deserialize(d)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_problem_reads_as_a_sentence_with_its_place() {
        let cases = [
            (
                StreamProblem::Undecodable {
                    at: Some(At::Line(3)),
                    shape: false,
                    reason: "expected value at line 1 column 1".into(),
                    excerpt: "garbage".into(),
                },
                "stream line 3 is not valid JSON (expected value at line 1 column 1): garbage",
            ),
            (
                StreamProblem::WrongModel { named: "b".into(), asked: "a".into(), at: Some(At::Event(2)) },
                "chunk model is \"b\" but the request asked for \"a\" (SSE event 2)",
            ),
            (
                StreamProblem::Stalled {
                    gap: Duration::from_millis(1500),
                    after_chunks: 0,
                    chunk_timeout: Duration::from_secs(1),
                },
                "stream stalled: no chunk for 1.5s before the first chunk (chunk_timeout 1s)",
            ),
            (
                StreamProblem::Truncated { chunks: 4, what: "a `finish_reason`" },
                "truncated: the stream ended after 4 content chunks without a `finish_reason`",
            ),
            (
                StreamProblem::TimedOut {
                    limit: Duration::from_secs(2),
                    chunks: 7,
                    first_token: Some(Duration::from_millis(250)),
                },
                "timed out after 2s (the step timeout) with 7 content chunks received; first token after 250ms",
            ),
        ];
        for (problem, want) in cases {
            assert_eq!(problem.to_string(), want);
            assert_eq!(serde_json::to_value(&problem).unwrap(), serde_json::Value::from(want));
        }
    }

    #[test]
    fn only_timeouts_and_stalls_are_cut_by_the_client() {
        let stall = StreamProblem::Stalled {
            gap: Duration::ZERO,
            after_chunks: 1,
            chunk_timeout: Duration::from_secs(1),
        };
        assert!(stall.cut_by_client());
        assert!(!StreamProblem::NoTerminator { what: "`data: [DONE]`" }.cut_by_client());
    }
}
