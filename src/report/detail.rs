//! The human-readable account of what a step did: request line and response excerpt, or
//! command and output. It goes to JUnit `system-out` and to the console with --verbose.

use crate::record::{Observation, TestResult, excerpt};

/// How much of a body or output stream a report shows (Jenkins shows ~1000 characters of
/// system-out unless told to keep more).
pub(crate) const EXCERPT: usize = 600;

/// What a test's step did: its observation described, or, when it ended without one (a
/// timeout, a refused connection), what was sent.
pub(crate) fn of(t: &TestResult) -> String {
    if let Some(rate) = &t.pass_rate {
        return cases(rate, &t.params);
    }
    match &t.observation {
        Some(obs) => describe(obs),
        None => t.detail.clone(),
    }
}

/// A gate's cases, a line each: passed, failed (with the first line of why) or skipped.
fn cases(rate: &crate::record::PassRate, shared: &[(String, String)]) -> String {
    use crate::record::Status;
    let mut out = format!("pass rate {} — cases:\n", rate.summary());
    for c in &rate.cases {
        let label = crate::assert::gate::case_label(c, shared);
        let why = || {
            c.message.as_deref().and_then(|m| m.lines().next()).map(|m| excerpt(m, 300)).unwrap_or_default()
        };
        match c.status {
            Status::Passed => out.push_str(&format!("  ✓ {label} ({} ms)\n", c.duration.as_millis())),
            Status::Failed => out.push_str(&format!("  ✗ {label}: {}\n", why())),
            Status::Skipped => out.push_str(&format!("  - {label}: {}\n", why())),
        }
    }
    out
}

/// Why a test failed, each failed expectation followed by where it is written (`at
/// file:line:col`, the line, a caret); the test's message when no expectation failed (a
/// timeout, a refused connection).
pub(crate) fn failure(t: &TestResult) -> String {
    let failed: Vec<_> = t.assertions.iter().filter(|a| !a.passed).collect();
    // A gate's message lists its failed cases; its place follows.
    if t.pass_rate.is_some() {
        let mut out: Vec<String> = t.message.iter().cloned().collect();
        out.extend(failed.iter().filter_map(|a| a.at.as_ref()).map(|p| p.render()));
        return out.join("\n");
    }
    if failed.is_empty() || !failed.iter().any(|a| a.at.is_some()) {
        return t.message.clone().unwrap_or_default();
    }
    let mut out = Vec::new();
    for a in failed {
        out.extend(a.message.clone());
        out.extend(a.at.as_ref().map(|p| p.render()));
    }
    out.extend(t.retry_summary());
    out.join("\n")
}

