//! Checks a typed test cannot express by its types alone: which expectations fit which step,
//! which fields a protocol supports, well-formed JSONPaths and metric names.

use crate::load::de::{DeError, did_you_mean};
use crate::load::tree::Node;
use crate::protocol::LlmCall;
use crate::suite::metrics::{self, AGGREGATES, Figure, Metric, PER_REQUEST, Stat};
use crate::suite::step::StepKind;
use crate::suite::timeout_problem;
use crate::suite::{Api, Comparison, Expect, Step, TestSpec};

pub(super) fn check_step(step: &Step, suite_api: Api, node: &Node, errors: &mut Vec<DeError>) {
    let kind = step.kind();
    let key_span = |key: &str| node.get(kind).and_then(|s| s.entry(key)).map(|(k, _)| k.span);
    check_repeat(step, node, errors);
    let mut err = |message: String, span| errors.push(DeError { message, span });
    match step {
        Step::Http(h) => {
            if h.path.is_some() == h.url.is_some() {
                err(
                    "an http step needs exactly one of `path` (joined to the target url) or `url`".to_string(),
                    node.get("http").map(|n| n.span),
                );
            }
            if h.json.is_some() && h.body.is_some() {
                err("an http step takes `json` or `body`, not both".to_string(), key_span("body"));
            }
            check_http_request(h, node.get(kind), errors);
        }
        Step::Perf(p) if p.http.is_some() => {
            let inner = node.get(kind).and_then(|n| n.get("http"));
            check_http_request(p.http.as_ref().expect("checked"), inner, errors);
        }
        Step::Exec(_) if node.get(kind).and_then(|n| n.get("command")).is_some_and(|c| matches!(c.value, crate::load::tree::Value::Str(_))) => err(
            "`exec.command` is the program and its arguments as a list, e.g. [systemctl, is-active, ollama]: \
             hxrun runs no shell, so a text would be one program name (use [sh, -c, \"...\"] for a shell line)"
                .to_string(),
            key_span("command"),
        ),
        Step::Exec(e) if e.command.is_empty() => err(
            "`exec.command` is empty: give the program and its arguments, e.g. [systemctl, is-active, ollama]"
                .to_string(),
            key_span("command"),
        ),
        Step::Generate(g) if g.api.unwrap_or(suite_api) == Api::Openai => {
            for (field, set) in [
                ("system", g.system.is_some()),
                ("keep_alive", g.keep_alive.is_some()),
                ("raw", g.raw.is_some()),
            ] {
                if set {
                    err(ollama_only(field, kind), key_span(field));
                }
            }
        }
        Step::Chat(c) if c.api.unwrap_or(suite_api) == Api::Openai => {
            for (field, set) in [("keep_alive", c.keep_alive.is_some())] {
                if set {
                    err(ollama_only(field, kind), key_span(field));
                }
            }
        }
        Step::Models(m) if !m.loaded.is_empty() || m.fully_on_gpu.is_some() || m.context_length.is_some() => {
            let field = ["loaded", "fully_on_gpu", "context_length"]
                .into_iter()
                .find(|f| node.get(kind).and_then(|n| n.get(f)).is_some())
                .unwrap_or("loaded");
            if m.api.unwrap_or(suite_api) == Api::Openai {
                err(
                    format!("`models.{field}` needs the Ollama API (/api/ps): OpenAI-compatible servers do not list loaded models"),
                    key_span(field),
                );
            } else if m.loaded.is_empty() {
                err(
                    format!("`models.{field}` applies to the models named in `loaded`: add `loaded: [model]`"),
                    key_span(field),
                );
            }
        }
        Step::Pull(_) | Step::Unload(_) if suite_api == Api::Openai => err(
            format!(
                "`{kind}` needs the Ollama API (OpenAI-compatible servers have no such endpoint), but the \
                 suite's target.api is openai"
            ),
            node.get(kind).map(|n| n.span),
        ),
        _ => {}
    }
}

