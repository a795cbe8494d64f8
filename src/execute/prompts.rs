//! A perf request's own lengths: its output length (`perf.output`, `with_output_length`) and
//! its prompt. Synthetic prompts of a token length (`perf.input`): text from a corpus the project ships
//! (`prompts/corpus.txt`, twenty paragraphs on unrelated subjects), each prompt its own —
//! numbered, and starting at its own place in the corpus — so no server's prefix cache makes
//! one request cheap because of another.
//!
//! Counted with the server's own tokenizer where it has one: llama.cpp's `/tokenize` and
//! `/detokenize` (`content`, `tokens`) and vLLM's (`model`, `prompt`): the text is tokenized,
//! cut to the length asked (less the special tokens the server adds, a BOS), turned back into
//! text and counted again. Without one (Ollama, TGI) the length is calibrated from what the
//! server counts of two prompts (`prompt_eval_count`, `usage.prompt_tokens`): tokens per word
//! and the template's overhead, and each prompt sized in words. Every prompt is made before
//! the loop starts, so none of this is timed.

use super::endpoint::Endpoint;
use super::transport::{Purpose, Transport};
use crate::plan::SuitePlan;
use crate::protocol::{self, LlmCall};
use crate::record::{FailureKind, StepError};
use crate::suite::perf::{InputLength, OutputLength, PerfStep, mix};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const CORPUS: &str = include_str!("prompts/corpus.txt");

/// The most prompts made for a loop; a longer one takes them again in turn.
pub(crate) const POOL: usize = 1024;

/// Each call to the tokenizer (or a calibration request) ends within this.
const CALL_LIMIT: Duration = Duration::from_secs(30);

/// Making all of a loop's prompts ends within this (a slow tokenizer times 1,024 prompts).
const MAKING_LIMIT: Duration = Duration::from_secs(300);

/// One prompt and its length as counted (None where the server's count is all there is).
#[derive(Debug, Clone)]
pub(crate) struct Prompt {
    pub(crate) text: String,
    pub(crate) tokens: Option<u64>,
}

/// The loop's prompts, taken in turn.
#[derive(Debug)]
pub(crate) struct Prompts {
    pool: Vec<Prompt>,
    next: AtomicUsize,
    /// How they were counted (`llama.cpp /tokenize`), for the report.
    pub(crate) counted_by: String,
}

impl Prompts {
    /// The next request's prompt.
    pub(crate) fn next(&self) -> &Prompt {
        &self.pool[self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len()]
    }
}

/// The corpus's words, and a prompt of `words` words for prompt `k` of the loop: its number,
/// then the corpus from a place that depends on (seed, k), wrapping round.
fn words() -> Vec<&'static str> {
    CORPUS.split_whitespace().collect()
}

fn text_of(all: &[&str], seed: u64, k: usize, words: usize) -> String {
    format!("{}.{}", k + 1, corpus_from(all, seed, k, words))
}

/// `words` words of the corpus from prompt `k`'s place, each after a space.
fn corpus_from(all: &[&str], seed: u64, k: usize, words: usize) -> String {
    let start = (mix(seed ^ mix(k as u64 + 1)) % all.len() as u64) as usize;
    let mut out = String::new();
    for i in 0..words.max(1) {
        out.push(' ');
        out.push_str(all[(start + i) % all.len()]);
    }
    out
}

/// The server's tokenizer, found by asking.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tokenizer {
    LlamaCpp,
    Vllm,
}

/// `make`, within `MAKING_LIMIT`, and no longer than the run goes on (a signal, `--max-time`).
pub(crate) async fn make_within(
    transport: &Transport,
    suite: &SuitePlan,
    step: &PerfStep,
    input: &InputLength,
    count: usize,
    control: &super::control::RunControl,
) -> Result<Prompts, StepError> {
    tokio::select! {
        made = tokio::time::timeout(MAKING_LIMIT, make(transport, suite, step, input, count)) => {
            made.unwrap_or_else(|_| {
                Err(StepError {
                    kind: FailureKind::Timeout,
                    message: format!(
                        "making the prompts of `perf.input` took longer than {}s: the server's tokenizer \
                         answers too slowly (ask for fewer requests, or shorter prompts)",
                        MAKING_LIMIT.as_secs()
                    ),
                    detail: String::new(),
                })
            })
        }
        () = control.stopped() => Err(StepError {
            kind: FailureKind::Interrupted,
            message: "stopped while hxrun made the prompts of `perf.input`".to_string(),
            detail: String::new(),
        }),
    }
}

