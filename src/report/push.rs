//! `--push URL`: the run's metrics (`openmetrics::render`, masked) sent to a Prometheus
//! Pushgateway, replacing what the same group held (`PUT`): Prometheus scraping the gateway
//! then has the last run's figures, and keeps their history.
//!
//! The group is `job=hxrun` unless the url names one (`http://gw:9091/metrics/job/llm-ci/
//! instance/llm-02`): a url without a `/metrics/job/` path gets `/metrics/job/hxrun`. One
//! request, with a deadline; a gateway that refuses or does not answer is an error the run
//! reports (exit code 3, like a report that cannot be written).

use std::time::Duration;

/// The push's deadline, connecting included.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(15);
/// Bytes kept of a refusal's answer, for the message.
const ANSWER_SHOWN: usize = 300;

/// The url the metrics are put to.
pub(crate) fn group_url(url: &str) -> Result<reqwest::Url, String> {
    let (full, _) = crate::suite::check_url(url)?;
    let mut parsed = reqwest::Url::parse(&full).map_err(|e| format!("\"{url}\" is not a url: {e}"))?;
    if !parsed.path().contains("/metrics/job/") {
        let path = format!("{}/metrics/job/hxrun", parsed.path().trim_end_matches('/'));
        parsed.set_path(&path);
    }
    Ok(parsed)
}

/// Puts `text` (OpenMetrics, already masked) to the gateway's group at `url`; the group's url
/// as it may be shown (a password in it as `***`).
pub(crate) async fn push(url: &str, text: String) -> Result<String, String> {
    let to = group_url(url)?;
    let mut shown = to.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    let fail = |e: String| format!("cannot push the results to {shown}: {e}");
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let mut request = client
        .put(to.clone())
        // The text format's type: a Pushgateway reads OpenMetrics' extra lines as comments.
        .header(reqwest::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")
        .body(text);
    if let Some(user) = Some(to.username()).filter(|u| !u.is_empty()) {
        request = request.basic_auth(user, to.password());
    }
    let mut response = request.send().await.map_err(|e| {
        fail(if e.is_timeout() {
            format!("no answer within {}s", TIMEOUT.as_secs())
        } else if e.is_connect() {
            "cannot connect".to_string()
        } else {
            "the request failed".to_string()
        })
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(shown.to_string());
    }
    // The start of its answer, read with the same deadline and no further than shown.
    let mut body = Vec::new();
    let _ = tokio::time::timeout(TIMEOUT, async {
        while body.len() < ANSWER_SHOWN
            && let Ok(Some(chunk)) = response.chunk().await
        {
            body.extend_from_slice(&chunk);
        }
    })
    .await;
    let body = String::from_utf8_lossy(&body);
    let said: String = super::text::clean(body.trim()).chars().take(ANSWER_SHOWN).collect();
    Err(fail(format!(
        "the gateway answered {status}{}",
        if said.is_empty() { String::new() } else { format!(": {said}") }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_group_is_hxrun_unless_the_url_names_one() {
        assert_eq!(group_url("http://gw:9091").unwrap().as_str(), "http://gw:9091/metrics/job/hxrun");
        assert_eq!(group_url("gw:9091/").unwrap().as_str(), "http://gw:9091/metrics/job/hxrun");
        assert_eq!(
            group_url("https://gw/prefix/metrics/job/llm-ci/instance/llm-02").unwrap().as_str(),
            "https://gw/prefix/metrics/job/llm-ci/instance/llm-02"
        );
        assert!(group_url("ftp://gw").is_err());
    }
}
