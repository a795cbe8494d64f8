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
    if let Some(n) = &m.number {
        let (want, within) = n.target();
        let shown = match within {
            Some(t) => format!("{} (within {t})", crate::suite::values::trim_float(want)),
            None => crate::suite::values::trim_float(want),
        };
        out.push(match first_number(actual) {
            Some(n) if within.map_or(n == want, |t| t.allows(n, want)) => pass(what("number")),
            Some(n) => fail(
                what("number"),
                format!(
                    "{label}: expected its first number to be {shown}, got {} in {}",
                    crate::suite::values::trim_float(n),
                    got()
                ),
            )
            .values(shown.clone(), crate::suite::values::trim_float(n)),
            None => fail(
                what("number"),
                format!("{label}: expected the number {shown}, found no number in {}", got()),
            )
            .values(shown.clone(), "no number"),
        });
    }
    out
}

/// The first number written in a text: a sign (`-`, `−`, `+`), digits with optional thousands
/// separators (`1,234`), a decimal part, an exponent.
pub(crate) fn first_number(text: &str) -> Option<f64> {
    static NUMBER: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"([-+−]?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?([eE][-+]?\d+)?")
            .expect("a valid pattern")
    });
    let c = NUMBER.captures(text)?;
    let sign = if matches!(&c[1], "-" | "−") { "-" } else { "" };
    let digits = c[2].replace(',', "");
    let fraction = c.get(3).map_or("", |m| m.as_str());
    let exponent = c.get(4).map_or("", |m| m.as_str());
    format!("{sign}{digits}{fraction}{exponent}").parse().ok().filter(|n: &f64| n.is_finite())
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

    #[test]
    fn the_first_number_of_an_answer_against_the_expected() {
        assert_eq!(first_number("The answer is 42."), Some(42.0));
        assert_eq!(first_number("about −1,234.5 units, then 7"), Some(-1234.5));
        assert_eq!(first_number("3e8 m/s"), Some(3e8));
        assert_eq!(first_number("1,23 is not grouped"), Some(1.0), "a comma not before 3 digits ends it");
        assert_eq!(first_number("no digits"), None);
        let near: crate::suite::expect::NumberMatch =
            serde_json::from_str(r#"{"equals": "100", "within": "1%"}"#).unwrap();
        let exact: crate::suite::expect::NumberMatch = serde_json::from_str("42").unwrap();
        let t = |n: &crate::suite::expect::NumberMatch, text: &str| {
            check("text", &TextMatch { number: Some(n.clone()), ..TextMatch::default() }, text)
        };
        assert!(t(&exact, "It is 42 apples.")[0].passed);
        let wrong = &t(&exact, "It is 41.")[0];
        assert!(!wrong.passed);
        assert_eq!(
            wrong.message.as_deref(),
            Some(r#"text: expected its first number to be 42, got 41 in "It is 41.""#)
        );
        assert!(t(&near, "= 100.9 km")[0].passed, "within 1% of 100");
        assert!(!t(&near, "= 101.1 km")[0].passed);
        assert!(t(&exact, "none")[0].message.as_deref().unwrap().contains("found no number"));
        assert!(serde_json::from_str::<crate::suite::expect::NumberMatch>(r#""forty""#).is_err());
    }
}
