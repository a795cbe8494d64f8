//! Prometheus both ways: GPUs read from the GPU host's metrics endpoint (`target.gpu_metrics`,
//! `--gpu-source`; here `hxrun monitor --listen` with scripted readings), and the run's results
//! written as OpenMetrics (`--metrics-file`) and pushed to a Pushgateway (`--push`).

mod common;
use common::{Monitor, Sim, Workspace, repo};

fn h100s() -> String {
    repo().join("tests/fixtures/gpus-2xh100.yaml").display().to_string()
}

const MIB: f64 = 1024.0 * 1024.0;

#[test]
fn a_run_reads_its_gpus_from_the_gpu_hosts_metrics_endpoint() {
    let monitor = Monitor::start(&h100s());
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &format!(
            r#"suite: remote
target:
  url: "{}"
  gpu_metrics: ${{GPU_URL}}
tests:
  - name: the server's GPUs
    gpu:
      count: "== 2"
      name: {{ contains: H100 }}
      driver_version: {{ equals: "570.86.15" }}
      each: {{ memory_total: ">= 79GiB" }}
  - name: an answer with its GPU figures
    generate: {{ model: phi3:latest, prompt: hi, stream: false }}
    expect:
      metrics: {{ gpu.memory_used.max: "> 60GiB" }}
  - name: under load
    perf:
      generate: {{ model: phi3:latest, prompt: hi, stream: false }}
      rate: 20/s
      duration: 450ms
      gpu_interval: 100ms
    thresholds:
      gpu.util.max: "== 88%"
      gpu.power.max: "> 580"
      gpu.samples: ">= 2"
      gpu.throttled: "== 0"
"#,
            sim.url
        ),
    );
    // No GPU on this machine (HXRUN_GPU_FAKE=none): every figure is the endpoint's.
    let run = ws.hxrun_env(&["s.yaml", "--no-progress"], &[("GPU_URL", &monitor.url)]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("no NVIDIA GPU"), "this machine's NVML is not asked: {}", run.stdout);
    let json = run.json();
    let level = &json["suites"][0]["tests"][2]["observation"]["levels"][0];
    assert_eq!(level["figures"]["gpu.memory_used.max"].as_f64(), Some((61440.0 + 1024.0) * MIB), "{level}");
    assert_eq!(level["figures"]["gpu.power.max"].as_f64(), Some(582.5));
    // Its samples name the machine the GPUs are in (the endpoint's Hostname label).
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let samples = level["gpu_samples"].as_array().unwrap();
    assert!(samples.iter().all(|s| s["host"] == hostname.trim()), "{samples:?}");
    assert!(samples.iter().any(|s| s["throttle"][0] == "GPU_IDLE"), "{samples:?}");
    let csv = run.report("gpu.csv");
    assert!(
        csv.contains(",1,NVIDIA H100 80GB HBM3,0.0,1024,81559,70.0,31.0,345,GPU_IDLE,under load"),
        "{csv}"
    );
    // --gpu-source overrides the suite's endpoint: one that does not answer is said once, in
    // every check that needed it, and the run goes on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    drop(std::net::TcpListener::bind(dead));
    let gone = format!("http://ops:hunter2@{dead}/metrics");
    let run = ws.hxrun_env(&["s.yaml", "--no-progress", "--gpu-source", &gone], &[("GPU_URL", &monitor.url)]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let said = format!("GPU metrics at http://ops:***@{dead}/metrics: cannot connect: Connection refused");
    assert!(run.stdout.contains(&said), "{said} in {}", run.stdout);
    for text in run.everything() {
        assert!(!text.contains("hunter2"), "the endpoint's password stays out: {text}");
    }
    let perf =
        run.stdout.split("under load").nth(1).and_then(|t| t.split("Failures:").next()).unwrap_or_default();
    assert_eq!(perf.matches("cannot connect").count(), 1, "said once, not per sampling: {perf}");
}

