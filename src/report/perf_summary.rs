//! `perf-summary.csv`: one row per perf test and concurrency level, every statistic of every
//! metric (durations in ms), for spreadsheets and trend tools.

use super::{Event, Output, Reporter};
use crate::record::Observation;
use crate::spec::perf::{GPU_FIGURES, PERF_METRICS, STATISTICS, is_duration_figure};
use std::path::PathBuf;

pub struct PerfSummaryReporter {
    path: PathBuf,
}

impl PerfSummaryReporter {
    pub fn new(path: PathBuf) -> Self {
        PerfSummaryReporter { path }
    }
}

fn column(metric: &str, stat: &str) -> (String, f64) {
    match (is_duration_figure(&format!("{metric}.{stat}")), stat) {
        (_, "count") => (format!("{metric}_{stat}"), 1.0),
        (_, "cov") => (format!("{metric}_cov_pct"), 1.0),
        (true, _) => (format!("{metric}_{stat}_ms"), 1000.0),
        (false, _) => (format!("{metric}_{stat}"), 1.0),
    }
}

impl Reporter for PerfSummaryReporter {
    fn handle(&mut self, event: &Event, out: &Output) -> Result<(), String> {
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
        let mut header: Vec<String> = [
            "timestamp",
            "suite",
            "test",
            "model",
            "concurrency",
            "requests",
            "errors",
            "error_rate_pct",
            "request_throughput",
            "output_token_throughput",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut keys = Vec::new();
        for (m, _, _) in PERF_METRICS {
            for s in STATISTICS {
                let (name, scale) = column(m, s);
                header.push(name);
                keys.push((format!("{m}.{s}"), scale));
            }
        }
        header.extend(GPU_FIGURES.iter().map(|(k, _, _)| k.replace('.', "_")));
        header.push("model_vram".to_string());
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&header).map_err(|e| e.to_string())?;
        for (t, p) in perf {
            for l in &p.levels {
                let f = |k: &str| l.figures.get(k).map(|v| format!("{v:.4}")).unwrap_or_default();
                let mut row = vec![
                    t.started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    t.suite.clone(),
                    t.name.clone(),
                    p.model.clone().unwrap_or_default(),
                    l.concurrency.to_string(),
                    l.requests.to_string(),
                    l.errors.to_string(),
                    f("error_rate"),
                    f("request_throughput"),
                    f("output_token_throughput"),
                ];
                for (key, scale) in &keys {
                    row.push(l.figures.get(key).map(|v| format!("{:.4}", v * scale)).unwrap_or_default());
                }
                for (key, _, _) in GPU_FIGURES {
                    row.push(l.figures.get(*key).map(|v| format!("{v:.4}")).unwrap_or_default());
                }
                row.push(f("model_vram"));
                w.write_record(&row).map_err(|e| e.to_string())?;
            }
        }
        let bytes = w.into_inner().map_err(|e| e.to_string())?;
        out.write_file(&self.path, &String::from_utf8_lossy(&bytes))
    }
}
