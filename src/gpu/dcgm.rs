//! GPU readings in NVIDIA dcgm-exporter's Prometheus exposition: the same metric names, units
//! and labels (`gpu`, `device`, `modelName`, `Hostname`, `DCGM_FI_DRIVER_VERSION`), so the
//! dashboards and alerts written for dcgm-exporter read `hxrun monitor --listen` unchanged.
//! One table (`FIELDS`) says which `GpuSample` figure each name carries and in what unit.
//!
//! The text is the Prometheus text format 0.0.4: a `# HELP` and `# TYPE` line per metric, then
//! one line per GPU; label values and help texts escaped as the format says (`\\`, `\"`,
//! `\n`); a value that is not a finite number is written as the format spells it.

use super::{GpuSample, GpuSnapshot};
use std::fmt::Write;

pub(crate) const MIB: f64 = 1024.0 * 1024.0;

/// A GPU figure an exporter carries, in hxrun's units: %, bytes, W, °C, MHz, or NVML's throttle
/// bitmask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    Util,
    MemUsed,
    MemFree,
    MemTotal,
    /// Memory the driver keeps for itself (part of the total, in neither used nor free).
    MemReserved,
    Power,
    Temp,
    SmClock,
    Throttle,
}

impl Reading {
    /// This figure of a sample, in hxrun's units.
    fn of(self, s: &GpuSample) -> Option<f64> {
        match self {
            Reading::Util => s.util_pct,
            Reading::MemUsed => Some(s.mem_used as f64),
            Reading::MemFree => Some(s.mem_total.saturating_sub(s.mem_used) as f64),
            Reading::MemTotal => Some(s.mem_total as f64),
            Reading::MemReserved => None,
            Reading::Power => s.power_w,
            Reading::Temp => s.temp_c,
            Reading::SmClock => s.sm_clock_mhz.map(f64::from),
            Reading::Throttle => Some(throttle_mask(&s.throttle) as f64),
        }
    }
}

/// One exporter metric: its name, the figure it carries, and what one of its units is in
/// hxrun's (MiB: 1048576 bytes).
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) reading: Reading,
    pub(crate) scale: f64,
    /// Its help text where `hxrun monitor --listen` serves it; `None`: read only.
    help: Option<&'static str>,
}

/// dcgm-exporter's names (etc/default-counters.csv) for the figures a `GpuSample` holds.
pub(crate) const FIELDS: &[Field] = &[
    Field {
        name: "DCGM_FI_DEV_GPU_UTIL",
        reading: Reading::Util,
        scale: 1.0,
        help: Some("GPU utilization (in %)."),
    },
    Field {
        name: "DCGM_FI_DEV_FB_USED",
        reading: Reading::MemUsed,
        scale: MIB,
        help: Some("Framebuffer memory used (in MiB)."),
    },
    Field {
        name: "DCGM_FI_DEV_FB_FREE",
        reading: Reading::MemFree,
        scale: MIB,
        help: Some("Framebuffer memory free (in MiB)."),
    },
    Field {
        name: "DCGM_FI_DEV_FB_TOTAL",
        reading: Reading::MemTotal,
        scale: MIB,
        help: Some("Framebuffer memory total (in MiB)."),
    },
    Field { name: "DCGM_FI_DEV_FB_RESERVED", reading: Reading::MemReserved, scale: MIB, help: None },
    Field {
        name: "DCGM_FI_DEV_POWER_USAGE",
        reading: Reading::Power,
        scale: 1.0,
        help: Some("Power draw (in W)."),
    },
    Field {
        name: "DCGM_FI_DEV_GPU_TEMP",
        reading: Reading::Temp,
        scale: 1.0,
        help: Some("GPU temperature (in C)."),
    },
    Field {
        name: "DCGM_FI_DEV_SM_CLOCK",
        reading: Reading::SmClock,
        scale: 1.0,
        help: Some("SM clock frequency (in MHz)."),
    },
    Field {
        name: "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS",
        reading: Reading::Throttle,
        scale: 1.0,
        help: Some("Current clock throttle reasons (bitmask of NVML's nvmlClocksThrottleReason)."),
    },
    // Its name since DCGM 3.3 (NVML renamed throttle reasons to clock event reasons).
    Field { name: "DCGM_FI_DEV_CLOCKS_EVENT_REASONS", reading: Reading::Throttle, scale: 1.0, help: None },
];

/// NVML's throttle reasons and their bits (nvml.h `nvmlClocksThrottleReason*`).
const THROTTLE_BITS: &[(&str, u64)] = &[
    ("GPU_IDLE", 0x1),
    ("APPLICATIONS_CLOCKS_SETTING", 0x2),
    ("SW_POWER_CAP", 0x4),
    ("HW_SLOWDOWN", 0x8),
    ("SYNC_BOOST", 0x10),
    ("SW_THERMAL_SLOWDOWN", 0x20),
    ("HW_THERMAL_SLOWDOWN", 0x40),
    ("HW_POWER_BRAKE_SLOWDOWN", 0x80),
    ("DISPLAY_CLOCK_SETTING", 0x100),
];

