//! One simulated answer, planned up front: its tokens, when each is due, and the metrics the
//! server reports — all from the same numbers, so they agree (unless a fault says otherwise).

use super::state::{KeepAlive, SimState};
use super::{Faults, text};
use axum::body::{Body, Bytes};
use futures_util::stream;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, sleep_until};

pub(super) struct Answer {
    pub model: String,
    pub tokens: Vec<String>,
    pub done_reason: &'static str,
    pub prompt_tokens: usize,
    pub start: Instant,
    pub load: Duration,
    pub ttft: Duration,
    pub per_token: Duration,
    pub faults: Faults,
    /// Held while the answer is produced (capacity-capped simulators).
    slot: Option<OwnedSemaphorePermit>,
    /// Pace to the microsecond instead of the timer's millisecond.
    pub precise: bool,
    /// The tool this answer calls (its tokens are then the call's arguments, as JSON text).
    pub tool: Option<String>,
}

impl Answer {
    /// Calls the first of the request's tools the prompt speaks of (a part of its name of 4
    /// letters or more in the prompt: get_weather for "the weather in Paris?"), instead of
    /// answering; the arguments fill its parameter schema (strings with the last capitalised
    /// word of the prompt: "Paris"). A prompt about none of them gets an ordinary answer.
    pub(super) fn call_tool(&mut self, tools: &[serde_json::Value], prompt: &str) {
        let lower = prompt.to_lowercase();
        let function = tools.iter().map(|t| t.get("function").unwrap_or(t)).find(|f| {
            let name = f.get("name").and_then(serde_json::Value::as_str).unwrap_or("");
            name.split(|c: char| !c.is_alphanumeric())
                .any(|part| part.len() >= 4 && lower.contains(&part.to_lowercase()))
        });
        let Some(function) = function else { return };
        let name = function.get("name").and_then(serde_json::Value::as_str).unwrap_or("tool");
        let word = prompt
            .split(|c: char| !c.is_alphanumeric())
            .rfind(|w| w.chars().next().is_some_and(char::is_uppercase))
            .unwrap_or("x");
        let schema =
            function.get("parameters").cloned().unwrap_or_else(|| serde_json::json!({ "type": "object" }));
        let arguments = super::structured::answer(&schema, word);
        self.tokens = text::tokenize(&arguments);
        self.tool = Some(name.to_string());
        self.done_reason = "tool_calls";
    }

    /// Says the answer as the JSON asked for (`format`: "json" or a schema), whole: a
    /// structured answer is not cut at the token limit here.
    pub(super) fn structure(&mut self, format: &serde_json::Value) {
        let said = self.tokens.concat();
        self.tokens = text::tokenize(&super::structured::answer(format, said.trim()));
        self.done_reason = "stop";
    }

    /// Plans the answer to `prompt` by an installed model; pays the load time if it is cold.
    /// Plans the answer to `prompt` by an installed model: waits for a free slot when the
    /// simulator's capacity is capped, pays the load time if the model is cold, and draws
    /// this request's speed (within the configured jitter).
    pub(super) async fn start(
        s: &SimState,
        arrived: Instant,
        model: &str,
        prompt: &str,
        max_tokens: Option<usize>,
        held: bool,
        keep: KeepAlive,
    ) -> Answer {
        // The timeline starts when the request arrived, plus any time it queued for a slot.
        let queued = Instant::now();
        let slot = s.slot().await;
        let start = arrived + queued.elapsed();
        let load = s.acquire(model, keep);
        let (tokens, done_reason) = if prompt.is_empty() {
            (Vec::new(), if keep == KeepAlive::Unload { "unload" } else { "load" })
        } else if let Some(known) = s.config.known.answer(prompt, s.config.wrong_rate) {
            // A question of a case file: its answer (or a wrong one), cut at the limit.
            let mut tokens = text::tokenize(&known);
            let cut = max_tokens.is_some_and(|n| tokens.len() > n);
            tokens.truncate(max_tokens.unwrap_or(usize::MAX));
            (tokens, if cut { "length" } else { "stop" })
        } else {
            // With `eos`, an answer may end before its limit unless the request held it.
            let (mut tokens, cut) = text::answer(prompt, max_tokens, s.config.eos && !held);
            let trailing = s.model(model).map(|m| m.trailing).unwrap_or_default();
            if !cut && !trailing.is_empty() {
                tokens.push(trailing);
            }
            if s.config.faults.vary_answers && s.second_answer() {
                // The same answer, its last word said another way.
                if let Some(last) = tokens.last_mut() {
                    *last = format!("{} indeed", last.trim_end());
                }
            }
            (tokens, if cut { "length" } else { "stop" })
        };
        let prompt_tokens = text::tokenize(prompt).len().max(1);
        let prompt_time = s
            .config
            .prompt_tokens_per_s
            .map_or(Duration::ZERO, |r| Duration::from_secs_f64(prompt_tokens as f64 / r.max(1e-3)));
        let speed = s.config.tokens_per_s.max(1e-3) * s.jitter_factor() / s.slowness();
        Answer {
            model: model.to_string(),
            prompt_tokens,
            tokens,
            done_reason,
            start,
            load,
            ttft: (s.config.ttft + prompt_time).mul_f64(s.slowness()),
            per_token: Duration::from_secs_f64(1.0 / speed),
            faults: s.config.faults.clone(),
            slot,
            precise: s.config.precise,
            tool: None,
        }
    }

