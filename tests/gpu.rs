//! GPU checks and sampling, with scripted readings (the fake source) and without a driver.

mod common;
use common::{Sim, Workspace, repo};

fn script() -> String {
    repo().join("tests/fixtures/gpus-2x5060ti.yaml").display().to_string()
}

#[test]
fn gpu_step_without_a_driver_fails_or_skips_and_says_so_once() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &format!(
            r#"suite: nogpu
target: {{ url: "{}" }}
tests:
  - name: required
    gpu: {{ count: ">= 1" }}
  - name: optional
    gpu: {{ count: ">= 1", optional: true }}
  - name: perf without a sampler
    perf: {{ http: {{ path: /api/version }}, iterations: 5 }}
"#,
            sim.url
        ),
    );
    let run = ws.hxrun_env(&["s.yaml"], &[("HXRUN_GPU_FAKE", "none")]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("FAIL nogpu › required"), "{}", run.stdout);
    assert!(run.stdout.contains("SKIP nogpu › optional"), "{}", run.stdout);
    assert!(run.stdout.contains("PASS nogpu › perf without a sampler"), "{}", run.stdout);
    assert_eq!(
        run.stdout.matches("note: no NVIDIA GPU: libnvidia-ml.so.1 could not be loaded").count(),
        1,
        "{}",
        run.stdout
    );
    let tests = run.json()["suites"][0]["tests"].clone();
    assert_eq!(tests[0]["message"], "no NVIDIA GPU: libnvidia-ml.so.1 could not be loaded");
    assert_eq!(tests[1]["message"], "no NVIDIA GPU: libnvidia-ml.so.1 could not be loaded");
    assert!(!run.dir.join("reports/gpu.csv").exists(), "no samples, no gpu.csv");
}

#[test]
fn gpu_step_sums_and_each() {
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        r#"suite: gpus
tests:
  - name: seed host
    gpu:
      count: "== 2"
      memory_total: ">= 32GB"
      name: { contains: RTX 5060 Ti }
      driver_version: { starts_with: "575." }
      cuda_version: { equals: "12.9" }
      each: { memory_total: ">= 15GiB", memory_used: "< 1GiB" }
  - name: too few and too small
    gpu:
      count: ">= 4"
      memory_total: ">= 32GiB"
      each: { memory_total: ">= 24GiB" }
"#,
    );
    let run = ws.hxrun_env(&["s.yaml"], &[("HXRUN_GPU_FAKE", &script())]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("PASS gpus › seed host"), "{}", run.stdout);
    assert!(run.stdout.contains("gpu count: expected >= 4, got 2"), "{}", run.stdout);
    assert!(
        run.stdout.contains("gpu memory_total (all GPUs): expected >= 32GiB, got 31.857GiB"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("gpu 0 memory_total: expected >= 24GiB, got 15.929GiB"), "{}", run.stdout);
    assert!(run.stdout.contains("gpu 1 memory_total: expected >= 24GiB"), "{}", run.stdout);
    let o = &run.json()["suites"][0]["tests"][0]["observation"]["snapshot"];
    assert_eq!(o["gpus"].as_array().unwrap().len(), 2);
}

