//! The per-request perf CSV the team already trends on, appended to safely.
//!
//! The first nine columns are exactly the seed's baseline.sh columns, in order (server
//! figures, ms from ns); hxrun's own columns follow. Appends are safe (`append.rs`).

use super::text::csv_cell as cell;
use super::{Event, Output, Reporter};
use crate::perf::result::{PerfObservation, Sample};
use crate::record::Observation;

/// The seed's columns, first and in this order.
pub(crate) const SEED_COLUMNS: [&str; 9] = [
    "timestamp",
    "model",
    "iter",
    "total_duration_ms",
    "prompt_tokens",
    "prompt_eval_ms",
    "gen_tokens",
    "gen_eval_ms",
    "tokens_per_s",
];

/// hxrun's columns after them.
pub(crate) const EXTRA_COLUMNS: [&str; 8] =
    ["ttft_ms", "e2e_ms", "client_tokens_per_s", "concurrency", "target", "test", "status", "error"];

pub(crate) fn header() -> String {
    SEED_COLUMNS.iter().chain(EXTRA_COLUMNS.iter()).copied().collect::<Vec<_>>().join(",")
}

/// Appends each perf test's rows to the file its plan names (`PlannedTest::perf_csv`).
pub(crate) struct PerfCsvReporter;

impl Reporter for PerfCsvReporter {
    fn handle(&mut self, event: &Event, out: &Output) -> Result<(), crate::report::ReportError> {
        let Event::TestFinished { result } = event else { return Ok(()) };
        let Some(Observation::Perf(p)) = &result.observation else { return Ok(()) };
        let Some(path) = &p.csv else { return Ok(()) };
        // A file the team started with the seed's nine columns goes on with rows of nine.
        let seed = SEED_COLUMNS.join(",");
        out.append(path, &[&header(), &seed], &mut |write, which| {
            p.levels.iter().flat_map(|l| l.each_sample()).try_for_each(|s| {
                let cells = row(p, &result.name, &s);
                let n = if which == 1 { SEED_COLUMNS.len() } else { cells.len() };
                write(&cells[..n].join(","))
            })
        })
    }
}

fn ms(ns: Option<u64>) -> String {
    ns.map(|n| format!("{:.2}", n as f64 / 1e6)).unwrap_or_default()
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map(|x| format!("{x:.decimals$}")).unwrap_or_default()
}

/// One request's cells, in the header's order.
fn row(p: &PerfObservation, test: &str, s: &Sample) -> [String; SEED_COLUMNS.len() + EXTRA_COLUMNS.len()] {
    let f = &s.server;
    [
        s.started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        cell(p.model.as_deref().unwrap_or("")),
        s.iter.to_string(),
        ms(f.total_duration_ns),
        f.prompt_eval_count.or(f.prompt_tokens).map(|n| n.to_string()).unwrap_or_default(),
        ms(f.prompt_eval_duration_ns),
        f.eval_count.or(f.completion_tokens).map(|n| n.to_string()).unwrap_or_default(),
        ms(f.eval_duration_ns),
        num(f.tokens_per_s(), 2),
        num(s.ttft.map(|t| t * 1000.0), 2),
        format!("{:.2}", s.e2e * 1000.0),
        num(s.tokens_per_s, 2),
        s.concurrency.to_string(),
        cell(&p.target),
        cell(test),
        if s.ok { "ok" } else { "error" }.to_string(),
        cell(s.error.as_deref().unwrap_or("")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_starts_with_the_seed_columns() {
        assert!(header().starts_with(
            "timestamp,model,iter,total_duration_ms,prompt_tokens,prompt_eval_ms,gen_tokens,gen_eval_ms,tokens_per_s,"
        ));
    }

    fn append(path: &std::path::Path, rows: &str) -> Result<(), crate::report::ReportError> {
        crate::report::append::append(path, &header(), rows)
    }

    #[test]
    fn appends_once_headed_and_refuses_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("perf/baseline.csv");
        append(&path, "a\n").unwrap();
        append(&path, "b\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{}\na\nb\n", header()));
        let foreign = dir.path().join("other.csv");
        std::fs::write(&foreign, "timestamp,model,iter\n1,2,3\n").unwrap();
        let err = append(&foreign, "c\n").unwrap_err();
        assert!(
            matches!(&err, crate::report::ReportError::ForeignHeader { found, .. } if found == "timestamp,model,iter")
        );
        assert!(err.to_string().contains("refusing to append"), "{err}");
        assert_eq!(std::fs::read_to_string(&foreign).unwrap(), "timestamp,model,iter\n1,2,3\n");
    }
}
