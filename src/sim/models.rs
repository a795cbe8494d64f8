//! The simulator's model catalogue: the seed host's five models, with plausible sizes.

use serde_json::{Value, json};

/// A model the simulator serves.
#[derive(Debug, Clone, PartialEq)]
pub struct SimModel {
    pub name: String,
    pub size_bytes: u64,
    pub family: String,
    pub parameter_size: String,
    pub quantization: String,
    /// Text the model appends to every answer (gemma2:2b answered "HX-OK \n" in the seed).
    pub trailing: String,
}

/// The seed report's models: phi3:latest, gemma2:2b, cogito:32b, deepcoder:14b, dolphin3:8b.
pub fn default_models() -> Vec<SimModel> {
    ["phi3:latest", "gemma2:2b", "cogito:32b", "deepcoder:14b", "dolphin3:8b"]
        .iter()
        .map(|n| model_named(n))
        .collect()
}

/// A model by name; known names get their real sizes, others a size from their tag.
pub fn model_named(name: &str) -> SimModel {
    let known: &[(&str, u64, &str, &str, &str)] = &[
        ("phi3:latest", 2_176_178_913, "phi3", "3.8B", ""),
        ("gemma2:2b", 1_629_518_495, "gemma2", "2.6B", " \n"),
        ("cogito:32b", 19_851_336_448, "qwen2", "32.8B", ""),
        ("deepcoder:14b", 8_988_111_616, "qwen2", "14.8B", ""),
        ("dolphin3:8b", 4_920_753_328, "llama", "8.0B", ""),
    ];
    if let Some((n, size, family, params, trailing)) = known.iter().find(|k| k.0 == name) {
        return SimModel {
            name: n.to_string(),
            size_bytes: *size,
            family: family.to_string(),
            parameter_size: params.to_string(),
            quantization: "Q4_K_M".to_string(),
            trailing: trailing.to_string(),
        };
    }
    // "llama3:70b" → 70B parameters → about 0.6 bytes per parameter at Q4_K_M.
    let tag = name.rsplit(':').next().unwrap_or("");
    let billions: f64 = tag.trim_end_matches(['b', 'B']).parse().unwrap_or(7.0);
    SimModel {
        name: name.to_string(),
        size_bytes: (billions * 0.6e9) as u64,
        family: name.split([':', '-', '.']).next().unwrap_or(name).to_string(),
        parameter_size: format!("{billions}B"),
        quantization: "Q4_K_M".to_string(),
        trailing: String::new(),
    }
}

impl SimModel {
    /// A stable fake sha256 digest (64 hex characters) derived from the name.
    pub fn digest(&self) -> String {
        let mut out = String::with_capacity(64);
        let mut h = super::text::FNV_OFFSET;
        for round in 0..4u8 {
            h = super::text::fnv1a(h, self.name.bytes().chain([round]));
            out.push_str(&format!("{h:016x}"));
        }
        out
    }

    pub fn details(&self) -> Value {
        json!({
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization,
        })
    }
}
