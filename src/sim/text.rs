//! Deterministic answers and a tokenizer for the simulator.
//!
//! "Return exactly the text: X" answers X (what the seed's inference check asks); any other
//! prompt gets a sentence chosen by a hash of the prompt, as long as `num_predict` asks.

const WORDS: &[&str] = &[
    "HX",
    "Infrastructure",
    "runs",
    "reliable",
    "language",
    "models",
    "on",
    "dedicated",
    "GPU",
    "hosts",
    "with",
    "monitored",
    "latency",
    "and",
    "steady",
    "throughput",
    "for",
    "every",
    "team",
    "that",
    "needs",
    "fast",
    "private",
    "inference",
    "across",
    "the",
    "stack",
    "while",
    "keeping",
    "costs",
    "predictable",
    "in",
    "production",
];

/// The words the simulator's free-form answers are made of.
pub fn vocabulary() -> &'static [&'static str] {
    WORDS
}

/// Default answer length in tokens when `num_predict` is not given.
pub const DEFAULT_TOKENS: usize = 24;

/// The longest answer the simulator writes, whatever `num_predict` or `max_tokens` asks (a
/// model's context ends an answer too): a request for 10^12 tokens is cut here, not allowed to
/// take the memory of a simulator other tests share.
pub const MAX_TOKENS: usize = 128 * 1024;

/// The answer text for a prompt, cut to `max_tokens` tokens when given (and to `MAX_TOKENS`).
/// With `early`, a free-form answer ends on its own (as a model's end-of-sequence token ends
/// it) after half to all of the tokens asked — the same length for the same prompt.
pub fn answer(prompt: &str, max_tokens: Option<usize>, early: bool) -> (Vec<String>, bool) {
    let max_tokens = max_tokens.map(|n| n.min(MAX_TOKENS));
    if early
        && let Some(n) = max_tokens.filter(|n| *n > 1)
        && !prompt.contains("Return exactly the text:")
    {
        let half = n / 2;
        let length = half + (fnv1a(FNV_OFFSET, prompt.bytes()) % (n - half) as u64) as usize;
        return (sentence(prompt, length.max(1)), false);
    }
    let exact = prompt
        .find("Return exactly the text:")
        .map(|i| prompt[i + "Return exactly the text:".len()..].trim().to_string());
    let tokens = match exact {
        Some(text) => tokenize(&text),
        // A free-form answer runs until the token limit when one is given.
        None => {
            return (sentence(prompt, max_tokens.unwrap_or(DEFAULT_TOKENS)), max_tokens.is_some());
        }
    };
    match max_tokens {
        Some(n) if tokens.len() > n => (tokens.into_iter().take(n).collect(), true),
        _ => (tokens, false),
    }
}

/// FNV-1a's starting state.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// Continues an FNV-1a hash over `bytes`: the simulator's one source of stable "randomness"
/// (answers, digests, embeddings), so equal inputs always give equal outputs.
pub fn fnv1a(mut h: u64, bytes: impl IntoIterator<Item = u8>) -> u64 {
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn sentence(prompt: &str, n: usize) -> Vec<String> {
    let mut h = fnv1a(FNV_OFFSET, prompt.bytes());
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        let word = WORDS[(h % WORDS.len() as u64) as usize];
        let token = if i == 0 { word.to_string() } else { format!(" {word}") };
        out.push(if i + 1 == n { format!("{token}.") } else { token });
    }
    out
}

/// Splits text into tokens: words with their leading space, punctuation on its own.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        let boundary = c.is_whitespace() && !current.trim().is_empty()
            || (!c.is_alphanumeric() && !c.is_whitespace())
            || (c.is_alphanumeric()
                && current.chars().last().is_some_and(|p| !p.is_alphanumeric() && !p.is_whitespace()));
        if boundary && !current.is_empty() {
            tokens.push(std::mem::take(&mut current));
        }
        current.push(c);
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absurd_token_limit_is_cut_to_a_context() {
        let (tokens, cut) = answer("Write about GPUs.", Some(1_000_000_000_000), false);
        assert_eq!((tokens.len(), cut), (MAX_TOKENS, true));
    }

    #[test]
    fn exact_answer_and_length() {
        let (t, cut) = answer("Return exactly the text: HX-OK", None, true);
        assert_eq!(t.concat(), "HX-OK");
        assert_eq!(t, vec!["HX", "-", "OK"]);
        assert!(!cut);
        let (t, cut) = answer("Summarize HX Infrastructure in one sentence.", Some(7), false);
        assert_eq!(t.len(), 7);
        assert!(cut);
        assert_eq!(answer("Summarize HX Infrastructure in one sentence.", Some(7), false).0, t);
        // Ending on its own: between half and all of it, the same each time, not cut.
        let (early, cut) = answer("Summarize HX Infrastructure in one sentence.", Some(40), true);
        assert!((20..40).contains(&early.len()) && !cut, "{}", early.len());
        assert_eq!(answer("Summarize HX Infrastructure in one sentence.", Some(40), true).0, early);
        assert_eq!(tokenize("a b, c").concat(), "a b, c");
    }
}