#[test]
fn perf_samples_gpus_into_thresholds_junit_and_csv() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &format!(
            r#"suite: sampled
target: {{ url: "{}" }}
tests:
  - name: under load
    perf:
      generate: {{ model: phi3:latest, prompt: hi, stream: false }}
      rate: 20/s
      duration: 450ms
      gpu_interval: 100ms
    thresholds:
      gpu.util.max: "> 90%"
      gpu.memory_used.max: "< 30GiB"
      gpu.samples: ">= 3"
      gpu.throttled: "== 0"
      model_vram: "< 3GiB"
"#,
            sim.url
        ),
    );
    let env = [("HXRUN_GPU_FAKE", script())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = ws.hxrun_env(&["s.yaml"], &env);
    assert_eq!(run.code, 1, "{}", run.stdout);
    // Only the power-capped samples fail the run, and the failure shows every threshold.
    assert!(run.stdout.contains("gpu.throttled: expected == 0, got "), "{}", run.stdout);
    assert!(run.stdout.contains("✓ gpu.util.max = 97% (expected > 90%)"), "{}", run.stdout);
    assert!(run.stdout.contains("✓ gpu.memory_used.max = 2.988GiB (expected < 30GiB)"), "{}", run.stdout);
    assert!(run.stdout.contains("✓ model_vram = 2.027GiB (expected < 3GiB)"), "{}", run.stdout);
    let junit = run.report("junit.xml");
    assert!(junit.contains("name=\"under load [c=1] gpu.util.max\" value=\"97.000000\""), "{junit}");
    let csv = run.report("gpu.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "timestamp,gpu,name,util_pct,mem_used_mib,mem_total_mib,power_w,temp_c,sm_clock_mhz,throttle,test"
    );
    assert!(lines.len() >= 7, "two GPUs per sampling, at least three samplings: {csv}");
    assert!(lines[1..].iter().all(|l| l.ends_with(",under load")), "{csv}");
    assert!(
        csv.contains(",0,NVIDIA GeForce RTX 5060 Ti,97.0,2650,16311,180.0,68.0,2602,SW_POWER_CAP,under load")
    );
    // A second run appends without a second header.
    ws.hxrun_env(&["s.yaml"], &env);
    let again = run.report("gpu.csv");
    assert_eq!(again.matches("timestamp,gpu").count(), 1);
    assert!(again.lines().count() > lines.len());
}

#[test]
fn gpu_sample_covers_the_whole_run_with_test_names() {
    let sim = Sim::fast();
    let ws = Workspace::new();
    ws.write(
        "s.yaml",
        &format!(
            "suite: whole\ntarget: {{ url: \"{}\" }}\ntests:\n  - name: first\n    generate: {{ model: phi3:latest, prompt: hi, stream: false }}\n  - name: second\n    exec: {{ command: [sleep, \"1\"] }}\n",
            sim.url
        ),
    );
    let run = ws
        .hxrun_env(&["s.yaml", "--gpu-sample", "--gpu-interval", "100ms"], &[("HXRUN_GPU_FAKE", &script())]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let csv = run.report("gpu.csv");
    assert!(csv.lines().any(|l| l.ends_with(",second")), "{csv}");
    assert!(csv.lines().skip(1).all(|l| l.ends_with(",first") || l.ends_with(",second")), "{csv}");
}

#[test]
fn monitor_writes_csv_and_stops_on_sigterm_with_the_file_intact() {
    let ws = Workspace::new();
    let out = ws.path().join("gmon.csv");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hxrun"))
        .args(["monitor", "--csv", out.to_str().unwrap(), "--interval", "100ms"])
        .env("HXRUN_GPU_FAKE", script())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait (bounded) until a few samplings are on disk, then stop it as systemd would.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_to_string(&out).map(|t| t.lines().count()).unwrap_or(0) < 7 {
        assert!(std::time::Instant::now() < deadline, "monitor wrote nothing");
        std::thread::yield_now();
    }
    let status =
        std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success(), "a clean stop exits 0");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.ends_with('\n'));
    assert!(text.lines().skip(1).all(|l| l.split(',').count() == 11), "{text}");
    // Without a driver it says so and exits 3.
    let run = ws.hxrun_env(&["monitor", "--count", "1"], &[("HXRUN_GPU_FAKE", "none")]);
    assert_eq!(run.code, 3);
    assert!(run.stderr.contains("no NVIDIA GPU: libnvidia-ml.so.1 could not be loaded"));
}