/// Makes `count` prompts (at most `POOL`) of the lengths `input` draws for prompts 1, 2, ...
async fn make(
    transport: &Transport,
    suite: &SuitePlan,
    step: &PerfStep,
    input: &InputLength,
    count: usize,
) -> Result<Prompts, StepError> {
    let count = count.clamp(1, POOL);
    let all = words();
    let call = LlmCall::of_perf(step)
        .ok_or_else(|| fail("`perf.input` sizes the prompt of a generate or chat request"))?;
    let model = call.model().to_string();
    let ep = Endpoint::of(suite);
    let lengths: Vec<u32> = (0..count).map(|k| input.tokens.draw(input.seed, k as u32 + 1)).collect();
    if let Some((tokenizer, specials)) = find_tokenizer(transport, &ep, &model).await {
        let t = Sized { transport, ep: &ep, tokenizer, model: &model };
        // Every prompt opens with a token of its own (the corpus's distinct tokens, in turn), so
        // a slot's next prompt shares no prefix with its last and a prompt cache reuses nothing.
        let mut heads = t
            .tokenize(CORPUS)
            .await
            .ok_or_else(|| fail("the server's /tokenize did not tokenize the corpus"))?;
        let mut seen = std::collections::HashSet::new();
        heads.retain(|id| seen.insert(*id));
        // A chat's template adds tokens around the message: what the server counts beyond the
        // message's own is taken off each message.
        let overhead = match &step.chat {
            Some(_) => {
                let probe = text_of(&all, input.seed ^ 0xca1, 0, 40);
                let own = t.tokenize(&probe).await.map_or(0, |ids| ids.len() as u64);
                counted(transport, suite, step, &probe).await?.saturating_sub(own)
            }
            None => specials,
        };
        let mut pool = Vec::with_capacity(count);
        for (k, &n) in lengths.iter().enumerate() {
            let head = heads[k % heads.len()];
            pool.push(t.exact(&all, input.seed, k, head, n, overhead).await?);
        }
        let counted_by = match tokenizer {
            Tokenizer::LlamaCpp => "the server's tokenizer (llama.cpp /tokenize)",
            Tokenizer::Vllm => "the server's tokenizer (vLLM /tokenize)",
        };
        return Ok(Prompts { pool, next: AtomicUsize::new(0), counted_by: counted_by.into() });
    }
    // No tokenizer: what the server counts of a short and a long prompt gives tokens per word
    // and the overhead (a template, a BOS) every prompt carries.
    let (short, long) = (40usize, 400usize);
    let c1 = counted(transport, suite, step, &text_of(&all, input.seed ^ 0xca1, 0, short)).await?;
    let c2 = counted(transport, suite, step, &text_of(&all, input.seed ^ 0xca1, 1, long)).await?;
    let per_word = ((c2 as f64 - c1 as f64) / (long - short) as f64).max(0.05);
    let overhead = c1 as f64 - per_word * short as f64;
    let pool = lengths
        .iter()
        .enumerate()
        .map(|(k, &n)| {
            let words = ((f64::from(n) - overhead) / per_word).round().max(1.0) as usize;
            Prompt { text: text_of(&all, input.seed, k, words), tokens: None }
        })
        .collect();
    Ok(Prompts {
        pool,
        next: AtomicUsize::new(0),
        counted_by: format!(
            "calibrated from the server's counts: {per_word:.2} tokens a word, {overhead:.0} more a prompt"
        ),
    })
}

fn fail(message: impl Into<String>) -> StepError {
    StepError { kind: FailureKind::Error, message: message.into(), detail: String::new() }
}

/// POSTs `body` to `path` and reads a JSON answer (None for an error status or anything else).
async fn post(transport: &Transport, ep: &Endpoint<'_>, path: &str, body: &Value) -> Option<Value> {
    let request = ep.post_json(path, body);
    let read = async {
        let response = transport.send(&request, Purpose::Api).await.ok()?;
        if !response.is_success() {
            return None;
        }
        let (text, _) = response.text().await.ok()?;
        serde_json::from_str::<Value>(&text).ok()
    };
    tokio::time::timeout(CALL_LIMIT, read).await.ok().flatten()
}

