//! The suite a probe runs, written as YAML a person reads: the same text is run to measure
//! (checks without figures) and, with what was measured, written for the user to own
//! (`--write`): exact answers, floors and ceilings with margins, comments saying why.

pub(super) use super::depth::Depth;
use crate::protocol::detect::{Detected, ServerKind};
use crate::suite::{Api, emit};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The prompt whose answer is compared exactly (the seed's inference check).
pub(super) const EXACT_PROMPT: &str = "Return exactly the text: HX-OK";
/// The prompt of the timing checks: a free sentence, long enough for a rate.
const PERF_PROMPT: &str = "Write one sentence about GPUs.";
/// Client tokens/s floor in the written suite: this share of the mean measured — room for the
/// client's machine to be twice as loaded when the suite runs as when the probe measured (the
/// client's own reading of a stream slows with it; 80% went red against an unchanged server) ...
pub(super) const FLOOR: f64 = 0.5;
/// ... times the requests' spread (1 − 3 × CoV: a server whose speed varied that much between
/// requests varies as much between runs), never below this share of the mean.
pub(super) const FLOOR_MIN: f64 = 0.25;

/// The share of the measured mean tokens/s the written suite requires.
pub(super) fn floor_share(cov_pct: Option<f64>) -> f64 {
    let spread = cov_pct.map_or(1.0, |c| (1.0 - 3.0 * c / 100.0).clamp(0.5, 1.0));
    (FLOOR * spread).max(FLOOR_MIN)
}
/// TTFT p95 ceiling: this multiple of the p95 measured (a client twice as loaded) ...
pub(super) const CEILING: f64 = 2.0;
/// ... and at least this much above it (scheduling noise on a busy client: 191 ms were seen
/// against a server whose TTFT is 10 ms).
pub(super) const CEILING_MIN_S: f64 = 0.25;

/// What the suite is about.
pub(super) struct Subject<'a> {
    pub(super) url: &'a str,
    pub(super) detected: &'a Detected,
    pub(super) models: &'a [String],
    pub(super) depth: Depth,
    /// The GPUs answer (NVML on this machine, or `gpu_metrics`): they are checked too.
    pub(super) gpus: Option<usize>,
    /// `--gpu-source`: the server's GPUs are read from this metrics endpoint.
    pub(super) gpu_metrics: Option<&'a str>,
    pub(super) api_key: bool,
    /// How the probe reached an https:// server (kept in the written suite).
    pub(super) tls: &'a crate::suite::Tls,
}

/// What the probe measured of one model, for the written suite.
#[derive(Debug, Clone, Default)]
pub(super) struct Measured {
    /// Its answer to `EXACT_PROMPT`, when it gave the same one every time in both modes.
    pub(super) answer: Option<String>,
    pub(super) tokens_per_s: Option<f64>,
    pub(super) ttft_p95: Option<f64>,
    pub(super) tokens_per_s_cov: Option<f64>,
    pub(super) context_length: Option<u64>,
}

/// Test names, so verdicts find their results.
pub(super) fn whole(model: &str) -> String {
    format!("{model}: whole answer")
}
pub(super) fn streamed(model: &str) -> String {
    format!("{model}: streamed answer")
}
pub(super) fn repeated(model: &str) -> String {
    format!("{model}: the same answer every time")
}
pub(super) fn agreement(model: &str) -> String {
    format!("{model}: its own figures agree with hxrun's")
}
pub(super) fn placement(model: &str) -> String {
    format!("{model}: loaded, and all of it on the GPU")
}
pub(super) fn baseline(model: &str) -> String {
    format!("{model}: baseline")
}
pub(super) fn served(model: &str) -> String {
    format!("{model}: served")
}
/// The per-model tests' names as written: one `for_each` entry of `models` fills them.
const EACH: &str = "{{model.name}}";
pub(super) const SWEEP: &str = "concurrent requests: where throughput stops rising";

/// Text from outside (a model name, an answer, a path) as one quoted scalar that loads back as
/// itself: `${` and `{{` in it stay literal.
fn q(s: &str) -> String {
    emit::scalar(s)
}

/// Text from outside in a comment: one line, bounded.
fn c(s: &str) -> String {
    emit::comment(s, 200)
}

/// The url with its password replaced by `with` (None when it has none).
fn password_as(url: &str, with: &str) -> Option<String> {
    let mut u = reqwest::Url::parse(url).ok().filter(|u| u.password().is_some())?;
    u.set_password(Some(with)).ok()?;
    Some(u.as_str().trim_end_matches('/').to_string())
}

