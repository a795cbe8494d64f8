//! A failure storm in one line per cause. A server that is down fails every test that talks to
//! it with the same cause (`connection refused by 127.0.0.1:9: ...`); the console, report.html
//! and summary.md say that cause once, first, with how many requests and which tests it
//! stopped, and list the tests that failed for their own reasons after it.

use crate::record::Cause;

/// Failed tests that share one cause.
pub(crate) struct Group<'a> {
    pub(crate) cause: &'a str,
    /// The requests it stopped, over all its tests.
    pub(crate) requests: u64,
    /// The tests' names, in run order.
    pub(crate) tests: Vec<&'a str>,
    /// Their positions in the failures given to `group`.
    pub(crate) at: Vec<usize>,
}

impl Group<'_> {
    /// `61 requests, 34 tests` (or `34 tests` when none could send a request).
    pub(crate) fn counts(&self) -> String {
        let tests = plural(self.tests.len() as u64, "test");
        if self.requests == 0 { tests } else { format!("{}, {tests}", plural(self.requests, "request")) }
    }

    /// The first `shown` tests' names and how many more: `a, b, c and 31 more`.
    pub(crate) fn names(&self, shown: usize) -> String {
        let mut text = self.tests.iter().take(shown).copied().collect::<Vec<_>>().join(", ");
        if self.tests.len() > shown {
            text.push_str(&format!(" and {} more", self.tests.len() - shown));
        }
        text
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// The failures (name and cause, in run order) as groups of two or more tests with one cause,
/// the largest first, and the positions of the failures that stand alone.
pub(crate) fn group<'a>(failed: &[(&'a str, Option<&'a Cause>)]) -> (Vec<Group<'a>>, Vec<usize>) {
    let mut groups: Vec<Group<'a>> = Vec::new();
    let mut of: Vec<Option<usize>> = Vec::with_capacity(failed.len());
    for (i, (name, cause)) in failed.iter().enumerate() {
        let Some(cause) = cause else {
            of.push(None);
            continue;
        };
        let at = match groups.iter().position(|g| g.cause == cause.text) {
            Some(at) => at,
            None => {
                groups.push(Group { cause: &cause.text, requests: 0, tests: Vec::new(), at: Vec::new() });
                groups.len() - 1
            }
        };
        groups[at].requests += cause.requests;
        groups[at].tests.push(name);
        groups[at].at.push(i);
        of.push(Some(at));
    }
    let alone = of
        .iter()
        .enumerate()
        .filter(|(_, g)| g.is_none_or(|g| groups[g].tests.len() < 2))
        .map(|(i, _)| i)
        .collect();
    groups.retain(|g| g.tests.len() >= 2);
    // Stable: equal groups keep the order their causes first appeared in.
    groups.sort_by_key(|g| std::cmp::Reverse(g.tests.len()));
    (groups, alone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cause(text: &str, requests: u64) -> Cause {
        Cause { text: text.into(), requests }
    }

    #[test]
    fn one_group_per_shared_cause_and_the_rest_alone() {
        let down = cause("connection refused by 127.0.0.1:9: is the server running?", 1);
        let perf = cause("connection refused by 127.0.0.1:9: is the server running?", 20);
        let other = cause("could not connect to 10.0.0.1:80: no route to host", 1);
        let failed = [
            ("service active", None),
            ("root endpoint", Some(&down)),
            ("baseline", Some(&perf)),
            ("far host", Some(&other)),
            ("version", Some(&down)),
        ];
        let (groups, alone) = group(&failed);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].cause, down.text);
        assert_eq!(groups[0].tests, ["root endpoint", "baseline", "version"]);
        assert_eq!(groups[0].at, [1, 2, 4]);
        assert_eq!(groups[0].counts(), "22 requests, 3 tests");
        assert_eq!(groups[0].names(2), "root endpoint, baseline and 1 more");
        // A cause only one test met stays with that test.
        assert_eq!(alone, [0, 3]);
    }

    #[test]
    fn the_largest_group_comes_first() {
        let (a, b) = (cause("a", 0), cause("b", 1));
        let failed = [("1", Some(&a)), ("2", Some(&a)), ("3", Some(&b)), ("4", Some(&b)), ("5", Some(&b))];
        let (groups, alone) = group(&failed);
        assert_eq!(groups.iter().map(|g| g.cause).collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(groups[1].counts(), "2 tests");
        assert_eq!(groups[0].counts(), "3 requests, 3 tests");
        assert!(alone.is_empty());
    }
}
