//! The suite format: the Rust types behind the YAML and its JSON Schema.
//!
//! `SuiteDoc` is the file as written; each entry of `tests` is checked as a `TestSpec` by the
//! planner, once per `for_each` combination, after placeholders are filled in. The JSON Schema
//! (`hxrun schema`) is generated from these types and their doc comments.

pub(crate) mod capture;
pub(crate) mod embed;
pub(crate) mod emit;
pub(crate) mod expect;
pub(crate) mod gpu;
pub(crate) mod llm;
pub(crate) mod metrics;
pub(crate) mod perf;
pub(crate) mod placeholder;
pub(crate) mod schema;
pub(crate) mod schema_check;
pub(crate) mod shapes;
pub(crate) mod spanned;
pub(crate) mod step;
pub(crate) mod values;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

pub(crate) use expect::{Expect, JsonMatch, JsonMatchFull, JsonType, TextMatch};
pub(crate) use llm::{ChatStep, GenerateStep, ModelsStep, PullStep, Tolerance, UnloadStep};
pub(crate) use perf::PerfStep;
pub use schema::json_schema;
pub(crate) use step::{ExecStep, HttpStep, Step, TcpStep};
pub(crate) use values::{CodeMatch, Comparison, Skip, Unit};

/// The default step timeout when neither the test, the suite nor --timeout sets one.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The shortest timeout hxrun takes: below it no request can be answered, so the test would
/// pass or fail by the clock's grain rather than by the server.
pub(crate) const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// Why `d` is no timeout, if it is not (said with the key it came from).
pub(crate) fn timeout_problem(key: &str, d: Duration) -> Option<String> {
    (d < MIN_TIMEOUT).then(|| {
        format!(
            "`{key}: {}` leaves no time for an answer: give the longest a request may take, with a unit \
             (e.g. `{key}: 30s`)",
            humantime::format_duration(d)
        )
    })
}

/// The servers the built-in simulator can answer as (`--sim-flavor`'s names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub(crate) enum SimulatorKind {
    #[serde(rename = "ollama")]
    Ollama,
    #[serde(rename = "llama.cpp")]
    LlamaCpp,
    #[serde(rename = "vllm")]
    Vllm,
    #[serde(rename = "tgi")]
    Tgi,
}

/// An hxrun test suite.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "hxrun suite")]
pub(crate) struct SuiteDoc {
    /// The suite's name (the JUnit classname of its tests).
    pub(crate) suite: String,
    /// What the suite checks, for people.
    pub(crate) description: Option<String>,
    /// The server under test.
    #[serde(default)]
    pub(crate) target: Target,
    /// A fleet: every test runs against each of these servers (urls, or named targets with
    /// their own `api`, `api_key`, `tls`); `target` gives what they leave out. `--target`
    /// (repeatable) replaces the list.
    #[serde(default)]
    pub(crate) targets: Vec<FleetTarget>,
    /// Which server `--sim` answers as for this suite when `--sim-flavor` does not say (a suite
    /// written for llama-server needs its `timings`).
    #[allow(dead_code)] // read by the command line before the simulator starts
    pub(crate) simulator: Option<SimulatorKind>,
    /// KEY=VALUE file(s) whose variables `${KEY}` may use (relative to this file).
    #[allow(dead_code)] // read from the positioned tree by `load` before interpolation
    pub(crate) env_file: Option<EnvFiles>,
    /// Suite variables for `${name}`: text, numbers, or lists (a list can feed `for_each`).
    #[serde(default)]
    #[allow(dead_code)] // read from the positioned tree by `load` before interpolation
    pub(crate) vars: BTreeMap<String, serde_json::Value>,
    /// Names of variables whose values are secret: they are masked in every report and log.
    #[serde(default)]
    pub(crate) secrets: Vec<String>,
    /// Settings every test inherits.
    #[serde(default)]
    pub(crate) defaults: Defaults,
    /// A stored run (hxrun JSON report) that perf tests are compared with; relative to this
    /// file. `--baseline` overrides it.
    pub(crate) baseline: Option<String>,
    /// The tests, run in order.
    #[schemars(with = "Vec<TestSpec>")]
    #[serde(default)]
    #[allow(dead_code)] // typed one by one by `plan`, after for_each expansion
    pub(crate) tests: Vec<serde::de::IgnoredAny>,
}

/// One env file or several.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // typed for the schema and the field's errors; `load` reads the tree
pub(crate) enum EnvFiles {
    One(String),
    Many(Vec<String>),
}

