//! Masks secrets before anything leaves the executor.
//!
//! Results are redacted once, where they are made, so no reporter (and no future one) can
//! leak a key: values of variables listed under `secrets:` and the values of credential
//! headers are replaced by `***`.

use super::http::SENSITIVE_HEADERS;
use super::record::Observation;

const MASK: &str = "***";

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.len() >= 3).collect();
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// Adds the values of credential headers (they are secrets whoever wrote them).
    pub fn with_headers<'a>(mut self, headers: impl IntoIterator<Item = (&'a String, &'a String)>) -> Self {
        let values = headers.into_iter().filter(|(k, _)| is_sensitive(k)).flat_map(|(_, v)| {
            // Mask the token alone too ("Bearer abc" → also "abc").
            let token = v.split_whitespace().last().unwrap_or(v).to_string();
            [v.clone(), token]
        });
        let all = self.secrets.drain(..).chain(values).collect::<Vec<_>>();
        Redactor::new(all)
    }

    pub fn text(&self, s: &str) -> String {
        let mut out = s.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }

    pub fn observation(&self, obs: &Observation) -> Observation {
        let mut obs = obs.clone();
        match &mut obs {
            Observation::Http(h) => {
                h.url = self.text(&h.url);
                h.body = self.text(&h.body);
                for (k, v) in &mut h.headers {
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
                l.error = l.error.as_deref().map(|e| self.text(e));
                l.problems = l.problems.iter().map(|p| self.text(p)).collect();
            }
            Observation::Pull(p) => p.error = p.error.as_deref().map(|e| self.text(e)),
            Observation::Models(m) => m.url = self.text(&m.url),
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

pub fn is_sensitive(header: &str) -> bool {
    SENSITIVE_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(header))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn masks_secrets_and_bearer_tokens() {
        let mut headers = BTreeMap::new();
        headers.insert("Authorization".to_string(), "Bearer sk-12345".to_string());
        let r = Redactor::new(vec!["hunter2".to_string()]).with_headers(&headers);
        assert_eq!(r.text("key sk-12345 pw hunter2"), "key *** pw ***");
        assert_eq!(r.text("Authorization: Bearer sk-12345"), "Authorization: ***");
    }
}
