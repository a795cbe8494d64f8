use super::*;
use chrono::TimeZone;

fn at() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc.timestamp_opt(1_765_000_000, 0).unwrap()
}

const MIB: u64 = 1024 * 1024;

/// dcgm-exporter's answer as NVIDIA's documentation shows it (an A100), with its default
/// set's memory (used and free, no total) and metrics hxrun does not read around them.
const DCGM: &str = r#"# HELP DCGM_FI_DEV_SM_CLOCK SM clock frequency (in MHz).
# TYPE DCGM_FI_DEV_SM_CLOCK gauge
DCGM_FI_DEV_SM_CLOCK{gpu="0",UUID="GPU-34319582-d595-d1c7-d1d2-179bcfa61660",device="nvidia0",modelName="NVIDIA A100-PCIE-40GB",Hostname="ub20-a100-k8s",DCGM_FI_DRIVER_VERSION="535.104.05"} 1410
DCGM_FI_DEV_GPU_TEMP{gpu="0",UUID="GPU-34319582-d595-d1c7-d1d2-179bcfa61660",device="nvidia0",modelName="NVIDIA A100-PCIE-40GB",Hostname="ub20-a100-k8s",DCGM_FI_DRIVER_VERSION="535.104.05"} 38
DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-34319582-d595-d1c7-d1d2-179bcfa61660",device="nvidia0",modelName="NVIDIA A100-PCIE-40GB",Hostname="ub20-a100-k8s",DCGM_FI_DRIVER_VERSION="535.104.05"} 409.692000
DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{gpu="0",UUID="GPU-34319582-d595-d1c7-d1d2-179bcfa61660",device="nvidia0",Hostname="ub20-a100-k8s"} 319159391
DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-34319582-d595-d1c7-d1d2-179bcfa61660",device="nvidia0",modelName="NVIDIA A100-PCIE-40GB",Hostname="ub20-a100-k8s",DCGM_FI_DRIVER_VERSION="535.104.05"} 100
DCGM_FI_DEV_FB_FREE{gpu="0",UUID="GPU-34319582-d595-d1c7-d1d2-179bcfa61660",device="nvidia0",modelName="NVIDIA A100-PCIE-40GB",Hostname="ub20-a100-k8s",DCGM_FI_DRIVER_VERSION="535.104.05"} 35690
DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-34319582-d595-d1c7-d1d2-179bcfa61660",device="nvidia0",modelName="NVIDIA A100-PCIE-40GB",Hostname="ub20-a100-k8s",DCGM_FI_DRIVER_VERSION="535.104.05"} 4845
DCGM_FI_DEV_FB_RESERVED{gpu="0",UUID="GPU-34319582-d595-d1c7-d1d2-179bcfa61660",device="nvidia0",modelName="NVIDIA A100-PCIE-40GB",Hostname="ub20-a100-k8s",DCGM_FI_DRIVER_VERSION="535.104.05"} 425
DCGM_FI_DEV_CLOCKS_EVENT_REASONS{gpu="0",UUID="GPU-34319582-d595-d1c7-d1d2-179bcfa61660",device="nvidia0",modelName="NVIDIA A100-PCIE-40GB",Hostname="ub20-a100-k8s",DCGM_FI_DRIVER_VERSION="535.104.05"} 4
DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu="0",UUID="GPU-34319582-d595-d1c7-d1d2-179bcfa61660",device="nvidia0",Hostname="ub20-a100-k8s"} 0.995630
"#;

#[test]
fn dcgm_exporter_names_become_samples_in_hxrun_units() {
    let read = read(DCGM, at());
    assert_eq!(read.driver.as_deref(), Some("535.104.05"));
    let [s] = read.samples.as_slice() else { panic!("one GPU: {:?}", read.samples) };
    assert_eq!((s.gpu, s.name.as_str(), s.timestamp), (0, "NVIDIA A100-PCIE-40GB", at()));
    assert_eq!(s.host.as_deref(), Some("ub20-a100-k8s"), "its Hostname label");
    assert_eq!(s.mem_used, 4845 * MIB);
    assert_eq!(s.mem_total, (4845 + 35690 + 425) * MIB, "used + free + reserved when no total is served");
    assert_eq!(
        (s.util_pct, s.power_w, s.temp_c, s.sm_clock_mhz),
        (Some(100.0), Some(409.692), Some(38.0), Some(1410))
    );
    assert_eq!(s.throttle, ["SW_POWER_CAP"], "bit 0x4 of the event reasons");
    assert!(s.throttled());
}

