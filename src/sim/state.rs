//! The simulator's mutable state: which models are installed (pull adds some) and which are
//! "loaded", and for how long (Ollama's keep_alive).

use super::{SimConfig, SimModel};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Ollama keeps a model loaded this long after a request unless told otherwise.
const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub struct SimState {
    pub config: Arc<SimConfig>,
    /// Requests answered at once when the capacity is capped.
    slots: Option<Arc<Semaphore>>,
    draws: Arc<AtomicU64>,
    answers: Arc<AtomicU64>,
    installed: Arc<Mutex<Vec<SimModel>>>,
    loaded: Arc<Mutex<HashMap<String, Option<Instant>>>>,
    /// When the server started (a degrading server slows down from here).
    born: Instant,
    /// `/tokenize`'s token ids.
    vocabulary: Arc<Mutex<super::tokenizer::Vocabulary>>,
}

/// keep_alive as Ollama reads it: a duration string, seconds, 0 (unload), negative (forever).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeepAlive {
    Unload,
    For(Duration),
    Forever,
}

impl KeepAlive {
    pub fn parse(v: Option<&serde_json::Value>) -> KeepAlive {
        let secs: Option<f64> = match v {
            None | Some(serde_json::Value::Null) => return KeepAlive::For(DEFAULT_KEEP_ALIVE),
            Some(serde_json::Value::Number(n)) => n.as_f64(),
            Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok().or_else(|| {
                humantime::parse_duration(s.trim_start_matches('-'))
                    .ok()
                    .map(|d| if s.starts_with('-') { -d.as_secs_f64() } else { d.as_secs_f64() })
            }),
            _ => None,
        };
        match secs {
            Some(0.0) => KeepAlive::Unload,
            Some(s) if s < 0.0 => KeepAlive::Forever,
            Some(s) => KeepAlive::For(Duration::from_secs_f64(s)),
            None => KeepAlive::For(DEFAULT_KEEP_ALIVE),
        }
    }
}

impl SimState {
    /// How much slower than configured answers are now (1 unless `slow_down_per_s` is set).
    pub fn slowness(&self) -> f64 {
        1.0 + self.config.faults.slow_down_per_s.unwrap_or(0.0).max(0.0) * self.born.elapsed().as_secs_f64()
    }

    pub fn new(config: SimConfig) -> Self {
        let installed = Arc::new(Mutex::new(config.models.clone()));
        let slots = config.capacity.map(|n| Arc::new(Semaphore::new(n.max(1))));
        SimState {
            born: Instant::now(),
            config: Arc::new(config),
            slots,
            draws: Arc::new(AtomicU64::new(0)),
            answers: Arc::new(AtomicU64::new(0)),
            installed,
            loaded: Arc::new(Mutex::new(HashMap::new())),
            vocabulary: Arc::default(),
        }
    }

    /// The token ids `/tokenize` gives out.
    pub(super) fn vocabulary(&self) -> &Mutex<super::tokenizer::Vocabulary> {
        &self.vocabulary
    }

    /// Waits for a free answering slot (only when the capacity is capped).
    pub async fn slot(&self) -> Option<OwnedSemaphorePermit> {
        match &self.slots {
            Some(s) => Arc::clone(s).acquire_owned().await.ok(),
            None => None,
        }
    }

    /// A speed factor in [1 − jitter, 1 + jitter], from a deterministic sequence.
    /// Counts answers (for the `vary_answers` fault): true for every second one.
    pub fn second_answer(&self) -> bool {
        self.answers.fetch_add(1, Ordering::Relaxed) % 2 == 1
    }

    pub fn jitter_factor(&self) -> f64 {
        let j = self.config.jitter.clamp(0.0, 0.9);
        if j == 0.0 {
            return 1.0;
        }
        let n = self.draws.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 31;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 29;
        let u = (x >> 11) as f64 / (1u64 << 53) as f64;
        1.0 + j * (2.0 * u - 1.0)
    }

    /// An installed model by name; Ollama accepts a bare name for the `:latest` tag.
    pub fn model(&self, name: &str) -> Option<SimModel> {
        let full = full_name(name);
        self.installed.lock().expect("sim state lock").iter().find(|m| m.name == full).cloned()
    }

    pub fn installed(&self) -> Vec<SimModel> {
        self.installed.lock().expect("sim state lock").clone()
    }

    /// Adds a pulled model (a no-op when it is already installed).
    pub fn install(&self, model: SimModel) {
        let mut installed = self.installed.lock().expect("sim state lock");
        if !installed.iter().any(|m| m.name == model.name) {
            installed.push(model);
        }
    }

    /// Marks the model in use; returns the load time the request must pay (zero if warm).
    pub fn acquire(&self, name: &str, keep: KeepAlive) -> Duration {
        let now = Instant::now();
        let mut loaded = self.loaded.lock().expect("sim state lock");
        let warm = loaded.get(name).is_some_and(|until| until.is_none_or(|t| t > now));
        let until = match keep {
            KeepAlive::Unload => {
                // Unloaded after this request; a later request loads again.
                loaded.remove(name);
                return if warm { Duration::ZERO } else { self.config.load_time };
            }
            KeepAlive::For(d) => Some(now + d),
            KeepAlive::Forever => None,
        };
        loaded.insert(name.to_string(), until);
        if warm { Duration::ZERO } else { self.config.load_time }
    }

    pub fn unload(&self, name: &str) {
        self.loaded.lock().expect("sim state lock").remove(name);
    }

    /// Loaded models with their expiry (None: kept forever).
    pub fn loaded(&self) -> Vec<(String, Option<Instant>)> {
        let now = Instant::now();
        let mut v: Vec<_> = self
            .loaded
            .lock()
            .expect("sim state lock")
            .iter()
            .filter(|(_, until)| until.is_none_or(|t| t > now))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// `phi3` → `phi3:latest`.
pub(super) fn full_name(name: &str) -> String {
    if name.contains(':') { name.to_string() } else { format!("{name}:latest") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keep_alive_forms() {
        assert_eq!(KeepAlive::parse(Some(&json!(0))), KeepAlive::Unload);
        assert_eq!(KeepAlive::parse(Some(&json!("0"))), KeepAlive::Unload);
        assert_eq!(KeepAlive::parse(Some(&json!("0s"))), KeepAlive::Unload);
        assert_eq!(KeepAlive::parse(Some(&json!("-1"))), KeepAlive::Forever);
        assert_eq!(KeepAlive::parse(Some(&json!("10m"))), KeepAlive::For(Duration::from_secs(600)));
    }

    #[test]
    fn cold_then_warm_then_unloaded() {
        let s = SimState::new(SimConfig { load_time: Duration::from_millis(5), ..Default::default() });
        assert_eq!(s.acquire("phi3:latest", KeepAlive::For(DEFAULT_KEEP_ALIVE)), Duration::from_millis(5));
        assert_eq!(s.acquire("phi3:latest", KeepAlive::For(DEFAULT_KEEP_ALIVE)), Duration::ZERO);
        s.unload("phi3:latest");
        assert_eq!(s.acquire("phi3:latest", KeepAlive::Unload), Duration::from_millis(5));
        assert!(s.loaded().is_empty());
    }
}
