//! The `http` step: one request, the response recorded in full (up to a size cap).

use super::record::{FailureKind, HttpObservation, StepError};
use crate::spec::HttpStep;
use std::collections::BTreeMap;
use std::time::Instant;

/// Header names whose values are always masked in reports.
pub const SENSITIVE_HEADERS: &[&str] =
    &["authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie"];

/// Joins a target base url and a path without doubling or dropping the slash.
pub fn join_url(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// Reads a response body up to `cap` bytes; true when the body was longer (reading stops at
/// the cap: the rest is never read, so a hostile server cannot make hxrun hold it).
pub async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<(Vec<u8>, bool), String> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = cap.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if chunk.len() > room {
                    return Ok((body, true));
                }
            }
            Ok(None) => return Ok((body, false)),
            Err(e) => {
                return Err(format!(
                    "the response from {} broke off after {} bytes: {}",
                    response.url(),
                    body.len(),
                    chain(&e)
                ));
            }
        }
    }
}

/// "the body is longer than 8 MiB (--max-body): ..." for a cut body.
pub fn cut_note(cap: usize) -> String {
    format!(
        "the body is longer than {} (--max-body): hxrun kept the first {0} and stopped reading",
        crate::spec::values::format_bytes(cap as f64)
    )
}

pub async fn run(
    client: &reqwest::Client,
    step: &HttpStep,
    base_url: &str,
    default_headers: &BTreeMap<String, String>,
    limits: super::Limits,
) -> Result<HttpObservation, StepError> {
    let url = match (&step.url, &step.path) {
        (Some(u), _) => u.clone(),
        (None, Some(p)) => join_url(base_url, p),
        (None, None) => base_url.to_string(),
    };
    let method_text = step.method_name();
    let request_line = format!("{} {}", method_text.to_uppercase(), url);
    let fail = |kind, message: String| StepError { kind, message, detail: request_line.clone() };
    let method = reqwest::Method::from_bytes(method_text.to_uppercase().as_bytes())
        .map_err(|_| fail(FailureKind::Error, format!("\"{method_text}\" is not an HTTP method")))?;
    let mut req = client.request(method, &url);
    for (k, v) in default_headers.iter().chain(step.headers.iter()) {
        req = req.header(k, v);
    }
    if !step.query.is_empty() {
        req = req.query(&step.query);
    }
    if let Some(json) = &step.json {
        req = req.json(json);
    } else if let Some(body) = &step.body {
        req = req.body(body.clone());
    }
    let request = req.build().map_err(|e| fail(FailureKind::Error, describe(&e, &url)))?;
    let request_line = format!("{} {}", request.method(), request.url());
    let started = Instant::now();
    let response = client.execute(request).await.map_err(|e| fail(classify(&e), describe(&e, &url)))?;
    let status = response.status().as_u16();
    let headers = header_list(response.headers());
    let (body, truncated) =
        read_capped(response, limits.max_body).await.map_err(|m| fail(FailureKind::Connection, m))?;
    Ok(HttpObservation {
        method: request_line.split(' ').next().unwrap_or_default().to_string(),
        url: request_line.split_once(' ').map(|x| x.1).unwrap_or_default().to_string(),
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        body_truncated: truncated,
        elapsed: started.elapsed(),
    })
}

/// Response headers as (name, value) text pairs.
pub fn header_list(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect()
}

fn classify(e: &reqwest::Error) -> FailureKind {
    if e.is_connect() || e.is_request() || e.is_body() || e.is_decode() {
        FailureKind::Connection
    } else {
        FailureKind::Error
    }
}

/// A reqwest error as a sentence a person can act on.
pub fn describe(e: &reqwest::Error, url: &str) -> String {
    let cause = chain(e);
    if e.is_connect() {
        if cause.contains("refused") {
            format!("connection refused by {url}: is the server running and listening on that port?")
        } else {
            format!("could not connect to {url}: {cause}")
        }
    } else if e.is_builder() {
        format!("invalid request to \"{url}\": {cause}")
    } else {
        format!("request to {url} failed: {cause}")
    }
}

/// The error and its causes, innermost last, without repeats.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::join_url;

    #[test]
    fn joins_urls() {
        assert_eq!(join_url("http://h:1/", "/api/tags"), "http://h:1/api/tags");
        assert_eq!(join_url("http://h:1", "api"), "http://h:1/api");
        assert_eq!(join_url("http://h:1/v1", "/models"), "http://h:1/v1/models");
    }
}