#[test]
fn what_the_monitor_serves_reads_back_the_same() {
    let sample = |gpu: u32, name: &str| GpuSample {
        timestamp: at(),
        gpu,
        name: name.to_string(),
        util_pct: Some(97.0),
        mem_used: 9100 * MIB,
        mem_total: 16311 * MIB,
        power_w: Some(143.5),
        temp_c: Some(71.0),
        sm_clock_mhz: Some(2602),
        throttle: vec!["HW_SLOWDOWN".into(), "SW_POWER_CAP".into()],
        test: None,
        // The machine the GPU is in, as its `Hostname` label says.
        host: Some("gpu-host".into()),
    };
    // A model name with the text format's specials and a label separator in it.
    let sent = vec![sample(0, "RTX \"5060\" \\ Ti,x}=\ny"), sample(1, "B")];
    let snapshot =
        GpuSnapshot { driver_version: "575.57.08".into(), cuda_driver_version: None, gpus: vec![] };
    let text = dcgm::exposition(&sent, Some(&snapshot), "gpu-host");
    let read = read(&text, at());
    assert_eq!(read.samples, sent, "{text}");
    assert_eq!(read.driver.as_deref(), Some("575.57.08"));
}

/// nvidia_gpu_exporter's answer (its integration test data for an H200 under load, cut):
/// per GPU by `uuid`, identity in `nvidia_smi_gpu_info`, ratios, bytes and hertz.
const NVIDIA_SMI: &str = r#"# HELP nvidia_smi_clocks_current_sm_clock_hz clocks.current.sm [MHz]
# TYPE nvidia_smi_clocks_current_sm_clock_hz gauge
nvidia_smi_clocks_current_sm_clock_hz{uuid="00000000-0000-0000-0000-000000000000"} 1.98e+09
nvidia_smi_clocks_event_reasons_active{uuid="00000000-0000-0000-0000-000000000000"} 0
nvidia_smi_clocks_event_reasons_gpu_idle{uuid="00000000-0000-0000-0000-000000000000"} 0
nvidia_smi_clocks_event_reasons_sw_thermal_slowdown{uuid="00000000-0000-0000-0000-000000000000"} 1
nvidia_smi_clocks_event_reasons_supported{uuid="00000000-0000-0000-0000-000000000000"} 511
nvidia_smi_gpu_info{uuid="00000000-0000-0000-0000-000000000000",name="NVIDIA H200",driver_version="590.48.01",cuda_version="13.1",pci_bus_id="00000000:71:00.0",index="3"} 1
nvidia_smi_utilization_gpu_ratio{uuid="00000000-0000-0000-0000-000000000000"} 0.42
nvidia_smi_memory_used_bytes{uuid="00000000-0000-0000-0000-000000000000"} 7.06740224e+08
nvidia_smi_memory_total_bytes{uuid="00000000-0000-0000-0000-000000000000"} 1.50754820096e+11
nvidia_smi_power_draw_watts{uuid="00000000-0000-0000-0000-000000000000"} 28.07
nvidia_smi_temperature_gpu{uuid="00000000-0000-0000-0000-000000000000"} 34
nvidia_smi_command_exit_code 0
"#;

#[test]
fn nvidia_gpu_exporter_names_become_samples_in_hxrun_units() {
    let read = read(NVIDIA_SMI, at());
    assert_eq!((read.driver.as_deref(), read.cuda.as_deref()), (Some("590.48.01"), Some("13.1")));
    let [s] = read.samples.as_slice() else { panic!("one GPU: {:?}", read.samples) };
    assert_eq!((s.gpu, s.name.as_str()), (3, "NVIDIA H200"), "its index label");
    assert_eq!((s.mem_used, s.mem_total), (706_740_224, 150_754_820_096));
    assert_eq!(
        (s.util_pct, s.power_w, s.temp_c, s.sm_clock_mhz),
        (Some(42.0), Some(28.07), Some(34.0), Some(1980))
    );
    assert_eq!(
        s.throttle,
        ["SW_THERMAL_SLOWDOWN"],
        "flags at 1 that NVML names; `active`/`supported` are not reasons"
    );
}