/// `repeat` asks again and again: 1 to 100 times, on a generate or chat step of its own (a
/// perf loop repeats by `iterations`).
fn check_repeat(step: &Step, node: &Node, errors: &mut Vec<DeError>) {
    let (repeat, place) = match step {
        Step::Perf(p) => match (&p.generate, &p.chat) {
            (Some(g), _) if g.repeat.is_some() => {
                (g.repeat, node.get("perf").and_then(|n| n.get("generate")))
            }
            (_, Some(c)) if c.repeat.is_some() => (c.repeat, node.get("perf").and_then(|n| n.get("chat"))),
            _ => return,
        },
        _ => match LlmCall::of_step(step) {
            Some(call) if call.repeat() != 1 => (Some(call.repeat()), node.get(step.kind())),
            _ => return,
        },
    };
    let span = place.and_then(|n| n.entry("repeat")).map(|(k, _)| k.span);
    let message = match (step, repeat) {
        (Step::Perf(_), _) => {
            "`repeat` does not apply inside a perf loop: it repeats by `iterations`".to_string()
        }
        (_, Some(n)) if !(1..=100).contains(&n) => format!("`repeat: {n}`: ask 1 to 100 times"),
        _ => return,
    };
    errors.push(DeError { message, span });
}

/// A method and headers that can be sent as written (no header injection).
fn check_http_request(h: &crate::suite::HttpStep, node: Option<&Node>, errors: &mut Vec<DeError>) {
    let span = |key: &str| node.and_then(|n| n.get(key)).map(|n| n.span).or(node.map(|n| n.span));
    if let Some(message) = h.method.as_deref().and_then(crate::suite::step::method_problem) {
        errors.push(DeError { message, span: span("method") });
    }
    if let Some(url) = &h.url
        && let Err(message) = crate::suite::check_url(url).and_then(|(full, note)| match note {
            None => Ok(()),
            Some(_) => Err(format!("\"{url}\" has no scheme: write {full}")),
        })
    {
        errors.push(DeError { message: format!("url: {message}"), span: span("url") });
    }
    for (name, value) in &h.headers {
        if let Some(message) = crate::suite::step::header_problem(name, value) {
            let at = node.and_then(|n| n.get("headers")).and_then(|h| h.get(name)).map(|n| n.span);
            errors.push(DeError { message, span: at.or(span("headers")) });
        }
    }
}

fn ollama_only(field: &str, kind: &str) -> String {
    format!("`{kind}.{field}` is an Ollama option; OpenAI-compatible servers have no equivalent")
}

