//! The one way hxrun sends HTTP: every request of every step — http steps, LLM calls, model
//! lifecycle calls, hxrun's own `/api/ps` and unloads, perf loops — goes through `Transport`,
//! which picks the client and applies the caps.
//!
//! Two clients sit behind it. The lean HTTP/1.1 client (`h1`) serves plain `http://` API
//! calls: it reads the socket in the measuring task (first tokens are stamped as they arrive)
//! and reaches wrk's request rate in perf loops. The general client (reqwest) serves `https://`,
//! runs behind a proxy, and http steps, which follow redirects as curl -L does. API calls follow
//! no redirect on either client: a 30x from an inference endpoint is reported as such. Bodies
//! are kept up to `Limits::max_body` whichever client read them.

use super::Limits;
use super::h1;
use super::http::{chain, describe, header_list};
use crate::record::{FailureKind, StepError};
use crate::suite::Tls;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::pin::Pin;
use std::sync::Arc;

/// A response body as it arrives.
pub(crate) type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// Both clients, their connections and the caps.
pub(crate) struct Transport {
    /// http steps: redirects followed.
    steps: reqwest::Client,
    /// API calls over TLS or a proxy: no redirects, as on the lean client.
    api: reqwest::Client,
    pool: Arc<h1::Pool>,
    pub(crate) limits: Limits,
    /// The target's model lists, read once each when an answer's model is checked.
    pub(crate) model_lists: super::listed::ModelLists,
}

/// What to send.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Request {
    pub(crate) fn get(url: &str) -> Self {
        Request { method: "GET".into(), url: url.into(), headers: Vec::new(), body: Vec::new() }
    }

    /// A POST of a JSON value.
    pub(crate) fn json(url: &str, value: &serde_json::Value) -> Self {
        let body = serde_json::to_vec(value).expect("a JSON value serializes");
        let headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        Request { method: "POST".into(), url: url.into(), headers, body }
    }

    /// `METHOD url`, for messages and reports.
    pub(crate) fn line(&self) -> String {
        format!("{} {}", self.method, self.url)
    }

    /// Adds `Authorization: Bearer KEY` when there is a key.
    pub(crate) fn bearer(mut self, key: Option<&str>) -> Self {
        if let Some(key) = key {
            self.headers.push(("Authorization".to_string(), format!("Bearer {key}")));
        }
        self
    }
}

/// Which kind of request: an http step (redirects followed) or an API call.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Step,
    Api,
}

/// A response whose body has not been read yet.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    body: Body,
    max_body: usize,
}

enum Body {
    Lean(h1::Response),
    General(reqwest::Response),
}

impl Transport {
    pub(crate) fn new(limits: Limits) -> Self {
        Transport::with_tls(limits, &Tls::default()).expect("the default HTTP client configuration is valid")
    }

