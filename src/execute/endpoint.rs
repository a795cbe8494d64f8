//! The target as API calls see it: its url, and what every request to it carries — the suite's
//! `defaults.headers` (a gateway key set once for the suite) and the target's `api_key` as a
//! bearer token. Every API call (generate, chat, models, pull, unload, the loaded-models list,
//! perf loops) builds its request here, so none goes without them.

use super::http::join_url;
use super::transport::Request;
use crate::plan::SuitePlan;
use std::collections::BTreeMap;

#[derive(Clone, Copy)]
pub(crate) struct Endpoint<'a> {
    pub(crate) base_url: &'a str,
    api_key: Option<&'a str>,
    headers: &'a BTreeMap<String, String>,
}

impl<'a> Endpoint<'a> {
    pub(crate) fn of(suite: &'a SuitePlan) -> Endpoint<'a> {
        Endpoint::new(&suite.target.url, suite.target.api_key.as_deref(), &suite.headers)
    }

    pub(crate) fn new(
        base_url: &'a str,
        api_key: Option<&'a str>,
        headers: &'a BTreeMap<String, String>,
    ) -> Endpoint<'a> {
        Endpoint { base_url, api_key: api_key.filter(|k| !k.is_empty()), headers }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        join_url(self.base_url, path)
    }

    pub(crate) fn get(&self, path: &str) -> Request {
        self.dress(Request::get(&self.url(path)))
    }

    pub(crate) fn post_json(&self, path: &str, body: &serde_json::Value) -> Request {
        self.dress(Request::json(&self.url(path), body))
    }

    /// The suite's headers, then the bearer token (which replaces an `Authorization` among
    /// them: one credential per request).
    fn dress(&self, mut request: Request) -> Request {
        for (k, v) in self.headers {
            let replaced = self.api_key.is_some() && k.eq_ignore_ascii_case("authorization");
            let set = request.headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(k));
            if !replaced && !set {
                request.headers.push((k.clone(), v.clone()));
            }
        }
        request.bearer(self.api_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_carries_the_suites_headers_and_one_credential() {
        let headers: BTreeMap<String, String> = [
            ("X-Gateway-Key".to_string(), "g".to_string()),
            ("authorization".to_string(), "Basic x".to_string()),
        ]
        .into();
        let with_key =
            Endpoint::new("http://h:1/", Some("k"), &headers).post_json("/v1/models", &serde_json::json!({}));
        assert_eq!(with_key.url, "http://h:1/v1/models");
        let names: Vec<&str> = with_key.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, vec!["Content-Type", "X-Gateway-Key", "Authorization"], "{:?}", with_key.headers);
        assert!(with_key.headers.contains(&("Authorization".to_string(), "Bearer k".to_string())));
        let without = Endpoint::new("http://h:1", Some(""), &headers).get("/api/tags");
        assert!(
            without.headers.contains(&("authorization".to_string(), "Basic x".to_string())),
            "no key: the suite's own"
        );
    }
}
