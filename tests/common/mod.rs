//! Helpers shared by the integration tests: a simulator on a background runtime, suite
//! files in a temp dir, and the hxrun binary run as a user would run it.
#![allow(dead_code)]

pub mod faults;
pub mod tls;

use hxrun::sim::{SimConfig, SimServer};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A simulator on 127.0.0.1:0, served by its own runtime thread for the test's lifetime.
pub struct Sim {
    pub url: String,
    _server: SimServer,
    _runtime: tokio::runtime::Runtime,
}

impl Sim {
    pub fn start(config: SimConfig) -> Sim {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let server = runtime.block_on(SimServer::start(config, "127.0.0.1", 0)).unwrap();
        Sim { url: server.url(), _server: server, _runtime: runtime }
    }

    /// A server of `slots` answering at once, without noise: 20 ms to the first token, then
    /// 5 ms a token, no load time, prompts free.
    pub fn slots(slots: usize) -> Sim {
        Sim::start(SimConfig {
            tokens_per_s: 200.0,
            ttft: Duration::from_millis(20),
            load_time: Duration::ZERO,
            jitter: 0.0,
            prompt_tokens_per_s: None,
            capacity: Some(slots),
            ..SimConfig::default()
        })
    }

    /// Fast pacing so tests spend little time waiting on tokens.
    pub fn fast() -> Sim {
        Sim::start(SimConfig {
            tokens_per_s: 2000.0,
            ttft: Duration::from_millis(2),
            load_time: Duration::from_millis(5),
            ..SimConfig::default()
        })
    }
}

/// The output of one hxrun run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub dir: PathBuf,
}

impl Run {
    pub fn report(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join("reports").join(name)).unwrap_or_else(|e| {
            panic!("report {name} missing: {e}\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
        })
    }

    /// Everything a person or a CI server could read: console, stderr and every report.
    pub fn everything(&self) -> Vec<String> {
        let mut all = vec![self.stdout.clone(), self.stderr.clone()];
        all.extend(
            ["junit.xml", "results.csv", "report.json", "report.html", "summary.md"]
                .iter()
                .map(|r| self.report(r)),
        );
        all
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.report("report.json")).unwrap()
    }
}

/// A temp dir holding suite files.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace { dir: tempfile::tempdir().unwrap() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Runs `hxrun ARGS` in the workspace with reports in ./reports and a clean environment.
    pub fn hxrun(&self, args: &[&str]) -> Run {
        self.hxrun_env(args, &[])
    }

    /// `hxrun ARGS` as the tests run it: in the workspace, reports in ./reports for runs, a
    /// clean environment, no colour, no GPU unless a test scripts readings.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hxrun"));
        cmd.args(args)
            .args(
                ["--report-dir", "reports"]
                    .iter()
                    .filter(|_| is_run(args) && !args.contains(&"--report-dir")),
            )
            .current_dir(self.path())
            .env_remove("OLLAMA_HOST")
            .env_remove("HXRUN_SIM")
            .env_remove("HXRUN_TARGET")
            .env_remove("HXRUN_API_KEY")
            // A CI parallel job's index would shard every run of the tests.
            .env_remove("CI_NODE_INDEX")
            .env_remove("CI_NODE_TOTAL")
            .env_remove("JOB_COMPLETION_INDEX")
            .env_remove("HXRUN_SHARD_TOTAL")
            .env("NO_COLOR", "1")
            // GPU-free unless a test scripts readings: results must not depend on the host.
            .env("HXRUN_GPU_FAKE", "none");
        cmd
    }

    pub fn hxrun_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let out = self.command(args).envs(env.iter().copied()).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            dir: self.path().to_path_buf(),
        }
    }
}

fn is_run(args: &[&str]) -> bool {
    !matches!(
        args.first(),
        Some(
            &"validate"
                | &"list"
                | &"schema"
                | &"sim"
                | &"monitor"
                | &"bench"
                | &"fuzz"
                | &"init"
                | &"report"
                | &"compare"
                | &"merge"
                | &"completions"
                | &"man"
        )
    )
}

