//! Which server answers at a url: Ollama, llama.cpp's llama-server, vLLM, TGI or another
//! OpenAI-compatible server — decided from what it answers on the endpoints only one kind has,
//! its `Server` header and the shape of its model list, with the reasons written down.
//!
//! Pure: the caller fetches [`PATHS`] (each with a deadline) and hands over what came back.

use crate::suite::Api;
use serde_json::Value;
use std::collections::BTreeMap;

/// What to ask, in this order: Ollama's own endpoints, the OpenAI model list, then the
/// endpoints only llama.cpp (`/props`), TGI (`/info`) and vLLM (`/version`) have.
pub(crate) const PATHS: &[&str] =
    &["/api/version", "/api/tags", "/api/ps", "/v1/models", "/props", "/info", "/version", "/health"];

/// One answer: status, `Server` header and body (None: no answer, with why).
#[derive(Debug, Clone)]
pub(crate) enum Seen {
    Answer { status: u16, server: Option<String>, body: String },
    Nothing(String),
}

impl Seen {
    fn json(&self) -> Option<Value> {
        match self {
            Seen::Answer { status: 200..=299, body, .. } => serde_json::from_str(body).ok(),
            _ => None,
        }
    }

    /// `→ 404`, `→ 200` or `→ connection refused`, for the evidence.
    fn brief(&self) -> String {
        match self {
            Seen::Answer { status, .. } => format!("→ {status}"),
            Seen::Nothing(why) => format!("→ {why}"),
        }
    }
}

/// The kinds of server hxrun knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerKind {
    Ollama,
    LlamaCpp,
    Vllm,
    Tgi,
    /// Answers the OpenAI API but none of the above's own endpoints (LM Studio, a gateway...).
    OpenaiCompatible,
}

impl ServerKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ServerKind::Ollama => "Ollama",
            ServerKind::LlamaCpp => "llama.cpp llama-server",
            ServerKind::Vllm => "vLLM",
            ServerKind::Tgi => "TGI (text-generation-inference)",
            ServerKind::OpenaiCompatible => "an OpenAI-compatible server",
        }
    }

    /// Whether its answers carry its own timing (Ollama's durations, llama.cpp's `timings`),
    /// so hxrun's figures can be held against the server's.
    pub(crate) fn reports_timing(self) -> bool {
        matches!(self, ServerKind::Ollama | ServerKind::LlamaCpp)
    }
}

/// What the probe found.
#[derive(Debug, Clone)]
pub(crate) struct Detected {
    pub(crate) kind: ServerKind,
    /// The API to test it through.
    pub(crate) api: Api,
    /// Why hxrun decided so, one reason per line.
    pub(crate) evidence: Vec<String>,
    pub(crate) version: Option<String>,
    /// Its models, as it lists them.
    pub(crate) models: Vec<String>,
    /// Models it holds in memory now (Ollama's `/api/ps`).
    pub(crate) loaded: Vec<String>,
    /// Context length, where the server says (llama.cpp `/props`, vLLM `max_model_len`, TGI
    /// `max_total_tokens`).
    pub(crate) context_length: Option<u64>,
    /// Requests it serves at once, where the server says (llama.cpp `total_slots`).
    pub(crate) slots: Option<u64>,
}

