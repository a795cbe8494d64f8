//! The command line: `hxrun [run] SUITE...`, `validate`, `list`, `schema`, `sim`.

mod bench;
mod fuzz;
mod init;
mod install;
mod merge;
mod monitor;
mod probe;
mod reports;
mod run;
mod sim;
pub use sim::SimArgs;
mod start;
mod suites;

use crate::exit;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "hxrun",
    version,
    about = "Declarative test runner for LLM inference servers (Ollama, OpenAI-compatible)",
    after_help = exit::HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run suites (also the default: `hxrun SUITE...`).
    #[command(after_help = exit::HELP)]
    Run(Box<RunArgs>),
    /// Load and plan suites without running them; print every error.
    Validate(SuiteArgs),
    /// List the tests a suite expands to (after for_each), with their tags.
    List(SuiteArgs),
    /// Print the suite JSON Schema (for editor completion), or write it to a file.
    Schema(SchemaArgs),
    /// Start a suite in your own repository: the schema and a starter suite whose modeline
    /// points at it.
    Init(InitArgs),
    /// Find out what server answers at URL and what it serves, validate it as a deployment
    /// (answers, stream integrity, its own figures, GPU placement, speed, parallel slots),
    /// conclude per model, and write the suite that reproduces it (--write).
    #[command(after_help = exit::HELP)]
    Probe(ProbeArgs),
    /// Run the built-in Ollama simulator as a server.
    Sim(SimArgs),
    /// Re-render report.html and summary.md from saved report.json files (several: read as
    /// one run).
    Report(ReportArgs),
    /// Merge runs — the shards of a CI matrix, or load generators that ran the same perf test
    /// at once — into one report directory: one JUnit file, one header per CSV, report.json,
    /// and perf statistics computed again from the union of every request's samples (exact
    /// percentiles; throughput over the time all of them ran).
    #[command(after_help = exit::HELP)]
    Merge(MergeArgs),
    /// Saved runs side by side (the first is the reference): values, change in %, overlaid
    /// distributions; exits 1 on a regression beyond the tolerances (the --baseline rules).
    #[command(
        after_help = "Exit codes:\n  0  no regression\n  1  a figure got worse beyond its tolerance\n  2  a report could not be read\n  3  an output could not be written"
    )]
    Compare(CompareArgs),
    /// Measure hxrun's own overhead (request rate vs wrk, timing error, parser CPU, memory).
    Bench(BenchArgs),
    /// Watch the GPUs: a live table on a terminal, CSV lines otherwise.
    Monitor(MonitorArgs),
    /// Mutate suites and load + plan each mutant: no panic, every error with a position.
    Fuzz(FuzzArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page, or write one per command into a folder (--dir).
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell, e.g. `hxrun completions bash > /etc/bash_completion.d/hxrun`.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write hxrun.1, hxrun-run.1, ... into this folder instead of printing hxrun.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The server, e.g. http://host:11434 (Ollama) or http://host:8000 (OpenAI-compatible; a
    /// trailing /v1 is accepted).
    #[arg(value_name = "URL", required_unless_present = "sim")]
    pub url: Option<String>,
    /// The API to test it through (auto: Ollama's own where it answers, else OpenAI's).
    #[arg(long, value_parser = ["auto", "ollama", "openai"], default_value = "auto")]
    pub api: String,
    /// Models to probe (comma-separated); default: those in memory first, then as listed —
    /// one with --quick, three by default, all with --full.
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Fewer, shorter requests: one model, 5 timed answers, concurrency up to 8 (well under a
    /// minute on a small model).
    #[arg(long, conflicts_with = "full")]
    pub quick: bool,
    /// Every listed model, 20 timed answers each, concurrency up to 16.
    #[arg(long)]
    pub full: bool,
    /// Write the suite that reproduces the probe here, with the figures measured as thresholds
    /// (and hxrun.schema.json beside it for editors).
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Bearer key for a gateway or an OpenAI-compatible server (the written suite reads
    /// HXRUN_API_KEY); never written to a report.
    #[arg(long, value_name = "KEY", env = "HXRUN_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Read the server's GPUs from this Prometheus endpoint on its machine (dcgm-exporter,
    /// `hxrun monitor --listen`) instead of this machine's NVML; the written suite keeps it as
    /// `target.gpu_metrics`.
    #[arg(long, value_name = "URL", value_parser = parse_gpu_source)]
    pub gpu_source: Option<String>,
    /// Probe the built-in simulator instead of a server.
    #[arg(long, conflicts_with = "url")]
    pub sim: bool,
    /// With --sim: which server it answers as.
    #[arg(long, value_enum, value_name = "FLAVOR", default_value_t, requires = "sim")]
    pub sim_flavor: crate::sim::Flavor,
    /// Directory for the reports (junit.xml, report.json, report.html, summary.md, ...) and the
    /// probe's own suite (probe-suite.yaml).
    #[arg(long, value_name = "DIR", default_value = "hxrun-reports")]
    pub report_dir: PathBuf,
    /// Show request and response detail for failed checks.
    #[arg(short, long)]
    pub verbose: bool,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

/// TLS like curl, for https:// servers (run, validate, probe).
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArgs {
    /// Trust the CA certificates in FILE (PEM) for https:// servers, besides the system's (as
    /// curl --cacert; SSL_CERT_FILE is read too).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Present this client certificate (PEM) to servers that ask for one (mutual TLS).
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// The private key (PEM) of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Accept any server certificate (testing only; every report says so).
    #[arg(long, short = 'k')]
    pub insecure: bool,
}

impl TlsArgs {
    /// The settings, paths made absolute where the files exist (a suite written elsewhere, or
    /// loaded from another folder, still finds them).
    pub(crate) fn settings(&self) -> crate::suite::Tls {
        let file = |p: &Option<PathBuf>| {
            p.as_ref().map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()).display().to_string())
        };
        crate::suite::Tls {
            ca_cert: file(&self.cacert),
            cert: file(&self.cert),
            key: file(&self.key),
            insecure: self.insecure,
        }
    }
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Saved JSON reports (report.json, or files written with --save-baseline).
    #[arg(required = true, value_name = "REPORT.json")]
    pub reports: Vec<PathBuf>,
    /// Write the HTML report here (default: report.html beside the first report).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Write the Markdown summary here (default: summary.md beside the first report).
    #[arg(long, value_name = "FILE")]
    pub md: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Report directories (each with its report.json and samples/), or report.json files.
    #[arg(required = true, value_name = "DIR")]
    pub inputs: Vec<PathBuf>,
    /// Where the merged reports go.
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: PathBuf,
    /// Judge merged perf tests again with the suite files the runs named (the default), or
    /// keep the verdicts each run gave (when the suites are not where the runs read them).
    #[arg(long)]
    pub keep_verdicts: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Saved JSON reports; the first is the reference the others are compared with.
    #[arg(required = true, num_args = 2.., value_name = "REPORT.json")]
    pub reports: Vec<PathBuf>,
    /// Also write the comparison as an HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also write the comparison as Markdown.
    #[arg(long, value_name = "FILE")]
    pub md: Option<PathBuf>,
    /// How much worse a figure may get, e.g. `tokens_per_s.mean=5%` or `e2e.p95=0.05`
    /// (defaults: tokens_per_s.mean 10%, ttft.p95 20%, e2e.p95 20%).
    #[arg(long, value_name = "FIGURE=TOLERANCE", value_parser = parse_tolerance)]
    pub(crate) tolerance: Vec<(crate::suite::metrics::Figure, crate::suite::Tolerance)>,
    /// Fail (exit 1) on what got worse beyond chance: a pass-rate gate whose cases did
    /// significantly worse than in the reference (McNemar's exact test, p < 0.05), a perf figure
    /// worse beyond its tolerance whose change is real (its bootstrap interval excludes 0) or
    /// that no per-request samples can judge. Without it, every figure worse beyond its
    /// tolerance fails.
    #[arg(long)]
    pub fail_if_worse: bool,
}

fn parse_tolerance(s: &str) -> Result<(crate::suite::metrics::Figure, crate::suite::Tolerance), String> {
    let (name, t) = parse_var(s)?;
    let Some(figure) = crate::suite::metrics::Figure::parse(&name) else {
        return Err(format!("\"{name}\" is not a perf figure (like tokens_per_s.mean or e2e.p95)"));
    };
    let tolerance: crate::suite::Tolerance =
        serde_json::from_value(serde_json::Value::String(t.clone())).map_err(|e| format!("\"{t}\": {e}"))?;
    if let Some(problem) = tolerance.problem_for(&name, figure.unit()) {
        return Err(problem);
    }
    Ok((figure, tolerance))
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Write the schema to FILE instead of printing it (e.g. hxrun.schema.json beside your
    /// suites; point their modeline at it).
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Folder to write into.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// The starter suite's file name.
    #[arg(long, default_value = "hxrun-suite.yaml")]
    pub name: String,
    /// The server's url (the suite reads OLLAMA_HOST first).
    #[arg(long, default_value = "http://127.0.0.1:11434")]
    pub target: String,
    /// The API it speaks: ollama or openai.
    #[arg(long, value_parser = ["ollama", "openai"])]
    pub api: Option<String>,
    /// Models to test (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Replace an existing suite of that name.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// Suites to mutate (default: suites/*.yaml and examples/*.yaml).
    #[arg(value_name = "SUITE")]
    pub suites: Vec<PathBuf>,
    /// How many mutants to try.
    #[arg(long, default_value_t = 100_000)]
    pub cases: u64,
    /// Seed of the mutations (the same seed tries the same mutants).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// Append samples to FILE (gpu.csv columns); created with a header when new.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Sampling interval (at least 100ms).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
    pub interval: Duration,
    /// Stop after N samplings (default: until SIGINT or SIGTERM).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Serve the latest sampling at http://ADDR/metrics in dcgm-exporter's Prometheus names
    /// (`DCGM_FI_DEV_GPU_UTIL`, `DCGM_FI_DEV_FB_USED`...), for Prometheus or a CI runner to
    /// read, e.g. 0.0.0.0:9400 (port 0 picks a free one; the address is printed). Prints no
    /// table or CSV lines then (`--csv FILE` still appends).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// Read the GPUs from this Prometheus endpoint (another machine's dcgm-exporter or hxrun
    /// monitor) instead of this machine's NVML.
    #[arg(long, value_name = "URL", value_parser = parse_gpu_source)]
    pub gpu_source: Option<String>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Length of each request-rate run (hxrun, wrk, and the transport comparison).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Connections for the request-rate comparison with wrk.
    #[arg(long, default_value_t = 64)]
    pub connections: u32,
    /// Concurrent streams for the memory measurement.
    #[arg(long, default_value_t = 1000)]
    pub streams: u32,
    /// Run only this measurement, in this process (rate, transport, timing, parsers, stream,
    /// memory, validate, loop, peers).
    #[arg(long, value_name = "PART", conflicts_with = "parts")]
    pub part: Option<String>,
    /// Run only these measurements, each in a child process (comma-separated).
    #[arg(long, value_name = "PART,...")]
    pub parts: Option<String>,
    /// Interleaved rounds of each comparison (the order rotated each round).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub rounds: u32,
    /// Before each part, wait at most this long for the previous part's load to fade from the
    /// 1-minute load average (0s: do not wait).
    #[arg(long, default_value = "90s", value_parser = parse_duration)]
    pub settle: Duration,
    /// Length of the long loop (part `loop`), e.g. 10m.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub loop_duration: Duration,
    /// Runs of each parser, alternating NDJSON and SSE.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub parser_runs: u32,
    /// Write the results table, with the date and the machine, into this Markdown file between
    /// its generated-block markers (added at its end the first time), e.g. docs/perf.md.
    #[arg(long, value_name = "FILE")]
    pub doc: Option<PathBuf>,
}

/// Which suites, and what the command line adds to them.
#[derive(Debug, Args)]
pub struct SuiteArgs {
    /// Suite files (YAML), folders of them (every *.yaml and *.yml inside, in name order), or
    /// quoted glob patterns ('suites/**/*.yaml').
    #[arg(required = true, value_name = "SUITE")]
    pub suites: Vec<PathBuf>,
    /// Run only tests whose name contains TEXT.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Run only tests with this tag (repeatable: any of them).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Run slice K of N of the tests (e.g. 2/4; a deterministic, balanced split across suites,
    /// for parallel CI jobs). By default from CI_NODE_INDEX/CI_NODE_TOTAL (GitLab `parallel:`)
    /// or JOB_COMPLETION_INDEX with HXRUN_SHARD_TOTAL (a Kubernetes Indexed Job) when set.
    #[arg(long, value_name = "K/N", value_parser = crate::plan::shard::Shard::parse)]
    pub(crate) shard: Option<crate::plan::shard::Shard>,
    /// Leave out tests with this tag (repeatable; wins over --tag).
    #[arg(long = "exclude-tag", value_name = "TAG")]
    pub exclude_tags: Vec<String>,
    /// Set a variable, overriding the suite's `vars` (VALUE is YAML: `models=[a, b]`).
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Read KEY=VALUE lines from FILE (repeatable).
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<PathBuf>,
    /// Override every suite's target url; repeat it to run every test against each server
    /// (a fleet: reports name each suite `SUITE @ HOST`).
    #[arg(long, value_name = "URL")]
    pub target: Vec<String>,
    /// Read the GPUs from this Prometheus endpoint (dcgm-exporter, `hxrun monitor --listen`,
    /// nvidia_gpu_exporter) instead of this machine's NVML, for every target (overrides
    /// `target.gpu_metrics`).
    #[arg(long, value_name = "URL", value_parser = parse_gpu_source)]
    pub gpu_source: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Compare perf tests with this stored run (an hxrun JSON report).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Default step timeout, replacing the suites' `defaults.timeout` (a test's own
    /// `timeout` still wins), e.g. 30s.
    #[arg(long, value_name = "DURATION", value_parser = parse_limit)]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub suite: SuiteArgs,
    /// Directory for junit.xml, results.csv and report.json.
    #[arg(long, value_name = "DIR", default_value = "hxrun-reports")]
    pub report_dir: PathBuf,
    /// Write JUnit XML here instead of DIR/junit.xml.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write the results CSV here instead of DIR/results.csv.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write the JSON report here instead of DIR/report.json.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the HTML report here instead of DIR/report.html.
    #[arg(long, value_name = "FILE", conflicts_with = "no_html")]
    pub html: Option<PathBuf>,
    /// Write no HTML report.
    #[arg(long)]
    pub no_html: bool,
    /// Write the Markdown summary here instead of DIR/summary.md (also appended to
    /// $GITHUB_STEP_SUMMARY when that is set).
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Append every perf test's per-request rows to FILE (instead of each test's `csv`).
    #[arg(long, value_name = "FILE")]
    pub perf_csv: Option<PathBuf>,
    /// Write the run's figures to FILE in OpenMetrics text, for node_exporter's textfile
    /// collector (a `.prom` file in its directory): pass/fail, durations, every figure and perf
    /// statistic, as `hxrun_*` gauges (docs/prometheus.md).
    #[arg(long, value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,
    /// Push the same metrics to a Prometheus Pushgateway at URL when the run ends (group
    /// job=hxrun, unless the url has a /metrics/job/... path); a failed push exits 3.
    #[arg(long, value_name = "URL")]
    pub push: Option<String>,
    /// Also write the JSON report to FILE, to compare later runs with (--baseline).
    #[arg(long, value_name = "FILE")]
    pub save_baseline: Option<PathBuf>,
    /// Sample GPUs for the whole run (not only during perf tests) into DIR/gpu.csv.
    #[arg(long)]
    pub gpu_sample: bool,
    /// GPU sampling interval (at least 100ms).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
    pub gpu_interval: Duration,
    /// Start the built-in simulator on a free loopback port and point the suites at it.
    #[arg(long)]
    pub sim: bool,
    /// With --sim: which server its OpenAI-compatible endpoints answer as (default: what the
    /// suites' `simulator:` says, else ollama).
    #[arg(long, value_enum, value_name = "FLAVOR", requires = "sim")]
    pub sim_flavor: Option<crate::sim::Flavor>,
    /// With --sim: answer PERCENT of the case files' questions wrongly (e.g. 10%), the same
    /// ones every run — to see a pass-rate gate or `hxrun compare` catch a worse model. The
    /// simulator answers every case row's `question` with its `answer` (else wrongly).
    #[arg(long, value_name = "PERCENT", requires = "sim", value_parser = parse_share)]
    pub wrong_rate: Option<f64>,
    /// Show request and response detail for failed tests.
    #[arg(short, long)]
    pub verbose: bool,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
    /// Stop at the first failed test: the rest are listed as not run, every report is written.
    #[arg(long)]
    pub fail_fast: bool,
    /// Stop the whole run after DURATION (e.g. 20m): the test in flight fails as interrupted,
    /// the rest are listed as not run, every report is written, and the exit code is 1.
    #[arg(long, value_name = "DURATION", value_parser = parse_limit)]
    pub max_time: Option<Duration>,
    /// Run up to N tests at once: a fleet's servers side by side, and the tests of a suite
    /// that depend on nothing. Perf tests (they measure), tests with captures, and exec, pull
    /// and unload steps still run alone. Reports keep the suite's order.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
    /// With a fleet and --jobs: how many tests one server answers at once (default 1, so its
    /// timings are its own).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs_per_target: u16,
    /// Begin the first test at TIME — RFC 3339 (2026-12-03T18:00:00Z) or Unix seconds — so
    /// load generators on several machines start together (merge their reports after).
    #[arg(long, value_name = "TIME", value_parser = start::parse_time)]
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Begin once FILE exists or URL answers 2xx (polled every 100 ms): a start signal
    /// another job gives.
    #[arg(long, value_name = "FILE|URL")]
    pub barrier: Option<String>,
    /// How long --barrier may stay shut; then no test runs, every report is written, exit 1.
    #[arg(long, value_name = "DURATION", value_parser = parse_limit, default_value = "30m")]
    pub barrier_timeout: Duration,
    /// Keep at most SIZE of each response body, streamed answer and command output (e.g.
    /// 64MiB); past it hxrun stops reading and says so. Default 8MiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_body: Option<usize>,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < crate::gpu::sampler::MIN_INTERVAL {
        return Err(format!("\"{s}\" is too short: GPUs are sampled at most every 100ms"));
    }
    Ok(d)
}