/// A suite file's text: `suite: NAME`, the target url, and `tests` (YAML list items).
pub fn suite_text(name: &str, url: &str, tests: &str) -> String {
    format!("suite: {name}\ntarget: {{ url: \"{url}\" }}\ntests:\n{tests}")
}

impl Workspace {
    /// Runs `examples/NAME` against `sim` (the example's own target replaced) and requires that
    /// it passes; the run, for more checks.
    pub fn example_passes(&self, sim: &Sim, name: &str) -> Run {
        let example = repo().join("examples").join(name);
        let run = self.hxrun(&[example.to_str().unwrap(), "--target", &sim.url, "--no-progress"]);
        assert_eq!(run.code, 0, "{name}:\n{}\n{}", run.stdout, run.stderr);
        run
    }
}

/// `hxrun sim ARGS --port 0` as its own process, and its url, read from the line it prints once
/// it listens; killed when dropped.
pub struct SimProcess {
    child: std::process::Child,
    pub url: String,
}

impl SimProcess {
    pub fn spawn(args: &[&str]) -> SimProcess {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(env!("CARGO_BIN_EXE_hxrun"))
            .arg("sim")
            .args(["--port", "0"])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().strip_prefix("hxrun sim listening on ").expect(&line).to_string();
        SimProcess { child, url }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The repository root (for suites/ and examples/).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One hxrun run with its peak memory (resident set, KiB) and wall time.
pub struct Measured {
    pub run: Run,
    pub max_rss_kib: u64,
    pub wall: Duration,
}

/// The peak resident set of a running process (VmHWM), if it still runs.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl Workspace {
    /// Runs `hxrun ARGS` like `hxrun`, watching the process's peak RSS. (VmHWM is read while
    /// it runs: wait4's ru_maxrss would count the forking test process's own memory.)
    pub fn hxrun_measured(&self, args: &[&str]) -> Measured {
        let started = std::time::Instant::now();
        let child = self
            .command(args)
            .arg("--no-progress")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let done = std::sync::Arc::clone(&done);
            std::thread::spawn(move || {
                let mut peak = 0;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Some(kib) = vm_hwm_kib(pid) {
                        peak = peak.max(kib);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                peak
            })
        };
        let out = child.wait_with_output().unwrap();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        Measured {
            run: Run {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                dir: self.path().to_path_buf(),
            },
            max_rss_kib: watcher.join().unwrap(),
            wall: started.elapsed(),
        }
    }
}

/// `hxrun monitor --listen` on a free loopback port serving scripted GPU readings (a GPU
/// host's exporter, as a CI runner reads it); stopped when dropped.
pub struct Monitor {
    /// http://ADDR/metrics
    pub url: String,
    child: std::process::Child,
}

impl Monitor {
    /// Serves `script` (an HXRUN_GPU_FAKE file), sampling every 100 ms; returns once it
    /// serves its first sampling (a script of one reading serves the same from then on).
    pub fn start(script: &str) -> Monitor {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_hxrun"))
            .args(["monitor", "--listen", "127.0.0.1:0", "--interval", "100ms"])
            .env("HXRUN_GPU_FAKE", script)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut said = String::new();
        std::io::BufReader::new(child.stderr.take().unwrap()).read_line(&mut said).unwrap();
        let url = said
            .split_once("http://")
            .map(|(_, a)| format!("http://{}", a.trim_end()))
            .unwrap_or_else(|| panic!("the monitor said: {said}"));
        let monitor = Monitor { url, child };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let body = monitor.scrape();
            if body.contains("DCGM_FI_DEV_FB_USED") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "the monitor serves nothing: {body}");
            std::thread::sleep(Duration::from_millis(50));
        }
        monitor
    }

    /// One scrape of its /metrics (the body).
    pub fn scrape(&self) -> String {
        use std::io::{Read, Write};
        let addr = self.url.trim_start_matches("http://").trim_end_matches("/metrics");
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        tcp.read_to_string(&mut response).unwrap();
        response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
