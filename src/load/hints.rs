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
    let parse_of_blocks = message.contains("did not find expected '-' indicator")
        || message.contains("did not find expected key")
        || message.contains("mapping values are not allowed");
    if parse_of_blocks && let Some(words) = misindented(text, s.line) {
        return (format!("invalid YAML: {words}"), span);
    }
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

/// A key line of a block mapping: the key's column (0-based), the key, and whether the line
/// starts a list item (`- key: ...`, whose dash is two columns before the key).
#[derive(Clone, Copy)]
struct KeyLine<'a> {
    line: usize,
    col: usize,
    key: &'a str,
    item: bool,
}

fn key_line(n: usize, text: &str) -> Option<KeyLine<'_>> {
    let body = text.trim_start_matches(' ');
    let indent = text.len() - body.len();
    let (item, body, col) = match body.strip_prefix("- ") {
        Some(rest) => (
            true,
            rest.trim_start_matches(' '),
            indent + 2 + (rest.len() - rest.trim_start_matches(' ').len()),
        ),
        None => (false, body, indent),
    };
    let key = body.split_once(':').map(|(k, _)| k)?;
    let plain = !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || "_-.$[]*'\"@ ".contains(c));
    (plain && !body.starts_with('#')).then_some(KeyLine { line: n, col, key: key.trim(), item })
}

/// A key that lines up with no key above it, in words: how far it is from the mapping it was
/// probably meant for and what to do (the parser only says "did not find expected '-'").
fn misindented(text: &str, line: u32) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let at = (line as usize).checked_sub(1)?;
    let bad = key_line(at + 1, lines.get(at)?)?;
    if bad.item {
        return None;
    }
    let spaces = |n: usize| if n == 1 { "1 space".to_string() } else { format!("{n} spaces") };
    // Upwards: the nearest key of the smallest column deeper than it (the mapping it left), and
    // the first line at its column or shallower (the mapping or list around it).
    let (mut deeper, mut outer): (Option<KeyLine>, Option<KeyLine>) = (None, None);
    for n in (0..at).rev() {
        let Some(k) = key_line(n + 1, lines[n]) else { continue };
        let own = if k.item { k.col - 2 } else { k.col };
        if k.col > bad.col && deeper.is_none_or(|d| k.col < d.col) {
            deeper = Some(k);
        }
        if own <= bad.col {
            outer = Some(k);
            break;
        }
    }
    let deeper = deeper?;
    let mut words = format!(
        "`{}:` is indented {} less than `{}:` on line {} above it — the keys of one mapping start in the same \
         column: indent it {} more to put it beside `{}:`",
        bad.key,
        spaces(deeper.col - bad.col),
        deeper.key,
        deeper.line,
        spaces(deeper.col - bad.col),
        deeper.key
    );
    match outer {
        Some(o) if o.item && o.col - 2 == bad.col => words.push_str(&format!(
            " (or start it with `- ` to make it a new item of the list whose item on line {} starts `- {}:`)",
            o.line, o.key
        )),
        Some(o) if !o.item && o.col < bad.col => words.push_str(&format!(
            " (or {} less, beside `{}:` on line {})",
            spaces(bad.col - o.col),
            o.key,
            o.line
        )),
        _ => {}
    }
    Some(words)
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
    fn a_key_out_of_line_is_said_in_words() {
        let test = "tests:\n  - name: a\n    http:\n      path: /\n";
        let dash = "while parsing a block collection, did not find expected '-' indicator";
        let (m, _) = explain(dash, span(5, 3), &format!("{test}  expect:\n    status: 200\n"));
        assert_eq!(
            m,
            "invalid YAML: `expect:` is indented 2 spaces less than `http:` on line 3 above it — the keys of \
             one mapping start in the same column: indent it 2 spaces more to put it beside `http:` (or start \
             it with `- ` to make it a new item of the list whose item on line 2 starts `- name:`)"
        );
        let (m, _) = explain(dash, span(5, 4), &format!("{test}   expect:\n"));
        assert!(m.contains("`expect:` is indented 1 space less than `http:` on line 3"), "{m}");
        let key = "while parsing a block mapping, did not find expected key";
        let (m, _) = explain(key, span(5, 6), &format!("{test}     expect:\n"));
        assert!(
            m.ends_with(
                "indent it 1 space more to put it beside `path:` (or 1 space less, beside `http:` on line 3)"
            ),
            "{m}"
        );
        // Not a key out of line: the parser's words and their hints stay.
        let (m, _) = explain(key, span(2, 3), "a: b\n- c\n");
        assert!(m.starts_with("invalid YAML: while parsing a block mapping"), "{m}");
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