/// The url as a person may read it: a password in it as `***`.
fn shown(url: &str) -> String {
    password_as(url, "***").unwrap_or_else(|| url.to_string())
}

/// The variable a written suite reads the password of its url from.
pub(super) const PASSWORD_VAR: &str = "HXRUN_TARGET_PASSWORD";

/// The target's url for the written suite: a password in it is read from `PASSWORD_VAR` when
/// the suite runs, never written.
/// The variable a written suite reads the GPU metrics endpoint from.
const GPU_METRICS_VAR: &str = "HXRUN_GPU_METRICS_URL";

fn target_url(url: &str) -> String {
    const HOLE: &str = "HXRUN-PASSWORD-HOLE";
    match password_as(url, HOLE) {
        Some(text) => emit::quoted(&emit::literal(&text).replace(HOLE, &format!("${{{PASSWORD_VAR}}}"))),
        None => emit::env_default("HXRUN_TARGET", url),
    }
}

/// Seconds as a YAML duration.
fn dur(s: f64) -> String {
    // Rounded to the microsecond first: 0.2 × 1.5 is 0.30000000000000004, which is 300 ms.
    let ms = (s * 1e6).round() / 1e3;
    if ms < 1000.0 {
        format!("{:.0}ms", ms.ceil().max(1.0))
    } else {
        format!("{:.2}s", (ms / 10.0).ceil() / 100.0)
    }
}

/// The suite text; `measured` makes it the user's (`--write`), None the probe's own run.
pub(super) fn render(s: &Subject, measured: Option<&BTreeMap<String, Measured>>) -> String {
    let d = s.detected;
    let mut y = String::new();
    let _ = writeln!(y, "# yaml-language-server: $schema=./{}", super::super::init::SCHEMA_FILE);
    let _ = writeln!(y, "#");
    let what =
        d.version.as_ref().map_or_else(|| d.kind.name().to_string(), |v| format!("{} {v}", d.kind.name()));
    let what_said = c(&what);
    if measured.is_some() {
        let _ = writeln!(
            y,
            "# Written by `hxrun probe` on {} against {}: {what_said}.",
            chrono::Utc::now().format("%Y-%m-%d"),
            c(&shown(s.url))
        );
        let _ = writeln!(y, "# How hxrun knew: {}.", c(&d.evidence.join("; ")));
        let _ = writeln!(
            y,
            "# It repeats the probe's checks; the figures are what the probe measured, with margins:"
        );
        let _ = writeln!(
            y,
            "# tokens/s floors at {:.0}% of the mean measured, room for a client twice as busy (lower where requests\n# varied: times 1 - 3 x CoV, at least {:.0}%),",
            FLOOR * 100.0,
            FLOOR_MIN * 100.0
        );
        let _ = writeln!(y, "# TTFT p95 ceilings at {:.0}x the p95 measured", CEILING);
        let _ = writeln!(
            y,
            "# (and at least {:.0} ms above it). It is yours now: edit, add models, tighten.",
            CEILING_MIN_S * 1000.0
        );
        let _ = writeln!(
            y,
            "#\n# Run: hxrun THIS_FILE   (HXRUN_TARGET=http://other-host:port hxrun THIS_FILE for another host)"
        );
    } else {
        let _ = writeln!(y, "# The checks `hxrun probe` runs against {} ({what_said}).", c(&shown(s.url)));
    }
    let _ = writeln!(y, "suite: probe");
    let _ =
        writeln!(y, "description: {}", q(&format!("{what} at {}, checked as a deployment", shown(s.url))));
    let _ = writeln!(y, "target:\n  url: {}", target_url(s.url));
    let _ = writeln!(y, "  api: {}", if d.api == Api::Ollama { "ollama" } else { "openai" });
    if let Some(url) = s.gpu_metrics {
        let _ = writeln!(
            y,
            "  # The server's GPUs, from the metrics endpoint on its machine (dcgm-exporter's names)."
        );
        // A password stays out of the file: the variable brings the whole url.
        let _ = if crate::suite::step::url_password(url).is_empty() {
            writeln!(y, "  gpu_metrics: {}", emit::env_default(GPU_METRICS_VAR, url))
        } else {
            writeln!(y, "  gpu_metrics: ${{{GPU_METRICS_VAR}}}")
        };
    }
    if s.api_key {
        let _ = writeln!(
            y,
            "  api_key: ${{HXRUN_API_KEY:-}}   # sent as Authorization: Bearer, never written to a report"
        );
    }
    if *s.tls != crate::suite::Tls::default() {
        let _ = writeln!(y, "  tls:   # as the probe reached the server (paths as given to it)");
        let t = s.tls;
        for (key, v) in [("ca_cert", &t.ca_cert), ("cert", &t.cert), ("key", &t.key)] {
            if let Some(path) = v {
                let _ = writeln!(y, "    {key}: {}", q(path));
            }
        }
        if t.insecure {
            let _ = writeln!(y, "    insecure: true   # no certificate check: every report says so");
        }
    }
    let fields = Fields::of(s, measured);
    models_var(&mut y, s, measured, &fields);
    let _ = writeln!(
        y,
        "defaults:\n  timeout: 120s   # per request: a cold load of a large model takes a while\n"
    );
    let _ = writeln!(y, "tests:");
    smoke(&mut y, s);
    model_tests(&mut y, s, &fields);
    if let Some(first) = s.models.first() {
        sweep(&mut y, s, first);
    }
    y
}