/// Decides from the answers to [`PATHS`]; `api` forces the API family (`--api`). Err says what
/// every endpoint answered, when nothing looks like an LLM server.
pub(crate) fn detect(seen: &BTreeMap<&str, Seen>, api: Option<Api>) -> Result<Detected, String> {
    // Nothing answered at all (refused, TLS, timeouts): that one reason is the error.
    let reasons: Vec<&str> = seen
        .values()
        .filter_map(|s| match s {
            Seen::Nothing(why) => Some(why.as_str()),
            Seen::Answer { .. } => None,
        })
        .collect();
    if reasons.len() == seen.len()
        && let Some(first) = reasons.first()
    {
        let first_path = seen.keys().next().copied().unwrap_or_default();
        return Err(format!("nothing answers: GET {first_path} → {first}"));
    }
    let get = |p: &str| seen.get(p);
    let json = |p: &str| get(p).and_then(Seen::json);
    let mut evidence = Vec::new();
    let server_header = seen.values().find_map(|s| match s {
        Seen::Answer { server: Some(v), .. } => Some(v.clone()),
        _ => None,
    });

    let ollama_version = json("/api/version").and_then(|v| v["version"].as_str().map(str::to_string));
    let ollama_tags = json("/api/tags").filter(|v| v["models"].is_array());
    let openai_models = json("/v1/models").filter(|v| v["data"].is_array());

    let ollama = ollama_version.is_some() && ollama_tags.is_some();
    if ollama && api != Some(Api::Openai) {
        evidence.push(format!(
            "GET /api/version answered {{\"version\": \"{}\"}} and GET /api/tags a model list: Ollama's own API",
            ollama_version.as_deref().unwrap_or_default()
        ));
        let models = names(ollama_tags.as_ref(), "models", "name");
        let loaded = names(json("/api/ps").as_ref(), "models", "name");
        return Ok(Detected {
            kind: ServerKind::Ollama,
            api: Api::Ollama,
            evidence,
            version: ollama_version,
            models,
            loaded,
            context_length: None,
            slots: None,
        });
    }

    if api == Some(Api::Ollama) {
        return Err(format!(
            "--api ollama, but this is not Ollama's API: {}",
            PATHS[..2].iter().map(|p| format!("GET {p} {}", brief(get(p)))).collect::<Vec<_>>().join(", ")
        ));
    }
    let Some(list) = openai_models else {
        let all: Vec<String> = PATHS.iter().map(|p| format!("GET {p} {}", brief(get(p)))).collect();
        return Err(format!(
            "no Ollama or OpenAI-compatible API answers here ({}); check the url (and --api-key for a gateway)",
            all.join(", ")
        ));
    };
    let models = names(Some(&list), "data", "id");
    evidence.push(format!("GET /v1/models listed {} model(s): an OpenAI-compatible API", models.len()));
    let owners: Vec<&str> =
        list["data"].as_array().into_iter().flatten().filter_map(|m| m["owned_by"].as_str()).collect();
    let mut found = Detected {
        kind: ServerKind::OpenaiCompatible,
        api: Api::Openai,
        evidence,
        version: None,
        models,
        loaded: Vec::new(),
        context_length: None,
        slots: None,
    };
    if ollama {
        found.kind = ServerKind::Ollama;
        found.version = ollama_version;
        found.evidence.push(
            "GET /api/version and /api/tags answer too: Ollama, tested through /v1 (--api openai)".into(),
        );
        return Ok(found);
    }

    let props = json("/props")
        .filter(|v| v.get("default_generation_settings").is_some() || v.get("total_slots").is_some());
    let info = json("/info").filter(|v| v["model_id"].is_string());
    let llama_header = server_header.as_deref().is_some_and(|s| s.contains("llama.cpp"));
    if props.is_some() || llama_header || owners.contains(&"llamacpp") {
        found.kind = ServerKind::LlamaCpp;
        if let Some(p) = &props {
            found.evidence.push(
                "GET /props answered llama-server's settings (default_generation_settings, total_slots)"
                    .into(),
            );
            found.context_length = p["default_generation_settings"]["n_ctx"].as_u64();
            found.slots = p["total_slots"].as_u64();
            found.version = p["build_info"].as_str().map(str::to_string);
        }
        if llama_header {
            found.evidence.push("its answers carry `Server: llama.cpp`".into());
        }
        if owners.contains(&"llamacpp") {
            found.evidence.push("/v1/models says owned_by: llamacpp".into());
        }
    } else if let Some(i) = info {
        found.kind = ServerKind::Tgi;
        found.evidence.push(format!(
            "GET /info answered TGI's model info (model_id {}{})",
            i["model_id"].as_str().unwrap_or_default(),
            i["router"].as_str().map(|r| format!(", router {r}")).unwrap_or_default()
        ));
        found.context_length = i["max_total_tokens"].as_u64();
        found.version = i["version"].as_str().map(str::to_string);
    } else if owners.contains(&"vllm") {
        found.kind = ServerKind::Vllm;
        found.evidence.push("/v1/models says owned_by: vllm".into());
        found.context_length = list["data"][0]["max_model_len"].as_u64();
        found.version = json("/version").and_then(|v| v["version"].as_str().map(str::to_string));
        if let Some(v) = &found.version {
            found.evidence.push(format!("GET /version answered {{\"version\": \"{v}\"}}"));
        }
    } else {
        found.evidence.push(format!(
            "none of llama.cpp's /props, TGI's /info or vLLM's owned_by: vllm (GET /props {}, GET /info {}{})",
            brief(get("/props")),
            brief(get("/info")),
            server_header.map(|s| format!(", Server: {s}")).unwrap_or_default()
        ));
    }
    Ok(found)
}

fn brief(seen: Option<&Seen>) -> String {
    seen.map_or_else(|| "→ not asked".into(), Seen::brief)
}