pub(super) fn check_expect(
    expect: &Expect,
    step: &Step,
    suite_api: Api,
    node: &Node,
    errors: &mut Vec<DeError>,
) {
    let kind = step.kind();
    let expect_node = node.get("expect");
    check_stream_only(expect, step, suite_api, expect_node, errors);
    let set = [
        ("status", expect.status.is_some()),
        ("headers", !expect.headers.is_empty()),
        ("body", expect.body.is_some()),
        ("json", !expect.json.is_empty()),
        ("schema", expect.schema.is_some()),
        ("exit_code", expect.exit_code.is_some()),
        ("stdout", expect.stdout.is_some()),
        ("stderr", expect.stderr.is_some()),
        ("text", expect.text.is_some()),
        ("similar", expect.similar.is_some()),
        ("metrics", !expect.metrics.is_empty()),
        ("agree", expect.agree.is_some()),
        ("consistent", expect.consistent.is_some()),
        ("tool_calls", expect.tool_calls.is_some()),
        ("embeddings", expect.embeddings.is_some()),
    ];
    if let (Some(e), Step::Embed(step)) = (&expect.embeddings, step) {
        let n = step.input.texts().len();
        if let Some(s) = e.similarity.iter().find(|s| s.a >= n || s.b >= n) {
            let span = expect_node
                .and_then(|e| e.get("embeddings"))
                .and_then(|e| e.get("similarity"))
                .map(|n| n.span);
            errors.push(DeError {
                message: format!(
                    "`similarity` compares inputs {} and {}, but `input` has {n} text{} (positions 0 to {})",
                    s.a,
                    s.b,
                    if n == 1 { "" } else { "s" },
                    n.saturating_sub(1)
                ),
                span,
            });
        }
    }
    if let (Some(_), Step::Chat(c)) = (&expect.tool_calls, step)
        && c.tools.is_empty()
    {
        let span = expect_node.and_then(|e| e.get("tool_calls")).map(|n| n.span);
        errors.push(DeError {
            message: "`expect.tool_calls` needs `tools:` on the chat step: a model calls only the functions it is offered"
                .into(),
            span,
        });
    }
    for (field, is_set) in set {
        if is_set && !step.step_kind().expectations().contains(&field) {
            let list: Vec<String> = StepKind::ALL
                .into_iter()
                .filter(|k| k.expectations().contains(&field))
                .map(|k| format!("`{}`", k.name()))
                .collect();
            errors.push(DeError {
                message: format!(
                    "`expect.{field}` applies to {} steps, but this test's step is `{kind}`",
                    list.join(", ")
                ),
                span: expect_node.and_then(|e| e.entry(field)).map(|(k, _)| k.span),
            });
        }
    }
    for (field, m) in [
        ("body", &expect.body),
        ("stdout", &expect.stdout),
        ("stderr", &expect.stderr),
        ("text", &expect.text),
    ] {
        if m.as_ref().is_some_and(|m| m.exists.is_some()) {
            let at =
                expect_node.and_then(|e| e.get(field)).and_then(|n| n.entry("exists")).map(|(k, _)| k.span);
            errors.push(DeError {
                message: format!("`exists` applies to headers; `expect.{field}` is always there (check it with `matches: \".\"` for non-empty)"),
                span: at,
            });
        }
    }
    if expect.consistent.is_some() && LlmCall::of_step(step).is_some_and(|c| c.repeat() < 2) {
        errors.push(DeError {
            message: "`expect.consistent` compares repeated answers: add `repeat: 5` (2 or more) to the step"
                .to_string(),
            span: expect_node.and_then(|e| e.entry("consistent")).map(|(k, _)| k.span),
        });
    }
    for path in expect.json.keys() {
        if let Err(e) = serde_json_path::JsonPath::parse(path) {
            errors.push(DeError {
                message: format!(
                    "`{path}` is not a valid JSONPath (RFC 9535, e.g. $.models[0].name): {e}{}",
                    if path.contains("[]") {
                        format!("; every element is `[*]`: `{}`", path.replace("[]", "[*]"))
                    } else {
                        String::new()
                    }
                ),
                span: expect_node
                    .and_then(|e| e.get("json"))
                    .and_then(|j| j.entry(path))
                    .map(|(k, _)| k.span),
            });
        }
    }
    // GPU figures, sampled while the step runs, besides what the answer records.
    let names: Vec<&str> = metrics::LLM.iter().chain(metrics::GPU).map(|m| m.name()).collect();
    let api = LlmCall::of_step(step).and_then(|c| c.api()).unwrap_or(suite_api);
    for (name, matcher) in &expect.metrics {
        let at =
            || expect_node.and_then(|e| e.get("metrics")).and_then(|m| m.entry(name)).map(|(k, _)| k.span);
        let metric = Metric::of_step(name);
        if let (Some(metric), crate::suite::JsonMatch::Compare(c)) = (metric, matcher.as_ref())
            && let Some(message) = unit_problem(name, metric.unit(), c)
        {
            let span = expect_node.and_then(|e| e.get("metrics")).and_then(|m| m.get(name)).map(|n| n.span);
            errors.push(DeError { message, span });
        }
        if let Some(only) = metric.and_then(Metric::only).filter(|only| *only != api) {
            let instead = if only == Api::Ollama {
                "output_tokens or completion_tokens"
            } else {
                "output_tokens or eval_count"
            };
            errors.push(DeError {
                message: format!(
                    "`{name}` comes only from {only}'s answers, and this step speaks {api}: it would never be \
                     recorded; use {instead}"
                ),
                span: at(),
            });
        }
        if metric.is_none() {
            let hint =
                did_you_mean(name, &names).map(|b| format!(", did you mean `{b}`?")).unwrap_or_default();
            errors.push(DeError {
                message: format!(
                    "unknown metric `{name}`{hint} — recorded metrics are: {}",
                    names.join(", ")
                ),
                span: expect_node
                    .and_then(|e| e.get("metrics"))
                    .and_then(|m| m.entry(name))
                    .map(|(k, _)| k.span),
            });
        }
    }
}

