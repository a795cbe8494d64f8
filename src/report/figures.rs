//! What the HTML and Markdown reports plot, gathered from the run view: figures per model,
//! a perf test's distributions, timeline and sweep, the GPU timelines, thresholds as numbers.

use super::svg::{self, Fmt};
use super::view::{GpuSample, Level, Perf, Run, Test, seconds_of};
use crate::record::Source;
use crate::suite::Comparison;
use crate::suite::metrics::{Figure, Metric, Stat};
use crate::suite::values::{format_seconds, trim_float};

/// One perf test's headline figures: the seed report's table (model, tokens/s mean, CoV,
/// TTFT p95), with e2e p95 and the request count.
#[derive(Debug, Clone)]
pub(crate) struct ModelRow {
    pub(crate) test: String,
    pub(crate) model: String,
    pub(crate) concurrency: u32,
    pub(crate) requests: usize,
    pub(crate) tokens_per_s: Option<f64>,
    pub(crate) cov: Option<f64>,
    pub(crate) ttft_p95: Option<f64>,
    pub(crate) e2e_p95: Option<f64>,
}

/// The headline row of every LLM perf test (its first level; a capacity search's capacity).
pub(crate) fn model_rows(run: &Run) -> Vec<ModelRow> {
    let mut rows = Vec::new();
    for (_, t) in run.tests() {
        let Some(p) = t.perf() else { continue };
        let capacity = p.levels.iter().find(|l| l.key() == crate::perf::result::LevelKey::Capacity);
        let (Some(model), Some(level)) = (p.model.clone(), capacity.or(p.levels.first())) else { continue };
        let tps = level.stats.get(&Metric::TokensPerS).or_else(|| level.stats.get(&Metric::ServerTokensPerS));
        rows.push(ModelRow {
            test: t.name.clone(),
            model,
            concurrency: level.concurrency,
            requests: level.requests,
            tokens_per_s: tps.map(|s| s.mean),
            cov: tps.map(|s| s.cov),
            ttft_p95: level.stats.get(&Metric::Ttft).map(|s| s.p95),
            e2e_p95: level.stats.get(&Metric::E2e).map(|s| s.p95),
        });
    }
    rows
}

/// Names for the rows in a chart: the model, or the test's name where a model has several rows.
pub(crate) fn row_labels(rows: &[ModelRow]) -> Vec<String> {
    rows.iter()
        .map(|r| {
            let twice = rows.iter().filter(|o| o.model == r.model).count() > 1;
            if twice { r.test.clone() } else { r.model.clone() }
        })
        .collect()
}

/// Per model, the mean TTFT and tokens/s of its single streamed answers (generate/chat tests).
pub(crate) fn answer_figures(run: &Run) -> Vec<(String, Option<f64>, Option<f64>)> {
    let mut by_model: Vec<(String, Vec<f64>, Vec<f64>)> = Vec::new();
    for (_, t) in run.tests() {
        let Some(l) = t.llm().filter(|l| l.stream && !l.model.is_empty()) else { continue };
        let i = match by_model.iter().position(|(m, _, _)| *m == l.model) {
            Some(i) => i,
            None => {
                by_model.push((l.model.clone(), Vec::new(), Vec::new()));
                by_model.len() - 1
            }
        };
        by_model[i].1.extend(l.ttft);
        by_model[i].2.extend(l.client_tokens_per_s);
    }
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    by_model.into_iter().map(|(m, ttft, tps)| (m, mean(&ttft), mean(&tps))).collect()
}

/// The thresholds a test set on a figure (`ttft.p95` → `< 2s` as seconds), from its verdicts.
pub(crate) fn thresholds(test: &Test, metric: Metric) -> Vec<(String, f64)> {
    test.assertions
        .iter()
        .filter_map(|a| {
            let Some(Source::Threshold(figure)) = a.key else { return None };
            let stat = figure.stat.filter(|s| !matches!(s, Stat::Count | Stat::Cov | Stat::Stddev))?;
            let c = Comparison::parse(a.expected.as_deref()?).ok()?;
            (figure.metric == metric)
                .then(|| (format!("{} {}", stat.name(), a.expected.as_deref().unwrap_or_default()), c.value))
        })
        .collect()
}

