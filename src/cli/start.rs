//! Starting together: `--start-at TIME` and `--barrier FILE|URL`, so N load generators (CI
//! parallel jobs, the pods of a Kubernetes Indexed Job) begin their tests at one moment.
//!
//! Both waits end early on SIGINT/SIGTERM; a barrier that does not open within
//! `--barrier-timeout` stops the run before its first test (every test listed as not run,
//! every report written, exit 1), so a generator whose peers never came fails visibly.

use crate::execute::control::{RunControl, StopReason};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The latest a `--start-at` may lie ahead: further is a typo, not a plan.
const MAX_AHEAD: Duration = Duration::from_secs(24 * 3600);
const POLL: Duration = Duration::from_millis(100);

/// `--start-at`: an RFC 3339 time (`2026-12-03T18:00:00Z`) or Unix seconds (`1796320800`).
pub(super) fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    let at = if let Ok(secs) = s.parse::<f64>() {
        DateTime::<Utc>::from_timestamp_micros((secs * 1e6) as i64)
            .ok_or_else(|| format!("\"{s}\" is not a time hxrun can wait for"))?
    } else {
        DateTime::parse_from_rfc3339(s)
            .map_err(|e| {
                format!(
                    "\"{s}\" is not a time like 2026-12-03T18:00:00Z or Unix seconds like 1796320800: {e}"
                )
            })?
            .with_timezone(&Utc)
    };
    if at - Utc::now() > chrono::Duration::from_std(MAX_AHEAD).expect("a day fits") {
        return Err(format!("--start-at {s} is more than a day ahead: check the date"));
    }
    Ok(at)
}

/// What to wait for before the first test.
pub(super) struct Start<'a> {
    pub(super) at: Option<DateTime<Utc>>,
    pub(super) barrier: Option<&'a str>,
    pub(super) barrier_timeout: Duration,
}

/// Waits for the start time and the barrier; a stop (a signal) or a barrier that stays shut
/// ends the wait, the second by stopping the run.
pub(super) async fn wait(start: &Start<'_>, control: &RunControl) {
    if let Some(at) = start.at {
        let left = (at - Utc::now()).to_std().unwrap_or_default();
        if !left.is_zero() {
            eprintln!(
                "hxrun: waiting {} to start at {} (--start-at)",
                humantime::format_duration(Duration::from_millis(left.as_millis() as u64)),
                at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            );
            tokio::select! {
                () = tokio::time::sleep(left) => {}
                () = control.stopped() => return,
            }
        }
    }
    let Some(barrier) = start.barrier else { return };
    eprintln!(
        "hxrun: waiting for {barrier} (--barrier, at most {})",
        humantime::format_duration(start.barrier_timeout)
    );
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().ok();
    let open = async {
        loop {
            if is_open(barrier, client.as_ref()).await {
                return;
            }
            tokio::time::sleep(POLL).await;
        }
    };
    tokio::select! {
        () = open => {}
        () = control.stopped() => {}
        () = tokio::time::sleep(start.barrier_timeout) => control.stop(StopReason::NotStarted(format!(
            "the barrier {barrier} did not open within {} (--barrier-timeout)",
            humantime::format_duration(start.barrier_timeout)
        ))),
    }
}

/// A URL answers 2xx; a path exists.
async fn is_open(barrier: &str, client: Option<&reqwest::Client>) -> bool {
    if barrier.starts_with("http://") || barrier.starts_with("https://") {
        let Some(client) = client else { return false };
        client.get(barrier).send().await.is_ok_and(|r| r.status().is_success())
    } else {
        std::path::Path::new(barrier).exists()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_unix_seconds_and_not_far_away() {
        let soon = Utc::now() + chrono::Duration::seconds(30);
        let text = soon.to_rfc3339();
        assert_eq!(parse_time(&text).unwrap().timestamp(), soon.timestamp());
        assert_eq!(parse_time(&soon.timestamp().to_string()).unwrap().timestamp(), soon.timestamp());
        assert_eq!(
            parse_time("1700000000").unwrap().timestamp(),
            1_700_000_000,
            "a past time starts at once"
        );
        let far = (Utc::now() + chrono::Duration::days(3)).to_rfc3339();
        assert!(parse_time(&far).unwrap_err().contains("more than a day ahead"));
        assert!(parse_time("18:00").unwrap_err().contains("not a time like"));
    }
}
