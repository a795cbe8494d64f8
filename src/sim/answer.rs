//! One simulated answer, planned up front: its tokens, when each is due, and the metrics the
//! server reports — all from the same numbers, so they agree (unless a fault says otherwise).

use super::state::{KeepAlive, SimState};
use super::{Faults, text};
use axum::body::{Body, Bytes};
use futures_util::stream;
use std::convert::Infallible;
use std::time::Duration;
use tokio::time::{Instant, sleep_until};

pub struct Answer {
    pub model: String,
    pub tokens: Vec<String>,
    pub done_reason: &'static str,
    pub prompt_tokens: usize,
    pub start: Instant,
    pub load: Duration,
    pub ttft: Duration,
    pub per_token: Duration,
    pub faults: Faults,
}

impl Answer {
    /// Plans the answer to `prompt` by an installed model; pays the load time if it is cold.
    pub fn plan(
        s: &SimState,
        model: &str,
        prompt: &str,
        max_tokens: Option<usize>,
        keep: KeepAlive,
        start: Instant,
    ) -> Answer {
        let load = s.acquire(model, keep);
        let (tokens, done_reason) = if prompt.is_empty() {
            (Vec::new(), if keep == KeepAlive::Unload { "unload" } else { "load" })
        } else {
            let (mut tokens, cut) = text::answer(prompt, max_tokens);
            let trailing = s.model(model).map(|m| m.trailing).unwrap_or_default();
            if !cut && !trailing.is_empty() {
                tokens.push(trailing);
            }
            (tokens, if cut { "length" } else { "stop" })
        };
        Answer {
            model: model.to_string(),
            prompt_tokens: text::tokenize(prompt).len().max(1),
            tokens,
            done_reason,
            start,
            load,
            ttft: s.config.ttft,
            per_token: Duration::from_secs_f64(1.0 / s.config.tokens_per_s.max(1e-3)),
            faults: s.config.faults.clone(),
        }
    }

    /// When token `i` (0-based) is due: after load, prompt evaluation and i+1 token times
    /// (plus an injected stall once the stall point has passed).
    pub fn due(&self, i: usize) -> Instant {
        let stall = match self.faults.stall {
            Some((after, pause)) if i >= after => pause,
            _ => Duration::ZERO,
        };
        self.start + self.load + self.ttft + self.per_token * (i as u32 + 1) + stall
    }

    pub fn end(&self) -> Instant {
        if self.tokens.is_empty() { self.start + self.load } else { self.due(self.tokens.len() - 1) }
    }

    pub fn text(&self) -> String {
        self.tokens.concat()
    }

    /// Time spent generating, as reported (a fault can make the server misreport it).
    pub fn eval_duration(&self) -> Duration {
        (self.per_token * self.tokens.len() as u32).mul_f64(self.faults.eval_duration_scale.unwrap_or(1.0))
    }

    pub fn total_duration(&self) -> Duration {
        self.end() - self.start
    }

    /// A streamed body: `chunk(i, token)` for each token at its time, then `tail` (the final
    /// object, or the final events), with the configured faults applied.
    pub fn stream(&self, chunk: impl Fn(usize, &str) -> Bytes, tail: Vec<Bytes>, garbled: Bytes) -> Body {
        let mut pieces: Vec<(Instant, Bytes)> = Vec::with_capacity(self.tokens.len() + tail.len());
        for (i, token) in self.tokens.iter().enumerate() {
            if self.faults.truncate_after == Some(i) {
                return paced(pieces);
            }
            let bytes =
                if self.faults.garble_chunk == Some(i + 1) { garbled.clone() } else { chunk(i, token) };
            pieces.push((self.due(i), bytes));
        }
        let end = self.end();
        pieces.extend(tail.into_iter().map(|b| (end, b)));
        paced(pieces)
    }
}

/// A body that releases each piece at its instant.
fn paced(pieces: Vec<(Instant, Bytes)>) -> Body {
    let body = stream::unfold(pieces.into_iter(), |mut rest| async move {
        let (due, bytes) = rest.next()?;
        sleep_until(due).await;
        Some((Ok::<_, Infallible>(bytes), rest))
    });
    Body::from_stream(body)
}
