//! Masks secrets before anything leaves the executor.
//!
//! Results are redacted where they are made — messages, details, observations — with the
//! suite's secrets (`SuitePlan::secrets`: `secrets:` values, API keys, credential headers) in
//! every encoding (`crate::mask`). The reporters mask everything they write once more at the
//! output boundary; this layer keeps report.json's observations and every message clean
//! whichever reporter reads them.

use crate::mask::Secrets;
use crate::record::Observation;
use crate::suite::step::is_sensitive;

const MASK: &str = "***";

#[derive(Debug, Clone, Default)]
pub(crate) struct Redactor {
    secrets: Secrets,
}

impl Redactor {
    /// A redactor of the run's secrets, as they are when it masks.
    pub(crate) fn new(secrets: Secrets) -> Self {
        Redactor { secrets }
    }

    /// Masks these too, here and in every holder of the run's registry.
    pub(crate) fn learn(&self, secrets: impl IntoIterator<Item = String>) {
        self.secrets.add(secrets);
    }

    pub(crate) fn text(&self, s: &str) -> String {
        self.secrets.apply(s).into_owned()
    }

    pub(crate) fn observation(&self, obs: &Observation) -> Observation {
        let mut obs = obs.clone();
        match &mut obs {
            Observation::Http(h) => {
                h.url = self.text(&h.url);
                h.body = self.text(&h.body);
                for (k, v) in h.headers.iter_mut().chain(h.request_headers.iter_mut()) {
                    *v = if is_sensitive(k) { MASK.to_string() } else { self.text(v) };
                }
            }
            Observation::Exec(e) => {
                e.command = e.command.iter().map(|c| self.text(c)).collect();
                e.stdout = self.text(&e.stdout);
                e.stderr = self.text(&e.stderr);
            }
            Observation::Llm(l) => {
                l.url = self.text(&l.url);
                l.text = self.text(&l.text);
                l.answers = l.answers.iter().map(|a| self.text(a)).collect();
                l.error = l.error.as_deref().map(|e| self.text(e));
                for call in &mut l.tool_calls {
                    let masked = self.text(&call.arguments.to_string());
                    call.arguments =
                        serde_json::from_str(&masked).unwrap_or(serde_json::Value::String(masked));
                }
                for text in l.problems.iter_mut().flat_map(|p| p.texts_mut()) {
                    *text = self.text(text);
                }
            }
            Observation::Pull(p) => p.error = p.error.as_deref().map(|e| self.text(e)),
            Observation::Models(m) => m.url = self.text(&m.url),
            Observation::Embed(e) => {
                e.url = self.text(&e.url);
                e.error = e.error.as_deref().map(|x| self.text(x));
            }
            Observation::Perf(p) => {
                p.target = self.text(&p.target);
                for s in p.levels.iter_mut().flat_map(|l| l.samples.iter_mut()) {
                    s.error = s.error.as_deref().map(|e| self.text(e));
                }
            }
            Observation::Tcp(_) | Observation::Gpu(_) => {}
        }
        obs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn masks_secrets_and_bearer_tokens() {
        let mut headers = BTreeMap::new();
        headers.insert("Authorization".to_string(), "Bearer sk-12345".to_string());
        let secrets = crate::suite::step::credentials(&headers).into_iter().chain(["hunter2".to_string()]);
        let r = Redactor::new(Secrets::new(secrets));
        assert_eq!(r.text("key sk-12345 pw hunter2"), "key *** pw ***");
        assert_eq!(r.text("Authorization: Bearer sk-12345"), "Authorization: ***");
    }
}
