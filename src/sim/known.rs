//! Questions the simulator knows the answer to: the `question` and `answer` fields of test case
//! files (`hxrun run --sim` teaches it the suites' own; `hxrun sim --answers FILE`). A prompt
//! that holds a known question is answered with its answer — or, for the share `wrong_rate`
//! of questions, with a wrong one, the same questions every time, so a pass-rate gate and an
//! A/B can be seen failing. The questions wrong at 2% are among those wrong at 10%.

use std::sync::{Arc, RwLock};

/// Known questions and answers, shared by the simulator and whoever teaches it.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// (question, answer), the longest question first (the most specific match wins).
    pairs: Arc<RwLock<Vec<(String, String)>>>,
}

/// The most questions kept (as many rows as a suite's case files may give at once).
const MAX_KNOWN: usize = 100_000;

impl Known {
    /// Learns that `question` is answered `answer` (an empty question teaches nothing).
    pub fn teach(&self, question: &str, answer: &str) {
        let question = question.trim();
        if question.is_empty() {
            return;
        }
        let Ok(mut pairs) = self.pairs.write() else { return };
        // Kept in order (longest question first) by inserting in place: a case file of 10,000
        // rows is taught in one pass, not sorted 10,000 times.
        fn key(q: &str) -> (std::cmp::Reverse<usize>, &str) {
            (std::cmp::Reverse(q.len()), q)
        }
        match pairs.binary_search_by(|(q, _)| key(q).cmp(&key(question))) {
            Ok(at) => pairs[at].1 = answer.to_string(),
            Err(_) if pairs.len() >= MAX_KNOWN => {}
            Err(at) => pairs.insert(at, (question.to_string(), answer.to_string())),
        }
    }

    pub fn len(&self) -> usize {
        self.pairs.read().map_or(0, |p| p.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The answer to the known question `prompt` holds, if it holds one: the right one, or for
    /// a share `wrong_rate` (0..=1) of questions, a wrong one.
    pub fn answer(&self, prompt: &str, wrong_rate: f64) -> Option<String> {
        let pairs = self.pairs.read().ok()?;
        let (question, answer) = pairs.iter().find(|(q, _)| prompt.contains(q.as_str()))?;
        Some(if is_wrong(question, wrong_rate) { wrong(answer) } else { answer.clone() })
    }
}

/// Whether the simulator answers `question` wrongly at this rate: by where a hash of the
/// question falls, so a question wrong at a rate is wrong at every higher one.
fn is_wrong(question: &str, rate: f64) -> bool {
    let h = super::text::fnv1a(super::text::FNV_OFFSET, question.bytes());
    // Mixed so that questions that differ in their last letter spread evenly.
    let h = (h ^ (h >> 31)).wrapping_mul(0x94d0_49bb_1331_11eb);
    let h = h ^ (h >> 29);
    ((h >> 11) as f64 / (1u64 << 53) as f64) < rate
}

/// A wrong answer: a number off by one, any other answer not known.
fn wrong(answer: &str) -> String {
    let t = answer.trim();
    if let Ok(n) = t.parse::<i64>() {
        return n.saturating_add(1).to_string();
    }
    if let Ok(x) = t.parse::<f64>()
        && x.is_finite()
    {
        return format!("{}", x * 1.5 + 1.0);
    }
    "I am not sure.".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_question_is_answered_within_any_prompt() {
        let k = Known::default();
        k.teach("What is 6 times 7?", "42");
        k.teach("What is 6 times 7? Then add 1.", "43");
        k.teach("Capital of France?", "Paris");
        assert_eq!(k.answer("Answer with only the number. What is 6 times 7?", 0.0).as_deref(), Some("42"));
        // The longest question a prompt holds wins.
        assert_eq!(k.answer("What is 6 times 7? Then add 1.", 0.0).as_deref(), Some("43"));
        assert_eq!(k.answer("Write a poem.", 0.0), None);
        // Everything wrong at 100%: a number off by one, a word not known.
        assert_eq!(k.answer("What is 6 times 7?", 1.0).as_deref(), Some("43"));
        assert_eq!(k.answer("Capital of France?", 1.0).as_deref(), Some("I am not sure."));
    }

    #[test]
    fn a_large_case_file_is_taught_whole_and_found_by_its_longest_question() {
        let k = Known::default();
        for i in 0..10_000 {
            k.teach(&format!("What is {i} plus one?"), &(i + 1).to_string());
        }
        k.teach("What is 5 plus one?", "six");
        assert_eq!(k.len(), 10_000, "a question taught again replaces its answer");
        assert_eq!(k.answer("Q: What is 5 plus one?", 0.0).as_deref(), Some("six"));
        assert_eq!(k.answer("What is 15 plus one?", 0.0).as_deref(), Some("16"));
        assert_eq!(k.answer("What is 9999 plus one?", 0.0).as_deref(), Some("10000"));
    }

    #[test]
    fn the_wrong_share_is_near_the_rate_and_grows_by_adding_questions() {
        let questions: Vec<String> = (0..2000).map(|i| format!("What is {i} plus {}?", i * 7)).collect();
        let wrong_at =
            |rate: f64| questions.iter().filter(|q| is_wrong(q, rate)).cloned().collect::<Vec<_>>();
        let (two, ten) = (wrong_at(0.02), wrong_at(0.10));
        assert!((20..=60).contains(&two.len()), "{} of 2000 wrong at 2%", two.len());
        assert!((150..=250).contains(&ten.len()), "{} of 2000 wrong at 10%", ten.len());
        assert!(two.iter().all(|q| ten.contains(q)), "wrong at 2% ⊂ wrong at 10%");
        assert!(wrong_at(0.0).is_empty());
        assert_eq!(wrong_at(1.0).len(), 2000);
    }
}
