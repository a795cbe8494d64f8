//! The step kinds a test can run: what to do, not how (that is `execute/`).

use super::gpu::GpuStep;
use super::llm::{ChatStep, GenerateStep, ModelsStep, PullStep, UnloadStep};
use super::perf::PerfStep;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An HTTP request. `path` is joined to the target url; `url` is used as is.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HttpStep {
    /// HTTP method (default GET, or POST when `json` or `body` is given).
    pub(crate) method: Option<String>,
    /// Path joined to the suite's target url, e.g. /api/version.
    pub(crate) path: Option<String>,
    /// An absolute url, instead of `path`.
    pub(crate) url: Option<String>,
    /// Request headers (added to `defaults.headers`).
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
    /// Query parameters.
    #[serde(default)]
    pub(crate) query: BTreeMap<String, String>,
    /// A JSON request body (sets Content-Type: application/json).
    pub(crate) json: Option<serde_json::Value>,
    /// A raw text request body.
    pub(crate) body: Option<String>,
}

impl HttpStep {
    /// The method to send: as written, else POST with a body and GET without.
    pub(crate) fn method_name(&self) -> String {
        match &self.method {
            Some(m) => m.to_uppercase(),
            None if self.json.is_some() || self.body.is_some() => "POST".to_string(),
            None => "GET".to_string(),
        }
    }
}

/// Header names whose values are credentials, masked in every report whoever wrote them.
pub(crate) const SENSITIVE_HEADERS: &[&str] =
    &["authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie"];

pub(crate) fn is_sensitive(header: &str) -> bool {
    SENSITIVE_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(header))
}

/// The secret values among headers: each credential header's value, and its last word alone
/// (`Bearer abc` → also `abc`).
pub(crate) fn credentials<'a>(headers: impl IntoIterator<Item = (&'a String, &'a String)>) -> Vec<String> {
    headers
        .into_iter()
        .filter(|(k, _)| is_sensitive(k))
        .flat_map(|(_, v)| [v.clone(), v.split_whitespace().last().unwrap_or(v).to_string()])
        .collect()
}

/// The password of a url's user-info (`http://user:PASS@host/`), as written and decoded, and
/// the Basic-auth header value it is sent as: each masked like any credential.
pub(crate) fn url_password(url: &str) -> Vec<String> {
    let Ok(parsed) = reqwest::Url::parse(url.trim()) else { return Vec::new() };
    let Some(written) = parsed.password() else { return Vec::new() };
    let mut out = vec![written.to_string()];
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let (password, user) = (decode(written), decode(parsed.username()));
    // The Basic-auth header's value, whole (its edges would otherwise show).
    out.push(crate::mask::base64(format!("{user}:{password}").as_bytes()));
    out.push(password);
    out
}

/// Whether `s` is an HTTP token (a method or a header name, RFC 9110 §5.6.2).
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether `s` may be sent as a header value: no CR, LF or NUL, which would end the header
/// and let the rest be read as another header, or another request.
pub(crate) fn is_header_value(s: &str) -> bool {
    !s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

/// What is wrong with a header a suite asks to send, if anything.
pub(crate) fn header_problem(name: &str, value: &str) -> Option<String> {
    if !is_token(name) {
        Some(format!(
            "header name \"{}\" cannot be sent: a name is letters, digits and !#$%&'*+-.^_`|~ only",
            name.escape_debug()
        ))
    } else if !is_header_value(value) {
        Some(format!(
            "the value of header \"{name}\" holds a line break or NUL, which would end the header early \
             (header injection): remove it"
        ))
    } else {
        None
    }
}

/// What is wrong with a method a suite asks to send, if anything.
pub(crate) fn method_problem(method: &str) -> Option<String> {
    (!is_token(method)).then(|| {
        format!(
            "\"{}\" is not an HTTP method: write GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS",
            method.escape_debug()
        )
    })
}

/// A TCP connection check: does something listen on host:port? Both default to the
/// target url's (so `tcp: {}` checks that the server's port is bound).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TcpStep {
    /// Host name or address (default: the target url's host).
    pub(crate) host: Option<String>,
    /// Port number (default: the target url's port).
    pub(crate) port: Option<u16>,
}