/// A GPU metrics endpoint: an http(s) url (one without a scheme is taken as http://).
fn parse_gpu_source(s: &str) -> Result<String, String> {
    crate::suite::check_url(s).map(|(url, _)| url)
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("expected KEY=VALUE, got \"{s}\""))?;
    if k.is_empty() {
        return Err(format!("expected KEY=VALUE, got \"{s}\""));
    }
    Ok((k.to_string(), v.to_string()))
}

fn parse_size(s: &str) -> Result<usize, String> {
    let bad = || format!("\"{s}\" is not a size like 8MiB, 512KiB or 1GB");
    let c = crate::suite::Comparison::parse(&format!(">= {s}")).map_err(|_| bad())?;
    if c.unit != crate::suite::values::Unit::Bytes || c.value < 1024.0 {
        return Err(format!("\"{s}\" is not a size of at least 1KiB, like 8MiB, 512KiB or 1GB"));
    }
    Ok(c.value as usize)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("\"{s}\" is not a duration like 10s or 500ms: {e}"))
}

/// A share in percent, `10%` (or `10`), as a fraction 0..=1.
pub(super) fn parse_share(s: &str) -> Result<f64, String> {
    let pct: f64 = s
        .trim()
        .trim_end_matches('%')
        .trim()
        .parse()
        .map_err(|_| format!("\"{s}\" is not a percent like 10%"))?;
    if !(0.0..=100.0).contains(&pct) {
        return Err(format!("\"{s}\" is not between 0% and 100%"));
    }
    Ok(pct / 100.0)
}

