//! Stage 5, report: reporters subscribe to run events and write what they see.
//!
//! A reporter receives shared references only: it cannot change a result. A reporter that
//! fails (a file that cannot be written) does not stop the run or the other reporters; its
//! error is kept and turns the exit code into 3 at the end.

pub(crate) mod ab;
pub(crate) mod append;
pub(crate) mod causes;
pub(crate) mod compare;
pub(crate) mod console;
pub(crate) mod csv;
pub(crate) mod detail;
pub(crate) mod events;
pub(crate) mod figures;
pub(crate) mod gpu_csv;
pub(crate) mod grid;
pub(crate) mod html;
pub(crate) mod json;
pub(crate) mod junit;
pub(crate) mod markdown;
pub(crate) mod matrix;
pub(crate) mod merge;
pub(crate) mod noise;
pub(crate) mod openmetrics;
pub(crate) mod outputs;
pub(crate) mod perf_csv;
pub(crate) mod perf_summary;
pub(crate) mod push;
pub(crate) mod samples;
pub(crate) mod svg;
pub(crate) mod text;
pub(crate) mod view;

pub(crate) use crate::record::Event;
use std::path::{Path, PathBuf};

/// Why a report could not be written. The run goes on; the error is said at the end and the
/// exit code becomes 3.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReportError {
    #[error("cannot write report {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot append to {}: {source}", path.display())]
    Append { path: PathBuf, source: std::io::Error },
    #[error(
        "refusing to append to {}: its header is not one hxrun writes there, so its columns would \
         not line up.\n  found:    {found}{}\nUse another file, or move this one aside",
        path.display(),
        expected.iter().map(|h| format!("\n  expected: {h}")).collect::<String>()
    )]
    ForeignHeader { path: PathBuf, found: String, expected: Vec<String> },
    #[error("cannot write to the console: {0}")]
    Console(std::io::Error),
    #[error("cannot render {what}: {reason}")]
    Render { what: &'static str, reason: String },
}

/// The run as the HTML and Markdown reports read it: through report.json's shape, so a live
/// run and `hxrun report` render the same thing from the same code. Every text in it is masked
/// here, before a renderer escapes it for HTML or Markdown (an escaping the mask need not know).
///
/// The run goes through JSON text, masked as text (the mask knows a secret's JSON-escaped
/// forms), and is read straight into the view: a `serde_json::Value` of a 10,000-test run took
/// five times its text. Only a secret that could match across JSON's own punctuation (it holds
/// `","`) can make the masked text unreadable; then each string is masked inside the value.
pub(crate) fn view_of(record: &crate::record::RunRecord, out: &Output) -> Result<view::Run, ReportError> {
    let render = ReportError::render("the run");
    let text = serde_json::to_string(record).map_err(|e| render(&e))?;
    let masked = out.text(&text);
    let run = match view::Run::from_str(&masked) {
        Ok(run) => Ok(run),
        Err(_) if matches!(masked, std::borrow::Cow::Owned(_)) => {
            let mut value: serde_json::Value = serde_json::from_str(&text).map_err(|e| render(&e))?;
            out.mask_value(&mut value);
            view::Run::from_value(value)
        }
        Err(e) => Err(e),
    };
    run.map_err(|e| ReportError::Render { what: "the run", reason: e })
}

impl ReportError {
    pub(crate) fn write(path: &Path) -> impl Fn(std::io::Error) -> ReportError + Copy + '_ {
        move |source| ReportError::Write { path: path.to_path_buf(), source }
    }

    pub(crate) fn render(what: &'static str) -> impl Fn(&dyn std::fmt::Display) -> ReportError {
        move |e| ReportError::Render { what, reason: e.to_string() }
    }
}

/// Something that turns run events into output. Everything it writes goes through `out`,
/// the redacting boundary.
pub(crate) trait Reporter {
    fn handle(&mut self, event: &Event, out: &Output) -> Result<(), ReportError>;
}

/// Every reporter of a run, with the errors they hit.
#[derive(Default)]
pub(crate) struct Reporters {
    reporters: Vec<Box<dyn Reporter>>,
    errors: Vec<String>,
    output: Output,
}

impl Reporters {
    /// Reporters whose output masks the run's secrets, as they are when each text is written.
    pub(crate) fn masking(mask: crate::mask::Secrets) -> Self {
        Reporters { output: Output { mask }, ..Default::default() }
    }

    pub(crate) fn add(&mut self, reporter: impl Reporter + 'static) {
        self.reporters.push(Box::new(reporter));
    }

    pub(crate) fn emit(&mut self, event: &Event) {
        for r in &mut self.reporters {
            if let Err(e) = r.handle(event, &self.output) {
                self.errors.push(self.output.text(&e.to_string()).into_owned());
            }
        }
    }

    /// Errors the reporters hit (a report that could not be written, say).
    pub(crate) fn errors(&self) -> &[String] {
        &self.errors
    }
}

