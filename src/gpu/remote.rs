//! GPUs read from the machine they are in: a Prometheus endpoint that serves them — NVIDIA's
//! dcgm-exporter (`DCGM_FI_DEV_*`, per GPU by its `gpu` label), utkuozdemir's
//! nvidia_gpu_exporter (`nvidia_smi_*`, per GPU by `uuid`, named by `nvidia_smi_gpu_info`), or
//! `hxrun monitor --listen` (dcgm-exporter's names) — scraped at the sampling interval.
//!
//! The endpoint is another machine's text, so it is read as hostile: one request at a time
//! with a deadline (`TIMEOUT`), no redirects, at most `MAX_BODY` bytes, at most `MAX_GPUS`
//! GPUs; a line that is not a well-formed sample is skipped, and a scrape with no GPU figures
//! at all is an error that names the endpoint (its password, if the url has one, left out).
//!
//! The sample lines are read by `line` below rather than by a crate: prometheus-parse splits
//! label values on commas and keeps their escapes, nom-openmetrics rejects timestamps and
//! writes to stderr on an infinite value — and the format's sample line is small.

use super::dcgm::{self, FIELDS, Reading};
use super::{GpuInfo, GpuSample, GpuSnapshot};
use std::collections::BTreeMap;
use std::time::Duration;

/// One scrape's deadline, connecting included.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes read of one scrape (dcgm-exporter's default set is ~2 KiB a GPU).
pub(crate) const MAX_BODY: usize = 4 * 1024 * 1024;
/// GPUs kept of one scrape.
const MAX_GPUS: usize = 256;

/// nvidia_gpu_exporter's names for the same figures, and what its units are in hxrun's.
const NVIDIA_SMI: &[(&str, Reading, f64)] = &[
    ("nvidia_smi_utilization_gpu_ratio", Reading::Util, 100.0),
    ("nvidia_smi_memory_used_bytes", Reading::MemUsed, 1.0),
    ("nvidia_smi_memory_free_bytes", Reading::MemFree, 1.0),
    ("nvidia_smi_memory_total_bytes", Reading::MemTotal, 1.0),
    ("nvidia_smi_memory_reserved_bytes", Reading::MemReserved, 1.0),
    ("nvidia_smi_power_draw_watts", Reading::Power, 1.0),
    ("nvidia_smi_temperature_gpu", Reading::Temp, 1.0),
    ("nvidia_smi_clocks_current_sm_clock_hz", Reading::SmClock, 1e-6),
];
/// nvidia_gpu_exporter's one-series-per-reason throttle flags (1: active), before NVML's name
/// in lower case; `clocks_throttle_reasons` is the older drivers' spelling.
const NVIDIA_SMI_THROTTLE: &[&str] =
    &["nvidia_smi_clocks_event_reasons_", "nvidia_smi_clocks_throttle_reasons_"];
/// nvidia_gpu_exporter's identity series (`uuid`, `name`, `index`, `driver_version` labels).
const NVIDIA_SMI_INFO: &str = "nvidia_smi_gpu_info";

/// A metrics endpoint serving GPUs.
pub(crate) struct Endpoint {
    url: reqwest::Url,
    /// The url's host (and port), for samples whose exporter does not name its machine.
    host: String,
    /// The url as said in messages: without a password.
    shown: String,
    client: reqwest::Client,
}

impl Endpoint {
    pub(crate) fn new(url: &str) -> Result<Endpoint, String> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| format!("the GPU metrics url \"{}\" is not a url: {e}", shown(url)))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("the GPU metrics url {} is not http:// or https://", shown(url)));
        }
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot make a client for the GPU metrics: {e}"))?;
        let host = match (parsed.host_str(), parsed.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (h, _) => h.unwrap_or_default().to_string(),
        };
        Ok(Endpoint { shown: shown(url), host, url: parsed, client })
    }

    /// The exposition text, capped.
    async fn scrape(&self) -> Result<String, String> {
        let fail = |e: String| format!("GPU metrics at {}: {e}", self.shown);
        let mut response = self
            .client
            .get(self.url.clone())
            .header(reqwest::header::ACCEPT, "text/plain;version=0.0.4")
            .send()
            .await
            .map_err(|e| fail(describe(&e)))?;
        if !response.status().is_success() {
            return Err(fail(format!("answered {}", response.status())));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| fail(describe(&e)))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(fail(format!("the answer is over {} MiB", MAX_BODY >> 20)));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// One scrape, read: an error when it holds no GPU figures at all.
    async fn read_gpus(&self) -> Result<Read, String> {
        let text = self.scrape().await?;
        let read = read(&text, chrono::Utc::now());
        if read.samples.is_empty() {
            return Err(format!(
                "GPU metrics at {}: no GPU figures in its answer (no DCGM_FI_DEV_* or nvidia_smi_* series)",
                self.shown
            ));
        }
        Ok(read)
    }

    /// One sample per GPU the endpoint serves, now.
    pub(crate) async fn sample(&self) -> Result<Vec<GpuSample>, String> {
        Ok(self
            .read_gpus()
            .await?
            .samples
            .into_iter()
            .map(|mut s| {
                s.host.get_or_insert_with(|| self.host.clone());
                s
            })
            .collect())
    }

    /// The driver and every GPU, from one scrape.
    pub(crate) async fn snapshot(&self) -> Result<GpuSnapshot, String> {
        let read = self.read_gpus().await?;
        Ok(GpuSnapshot {
            driver_version: read.driver.unwrap_or_default(),
            cuda_driver_version: read.cuda,
            gpus: read
                .samples
                .iter()
                .map(|s| GpuInfo {
                    index: s.gpu,
                    name: s.name.clone(),
                    memory_total: s.mem_total,
                    memory_used: s.mem_used,
                    memory_free: s.mem_total.saturating_sub(s.mem_used),
                })
                .collect(),
        })
    }
}

