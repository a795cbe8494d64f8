//! Verdicts on LLM steps: status and stream integrity, the answer text, recorded figures,
//! client/server agreement; and on pulls and model lists.

use super::{fail, json, pass, text};
use crate::protocol::same_model;
use crate::record::{AssertionResult, LlmObservation, ModelsObservation, PullObservation, Source};
use crate::suite::llm::{Consistency, ToolCallMatch};
use crate::suite::metrics::Metric;
use crate::suite::{Expect, Tolerance};

pub(crate) fn check_llm(expect: &Expect, o: &LlmObservation, out: &mut Vec<AssertionResult>) {
    if !super::api_status(expect, &o.url, o.status, o.error.as_deref(), out) {
        return;
    }
    // Problems of a streamed answer are the stream's; of a whole answer, the answer's.
    let what = if o.stream { "stream" } else { "answer" };
    if o.problems.is_empty() {
        out.push(pass(what));
    }
    for p in &o.problems {
        out.push(fail(what, format!("{what}: {p}")));
    }
    if let Some(c) = &expect.consistent {
        super::under(out, Some((Source::expect("consistent"), c.at)), |out| {
            out.push(consistency(c, &o.answers))
        });
    }
    if let Some(m) = &expect.text {
        super::under(out, Some((Source::expect("text"), m.at)), |out| {
            out.extend(text::check("text", m, &o.text))
        });
    }
    if let Some(similar) = &expect.similar {
        super::under(out, Some((Source::expect("similar"), similar.at)), |out| {
            let reference = text::quote(&similar.to, 80);
            let what = "similar";
            out.push(match o.similarity.as_ref() {
                Some(crate::record::Similarity { value: Some(v), .. }) if similar.score.holds(*v) => pass(what),
                Some(crate::record::Similarity { value: Some(v), .. }) => fail(
                    what,
                    format!(
                        "similar: the answer's similarity to {reference} by {} is {v:.3}, expected {}; the answer: {}",
                        similar.model,
                        similar.score.text,
                        text::quote(&o.text, 120)
                    ),
                )
                .values(similar.score.text.clone(), format!("{v:.3}")),
                Some(crate::record::Similarity { error: Some(e), .. }) => {
                    fail(what, format!("similar: not measured: {e}")).values(similar.score.text.clone(), "not measured")
                }
                _ => fail(what, "similar: not measured: the answer failed, so it was not compared".to_string())
                    .values(similar.score.text.clone(), "not measured"),
            });
        });
    }
    if let Some(expected) = &expect.tool_calls {
        super::under(out, Some((Source::expect("tool_calls"), expected.at)), |out| {
            tool_calls(expected, o, out)
        });
    }
    // A structured answer (Ollama `format`, OpenAI `response_format`): the answer is the JSON.
    super::json::check_all(&expect.json, &o.text, "answer", out);
    super::json::check_schema(expect.schema.as_ref(), &o.text, "answer", out);
    for (name, m) in &expect.metrics {
        // `plan` refused names no step metric has.
        let metric = Metric::of_step(name);
        let why_missing = || {
            if metric.is_some_and(Metric::is_gpu) {
                let why = o.gpu_error.as_deref().unwrap_or("no sample was taken while the step ran");
                return format!("{name}: not recorded: {why}");
            }
            if metric.is_some_and(Metric::needs_server_timing) && !o.server.has_timing() {
                return format!("{name}: not recorded: {NO_TIMING}");
            }
            // A stream cut before its final message lost what that message carries: the cut is
            // the cause, not the server's reporting.
            let cut = o.problems.iter().find(|p| {
                matches!(
                    p,
                    crate::protocol::StreamProblem::Truncated { .. }
                        | crate::protocol::StreamProblem::TimedOut { .. }
                        | crate::protocol::StreamProblem::Stalled { .. }
                        | crate::protocol::StreamProblem::Unreadable { .. }
                        | crate::protocol::StreamProblem::BodyCut { .. }
                )
            });
            if let Some(p) = cut {
                return format!(
                    "{name}: not recorded: the stream ended early ({p}), before the message that carries it"
                );
            }
            let mode = if o.stream { "this stream" } else { "a non-stream answer (set `stream: true`)" };
            format!("{name}: not recorded for {mode}: the server or mode does not provide it")
        };
        super::under(out, Some((Source::expect(format!("metrics.{name}")), name.at)), |out| {
            out.extend(json::check_value(
                name,
                &format!("metrics {name}"),
                m,
                metric.and_then(|metric| o.metric(metric)),
                why_missing,
            ))
        });
    }
    if let Some(agree) = &expect.agree {
        if let Some(t) = &agree.tokens_per_s {
            let from = out.len();
            out.push(match o.server_tokens_per_s {
                None if !o.server.has_timing() => fail(
                    "agree tokens_per_s",
                    format!("agree.tokens_per_s: {NO_TIMING}, so there is nothing to agree with"),
                ),
                server => agreement("tokens_per_s", t, o.client_tokens_per_s, server, "client", "server"),
            });
            super::keyed(&mut out[from..], (Source::Agreement("tokens_per_s".into()), t.at));
        }
        if let Some(t) = &agree.tokens {
            let from = out.len();
            out.push(token_agreement(t, o));
            super::keyed(&mut out[from..], (Source::Agreement("tokens".into()), t.at));
        }
    }
}