#[test]
fn hostile_text_is_skipped_line_by_line_and_bounded() {
    let mut text = String::from(
        "DCGM_FI_DEV_FB_USED{gpu=\"0\"} 100\n\
         DCGM_FI_DEV_FB_FREE{gpu=\"0\"} 50\n\
         DCGM_FI_DEV_GPU_UTIL{gpu=\"0\" 99\n\
         DCGM_FI_DEV_GPU_TEMP{gpu=\"0\"} hot\n\
         DCGM_FI_DEV_POWER_USAGE{gpu=\"0\"} NaN\n\
         DCGM_FI_DEV_SM_CLOCK{gpu=\"0\"} -5\n\
         DCGM_FI_DEV_FB_USED{gpu=\"1\"} -7\n\
         DCGM_FI_DEV_FB_FREE{gpu=\"1\"} 1\n\
         DCGM_FI_DEV_FB_USED{UUID=\"no gpu label\"} 1\n\
         DCGM_FI_DEV_FB_USED{gpu=\"2\"} +Inf\n\
         DCGM_FI_DEV_FB_FREE{gpu=\"2\"} 1\n\
         DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",} 12 1765000000000\n\
         DCGM_FI_DEV_CLOCK_THROTTLE_REASONS{gpu=\"0\"} 1e300\n",
    );
    let read1 = read(&text, at());
    let [s] = read1.samples.as_slice() else { panic!("{:?}", read1.samples) };
    assert_eq!((s.mem_used, s.mem_total), (100 * MIB, 150 * MIB));
    assert_eq!(
        s.util_pct,
        Some(12.0),
        "the broken line is skipped; a trailing comma and a timestamp are the format's"
    );
    assert_eq!(
        (s.temp_c, s.power_w, s.sm_clock_mhz),
        (None, None, None),
        "not a number, NaN, negative: not figures"
    );
    assert!(s.throttle.is_empty(), "1e300 is not a bitmask: {:?}", s.throttle);
    // A scrape naming thousands of GPUs keeps MAX_GPUS of them.
    for g in 0..5000 {
        text.push_str(&format!(
            "DCGM_FI_DEV_FB_USED{{gpu=\"{g}\"}} 1\nDCGM_FI_DEV_FB_FREE{{gpu=\"{g}\"}} 1\n"
        ));
    }
    assert_eq!(read(&text, at()).samples.len(), MAX_GPUS);
}

#[test]
fn sample_lines_are_read_as_the_format_writes_them() {
    let l = line(r#"m_x:y{a="1, }",b = "q\"\\\n" , } 2.5e3 17"#).unwrap();
    assert_eq!(l.name, "m_x:y");
    assert_eq!(l.labels, [("a".to_string(), "1, }".to_string()), ("b".to_string(), "q\"\\\n".to_string())]);
    assert_eq!(l.value, 2500.0);
    assert_eq!(line("plain 7").map(|l| (l.labels.len(), l.value)), Some((0, 7.0)));
    assert!(line("m -Inf").unwrap().value.is_infinite());
    assert_eq!(line("m 3 1520879607.789 # {trace_id=\"x\"} 1").map(|l| l.value), Some(3.0), "OpenMetrics");
    for bad in ["", "m", "m{a=\"1\"", "m{a=1} 2", "m{=\"1\"} 2", "9m 1", "m 1 2 3x", "m{a=\"1\\", "m 1 later"]
    {
        assert_eq!(line(bad), None, "{bad:?}");
    }
}

#[test]
fn a_url_with_a_password_is_never_shown_with_it() {
    assert_eq!(shown("http://ops:hunter2@gpu-host:9400/metrics"), "http://ops:***@gpu-host:9400/metrics");
    let err = Endpoint::new("ftp://ops:hunter2@gpu-host/").err().unwrap();
    assert!(err.contains("not http") && !err.contains("hunter2"), "{err}");
}

#[tokio::test]
async fn an_endpoint_that_answers_wrong_says_what_and_where() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        // First: a 503; then a page with no GPU in it; then more than MAX_BODY.
        for answer in 0..3 {
            let (mut c, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf).await;
            let body = match answer {
                0 => String::new(),
                1 => "up 1\n".to_string(),
                _ => "x".repeat(MAX_BODY + 1),
            };
            let status = if answer == 0 { "503 Service Unavailable" } else { "200 OK" };
            let head =
                format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
            let _ = c.write_all(head.as_bytes()).await;
            let _ = c.write_all(body.as_bytes()).await;
        }
    });
    let e = Endpoint::new(&format!("http://u:secret@{addr}/metrics")).unwrap();
    let first = e.sample().await.unwrap_err();
    assert!(
        first.contains("503") && first.contains(&addr.to_string()) && !first.contains("secret"),
        "{first}"
    );
    let second = e.sample().await.unwrap_err();
    assert!(second.contains("no GPU figures"), "{second}");
    let third = e.sample().await.unwrap_err();
    assert!(third.contains("over 4 MiB"), "{third}");
}