/// A time limit: a duration of at least 1ms (`--max-time 0s` would stop the run before any
/// test, `--timeout 0s` fail every request by the clock's grain).
fn parse_limit(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < crate::suite::MIN_TIMEOUT {
        return Err(format!("\"{s}\" leaves no time: give a limit of at least 1ms, e.g. 30s or 20m"));
    }
    Ok(d)
}

/// Runs the command line; returns the process exit code.
pub fn main(cli: Cli) -> u8 {
    match cli.command {
        Some(Command::Run(args)) => run::run(*args),
        None => run::run(cli.run),
        Some(Command::Validate(args)) => suites::validate(&args),
        Some(Command::List(args)) => suites::list(&args),
        Some(Command::Schema(args)) => match &args.write {
            Some(path) => init::write_schema(path),
            None => {
                println!("{}", schema_text());
                exit::PASSED
            }
        },
        Some(Command::Init(args)) => init::init(&args),
        Some(Command::Sim(args)) => sim::serve(args),
        Some(Command::Probe(args)) => probe::probe(args),
        Some(Command::Monitor(args)) => monitor::monitor(args),
        Some(Command::Bench(args)) => bench::bench(&args),
        Some(Command::Report(args)) => reports::report(&args),
        Some(Command::Merge(args)) => merge::merge(&args),
        Some(Command::Completions(args)) => install::completions(&args),
        Some(Command::Man(args)) => install::man(&args),
        Some(Command::Compare(args)) => reports::compare(&args),
        Some(Command::Fuzz(args)) => fuzz::fuzz(&args),
    }
}

/// The JSON Schema as committed in schemas/suite.schema.json.
pub fn schema_text() -> String {
    serde_json::to_string_pretty(&crate::suite::json_schema()).expect("schema serializes")
}

/// The async runtime a command runs on, or the exit code when it cannot start.
fn runtime(multi_thread: bool) -> Result<tokio::runtime::Runtime, u8> {
    let built = if multi_thread {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    };
    built.map_err(|e| {
        eprintln!("error: cannot start the async runtime: {e}");
        exit::INTERNAL
    })
}