pub(crate) fn describe(obs: &Observation) -> String {
    match obs {
        Observation::Http(h) => {
            let mut s = format!("{} {}\n", h.method, h.url);
            for (k, v) in &h.request_headers {
                s.push_str(&format!("> {k}: {v}\n"));
            }
            s.push_str(&format!("<- {} ({} ms)\n", h.status, h.elapsed.as_millis()));
            for (k, v) in &h.headers {
                s.push_str(&format!("{k}: {v}\n"));
            }
            s.push('\n');
            s.push_str(&excerpt(&h.body, EXCERPT));
            if h.body_truncated {
                s.push_str("\n[body truncated by hxrun]");
            }
            s
        }
        Observation::Tcp(t) => format!("connect {}: ok ({} ms)", t.address, t.elapsed.as_millis()),
        Observation::Llm(l) => {
            let mut s = format!("POST {} (model {}, stream {})\n<- {}", l.url, l.model, l.stream, l.status);
            if let Some(e) = &l.error {
                s.push_str(&format!(": {e}"));
            }
            let ms = |d: std::time::Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
            s.push_str(&format!("\ne2e {}", ms(l.e2e)));
            if let Some(t) = l.ttft {
                s.push_str(&format!(", ttft {}, {} chunks", ms(t), l.chunks));
            }
            if let Some(t) = l.client_tokens_per_s {
                s.push_str(&format!(", client {t:.1} tokens/s"));
            }
            if let Some(t) = l.server_tokens_per_s {
                s.push_str(&format!(", server {t:.1} tokens/s"));
            }
            for p in &l.problems {
                s.push_str(&format!("\nstream problem: {p}"));
            }
            s.push_str(&format!("\n\n{}", excerpt(&l.text, EXCERPT)));
            s
        }
        Observation::Pull(p) => {
            let mut s = format!("pull {}", p.model);
            if p.already_present {
                s.push_str(": already present, nothing pulled");
            }
            for status in &p.statuses {
                s.push_str(&format!("\n  {status}"));
            }
            if let Some(e) = &p.error {
                s.push_str(&format!("\nerror: {e}"));
            }
            s
        }
        Observation::Models(m) => format!("GET {}\nlisted: {}", m.url, m.listed.join(", ")),
        Observation::Embed(e) => {
            let mut s =
                format!("POST {} (model {})\n<- {} ({} ms)", e.url, e.model, e.status, e.elapsed.as_millis());
            if let Some(err) = &e.error {
                s.push_str(&format!(": {err}"));
            }
            let norms: Vec<String> = e.norms.iter().map(|n| format!("{n:.4}")).collect();
            s.push_str(&format!(
                "\n{} vector(s), dimensions {:?}, norms [{}]",
                e.count,
                e.dimensions,
                norms.join(", ")
            ));
            s
        }
        Observation::Perf(p) => perf_summary(p),
        Observation::Gpu(g) => match (&g.snapshot, &g.error) {
            (Some(s), _) => {
                let mut text = format!(
                    "driver {}, CUDA {}, {} GPU(s)",
                    s.driver_version,
                    s.cuda_driver_version.as_deref().unwrap_or("unknown"),
                    s.gpus.len()
                );
                for gpu in &s.gpus {
                    text.push_str(&format!(
                        "\n  GPU {}: {}, {} MiB total, {} MiB used",
                        gpu.index,
                        gpu.name,
                        gpu.memory_total / 1048576,
                        gpu.memory_used / 1048576
                    ));
                }
                text
            }
            (None, e) => e.clone().unwrap_or_default(),
        },
        Observation::Exec(e) => {
            let code = e.exit_code.map_or("killed by a signal".to_string(), |c| format!("exit code {c}"));
            format!(
                "$ {}\n{} ({} ms)\n--- stdout\n{}\n--- stderr\n{}",
                e.command.join(" "),
                code,
                e.elapsed.as_millis(),
                excerpt(&e.stdout, EXCERPT),
                excerpt(&e.stderr, EXCERPT)
            )
        }
    }
}

/// A soak level's drift in the figures people look at first: first window → last.
fn drift_line(l: &crate::perf::result::LevelResult) -> Option<String> {
    let window = l.window?;
    use crate::suite::metrics::{Figure, Metric, Stat};
    let shown: Vec<String> = [
        Figure::stat(Metric::E2e, Stat::P95),
        Figure::stat(Metric::Ttft, Stat::P95),
        Figure::stat(Metric::TokensPerS, Stat::Mean),
        Figure::of(Metric::ErrorRate),
        Figure::of(Metric::GpuMemoryUsedMax),
    ]
    .iter()
    .filter_map(|k| {
        let d = l.drift.get(k)?;
        let change = d.relative.map_or_else(|| k.format(d.change), |r| format!("{r:+.1}%"));
        Some(format!("{k} {change} ({} → {})", k.format(d.first), k.format(d.last)))
    })
    .collect();
    let n = l.windows.len();
    let length = crate::suite::values::format_seconds(window);
    Some(if shown.is_empty() {
        format!("  {n} windows of {length}: too few full windows to compare")
    } else {
        format!("  drift over {n} windows of {length}, first to last: {}", shown.join(", "))
    })
}

