//! Text hygiene for reports: no ANSI escapes or control characters (JUnit consumers reject
//! them, CSV viewers garble them).

/// Removes ANSI escape sequences and control characters other than newline and tab.
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
        } else if c.is_control() && c != '\n' && c != '\t' {
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

/// One CSV cell written by hand (for files appended line by line): one line, quoted when it
/// holds a comma or a quote.
pub(crate) fn csv_cell(s: &str) -> String {
    let s = one_line(s);
    if s.contains([',', '"']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_ansi_and_controls() {
        assert_eq!(clean("\u{1b}[31mred\u{1b}[0m ok\u{7}\r\n"), "red ok\u{fffd}\n");
        assert_eq!(one_line("a\n\nb\n"), "a | b");
    }
}
