//! `hxrun run`: load → plan → execute (→ assert) → report, and the exit code.

use super::RunArgs;
use super::suites::load_and_plan;
use crate::execute::control::{RunControl, StopReason};
use crate::execute::{Executor, ExecutorOptions, Limits};
use crate::exit;
use crate::mask::Secrets;
use crate::record::{Event, RunRecord, Verdict};
use crate::report::console::ConsoleOptions;
use crate::report::json::JsonReporter;
use crate::report::outputs::Outputs;
use crate::sim::{SimConfig, SimServer};
use std::collections::BTreeMap;

/// The variable `--sim` defines, so a suite can skip what a simulator cannot offer
/// (`skip: "${HXRUN_SIM:+reason}"`).
pub(super) const SIM_VAR: &str = "HXRUN_SIM";

pub(super) fn run(args: RunArgs) -> u8 {
    let runtime = match super::runtime(true) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(run_with(args, BTreeMap::new(), None)).0
}

/// Draws conclusions from a finished run (`hxrun probe`'s verdicts), before it is reported.
pub(super) type Conclude<'a> = &'a dyn Fn(&RunRecord) -> Vec<Verdict>;

/// A run on the current runtime, with variables from the caller besides the environment:
/// its exit code, and its record when it ran.
pub(super) async fn run_with(
    mut args: RunArgs,
    mut extra_env: BTreeMap<String, String>,
    conclude: Option<Conclude<'_>>,
) -> (u8, Option<RunRecord>) {
    {
        let sim = if args.sim {
            let flavor = match args.sim_flavor.map_or_else(|| declared_flavor(&args.suite), |f| Ok(Some(f))) {
                Ok(f) => f.unwrap_or_default(),
                Err(e) => {
                    eprintln!("error: {e}");
                    return (exit::INVALID, None);
                }
            };
            let config =
                SimConfig { flavor, wrong_rate: args.wrong_rate.unwrap_or(0.0), ..SimConfig::realistic() };
            let known = config.known.clone();
            match SimServer::start(config, "127.0.0.1", 0).await {
                Ok(server) => {
                    eprintln!("hxrun: built-in simulator listening on {}", server.url());
                    args.suite.target = vec![server.url()];
                    extra_env.insert(SIM_VAR.to_string(), "1".to_string());
                    Some((server, known))
                }
                Err(e) => {
                    eprintln!("error: cannot start the built-in simulator: {e}");
                    return (exit::INTERNAL, None);
                }
            }
        } else {
            None
        };
        // The simulator learns the answers of the suites' case files as they load.
        let teach = |suite: &crate::load::LoadedSuite| {
            if let Some((_, known)) = &sim {
                crate::load::cases::teach(&suite.cases, &mut |q, a| known.teach(q, a));
            }
        };
        let outputs = Some((args.report_dir.as_path(), args.perf_csv.as_deref()));
        let Some(plans) = load_and_plan(&args.suite, extra_env, outputs, Some(&teach)) else {
            return (exit::INVALID, None);
        };
        // The run's secrets: the plans' now, each secret capture as it comes.
        let secrets = Secrets::new(plans.iter().flat_map(|p| p.secrets()));
        if args.verbose {
            for (plan, note) in plans.iter().flat_map(|p| p.notes.iter().map(move |n| (p, n))) {
                eprintln!("note: {}", secrets.apply(&format!("{}: {note}", plan.file)));
            }
        }

        let defaults = Outputs::in_dir(&args.report_dir);
        let outputs = Outputs {
            junit: args.junit.clone().unwrap_or(defaults.junit.clone()),
            csv: args.csv.clone().unwrap_or(defaults.csv.clone()),
            json: args.json.clone().unwrap_or(defaults.json.clone()),
            html: (!args.no_html)
                .then(|| args.html.clone().unwrap_or(defaults.html.clone().unwrap_or_default())),
            summary: args.summary.clone().unwrap_or(defaults.summary.clone()),
            metrics: args.metrics_file.clone(),
            step_summary: std::env::var_os("GITHUB_STEP_SUMMARY")
                .filter(|v| !v.is_empty())
                .map(std::path::PathBuf::from),
            ..defaults
        };
        let mut reporters = outputs.reporters(
            secrets.clone(),
            ConsoleOptions::detect(args.no_progress, args.verbose),
            args.gpu_sample,
        );
        if let Some(path) = &args.save_baseline {
            reporters.add(JsonReporter::new(path.clone()));
        }

        // The push masks what it sends as the reporters do; the executor takes the registry.
        let push_mask = secrets.clone();
        let control = RunControl::default();
        watch_signals(control.clone());
        let start = super::start::Start {
            at: args.start_at,
            barrier: args.barrier.as_deref(),
            barrier_timeout: args.barrier_timeout,
        };
        // The deadline covers the whole run, a wait for --start-at or --barrier included.
        if let Some(limit) = args.max_time {
            let control = control.clone();
            tokio::spawn(async move {
                tokio::time::sleep(limit).await;
                control.stop(StopReason::Deadline(limit));
            });
        }
        super::start::wait(&start, &control).await;
        let executor = Executor::new(
            ExecutorOptions {
                gpu_interval: args.gpu_interval,
                gpu_sample: args.gpu_sample,
                limits: Limits { max_body: args.max_body.unwrap_or(crate::execute::DEFAULT_MAX_BODY) },
                control: control.clone(),
                fail_fast: args.fail_fast,
                jobs: usize::from(args.jobs),
                jobs_per_target: usize::from(args.jobs_per_target),
                secrets,
            },
            crate::assert::check,
            crate::assert::gate::judge,
        );
        let mut concluded = None;
        let simulated = sim.is_some();
        let record = executor
            .run(&plans, &mut |event| match event {
                // What the run knows that the executor does not: verdicts, and the simulator.
                Event::RunFinished { record } if conclude.is_some() || simulated => {
                    let mut record = (*record).clone();
                    if let Some(conclude) = conclude {
                        record.verdicts = conclude(&record);
                    }
                    record.suites.iter_mut().for_each(|s| s.simulated = simulated);
                    reporters.emit(&Event::RunFinished { record: &record });
                    concluded = Some(record);
                }
                _ => reporters.emit(event),
            })
            .await;
        let record = concluded.unwrap_or(record);
        drop(sim);
        for e in reporters.errors() {
            eprintln!("error: {e}");
        }
        let mut pushed = Ok(String::new());
        if let Some(url) = &args.push {
            pushed = match crate::report::openmetrics::render(&record) {
                Ok(text) => crate::report::push::push(url, push_mask.apply(&text).into_owned()).await,
                Err(e) => Err(e.to_string()),
            };
            match &pushed {
                Ok(to) => crate::report::console::say(&format!("results pushed to {}", push_mask.apply(to))),
                Err(e) => eprintln!("error: {}", push_mask.apply(e)),
            }
        }
        if reporters.errors().is_empty() {
            // A closed stdout (`hxrun ... | head`) is no reason to fail the run.
            let o = &outputs;
            let mut written = vec![o.junit.display().to_string(), o.csv.display().to_string()];
            written.push(o.json.display().to_string());
            written.extend(o.html.as_ref().map(|p| p.display().to_string()));
            written.push(o.summary.display().to_string());
            let line = format!("reports: {}", written.join(", "));
            if o.report_on_stdout() {
                eprintln!("{line}");
            } else {
                crate::report::console::say(&line);
            }
        }
        let code = match control.reason() {
            Some(StopReason::Signal(number, _)) => 128u8.saturating_add(*number as u8),
            _ if !reporters.errors().is_empty() || pushed.is_err() => exit::INTERNAL,
            Some(StopReason::Deadline(_) | StopReason::FailFast(_) | StopReason::NotStarted(_)) => {
                exit::FAILED
            }
            None if record.failed() => exit::FAILED,
            None => exit::PASSED,
        };
        (code, Some(record))
    }
}

