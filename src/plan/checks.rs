//! Checks a typed test cannot express by its types alone: which expectations fit which step,
//! which fields a protocol supports, well-formed JSONPaths and metric names.

use crate::assert::llm::metric_names;
use crate::load::de::{DeError, did_you_mean};
use crate::load::tree::Node;
use crate::spec::{Api, Expect, Step};

pub fn check_step(step: &Step, suite_api: Api, node: &Node, errors: &mut Vec<DeError>) {
    let kind = step.kind();
    let key_span = |key: &str| node.get(kind).and_then(|s| s.entry(key)).map(|(k, _)| k.span);
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
        }
        Step::Exec(e) if e.command.is_empty() => err(
            "`exec.command` is empty: give the program and its arguments, e.g. [systemctl, is-active, ollama]"
                .to_string(),
            key_span("command"),
        ),
        Step::Generate(g) if g.api.unwrap_or(suite_api) == Api::Openai => {
            for (field, set) in [
                ("system", g.system.is_some()),
                ("format", g.format.is_some()),
                ("keep_alive", g.keep_alive.is_some()),
                ("raw", g.raw.is_some()),
            ] {
                if set {
                    err(ollama_only(field, kind), key_span(field));
                }
            }
        }
        Step::Chat(c) if c.api.unwrap_or(suite_api) == Api::Openai => {
            for (field, set) in [("format", c.format.is_some()), ("keep_alive", c.keep_alive.is_some())] {
                if set {
                    err(ollama_only(field, kind), key_span(field));
                }
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

fn ollama_only(field: &str, kind: &str) -> String {
    format!("`{kind}.{field}` is an Ollama option; OpenAI-compatible servers have no equivalent")
}

/// Which step kinds each expectation applies to.
const APPLIES: &[(&str, &[&str])] = &[
    ("status", &["http", "unload", "generate", "chat"]),
    ("headers", &["http", "unload"]),
    ("body", &["http", "unload"]),
    ("json", &["http", "unload", "exec"]),
    ("exit_code", &["exec"]),
    ("stdout", &["exec"]),
    ("stderr", &["exec"]),
    ("text", &["generate", "chat"]),
    ("metrics", &["generate", "chat"]),
    ("agree", &["generate", "chat"]),
];

pub fn check_expect(expect: &Expect, step: &Step, node: &Node, errors: &mut Vec<DeError>) {
    let kind = step.kind();
    let expect_node = node.get("expect");
    let set = [
        ("status", expect.status.is_some()),
        ("headers", !expect.headers.is_empty()),
        ("body", expect.body.is_some()),
        ("json", !expect.json.is_empty()),
        ("exit_code", expect.exit_code.is_some()),
        ("stdout", expect.stdout.is_some()),
        ("stderr", expect.stderr.is_some()),
        ("text", expect.text.is_some()),
        ("metrics", !expect.metrics.is_empty()),
        ("agree", expect.agree.is_some()),
    ];
    for (field, is_set) in set {
        let kinds = APPLIES.iter().find(|(f, _)| *f == field).map_or(&[][..], |(_, k)| *k);
        if is_set && !kinds.contains(&kind) {
            let list: Vec<String> = kinds.iter().map(|k| format!("`{k}`")).collect();
            errors.push(DeError {
                message: format!(
                    "`expect.{field}` applies to {} steps, but this test's step is `{kind}`",
                    list.join(", ")
                ),
                span: expect_node.and_then(|e| e.entry(field)).map(|(k, _)| k.span),
            });
        }
    }
    for path in expect.json.keys() {
        if let Err(e) = serde_json_path::JsonPath::parse(path) {
            errors.push(DeError {
                message: format!("`{path}` is not a valid JSONPath (RFC 9535, e.g. $.models[0].name): {e}"),
                span: expect_node
                    .and_then(|e| e.get("json"))
                    .and_then(|j| j.entry(path))
                    .map(|(k, _)| k.span),
            });
        }
    }
    let names = metric_names();
    for name in expect.metrics.keys() {
        if !names.contains(&name.as_str()) {
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