/// The server under test.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Target {
    /// Base url, e.g. ${OLLAMA_HOST:-http://127.0.0.1:11434}.
    #[serde(default = "default_url")]
    pub(crate) url: String,
    /// The API the server speaks.
    #[serde(default)]
    pub(crate) api: Api,
    /// API key sent as `Authorization: Bearer <key>`, e.g. ${OPENAI_API_KEY}. Never written
    /// to any report.
    pub(crate) api_key: Option<String>,
    /// How to trust an `https://` target, like curl's options (relative paths are the suite's).
    #[serde(default)]
    pub(crate) tls: Tls,
    /// Where this server's GPUs are read: a Prometheus endpoint on its machine serving them in
    /// dcgm-exporter's names (dcgm-exporter, `hxrun monitor --listen`) or nvidia_gpu_exporter's,
    /// e.g. ${HXRUN_GPU_METRICS_URL:-http://llm-02:9400/metrics}. Without it, GPU figures are
    /// this machine's (NVML). `--gpu-source` overrides it.
    pub(crate) gpu_metrics: Option<String>,
}

impl Default for Target {
    fn default() -> Self {
        Target {
            url: default_url(),
            api: Api::default(),
            api_key: None,
            tls: Tls::default(),
            gpu_metrics: None,
        }
    }
}

/// One server of a fleet: its url, or the url with its own name and settings.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum FleetTarget {
    Url(String),
    Named(NamedTarget),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NamedTarget {
    /// How reports name it (default: the url's host and port).
    pub(crate) name: Option<String>,
    pub(crate) url: String,
    /// The API it speaks (default: `target.api`).
    pub(crate) api: Option<Api>,
    /// Its API key (default: `target.api_key`); masked in every report.
    pub(crate) api_key: Option<String>,
    /// How to trust it (default: `target.tls`).
    pub(crate) tls: Option<Tls>,
    /// Where its GPUs are read (default: `target.gpu_metrics`): its machine's metrics endpoint.
    pub(crate) gpu_metrics: Option<String>,
}

impl FleetTarget {
    /// This server as a whole target: the suite's `target` where it says nothing.
    pub(crate) fn resolve(&self, base: &Target) -> (Option<String>, Target) {
        match self {
            FleetTarget::Url(url) => (None, Target { url: url.clone(), ..base.clone() }),
            FleetTarget::Named(n) => (
                n.name.clone(),
                Target {
                    url: n.url.clone(),
                    api: n.api.unwrap_or(base.api),
                    api_key: n.api_key.clone().or_else(|| base.api_key.clone()),
                    tls: n.tls.clone().unwrap_or_else(|| base.tls.clone()),
                    gpu_metrics: n.gpu_metrics.clone().or_else(|| base.gpu_metrics.clone()),
                },
            ),
        }
    }

    pub(crate) fn api_key(&self) -> Option<&str> {
        match self {
            FleetTarget::Named(n) => n.api_key.as_deref(),
            FleetTarget::Url(_) => None,
        }
    }
}

/// How a report names a server it was not given a name for: its host and port.
pub(crate) fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    host.rsplit_once('@').map_or(host, |(_, h)| h).to_string()
}

/// TLS like curl: a CA to trust besides the system's (`--cacert`), a client certificate for
/// mutual TLS (`--cert`/`--key`), or no certificate check at all (`--insecure`, said loudly).
/// hxrun also trusts the CAs in `SSL_CERT_FILE` when it is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Tls {
    /// A PEM file of CA certificates to trust (a private CA, a self-signed server).
    pub(crate) ca_cert: Option<String>,
    /// A PEM client certificate (chain) for servers that ask for one (mTLS gateways).
    pub(crate) cert: Option<String>,
    /// The PEM private key of `cert` (or put the key in the `cert` file).
    pub(crate) key: Option<String>,
    /// Accept any server certificate. Testing only: every report says it was off.
    #[serde(default)]
    pub(crate) insecure: bool,
}

impl Tls {
    /// The files made relative to `dir` (where the suite is).
    pub(crate) fn resolved(&self, dir: &std::path::Path) -> Tls {
        let at = |p: &Option<String>| p.as_ref().map(|p| dir.join(p).display().to_string());
        Tls { ca_cert: at(&self.ca_cert), cert: at(&self.cert), key: at(&self.key), insecure: self.insecure }
    }
}

fn default_url() -> String {
    "http://127.0.0.1:11434".to_string()
}

