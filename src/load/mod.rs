//! Stage 1, load: suite file → positioned tree → interpolated tree → typed suite header.
//!
//! Loading reads files (the suite and its env files) and the process environment; nothing
//! after this stage does. Tests stay as trees: the planner checks each one per `for_each`
//! combination, because placeholders can change what a field holds.

pub(crate) mod cases;
pub(crate) mod de;
pub(crate) mod error;
mod hints;
pub(crate) mod interp;
pub(crate) mod tree;

use error::{Diagnostic, SourceFile, SuiteErrors};
use interp::Scope;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tree::{Node, Span, Value};

use crate::perf::baseline::Baseline;
use crate::suite::SuiteDoc;

/// What the command line adds to every suite.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoadOptions {
    /// `--var KEY=VALUE`; VALUE is read as YAML, so `--var models=[a, b]` gives a list.
    pub(crate) vars: Vec<(String, String)>,
    /// `--env-file FILE`, in order (a later file wins over an earlier one).
    pub(crate) env_files: Vec<PathBuf>,
    /// The process environment (injected so tests do not depend on the real one).
    pub(crate) env: BTreeMap<String, String>,
    /// `--baseline FILE`: a stored run for perf comparisons (overrides the suite's).
    pub(crate) baseline: Option<PathBuf>,
}

impl LoadOptions {
    /// Options with the real process environment.
    pub(crate) fn from_process_env() -> Self {
        LoadOptions { env: std::env::vars().collect(), ..Default::default() }
    }
}

/// A loaded suite: its header, typed, and its tests as interpolated trees.
#[derive(Debug)]
pub(crate) struct LoadedSuite {
    pub(crate) path: PathBuf,
    pub(crate) source: Arc<SourceFile>,
    pub(crate) doc: SuiteDoc,
    pub(crate) tests: Vec<Node>,
    /// Where `tests:` is written (for "the suite has no tests").
    pub(crate) tests_span: Option<Span>,
    /// What loading changed that a user may want to know (-v shows them).
    pub(crate) notes: Vec<String>,
    /// What a user should change though the suite runs (printed always): a credential written
    /// into the file.
    pub(crate) warnings: Vec<String>,
    /// Values that must never appear in a report (from `secrets:`).
    pub(crate) secret_values: Vec<String>,
    /// Problems found while loading that did not stop it (an undefined variable, say); the
    /// planner reports them together with its own.
    pub(crate) errors: Vec<Diagnostic>,
    /// The stored run perf tests compare with, if any.
    pub(crate) baseline: Option<Baseline>,
    /// The rows of the case files tests' `for_each` name (`{ file: cases.jsonl }`).
    pub(crate) cases: cases::Cases,
}

/// Loads and interpolates one suite file. Problems that leave the suite readable are kept in
/// `LoadedSuite::errors` so the planner can report them with its own, all at once.
pub(crate) fn load(path: &Path, opts: &LoadOptions) -> Result<LoadedSuite, SuiteErrors> {
    let name = path.display().to_string();
    let fail = |text: String, span, message: String| {
        let source = Arc::new(SourceFile { name: name.clone(), text });
        SuiteErrors(vec![Diagnostic::new(&source, span, message)])
    };
    let bytes = crate::files::read(path, "suite")
        .map_err(|e| fail(String::new(), None, format!("cannot read suite: {e}")))?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let (message, span) = hints::not_utf8(e.as_bytes(), &e.utf8_error());
            let readable = String::from_utf8_lossy(e.as_bytes()).into_owned();
            return Err(fail(readable, Some(span), message));
        }
    };
    load_str(path, text, opts)
}

