//! `gpu.csv` in the report directory: every GPU sample, with the test it was taken during, in
//! the GPU monitor's columns (the same as `hxrun monitor --csv`), appended safely.

use super::text::csv_cell as cell;
use super::{Event, Output, Reporter};
use crate::gpu::GpuSample;
use crate::record::Observation;
use std::path::PathBuf;

/// The columns, in order.
pub(crate) const COLUMNS: [&str; 11] = [
    "timestamp",
    "gpu",
    "name",
    "util_pct",
    "mem_used_mib",
    "mem_total_mib",
    "power_w",
    "temp_c",
    "sm_clock_mhz",
    "throttle",
    "test",
];

pub(crate) fn header() -> String {
    COLUMNS.join(",")
}

/// One CSV line per sample.
pub(crate) fn rows(samples: &[GpuSample]) -> String {
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_default();
    let mut out = String::new();
    for s in samples {
        let line = [
            s.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            s.gpu.to_string(),
            cell(&s.name),
            opt(s.util_pct),
            (s.mem_used / 1048576).to_string(),
            (s.mem_total / 1048576).to_string(),
            opt(s.power_w),
            opt(s.temp_c),
            s.sm_clock_mhz.map(|c| c.to_string()).unwrap_or_default(),
            s.throttle.join("|"),
            cell(s.test.as_deref().unwrap_or("")),
        ]
        .join(",");
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Writes perf steps' samples as they finish, or — with `--gpu-sample` — the whole run's.
pub(crate) struct GpuCsvReporter {
    path: PathBuf,
    whole_run: bool,
}

impl GpuCsvReporter {
    pub(crate) fn new(path: PathBuf, whole_run: bool) -> Self {
        GpuCsvReporter { path, whole_run }
    }
}

impl Reporter for GpuCsvReporter {
    fn handle(&mut self, event: &Event, out: &Output) -> Result<(), super::ReportError> {
        let samples: Vec<GpuSample> = match event {
            Event::TestFinished { result } if !self.whole_run => match &result.observation {
                Some(Observation::Perf(p)) => {
                    p.levels.iter().flat_map(|l| l.gpu_samples.iter().cloned()).collect()
                }
                _ => return Ok(()),
            },
            Event::RunFinished { record } if self.whole_run => record.gpu_samples.clone(),
            _ => return Ok(()),
        };
        if samples.is_empty() {
            return Ok(());
        }
        out.append(&self.path, &[&header()], &mut |row, _| rows(&samples).lines().try_for_each(&mut *row))
    }
}
