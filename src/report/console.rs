//! The console: a progress bar on a terminal, one plain line per finished test elsewhere
//! (CI logs), then a summary with every failure's message. Honours NO_COLOR.

use super::text::clean;
use super::{Event, Output, Reporter};
use crate::record::{RunRecord, Status, TestResult};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;

pub(crate) struct ConsoleOptions {
    /// Draw a progress bar (only on a terminal, never with --no-progress).
    pub(crate) progress: bool,
    pub(crate) color: bool,
    /// Show request/response detail for failures.
    pub(crate) verbose: bool,
}

impl ConsoleOptions {
    /// Detects a terminal on stdout and NO_COLOR.
    pub(crate) fn detect(no_progress: bool, verbose: bool) -> Self {
        use std::io::IsTerminal;
        let tty = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        ConsoleOptions { progress: tty && !no_progress, color: tty && !no_color, verbose }
    }
}

pub(crate) struct ConsoleReporter {
    opts: ConsoleOptions,
    bar: Option<ProgressBar>,
    out: Box<dyn Write + Send>,
    /// The reader went away (`hxrun ... | head`): the run goes on, the console stays quiet.
    closed: bool,
    /// Failure causes already printed: the next test they stop says so in one line.
    causes: Vec<String>,
}

/// Prints a line on stdout; a closed stdout is ignored (the reports still tell the story).
pub(crate) fn say(text: &str) {
    let _ = writeln!(std::io::stdout(), "{text}");
}

impl ConsoleReporter {
    pub(crate) fn new(opts: ConsoleOptions) -> Self {
        Self::with_writer(opts, Box::new(std::io::stdout()))
    }

    pub(crate) fn with_writer(opts: ConsoleOptions, out: Box<dyn Write + Send>) -> Self {
        ConsoleReporter { opts, bar: None, out, closed: false, causes: Vec::new() }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.opts.color { format!("\u{1b}[{code}m{s}\u{1b}[0m") } else { s.to_string() }
    }

    fn line(&mut self, out: &Output, text: &str) -> Result<(), super::ReportError> {
        let text = &out.text(text);
        match &self.bar {
            Some(bar) => {
                bar.println(text);
                Ok(())
            }
            None => self.write(text),
        }
    }

    /// Writes to the console; a reader that went away (EPIPE) silences it without an error.
    fn write(&mut self, text: &str) -> Result<(), super::ReportError> {
        if self.closed {
            return Ok(());
        }
        match writeln!(self.out, "{text}").and_then(|()| self.out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other.map_err(super::ReportError::Console),
        }
    }

    fn finished(&mut self, out: &Output, t: &TestResult) -> Result<(), super::ReportError> {
        let (word, color) = match t.status {
            Status::Passed => ("PASS", "32"),
            // A gate's case that failed counts against its gate, not the run.
            Status::Failed if t.missed() => ("MISS", "33"),
            Status::Failed => ("FAIL", "31"),
            Status::Skipped => ("SKIP", "33"),
        };
        if let Some(bar) = &self.bar {
            // A gate is not one of the planned tests the bar counts.
            if t.pass_rate.is_none() {
                bar.inc(1);
            }
            bar.set_message(out.text(&clean(&t.name)).into_owned());
            let perf = matches!(t.observation, Some(crate::record::Observation::Perf(_)));
            if t.status == Status::Passed && !perf {
                return Ok(());
            }
        }
        let retries =
            if t.attempts.len() > 1 { format!(", {} attempts", t.attempts.len()) } else { String::new() };
        let mut text = format!(
            "{} {} › {} ({} ms{retries})",
            self.paint(color, word),
            clean(&t.suite),
            clean(&t.name),
            t.duration.as_millis()
        );
        let again = t.cause.as_ref().is_some_and(|c| self.causes.contains(&c.text));
        if again {
            text.push_str("\n      (the same cause as above)");
        } else if let Some(m) = &t.message {
            for l in clean(m).lines() {
                text.push_str(&format!("\n      {l}"));
            }
        }
        if let Some(c) = t.cause.as_ref().filter(|_| !again) {
            self.causes.push(c.text.clone());
        }
        if let Some(crate::record::Observation::Perf(p)) = &t.observation {
            for l in super::detail::perf_summary(p).lines().skip(1) {
                text.push_str(&format!("\n      {}", clean(l)));
            }
        }
        let detail = super::detail::of(t);
        if self.opts.verbose && t.status == Status::Failed && !detail.is_empty() {
            for l in clean(&detail).lines() {
                text.push_str(&format!("\n      │ {l}"));
            }
        }
        self.line(out, &text)
    }