/// Loads a suite from text; `path` names it in messages and anchors relative paths.
pub(crate) fn load_str(path: &Path, text: String, opts: &LoadOptions) -> Result<LoadedSuite, SuiteErrors> {
    let source = Arc::new(SourceFile { name: path.display().to_string(), text });
    let diag = |span: Option<Span>, msg: String| Diagnostic::new(&source, span, msg);
    let root = tree::parse(&source.text).map_err(|e| {
        let (message, span) = match e {
            tree::ParseError::Yaml(e) => {
                hints::explain(&e.to_string(), e.location().map(Span::from_location), &source.text)
            }
            tree::ParseError::TooLarge(why) => (why, None),
        };
        SuiteErrors(vec![diag(span, message)])
    })?;
    if !matches!(root.value, Value::Map(_)) {
        // An empty document has no node to point at: its first line is the place.
        let span = if root.span.is_known() { root.span } else { Span { line: 1, col: 1, offset: 0, len: 0 } };
        return Err(SuiteErrors(vec![diag(
            Some(span),
            format!("a suite must be a mapping with `suite:` and `tests:`, found {}", root.kind()),
        )]));
    }

    let mut errors: Vec<de::DeError> = Vec::new();
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let mut scope = Scope { env: opts.env.clone(), ..Default::default() };
    let env_only = scope.clone();

    // Env files: the suite's (resolved against the environment only), then --env-file.
    if let Some(node) = root.get("env_file") {
        let resolved = interp::interpolate(node, &env_only, &mut errors);
        for file in scalar_list(&resolved) {
            match interp::read_env_file(&base_dir.join(&file)) {
                Ok(vars) => scope.env_files.extend(vars),
                Err(msg) => errors.push(de::DeError { message: msg, span: Some(resolved.span) }),
            }
        }
    }
    for file in &opts.env_files {
        match interp::read_env_file(file) {
            Ok(vars) => scope.env_files.extend(vars),
            Err(msg) => errors.push(de::DeError { message: msg, span: None }),
        }
    }
    // Suite vars may use the environment and env files, not each other.
    if let Some(Value::Map(entries)) = root.get("vars").map(|n| &n.value) {
        let lookup = scope.clone();
        for (key, value) in entries {
            scope.suite_vars.insert(key.name.clone(), interp::interpolate(value, &lookup, &mut errors));
        }
    }
    for (key, value) in &opts.vars {
        match tree::parse(value) {
            Ok(node) => {
                scope.cli_vars.insert(key.clone(), node.respanned(Span::default()));
            }
            Err(e) => errors.push(de::DeError {
                message: format!(
                    "--var {key}={value}: not a valid YAML value: {}",
                    first_line(&e.to_string())
                ),
                span: None,
            }),
        }
    }

    let warnings = literal_credentials(&root)
        .into_iter()
        .map(|(span, what)| {
            format!(
                "{}:{}:{}: {what} is written into the suite: whoever reads the file has it; write it as \
                 ${{NAME}} (e.g. `api_key: ${{API_KEY}}`, `Authorization: \"Bearer ${{TOKEN}}\"`) and set NAME \
                 in the environment or an env file (reports mask it either way)",
                source.name, span.line, span.col
            )
        })
        .collect();
    let mut resolved = interpolate_except(root, &["vars", "env_file"], &scope, &mut errors);
    // `target: http://host:port` — the url alone where a mapping goes: said with the fix, and
    // read as meant so the rest of the suite is checked too.
    if let Value::Map(entries) = &mut resolved.value
        && let Some((_, target)) = entries.iter_mut().find(|(k, _)| k.name == "target")
        && let Value::Str(url) = &target.value
    {
        errors.push(de::DeError {
            message: format!("`target` is a mapping: write `target: {{ url: \"{url}\" }}`"),
            span: Some(target.span),
        });
        let key = tree::Key { name: "url".to_string(), span: target.span };
        target.value = Value::Map(vec![(key, Node::new(Value::Str(url.clone()), target.span))]);
    }
    let mut notes = Vec::new();
    let doc: Option<SuiteDoc> = match de::from_node::<SuiteDoc>(&resolved) {
        Ok(mut doc) => {
            match crate::suite::check_url(&doc.target.url) {
                Ok((url, note)) => {
                    doc.target.url = url;
                    notes.extend(note.map(|n| format!("target.url: {n}")));
                }
                Err(message) => {
                    let span = resolved.get("target").and_then(|t| t.get("url").or(Some(t))).map(|n| n.span);
                    errors.push(de::DeError { message: format!("target.url: {message}"), span });
                }
            }
            if let Some(url) = &mut doc.target.gpu_metrics {
                match crate::suite::check_url(url) {
                    Ok((fixed, note)) => {
                        *url = fixed;
                        notes.extend(note.map(|n| format!("target.gpu_metrics: {n}")));
                    }
                    Err(message) => {
                        let span = resolved.get("target").and_then(|t| t.get("gpu_metrics")).map(|n| n.span);
                        errors.push(de::DeError { message: format!("target.gpu_metrics: {message}"), span });
                    }
                }
            }
            let nodes = match resolved.get("targets").map(|n| &n.value) {
                Some(Value::Seq(items)) => items.clone(),
                _ => Vec::new(),
            };
            for (i, t) in doc.targets.iter_mut().enumerate() {
                let url = match t {
                    crate::suite::FleetTarget::Url(u) => u,
                    crate::suite::FleetTarget::Named(n) => &mut n.url,
                };
                match crate::suite::check_url(url) {
                    Ok((fixed, note)) => {
                        *url = fixed;
                        notes.extend(note.map(|n| format!("targets[{i}]: {n}")));
                    }
                    Err(message) => {
                        let node = nodes.get(i);
                        let span = node.and_then(|n| n.get("url").or(Some(n))).map(|n| n.span);
                        errors.push(de::DeError { message: format!("targets[{i}]: {message}"), span });
                    }
                }
                if let crate::suite::FleetTarget::Named(n) = t
                    && let Some(url) = &mut n.gpu_metrics
                {
                    match crate::suite::check_url(url) {
                        Ok((fixed, note)) => {
                            *url = fixed;
                            notes.extend(note.map(|n| format!("targets[{i}].gpu_metrics: {n}")));
                        }
                        Err(message) => {
                            let span = nodes.get(i).and_then(|n| n.get("gpu_metrics")).map(|n| n.span);
                            errors.push(de::DeError {
                                message: format!("targets[{i}].gpu_metrics: {message}"),
                                span,
                            });
                        }
                    }
                }
            }
            Some(doc)
        }
        Err(e) => {
            errors.push(e);
            None
        }
    };
    if let Some(d) = &doc {
        if let Some(message) = d.defaults.timeout.and_then(|t| crate::suite::timeout_problem("timeout", t)) {
            let span = resolved.get("defaults").and_then(|n| n.entry("timeout")).map(|(k, _)| k.span);
            errors.push(de::DeError { message: format!("defaults.{message}"), span });
        }
        let headers = resolved.get("defaults").and_then(|n| n.get("headers"));
        for (name, value) in &d.defaults.headers {
            if let Some(message) = crate::suite::step::header_problem(name, value) {
                let span = headers.and_then(|h| h.get(name)).or(headers).map(|n| n.span);
                errors.push(de::DeError { message, span });
            }
        }
    }
    // Secrets: the values of `secrets:` variables (a list's items each, and joined), and the
    // target's API key. A name that defines nothing is a mistake that would leak silently.
    let mut secret_values: Vec<String> = Vec::new();
    if let Some(d) = &doc {
        let entries = resolved.get("secrets");
        for (i, name) in d.secrets.iter().enumerate() {
            // A variable the suite uses but that is unset now has nothing to mask; one it never
            // uses and nobody defines is a misspelling.
            let used = [format!("${{{name}}}"), format!("${{{name}:")]
                .iter()
                .any(|u| source.text.contains(u.as_str()));
            match scope.texts_of(name) {
                Some(texts) => secret_values.extend(texts),
                None if used => {}
                None => {
                    let span = match entries.map(|n| &n.value) {
                        Some(Value::Seq(items)) => items.get(i).map(|n| n.span),
                        _ => entries.map(|n| n.span),
                    };
                    errors.push(de::DeError {
                        message: format!(
                            "`secrets` names `{name}`, which is neither defined nor used: a secret to mask \
                             must be a variable (under `vars:`, in the environment or an env file)"
                        ),
                        span,
                    });
                }
            }
        }
        secret_values.extend(d.target.api_key.clone());
        secret_values.extend(d.targets.iter().filter_map(|t| t.api_key().map(str::to_string)));
        secret_values.retain(|v| !v.is_empty());
    }
    // The tests move out of the tree (it keeps their place): a suite's tests are held once.
    let tests_span = resolved.get("tests").map(|n| n.span).or(Some(resolved.span));
    let mut tests = match &mut resolved.value {
        Value::Map(entries) => match entries.iter_mut().find(|(k, _)| k.name == "tests") {
            Some((_, Node { value: Value::Seq(items), .. })) => std::mem::take(items),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let mut cases = cases::Cases::new();
    for test in &mut tests {
        read_schema_files(test, base_dir, &mut errors);
        cases::read_all(test, base_dir, &mut cases, &mut errors);
    }
    let baseline_path = opts
        .baseline
        .clone()
        .or_else(|| doc.as_ref().and_then(|d| d.baseline.as_ref()).map(|b| base_dir.join(b)));
    let baseline = baseline_path.and_then(|p| {
        let span = resolved.get("baseline").map(|n| n.span).filter(|_| opts.baseline.is_none());
        let read = crate::files::read_to_string(&p, "baseline")
            .map_err(|e| format!("cannot read baseline {}: {e}", p.display()))
            .and_then(|text| Baseline::parse(&p.display().to_string(), &text));
        read.map_err(|message| errors.push(de::DeError { message, span })).ok()
    });
    let errors: Vec<Diagnostic> = errors.into_iter().map(|e| diag(e.span, e.message)).collect();
    match doc {
        Some(doc) => Ok(LoadedSuite {
            path: path.to_path_buf(),
            source,
            doc,
            tests,
            tests_span,
            notes,
            warnings,
            secret_values,
            errors,
            baseline,
            cases,
        }),
        None => Err(SuiteErrors(errors)),
    }
}

/// Credentials written as literal text (no `${...}`): the targets' `api_key`, and credential
/// headers in `defaults.headers` and in tests' http requests.
fn literal_credentials(root: &Node) -> Vec<(Span, String)> {
    let literal = |n: &Node| n.as_str().is_some_and(|s| !s.trim().is_empty() && !s.contains("${"));
    let mut out = Vec::new();
    let targets = root.get("targets").map(|t| match &t.value {
        Value::Seq(items) => items.iter().collect::<Vec<_>>(),
        _ => Vec::new(),
    });
    for target in root.get("target").into_iter().chain(targets.into_iter().flatten()) {
        if let Some(key) = target.get("api_key").filter(|k| literal(k)) {
            out.push((key.span, "an `api_key`".to_string()));
        }
    }
    let mut headers: Vec<&Node> = root.get("defaults").and_then(|d| d.get("headers")).into_iter().collect();
    if let Some(Value::Seq(tests)) = root.get("tests").map(|t| &t.value) {
        for test in tests {
            let http = test.get("http").or_else(|| test.get("perf").and_then(|p| p.get("http")));
            headers.extend(http.and_then(|h| h.get("headers")));
        }
    }
    for h in headers {
        if let Value::Map(entries) = &h.value {
            for (k, v) in entries {
                if crate::suite::step::is_sensitive(&k.name) && literal(v) {
                    out.push((v.span, format!("the `{}` header's value", k.name)));
                }
            }
        }
    }
    out
}

fn interpolate_except(root: Node, skip: &[&str], scope: &Scope, errors: &mut Vec<de::DeError>) -> Node {
    match root.value {
        Value::Map(entries) => Node::new(
            Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| {
                        let v = if skip.contains(&k.name.as_str()) {
                            v
                        } else {
                            interp::interpolate_owned(v, scope, errors)
                        };
                        (k, v)
                    })
                    .collect(),
            ),
            root.span,
        ),
        value => interp::interpolate_owned(Node::new(value, root.span), scope, errors),
    }
}

