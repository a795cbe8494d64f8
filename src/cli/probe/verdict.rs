//! What a probe concludes, per model and for the server, from its run's results — sentences a
//! person can act on — and the figures the written suite keeps.

use super::suite::{self, Measured, Subject};
use crate::record::{Observation, RunRecord, Status, TestResult, Verdict};
use crate::suite::metrics::{Figure, Figures, Metric, Stat};
use std::collections::BTreeMap;

/// The answer the exact-answer prompt asks for.
const ASKED: &str = "HX-OK";

/// A run's results by test name.
struct Results<'a>(BTreeMap<&'a str, &'a TestResult>);

impl<'a> Results<'a> {
    fn of(record: &'a RunRecord) -> Self {
        Results(record.suites.iter().flat_map(|s| &s.tests).map(|t| (t.name.as_str(), t)).collect())
    }

    fn get(&self, name: &str) -> Option<&'a TestResult> {
        self.0.get(name).copied()
    }

    /// The answer text of a passed LLM test.
    fn answer(&self, name: &str) -> Option<&'a str> {
        match self.get(name)? {
            TestResult { status: Status::Passed, observation: Some(Observation::Llm(o)), .. } => {
                Some(o.text.trim())
            }
            _ => None,
        }
    }

    /// Figures of a perf test's first level.
    fn figures(&self, name: &str) -> Option<&'a Figures> {
        match self.get(name)?.observation.as_ref()? {
            Observation::Perf(p) => p.levels.first().map(|l| &l.figures),
            _ => None,
        }
    }
}

/// The first line of why a test failed, when it did.
fn failure(t: Option<&TestResult>) -> Option<String> {
    let t = t.filter(|t| t.status == Status::Failed)?;
    let message = t.message.as_deref().unwrap_or("failed");
    Some(crate::record::excerpt(message.lines().next().unwrap_or(message), 300))
}

/// A duration for people: `46.2 ms`, `1.34 s`.
fn seconds(s: f64) -> String {
    if s < 1.0 { format!("{:.1} ms", s * 1000.0) } else { format!("{s:.2} s") }
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", crate::record::excerpt(s, 80))
}

/// Figures to keep in the written suite, per model.
pub(super) fn measured(record: &RunRecord, subject: &Subject) -> BTreeMap<String, Measured> {
    let r = Results::of(record);
    subject
        .models
        .iter()
        .map(|model| {
            let whole = r.answer(&suite::whole(model));
            let same = whole.is_some()
                && whole == r.answer(&suite::streamed(model))
                && r.get(&suite::repeated(model)).is_some_and(|t| t.status == Status::Passed);
            // An answer that would read as a placeholder or a variable, or runs long, is not kept.
            let answer = whole
                .filter(|a| same && !a.is_empty() && a.len() <= 500 && !a.contains("{{") && !a.contains('\n'))
                .map(str::to_string);
            let f = r.figures(&suite::baseline(model));
            let get = |m: Metric, s: Stat| f.and_then(|f| f.get(&Figure::stat(m, s))).copied();
            let context_length = match r.get(&suite::placement(model)).and_then(|t| t.observation.as_ref()) {
                Some(Observation::Models(o)) => {
                    o.loaded.iter().flatten().find(|l| &l.name == model).and_then(|l| l.context_length)
                }
                _ => None,
            };
            let m = Measured {
                answer,
                tokens_per_s: get(Metric::TokensPerS, Stat::Mean),
                ttft_p95: get(Metric::Ttft, Stat::P95),
                tokens_per_s_cov: get(Metric::TokensPerS, Stat::Cov),
                context_length,
            };
            (model.clone(), m)
        })
        .collect()
}

/// One verdict per model, then the server's.
pub(super) fn verdicts(record: &RunRecord, subject: &Subject) -> Vec<Verdict> {
    let r = Results::of(record);
    let mut out: Vec<Verdict> = subject.models.iter().map(|m| model(&r, m)).collect();
    out.push(server(&r, record, subject));
    out
}

fn model(r: &Results, model: &str) -> Verdict {
    let mut bad = Vec::new();
    let mut good = Vec::new();
    // Answers: whole, streamed, repeated.
    for name in [suite::whole(model), suite::streamed(model)] {
        if let Some(why) = failure(r.get(&name)) {
            bad.push(format!("{}: {why}", name.trim_start_matches(&format!("{model}: "))));
        }
    }
    match (r.answer(&suite::whole(model)), r.answer(&suite::streamed(model))) {
        (Some(w), Some(s)) if w != s => bad.push(format!(
            "streamed and whole answers differ at temperature 0: {} and {}",
            quoted(s),
            quoted(w)
        )),
        (Some(w), Some(_)) if w == ASKED => {
            good.push(format!("answers {} exactly as asked, whole and streamed", quoted(ASKED)))
        }
        (Some(w), Some(_)) => good.push(format!(
            "answers {} to \"{}\" (not the text asked for, the same whole and streamed)",
            quoted(w),
            suite::EXACT_PROMPT
        )),
        _ => {}
    }
    if failure(r.get(&suite::repeated(model))).is_some() {
        bad.push("answers differ across repeats at temperature 0 (same prompt, same seed)".into());
    }
    if let Some(why) = failure(r.get(&suite::agreement(model))) {
        bad.push(format!("its own figures disagree with hxrun's: {why}"));
    }
    placement(r, model, &mut good, &mut bad);
    if let Some(f) = r.figures(&suite::baseline(model)) {
        let get = |m: Metric, s: Stat| f.get(&Figure::stat(m, s));
        let mut speed = Vec::new();
        speed.extend(get(Metric::TokensPerS, Stat::Mean).map(|v| format!("{v:.1} tokens/s")));
        if let (Some(p50), Some(p95)) = (get(Metric::Ttft, Stat::P50), get(Metric::Ttft, Stat::P95)) {
            speed.push(format!("TTFT p50 {} (p95 {})", seconds(*p50), seconds(*p95)));
        }
        if let Some(cov) = get(Metric::TokensPerS, Stat::Cov) {
            speed.push(format!("speed varies {cov:.1}% (CoV)"));
        }
        if !speed.is_empty() {
            good.push(speed.join(", "));
        }
    }
    if let Some(why) = failure(r.get(&suite::baseline(model))) {
        bad.push(format!("baseline: {why}"));
    }
    verdict(model, good, bad)
}

