//! `perf-summary.csv`: one row per perf test and level (a concurrency, a ramp's stage, a
//! capacity search's probe), every statistic of every metric (durations in ms), for
//! spreadsheets and trend tools. Written whole each run, so its columns may grow.

use super::text::csv_text;
use super::{Event, Output, Reporter};
use crate::record::Observation;
use crate::suite::metrics::{Figure, GPU, Metric, PER_REQUEST, Stat, Unit};
use std::path::PathBuf;

pub(crate) struct PerfSummaryReporter {
    path: PathBuf,
}

impl PerfSummaryReporter {
    pub(crate) fn new(path: PathBuf) -> Self {
        PerfSummaryReporter { path }
    }
}

/// A figure's column name and scale: durations in ms, percentages marked.
fn column(f: &Figure) -> (String, f64) {
    let name = f.name().replace('.', "_");
    match f.unit() {
        Unit::Seconds => (format!("{name}_ms"), 1000.0),
        Unit::Percent => (format!("{name}_pct"), 1.0),
        _ => (name, 1.0),
    }
}

impl Reporter for PerfSummaryReporter {
    fn handle(&mut self, event: &Event, out: &Output) -> Result<(), super::ReportError> {
        let Event::RunFinished { record } = event else { return Ok(()) };
        let perf: Vec<_> = record
            .suites
            .iter()
            .flat_map(|s| &s.tests)
            .filter_map(|t| match &t.observation {
                Some(Observation::Perf(p)) => Some((t, p)),
                _ => None,
            })
            .collect();
        if perf.is_empty() {
            return Ok(());
        }
        use Metric::{
            CapacityConcurrency, CapacityRate, ErrorRate, Errors, Goodput, ModelVram, OutputTokenThroughput,
            RequestThroughput, Requests, ShortOutputs, SloAttainment,
        };
        let mut header: Vec<String> = ["timestamp", "suite", "test", "model", "concurrency", "level"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let level_columns = [
            Requests,
            Errors,
            ErrorRate,
            RequestThroughput,
            OutputTokenThroughput,
            Goodput,
            SloAttainment,
            ShortOutputs,
            CapacityRate,
            CapacityConcurrency,
        ];
        header.extend(level_columns.map(|m| column(&Figure::of(m)).0));
        let mut keys = Vec::new();
        for metric in PER_REQUEST {
            for s in Stat::ALL {
                let figure = Figure::stat(*metric, s);
                let (name, scale) = column(&figure);
                header.push(name);
                keys.push((figure, scale));
            }
        }
        // GPU columns carry their figure's name only (`gpu_util_mean`), as they always have.
        header.extend(GPU.iter().map(|m| m.name().replace('.', "_")));
        header.push(column(&Figure::of(ModelVram)).0);
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&header).map_err(|e| super::ReportError::render("a CSV row")(&e))?;
        for (t, p) in perf {
            for l in &p.levels {
                let f =
                    |m: Metric| l.figures.get(&Figure::of(m)).map(|v| format!("{v:.4}")).unwrap_or_default();
                let mut row = vec![
                    t.started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    csv_text(&t.suite),
                    csv_text(&t.name),
                    csv_text(p.model.as_deref().unwrap_or_default()),
                    l.concurrency.to_string(),
                    csv_text(&l.label()),
                    l.requests.to_string(),
                    l.errors.to_string(),
                ];
                row.extend(level_columns[2..].iter().map(|m| f(*m)));
                for (key, scale) in &keys {
                    row.push(l.figures.get(key).map(|v| format!("{:.4}", v * scale)).unwrap_or_default());
                }
                for m in GPU {
                    row.push(f(*m));
                }
                row.push(f(ModelVram));
                w.write_record(&row).map_err(|e| super::ReportError::render("a CSV row")(&e))?;
            }
        }
        let bytes = w.into_inner().map_err(|e| super::ReportError::render("a CSV row")(&e))?;
        out.write_file(&self.path, &String::from_utf8_lossy(&bytes))
    }
}