#[test]
fn a_fleet_reads_each_servers_gpus_from_its_own_endpoint() {
    let ws = Workspace::new();
    let one = ws.write(
        "l40s.yaml",
        "driver_version: \"550.54.15\"\ngpus:\n  - { name: NVIDIA L40S, memory_total_mib: 46068 }\nreadings:\n  - - { util_pct: 41, mem_used_mib: 20480, power_w: 210.0, temp_c: 52, sm_clock_mhz: 2520 }\n",
    );
    let (a, b) = (Monitor::start(&h100s()), Monitor::start(one.to_str().unwrap()));
    let (sim_a, sim_b) = (Sim::fast(), Sim::fast());
    ws.write(
        "fleet.yaml",
        &format!(
            r#"suite: fleet
targets:
  - {{ name: h100, url: "{}", gpu_metrics: "{}" }}
  - {{ name: l40s, url: "{}", gpu_metrics: "{}" }}
tests:
  - name: GPUs
    gpu: {{ count: ">= 1" }}
  - name: load
    perf:
      generate: {{ model: phi3:latest, prompt: hi, stream: false }}
      rate: 20/s
      duration: 350ms
      gpu_interval: 100ms
"#,
            sim_a.url, a.url, sim_b.url, b.url
        ),
    );
    let run = ws.hxrun(&["fleet.yaml", "--no-progress", "--gpu-sample", "--gpu-interval", "100ms"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    let used = |suite: usize| {
        json["suites"][suite]["tests"][1]["observation"]["levels"][0]["figures"]["gpu.memory_used.max"]
            .as_f64()
    };
    assert_eq!(json["suites"][0]["name"], "fleet @ h100");
    assert_eq!(used(0), Some((61440.0 + 1024.0) * MIB));
    assert_eq!(used(1), Some(20480.0 * MIB), "the L40S server's own GPU");
    // The whole-run sampling (--gpu-sample) reads both endpoints.
    let names: std::collections::BTreeSet<&str> =
        json["gpu_samples"].as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["NVIDIA H100 80GB HBM3", "NVIDIA L40S"]);
}

#[test]
fn a_gpu_metrics_url_that_is_not_http_is_refused_where_it_is_written() {
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        "suite: s\ntarget:\n  url: http://127.0.0.1:1\n  gpu_metrics: ftp://gpu-host/metrics\ntests:\n  - name: t\n    gpu: { count: \">= 1\" }\n",
    );
    let run = ws.hxrun(&["validate", "s.yaml"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("target.gpu_metrics: \"ftp://gpu-host/metrics\" has the scheme `ftp`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("s.yaml:4:16"), "file:line:col: {}", run.stderr);
}

/// A suite with an answer and a two-level sweep, against `url`.
fn measured_suite(ws: &Workspace, url: &str) {
    ws.write(
        "m.yaml",
        &format!(
            r#"suite: measured
target: {{ url: "{url}" }}
tests:
  - name: one answer
    generate: {{ model: phi3:latest, prompt: hi }}
  - name: load
    perf:
      generate: {{ model: phi3:latest, prompt: hi }}
      concurrency: [1, 2]
      iterations: 6
  - name: skipped one
    skip: not today
    generate: {{ model: phi3:latest, prompt: hi }}
"#
        ),
    );
}

#[test]
fn the_metrics_file_carries_every_figure_in_prometheus_names_masked() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    measured_suite(&ws, &sim.url);
    // A password in the target url: masked in every series' labels.
    let target = sim.url.replace("http://", "http://ops:hunter2@");
    let run = ws.hxrun(&["m.yaml", "--no-progress", "--target", &target, "--metrics-file", "out/hxrun.prom"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let text = std::fs::read_to_string(ws.path().join("out/hxrun.prom")).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.ends_with("# EOF\n"), "OpenMetrics ends with # EOF: {text}");
    for line in [
        "hxrun_run_passed 1.0",
        "# TYPE hxrun_ttft_seconds gauge",
        "# UNIT hxrun_ttft_seconds seconds",
        "# TYPE hxrun_tokens_per_second gauge",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in {text}");
    }
    let json = run.json();
    let target = json["suites"][0]["target"].as_str().unwrap().to_string();
    assert!(target.contains("***"), "{target}");
    let labels = |test: &str, extra: &str| {
        format!("{{suite=\"measured\",test=\"{test}\",target=\"{target}\",model=\"phi3:latest\"{extra}}}")
    };
    for (status, n) in [("passed", "2.0"), ("failed", "0.0"), ("skipped", "1.0")] {
        let line = format!("hxrun_tests{{suite=\"measured\",target=\"{target}\",status=\"{status}\"}} {n}");
        assert!(text.contains(&format!("{line}\n")), "{line} in {text}");
    }
    assert!(text.contains(&format!("hxrun_test_passed{} 1.0\n", labels("load", ""))), "{text}");
    assert!(!text.contains("skipped one\""), "a skipped test has no pass or fail: {text}");
    // The sweep's statistics, as report.json has them, in base units.
    let level = &json["suites"][0]["tests"][1]["observation"]["levels"][1];
    let p95 = level["stats"]["ttft"]["p95"].as_f64().unwrap();
    let series = format!("hxrun_ttft_seconds{} ", labels("load", ",concurrency=\"2\",stat=\"p95\""));
    let value: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .unwrap_or_else(|| panic!("{series} in {text}"))
        .parse()
        .unwrap();
    assert!((value - p95).abs() <= 1e-12 * p95.abs().max(1.0), "{value} against {p95}");
    let rps = level["figures"]["request_throughput"].as_f64().unwrap();
    assert!(
        text.contains(&format!(
            "hxrun_request_throughput_per_second{} ",
            labels("load", ",concurrency=\"2\"")
        )),
        "{text}"
    );
    assert!(rps > 0.0);
    assert!(
        text.contains(&format!("hxrun_error_rate_ratio{} 0.0\n", labels("load", ",concurrency=\"1\""))),
        "{text}"
    );
    assert!(text.contains(&format!("hxrun_ttft_seconds{} ", labels("one answer", ""))), "{text}");
    assert!(
        text.contains(&format!("hxrun_ttft_cov_ratio{} ", labels("load", ",concurrency=\"1\""))),
        "{text}"
    );
}

/// A Pushgateway stand-in: answers each request with `status`, keeps what it was sent.
fn gateway(status: &'static str) -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (sent, got) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            conn.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 65536];
            // The head, then as much body as its content-length says.
            loop {
                let n = conn.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_string)
                        })
                        .and_then(|n| n.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= length {
                        break;
                    }
                }
            }
            let answer = if status.starts_with("200") { "" } else { "text format parsing error in line 3" };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
            let _ = sent.send(String::from_utf8_lossy(&request).into_owned());
        }
    });
    (url, got)
}