    /// The capacity slot, to be held by the streamed body until it ends.
    pub(super) fn take_slot(&mut self) -> Option<OwnedSemaphorePermit> {
        self.slot.take()
    }

    /// When token `i` (0-based) is due: after load, prompt evaluation and i+1 token times
    /// (plus an injected stall once the stall point has passed).
    pub(super) fn due(&self, i: usize) -> Instant {
        let stall = match self.faults.stall {
            Some((after, pause)) if i >= after => pause,
            _ => Duration::ZERO,
        };
        self.start + self.load + self.ttft + self.per_token * (i as u32 + 1) + stall
    }

    pub(super) fn end(&self) -> Instant {
        if self.tokens.is_empty() { self.start + self.load } else { self.due(self.tokens.len() - 1) }
    }

    /// The model name the chunks carry (another one under the `wrong_model` fault).
    pub(super) fn reported_model(&self) -> &str {
        self.faults.wrong_model.as_deref().unwrap_or(&self.model)
    }

    pub(super) fn text(&self) -> String {
        self.tokens.concat()
    }

    /// Time spent generating, as reported (a fault can make the server misreport it).
    pub(super) fn eval_duration(&self) -> Duration {
        (self.per_token * self.tokens.len() as u32).mul_f64(self.faults.eval_duration_scale.unwrap_or(1.0))
    }

    pub(super) fn total_duration(&self) -> Duration {
        self.end() - self.start
    }

    /// A streamed body: `chunk(i, token)` for each token at its time, then `tail` (the final
    /// object, or the final events), with the configured faults applied; `slot` is released
    /// when the body ends.
    pub(super) fn stream(
        &self,
        slot: Option<OwnedSemaphorePermit>,
        chunk: impl Fn(usize, &str) -> Bytes,
        tail: Vec<Bytes>,
        garbled: Bytes,
    ) -> Body {
        let mut pieces: Vec<(Instant, Bytes)> = Vec::with_capacity(self.tokens.len() + tail.len());
        for (i, token) in self.tokens.iter().enumerate() {
            if self.faults.truncate_after == Some(i) {
                return paced(pieces, slot, self.precise);
            }
            let bytes =
                if self.faults.garble_chunk == Some(i + 1) { garbled.clone() } else { chunk(i, token) };
            pieces.push((self.due(i), bytes));
        }
        let end = self.end();
        pieces.extend(tail.into_iter().map(|b| (end, b)));
        paced(pieces, slot, self.precise)
    }
}

/// Waits until `due`. Tokio's timer ticks in whole milliseconds, so a plain sleep can end up
/// to 1 ms late; with `precise`, the timer wakes the task 0.5–1.5 ms early and the task
/// yields until the exact instant (CPU for accuracy: right for a reference server that a
/// client's timing is measured against, wrong for a loaded one).
pub(super) async fn wait_until(due: Instant, precise: bool) {
    if !precise {
        sleep_until(due).await;
        return;
    }
    sleep_until(due.checked_sub(Duration::from_micros(1500)).unwrap_or(due)).await;
    while Instant::now() < due {
        tokio::task::yield_now().await;
    }
}

/// A body that releases each piece at its instant (and its capacity slot at the end).
pub(super) fn paced(
    pieces: Vec<(Instant, Bytes)>,
    slot: Option<OwnedSemaphorePermit>,
    precise: bool,
) -> Body {
    let body = stream::unfold((pieces.into_iter(), slot), move |(mut rest, slot)| async move {
        let (due, bytes) = rest.next()?;
        wait_until(due, precise).await;
        Some((Ok::<_, Infallible>(bytes), (rest, slot)))
    });
    Body::from_stream(body)
}
