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
            let snippet = Snippet { diag: self, span };
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
    span: Span,
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
        Some(&self.diag.source.text)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let text = &self.diag.source.text;
        // Recompute the byte offset from line:col (parser errors may not carry one).
        let offset =
            offset_of(text, self.span.line, self.span.col).unwrap_or(self.span.offset).min(text.len());
        let len = self.span.len.min(text.len() - offset).max(usize::from(offset < text.len()));
        Some(Box::new(std::iter::once(LabeledSpan::new_primary_with_span(
            Some("here".to_string()),
            (offset, len),
        ))))
    }
}

/// Byte offset of a 1-based line and (character) column.
fn offset_of(text: &str, line: u32, col: u32) -> Option<usize> {
    let line_start =
        if line <= 1 { 0 } else { text.match_indices('\n').nth(line as usize - 2).map(|(i, _)| i + 1)? };
    let rest = &text[line_start..];
    let within = rest.char_indices().nth(col.saturating_sub(1) as usize).map_or(rest.len(), |(i, _)| i);
    Some(line_start + within)
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
