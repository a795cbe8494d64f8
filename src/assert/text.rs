//! Text matchers (`body`, `stdout`, `stderr`, headers; LLM `text` later).

use super::{fail, pass};
use crate::record::AssertionResult;
use crate::suite::TextMatch;

/// `s` quoted with escapes visible (`"HX-OK \n"`), cut to about `max` characters.
pub(crate) fn quote(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        format!("{s:?}")
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut:?}… ({} characters in all)", s.chars().count())
    }
}

const SHOW: usize = 120;

pub(crate) fn check(label: &str, m: &TextMatch, actual: &str) -> Vec<AssertionResult> {
    let mut out = Vec::new();
    let what = |name: &str| format!("{label}.{name}");
    let got = || quote(actual, SHOW);
    if let Some(want) = &m.equals {
        out.push(if actual == want {
            pass(what("equals"))
        } else {
            let hint = if actual.trim() == want.trim() { " (trimmed_equals would pass)" } else { "" };
            fail(
                what("equals"),
                format!("{label}: expected exactly {}, got {}{hint}", quote(want, SHOW), got()),
            )
            .values(quote(want, SHOW), got())
        });
    }
    if let Some(want) = &m.trimmed_equals {
        out.push(if actual.trim() == want.trim() {
            pass(what("trimmed_equals"))
        } else {
            let hint = if actual.contains(want.as_str()) { " (contains would pass)" } else { "" };
            fail(
                what("trimmed_equals"),
                format!(
                    "{label}: expected {} (ignoring surrounding whitespace), got {}{hint}",
                    quote(want, SHOW),
                    got()
                ),
            )
            .values(format!("{} trimmed", quote(want, SHOW)), got())
        });
    }
    if let Some(want) = &m.contains {
        out.push(if actual.contains(want.as_str()) {
            pass(what("contains"))
        } else {
            fail(
                what("contains"),
                format!("{label}: expected it to contain {}, got {}", quote(want, SHOW), got()),
            )
            .values(format!("contains {}", quote(want, SHOW)), got())
        });
    }
    if let Some(want) = &m.not_contains {
        out.push(if !actual.contains(want.as_str()) {
            pass(what("not_contains"))
        } else {
            fail(
                what("not_contains"),
                format!("{label}: expected it not to contain {}, got {}", quote(want, SHOW), got()),
            )
            .values(format!("not containing {}", quote(want, SHOW)), got())
        });
    }
    if let Some(want) = &m.starts_with {
        out.push(if actual.starts_with(want.as_str()) {
            pass(what("starts_with"))
        } else {
            fail(
                what("starts_with"),
                format!("{label}: expected it to start with {}, got {}", quote(want, SHOW), got()),
            )
            .values(format!("starts with {}", quote(want, SHOW)), got())
        });
    }
    if let Some(re) = &m.matches {
        out.push(if re.0.is_match(actual) {
            pass(what("matches"))
        } else {
            fail(what("matches"), format!("{label}: expected a match for /{}/, got {}", re.0.as_str(), got()))
                .values(format!("/{}/", re.0.as_str()), got())
        });
    }
    if let Some(want_json) = m.json {
        let parsed = serde_json::from_str::<serde_json::Value>(actual);
        out.push(match (want_json, parsed) {
            (true, Ok(_)) | (false, Err(_)) => pass(what("json")),
            (true, Err(e)) => {
                fail(what("json"), format!("{label}: expected valid JSON, but {e}; got {}", got()))
                    .values("valid JSON", got())
            }
            (false, Ok(_)) => {
                fail(what("json"), format!("{label}: expected text that is not JSON, got {}", got()))
                    .values("text that is not JSON", got())
            }
        });
    }
    if let Some(options) = &m.one_of {
        out.push(if options.iter().any(|o| o.trim() == actual.trim()) {
            pass(what("one_of"))
        } else {
            let list: Vec<String> = options.iter().map(|o| quote(o, 40)).collect();
            let list = list.join(", ");
            fail(what("one_of"), format!("{label}: expected one of {list}, got {}", got()))
                .values(format!("one of {list}"), got())
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(f: impl FnOnce(&mut TextMatch)) -> TextMatch {
        let mut t = TextMatch::default();
        f(&mut t);
        t
    }

    #[test]
    fn equals_hints_trimmed() {
        let r = check("text", &m(|t| t.equals = Some("HX-OK".into())), "HX-OK \n");
        assert!(!r[0].passed);
        let msg = r[0].message.as_ref().unwrap();
        assert!(msg.contains(r#"got "HX-OK \n" (trimmed_equals would pass)"#), "{msg}");
        assert!(check("text", &m(|t| t.trimmed_equals = Some("HX-OK".into())), "HX-OK \n")[0].passed);
    }

    #[test]
    fn json_and_one_of() {
        assert!(check("b", &m(|t| t.json = Some(true)), "{\"a\":1}")[0].passed);
        assert!(!check("b", &m(|t| t.json = Some(true)), "{oops")[0].passed);
        let r = check("b", &m(|t| t.one_of = Some(vec!["a".into(), "b".into()])), " c ");
        assert!(r[0].message.as_ref().unwrap().contains("expected one of \"a\", \"b\""));
    }
}