fn seconds(v: f64) -> String {
    format_seconds(v)
}

/// The charts of one perf test: distributions of TTFT, ITL and e2e (one curve per level),
/// e2e per request over time, and for a sweep throughput and latency against concurrency.
pub(crate) fn perf_charts(test: &Test, p: &Perf) -> Vec<String> {
    let mut out = Vec::new();
    let name = |l: &Level| l.label();
    for (metric, title, pick) in [
        (
            Metric::Ttft,
            "time to first token",
            (|s: &super::view::Sample| s.ttft.into_iter().collect()) as fn(&_) -> Vec<f64>,
        ),
        (Metric::Itl, "inter-token latency", |s| s.itl.clone()),
        (Metric::E2e, "end-to-end latency", |s| vec![s.e2e]),
    ] {
        let series: Vec<(String, Vec<f64>)> = p
            .levels
            .iter()
            .map(|l| (name(l), l.samples.iter().filter(|s| s.ok).flat_map(pick).collect::<Vec<f64>>()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        if series.is_empty() {
            continue;
        }
        let shown: usize = series.iter().map(|s| s.1.len()).sum();
        let title = format!("{title} ({metric}), distribution of {shown} values");
        out.push(svg::cdf(&title, &series, &seconds, &thresholds(test, metric)));
    }
    // Sized prompts and held answers: the lengths each request had, as a histogram.
    for (asked, title, pick) in [
        (
            p.input.is_some(),
            "prompt lengths (input_tokens)",
            (|s: &super::view::Sample| s.input_tokens) as fn(&_) -> Option<f64>,
        ),
        (p.output.is_some(), "answer lengths (output_tokens)", |s| s.output_tokens),
    ] {
        let values: Vec<f64> =
            p.levels.iter().flat_map(|l| l.samples.iter().filter(|s| s.ok).filter_map(pick)).collect();
        if asked && !values.is_empty() {
            let title = format!("{title}, {} requests", values.len());
            out.push(svg::bars(&title, &histogram(&values, 12), &|v| trim_float(v), None));
        }
    }
    // A soak: its figures window by window, so a drift shows as a slope.
    for l in p.levels.iter().filter(|l| l.windows.len() > 1) {
        let length = l.window.unwrap_or(1.0);
        let series: Vec<(String, Vec<(f64, f64)>)> =
            [(Metric::E2e, Stat::P50), (Metric::E2e, Stat::P95), (Metric::Ttft, Stat::P95)]
                .into_iter()
                .map(|(m, s)| {
                    let k = Figure::stat(m, s);
                    let pts = l
                        .windows
                        .iter()
                        .filter_map(|w| Some(((w.index as f64 + 0.5) * length, *w.figures.get(&k)?)))
                        .collect::<Vec<_>>();
                    (k.name(), pts)
                })
                .filter(|(_, pts)| !pts.is_empty())
                .collect();
        let title = format!("latency per {} window ({})", format_seconds(length), l.label());
        out.push(svg::lines(&title, &series, (&seconds, &seconds), "seconds since the level began", &[]));
    }
    if let Some(level) = p.levels.iter().max_by_key(|l| l.samples.len()).filter(|l| l.samples.len() > 1) {
        let points = level.timeline(|s| s.ok.then_some(s.e2e));
        let title = format!("e2e per request over time ({}, {} requests shown)", level.label(), points.len());
        out.push(svg::scatter(&title, &points, &seconds, &thresholds(test, Metric::E2e)));
    }
    if let Some(search) = &p.search {
        out.push(search_chart(search));
    } else if p.levels.iter().any(|l| l.stage.is_some()) {
        out.extend(stage_charts(p));
    } else if p.levels.len() > 1 {
        let marks: Vec<(f64, String)> = p
            .knee
            .iter()
            .filter_map(|k| k.saturates_at())
            .map(|at| (f64::from(at), format!("knee at c={at}")))
            .collect();
        let per_level = |figure: Figure| -> Vec<(f64, f64)> {
            p.levels
                .iter()
                .filter_map(|l| Some((f64::from(l.concurrency), *l.figures.get(&figure)?)))
                .collect()
        };
        let count: Fmt = &|v| trim_float(v);
        let throughput = Figure::of(if p.request == "http" {
            Metric::RequestThroughput
        } else {
            Metric::OutputTokenThroughput
        });
        out.push(svg::lines(
            &format!("{} against concurrency", throughput.name().replace('_', " ")),
            &[(throughput.name(), per_level(throughput))],
            (count, &|v| throughput.format(v)),
            "concurrency",
            &marks,
        ));
        let p95 = |m: Metric| per_level(Figure::stat(m, Stat::P95));
        out.push(svg::lines(
            "latency against concurrency",
            &[("e2e p95".into(), p95(Metric::E2e)), ("ttft p95".into(), p95(Metric::Ttft))],
            (count, &seconds),
            "concurrency",
            &marks,
        ));
    }
    out
}

/// A capacity search's path: each probe's attainment against the load it probed.
fn search_chart(s: &crate::perf::search::SearchResult) -> String {
    let probes: Vec<svg::ProbePoint> = s
        .probes
        .iter()
        .map(|p| svg::ProbePoint {
            value: p.value,
            attainment: p.attainment,
            low: p.low,
            high: p.high,
            met: p.verdict.met(),
        })
        .collect();
    let show = |v: f64| s.show(v);
    let title = format!("capacity search: slo_attainment of each probe, {} in order", probes.len());
    let axis = if s.by_rate { "requests per second asked" } else { "concurrency" };
    let capacity = s.capacity.map(|c| (c, format!("capacity {}", s.show(c))));
    svg::search_path(&title, &probes, (&show, axis), s.target, capacity)
}

/// A ramp: throughput and goodput, and latency, stage by stage.
fn stage_charts(p: &Perf) -> Vec<String> {
    let per_stage = |figure: Figure| -> Vec<(f64, f64)> {
        p.levels.iter().filter_map(|l| Some((f64::from(l.stage?.index), *l.figures.get(&figure)?))).collect()
    };
    // Stages are whole numbers: the ticks between them are left unlabelled.
    let stage: Fmt = &|v| if (v - v.round()).abs() < 1e-9 { format!("{}", v.round()) } else { String::new() };
    let rate: Fmt = &|v| format!("{}/s", trim_float(v));
    let series: Vec<(String, Vec<(f64, f64)>)> = [Metric::RequestThroughput, Metric::Goodput]
        .into_iter()
        .map(|m| (Figure::of(m).name(), per_stage(Figure::of(m))))
        .filter(|(_, pts)| !pts.is_empty())
        .collect();
    let p95 = |m: Metric| per_stage(Figure::stat(m, Stat::P95));
    vec![
        svg::lines("requests per second, stage by stage", &series, (stage, rate), "stage", &[]),
        svg::lines(
            "latency, stage by stage",
            &[("e2e p95".into(), p95(Metric::E2e)), ("ttft p95".into(), p95(Metric::Ttft))],
            (stage, &seconds),
            "stage",
            &[],
        ),
    ]
}

/// Whole-number values in at most `bins` equal bins: (`lo–hi`, how many), a single value as
/// one bin.
fn histogram(values: &[f64], bins: usize) -> Vec<(String, f64)> {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min).floor();
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max).floor();
    let span = hi - lo + 1.0;
    let width = (span / bins as f64).ceil().max(1.0);
    let n = (span / width).ceil() as usize;
    let last = n.max(1) - 1;
    let mut counts = vec![0usize; last + 1];
    for v in values {
        counts[(((v.floor() - lo) / width) as usize).min(last)] += 1;
    }
    counts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let from = lo + i as f64 * width;
            let to = from + width - 1.0;
            let label = if width <= 1.0 {
                trim_float(from)
            } else {
                format!("{}–{}", trim_float(from), trim_float(to))
            };
            (label, *c as f64)
        })
        .collect()
}