/// A url with its password left out, for messages.
fn shown(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => url.chars().take(200).collect(),
    }
}

/// A request error as a sentence, without the url (the message names the endpoint once,
/// its password left out): what failed, then the causes reqwest gives.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("no answer within {}s", TIMEOUT.as_secs());
    }
    let what = if e.is_connect() {
        "cannot connect"
    } else if e.is_body() {
        "the answer broke off"
    } else {
        "the request failed"
    };
    // The innermost cause says it plainly ("Connection refused (os error 111)"); the
    // wrappers around it name hyper's layers.
    let mut cause = std::error::Error::source(e);
    while let Some(inner) = cause.and_then(std::error::Error::source) {
        cause = Some(inner);
    }
    let text = match cause {
        Some(c) => format!("{what}: {c}"),
        None => what.to_string(),
    };
    text.chars().take(400).collect()
}

/// What one scrape says of the GPUs.
#[derive(Debug, Default)]
pub(crate) struct Read {
    pub(crate) samples: Vec<GpuSample>,
    pub(crate) driver: Option<String>,
    pub(crate) cuda: Option<String>,
}

/// One GPU's figures as a scrape gives them, before they make a sample.
#[derive(Debug, Default)]
struct Partial {
    index: Option<u32>,
    name: Option<String>,
    host: Option<String>,
    util: Option<f64>,
    used: Option<f64>,
    free: Option<f64>,
    total: Option<f64>,
    reserved: Option<f64>,
    power: Option<f64>,
    temp: Option<f64>,
    sm_clock: Option<f64>,
    throttle: Vec<String>,
}

impl Partial {
    fn set(&mut self, reading: Reading, v: f64) {
        match reading {
            Reading::Util => self.util = Some(v),
            Reading::MemUsed => self.used = Some(v),
            Reading::MemFree => self.free = Some(v),
            Reading::MemTotal => self.total = Some(v),
            Reading::MemReserved => self.reserved = Some(v),
            Reading::Power => self.power = Some(v),
            Reading::Temp => self.temp = Some(v),
            Reading::SmClock => self.sm_clock = Some(v),
            // A bitmask: a whole number of NVML's width, not whatever a server sends.
            Reading::Throttle if v >= 0.0 && v <= f64::from(u32::MAX) && v.fract() == 0.0 => {
                self.throttle.extend(dcgm::throttle_reasons(v as u64));
            }
            Reading::Throttle => {}
        }
    }

    /// The sample, when the GPU's memory is known (every exporter serves it).
    fn sample(self, at: chrono::DateTime<chrono::Utc>, fallback_index: u32) -> Option<GpuSample> {
        let bytes = |v: f64| (v.is_finite() && v >= 0.0).then_some(v as u64);
        let used = bytes(self.used?)?;
        let total = match self.total.and_then(bytes) {
            Some(t) => t,
            // dcgm-exporter's default set has used and free (and reserved) but no total.
            None => used + bytes(self.free?)? + self.reserved.and_then(bytes).unwrap_or(0),
        };
        let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
        let mut throttle = self.throttle;
        throttle.sort();
        throttle.dedup();
        Some(GpuSample {
            timestamp: at,
            gpu: self.index.unwrap_or(fallback_index),
            name: self.name.unwrap_or_default(),
            util_pct: finite(self.util),
            mem_used: used,
            mem_total: total.max(used),
            power_w: finite(self.power),
            temp_c: finite(self.temp),
            sm_clock_mhz: finite(self.sm_clock)
                .filter(|v| *v >= 0.0)
                .map(|v| v.round().min(f64::from(u32::MAX)) as u32),
            throttle,
            test: None,
            host: self.host,
        })
    }
}