/// The bitmask of these throttle reasons (unknown names add nothing).
fn throttle_mask(reasons: &[String]) -> u64 {
    reasons.iter().filter_map(|r| THROTTLE_BITS.iter().find(|(n, _)| n == r)).fold(0, |m, (_, b)| m | b)
}

/// The throttle reasons of a bitmask, by NVML's names (bits it does not name are left out).
pub(crate) fn throttle_reasons(mask: u64) -> Vec<String> {
    THROTTLE_BITS.iter().filter(|(_, bit)| mask & bit != 0).map(|(name, _)| name.to_string()).collect()
}

/// Whether NVML names this throttle reason (`HW_SLOWDOWN`...).
pub(crate) fn is_throttle_reason(name: &str) -> bool {
    THROTTLE_BITS.iter().any(|(n, _)| *n == name)
}

/// A label value or help text as the text format escapes it.
pub(crate) fn escaped(text: &str, quote: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// A sample value as the format spells it.
pub(crate) fn number(v: f64) -> String {
    match v {
        v if v.is_nan() => "NaN".to_string(),
        v if v == f64::INFINITY => "+Inf".to_string(),
        v if v == f64::NEG_INFINITY => "-Inf".to_string(),
        v => format!("{v}"),
    }
}

/// The exposition of one sampling of every GPU.
pub(crate) fn exposition(samples: &[GpuSample], snapshot: Option<&GpuSnapshot>, hostname: &str) -> String {
    let driver = snapshot.map(|s| s.driver_version.as_str()).unwrap_or_default();
    let mut out = String::new();
    for field in FIELDS {
        let Some(help) = field.help else { continue };
        let lines: Vec<String> = samples
            .iter()
            .filter_map(|s| {
                let v = field.reading.of(s)? / field.scale;
                Some(format!(
                    "{}{{gpu=\"{}\",device=\"nvidia{}\",modelName=\"{}\",Hostname=\"{}\",DCGM_FI_DRIVER_VERSION=\"{}\"}} {}\n",
                    field.name,
                    s.gpu,
                    s.gpu,
                    escaped(&s.name, true),
                    escaped(hostname, true),
                    escaped(driver, true),
                    number(v)
                ))
            })
            .collect();
        if lines.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# HELP {} {}", field.name, escaped(help, false));
        let _ = writeln!(out, "# TYPE {} gauge", field.name);
        lines.iter().for_each(|l| out.push_str(l));
    }
    out
}

/// This machine's name, as dcgm-exporter labels it.
pub(crate) fn hostname() -> String {
    crate::files::read_to_string(std::path::Path::new("/proc/sys/kernel/hostname"), "the host name")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(gpu: u32, name: &str) -> GpuSample {
        GpuSample {
            timestamp: chrono::Utc::now(),
            gpu,
            name: name.to_string(),
            util_pct: Some(97.0),
            mem_used: 9100 * 1024 * 1024,
            mem_total: 16311 * 1024 * 1024,
            power_w: None,
            temp_c: Some(71.0),
            sm_clock_mhz: Some(2602),
            throttle: vec!["SW_POWER_CAP".into(), "HW_SLOWDOWN".into()],
            test: None,
            host: None,
        }
    }

    #[test]
    fn dcgm_names_units_and_labels_with_values_escaped() {
        let snapshot =
            GpuSnapshot { driver_version: "575.57.08".into(), cuda_driver_version: None, gpus: vec![] };
        let text =
            exposition(&[sample(0, "RTX \"5060\" \\ Ti\nx"), sample(1, "B")], Some(&snapshot), "host\"1");
        let line = text.lines().find(|l| l.starts_with("DCGM_FI_DEV_FB_USED{gpu=\"0\"")).unwrap();
        assert_eq!(
            line,
            r#"DCGM_FI_DEV_FB_USED{gpu="0",device="nvidia0",modelName="RTX \"5060\" \\ Ti\nx",Hostname="host\"1",DCGM_FI_DRIVER_VERSION="575.57.08"} 9100"#
        );
        assert!(text.contains("DCGM_FI_DEV_FB_FREE{gpu=\"1\",device=\"nvidia1\",modelName=\"B\""));
        assert!(text.contains("} 7211\n"), "free MiB: {text}");
        assert!(text.contains(
            "# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).\n# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n"
        ));
        // Power is not reported by these GPUs: no metric at all, not a 0.
        assert!(!text.contains("POWER_USAGE"), "{text}");
        assert!(text.contains("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS{gpu=\"1\"") && text.contains("} 12\n"));
        assert_eq!(
            throttle_mask(&["SW_POWER_CAP".into(), "HW_SLOWDOWN".into(), "NOT_NVML".into()]),
            0x4 | 0x8
        );
        assert_eq!(
            (number(f64::NAN), number(f64::INFINITY), number(0.5)),
            ("NaN".into(), "+Inf".into(), "0.5".into())
        );
        // Every sample line is `name{labels} value`, one per GPU and field.
        let samples = text.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(samples, 2 * 7, "{text}");
    }
}
