//! Masks secrets before anything leaves the executor.
//!
//! Results are redacted where they are made — messages, details, observations — with the
//! run's secrets (`mask::Secrets`: the plans' `secrets:` values, API keys and credential
//! headers, and every secret capture from the moment it is captured) in every encoding
//! (`crate::mask`). An observation is masked through its serialized form, so every text in it
//! is, whatever field holds it. The reporters mask everything they write once more, with the
//! same registry, at the output boundary; this layer keeps report.json's observations and
//! every message clean whichever reporter reads them.

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

    /// The observation with every text in it masked, whatever field holds it — a field added
    /// tomorrow included: it is masked through its serialized form (what report.json holds),
    /// and read back only when a secret was in it. Credential headers are masked whole.
    pub(crate) fn observation(&self, obs: &Observation) -> Observation {
        let mut obs = obs.clone();
        if let Observation::Http(h) = &mut obs {
            for (k, v) in h.headers.iter_mut().chain(h.request_headers.iter_mut()) {
                if is_sensitive(k) {
                    *v = MASK.to_string();
                }
            }
        }
        let mask = self.secrets.mask();
        if mask.is_empty() {
            return obs;
        }
        let Ok(text) = serde_json::to_string(&obs) else { return obs };
        let masked = mask.apply(&text);
        if *masked == text {
            return obs;
        }
        // Read straight from the masked text; a secret that spans JSON's own punctuation (it
        // holds `","`) is masked string by string instead.
        let back = serde_json::from_str::<Observation>(&masked).or_else(|_| {
            let mut value: serde_json::Value = serde_json::from_str(&text)?;
            mask.apply_json(&mut value);
            serde_json::from_value::<Observation>(value)
        });
        match back {
            Ok(mut clean) => {
                clean.keep_unrecorded(&obs);
                clean
            }
            // Only a secret equal to one of the format's own words (`http`, `ollama`) can make
            // the masked form unreadable; the reporters' output masks that word everywhere.
            Err(_) => obs,
        }
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

    /// Texts in fields no list named (a model list, a loaded model's name, the asked model, a
    /// tool call's name, a TCP address, a problem's sentence) are masked; numbers, durations
    /// to the nanosecond and what reports never hold stay as they were.
    #[test]
    fn every_text_of_an_observation_is_masked_whatever_field_holds_it() {
        use crate::record::{LlmObservation, ModelsObservation, TcpObservation, ToolCall};
        use std::time::Duration;
        let secret = "sk-echoed-9f3c";
        let r = Redactor::new(Secrets::new([secret.to_string()]));
        let with = |s: &str| format!("x {secret} {s}");
        let mut llm =
            LlmObservation::new(crate::suite::Api::Openai, "http://h/v1", &with("model"), true, 200);
        llm.text = with("answer");
        llm.e2e = Duration::new(1, 234_567_891);
        llm.ttft = Some(Duration::new(0, 987_654_321));
        llm.itl = vec![Duration::new(0, 1), Duration::new(3, 999_999_999)];
        llm.problems = vec![crate::protocol::StreamProblem::WrongModel {
            named: with("named"),
            asked: "m".into(),
            at: None,
        }];
        llm.tool_calls =
            vec![ToolCall { name: with("fn"), arguments: serde_json::json!({ "k": with("arg") }) }];
        let models = ModelsObservation {
            url: "http://h".into(),
            listed: vec![with("listed")],
            present: Vec::new(),
            absent: vec![with("absent")],
            loaded: None,
            elapsed: Duration::new(0, 123_456_789),
        };
        let tcp = TcpObservation { address: with("host:1"), elapsed: Duration::new(2, 1) };
        for obs in
            [Observation::Llm(Box::new(llm.clone())), Observation::Models(models), Observation::Tcp(tcp)]
        {
            let clean = r.observation(&obs);
            let text = serde_json::to_string(&clean).unwrap();
            assert!(!text.contains(secret) && text.contains("***"), "{text}");
        }
        let Observation::Llm(clean) = r.observation(&Observation::Llm(Box::new(llm.clone()))) else {
            unreachable!()
        };
        assert_eq!((clean.e2e, clean.ttft, &clean.itl), (llm.e2e, llm.ttft, &llm.itl), "to the nanosecond");
        assert_eq!(clean.text, "x *** answer");
        // Nothing to mask: the very observation, not a copy read back.
        let plain =
            Observation::Llm(Box::new(LlmObservation::new(crate::suite::Api::Openai, "u", "m", true, 200)));
        let kept = r.observation(&plain);
        assert_eq!(format!("{kept:?}"), format!("{plain:?}"));
    }
}