/// The server's tokenizer, with what it needs to be asked.
struct Sized<'a> {
    transport: &'a Transport,
    ep: &'a Endpoint<'a>,
    tokenizer: Tokenizer,
    model: &'a str,
}

impl Sized<'_> {
    /// Token ids of `text`, without the special tokens.
    async fn tokenize(&self, text: &str) -> Option<Vec<u64>> {
        tokenize(self.transport, self.ep, self.tokenizer, self.model, text, false).await
    }

    async fn detokenize(&self, tokens: &[u64]) -> Option<String> {
        let (body, key) = match self.tokenizer {
            Tokenizer::LlamaCpp => (json!({ "tokens": tokens }), "content"),
            Tokenizer::Vllm => (json!({ "model": self.model, "tokens": tokens }), "prompt"),
        };
        post(self.transport, self.ep, "/detokenize", &body).await?.get(key)?.as_str().map(str::to_string)
    }

    /// Prompt `k`: `head`, then the corpus from its place, `n` tokens in all as the server
    /// counts the prompt (`overhead` of them its own: a BOS, a chat template), where the
    /// tokenizer allows.
    async fn exact(
        &self,
        all: &[&str],
        seed: u64,
        k: usize,
        head: u64,
        n: u32,
        overhead: u64,
    ) -> Result<Prompt, StepError> {
        let want = u64::from(n).saturating_sub(overhead).max(1);
        let cannot =
            || fail(format!("the server's /tokenize stopped answering while hxrun sized prompt {}", k + 1));
        // Words enough for the tokens (a word is a token or more), more if that falls short.
        let mut words = want as usize + 8;
        let body = loop {
            let ids = self.tokenize(&corpus_from(all, seed, k, words)).await.ok_or_else(cannot)?;
            if ids.len() as u64 >= want || words > 4 * want as usize + 64 {
                break ids;
            }
            words *= 2;
        };
        let mut ids: Vec<u64> = std::iter::once(head).chain(body).collect();
        // Cut to the length and count again: a cut can merge across its edge, so trim until
        // the text counts no more than asked.
        let mut take = (want as usize).min(ids.len());
        let mut text = String::new();
        let mut got = 0u64;
        for _ in 0..4 {
            ids.truncate(take);
            text = self.detokenize(&ids).await.ok_or_else(cannot)?;
            got = self.tokenize(&text).await.ok_or_else(cannot)?.len() as u64;
            if got <= want {
                break;
            }
            take = take.saturating_sub((got - want) as usize).max(1);
        }
        Ok(Prompt { text, tokens: Some(got + overhead) })
    }
}

/// Token ids of `text` (with the special tokens the server adds to a prompt, or without).
async fn tokenize(
    transport: &Transport,
    ep: &Endpoint<'_>,
    tokenizer: Tokenizer,
    model: &str,
    text: &str,
    special: bool,
) -> Option<Vec<u64>> {
    let body = match tokenizer {
        Tokenizer::LlamaCpp => json!({ "content": text, "add_special": special }),
        Tokenizer::Vllm => json!({ "model": model, "prompt": text, "add_special_tokens": special }),
    };
    let answer = post(transport, ep, "/tokenize", &body).await?;
    answer.get("tokens")?.as_array()?.iter().map(Value::as_u64).collect()
}

/// The server's tokenizer, and how many special tokens it adds to a prompt; None when it has
/// none hxrun knows.
async fn find_tokenizer(transport: &Transport, ep: &Endpoint<'_>, model: &str) -> Option<(Tokenizer, u64)> {
    for tokenizer in [Tokenizer::LlamaCpp, Tokenizer::Vllm] {
        let Some(plain) = tokenize(transport, ep, tokenizer, model, "hello world", false).await else {
            continue;
        };
        if plain.is_empty() {
            continue;
        }
        // Both ways, or it is no use for cutting a prompt to a length.
        let sized = Sized { transport, ep, tokenizer, model };
        if sized.detokenize(&plain).await.is_none() {
            continue;
        }
        let with = tokenize(transport, ep, tokenizer, model, "hello world", true).await.unwrap_or_default();
        return Some((tokenizer, (with.len() as u64).saturating_sub(plain.len() as u64)));
    }
    None
}