#[test]
fn push_puts_the_runs_metrics_to_the_gateways_group() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    measured_suite(&ws, &sim.url);
    let (url, got) = gateway("200 OK");
    let run = ws.hxrun(&["m.yaml", "--no-progress", "--push", &url]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(&format!("results pushed to {url}/metrics/job/hxrun")), "{}", run.stdout);
    let request = got.recv_timeout(std::time::Duration::from_secs(30)).unwrap();
    assert!(request.starts_with("PUT /metrics/job/hxrun HTTP/1.1\r\n"), "{request}");
    assert!(request.to_ascii_lowercase().contains("content-type: text/plain; version=0.0.4"), "{request}");
    assert!(
        request.contains("\nhxrun_run_passed 1.0\n") && request.contains("hxrun_ttft_seconds{"),
        "{request}"
    );
    // A gateway that refuses: said with its answer, exit 3, every report written.
    let (url, _got) = gateway("400 Bad Request");
    let run =
        ws.hxrun(&["m.yaml", "--no-progress", "--push", &format!("{url}/metrics/job/ci/instance/llm-02")]);
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "cannot push the results to {url}/metrics/job/ci/instance/llm-02: the gateway answered 400 Bad Request: text format parsing error in line 3"
        )),
        "{}",
        run.stderr
    );
    assert!(run.report("junit.xml").contains("<testsuite"));
}

