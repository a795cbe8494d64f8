//! `hxrun probe URL`: find out what server answers there and what it serves, run the standard
//! validation of such a deployment as a suite (reported like any run), conclude per model, and
//! write the suite that reproduces it for the user to own (`--write`).
//!
//! The probe is a suite generator in front of the ordinary pipeline: the checks it runs are
//! the YAML it writes, so what it found and what the user runs later are the same checks.

mod depth;
mod suite;
mod verdict;

use super::{ProbeArgs, RunArgs, SuiteArgs};
use crate::execute::Limits;
use crate::execute::transport::{Purpose, Request, Transport};
use crate::exit;
use crate::protocol::detect::{self, Detected, PATHS, Seen};
use crate::sim::{SimConfig, SimServer};
use crate::suite::Api;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use suite::{Depth, Subject};

/// Each detection request's deadline.
const DETECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes read of each detection answer.
const DETECT_BODY: usize = 1 << 20;

pub(super) fn probe(args: ProbeArgs) -> u8 {
    let runtime = match super::runtime(true) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(probe_async(args))
}

/// Until the probe's run begins (and watches signals itself, writing its reports), SIGINT or
/// SIGTERM ends the probe at once with 128 + the signal's number; after, the run's own watch
/// stops it with its reports written.
fn watch_signals_until(run_started: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        return;
    };
    tokio::spawn(async move {
        loop {
            let (number, name) = tokio::select! {
                _ = int.recv() => (libc::SIGINT, "SIGINT"),
                _ = term.recv() => (libc::SIGTERM, "SIGTERM"),
            };
            if !run_started.load(std::sync::atomic::Ordering::SeqCst) {
                eprintln!("hxrun: {name} received while finding out what the server is: stopping");
                std::process::exit(128 + number);
            }
        }
    });
}

async fn probe_async(args: ProbeArgs) -> u8 {
    let run_started = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    watch_signals_until(std::sync::Arc::clone(&run_started));
    let sim = if args.sim {
        let config = SimConfig { flavor: args.sim_flavor, ..SimConfig::realistic() };
        match SimServer::start(config, "127.0.0.1", 0).await {
            Ok(server) => {
                eprintln!("hxrun: built-in simulator listening on {}", server.url());
                Some(server)
            }
            Err(e) => {
                eprintln!("error: cannot start the built-in simulator: {e}");
                return exit::INTERNAL;
            }
        }
    } else {
        None
    };
    let Some(url) = sim.as_ref().map(SimServer::url).or_else(|| args.url.clone()) else {
        eprintln!("error: give the server's url (hxrun probe http://host:11434), or --sim");
        return exit::INVALID;
    };
    let url = base_url(&url);
    // A password in the url's user-info, and the API key, never reach an output.
    let mask = crate::mask::Secrets::new(
        crate::suite::step::url_password(&url).into_iter().chain(args.api_key.iter().cloned()),
    );
    let masked = |text: String| crate::report::text::clean(&mask.apply(&text));
    if let Err(e) = reqwest::Url::parse(&url).map_err(|e| e.to_string()).and_then(|u| {
        if matches!(u.scheme(), "http" | "https") {
            Ok(())
        } else {
            Err(format!("{} is not http or https", u.scheme()))
        }
    }) {
        eprintln!("{}", masked(format!("error: \"{url}\" is not a server url like http://host:11434: {e}")));
        return exit::INVALID;
    }
    let api = match args.api.as_str() {
        "ollama" => Some(Api::Ollama),
        "openai" => Some(Api::Openai),
        _ => None,
    };
    // Absolute paths: the written suite may live in another folder than the one the probe ran in.
    let tls = args.tls.settings();
    let transport = match Transport::with_tls(Limits { max_body: DETECT_BODY }, &tls) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    crate::report::console::say(&masked(format!("probing {url} ...")));
    let seen = fetch(&transport, &url, args.api_key.as_deref()).await;
    let detected = match detect::detect(&seen, api) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{}", masked(format!("error: {url}: {e}")));
            return exit::FAILED;
        }
    };
    crate::report::console::say(&masked(format!(
        "{}{} — {}",
        detected.kind.name(),
        detected.version.as_ref().map(|v| format!(" {v}")).unwrap_or_default(),
        detected.evidence.join("; ")
    )));
    let depth = match (args.quick, args.full) {
        (true, _) => Depth::Quick,
        (_, true) => Depth::Full,
        _ => Depth::Standard,
    };
    let models = match choose_models(&detected, &args.models, depth) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::FAILED;
        }
    };
    let gpus = match crate::gpu::open(args.gpu_source.as_deref()) {
        Ok(source) => source.snapshot().await.ok().map(|s| s.gpus.len()).filter(|n| *n > 0),
        Err(_) => None,
    };
    let subject = Subject {
        url: &url,
        detected: &detected,
        models: &models,
        depth,
        gpus,
        gpu_metrics: args.gpu_source.as_deref(),
        api_key: args.api_key.is_some(),
        tls: &tls,
    };

    // The probe's own run: the suite without figures, through the ordinary pipeline.
    if let Err(e) = std::fs::create_dir_all(&args.report_dir) {
        eprintln!("error: cannot create {}: {e}", args.report_dir.display());
        return exit::INTERNAL;
    }
    let suite_path = args.report_dir.join("probe-suite.yaml");
    let text = suite::render(&subject, None);
    if let Err(e) = suite::check(&text, &subject) {
        eprintln!("error: {e}");
        return exit::INTERNAL;
    }
    if let Err(e) = crate::files::write(&suite_path, text) {
        eprintln!("error: cannot write {}: {e}", suite_path.display());
        return exit::INTERNAL;
    }
    let mut extra = BTreeMap::new();
    if let Some(key) = &args.api_key {
        extra.insert("HXRUN_API_KEY".to_string(), key.clone());
    }
    if let Ok(u) = reqwest::Url::parse(&url)
        && let Some(password) = u.password()
    {
        extra.insert(suite::PASSWORD_VAR.to_string(), password.to_string());
    }
    let run = run_args(&args, &suite_path, &url, depth);
    let conclude = |record: &crate::record::RunRecord| verdict::verdicts(record, &subject);
    run_started.store(true, std::sync::atomic::Ordering::SeqCst);
    let (code, record) = super::run::run_with(run, extra, Some(&conclude)).await;
    drop(sim);
    let Some(record) = record else { return code };

    if let Some(path) = &args.write {
        let measured = verdict::measured(&record, &subject);
        let text = suite::render(&subject, Some(&measured));
        if let Err(e) = suite::check(&text, &subject).and_then(|()| write_suite(path, &text)) {
            eprintln!("error: {e}");
            return exit::INTERNAL;
        }
        let note = if record.failed() {
            " (it fails where the probe found faults, until they are fixed)"
        } else {
            ""
        };
        crate::report::console::say(&format!("wrote {}{note}: run it with hxrun {0}", path.display()));
    }
    code
}