/// Where a JSON Schema may be given as `{ file: x.schema.json }`: a test's `expect.schema` and
/// a generate or chat step's `format` (so one file can ask for a structure and check it).
const SCHEMA_PLACES: &[&[&str]] = &[&["expect", "schema"], &["generate", "format"], &["chat", "format"]];

/// Puts each `{ file: ... }` schema's contents (JSON, or YAML) in its place, read relative to
/// the suite; errors point at the `file:` line.
fn read_schema_files(test: &mut Node, base_dir: &Path, errors: &mut Vec<de::DeError>) {
    for place in SCHEMA_PLACES {
        let Some(node) = node_at(test, place) else { continue };
        let Value::Map(entries) = &node.value else { continue };
        let [(key, file)] = entries.as_slice() else { continue };
        if key.name != "file" {
            continue;
        }
        let span = file.span;
        let Some(name) = file.as_str() else {
            errors.push(de::DeError {
                message: format!("{}.file: expected a file name", place.join(".")),
                span: Some(span),
            });
            continue;
        };
        let path = base_dir.join(name);
        let read = crate::files::read_to_string(&path, "schema")
            .map_err(|e| format!("{}: cannot read {}: {e}", place.join("."), path.display()))
            .and_then(|text| {
                tree::parse(&text)
                    .map_err(|e| format!("{}: {} is not JSON or YAML: {e}", place.join("."), path.display()))
            });
        match read {
            Ok(schema) => *node = schema.respanned(span),
            Err(message) => errors.push(de::DeError { message, span: Some(span) }),
        }
    }
}

/// The node at `path` under `node`, for changing it.
fn node_at<'a>(node: &'a mut Node, path: &[&str]) -> Option<&'a mut Node> {
    let Some((first, rest)) = path.split_first() else { return Some(node) };
    let Value::Map(entries) = &mut node.value else { return None };
    let (_, child) = entries.iter_mut().find(|(k, _)| k.name == *first)?;
    node_at(child, rest)
}

fn scalar_list(node: &Node) -> Vec<String> {
    match &node.value {
        Value::Seq(items) => items.iter().filter_map(Node::scalar_text).collect(),
        _ => node.scalar_text().into_iter().collect(),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