fn agreement(
    what: &str,
    tol: &Tolerance,
    client: Option<f64>,
    server: Option<f64>,
    client_name: &str,
    server_name: &str,
) -> AssertionResult {
    let label = format!("agree {what}");
    match (client, server) {
        (Some(c), Some(s)) if tol.allows(c, s) => pass(label),
        (Some(c), Some(s)) => {
            let off = if s != 0.0 { format!(" ({:+.1}%)", (c - s) / s * 100.0) } else { String::new() };
            fail(
                label,
                format!(
                    "agree.{what}: {client_name} {c:.2} vs {server_name} {s:.2}{off}, beyond the tolerance {tol}: \
                     the server's (or a proxy's) figures do not match what the client saw"
                ),
            )
            .values(format!("{server_name} {s:.2} ± {tol}"), format!("{client_name} {c:.2}{off}"))
        }
        _ => fail(
            label,
            format!(
                "agree.{what}: needs both the {client_name} and the {server_name} (stream mode, and a server that reports them)"
            ),
        ),
    }
}

/// Whether repeated answers are the same (or alike): the verdict lists each distinct answer
/// with how often it came, most frequent first.
fn consistency(c: &Consistency, answers: &[String]) -> AssertionResult {
    let mut distinct: Vec<(&str, usize)> = Vec::new();
    for a in answers {
        match distinct.iter_mut().find(|(d, _)| *d == a.as_str()) {
            Some((_, n)) => *n += 1,
            None => distinct.push((a, 1)),
        }
    }
    distinct.sort_by_key(|d| std::cmp::Reverse(d.1));
    // Long answers that differ late are shown from a little before where they part.
    let common = distinct
        .iter()
        .skip(1)
        .map(|(a, _)| distinct[0].0.chars().zip(a.chars()).take_while(|(x, y)| x == y).count())
        .min()
        .unwrap_or(0);
    let from = common.saturating_sub(30);
    let seen: Vec<String> = distinct
        .iter()
        .map(|(a, n)| {
            let tail: String = a.chars().skip(from).collect();
            format!("{}{} ×{n}", if from > 0 { "…" } else { "" }, text::quote(&tail, 80))
        })
        .collect();
    let seen = seen.join(", ");
    let n = answers.len();
    let (ok, expected, actual) = match c {
        Consistency::Identical(true) => {
            (distinct.len() == 1, format!("{n} identical answers"), format!("{} distinct", distinct.len()))
        }
        Consistency::Identical(false) => {
            (distinct.len() > 1, "answers that differ".to_string(), format!("{} distinct", distinct.len()))
        }
        Consistency::Similar(s) => {
            let mode = distinct.first().map_or("", |d| d.0);
            let least = answers.iter().map(|a| strsim::normalized_levenshtein(a, mode)).fold(1.0, f64::min);
            (
                least >= s.min_similarity,
                format!("similarity ≥ {}", s.min_similarity),
                format!("least {least:.3}"),
            )
        }
    };
    if ok {
        return pass("consistent").values(expected, actual);
    }
    fail("consistent", format!("consistent: expected {expected} of {n}, got {actual}: {seen}"))
        .values(expected, actual)
}