/// Ollama's `/api/ps`: in memory, where, and with what context.
fn placement(r: &Results, model: &str, good: &mut Vec<String>, bad: &mut Vec<String>) {
    let Some(t) = r.get(&suite::placement(model)) else { return };
    let loaded = match &t.observation {
        Some(Observation::Models(o)) => o.loaded.iter().flatten().find(|l| l.name == model),
        _ => None,
    };
    match loaded {
        Some(l) if l.size_vram < l.size && l.size > 0 => {
            let cpu = (l.size - l.size_vram) as f64 / l.size as f64 * 100.0;
            bad.push(format!(
                "{cpu:.0}% of it in CPU memory ({} of {} in GPU memory) — slow",
                Metric::ModelVram.format(l.size_vram as f64),
                Metric::ModelVram.format(l.size as f64)
            ));
        }
        Some(l) => good.push(format!(
            "fully on the GPU{}",
            l.context_length.map(|c| format!(", context {c} tokens")).unwrap_or_default()
        )),
        None => {}
    }
    if t.status == Status::Failed && loaded.is_none_or(|l| l.size_vram >= l.size) {
        bad.push(format!("in memory: {}", failure(Some(t)).unwrap_or_default()));
    }
}

fn server(r: &Results, record: &RunRecord, s: &Subject) -> Verdict {
    let d = s.detected;
    let mut good = vec![format!(
        "{}{} (how hxrun knew: {})",
        d.kind.name(),
        d.version.as_ref().map(|v| format!(" {v}")).unwrap_or_default(),
        d.evidence.join("; ")
    )];
    let mut bad = Vec::new();
    let sweep = r.get(suite::SWEEP);
    if let Some(Observation::Perf(p)) = sweep.and_then(|t| t.observation.as_ref()) {
        match (&p.knee, p.knee.as_ref().and_then(|k| k.saturates_at())) {
            (Some(k), Some(at)) => good.push(format!("it serves about {at} in parallel: {}", k.describe())),
            (Some(k), None) => good.push(k.describe()),
            (None, _) => {
                let top = p.levels.iter().map(|l| l.concurrency).max().unwrap_or(1);
                good.push(format!(
                    "throughput still rose at {top} requests at once: no limit found up to there"
                ));
            }
        }
    }
    if let Some(slots) = d.slots {
        let knee = match sweep.and_then(|t| t.observation.as_ref()) {
            Some(Observation::Perf(p)) => p.knee.as_ref().and_then(|k| k.saturates_at()).map(u64::from),
            _ => None,
        };
        good.push(match knee {
            Some(k) if k < slots => format!(
                "it says it has {slots} parallel slots, but more than {k} at once is not faster: the slots share what computes (a CPU-bound or batch-limited server)"
            ),
            _ => format!("it says it has {slots} parallel slot{}", if slots == 1 { "" } else { "s" }),
        });
    }
    if let Some(c) = d.context_length {
        good.push(format!("context {c} tokens"));
    }
    if let Some(n) = s.gpus {
        let plural = if n == 1 { "" } else { "s" };
        good.push(match s.gpu_metrics {
            Some(_) => format!("{n} NVIDIA GPU{plural} on the server's machine (its metrics endpoint)"),
            None => format!("{n} NVIDIA GPU{plural} on the machine hxrun ran on"),
        });
    }
    if let Some(why) = failure(sweep) {
        bad.push(format!("under concurrent requests: {why}"));
    }
    let per_model: Vec<String> = s.models.iter().map(|m| format!("{m}: ")).collect();
    for t in record.suites.iter().flat_map(|s| &s.tests) {
        let about_a_model =
            per_model.iter().any(|p| t.name.starts_with(p.as_str())) || t.name == suite::SWEEP;
        if !about_a_model && let Some(why) = failure(Some(t)) {
            bad.push(format!("{}: {why}", t.name));
        }
    }
    verdict(&format!("server {}", s.url), good, bad)
}

fn verdict(subject: &str, good: Vec<String>, bad: Vec<String>) -> Verdict {
    let ok = bad.is_empty();
    Verdict { subject: subject.to_string(), ok, findings: bad.into_iter().chain(good).collect() }
}