/// What the server counts of `text` as the step's prompt (one output token asked for).
async fn counted(
    transport: &Transport,
    suite: &SuitePlan,
    step: &PerfStep,
    text: &str,
) -> Result<u64, StepError> {
    let mut probe = step.clone();
    set_prompt(&mut probe, text);
    probe.output = None;
    let options = match (&mut probe.generate, &mut probe.chat) {
        (Some(g), _) => &mut g.options,
        (None, Some(c)) => &mut c.options,
        (None, None) => return Err(fail("`perf.input` sizes the prompt of a generate or chat request")),
    };
    options.insert("num_predict".into(), 1.into());
    let call = LlmCall::of_perf(&probe).expect("a generate or chat step");
    let proto = protocol::for_api(call.api().unwrap_or(suite.target.api));
    let req = super::llm::Request {
        endpoint: Endpoint::of(suite),
        waits: super::llm::Waits::of(
            &crate::plan::deadline::Deadline {
                limit: CALL_LIMIT,
                set_by: crate::plan::deadline::SetBy::BuiltIn,
            },
            None,
        ),
    };
    let o = super::llm::run(transport, proto, call, &req).await?;
    o.server.prompt_tokens.or(o.server.prompt_eval_count).filter(|n| *n > 0).ok_or_else(|| {
        fail(
            "`perf.input`: the server has no /tokenize and counts no prompt tokens (no usage.prompt_tokens or \
             prompt_eval_count), so a prompt cannot be sized in its tokens",
        )
    })
}

/// Makes `text` the step's prompt: a completion's prompt, or a chat's last user message.
pub(crate) fn set_prompt(sized: &mut PerfStep, text: &str) {
    if let Some(g) = &mut sized.generate {
        g.prompt = text.to_string();
    } else if let Some(c) = &mut sized.chat {
        match c.messages.iter_mut().rev().find(|m| m.role == "user") {
            Some(m) => m.content = text.to_string(),
            None => {
                c.messages.push(crate::suite::llm::Message { role: "user".into(), content: text.to_string() })
            }
        }
    }
}

/// The step with request `iter`'s output length asked for: `num_predict` (`max_tokens` on
/// /v1), and on /v1 `ignore_eos` and `min_tokens` unless `output.hold` is false.
pub(crate) fn with_output_length(
    step: &PerfStep,
    output: &OutputLength,
    iter: u32,
    api: crate::suite::Api,
) -> PerfStep {
    let n = output.tokens.draw(output.seed, iter);
    let mut sized = step.clone();
    let options = match (&mut sized.generate, &mut sized.chat) {
        (Some(g), _) => &mut g.options,
        (None, Some(c)) => &mut c.options,
        (None, None) => return sized,
    };
    for written in ["max_tokens", "max_completion_tokens", "ignore_eos", "min_tokens"] {
        options.remove(written);
    }
    options.insert("num_predict".into(), n.into());
    if api == crate::suite::Api::Openai && output.hold {
        options.insert("ignore_eos".into(), true.into());
        options.insert("min_tokens".into(), n.into());
    }
    sized
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_differ_from_their_first_word_and_repeat_for_a_seed() {
        let all = words();
        assert!(all.len() > 1000, "{}", all.len());
        // A whole pool: no two prompts start alike (their numbers differ), and their texts
        // start at places spread over the corpus (a prefix cache finds nothing to reuse).
        let a: Vec<String> = (0..POOL).map(|k| text_of(&all, 7, k, 30)).collect();
        let firsts: std::collections::HashSet<&str> =
            a.iter().map(|s| s.split_whitespace().next().unwrap()).collect();
        assert_eq!(firsts.len(), POOL);
        let seconds: std::collections::HashSet<String> =
            a.iter().map(|s| s.split_whitespace().skip(1).take(3).collect::<Vec<_>>().join(" ")).collect();
        assert!(seconds.len() > 600, "{} distinct openings of {POOL}", seconds.len());
        assert_eq!(text_of(&all, 7, 3, 30), a[3]);
        assert_ne!(text_of(&all, 8, 3, 30), a[3], "another seed, other text");
        assert_eq!(text_of(&all, 7, 3, 30).split_whitespace().count(), 31);
    }
}
