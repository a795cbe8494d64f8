//! Text hygiene for reports: no ANSI escapes or control characters (JUnit consumers reject
//! them, CSV viewers garble them), nothing XML 1.0 forbids, and no CSV cell a spreadsheet
//! would run as a formula.

/// Removes ANSI escape sequences; control characters other than newline and tab, and the
/// noncharacters U+FFFE/U+FFFF (the characters XML 1.0 forbids; a Rust string holds no lone
/// surrogate: lossy decoding made each one U+FFFD already) become U+FFFD.
pub(crate) fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ params final-byte; other escapes: ESC + one char.
            if chars.peek() == Some(&'[') {
                chars.next();
                for n in chars.by_ref() {
                    if ('@'..='~').contains(&n) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else if c == '\r' {
            continue;
        } else if (c.is_control() && c != '\n' && c != '\t') || matches!(c, '\u{fffe}' | '\u{ffff}') {
            out.push('\u{fffd}');
        } else {
            out.push(c);
        }
    }
    out
}

/// One line: newlines become " | " (for CSV cells and one-line summaries).
pub(crate) fn one_line(s: &str) -> String {
    clean(s).lines().map(str::trim_end).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" | ")
}

/// A text for a CSV cell: one line, and inert in a spreadsheet — a cell that starts with `=`,
/// `+`, `-` or `@` (a formula to Excel, LibreOffice and Sheets) and is not a number gets a
/// leading `'`, as OWASP's CSV-injection advice and spreadsheet-safe exporters do.
pub(crate) fn csv_text(s: &str) -> String {
    let s = one_line(s);
    if s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err() { format!("'{s}") } else { s }
}

/// One CSV cell written by hand (for files appended line by line): `csv_text`, quoted when it
/// holds a comma or a quote.
pub(crate) fn csv_cell(s: &str) -> String {
    let s = csv_text(s);
    if s.contains([',', '"']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ansi_and_controls() {
        assert_eq!(clean("\u{1b}[31mred\u{1b}[0m ok\u{7}\r\n"), "red ok\u{fffd}\n");
        assert_eq!(one_line("a\n\nb\n"), "a | b");
        assert_eq!(clean("a\u{fffe}b\u{ffff}\u{0}\u{85}"), "a\u{fffd}b\u{fffd}\u{fffd}\u{fffd}");
    }

    #[test]
    fn formulas_are_inert_and_numbers_stay_numbers() {
        assert_eq!(csv_text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_cell("@SUM(A1),x"), "\"'@SUM(A1),x\"");
        assert_eq!(csv_text("+1 more"), "'+1 more");
        assert_eq!(csv_text("-cmd|' /C calc'!A0"), "'-cmd|' /C calc'!A0");
        assert_eq!(
            (csv_text("-12.5"), csv_text("+3"), csv_text("a=b")),
            ("-12.5".into(), "+3".into(), "a=b".into())
        );
    }
}