/// GPU timelines (utilization, memory, power, temperature), one curve per GPU, with a mark
/// where each test began.
pub(crate) fn gpu_charts(samples: &[GpuSample]) -> Vec<String> {
    let times: Vec<Option<f64>> = samples.iter().map(|s| seconds_of(&s.timestamp)).collect();
    let Some(start) = times.iter().flatten().copied().reduce(f64::min) else { return Vec::new() };
    // A GPU is its machine's: several endpoints (a fleet) or merged runs each have a GPU 0.
    let mut gpus: Vec<(Option<&str>, u32)> = samples.iter().map(|s| (s.host.as_deref(), s.gpu)).collect();
    gpus.sort_unstable();
    gpus.dedup();
    let mut marks: Vec<(f64, String)> = Vec::new();
    let mut last: Option<&str> = None;
    for (s, t) in samples.iter().zip(&times) {
        if let (Some(test), Some(t)) = (s.test.as_deref(), t)
            && last != Some(test)
        {
            marks.push((t - start, test.to_string()));
            last = Some(test);
        }
    }
    let secs: Fmt = &|v| format!("{}s", trim_float(v));
    let chart = |title: &str, pick: &dyn Fn(&GpuSample) -> Option<f64>, fy: Fmt| {
        let series: Vec<(String, Vec<(f64, f64)>)> = gpus
            .iter()
            .map(|&(host, g)| {
                let mine = |s: &&GpuSample| s.gpu == g && s.host.as_deref() == host;
                let pts = samples
                    .iter()
                    .zip(&times)
                    .filter(|(s, _)| mine(s))
                    .filter_map(|(s, t)| Some((t.as_ref()? - start, pick(s)?)))
                    .collect();
                let name = samples.iter().find(mine).map_or(String::new(), |s| s.name.clone());
                let on = host.map(|h| format!("{h}: ")).unwrap_or_default();
                (format!("{on}GPU {g} {name}"), pts)
            })
            .filter(|(_, p): &(String, Vec<(f64, f64)>)| !p.is_empty())
            .collect();
        (!series.is_empty())
            .then(|| svg::lines(title, &series, (secs, fy), "seconds since the first sample", &marks))
    };
    [
        chart("GPU utilization", &|s| s.util_pct, &|v| format!("{}%", trim_float(v))),
        chart("GPU memory used", &|s| Some(s.mem_used as f64), &|v| crate::suite::values::format_bytes(v)),
        chart("GPU power", &|s| s.power_w, &|v| format!("{}W", trim_float(v))),
        chart("GPU temperature", &|s| s.temp_c, &|v| format!("{}°C", trim_float(v))),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Every GPU sample of the run: the run-wide ones, else those taken during perf levels.
pub(crate) fn gpu_samples(run: &Run) -> Vec<GpuSample> {
    if !run.gpu_samples.is_empty() {
        return run.gpu_samples.clone();
    }
    run.tests()
        .filter_map(|(_, t)| t.perf())
        .flat_map(|p| p.levels.into_iter().flat_map(|l| l.gpu_samples))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_counts_every_value_once_in_equal_bins() {
        let values: Vec<f64> = (0..100).map(|i| f64::from(64 + i * 3)).collect();
        let h = histogram(&values, 12);
        assert!(h.len() <= 12, "{h:?}");
        assert_eq!(h.iter().map(|(_, c)| *c).sum::<f64>(), 100.0);
        assert_eq!(h[0].0, "64–88");
        assert_eq!(histogram(&[128.0; 5], 12), vec![("128".to_string(), 5.0)]);
    }
    use serde_json::json;

    fn run() -> Run {
        Run::from_value(json!({ "suites": [{ "name": "s", "tests": [
            { "name": "perf phi3", "status": "passed", "step": "perf",
              "assertions": [
                { "what": "threshold ttft.p95", "passed": true, "key": "thresholds.ttft.p95", "expected": "< 2s", "actual": "50ms" },
                { "what": "threshold tokens_per_s.cov", "passed": true, "key": "thresholds.tokens_per_s.cov", "expected": "< 20", "actual": "2" }
              ],
              "observation": { "kind": "perf", "model": "phi3", "request": "generate", "levels": [
                { "concurrency": 1, "requests": 3, "errors": 0,
                  "stats": { "tokens_per_s": { "count": 3, "mean": 120.0, "cov": 2.5, "p50": 120.0, "p95": 121.0, "p99": 121.0 },
                             "ttft": { "count": 3, "mean": 0.05, "p50": 0.05, "p95": 0.06, "p99": 0.06 } },
                  "samples": [
                    { "started_at": "2026-01-01T00:00:00Z", "ok": true, "e2e": 0.2, "ttft": 0.05, "itl": [0.01] },
                    { "started_at": "2026-01-01T00:00:01Z", "ok": true, "e2e": 0.3, "ttft": 0.06, "itl": [0.02] }
                  ] } ] } },
            { "name": "answer", "status": "passed", "step": "generate",
              "observation": { "kind": "llm", "model": "phi3", "stream": true, "ttft": 0.04, "client_tokens_per_s": 100.0 } }
        ] }] }))
        .unwrap()
    }

    #[test]
    fn the_seed_table_comes_from_each_perf_tests_first_level() {
        let rows = model_rows(&run());
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(
            (r.model.as_str(), r.tokens_per_s, r.cov, r.ttft_p95),
            ("phi3", Some(120.0), Some(2.5), Some(0.06))
        );
        assert_eq!(answer_figures(&run()), vec![("phi3".to_string(), Some(0.04), Some(100.0))]);
    }

    #[test]
    fn gpu_timelines_have_a_curve_per_gpu_and_a_mark_where_each_test_began() {
        let sample = |t: &str, gpu: u32, test: &str, util: f64| GpuSample {
            timestamp: format!("2026-01-01T00:00:{t}Z"),
            gpu,
            name: "H200".into(),
            util_pct: Some(util),
            mem_used: 1 << 30,
            power_w: None,
            temp_c: Some(50.0),
            test: Some(test.into()),
            host: None,
        };
        let samples = vec![
            sample("00", 0, "warm", 10.0),
            sample("00", 1, "warm", 20.0),
            sample("02", 0, "perf", 90.0),
            sample("02", 1, "perf", 95.0),
        ];
        let charts = gpu_charts(&samples);
        assert_eq!(charts.len(), 3, "utilization, memory, temperature; no power readings, no power chart");
        assert_eq!(charts[0].matches("<polyline").count(), 2, "one curve per GPU");
        assert!(charts[0].contains(">warm<") && charts[0].contains(">perf<"), "test marks: {}", charts[0]);
        assert!(gpu_charts(&[]).is_empty());
        // Two machines' GPU 0 (a fleet's endpoints, merged runs) are two curves, named by host.
        let mut fleet = samples.clone();
        fleet.iter_mut().filter(|s| s.gpu == 1).for_each(|s| {
            s.gpu = 0;
            s.host = Some("llm-02".into());
        });
        let chart = &gpu_charts(&fleet)[0];
        assert_eq!(chart.matches("<polyline").count(), 2, "{chart}");
        assert!(chart.contains("llm-02: GPU 0 H200"), "{chart}");
    }

    #[test]
    fn thresholds_become_numbers_on_their_metric_only() {
        let run = run();
        let (_, t) = run.tests().next().unwrap();
        assert_eq!(thresholds(t, Metric::Ttft), vec![("p95 < 2s".to_string(), 2.0)]);
        assert!(thresholds(t, Metric::TokensPerS).is_empty(), "a cov bound is not drawn on the values");
        let charts = perf_charts(t, &t.perf().unwrap());
        assert_eq!(charts.len(), 4, "ttft, itl, e2e distributions and the timeline");
        assert!(charts[0].contains("p95 &lt; 2s"), "the threshold is drawn on the ttft chart");
    }
}
