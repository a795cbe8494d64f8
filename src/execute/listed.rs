//! Whether the server lists the model an answer names. Several servers (llama.cpp's
//! llama-server, proxies) echo whatever model name they are asked for, so an answer naming the
//! model asked for proves nothing alone: the server's own model list, fetched once per target
//! and API, must have it too. A server whose list is empty or cannot be read is taken at its
//! word, and the run says so once.

use super::endpoint::Endpoint;
use super::transport::Transport;
use crate::protocol::{Protocol, StreamProblem, same_model};
use crate::record::LlmObservation;
use crate::suite::Api;
use tokio::sync::OnceCell;

/// Names shown in a failure (a server may list hundreds).
const SHOWN: usize = 8;

enum Listed {
    Names {
        url: String,
        names: Vec<String>,
    },
    /// Empty, or not readable (said once, in the run's notes).
    Unusable,
}

/// The model lists of one target, one per API, each fetched the first time an answer needs it.
#[derive(Default)]
pub(crate) struct ModelLists {
    ollama: OnceCell<Listed>,
    openai: OnceCell<Listed>,
    /// What to tell the run once (a list that could not be used), taken by the executor.
    note: std::sync::Mutex<Option<String>>,
}

/// A listed name stands for `model` when they are the same model (`phi3` is `phi3:latest`), or
/// the listed name is a file path whose stem is the model (`/models/smollm2.gguf`).
fn stands_for(listed: &str, model: &str) -> bool {
    let stem = std::path::Path::new(listed).file_stem().and_then(|s| s.to_str()).unwrap_or(listed);
    let a_file = listed.contains(['/', '\\']) || listed.ends_with(".gguf");
    same_model(listed, model) || (a_file && stem == model)
}

impl ModelLists {
    /// Adds an `Unlisted` problem to an answer that names the model asked for when the list
    /// lacks it (an answer naming another model already has its problem).
    pub(crate) async fn check(
        &self,
        transport: &Transport,
        protocol: &dyn Protocol,
        endpoint: Endpoint<'_>,
        obs: &mut LlmObservation,
    ) {
        let answered = (200..300).contains(&obs.status) && obs.error.is_none();
        if !answered || obs.problems.iter().any(|p| matches!(p, StreamProblem::WrongModel { .. })) {
            return;
        }
        let cell = if protocol.api() == Api::Ollama { &self.ollama } else { &self.openai };
        let listed = cell
            .get_or_init(|| async {
                let listed = match super::lifecycle::list_models(transport, protocol, endpoint).await {
                    Ok((url, names)) if !names.is_empty() => return Listed::Names { url, names },
                    Ok((url, _)) => format!("GET {url} lists no models"),
                    Err(e) => format!("its model list could not be read ({})", e.message),
                };
                let note = format!(
                    "{listed}: answers that name the model asked for are taken at their word (a server that \
                     echoes any name would pass)"
                );
                if let Ok(mut n) = self.note.lock() {
                    *n = Some(note);
                }
                Listed::Unusable
            })
            .await;
        let Listed::Names { url, names } = listed else { return };
        if names.iter().any(|n| stands_for(n, &obs.model)) {
            return;
        }
        obs.problems.push(StreamProblem::Unlisted {
            asked: obs.model.clone(),
            url: url.clone(),
            count: names.len(),
            listed: names.iter().take(SHOWN).cloned().collect(),
        });
    }

    /// The note to say once, if there is one.
    pub(crate) fn take_note(&self) -> Option<String> {
        self.note.lock().ok().and_then(|mut n| n.take())
    }
}

#[cfg(test)]
mod tests {
    use super::stands_for;

    #[test]
    fn a_listed_name_stands_for_the_same_model_or_its_file() {
        assert!(stands_for("phi3:latest", "phi3"));
        assert!(stands_for("smollm2", "smollm2"));
        assert!(stands_for("/models/SmolLM2-135M.gguf", "SmolLM2-135M"));
        assert!(!stands_for("phi3:latest", "gemma2:2b"));
        assert!(!stands_for("models/phi3", "phi"));
    }
}