/// A base or request url as hxrun will use it: `http://` or `https://`, a host, a valid port.
/// A url without a scheme (`127.0.0.1:11434`, how Ollama's own docs write OLLAMA_HOST) gets
/// `http://`, as Ollama's client does; the second value then says so.
pub(crate) fn check_url(url: &str) -> Result<(String, Option<String>), String> {
    let trimmed = url.trim();
    // `name:/...` is a scheme (even a misspelt one); `host:port` is not.
    let has_scheme = trimmed.split_once(':').is_some_and(|(scheme, rest)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
            && rest.starts_with('/')
    });
    let (full, note) = if has_scheme {
        (trimmed.to_string(), None)
    } else {
        let full = format!("http://{trimmed}");
        let note = format!("\"{trimmed}\" has no scheme: using {full}, as Ollama's own client does");
        (full, Some(note))
    };
    let parsed = reqwest::Url::parse(&full).map_err(|e| {
        format!("\"{url}\" is not a valid url ({e}): write it like http://127.0.0.1:11434 or https://llm.example.com")
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "\"{url}\" has the scheme `{}`: hxrun speaks http:// and https:// only",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("\"{url}\" names no host: write it like http://127.0.0.1:11434"));
    }
    Ok((full, note))
}

/// Server APIs hxrun speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Api {
    /// Ollama's native API (/api/...).
    #[default]
    Ollama,
    /// OpenAI-compatible servers (/v1/...): vLLM, llama.cpp's llama-server, TGI, LM Studio.
    Openai,
}

impl std::fmt::Display for Api {
    /// As people write it: Ollama, OpenAI.
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            Api::Ollama => "Ollama",
            Api::Openai => "OpenAI",
        })
    }
}

/// Settings every test inherits unless it sets its own.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Defaults {
    /// Step timeout (default 10s).
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<values::DurationText>")]
    pub(crate) timeout: Option<Duration>,
    /// How many times a failing step is re-run (default 0).
    pub(crate) retries: Option<u32>,
    /// Pause between attempts (default 1s).
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<values::DurationText>")]
    pub(crate) retry_delay: Option<Duration>,
    /// Headers sent with every request to the target: http steps, generate, chat, models, pull,
    /// unload and perf loops (a gateway key set once). The target's `api_key` replaces an
    /// `Authorization` given here.
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
}

/// `expect`: one block, or a list of blocks merged (for the schema; `plan` merges them).
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ExpectBlocks {
    One(Box<Expect>),
    Many(Vec<Expect>),
}