/// What a server that times nothing itself is told (vLLM's answers carry only token counts).
pub(super) const NO_TIMING: &str = "this server reports no timing of its own in its answers (OpenAI-compatible servers \
     such as vLLM send only token counts; Ollama, llama.cpp's llama-server and TGI do)";

/// Content chunks against the server's count: the end-of-sequence token a server counted but
/// never sent is taken off (`eos_counted`); a server that sends several tokens per chunk can
/// only be checked for a possible count (at least one token per chunk, at most one per
/// character received), and the verdict says so.
fn token_agreement(t: &Tolerance, o: &LlmObservation) -> AssertionResult {
    // Without the server's own count there is nothing to agree with (the chunks would be
    // compared with themselves): a failure with that reason, never a pass.
    if o.stream && o.server.output_tokens().is_none() {
        return fail(
            "agree tokens",
            format!(
                "agree.tokens: not reported by this server: its answer carries no token count{}, so there is \
                 nothing to agree with",
                if o.api == crate::suite::Api::Openai {
                    " (an OpenAI-compatible stream has one only in a final `usage`, which hxrun asks for with \
                     stream_options.include_usage; this server sent none)"
                } else {
                    ""
                }
            ),
        )
        .values("the server's token count", "not reported");
    }
    let chunks = o.stream.then_some(o.chunks as f64);
    let Some(content) = o.content_tokens.filter(|_| o.stream) else {
        return agreement(
            "tokens",
            t,
            chunks,
            o.server.output_tokens().map(|n| n as f64),
            "content chunks",
            "server token count",
        );
    };
    let server_name = if o.eos_counted {
        "server token count less the end-of-sequence token it counted"
    } else {
        "server token count"
    };
    let chars = o.text.chars().count() as u64;
    let several_per_chunk = content > o.chunks as u64 + t.value as u64;
    if several_per_chunk && o.chunks > 0 && content <= chars {
        return pass("agree tokens").values(
            format!("{content} tokens in {} chunks (several per chunk: checked as possible)", o.chunks),
            format!("{content} ≤ {chars} characters"),
        );
    }
    agreement("tokens", t, chunks, Some(content as f64), "content chunks", server_name)
}

pub(crate) fn check_pull(o: &PullObservation, out: &mut Vec<AssertionResult>) {
    out.push(match (&o.error, o.already_present, o.statuses.last()) {
        (Some(e), _, _) => fail("pull", format!("pull {}: the server reported an error: {e}", o.model)),
        (None, true, _) => pass("pull"),
        (None, false, Some(last)) if last == "success" => pass("pull"),
        (None, false, last) => fail(
            "pull",
            format!(
                "pull {}: the stream ended without \"success\" (last status: {})",
                o.model,
                last.map_or("none".to_string(), |s| format!("\"{s}\""))
            ),
        ),
    });
}

pub(crate) fn check_models(o: &ModelsObservation, out: &mut Vec<AssertionResult>) {
    let listed = |m: &String| o.listed.iter().any(|l| same_model(l, m));
    let missing: Vec<&String> = o.present.iter().filter(|m| !listed(m)).collect();
    let unwanted: Vec<&String> = o.absent.iter().filter(|m| listed(m)).collect();
    let shown = if o.listed.is_empty() { "nothing".to_string() } else { o.listed.join(", ") };
    out.push(if missing.is_empty() {
        pass("models.present")
    } else {
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        fail(
            "models.present",
            format!("models: {} not listed by the server (it lists {shown})", names.join(", ")),
        )
    });
    if !o.absent.is_empty() {
        out.push(if unwanted.is_empty() {
            pass("models.absent")
        } else {
            let names: Vec<&str> = unwanted.iter().map(|s| s.as_str()).collect();
            fail("models.absent", format!("models: {} listed, but expected absent", names.join(", ")))
        });
    }
}