/// The simulator flavor the suites ask for (`simulator:`), read before the simulator starts;
/// suites that ask for different ones cannot share one simulator.
fn declared_flavor(args: &super::SuiteArgs) -> Result<Option<crate::sim::Flavor>, String> {
    use clap::ValueEnum;
    let mut found: Option<(crate::sim::Flavor, String, std::path::PathBuf)> = None;
    for path in super::suites::suite_files(&args.suites)? {
        // A file that does not read or parse says so when it is loaded; here it asks for nothing.
        let Ok(text) = crate::files::read_to_string(&path, "suite") else { continue };
        let Ok(root) = crate::load::tree::parse(&text) else { continue };
        let Some(name) = root.get("simulator").and_then(|n| n.as_str()) else { continue };
        let Ok(flavor) = crate::sim::Flavor::from_str(name, false) else { continue };
        match &found {
            Some((f, first, at)) if *f != flavor => {
                return Err(format!(
                    "{} asks for the `{first}` simulator and {} for `{name}`: run them separately, or give \
                     --sim-flavor",
                    at.display(),
                    path.display()
                ));
            }
            Some(_) => {}
            None => found = Some((flavor, name.to_string(), path.clone())),
        }
    }
    Ok(found.map(|(f, _, _)| f))
}

/// The first SIGINT or SIGTERM stops the run (reports are still written); a second one
/// exits at once.
fn watch_signals(control: RunControl) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        eprintln!("hxrun: cannot watch for SIGINT/SIGTERM: a signal will end the run without reports");
        return;
    };
    tokio::spawn(async move {
        let (number, name) = tokio::select! {
            _ = int.recv() => (libc::SIGINT, "SIGINT"),
            _ = term.recv() => (libc::SIGTERM, "SIGTERM"),
        };
        eprintln!(
            "hxrun: {name} received: stopping — the test in flight is cut short, every report is \
             written (a second signal exits at once)"
        );
        control.stop(StopReason::Signal(number, name));
        let again = tokio::select! {
            _ = int.recv() => libc::SIGINT,
            _ = term.recv() => libc::SIGTERM,
        };
        eprintln!("hxrun: second signal: exiting without finishing the reports");
        std::process::exit(128 + again);
    });
}