/// The url without a trailing `/` or `/v1` (how OpenAI SDKs write base urls); `host:port`
/// without a scheme is `http://host:port`, as for a run's target.
fn base_url(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    let url = url.strip_suffix("/v1").unwrap_or(url);
    crate::suite::check_url(url).map_or_else(|_| url.to_string(), |(full, _)| full)
}

/// Asks every detection endpoint at once, each with its deadline.
async fn fetch(transport: &Transport, url: &str, api_key: Option<&str>) -> BTreeMap<&'static str, Seen> {
    let asks = PATHS.iter().map(|path| {
        let request = Request::get(&format!("{url}{path}")).bearer(api_key);
        async move {
            let answer = async {
                let response = transport.send(&request, Purpose::Api).await.map_err(|e| e.message)?;
                let status = response.status;
                let server = response
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("server"))
                    .map(|(_, v)| v.clone());
                let (body, _) = response.text().await.map_err(|e| e.message)?;
                Ok::<_, String>(Seen::Answer { status, server, body })
            };
            let seen = match tokio::time::timeout(DETECT_TIMEOUT, answer).await {
                Ok(Ok(seen)) => seen,
                Ok(Err(why)) => Seen::Nothing(why),
                Err(_) => Seen::Nothing(format!("no answer in {}s", DETECT_TIMEOUT.as_secs())),
            };
            (*path, seen)
        }
    });
    futures_util::future::join_all(asks).await.into_iter().collect()
}

/// `--models`, or those in memory first, then as listed, as many as the depth probes.
fn choose_models(d: &Detected, asked: &[String], depth: Depth) -> Result<Vec<String>, String> {
    if !asked.is_empty() {
        return Ok(asked.to_vec());
    }
    let mut models: Vec<String> = Vec::new();
    for m in d.loaded.iter().chain(&d.models) {
        if !models.contains(m) {
            models.push(m.clone());
        }
    }
    if models.is_empty() {
        return Err(format!(
            "{} lists no models: pull one first (ollama pull phi3), or name one with --models",
            d.kind.name()
        ));
    }
    let all = models.len();
    models.truncate(depth.max_models());
    if models.len() < all {
        crate::report::console::say(&format!(
            "probing {} of its {all} models ({}); --models a,b or --full for more",
            models.len(),
            models.join(", ")
        ));
    }
    Ok(models)
}

/// The run a probe makes: its suite, the reports where asked, a deadline on the whole.
fn run_args(args: &ProbeArgs, suite: &Path, url: &str, depth: Depth) -> RunArgs {
    RunArgs {
        suite: SuiteArgs {
            suites: vec![suite.to_path_buf()],
            filter: None,
            tags: Vec::new(),
            // The whole probe, whatever CI job sharding the environment asks for.
            shard: Some(crate::plan::shard::Shard { index: 1, total: 1 }),
            exclude_tags: Vec::new(),
            vars: Vec::new(),
            env_files: Vec::new(),
            target: vec![url.to_string()],
            // The written suite names it (`target.gpu_metrics`) already.
            gpu_source: None,
            tls: args.tls.clone(),
            baseline: None,
            timeout: None,
        },
        report_dir: args.report_dir.clone(),
        junit: None,
        csv: None,
        json: None,
        html: None,
        no_html: false,
        summary: None,
        perf_csv: None,
        metrics_file: None,
        push: None,
        save_baseline: None,
        gpu_sample: false,
        gpu_interval: Duration::from_secs(1),
        sim: false,
        sim_flavor: None,
        wrong_rate: None,
        verbose: args.verbose,
        no_progress: args.no_progress,
        fail_fast: false,
        max_time: Some(depth.max_time()),
        start_at: None,
        jobs: 1,
        jobs_per_target: 1,
        barrier: None,
        barrier_timeout: Duration::from_secs(1800),
        max_body: None,
    }
}

/// Writes the user's suite, and the schema its modeline names beside it when missing.
fn write_suite(path: &Path, text: &str) -> Result<(), String> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    crate::files::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let schema = dir.join(super::init::SCHEMA_FILE);
    if !schema.exists() {
        crate::files::write(&schema, super::schema_text() + "\n")
            .map_err(|e| format!("cannot write {}: {e}", schema.display()))?;
    }
    Ok(())
}