/// `models.loaded` (in memory now), `fully_on_gpu` (no part offloaded to the CPU) and
/// `context_length`, per loaded model asked for.
pub(crate) fn check_loaded(
    step: &crate::suite::ModelsStep,
    o: &ModelsObservation,
    out: &mut Vec<AssertionResult>,
) {
    let Some(loaded) = &o.loaded else { return };
    let shown = if loaded.is_empty() {
        "nothing".to_string()
    } else {
        loaded.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
    };
    for name in &step.loaded {
        let Some(m) = loaded.iter().find(|m| same_model(&m.name, name)) else {
            out.push(
                fail(
                    format!("loaded {name}"),
                    format!("models: {name} is not loaded (the server has {shown} in memory)"),
                )
                .values("loaded", "not loaded"),
            );
            continue;
        };
        out.push(pass(format!("loaded {name}")));
        if step.fully_on_gpu == Some(true) {
            out.push(if m.size_vram >= m.size {
                pass(format!("{name} fully on the GPU"))
            } else {
                let cpu = m.size - m.size_vram;
                let pct = cpu as f64 / m.size.max(1) as f64 * 100.0;
                let bytes = crate::suite::values::format_bytes;
                fail(
                    format!("{name} fully on the GPU"),
                    format!(
                        "models: {name}: {pct:.0}% of it is on the CPU ({} of {} in GPU memory) — it answers several times slower than it would on the GPU",
                        bytes(m.size_vram as f64),
                        bytes(m.size as f64)
                    ),
                )
                .values(format!("size_vram = size ({})", bytes(m.size as f64)), format!("size_vram {}", bytes(m.size_vram as f64)))
            });
        }
        if let Some(c) = &step.context_length {
            out.push(match m.context_length {
                Some(n) => super::compare(&format!("{name} context_length"), c, n as f64),
                None => fail(
                    format!("{name} context_length"),
                    format!("models: {name}: the server does not say its context length (an older Ollama)"),
                ),
            });
        }
    }
}

/// Each expected call made by a distinct call of that name whose arguments match; `[]`: none.
fn tool_calls(expected: &[ToolCallMatch], o: &LlmObservation, out: &mut Vec<AssertionResult>) {
    let made = || {
        if o.tool_calls.is_empty() {
            format!("no tool call (the answer: {})", text::quote(&o.text, 120))
        } else {
            o.tool_calls.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        }
    };
    if expected.is_empty() {
        out.push(if o.tool_calls.is_empty() {
            pass("tool_calls")
        } else {
            fail("tool_calls", format!("tool_calls: expected no tool call, got {}", made()))
                .values("none", made())
        });
        return;
    }
    let mut used = vec![false; o.tool_calls.len()];
    for want in expected {
        let what = format!("tool call {}", want.name);
        let mut closest: Option<Vec<AssertionResult>> = None;
        let mut found = false;
        for (i, call) in o.tool_calls.iter().enumerate().filter(|(i, c)| !used[*i] && c.name == want.name) {
            let verdicts: Vec<AssertionResult> = want
                .arguments
                .iter()
                .flat_map(|(arg, m)| {
                    let label = format!("tool call {} argument {arg}", want.name);
                    json::check_value(&label, &label, m, call.arguments.get(arg).cloned(), || {
                        format!("{label}: the call has no such argument: {call}")
                    })
                })
                .collect();
            if verdicts.iter().all(|v| v.passed) {
                used[i] = true;
                found = true;
                out.push(pass(&what));
                break;
            }
            closest.get_or_insert(verdicts);
        }
        if found {
            continue;
        }
        match closest {
            // A call of that name was made, with other arguments: say which differ.
            Some(verdicts) => out.extend(verdicts.into_iter().filter(|v| !v.passed)),
            None => out.push(
                fail(&what, format!("tool_calls: expected a call to {}, got {}", want.name, made()))
                    .values(format!("a call to {}", want.name), made()),
            ),
        }
    }
}