    fn summary(&mut self, out: &Output, record: &RunRecord) -> Result<(), super::ReportError> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let failed: Vec<&TestResult> =
            record.suites.iter().flat_map(|s| &s.tests).filter(|t| t.status == Status::Failed).collect();
        let mut text = String::new();
        if !failed.is_empty() {
            text.push_str(&format!("\n{}\n", self.paint("1", "Failures:")));
            let named: Vec<_> = failed.iter().map(|t| (t.name.as_str(), t.cause.as_ref())).collect();
            let (groups, alone) = super::causes::group(&named);
            for g in &groups {
                text.push_str(&format!("  {} {}\n", self.paint("31", "✗"), self.paint("1", &clean(g.cause))));
                text.push_str(&format!("      {}: {}\n", g.counts(), clean(&g.names(8))));
            }
            for t in alone.iter().map(|&i| failed[i]) {
                text.push_str(&format!("  {} › {}  ({})\n", clean(&t.suite), clean(&t.name), t.location));
                for l in clean(&super::detail::failure(t)).lines() {
                    text.push_str(&format!("      {l}\n"));
                }
            }
        }
        let fleets = super::matrix::fleets(record.suites.iter().map(|s| {
            let tests = s.tests.iter().map(|t| (t.name.as_str(), status_word(t.status))).collect();
            (s.name.as_str(), s.host.as_deref(), tests)
        }));
        for m in fleets {
            text.push_str(&format!("\n{}\n", clean(&m.text())));
        }
        if !record.verdicts.is_empty() {
            text.push_str(&format!("\n{}\n", self.paint("1", "Verdicts:")));
            for v in &record.verdicts {
                let line = clean(&v.line());
                text.push_str(&format!(
                    "  {}\n",
                    if v.ok { self.paint("32", &line) } else { self.paint("31", &line) }
                ));
            }
        }
        let (p, f, s) =
            (record.count(Status::Passed), record.count(Status::Failed), record.count(Status::Skipped));
        let counts = format!("{p} passed, {f} failed, {s} skipped");
        let counts = if f > 0 { self.paint("31", &counts) } else { self.paint("32", &counts) };
        text.push_str(&format!("\n{counts}\ntime: {:.2}s", record.duration.as_secs_f64()));
        for w in &record.warnings {
            text.push_str(&format!("\n{}", self.paint("31", &format!("warning: {}", clean(w)))));
        }
        if let Some(why) = &record.stopped {
            text.push_str(&format!("\n{}", self.paint("31", &format!("run stopped early: {}", clean(why)))));
        }
        self.write(&out.text(&text))
    }
}

impl Reporter for ConsoleReporter {
    fn handle(&mut self, event: &Event, out: &Output) -> Result<(), super::ReportError> {
        match event {
            Event::RunStarted { total } if self.opts.progress => {
                let bar = ProgressBar::with_draw_target(Some(*total as u64), ProgressDrawTarget::stdout());
                let style = ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {wide_msg}")
                    .map(|s| s.progress_chars("=> "))
                    .unwrap_or_else(|_| ProgressStyle::default_bar());
                bar.set_style(style);
                bar.enable_steady_tick(std::time::Duration::from_millis(100));
                self.bar = Some(bar);
                Ok(())
            }
            Event::SuiteStarted { name, tests, target } => {
                let text = format!(
                    "{} {} ({tests} tests) against {}",
                    self.paint("1", "suite"),
                    clean(name),
                    clean(target)
                );
                self.line(out, &text)
            }
            Event::TestStarted { name, .. } => {
                if let Some(bar) = &self.bar {
                    bar.set_message(out.text(&clean(name)).into_owned());
                }
                Ok(())
            }
            Event::Progress { name, done, total, unit } => {
                // Progress only where a bar is drawn: CI logs get the result line alone.
                if let Some(bar) = &self.bar {
                    let amount = |n: u64| {
                        if *unit == "bytes" {
                            indicatif::HumanBytes(n).to_string()
                        } else {
                            format!("{n} {unit}")
                        }
                    };
                    let text = match (*done * 100).checked_div(*total) {
                        Some(pct) => {
                            format!("{}: {} / {} ({pct}%)", clean(name), amount(*done), amount(*total))
                        }
                        None => format!("{}: {}", clean(name), amount(*done)),
                    };
                    bar.set_message(out.text(&text).into_owned());
                }
                Ok(())
            }
            Event::TestFinished { result } => self.finished(out, result),
            Event::Note { message } => {
                let text = format!("{} {}", self.paint("33", "note:"), clean(message));
                self.line(out, &text)
            }
            Event::RunFinished { record } => self.summary(out, record),
            _ => Ok(()),
        }
    }
}

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::Skipped => "skipped",
    }
}