/// The smoke tests' names (which of them a suite has depends on the server's kind).
const SMOKE: [&str; 4] =
    ["the server answers", "the version is reported", "the server is healthy", "the server lists its models"];

/// Which measured figures the written suite gates on: each only where the probe measured it
/// for every model (the entries of `models` have the same fields, so a model added by hand
/// gives the same ones).
struct Fields {
    tokens_per_s: bool,
    ttft_p95: bool,
    cov: bool,
    context_length: bool,
}

impl Fields {
    fn of(s: &Subject, measured: Option<&BTreeMap<String, Measured>>) -> Fields {
        let all = |f: &dyn Fn(&Measured) -> bool| {
            measured.is_some_and(|m| s.models.iter().all(|n| m.get(n).is_some_and(f)))
        };
        Fields {
            tokens_per_s: all(&|m| m.tokens_per_s.is_some()),
            ttft_p95: all(&|m| m.ttft_p95.is_some()),
            cov: all(&|m| m.tokens_per_s_cov.is_some()),
            context_length: s.detected.api == Api::Ollama && all(&|m| m.context_length.is_some()),
        }
    }
}

/// `vars.models`: one entry per model probed, with what the probe measured of it; every
/// per-model test runs once per entry, so testing another model is one entry more.
fn models_var(y: &mut String, s: &Subject, measured: Option<&BTreeMap<String, Measured>>, f: &Fields) {
    let _ = writeln!(y, "vars:");
    if measured.is_some() {
        let _ = writeln!(
            y,
            "  # The models probed, with what the probe measured of each. Every per-model test below runs once\n  \
             # per entry: to test another model, add an entry with the same fields."
        );
    }
    let _ = writeln!(y, "  models:");
    let none = Measured::default();
    for model in s.models {
        let m = measured.and_then(|all| all.get(model)).unwrap_or(&none);
        let _ = writeln!(y, "    - name: {}", q(model));
        match (&m.answer, measured) {
            (Some(a), _) => {
                // `-` needs no escape outside a character class: 'HX-OK' stays readable.
                let exact = format!("^\\s*{}\\s*$", regex::escape(a.trim()).replace("\\-", "-"));
                let _ = writeln!(
                    y,
                    "      answer: {}   # a regex for its answer: the one it gave every time at temperature 0",
                    q(&exact)
                );
            }
            (None, Some(_)) => {
                let _ =
                    writeln!(y, "      answer: '\\S'   # its answers varied during the probe: any answer");
            }
            (None, None) => {
                let _ = writeln!(y, "      answer: '\\S'");
            }
        }
        if let (true, Some(t)) = (f.tokens_per_s, m.tokens_per_s) {
            let share = floor_share(m.tokens_per_s_cov);
            let _ = writeln!(
                y,
                "      min_tokens_per_s: {:.1}   # {:.0}% of the {t:.1} measured",
                t * share,
                share * 100.0
            );
        }
        if let (true, Some(t)) = (f.ttft_p95, m.ttft_p95) {
            let limit = (t * CEILING).max(t + CEILING_MIN_S);
            let _ = writeln!(y, "      max_ttft_p95: {}   # {} measured", dur(limit), dur(t));
        }
        if let (true, Some(c)) = (f.cov, m.tokens_per_s_cov) {
            // Twice what was seen, and never tighter than the seed's stability bar of 20%.
            let limit = (c * 2.0).max(20.0);
            let _ = writeln!(y, "      max_tokens_per_s_cov: {limit:.0}%   # {c:.1}% measured: steady speed");
        }
        if let (true, Some(c)) = (f.context_length, m.context_length) {
            let _ = writeln!(y, "      min_context_length: {c}   # as loaded during the probe");
        }
    }
}

