//! Where a run's reports go, resolved once: the report folder's files, each movable by its own
//! flag (`--junit FILE`...), and the reporters that write them — the same for a run and for
//! `hxrun merge` (which writes the same set into its output folder, without the event log).

use super::{
    Reporters, console, csv, events, gpu_csv, html, json, junit, markdown, openmetrics, perf_csv,
    perf_summary, samples,
};
use crate::mask::Secrets;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub(crate) struct Outputs {
    /// The report folder: samples, perf CSVs and the files below unless moved.
    pub(crate) dir: PathBuf,
    pub(crate) junit: PathBuf,
    pub(crate) csv: PathBuf,
    pub(crate) json: PathBuf,
    /// None: `--no-html`.
    pub(crate) html: Option<PathBuf>,
    pub(crate) summary: PathBuf,
    /// GitHub's job summary, when the run has one to add to.
    pub(crate) step_summary: Option<PathBuf>,
    /// The event log (a run's only: a merge has no events to replay).
    pub(crate) events: Option<PathBuf>,
    pub(crate) perf_summary: PathBuf,
    pub(crate) gpu_csv: PathBuf,
    /// `--metrics-file`: the run's figures in OpenMetrics text (node_exporter's textfile).
    pub(crate) metrics: Option<PathBuf>,
}

impl Outputs {
    /// Every report in `dir` under its usual name.
    pub(crate) fn in_dir(dir: &Path) -> Outputs {
        Outputs {
            dir: dir.to_path_buf(),
            junit: dir.join("junit.xml"),
            csv: dir.join("results.csv"),
            json: dir.join("report.json"),
            html: Some(dir.join("report.html")),
            summary: dir.join("summary.md"),
            step_summary: None,
            events: Some(dir.join("events.jsonl")),
            perf_summary: dir.join("perf-summary.csv"),
            gpu_csv: dir.join("gpu.csv"),
            metrics: None,
        }
    }

    /// A report goes to standard output (`--junit /dev/stdout`): the console then writes to
    /// standard error, so the report is alone there.
    pub(crate) fn report_on_stdout(&self) -> bool {
        [&self.junit, &self.csv, &self.json, &self.summary]
            .into_iter()
            .chain(self.html.as_ref())
            .any(|p| crate::files::is_stdout(p))
    }

    /// The reporters that write these outputs, behind the console; `gpu_sampled` says whether
    /// GPU samples are to be written even when none came.
    pub(crate) fn reporters(
        &self,
        mask: Secrets,
        console: console::ConsoleOptions,
        gpu_sampled: bool,
    ) -> Reporters {
        let mut r = Reporters::masking(mask);
        r.add(if self.report_on_stdout() {
            console::ConsoleReporter::with_writer(console, Box::new(std::io::stderr()))
        } else {
            console::ConsoleReporter::new(console)
        });
        r.add(junit::JunitReporter::new(self.junit.clone()));
        r.add(csv::CsvReporter::new(self.csv.clone()));
        r.add(json::JsonReporter::new(self.json.clone()));
        if let Some(path) = &self.html {
            r.add(html::HtmlReporter::new(path.clone()));
        }
        r.add(markdown::MarkdownReporter::new(Some(self.summary.clone()), self.step_summary.clone()));
        if let Some(path) = &self.events {
            r.add(events::EventLogReporter::new(path.clone()));
        }
        r.add(perf_csv::PerfCsvReporter);
        r.add(samples::SamplesReporter::new(self.dir.clone()));
        r.add(perf_summary::PerfSummaryReporter::new(self.perf_summary.clone()));
        r.add(gpu_csv::GpuCsvReporter::new(self.gpu_csv.clone(), gpu_sampled));
        if let Some(path) = &self.metrics {
            r.add(openmetrics::OpenMetricsReporter::new(path.clone()));
        }
        r
    }
}
