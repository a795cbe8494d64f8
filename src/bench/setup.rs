//! What every part stands on: the simulator in a process of its own, and perf loops built
//! without a suite file.

use crate::execute::perf::PerfContext;
use crate::plan::SuitePlan;
use crate::suite::perf::{Concurrency, PerfStep};
use crate::suite::{Api, GenerateStep, HttpStep, Target};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The simulator as a child process, stopped on drop.
pub(crate) struct SimProcess {
    child: Child,
    pub(crate) url: String,
}

impl SimProcess {
    pub(crate) fn start(args: &[&str]) -> Result<SimProcess, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find the hxrun binary: {e}"))?;
        let mut child = Command::new(exe)
            .args(["sim", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the simulator: {e}"))?;
        let stdout = child.stdout.take().ok_or("the simulator has no stdout")?;
        // Its first line says where it listens; a simulator that says nothing in 30 s is stopped.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the simulator did not say where it listens within 30 s".into());
        };
        let url = line
            .trim()
            .strip_prefix("hxrun sim listening on ")
            .ok_or("the simulator did not start")?
            .to_string();
        Ok(SimProcess { child, url })
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn suite_plan(url: &str) -> SuitePlan {
    SuitePlan {
        host: None,
        name: "bench".into(),
        file: "bench".into(),
        description: None,
        target: Target { url: url.to_string(), api: Api::Ollama, ..Target::default() },
        headers: Default::default(),
        base_dir: Default::default(),
        secret_values: Vec::new(),
        tests: Vec::new(),
        expanded: 0,
        tags: Default::default(),
        notes: Vec::new(),
    }
}

/// A perf loop's context against `url`, without GPU sampling or progress reports.
pub(crate) fn perf_context(url: &str, request_timeout: Duration) -> PerfContext {
    // Nobody listens to progress here: a closed channel makes each report a no-op.
    let (progress, _) = tokio::sync::mpsc::unbounded_channel();
    PerfContext {
        transport: std::sync::Arc::new(crate::execute::transport::Transport::new(Default::default())),
        suite: std::sync::Arc::new(suite_plan(url)),
        deadline: crate::plan::deadline::Deadline {
            limit: request_timeout,
            set_by: crate::plan::deadline::SetBy::Given("the benchmark"),
        },
        progress,
        test: "bench".into(),
        csv: None,
        samples_file: None,
        gpu: None,
        control: Default::default(),
        secrets: Default::default(),
    }
}

pub(crate) fn perf_step(http: Option<HttpStep>, generate: Option<GenerateStep>, c: u32) -> PerfStep {
    PerfStep {
        generate,
        chat: None,
        http,
        embed: None,
        warmup: 0,
        iterations: None,
        duration: None,
        window: None,
        concurrency: Some(Concurrency(vec![c])),
        rounds: None,
        rate: None,
        arrival: Default::default(),
        cold: false,
        csv: None,
        gpu_interval: None,
        slo: None,
        output: None,
        input: None,
        stages: Vec::new(),
        search: None,
    }
}

/// The simulator without noise — no load time, no jitter, free prompts, no queue — pacing
/// its answers at `ttft` and `tokens_per_s` (to the microsecond with `precise`).
pub(crate) fn quiet_sim(ttft: &str, tokens_per_s: &str, precise: bool) -> Result<SimProcess, String> {
    let mut args = vec!["--ttft", ttft, "--tokens-per-s", tokens_per_s, "--load-time", "0s", "--jitter", "0"];
    args.extend(["--prompt-tokens-per-s", "0", "--capacity", "0"]);
    if precise {
        args.push("--precise");
    }
    SimProcess::start(&args)
}

/// A streamed generate request in the protocol of `api`: "HX-OK" (three tokens) without a
/// token count, else a free-form answer of exactly `tokens` tokens (the simulator's answer runs
/// to `num_predict`).
pub(crate) fn generate(api: Api, tokens: Option<u32>) -> GenerateStep {
    let mut options = std::collections::BTreeMap::new();
    if let Some(n) = tokens {
        options.insert("num_predict".to_string(), serde_json::json!(n));
    }
    GenerateStep {
        model: "phi3:latest".into(),
        prompt: if tokens.is_some() {
            "Summarize HX Infrastructure in one sentence."
        } else {
            "Return exactly the text: HX-OK"
        }
        .into(),
        system: None,
        options,
        format: None,
        keep_alive: None,
        raw: None,
        stream: Some(true),
        api: Some(api),
        repeat: None,
        chunk_timeout: None,
    }
}

/// A perf step of plain `GET path`.
pub(crate) fn http_get(path: &str, c: u32) -> PerfStep {
    perf_step(Some(HttpStep { path: Some(path.into()), ..Default::default() }), None, c)
}