/// One line per concurrency level with the figures people look at first.
pub(crate) fn perf_summary(p: &crate::perf::result::PerfObservation) -> String {
    use crate::suite::metrics::{Figure, Metric, Stat};
    use crate::suite::values::format_seconds;
    let mut lines = vec![format!(
        "perf {} {} against {} (warm-up {}{})",
        p.request,
        p.model.as_deref().unwrap_or(""),
        p.target,
        p.warmup,
        if p.cold { ", cold loads" } else { "" }
    )];
    for (i, l) in p.levels.iter().enumerate() {
        let f = |k: Figure| l.figures.get(&k).copied();
        let stat = |m: Metric, s: Stat| f(Figure::stat(m, s));
        let mut parts = vec![format!("{}: {} requests, {} failed", l.label(), l.requests, l.errors)];
        // Sized prompts: the lengths sent, in the server's tokens.
        if let (Some(_), Some(mean), Some(lo), Some(hi)) = (
            &p.input,
            stat(Metric::InputTokens, Stat::Mean),
            stat(Metric::InputTokens, Stat::Min),
            stat(Metric::InputTokens, Stat::Max),
        ) {
            let range = if lo == hi { String::new() } else { format!(" ({lo:.0}–{hi:.0})") };
            parts.push(format!("input {mean:.0} tokens{range}"));
        }
        if let (Some(m), Some(c)) =
            (stat(Metric::TokensPerS, Stat::Mean), stat(Metric::TokensPerS, Stat::Cov))
        {
            parts.push(format!("tokens/s mean {m:.2} (cov {c:.1}%)"));
        }
        let server = |s: Stat| stat(Metric::ServerTokensPerS, s);
        if let (Some(m), Some(c)) = (server(Stat::Mean), server(Stat::Cov)) {
            parts.push(format!("server tokens/s mean {m:.2} (cov {c:.1}%)"));
        }
        for k in [
            Figure::stat(Metric::Ttft, Stat::P95),
            Figure::stat(Metric::E2e, Stat::P95),
            Figure::stat(Metric::LoadDuration, Stat::Mean),
        ] {
            if let Some(v) = f(k) {
                parts.push(format!("{k} {}", format_seconds(v)));
            }
        }
        if let Some(v) = f(Figure::of(Metric::RequestThroughput)) {
            parts.push(format!("{v:.2} req/s"));
        }
        if let Some(v) = f(Figure::of(Metric::OutputTokenThroughput)).filter(|v| *v > 0.0) {
            parts.push(format!("{v:.1} output tokens/s"));
        }
        if let Some(short) = f(Figure::of(Metric::ShortOutputs)).filter(|s| *s > 0.0) {
            parts.push(format!("{short:.0}% of answers stopped short of the output length asked"));
        }
        if let (Some(g), Some(a), Some(slo)) =
            (f(Figure::of(Metric::Goodput)), f(Figure::of(Metric::SloAttainment)), &p.slo)
        {
            parts.push(format!("goodput {g:.2} req/s ({a:.1}% of requests within {})", slo.describe()));
        }
        if let Some(probe) = p.search.as_ref().and_then(|s| s.probes.iter().find(|p| p.level == i)) {
            parts.push(format!(
                "{} ({:.1}% met the SLOs, interval {:.1}–{:.1}%{})",
                probe.verdict.describe(),
                probe.attainment,
                probe.low,
                probe.high,
                if probe.lengths > 1 { format!(", ran {} lengths", probe.lengths) } else { String::new() }
            ));
        }
        lines.push(parts.join(", "));
        if let Some(line) = drift_line(l) {
            lines.push(line);
        }
    }
    if let Some(k) = &p.knee {
        lines.push(k.describe());
    }
    if let Some(s) = &p.search {
        lines.push(s.conclusion());
    }
    lines.join("\n")
}