/// The only way out for a reporter: every text it writes is masked on the way.
#[derive(Default)]
pub(crate) struct Output {
    mask: crate::mask::Secrets,
}

impl Output {
    /// The text with every secret masked.
    pub(crate) fn text<'a>(&self, s: &'a str) -> std::borrow::Cow<'a, str> {
        self.mask.apply(s)
    }

    /// Writes a whole report file (atomically, see `write_file`).
    pub(crate) fn write_file(&self, path: &Path, text: &str) -> Result<(), ReportError> {
        write_file(path, self.text(text).as_bytes())
    }

    /// Writes a binary file whole or not at all (temp file + rename), creating its folder:
    /// bytes that are not text (compressed samples) and were masked where they were made.
    pub(crate) fn write_with(
        &self,
        path: &Path,
        fill: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> Result<(), ReportError> {
        let fail = ReportError::write(path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let mut tmp = path.to_path_buf();
        tmp.set_extension(format!("tmp.{}", std::process::id()));
        let written = std::fs::File::create(&tmp)
            .and_then(|f| {
                let mut w = std::io::BufWriter::new(f);
                fill(&mut w)?;
                w.into_inner().map_err(|e| e.into_error())?.sync_data()
            })
            .and_then(|()| std::fs::rename(&tmp, path));
        written.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            fail(e)
        })
    }

    /// Opens a report written line by line as the run goes.
    pub(crate) fn create(&self, path: &Path) -> Result<Lines, ReportError> {
        Ok(Lines { file: std::io::BufWriter::new(create_file(path)?), path: path.to_path_buf() })
    }

    /// Appends rows to a shared CSV (`append::append_with`: `headers` accepted, the first
    /// for a new file); `rows` hands each row to the function it is given, which masks and
    /// writes it, and is told which header the file has.
    pub(crate) fn append(
        &self,
        path: &Path,
        headers: &[&str],
        rows: &mut dyn FnMut(&mut RowWriter, usize) -> std::io::Result<()>,
    ) -> Result<(), ReportError> {
        append::append_with(path, headers, &mut |w, which| {
            let mut write = |row: &str| {
                w.write_all(self.text(row).as_bytes())?;
                w.write_all(b"\n")
            };
            rows(&mut write, which)
        })
    }
}

impl Output {
    /// Masks every string (and key) inside a JSON value.
    pub(crate) fn mask_value(&self, value: &mut serde_json::Value) {
        self.mask.mask().apply_json(value);
    }

    /// Appends text to a file others append to as well (GitHub's step summary).
    pub(crate) fn append_text(&self, path: &Path, text: &str) -> Result<(), ReportError> {
        use std::io::Write;
        let fail = |source| ReportError::Append { path: path.to_path_buf(), source };
        let mut f = crate::files::open_output(path, std::fs::OpenOptions::new().append(true).create(true))
            .map_err(fail)?;
        f.write_all(self.text(text).as_bytes()).map_err(fail)
    }
}

/// Takes one row (without its line end) and writes it, masked.
pub(crate) type RowWriter<'a> = dyn FnMut(&str) -> std::io::Result<()> + 'a;

/// A report file written a line at a time, each line masked and flushed.
pub(crate) struct Lines {
    file: std::io::BufWriter<std::fs::File>,
    path: std::path::PathBuf,
}

impl Lines {
    pub(crate) fn line(&mut self, out: &Output, text: &str) -> Result<(), ReportError> {
        use std::io::Write;
        let written = self
            .file
            .write_all(out.text(text).as_bytes())
            .and_then(|()| self.file.write_all(b"\n"))
            .and_then(|()| self.file.flush());
        written.map_err(ReportError::write(&self.path))
    }
}

/// Writes a report file whole or not at all (temp file + rename), creating its folder.
///
/// A path that is not a regular file — a FIFO, a device such as `/dev/stdout`, or a symlink —
/// is written through (a symlink to a regular file atomically at its target), never replaced
/// by a file of our own. A failed write leaves no temp file behind.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let fail = ReportError::write(path);
    let target = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => match std::fs::canonicalize(path) {
            Ok(resolved) if resolved.is_file() => resolved,
            // A link to a FIFO or device, or a dangling one: write through it.
            _ => return crate::files::write(path, bytes).map_err(fail),
        },
        Ok(m) if !m.is_file() => return crate::files::write(path, bytes).map_err(fail),
        _ => path.to_path_buf(),
    };
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut tmp = target.clone();
    tmp.set_extension(format!("tmp.{}", std::process::id()));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, &target));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}

/// Opens a report file that is written as the run goes (creating its folder); a FIFO, device
/// or symlink is written through.
fn create_file(path: &Path) -> Result<std::fs::File, ReportError> {
    let fail = ReportError::write(path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    crate::files::open_output(path, std::fs::OpenOptions::new().write(true).create(true).truncate(true))
        .map_err(fail)
}