/// A check that can never be measured in this test's mode (`ttft` of a `stream: false` answer
/// — the run would always fail it) is refused with the fix.
fn check_stream_only(
    expect: &Expect,
    step: &Step,
    suite_api: Api,
    expect_node: Option<&Node>,
    errors: &mut Vec<DeError>,
) {
    let Some(call) = LlmCall::of_step(step) else { return };
    let api = call.api().unwrap_or(suite_api);
    if call.stream().unwrap_or_else(|| crate::protocol::for_api(api).default_stream()) {
        return;
    }
    let why = "is measured only on a streamed answer, and this test's answer is not streamed \
               (stream: false)";
    let fix = "ask it of a test with `stream: true` — with `for_each: { stream: [false, true] }`, in an \
               `expect` block of its own with `when: \"{{stream}}\"` — or bound `e2e` instead";
    // What only a stream measures (`Metric::stream_only`), and so the agreement of the server's
    // figures with it.
    for name in expect.metrics.keys().filter(|n| Metric::of_step(n).is_some_and(Metric::stream_only)) {
        errors.push(DeError {
            message: format!("`{name}` {why}: {fix}"),
            span: expect_node.and_then(|e| e.get("metrics")).and_then(|m| m.entry(name)).map(|(k, _)| k.span),
        });
    }
    if expect.agree.is_some() {
        errors.push(DeError {
            message: format!(
                "`agree` compares the server's figures with what the client measured of a stream; it {why}: \
                 set `stream: true` on this test"
            ),
            span: expect_node.and_then(|e| e.entry("agree")).map(|(k, _)| k.span),
        });
    }
}

/// Durations that would make a test pass by measuring nothing, or fail by the clock's grain:
/// a test's `timeout`, a stream's `chunk_timeout`, a perf loop's `duration`.
pub(super) fn check_durations(spec: &TestSpec, step: &Step, node: &Node, errors: &mut Vec<DeError>) {
    let key_span = |parent: Option<&Node>, key: &str| parent.and_then(|n| n.entry(key)).map(|(k, _)| k.span);
    if let Some(message) = spec.timeout.and_then(|t| timeout_problem("timeout", t)) {
        errors.push(DeError { message, span: key_span(Some(node), "timeout") });
    }
    let (inner, inner_node) = match step {
        Step::Perf(p) => {
            let perf = node.get("perf");
            if p.duration.is_some_and(|d| d.is_zero()) {
                errors.push(DeError {
                    message: "`duration: 0s` measures no request, so the test would pass on nothing: give \
                              the length of the loop (e.g. `duration: 30s`) or `iterations`"
                        .to_string(),
                    span: key_span(perf, "duration"),
                });
            }
            let call = LlmCall::of_perf(p);
            (call, perf.and_then(|n| call.and_then(|c| n.get(c.kind()))))
        }
        other => (LlmCall::of_step(other), Some(node).and_then(|n| n.get(other.kind()))),
    };
    if let Some(message) =
        inner.and_then(|c| c.chunk_timeout()).and_then(|t| timeout_problem("chunk_timeout", t))
    {
        errors.push(DeError { message, span: key_span(inner_node, "chunk_timeout") });
    }
}