/// `value[list][*][field]` as strings.
fn names(value: Option<&Value>, list: &str, field: &str) -> Vec<String> {
    value
        .and_then(|v| v[list].as_array())
        .into_iter()
        .flatten()
        .filter_map(|m| m[field].as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> Seen {
        Seen::Answer { status: 200, server: None, body: body.into() }
    }

    fn missing() -> Seen {
        Seen::Answer { status: 404, server: None, body: "not found".into() }
    }

    fn seen(pairs: &[(&'static str, Seen)]) -> BTreeMap<&'static str, Seen> {
        let mut m: BTreeMap<&str, Seen> = PATHS.iter().map(|p| (*p, missing())).collect();
        m.extend(pairs.iter().cloned());
        m
    }

    #[test]
    fn ollama_by_its_own_endpoints_with_loaded_models() {
        let s = seen(&[
            ("/api/version", ok(r#"{"version":"0.5.7"}"#)),
            ("/api/tags", ok(r#"{"models":[{"name":"phi3:latest"},{"name":"gemma2:2b"}]}"#)),
            ("/api/ps", ok(r#"{"models":[{"name":"gemma2:2b"}]}"#)),
            ("/v1/models", ok(r#"{"data":[{"id":"phi3:latest","owned_by":"library"}]}"#)),
        ]);
        let d = detect(&s, None).unwrap();
        assert_eq!((d.kind, d.api), (ServerKind::Ollama, Api::Ollama));
        assert_eq!(d.models, ["phi3:latest", "gemma2:2b"]);
        assert_eq!(d.loaded, ["gemma2:2b"]);
        assert_eq!(d.version.as_deref(), Some("0.5.7"));
        assert!(d.evidence[0].contains("0.5.7"), "{:?}", d.evidence);
        let through_v1 = detect(&s, Some(Api::Openai)).unwrap();
        assert_eq!((through_v1.kind, through_v1.api), (ServerKind::Ollama, Api::Openai));
    }

    #[test]
    fn each_openai_compatible_server_by_what_only_it_has() {
        let list = |owner: &str| {
            ok(&format!(r#"{{"data":[{{"id":"m","owned_by":"{owner}","max_model_len":8192}}]}}"#))
        };
        let llama = seen(&[
            ("/v1/models", list("llamacpp")),
            ("/props", ok(r#"{"default_generation_settings":{"n_ctx":4096},"total_slots":4}"#)),
        ]);
        let d = detect(&llama, None).unwrap();
        assert_eq!((d.kind, d.context_length, d.slots), (ServerKind::LlamaCpp, Some(4096), Some(4)));
        let by_header = seen(&[(
            "/v1/models",
            Seen::Answer { status: 200, server: Some("llama.cpp".into()), body: r#"{"data":[]}"#.into() },
        )]);
        assert_eq!(detect(&by_header, None).unwrap().kind, ServerKind::LlamaCpp);

        let tgi =
            seen(&[("/v1/models", list("m")), ("/info", ok(r#"{"model_id":"m","max_total_tokens":2048}"#))]);
        let d = detect(&tgi, None).unwrap();
        assert_eq!((d.kind, d.context_length), (ServerKind::Tgi, Some(2048)));

        let vllm = seen(&[("/v1/models", list("vllm")), ("/version", ok(r#"{"version":"0.6.4"}"#))]);
        let d = detect(&vllm, None).unwrap();
        assert_eq!(
            (d.kind, d.context_length, d.version.as_deref()),
            (ServerKind::Vllm, Some(8192), Some("0.6.4"))
        );

        let other = seen(&[("/v1/models", list("lmstudio"))]);
        let d = detect(&other, None).unwrap();
        assert_eq!((d.kind, d.api), (ServerKind::OpenaiCompatible, Api::Openai));
        assert!(d.evidence.iter().any(|e| e.contains("none of llama.cpp")), "{:?}", d.evidence);
    }

    #[test]
    fn nothing_answering_says_why_once() {
        let all: BTreeMap<&str, Seen> =
            PATHS.iter().map(|p| (*p, Seen::Nothing("connection refused".into()))).collect();
        assert_eq!(detect(&all, None).unwrap_err(), "nothing answers: GET /api/ps → connection refused");
    }

    #[test]
    fn nothing_recognisable_says_what_each_endpoint_answered() {
        let mut s = seen(&[]);
        s.insert("/v1/models", Seen::Nothing("connection refused".into()));
        let e = detect(&s, None).unwrap_err();
        assert!(e.contains("GET /api/version → 404"), "{e}");
        assert!(e.contains("GET /v1/models → connection refused"), "{e}");
        let forced = detect(&seen(&[("/v1/models", ok(r#"{"data":[]}"#))]), Some(Api::Ollama)).unwrap_err();
        assert!(forced.contains("--api ollama, but this is not Ollama's API"), "{forced}");
    }
}