#[test]
fn monitor_listen_serves_the_gpus_in_dcgm_exporter_names() {
    use std::io::{BufRead, Read, Write};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hxrun"))
        .args(["monitor", "--listen", "127.0.0.1:0", "--interval", "100ms"])
        .env("HXRUN_GPU_FAKE", script())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap()).read_line(&mut said).unwrap();
    let addr = said
        .split("http://")
        .nth(1)
        .and_then(|a| a.strip_suffix("/metrics\n"))
        .unwrap_or_else(|| panic!("{said}"));
    // Scrape (bounded) until the first sampling is served.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let body = loop {
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        tcp.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.contains("content-type: text/plain; version=0.0.4"), "{response}");
        if response.contains("DCGM_FI_DEV_GPU_UTIL") {
            break response;
        }
        assert!(std::time::Instant::now() < deadline, "nothing served: {response}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let labels = format!(
        "{{gpu=\"0\",device=\"nvidia0\",modelName=\"NVIDIA GeForce RTX 5060 Ti\",Hostname=\"{}\",DCGM_FI_DRIVER_VERSION=\"575.57.08\"}}",
        hostname.trim()
    );
    for line in ["# TYPE DCGM_FI_DEV_FB_USED gauge", &format!("DCGM_FI_DEV_FB_TOTAL{labels} 16311")] {
        assert!(body.lines().any(|l| l == line), "{line} in {body}");
    }
    assert!(body.contains(&format!("DCGM_FI_DEV_GPU_UTIL{labels} ")), "{body}");
    // Another path: 404. A client that sends nothing is let go (10 s for its request head).
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut other = String::new();
    tcp.read_to_string(&mut other).unwrap();
    assert!(other.starts_with("HTTP/1.1 404"), "{other}");
    let mut silent = std::net::TcpStream::connect(addr).unwrap();
    silent.set_read_timeout(Some(std::time::Duration::from_secs(60))).unwrap();
    let mut rest = Vec::new();
    match silent.read_to_end(&mut rest) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "still held after 60 s: {e}"),
    }
    let kill = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    assert!(child.wait().unwrap().success(), "a clean stop exits 0");
    let mut printed = String::new();
    child.stdout.take().unwrap().read_to_string(&mut printed).unwrap();
    assert!(printed.is_empty(), "a service prints no table or CSV lines: {printed}");
    // An address it cannot listen on: said, exit 3.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().to_string();
    let ws = Workspace::new();
    let run = ws.hxrun_env(&["monitor", "--listen", &busy, "--count", "1"], &[("HXRUN_GPU_FAKE", &script())]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains(&format!("cannot listen on {busy}")), "{}", run.stderr);
}

#[test]
fn an_llm_step_samples_the_gpus_while_it_runs_when_its_expectations_ask() {
    // A slow answer (about 0.5 s) so several samples fall in it.
    let sim = common::Sim::start(hxrun::sim::SimConfig {
        tokens_per_s: 40.0,
        ttft: std::time::Duration::from_millis(10),
        load_time: std::time::Duration::from_millis(10),
        ..Default::default()
    });
    let ws = Workspace::new();
    let suite = format!(
        r#"suite: g
target: {{ url: "{}" }}
tests:
  - name: answer within the VRAM budget
    generate: {{ model: phi3:latest, prompt: "Write one sentence.", options: {{ num_predict: 20 }} }}
    expect:
      metrics:
        gpu.samples: ">= 2"
        gpu.memory_used.max: "< 8GiB"
        gpu.util.max: ">= 0%"
  - name: a budget it breaks
    generate: {{ model: phi3:latest, prompt: "Write one sentence.", options: {{ num_predict: 20 }} }}
    expect:
      metrics: {{ gpu.memory_used.max: "< 100MiB" }}
"#,
        sim.url
    );
    ws.write("s.yaml", &suite);
    let run = ws.hxrun_env(&["s.yaml", "--no-progress"], &[("HXRUN_GPU_FAKE", &script())]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("PASS g › answer within the VRAM budget"), "{}", run.stdout);
    assert!(run.stdout.contains("gpu.memory_used.max: expected < 100MiB, got 2.988GiB"), "{}", run.stdout);
    let json = run.json();
    let gpu = &json["suites"][0]["tests"][0]["observation"]["gpu"];
    assert!(gpu["gpu.samples"].as_f64().unwrap() >= 2.0, "{gpu}");

    // Without a GPU the figure is missing, and the failure says why.
    let none = ws.hxrun_env(&["s.yaml", "--no-progress"], &[("HXRUN_GPU_FAKE", "none")]);
    assert_eq!(none.code, 1);
    assert!(none.stdout.contains("gpu.samples: not recorded: no NVIDIA GPU"), "{}", none.stdout);
}