/// Loads a written suite back and checks it is the one meant: its `models` are exactly the
/// models probed (as the server spelled them) and every test in it is one the probe writes, with
/// the step kind the probe gives it — a server's text cannot add a test, a step or a variable.
pub(super) fn check(text: &str, s: &Subject) -> Result<(), String> {
    let fail = |e: crate::load::error::SuiteErrors| format!("the suite it wrote does not load: {e}");
    let path = std::path::Path::new("probe-suite.yaml");
    // The variables the written suite reads a credential from, as the probe's own run sets them.
    let env = [(PASSWORD_VAR, "x"), ("HXRUN_API_KEY", "x")].map(|(k, v)| (k.to_string(), v.to_string()));
    let opts = crate::load::LoadOptions { env: env.into_iter().collect(), ..Default::default() };
    let loaded = crate::load::load_str(path, text.to_string(), &opts).map_err(fail)?;
    let plan = crate::plan::plan_suite(&loaded, &crate::plan::PlanOptions::default()).map_err(fail)?;
    let listed: Vec<String> = plan
        .tests
        .iter()
        .filter_map(|t| match &t.step {
            crate::suite::Step::Models(m) if m.present.len() == 1 && t.name == served(&m.present[0]) => {
                Some(m.present[0].clone())
            }
            _ => None,
        })
        .collect();
    if listed != s.models {
        return Err(format!("the suite it wrote lists models {listed:?}, not the {:?} probed", s.models));
    }
    let mut meant: BTreeMap<String, &[&str]> = SMOKE.iter().map(|n| (n.to_string(), &["http"][..])).collect();
    meant.insert("GPUs present".into(), &["gpu"]);
    meant.insert(SWEEP.into(), &["perf"]);
    for m in s.models {
        for name in [whole(m), streamed(m), repeated(m), agreement(m)] {
            meant.insert(name, &["generate", "chat"]);
        }
        meant.insert(placement(m), &["models"]);
        meant.insert(baseline(m), &["perf"]);
        meant.insert(served(m), &["models"]);
    }
    for t in &plan.tests {
        match meant.get(&t.name) {
            Some(kinds) if kinds.contains(&t.step.kind()) => {}
            _ => {
                return Err(format!(
                    "the suite it wrote has a test it did not mean to write: {:?} ({})",
                    t.name,
                    t.step.kind()
                ));
            }
        }
    }
    Ok(())
}

fn smoke(y: &mut String, s: &Subject) {
    let _ = writeln!(y, "  # The server is up and says what it is.");
    match s.detected.kind {
        ServerKind::Ollama => {
            let _ = writeln!(y, "  - name: the server answers\n    tags: [smoke]\n    http: {{ path: / }}");
            let _ = writeln!(y, "    expect: {{ status: 200, body: {{ equals: Ollama is running }} }}\n");
            let _ = writeln!(
                y,
                "  - name: the version is reported\n    tags: [smoke]\n    http: {{ path: /api/version }}"
            );
            let _ = writeln!(y, "    expect: {{ json: {{ $.version: {{ type: string }} }} }}\n");
        }
        ServerKind::LlamaCpp => {
            let _ = writeln!(
                y,
                "  - name: the server is healthy\n    tags: [smoke]\n    http: {{ path: /health }}"
            );
            let _ = writeln!(y, "    expect: {{ json: {{ $.status: ok }} }}\n");
        }
        ServerKind::Vllm | ServerKind::Tgi => {
            let _ = writeln!(
                y,
                "  - name: the server is healthy\n    tags: [smoke]\n    http: {{ path: /health }}"
            );
            let _ = writeln!(y, "    expect: {{ status: 200 }}\n");
        }
        ServerKind::OpenaiCompatible => {
            let _ = writeln!(
                y,
                "  - name: the server lists its models\n    tags: [smoke]\n    http: {{ path: /v1/models }}"
            );
            let _ = writeln!(y, "    expect: {{ json: {{ $.data: {{ type: array }} }} }}\n");
        }
    }
    let _ = writeln!(y, "  - name: \"{}\"\n    tags: [smoke, models]", served(EACH));
    let _ = writeln!(y, "    for_each: {{ model: \"${{models}}\" }}");
    let _ = writeln!(y, "    models: {{ present: [\"{{{{model.name}}}}\"] }}\n");
    if let Some(n) = s.gpus {
        let _ = writeln!(
            y,
            "  # {}",
            if s.gpu_metrics.is_some() {
                "The server's GPUs, as its metrics endpoint serves them."
            } else {
                "The GPUs of the machine hxrun runs on (the server's, when it runs there)."
            }
        );
        let _ = writeln!(
            y,
            "  - name: GPUs present\n    tags: [gpu]\n    gpu: {{ count: \">= {n}\", optional: true }}\n"
        );
    }
}

