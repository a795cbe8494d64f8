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
        let lines: Vec<&str> = file.split('\n').collect();
        let at = (span.line.max(1) as usize - 1).min(lines.len().saturating_sub(1));
        let first_line = at.saturating_sub(1);
        let col = span.col.max(1) as usize - 1;
        // The window of characters kept on every line, around the problem's column.
        let from = col.saturating_sub(HALF_WINDOW);
        let to = col + HALF_WINDOW;
        let mut text = String::new();
        let mut label = (0, 0);
        for (n, line) in lines.iter().enumerate().take(at + 2).skip(first_line) {
            let line = line.trim_end_matches('\r');
            let count = line.chars().count();
            let cut: String = line.chars().skip(from).take(to - from).collect();
            let (head, tail) =
                (if from > 0 && count > from { "…" } else { "" }, if count > to { "…" } else { "" });
            if n == at {
                let start = text.len() + head.len();
                // The problem's column inside the kept part (the end of it, past the line).
                let within: usize = cut.chars().take(col - from).map(char::len_utf8).sum();
                let rest: usize =
                    cut.chars().skip(col - from).take(span.len.max(1)).map(char::len_utf8).sum();
                label = (start + within, rest.max(usize::from(within < cut.len())));
            }
            if n > first_line {
                text.push('\n');
            }
            text.push_str(head);
            text.push_str(&cut);
            text.push_str(tail);
        }
        Excerpt { text, first_line, label }
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
    pub(crate) fn render(&self, color: bool) -> String {
        let mut out: String = self.0.iter().map(|d| d.render(color)).collect::<Vec<_>>().join("\n");
        let n = self.0.len();
        out.push_str(&format!("\n{n} error{} found\n", if n == 1 { "" } else { "s" }));
        out
    }
}
