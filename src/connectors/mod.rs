//! The outside systems as typed clients: the HRIS (BambooHR-shaped REST), the
//! LMS (SCIM 2.0), the LRS (xAPI) and the ops channel (a Slack-style incoming webhook).
//!
//! Every failure is sorted once, here, into the one distinction the engine acts
//! on: transient (connect/timeout, 429, 5xx, a stale ETag: try again later,
//! honouring Retry-After) or permanent (any other 4xx: retrying will not help).
//! Messages name the request and what the far side said, never a credential.

mod csv_completions;
pub mod csv_files;
mod hris;
pub mod inbox;
mod lrs;
mod notify;
pub mod roles;
mod scim;
mod scim_groups;
mod scim_paging;
mod scim_probe;
mod scim_profile;

use std::time::Duration;

use reqwest::{Response, StatusCode, header};

pub use hris::{ChangedSince, HrisChange, HrisClient, TrainingType};
pub use lrs::{LrsClient, StatementPage, stored_at};
pub use notify::Notifier;
pub use scim::{PAGES_IN_FLIGHT, ScimClient, ScimUser};
pub use scim_groups::{GROUP_PAGE, GroupMembers, MEMBERS_PER_PATCH};
pub use scim_probe::ScimFindings;
pub use scim_profile::{PAGE as SCIM_PAGE, ScimProfile};

/// How long one request may take before it counts as a transient failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of an error answer's body goes into the message.
const DETAIL_LIMIT: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// Worth trying again: the far side is busy, down or out of date.
    #[error("{message}")]
    Transient {
        status: Option<u16>,
        retry_after: Option<Duration>,
        message: String,
    },
    /// Will fail the same way again: the request itself is wrong.
    #[error("{message}")]
    Permanent { status: Option<u16>, message: String },
}

impl ConnectorError {
    pub fn is_transient(&self) -> bool {
        matches!(self, ConnectorError::Transient { .. })
    }

    /// The HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ConnectorError::Transient { status, .. } | ConnectorError::Permanent { status, .. } => *status,
        }
    }

    /// How long the far side asked us to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ConnectorError::Transient { retry_after, .. } => *retry_after,
            ConnectorError::Permanent { .. } => None,
        }
    }

    fn permanent(message: String) -> ConnectorError {
        ConnectorError::Permanent {
            status: None,
            message,
        }
    }
}

/// How a page of a full pull is asked again after a transient failure. The
/// engine builds it from `[retry]` and hands it to each client it constructs.
pub type ReadBackoff = backon::ExponentialBuilder;

/// The far side's Retry-After when it gave one (capped: a pull does not wait
/// minutes for one page), else the backoff's own delay; `None` stops retrying.
fn retry_after_within(error: &ConnectorError, backoff: Option<Duration>) -> Option<Duration> {
    const LONGEST: Duration = Duration::from_secs(10);
    let delay = backoff?;
    Some(error.retry_after().map_or(delay, |asked| asked.min(LONGEST)))
}

/// The HTTP client every connector shares the settings of (rustls, timeouts).
fn http_client() -> Result<reqwest::Client, ConnectorError> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .pool_max_idle_per_host(64)
        .user_agent(concat!("hrsync/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| ConnectorError::permanent(format!("building the HTTP client: {error}")))
}

/// A request that got no answer: a connect failure or timeout is transient,
/// anything else (a malformed URL, say) is not.
fn unanswered(what: &str, error: reqwest::Error) -> ConnectorError {
    let transient = error.is_connect() || error.is_timeout() || error.is_request() || error.is_body();
    let message = format!("{what}: {}", describe(error.without_url()));
    if transient {
        ConnectorError::Transient {
            status: None,
            retry_after: None,
            message,
        }
    } else {
        ConnectorError::permanent(message)
    }
}

/// The error and its causes, one after the other.
fn describe(error: reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Passes a 2xx answer through; turns any other into the error it stands for.
async fn checked(what: &str, response: Response) -> Result<Response, ConnectorError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let hris_detail = response
        .headers()
        .get("X-BambooHR-Error-Message")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.text().await.unwrap_or_default();
    let detail = hris_detail.unwrap_or_else(|| detail_of(&body));
    let message = if detail.is_empty() {
        format!("{what}: HTTP {}", status.as_u16())
    } else {
        format!("{what}: HTTP {}: {detail}", status.as_u16())
    };
    Err(classify(status, retry_after, message))
}

fn classify(status: StatusCode, retry_after: Option<Duration>, message: String) -> ConnectorError {
    let transient = status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::PRECONDITION_FAILED
        || status.is_server_error();
    if transient {
        ConnectorError::Transient {
            status: Some(status.as_u16()),
            retry_after,
            message,
        }
    } else {
        ConnectorError::Permanent {
            status: Some(status.as_u16()),
            message,
        }
    }
}

/// What an error body says: SCIM's `detail`, the HRIS's `error`, or the text.
fn detail_of(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let text = parsed
        .as_ref()
        .and_then(|v| {
            v.get("detail")
                .or_else(|| v.get("error"))
                .or_else(|| v.get("message"))
        })
        .and_then(|v| v.as_str())
        .unwrap_or(body)
        .trim();
    let mut cut: String = text.chars().take(DETAIL_LIMIT).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3).
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let wait = when.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// Reads a JSON answer, naming the request when it is not what was promised.
async fn json_of<T: serde::de::DeserializeOwned>(
    what: &str,
    response: Response,
) -> Result<T, ConnectorError> {
    let bytes = response.bytes().await.map_err(|error| unanswered(what, error))?;
    serde_json::from_slice(&bytes).map_err(|error| {
        ConnectorError::permanent(format!("{what}: the answer is not the JSON expected: {error}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_sort_into_transient_and_permanent() {
        for (status, transient) in [
            (429, true),
            (500, true),
            (503, true),
            (412, true),
            (400, false),
            (404, false),
            (409, false),
            (401, false),
        ] {
            let error = classify(StatusCode::from_u16(status).unwrap(), None, "x".into());
            assert_eq!(error.is_transient(), transient, "HTTP {status}");
            assert_eq!(error.status(), Some(status));
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(120);
        let text = jiff::fmt::rfc2822::to_string(&later.to_zoned(jiff::tz::TimeZone::UTC)).unwrap();
        let wait = parse_retry_after(&text).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{text}: {wait:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn error_details_come_from_the_body() {
        assert_eq!(
            detail_of(r#"{"detail":"userName taken","status":"409"}"#),
            "userName taken"
        );
        assert_eq!(
            detail_of(r#"{"error":"no such employee","status":404}"#),
            "no such employee"
        );
        let long = "x".repeat(1000);
        assert_eq!(detail_of(&long).chars().count(), DETAIL_LIMIT + 1);
    }
}