/// Options of every probe request: deterministic where the server allows it.
fn options(tokens: u32) -> String {
    format!("{{ temperature: 0, seed: 42, num_predict: {tokens} }}")
}

/// The per-model tests, each once per entry of `models` (`{{model.name}}`, and the entry's
/// measured limits as `{{model.FIELD}}`).
fn model_tests(y: &mut String, s: &Subject, f: &Fields) {
    let each = "    for_each: { model: \"${models}\" }";
    let model = "\"{{model.name}}\"";
    let title = |name: String| format!("  - name: \"{name}\"");
    let _ = writeln!(y, "  # ── every model of `models` ──");
    let _ = writeln!(
        y,
        "  # The exact-answer prompt, whole and streamed, answered as its entry says (the stream is checked too)."
    );
    for (name, stream) in [(whole(EACH), false), (streamed(EACH), true)] {
        let _ = writeln!(y, "{}\n    tags: [inference]\n{each}", title(name));
        let _ = writeln!(y, "    generate:\n      model: {model}\n      prompt: {}", q(EXACT_PROMPT));
        let _ = writeln!(y, "      stream: {stream}");
        if stream {
            let _ = writeln!(y, "      chunk_timeout: 30s   # a stall between tokens fails with the gap");
        }
        let _ = writeln!(y, "      options: {}", options(32));
        let _ = writeln!(
            y,
            "    expect:\n      text: {{ matches: \"{{{{model.answer}}}}\" }}\n      metrics: {{ output_tokens: \"> 0\" }}\n"
        );
    }
    let _ = writeln!(y, "  # At temperature 0 and a fixed seed, the same question gets the same answer.");
    let _ = writeln!(y, "{}\n    tags: [inference]\n{each}", title(repeated(EACH)));
    let _ = writeln!(
        y,
        "    generate:\n      model: {model}\n      prompt: {}\n      stream: false",
        q(EXACT_PROMPT)
    );
    let _ =
        writeln!(y, "      options: {}\n      repeat: 3\n    expect:\n      consistent: true\n", options(32));
    if s.detected.kind.reports_timing() {
        let _ = writeln!(
            y,
            "  # The server's own token count and rate against what hxrun received (a lying proxy or clock fails)."
        );
        let _ = writeln!(y, "{}\n    tags: [inference]\n{each}", title(agreement(EACH)));
        let _ = writeln!(
            y,
            "    generate:\n      model: {model}\n      prompt: {}\n      stream: true",
            q(PERF_PROMPT)
        );
        // 64 tokens: a span long enough that a scheduling hiccup on the client is not 10%.
        let _ = writeln!(y, "      chunk_timeout: 30s\n      options: {}", options(64));
        let _ = writeln!(y, "    expect:\n      agree: {{ tokens: 0, tokens_per_s: 10% }}\n");
    }
    if s.detected.api == Api::Ollama {
        let ctx = if f.context_length { ", context_length: \">= {{model.min_context_length}}\"" } else { "" };
        let _ = writeln!(
            y,
            "  # A model partly in CPU memory answers, only slowly: the classic silent slowdown."
        );
        let _ = writeln!(y, "{}\n    tags: [models, gpu]\n{each}", title(placement(EACH)));
        let _ = writeln!(y, "    models: {{ loaded: [{model}], fully_on_gpu: true{ctx} }}\n");
    }
    let d = s.depth;
    let _ = writeln!(
        y,
        "  # Time to first token and tokens/s over {} streamed answers (one warm-up first).",
        d.iterations()
    );
    let _ = writeln!(y, "{}\n    tags: [perf]\n{each}", title(baseline(EACH)));
    let _ =
        writeln!(y, "    perf:\n      generate:\n        model: {model}\n        prompt: {}", q(PERF_PROMPT));
    let _ = writeln!(y, "        stream: true\n        options: {}", options(d.tokens()));
    let _ = writeln!(y, "      warmup: 1\n      iterations: {}", d.iterations());
    let _ = writeln!(y, "    thresholds:\n      error_rate: \"== 0\"");
    if f.tokens_per_s {
        let _ = writeln!(y, "      tokens_per_s.mean: \">= {{{{model.min_tokens_per_s}}}}\"");
    }
    if f.ttft_p95 {
        let _ = writeln!(y, "      ttft.p95: \"< {{{{model.max_ttft_p95}}}}\"");
    }
    if f.cov {
        let _ = writeln!(y, "      tokens_per_s.cov: \"< {{{{model.max_tokens_per_s_cov}}}}\"");
    }
    y.push('\n');
}