    /// Clients that trust (and present) what `tls` says, besides the system's roots and
    /// `SSL_CERT_FILE`; Err says which file could not be used, and why.
    pub(crate) fn with_tls(limits: Limits, tls: &Tls) -> Result<Self, String> {
        let read = |what: &str, path: &str| {
            crate::files::read(std::path::Path::new(path), what)
                .map_err(|e| format!("cannot read the {what} {path}: {e}"))
        };
        // SSL_CERT_FILE's CAs too, as curl and OpenSSL take them. A file that cannot be used
        // is passed over (the system verifier reads the variable itself): an odd environment
        // never stops a run that names no CA of its own.
        let mut roots: Vec<reqwest::Certificate> = std::env::var("SSL_CERT_FILE")
            .ok()
            .filter(|p| !p.is_empty())
            .and_then(|p| crate::files::read(std::path::Path::new(&p), "CA bundle").ok())
            .and_then(|pem| reqwest::Certificate::from_pem_bundle(&pem).ok())
            .unwrap_or_default();
        if let Some(path) = tls.ca_cert.as_deref() {
            let what = "CA file (ca_cert, --cacert)";
            let pem = read(what, path)?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("the {what} {path} holds no PEM certificate: {}", chain(&e)))?;
            if certs.is_empty() {
                return Err(format!(
                    "the {what} {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
                ));
            }
            roots.extend(certs);
        }
        let identity = match (&tls.cert, &tls.key) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err("a client key (key, --key) needs its certificate (cert, --cert)".into());
            }
            (Some(cert), key) => {
                let mut pem = read("client certificate (cert, --cert)", cert)?;
                if let Some(key) = key {
                    pem.push(b'\n');
                    pem.extend(read("client key (key, --key)", key)?);
                }
                Some(reqwest::Identity::from_pem(&pem).map_err(|e| {
                    format!(
                        "the client certificate {cert} and its key are not a usable PEM pair: {}",
                        chain(&e)
                    )
                })?)
            }
        };
        let build = |redirects| {
            let mut b = reqwest::Client::builder()
                .user_agent(concat!("hxrun/", env!("CARGO_PKG_VERSION")))
                .redirect(redirects)
                .tls_certs_merge(roots.clone())
                .tls_danger_accept_invalid_certs(tls.insecure);
            if let Some(id) = &identity {
                b = b.identity(id.clone());
            }
            b.build().map_err(|e| format!("cannot set up TLS: {}", chain(&e)))
        };
        Ok(Transport {
            steps: build(reqwest::redirect::Policy::default())?,
            api: build(reqwest::redirect::Policy::none())?,
            pool: Arc::default(),
            limits,
            model_lists: super::listed::ModelLists::default(),
        })
    }

    /// The lean client's url, when it serves this request.
    fn lean_url(&self, url: &str, purpose: Purpose) -> Option<reqwest::Url> {
        (purpose == Purpose::Api).then(|| reqwest::Url::parse(url).ok()).flatten().filter(h1::serves)
    }

    /// Sends a request and reads the response head.
    pub(crate) async fn send(&self, req: &Request, purpose: Purpose) -> Result<Response, StepError> {
        let fail = |kind, message: String| StepError { kind, message, detail: String::new() };
        if let Some(url) = self.lean_url(&req.url, purpose) {
            let (addr, bytes) = h1::serialize(&req.method, &url, &req.headers, &req.body)
                .map_err(|m| fail(FailureKind::Error, m))?;
            let response = self.pool.open(&addr, &bytes, true).await?;
            return Ok(Response {
                status: response.status,
                headers: response.headers.clone(),
                body: Body::Lean(response),
                max_body: self.limits.max_body,
            });
        }
        let client = if purpose == Purpose::Step { &self.steps } else { &self.api };
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| fail(FailureKind::Error, format!("\"{}\" is not an HTTP method", req.method)))?;
        let build = || {
            let mut builder = client.request(method.clone(), &req.url).body(req.body.clone());
            for (k, v) in &req.headers {
                builder = builder.header(k, v);
            }
            builder
        };
        // A server that closes a kept-alive connection without saying so can meet the next
        // request on it: the request is lost with "connection closed before message completed",
        // or "connection reset" when the server closed it with the request unread. An idempotent
        // request is sent once more, on a new connection, as curl does.
        let sent = match build().send().await {
            Err(e) if method.is_idempotent() && closed_before_answer(&e) => build().send().await,
            other => other,
        };
        let response = sent.map_err(|e| {
            let kind = if e.is_builder() { FailureKind::Error } else { FailureKind::Connection };
            fail(kind, describe(&e, &req.url))
        })?;
        Ok(Response {
            status: response.status().as_u16(),
            headers: header_list(response.headers()),
            body: Body::General(response),
            max_body: self.limits.max_body,
        })
    }

    /// A request prepared once and sent many times by the lean client (a perf loop's http
    /// request); None when the lean client does not serve it.
    pub(crate) fn prepare(&self, req: &Request) -> Option<h1::H1Client> {
        let url = self.lean_url(&req.url, Purpose::Api)?;
        h1::H1Client::new(&req.method, &url, &req.headers, &req.body)
    }
}

/// Whether a request failed because its connection closed before any answer came (hyper's
/// incomplete message, or a reset or broken pipe while sending: the server closed a kept-alive
/// connection the pool handed out). No answer began, so nothing of it is lost by asking again.
fn closed_before_answer(e: &reqwest::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionReset};
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.downcast_ref::<hyper::Error>().is_some_and(hyper::Error::is_incomplete_message)
            || s.downcast_ref::<std::io::Error>()
                .is_some_and(|io| matches!(io.kind(), ConnectionReset | BrokenPipe))
        {
            return true;
        }
        source = s.source();
    }
    false
}

impl Response {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body up to `--max-body`, and whether there was more (reading stops at the cap).
    pub(crate) async fn body(self) -> Result<(Vec<u8>, bool), StepError> {
        match self.body {
            Body::Lean(r) => r.capped(self.max_body).await,
            Body::General(r) => super::http::read_capped(r, self.max_body).await.map_err(|message| {
                StepError { kind: FailureKind::Connection, message, detail: String::new() }
            }),
        }
    }

    /// The body up to `--max-body`, as text (invalid UTF-8 replaced).
    pub(crate) async fn text(self) -> Result<(String, bool), StepError> {
        let (bytes, cut) = self.body().await?;
        Ok((String::from_utf8_lossy(&bytes).into_owned(), cut))
    }

    /// The body as it arrives (its length capped by whoever reads it).
    pub(crate) fn into_stream(self) -> BodyStream {
        match self.body {
            Body::Lean(r) => Box::pin(r.into_stream()),
            Body::General(r) => Box::pin(r.bytes_stream().map(|piece| {
                piece.map_err(|e| std::io::Error::other(format!("the response broke off: {}", chain(&e))))
            })),
        }
    }
}