/// One test. It has a name, exactly one step (http, tcp, exec, generate, chat, pull, models
/// or unload) and optional expectations.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestSpec {
    /// Unique name; may use {{placeholders}} from for_each.
    pub(crate) name: String,
    /// What the test checks, for people.
    pub(crate) description: Option<String>,
    /// Tags to select tests with --tag.
    #[serde(default)]
    pub(crate) tags: Vec<String>,
    /// Skip this test (true, or a reason).
    pub(crate) skip: Option<Skip>,
    /// Step timeout for this test.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<values::DurationText>")]
    pub(crate) timeout: Option<Duration>,
    /// Re-run a failing step this many times.
    pub(crate) retries: Option<u32>,
    /// Pause between attempts.
    #[serde(default, with = "humantime_serde")]
    #[schemars(with = "Option<values::DurationText>")]
    pub(crate) retry_delay: Option<Duration>,
    /// Run the test once per combination of these lists (cartesian product); each key is a
    /// {{placeholder}}. A value may be a list, a `${var}` holding one, or a case file —
    /// `{ file: cases.jsonl }` (JSON Lines, CSV, JSON or YAML, beside the suite): one test per
    /// row, its fields as `{{case.field}}`, named by its `id`.
    #[allow(dead_code)] // expanded from the positioned tree by `plan`
    pub(crate) for_each: Option<BTreeMap<String, serde_json::Value>>,
    /// Values to take from what came back, for later tests of this suite as
    /// `{{captures.NAME}}`: a JSONPath (`"$.models[0].digest"`), or `{ json | header | regex:
    /// ..., secret: true }`. A capture that finds nothing fails the test.
    #[serde(default)]
    pub(crate) capture: BTreeMap<spanned::Spanned<String>, capture::Capture>,
    /// An HTTP request.
    pub(crate) http: Option<HttpStep>,
    /// A TCP connect check.
    pub(crate) tcp: Option<TcpStep>,
    /// A command to run.
    pub(crate) exec: Option<ExecStep>,
    /// A completion from a prompt (stream or not).
    pub(crate) generate: Option<GenerateStep>,
    /// A chat completion (stream or not).
    pub(crate) chat: Option<ChatStep>,
    /// Pull (download) a model.
    pub(crate) pull: Option<PullStep>,
    /// Check which models the server lists.
    pub(crate) models: Option<ModelsStep>,
    /// Unload a model from memory.
    pub(crate) unload: Option<UnloadStep>,
    /// Embeddings of one text or several (Ollama `/api/embed`, OpenAI `/v1/embeddings`).
    pub(crate) embed: Option<embed::EmbedStep>,
    /// Repeat a request and measure: warm-up, iterations, concurrency, rate.
    pub(crate) perf: Option<PerfStep>,
    /// Check the host's NVIDIA GPUs.
    pub(crate) gpu: Option<gpu::GpuStep>,
    /// Perf figures that must hold, e.g. `tokens_per_s.mean: ">= 50"`, `ttft.p95: "< 2s"`,
    /// `tokens_per_s.cov: "< 20%"`, `error_rate: "== 0"` (checked at every concurrency level).
    #[serde(default)]
    pub(crate) thresholds: BTreeMap<spanned::Spanned<String>, Comparison>,
    /// How much worse than the baseline a perf figure may get: `tokens_per_s.mean: 10%`.
    #[serde(default)]
    pub(crate) regression: BTreeMap<spanned::Spanned<String>, Tolerance>,
    /// How far a soak's figures may move from its first window to its last (`perf.window`):
    /// the signed change, as a percentage of the first window's value with `%`
    /// (`e2e.p95: "< 10%"`, `tokens_per_s.mean: "> -10%"`), in the figure's unit without
    /// (`error_rate: "< 1"` — one percentage point —, `gpu.memory_used.max: "< 512MiB"`).
    #[serde(default)]
    pub(crate) drift: BTreeMap<spanned::Spanned<String>, Comparison>,
    /// What must hold afterwards: one block of checks, or a list of blocks, each with an
    /// optional `when` (checks that apply only to some expansions: a TTFT bound only where
    /// `{{stream}}` is true). Two blocks that both apply may not check the same thing.
    #[schemars(with = "Option<ExpectBlocks>")]
    pub(crate) expect: Option<Expect>,
    /// Run this expansion only when this holds, once its placeholders and variables are filled:
    /// `true`/`false` (`"{{stream}}"`) or a comparison of two texts (`"{{model}} == phi3:latest"`,
    /// `!=`). An expansion it is false for is left out; one that leaves none out is an error.
    #[allow(dead_code)] // decided on the filled tree by `plan`
    pub(crate) when: Option<serde_json::Value>,
    /// A pass-rate gate over this test's cases (the rows of its case files; with none, every
    /// `for_each` expansion), one per combination of its other `for_each` values (per model):
    /// `">= 90%"`. A case that fails does not fail the run; the gate does, when the share of
    /// cases that passed is below it. Its verdict gives the rate, its 95% Wilson interval and
    /// the cases that failed.
    pub(crate) pass_rate: Option<Comparison>,
}

/// The step-kind keys a test may use, in the order the docs list them.
pub(crate) fn step_kinds() -> impl Iterator<Item = &'static str> {
    step::StepKind::ALL.into_iter().map(step::StepKind::name)
}

impl TestSpec {
    /// The test's steps; the planner rejects tests with none or several.
    pub(crate) fn steps(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        if let Some(s) = &self.http {
            steps.push(Step::Http(s.clone()));
        }
        if let Some(s) = &self.tcp {
            steps.push(Step::Tcp(s.clone()));
        }
        if let Some(s) = &self.exec {
            steps.push(Step::Exec(s.clone()));
        }
        if let Some(s) = &self.generate {
            steps.push(Step::Generate(s.clone()));
        }
        if let Some(s) = &self.chat {
            steps.push(Step::Chat(s.clone()));
        }
        if let Some(s) = &self.pull {
            steps.push(Step::Pull(s.clone()));
        }
        if let Some(s) = &self.models {
            steps.push(Step::Models(s.clone()));
        }
        if let Some(s) = &self.unload {
            steps.push(Step::Unload(s.clone()));
        }
        if let Some(s) = &self.embed {
            steps.push(Step::Embed(s.clone()));
        }
        if let Some(s) = &self.perf {
            steps.push(Step::Perf(Box::new(s.clone())));
        }
        if let Some(s) = &self.gpu {
            steps.push(Step::Gpu(Box::new(s.clone())));
        }
        steps
    }
}