fn sweep(y: &mut String, s: &Subject, model: &str) {
    let sweep = s.depth.sweep();
    let levels = sweep.levels.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    let _ = writeln!(y, "  # ── the server ──");
    let _ = writeln!(
        y,
        "  # Requests at once, rising: where throughput stops rising is how many it serves in parallel."
    );
    let _ = writeln!(
        y,
        "  # In rounds up and down the levels, each compared with the best level over the same rounds;"
    );
    let _ = writeln!(y, "  # more rounds, up to the most, while the data cannot decide.");
    let _ = writeln!(y, "  - name: {}\n    tags: [perf]", q(SWEEP));
    let _ = writeln!(
        y,
        "    perf:\n      generate:\n        model: {}\n        prompt: {}",
        q(model),
        q(PERF_PROMPT)
    );
    let _ = writeln!(y, "        stream: true\n        options: {}", options(sweep.tokens));
    let _ = writeln!(
        y,
        "      concurrency: [{levels}]\n      iterations: {}   # {} a round\n      rounds: {{ min: {}, max: {} }}",
        sweep.min * sweep.per_round,
        sweep.per_round,
        sweep.min,
        sweep.max
    );
    let _ = writeln!(y, "    thresholds:\n      error_rate: \"== 0\"");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_values_stay_literal_and_durations_round_up() {
        // A model answer with YAML, JSON and variable syntax in it is written as one literal.
        assert_eq!(q("a: \"b\" ${X} #c {{y}}"), r#""a: \"b\" $${X} #c {{'{{'}}y}}""#);
        assert_eq!(dur(0.0543), "55ms");
        assert_eq!(dur(1.5), "1.50s");
    }

    #[test]
    fn margins_follow_the_measured_figures() {
        let detected = Detected {
            kind: ServerKind::Vllm,
            api: Api::Openai,
            evidence: vec!["owned_by: vllm".into()],
            version: None,
            models: vec!["m".into()],
            loaded: vec![],
            context_length: None,
            slots: None,
        };
        let models = vec!["m".to_string()];
        let tls = crate::suite::Tls::default();
        let s = Subject {
            url: "http://h:8000",
            detected: &detected,
            models: &models,
            depth: Depth::Quick,
            gpus: None,
            gpu_metrics: None,
            api_key: false,
            tls: &tls,
        };
        let measured = Measured {
            answer: Some("HX-OK".into()),
            tokens_per_s: Some(100.0),
            ttft_p95: Some(0.2),
            tokens_per_s_cov: Some(15.0),
            context_length: None,
        };
        let text = render(&s, Some(&BTreeMap::from([("m".to_string(), measured)])));
        // Requests varied 15%: the floor is 50% × (1 - 3 × 15%) = 27.5% of the mean.
        assert!(text.contains("min_tokens_per_s: 27.5   #"), "{text}");
        assert!(text.contains("tokens_per_s.mean: \">= {{model.min_tokens_per_s}}\""), "{text}");
        assert_eq!((floor_share(Some(3.0)), floor_share(Some(40.0)), floor_share(None)), (0.455, 0.25, 0.5));
        // 0.2 s measured: twice is 400 ms, but at least 250 ms above it.
        assert!(text.contains("max_ttft_p95: 450ms   #"), "{text}");
        assert!(text.contains("max_tokens_per_s_cov: 30%   #"), "{text}");
        assert!(text.contains(r#"answer: "^\\s*HX-OK\\s*$""#), "{text}");
        // vLLM reports no timing of its own: no agreement check; no Ollama placement check.
        assert!(!text.contains("agree:") && !text.contains("fully_on_gpu"), "{text}");
        let probing = render(&s, None);
        assert!(!probing.contains("tokens_per_s.mean") && probing.contains("answer: '\\S'"), "{probing}");
    }
}