/// Why a comparison's unit does not fit its figure's, if it does not: a time without `ms`/`s`
/// (`ttft.p95: "< 500"` would be 500 seconds, a gate that never fails), a percentage without
/// `%` (`cov: "< 0.2"` would be 0.2 %), a size without a size unit, or a unit on a plain count.
/// A bound of 0 needs no unit.
pub(super) fn unit_problem(name: &str, unit: metrics::Unit, c: &Comparison) -> Option<String> {
    use crate::suite::Unit as Written;
    use metrics::Unit as Of;
    if c.value == 0.0 && c.unit == Written::None {
        return None;
    }
    let op = c.op.symbol();
    let n = crate::suite::values::trim_float(c.value);
    let message = match (unit, c.unit) {
        (Of::Seconds, Written::Seconds) | (Of::Percent, Written::Percent) | (Of::Bytes, Written::Bytes) => {
            return None;
        }
        (Of::Seconds, Written::None) => format!(
            "`{name}: \"{}\"` is a time without a unit (a bare number would be read as seconds): write \
             \"{op} {n}ms\" or \"{op} {n}s\"",
            c.text
        ),
        (Of::Seconds, _) => format!("`{name}` is a time: write its bound with ms or s (e.g. \"{op} 500ms\")"),
        (Of::Percent, Written::None) => {
            let share = if c.value < 1.0 {
                format!(
                    " (a share of {n} is \"{op} {}%\")",
                    crate::suite::values::trim_float(c.value * 100.0)
                )
            } else {
                String::new()
            };
            format!("`{name}: \"{}\"` is a percentage: write it with % — \"{op} {n}%\"{share}", c.text)
        }
        (Of::Percent, _) => format!("`{name}` is a percentage: write its bound with % (e.g. \"{op} 20%\")"),
        (Of::Bytes, _) => {
            format!("`{name}` is a size: write its bound with B, KiB, MiB, GiB or GB (e.g. \"{op} 24GiB\")")
        }
        (_, Written::None) => return None,
        (_, _) => format!("`{name}` is a plain number: write its bound without a unit (e.g. \"{op} {n}\")"),
    };
    Some(message)
}

/// Every name a threshold may use: `metric.statistic` or an aggregate.
pub(super) fn figure_names() -> Vec<String> {
    Figure::all().iter().map(Figure::name).collect()
}

pub(super) fn check_figure_name(name: &str) -> Result<(), String> {
    let names = figure_names();
    if names.iter().any(|n| n == name) {
        return Ok(());
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let hint = did_you_mean(name, &refs).map(|b| format!(", did you mean `{b}`?")).unwrap_or_default();
    let metrics: Vec<&str> = PER_REQUEST.iter().map(|m| m.name()).collect();
    let aggregates: Vec<&str> = AGGREGATES.iter().map(|m| m.name()).collect();
    let stats: Vec<&str> = Stat::ALL.iter().map(|s| s.name()).collect();
    Err(format!(
        "unknown perf figure `{name}`{hint} — use METRIC.STATISTIC with a metric of {} and a statistic of {}, \
         or one of {}",
        metrics.join(", "),
        stats.join(", "),
        aggregates.join(", ")
    ))
}

/// `capture:` takes values from what a step returns: a body, an answer or command output
/// (headers: http steps only).
pub(crate) fn check_capture(spec: &TestSpec, step: &Step, node: &Node, errors: &mut Vec<DeError>) {
    use crate::suite::capture::From;
    let kind = step.step_kind();
    for (name, c) in &spec.capture {
        let span = node.get("capture").and_then(|n| n.get(name)).or(node.get("capture")).map(|n| n.span);
        let problem = match (kind, &c.from) {
            (StepKind::Http, _) => None,
            (StepKind::Exec | StepKind::Generate | StepKind::Chat, From::Header(_)) => Some(format!(
                "`capture.{name}` reads a header, which only http steps keep; this step is `{}`",
                kind.name()
            )),
            (StepKind::Exec | StepKind::Generate | StepKind::Chat, _) => None,
            _ => Some(format!(
                "`capture.{name}`: captures come from http, exec, generate and chat steps; this step is `{}`",
                kind.name()
            )),
        };
        if let Some(message) = problem {
            errors.push(DeError { message, span });
        }
    }
}
