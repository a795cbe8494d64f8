//! Suite errors: a message, a position, and a source snippet for people.
//!
//! Every problem found in a suite file — YAML syntax, unknown field, wrong type, undefined
//! variable, unknown placeholder — becomes a `Diagnostic` naming file:line:col. Rendering uses
//! miette for the snippet and caret; the first line is always plain `file:line:col: message`
//! so it is greppable and readable in CI logs.

use super::tree::Span;
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan};
use std::fmt;
use std::sync::Arc;

/// Errors past this many stop the planning (a file of 120,000 copies of one mistake needs the
/// first ones fixed, not 120,000 messages held and printed).
pub(crate) const MAX_ERRORS: usize = 1000;

/// A suite file's name and text, shared by all its diagnostics.
#[derive(Debug)]
pub(crate) struct SourceFile {
    pub(crate) name: String,
    pub(crate) text: String,
}

/// One problem in a suite file.
#[derive(Debug, Clone)]
pub(crate) struct Diagnostic {
    pub(crate) source: Arc<SourceFile>,
    pub(crate) span: Option<Span>,
    pub(crate) message: String,
}

impl Diagnostic {
    pub(crate) fn new(source: &Arc<SourceFile>, span: Option<Span>, message: impl Into<String>) -> Self {
        Diagnostic { source: Arc::clone(source), span, message: message.into() }
    }

    /// `file:line:col` (or just `file` when the position is unknown).
    pub(crate) fn location(&self) -> String {
        match self.span.filter(Span::is_known) {
            Some(s) => format!("{}:{}:{}", self.source.name, s.line, s.col),
            None => self.source.name.clone(),
        }
    }

    /// The full report: the location line, then a snippet with a caret under the problem.
    pub(crate) fn render(&self, color: bool) -> String {
        let mut out = format!("error: {}: {}\n", self.location(), self.message);
        if let Some(span) = self.span.filter(Span::is_known) {
            let snippet = Snippet { diag: self, excerpt: Excerpt::around(&self.source.text, span) };
            let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
            let handler = GraphicalReportHandler::new_themed(theme).with_context_lines(1);
            let mut rendered = String::new();
            if handler.render_report(&mut rendered, &snippet).is_ok() {
                out.push_str(&rendered);
            }
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)
    }
}

/// The miette view of a diagnostic: only the snippet (the message is printed above it).
struct Snippet<'a> {
    diag: &'a Diagnostic,
    excerpt: Excerpt,
}

impl fmt::Debug for Snippet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl fmt::Display for Snippet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "at {}", self.diag.location())
    }
}

impl std::error::Error for Snippet<'_> {}

impl miette::Diagnostic for Snippet<'_> {
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.excerpt)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(LabeledSpan::new_primary_with_span(
            Some("here".to_string()),
            self.excerpt.label,
        ))))
    }
}

/// Characters of a line shown on each side of the problem: a one-line suite of 100 KiB is
/// shown as the part around its error, not whole (and miette cannot draw past column 65,535).
const HALF_WINDOW: usize = 60;

/// The lines around a problem (one before, one after), each cut to a window around the
/// problem's column, with the problem's place in that text; line numbers stay the file's.
struct Excerpt {
    text: String,
    /// The 0-based line of the excerpt's first line in the file.
    first_line: usize,
    /// The problem: byte offset and length in `text`.
    label: (usize, usize),
}

impl Excerpt {
    fn around(file: &str, span: Span) -> Excerpt {
        let at_line = span.line.max(1) as usize - 1;
        let first_line = at_line.saturating_sub(1);
        // Only the lines shown are looked at: found from the span's byte offset when it agrees
        // with its line (every error of a 120,000-test suite would scan the file otherwise).
        let start = line_start(file, span).unwrap_or_else(|| {
            file.match_indices('\n').nth(first_line.wrapping_sub(1)).map_or(0, |(i, _)| i + 1)
        });
        let lines: Vec<&str> = file[start..].split('\n').take(at_line + 2 - first_line).collect();
        let at = (at_line - first_line).min(lines.len().saturating_sub(1));
        let col = span.col.max(1) as usize - 1;
        // The window of characters kept on every line, around the problem's column.
        let from = col.saturating_sub(HALF_WINDOW);
        let to = col + HALF_WINDOW;
        let mut text = String::new();
        let mut label = (0, 0);
        for (n, line) in lines.iter().enumerate() {
            let line = line.trim_end_matches('\r');
            let count = line.chars().count();
            let cut: String = line.chars().skip(from).take(to - from).collect();
            let (head, tail) =
                (if from > 0 && count > from { "…" } else { "" }, if count > to { "…" } else { "" });
            if n > 0 {
                text.push('\n');
            }
            if n == at {
                let start = text.len() + head.len();
                // The problem's column inside the kept part (the end of it, past the line).
                let within: usize = cut.chars().take(col - from).map(char::len_utf8).sum();
                let rest: usize =
                    cut.chars().skip(col - from).take(span.len.max(1)).map(char::len_utf8).sum();
                label = (start + within, rest.max(usize::from(within < cut.len())));
            }
            text.push_str(head);
            text.push_str(&cut);
            text.push_str(tail);
        }
        Excerpt { text, first_line, label }
    }
}

/// The byte offset of the start of the line before the span's, from the span's own offset
/// (None when the offset does not lie on the span's line: a parser error may carry none).
fn line_start(file: &str, span: Span) -> Option<usize> {
    let offset = span.offset.min(file.len());
    if !file.is_char_boundary(offset) {
        return None;
    }
    let own = file[..offset].rfind('\n').map_or(0, |i| i + 1);
    let col = file[own..offset].chars().count() + 1;
    if col != span.col as usize || (span.offset == 0 && span.line > 1) {
        return None;
    }
    if span.line <= 1 {
        Some(0)
    } else {
        Some(file[..own.saturating_sub(1)].rfind('\n').map_or(0, |i| i + 1))
    }
}

impl miette::SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner = self.text.read_span(span, before, after)?;
        Ok(Box::new(miette::MietteSpanContents::new(
            inner.data(),
            *inner.span(),
            inner.line() + self.first_line,
            inner.column(),
            inner.line_count(),
        )))
    }
}

/// Why a suite could not be loaded or planned: every problem found, not just the first (the
/// error of the load and plan stages).
#[derive(Debug, thiserror::Error)]
#[error("{}", self.0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub(crate) struct SuiteErrors(pub Vec<Diagnostic>);

impl SuiteErrors {
    /// Every error with its snippet, up to `SHOWN`; then one line each, up to `LISTED`; then
    /// how many more (120,000 duplicate names are not 120,000 snippets).
    pub(crate) fn render(&self, color: bool) -> String {
        const SHOWN: usize = 50;
        // Every error planning keeps, and the line saying it stopped.
        const LISTED: usize = MAX_ERRORS + 1;
        let mut parts: Vec<String> = self.0.iter().take(SHOWN).map(|d| d.render(color)).collect();
        parts.extend(self.0.iter().skip(SHOWN).take(LISTED - SHOWN).map(|d| format!("error: {d}")));
        let mut out = parts.join("\n");
        let n = self.0.len();
        if n > LISTED {
            out.push_str(&format!("\n... and {} more errors, not listed", n - LISTED));
        }
        out.push_str(&format!("\n{n} error{} found\n", if n == 1 { "" } else { "s" }));
        out
    }
}
