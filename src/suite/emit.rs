//! Writing suite text that hxrun did not author itself (a server's model names and answers, a
//! url a user typed): every such text becomes one quoted YAML scalar made by the YAML emitter,
//! with the suite language's own syntax in it (`${VAR}`, `{{placeholder}}`) made literal, so
//! that loading the written suite gives back exactly that text — never a new key, a new step or
//! a variable. Text that only a person reads (comments) is put on one line with its control
//! characters shown as escapes.

/// How a suite writes a literal `{{` (a placeholder whose content is a quoted string is that
/// string: `{{'{{'}}`).
pub(crate) const LITERAL_OPEN: &str = "{{'{{'}}";

/// `text` with the suite language's syntax made literal: `${` → `$${`, `{{` → `{{'{{'}}`.
pub(crate) fn literal(text: &str) -> String {
    let env = text.replace("${", "$${");
    let mut out = String::with_capacity(env.len());
    let mut rest = env.as_str();
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        out.push_str(LITERAL_OPEN);
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    out
}

/// One YAML scalar, quoted by the emitter (single or double quotes, escapes where needed, always
/// on one line), whose value loads back as `text` exactly.
pub(crate) fn scalar(text: &str) -> String {
    quoted(&literal(text))
}

/// A quoted YAML scalar of `text` as it is (no `${`/`{{` escaping: for values the suite language
/// should still interpolate, such as `${HXRUN_TARGET:-url}`).
pub(crate) fn quoted(text: &str) -> String {
    let options = serde_saphyr::ser_options! { quote_all: true };
    let out = serde_saphyr::to_string_with_options(&text, options)
        .unwrap_or_else(|_| serde_json::to_string(text).unwrap_or_default());
    let out = out.trim_end_matches('\n');
    // The emitter writes one line for a quoted scalar; a second line would be a new key.
    debug_assert!(!out.contains('\n'), "{out}");
    out.replace('\n', "\\n")
}

/// `${VAR:-value}` as a quoted scalar, so another value is one variable away; `value` alone
/// (literal) when it holds characters a variable's default cannot.
pub(crate) fn env_default(var: &str, value: &str) -> String {
    if value.contains(['{', '}', '$']) { scalar(value) } else { quoted(&format!("${{{var}:-{value}}}")) }
}

/// Outside text for a `# comment`: one line, control and line-separator characters as `\u{..}`
/// escapes, at most `max` characters (then `…`).
pub(crate) fn comment(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}') {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_stay_on_one_line_and_are_bounded() {
        assert_eq!(comment("a\nb\u{2028}c", 10), "a\\u{a}b\\u{2028}c");
        assert_eq!(comment("abcdef", 3), "abc…");
    }
}