#[test]
fn the_remote_gpu_example_runs_green_against_the_simulator_and_a_monitor() {
    let monitor = Monitor::start(&h100s());
    let ws = Workspace::new();
    let example = repo().join("examples/remote-gpu.yaml");
    let run = ws.hxrun_env(
        &[example.to_str().unwrap(), "--sim", "--no-progress"],
        &[("HXRUN_GPU_METRICS_URL", &monitor.url)],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let json = run.json();
    let perf = &json["suites"][0]["tests"][2]["observation"]["levels"][0]["figures"];
    assert_eq!(perf["gpu.memory_used.max"].as_f64(), Some((61440.0 + 1024.0) * MIB), "{perf}");
}

/// Every `name{labels}` a PromQL expression selects: the metric names, each with the label
/// names its matchers use.
fn selectors(expr: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let word_start = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let rest = &expr[i..];
        if word_start && (rest.starts_with("hxrun_") || rest.starts_with("DCGM_FI_")) {
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            let name = rest[..end].to_string();
            let mut labels = Vec::new();
            if let Some(inner) = rest[end..].strip_prefix('{') {
                let inner = &inner[..inner.find('}').unwrap()];
                for matcher in inner.split(',') {
                    let key = matcher.split(['=', '!']).next().unwrap().trim();
                    labels.push(key.to_string());
                }
            }
            out.push((name, labels));
            i += end;
        } else {
            i += rest.chars().next().unwrap().len_utf8();
        }
    }
    out
}

#[test]
fn the_grafana_dashboard_queries_series_hxrun_writes() {
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("examples/grafana/hxrun-dashboard.json")).unwrap(),
    )
    .unwrap();
    let mut exprs: Vec<String> = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            exprs.push(target["expr"].as_str().unwrap().to_string());
        }
    }
    for var in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = var["query"]["query"].as_str() {
            exprs.push(q.to_string());
        }
    }
    // What hxrun writes: a run with answers, a sweep and remote GPUs (--metrics-file), and
    // what its monitor serves.
    let monitor = Monitor::start(&h100s());
    let ws = Workspace::new();
    let example = repo().join("examples/remote-gpu.yaml");
    let run = ws.hxrun_env(
        &[example.to_str().unwrap(), "--sim", "--no-progress", "--metrics-file", "m.prom"],
        &[("HXRUN_GPU_METRICS_URL", &monitor.url)],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let written = std::fs::read_to_string(ws.path().join("m.prom")).unwrap() + &monitor.scrape();
    let mut checked = std::collections::BTreeSet::new();
    for expr in &exprs {
        for (name, labels) in selectors(expr) {
            let series: Vec<&str> = written
                .lines()
                .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
                .collect();
            assert!(!series.is_empty(), "the dashboard queries {name} ({expr}), which hxrun does not write");
            for label in labels {
                assert!(
                    series.iter().any(|s| s.contains(&format!("{label}=\""))),
                    "{name} has no label {label} ({expr}): {series:?}"
                );
            }
            checked.insert(name);
        }
    }
    for needed in [
        "hxrun_tokens_per_second",
        "hxrun_ttft_seconds",
        "hxrun_tests",
        "hxrun_gpu_memory_used_max_bytes",
        "DCGM_FI_DEV_FB_USED",
    ] {
        assert!(checked.contains(needed), "a panel for {needed}: {checked:?}");
    }
}

#[test]
fn the_probe_reads_the_servers_gpus_from_its_endpoint_and_writes_it_into_the_suite() {
    let monitor = Monitor::start(&h100s());
    let ws = Workspace::new();
    let run = ws.hxrun(&[
        "probe",
        "--sim",
        "--quick",
        "--no-progress",
        "--gpu-source",
        &monitor.url,
        "--write",
        "w.yaml",
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("2 NVIDIA GPUs on the server's machine (its metrics endpoint)"),
        "{}",
        run.stdout
    );
    let written = std::fs::read_to_string(ws.path().join("w.yaml")).unwrap();
    assert!(
        written.contains(&format!("  gpu_metrics: '${{HXRUN_GPU_METRICS_URL:-{}}}'", monitor.url)),
        "{written}"
    );
    assert!(written.contains("gpu: { count: \">= 2\""), "{written}");
    assert!(run.stdout.contains("PASS probe › GPUs present"), "{}", run.stdout);
}
