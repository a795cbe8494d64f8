//! The `http` step: one request, the response recorded in full (up to `--max-body`).

use super::transport::{Purpose, Request, Transport};
use crate::record::{FailureKind, HttpObservation, StepError};
use crate::suite::HttpStep;
use std::collections::BTreeMap;
use std::time::Instant;

/// Joins a target base url and a path without doubling or dropping the slash.
pub(crate) fn join_url(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// The request an http step sends: its url (with the query), the suite's and its own headers,
/// and its body.
pub(crate) fn request(
    step: &HttpStep,
    base_url: &str,
    default_headers: &BTreeMap<String, String>,
) -> Result<Request, String> {
    let url = match (&step.url, &step.path) {
        (Some(u), _) => u.clone(),
        (None, Some(p)) => join_url(base_url, p),
        (None, None) => base_url.to_string(),
    };
    let url = if step.query.is_empty() {
        url
    } else {
        let mut parsed = reqwest::Url::parse(&url).map_err(|e| format!("invalid url \"{url}\": {e}"))?;
        parsed.query_pairs_mut().extend_pairs(step.query.iter());
        parsed.to_string()
    };
    let mut headers: Vec<(String, String)> =
        default_headers.iter().chain(step.headers.iter()).map(|(k, v)| (k.clone(), v.clone())).collect();
    let body = match (&step.json, &step.body) {
        (Some(j), _) => {
            headers.push(("Content-Type".into(), "application/json".into()));
            serde_json::to_vec(j).expect("a JSON value serializes")
        }
        (None, Some(b)) => b.clone().into_bytes(),
        (None, None) => Vec::new(),
    };
    Ok(Request { method: step.method_name(), url, headers, body })
}

pub(crate) async fn run(
    transport: &Transport,
    step: &HttpStep,
    base_url: &str,
    default_headers: &BTreeMap<String, String>,
) -> Result<HttpObservation, StepError> {
    let req = request(step, base_url, default_headers).map_err(|message| StepError {
        kind: FailureKind::Error,
        message,
        detail: format!(
            "{} {}",
            step.method_name(),
            step.path.as_deref().or(step.url.as_deref()).unwrap_or("")
        ),
    })?;
    let line = req.line();
    let with_line = |mut e: StepError| {
        e.detail = line.clone();
        e
    };
    let started = Instant::now();
    let response = transport.send(&req, Purpose::Step).await.map_err(with_line)?;
    let (status, headers) = (response.status, response.headers.clone());
    let (body, truncated) = response.text().await.map_err(with_line)?;
    Ok(HttpObservation {
        method: req.method,
        url: req.url,
        request_headers: req.headers,
        status,
        headers,
        body,
        body_truncated: truncated,
        elapsed: started.elapsed(),
    })
}

/// Reads a response body up to `cap` bytes; true when the body was longer (reading stops at
/// the cap: the rest is never read, so a hostile server cannot make hxrun hold it).
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<(Vec<u8>, bool), String> {
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

/// Response headers as (name, value) text pairs.
pub(crate) fn header_list(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect()
}

/// A reqwest error as a sentence a person can act on.
pub(crate) fn describe(e: &reqwest::Error, url: &str) -> String {
    let cause = chain(e);
    if url.starts_with("https:")
        && let Some(why) = tls_words(&cause)
    {
        return format!("could not connect to {url}: {why} ({cause})");
    }
    if e.is_connect() {
        if cause.contains("refused") {
            // The server, not the path: every request to a server that is down says the same.
            let server = reqwest::Url::parse(url)
                .ok()
                .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
                .unwrap_or_else(|| url.to_string());
            super::refused(&server)
        } else if url.starts_with("https:") && cause.contains("handshake") {
            format!(
                "could not connect to {url}: the TLS handshake failed ({cause}); does the server speak \
                 HTTPS on that port? For a plain-HTTP server write http://"
            )
        } else {
            format!("could not connect to {url}: {cause}")
        }
    } else if e.is_builder() {
        format!("invalid request to \"{url}\": {cause}")
    } else {
        format!("request to {url} failed: {cause}")
    }
}

/// What a TLS failure means, in words a person can act on (rustls' own words stay beside).
fn tls_words(cause: &str) -> Option<&'static str> {
    let words = if cause.contains("InvalidContentType") || cause.contains("corrupt message") {
        "the server answered in plain HTTP, not TLS: write http:// for this port"
    } else if cause.contains("UnknownIssuer") || cause.contains("unknown issuer") {
        "the server's certificate is signed by a CA hxrun does not trust: give that CA with --cacert \
         FILE (or target.tls.ca_cert, or SSL_CERT_FILE)"
    } else if cause.contains("CaUsedAsEndEntity") {
        "the server presents a CA certificate as its own (a self-signed certificate made as a CA, used \
         as its own CA): TLS refuses that — give the server a certificate issued by the CA (basic \
         constraints CA:FALSE) and keep --cacert for the CA, or make its self-signed certificate \
         without CA:TRUE"
    } else if cause.contains("NotValidForName") || cause.contains("not valid for name") {
        "the server's certificate is for another host name than the url's: use the name it was issued for"
    } else if cause.contains("expired") || cause.contains("Expired") {
        "the server's certificate has expired (or the clock here is wrong)"
    } else if cause.contains("CertificateRequired") || cause.contains("certificate required") {
        "the server requires a client certificate: give one with --cert FILE --key FILE (or target.tls.cert/key)"
    } else if cause.contains("BadCertificate")
        || cause.contains("UnknownCA")
        || cause.contains("bad certificate")
    {
        "the server refused the client certificate (not signed by a CA it trusts?)"
    } else if cause.contains("connection was not ready")
        || cause.contains("connection closed before message completed")
    {
        // TLS 1.3 says a missing client certificate after the client's handshake is done: the
        // alert or only the closed connection may reach the request first.
        "the server closed the TLS connection before answering: one that requires a client \
         certificate does so — give one with --cert FILE --key FILE (or target.tls.cert/key)"
    } else {
        return None;
    };
    Some(words)
}

/// The error and its causes, innermost last, without repeats.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
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
