//! YAML parser errors in words a suite author understands: no library type names, the place
//! of the real mistake, and a hint for the slips people make every day (a `: ` inside an
//! unquoted prompt, an unquoted `{{model}}` or `> 0`, a tab, a key written twice).

use super::tree::Span;

/// The parser's message and place, rewritten for people.
pub(super) fn explain(parser: &str, span: Option<Span>, text: &str) -> (String, Option<Span>) {
    // "error: line 4 column 62: while parsing ..." → "while parsing ..."
    let message = super::tree::plain_message(parser).to_string();
    let line_of = |s: Span| text.lines().nth(s.line.saturating_sub(1) as usize).unwrap_or("");
    let at = |s: Span| line_of(s).chars().skip(s.col.saturating_sub(1) as usize).collect::<String>();

    if message.contains("found a tab") || message.contains("tab") && message.contains("indent") {
        if let Some(tab) = first_indent_tab(text, span.map_or(1, |s| s.line)) {
            return ("a tab is used for indentation: YAML indents with spaces only".to_string(), Some(tab));
        }
        return ("a tab where YAML expects spaces: indent with spaces only".to_string(), span);
    }
    if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
        let key = key.split(',').next().unwrap_or(key).trim();
        return (
            format!(
                "`{key}` is written twice in the same mapping: keep one (a test runs one step; to run \
                 two, write two tests)"
            ),
            span,
        );
    }
    let Some(s) = span else { return (format!("invalid YAML: {message}"), span) };
    let rest = at(s);
    let line = line_of(s);
    let hint = if rest.trim_start().starts_with("{{") || (line.contains(": {{") && !line.contains("\"{{")) {
        Some(
            "a `{{placeholder}}` value must be quoted — write \"{{model}}\" — because an unquoted `{` starts a \
             YAML mapping",
        )
    } else if message.contains("flow mapping")
        && (rest.trim_start().starts_with("${") || (line.contains(": ${") && !line.contains("\"${")))
    {
        Some(
            "a `${variable}` inside `{ ... }` must be quoted — write { path: \"${p}\" } — because in a flow \
             mapping YAML reads `{` and `}` as its own",
        )
    } else if message.contains("block scalar") || rest.trim_start().starts_with(['>', '|']) {
        Some(
            "a comparison must be quoted — write \"> 0\" — because an unquoted `>` or `|` starts a YAML block \
             of text",
        )
    } else if message.contains("unknown escape") {
        Some(
            "inside double quotes a backslash starts an escape: write a regex in single quotes — '^0\\.' — or \
             double each backslash",
        )
    } else if message.contains("mapping values are not allowed")
        || (message.contains("did not find expected") && line.matches(": ").count() >= 2)
    {
        Some(
            "a value that contains `: ` must be quoted — write prompt: \"Summarize HX: in one sentence\" — \
             because YAML reads `: ` as the start of another key",
        )
    } else {
        None
    };
    let message = match hint {
        Some(h) => format!("invalid YAML ({message}): {h}"),
        None => format!("invalid YAML: {message}"),
    };
    (message, span)
}

/// The first tab in the indentation of a line at or after `from` (1-based), or before it.
fn first_indent_tab(text: &str, from: u32) -> Option<Span> {
    let tabs: Vec<Span> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let indent = l.len() - l.trim_start_matches([' ', '\t']).len();
            l[..indent].find('\t').map(|c| Span { line: i as u32 + 1, col: c as u32 + 1, offset: 0, len: 1 })
        })
        .collect();
    tabs.iter().find(|t| t.line >= from).or(tabs.last()).copied()
}

/// Where a file stops being UTF-8, as a place and a message.
pub(super) fn not_utf8(bytes: &[u8], e: &std::str::Utf8Error) -> (String, Span) {
    let at = e.valid_up_to();
    let before = &bytes[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let col = String::from_utf8_lossy(&before[line_start..]).chars().count() as u32 + 1;
    (
        format!(
            "the file is not UTF-8: byte 0x{:02X} at {line}:{col} (byte offset {at}) is not valid UTF-8 — save the \
             suite as UTF-8",
            bytes[at]
        ),
        Span { line, col, offset: at, len: 1 },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(line: u32, col: u32) -> Option<Span> {
        Some(Span { line, col, offset: 0, len: 0 })
    }

    #[test]
    fn common_slips_get_hints() {
        let (m, _) = explain(
            "error: line 1 column 40: while parsing a flow mapping, did not find expected ',' or '}'",
            span(1, 40),
            "x: { model: m, prompt: Summarize HX: in one sentence }",
        );
        assert!(m.contains("a value that contains `: ` must be quoted"), "{m}");
        let (m, _) = explain(
            "error: line 1 column 17: while parsing a flow mapping, did not find expected ',' or '}'",
            span(1, 17),
            "http: { path: ${p} }",
        );
        assert!(m.contains("a `${variable}` inside `{ ... }` must be quoted") && !m.contains("`: `"), "{m}");
        let (m, _) = explain(
            "while parsing a quoted scalar, found unknown escape character",
            span(1, 25),
            "$.version: { matches: \"^0\\.\" }",
        );
        assert!(m.contains("write a regex in single quotes") && !m.contains("`: `"), "{m}");
        assert!(!m.contains("line 1 column"), "{m}");
        let (m, _) =
            explain("error: line 2 column 14: expected string scalar", span(2, 14), "g:\n  model: {{model}}");
        assert!(m.contains("must be quoted — write \"{{model}}\""), "{m}");
        let (m, _) = explain(
            "while scanning a block scalar, did not find expected comment",
            span(2, 15),
            "m:\n  eval_count: > 0",
        );
        assert!(m.contains("a comparison must be quoted"), "{m}");
        let (m, at) = explain("while scanning a plain scalar, found a tab", span(1, 3), "a: b\n\tc: d");
        assert_eq!(
            (m.as_str(), at.map(|s| (s.line, s.col))),
            ("a tab is used for indentation: YAML indents with spaces only", Some((2, 1)))
        );
        let (m, _) = explain(
            "duplicate mapping key: http, set DuplicateKeyPolicy in Options if acceptable",
            span(3, 5),
            "",
        );
        assert!(m.starts_with("`http` is written twice") && !m.contains("DuplicateKeyPolicy"), "{m}");
    }

    #[test]
    fn a_non_utf8_byte_has_a_place() {
        let bytes = [b"suite: s\nname: \"caf".as_slice(), &[0xE9], b"\"\n"].concat();
        let e = std::str::from_utf8(&bytes).unwrap_err();
        let (m, s) = not_utf8(&bytes, &e);
        assert_eq!((s.line, s.col), (2, 11));
        assert!(m.contains("byte 0xE9 at 2:11"), "{m}");
    }
}