/// A command run without a shell; `command` is the argument vector.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExecStep {
    /// Program and arguments, e.g. [systemctl, is-active, ollama].
    pub(crate) command: Vec<String>,
    /// Extra environment variables for the command.
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    /// Working directory (relative paths are relative to the suite file).
    pub(crate) cwd: Option<String>,
}

/// The one thing a test does.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Step {
    Http(HttpStep),
    Tcp(TcpStep),
    Exec(ExecStep),
    Generate(GenerateStep),
    Chat(ChatStep),
    Pull(PullStep),
    Models(ModelsStep),
    Unload(UnloadStep),
    Embed(super::embed::EmbedStep),
    // Boxed: it holds a whole request step of its own.
    Perf(Box<PerfStep>),
    // Boxed: its matchers make it the largest step by far.
    Gpu(Box<GpuStep>),
}

impl Step {
    /// The YAML key of this step kind.
    pub(crate) fn kind(&self) -> &'static str {
        self.step_kind().name()
    }

    pub(crate) fn step_kind(&self) -> StepKind {
        match self {
            Step::Http(_) => StepKind::Http,
            Step::Tcp(_) => StepKind::Tcp,
            Step::Exec(_) => StepKind::Exec,
            Step::Generate(_) => StepKind::Generate,
            Step::Chat(_) => StepKind::Chat,
            Step::Pull(_) => StepKind::Pull,
            Step::Models(_) => StepKind::Models,
            Step::Unload(_) => StepKind::Unload,
            Step::Embed(_) => StepKind::Embed,
            Step::Perf(_) => StepKind::Perf,
            Step::Gpu(_) => StepKind::Gpu,
        }
    }
}

/// The kinds of step, one per `Step` variant: the key a test writes, and which `expect`
/// fields apply to it. The matches are exhaustive, so a new kind must say both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepKind {
    Http,
    Tcp,
    Exec,
    Generate,
    Chat,
    Pull,
    Models,
    Unload,
    Embed,
    Perf,
    Gpu,
}

impl StepKind {
    /// Every kind, in the order the docs list them.
    pub(crate) const ALL: [StepKind; 11] = [
        StepKind::Http,
        StepKind::Tcp,
        StepKind::Exec,
        StepKind::Generate,
        StepKind::Chat,
        StepKind::Pull,
        StepKind::Models,
        StepKind::Unload,
        StepKind::Embed,
        StepKind::Perf,
        StepKind::Gpu,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            StepKind::Http => "http",
            StepKind::Tcp => "tcp",
            StepKind::Exec => "exec",
            StepKind::Generate => "generate",
            StepKind::Chat => "chat",
            StepKind::Pull => "pull",
            StepKind::Models => "models",
            StepKind::Unload => "unload",
            StepKind::Embed => "embed",
            StepKind::Perf => "perf",
            StepKind::Gpu => "gpu",
        }
    }

    /// The `expect` fields that apply to this kind (`duration` applies to every kind; a perf
    /// test is judged by `thresholds`, a gpu step by its own matchers).
    pub(crate) fn expectations(self) -> &'static [&'static str] {
        match self {
            StepKind::Http | StepKind::Unload => &["status", "headers", "body", "json", "schema"],
            StepKind::Exec => &["json", "schema", "exit_code", "stdout", "stderr"],
            StepKind::Generate => {
                &["status", "text", "similar", "json", "schema", "metrics", "agree", "consistent"]
            }
            StepKind::Chat => &[
                "status",
                "text",
                "similar",
                "json",
                "schema",
                "metrics",
                "agree",
                "consistent",
                "tool_calls",
            ],
            StepKind::Embed => &["status", "embeddings"],
            StepKind::Tcp | StepKind::Pull | StepKind::Models | StepKind::Perf | StepKind::Gpu => &[],
        }
    }
}