/// The GPUs of one exposition text: dcgm-exporter's series by their `gpu` label,
/// nvidia_gpu_exporter's by `uuid`; lines of other metrics are passed over unread.
pub(crate) fn read(text: &str, at: chrono::DateTime<chrono::Utc>) -> Read {
    let mut gpus: BTreeMap<String, Partial> = BTreeMap::new();
    let mut out = Read::default();
    for raw in text.lines() {
        let raw = raw.trim_start();
        let is_dcgm = raw.starts_with("DCGM_FI_");
        if !is_dcgm && !raw.starts_with("nvidia_smi_") {
            continue;
        }
        let Some(l) = line(raw) else { continue };
        let label = |name: &str| l.labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let key = if is_dcgm {
            label("gpu").map(|g| format!("gpu {g}"))
        } else {
            label("uuid").map(|u| format!("uuid {u}"))
        };
        let Some(key) = key else { continue };
        if !gpus.contains_key(&key) && gpus.len() >= MAX_GPUS {
            continue;
        }
        let gpu = gpus.entry(key).or_default();
        if is_dcgm {
            let Some(field) = FIELDS.iter().find(|f| f.name == l.name) else { continue };
            gpu.index = gpu.index.or_else(|| label("gpu").and_then(|g| g.parse().ok()));
            if gpu.name.is_none() {
                gpu.name = label("modelName").map(str::to_string);
            }
            if gpu.host.is_none() {
                gpu.host = label("Hostname").filter(|h| !h.is_empty()).map(str::to_string);
            }
            if out.driver.is_none() {
                out.driver = label("DCGM_FI_DRIVER_VERSION").filter(|d| !d.is_empty()).map(str::to_string);
            }
            gpu.set(field.reading, l.value * field.scale);
        } else if l.name == NVIDIA_SMI_INFO {
            gpu.index = label("index").and_then(|i| i.parse().ok());
            gpu.name = label("name").map(str::to_string);
            out.driver = out.driver.take().or_else(|| label("driver_version").map(str::to_string));
            out.cuda = out
                .cuda
                .take()
                .or_else(|| label("cuda_version").filter(|c| !c.is_empty()).map(str::to_string));
        } else if let Some((_, reading, scale)) = NVIDIA_SMI.iter().find(|(n, _, _)| *n == l.name) {
            gpu.set(*reading, l.value * scale);
        } else if let Some(reason) = NVIDIA_SMI_THROTTLE.iter().find_map(|p| l.name.strip_prefix(p)) {
            let reason = reason.to_ascii_uppercase();
            if l.value == 1.0 && dcgm::is_throttle_reason(&reason) {
                gpu.throttle.push(reason);
            }
        }
    }
    let mut samples: Vec<GpuSample> =
        gpus.into_values().enumerate().filter_map(|(i, g)| g.sample(at, i as u32)).collect();
    samples.sort_by_key(|s| s.gpu);
    out.samples = samples;
    out
}

/// A sample line of the text format.
#[derive(Debug, PartialEq)]
struct Line<'a> {
    name: &'a str,
    labels: Vec<(String, String)>,
    value: f64,
}

/// `name{label="value",...} value [timestamp]`, label values unescaped (`\\`, `\"`, `\n`);
/// `None` for anything else.
fn line(text: &str) -> Option<Line<'_>> {
    let name_end =
        text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(text.len());
    let name = &text[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut rest = text[name_end..].trim_start();
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let key_end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
            let key = &rest[..key_end];
            rest = rest[key_end..].trim_start().strip_prefix('=')?.trim_start().strip_prefix('"')?;
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let end = loop {
                match chars.next()? {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        c => value.push(c),
                    },
                    (_, c) => value.push(c),
                }
            };
            if key.is_empty() {
                return None;
            }
            labels.push((key.to_string(), value));
            rest = rest[end + 1..].trim_start();
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    let mut fields = rest.split_whitespace();
    let value = match fields.next()? {
        "NaN" => f64::NAN,
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    // A timestamp may follow (milliseconds; OpenMetrics: seconds) — the scrape's own time is
    // used — then only an OpenMetrics exemplar (`# {...} v`).
    let mut rest = fields.peekable();
    if rest.peek().is_some_and(|t| !t.starts_with('#')) {
        rest.next()?.parse::<f64>().ok()?;
    }
    match rest.next() {
        Some(t) if !t.starts_with('#') => None,
        _ => Some(Line { name, labels, value }),
    }
}

#[cfg(test)]
mod tests;
