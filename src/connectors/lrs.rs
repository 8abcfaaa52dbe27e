//! The LRS client, xAPI 1.0.3: statements stored since a time, oldest first,
//! page by page through `more`, with the version header xAPI requires.

use std::fmt;

use backon::Retryable;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;

use super::{ConnectorError, checked, http_client, json_of, unanswered};
use crate::model::Secret;

const VERSION_HEADER: &str = "X-Experience-API-Version";
const CONSISTENT_THROUGH: &str = "X-Experience-API-Consistent-Through";
const XAPI_VERSION: &str = "1.0.3";

#[derive(Clone)]
pub struct LrsClient {
    http: reqwest::Client,
    /// `…/xAPI`, without a trailing slash.
    base: url::Url,
    user: Secret,
    password: Secret,
    /// How a page is asked again (the engine's `[retry]`).
    reads: super::ReadBackoff,
}

impl fmt::Debug for LrsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LrsClient")
            .field("base", &self.base.as_str())
            .field("user", &self.user)
            .finish()
    }
}

/// One page of statements, and where the next one is.
#[derive(Debug, Clone)]
pub struct StatementPage {
    pub statements: Vec<Value>,
    /// The `more` IRL, when the answer continues.
    pub more: Option<String>,
    /// The LRS's promise: every statement stored up to this time is visible.
    pub consistent_through: Option<Timestamp>,
    /// The files the page was read from, for a source of files: handed back to
    /// [`CompletionSource::journaled`](super::roles::CompletionSource::journaled)
    /// once every statement read is journaled, and only then moved away.
    pub files: Vec<String>,
}

#[derive(Deserialize)]
struct StatementResult {
    statements: Vec<Value>,
    #[serde(default)]
    more: Option<String>,
}

impl LrsClient {
    pub fn new(
        xapi_base: &str,
        user: Secret,
        password: Secret,
        reads: super::ReadBackoff,
    ) -> Result<LrsClient, ConnectorError> {
        let base = url::Url::parse(&format!("{}/", xapi_base.trim_end_matches('/'))).map_err(|error| {
            ConnectorError::permanent(format!("the LRS URL {xapi_base} is not a URL: {error}"))
        })?;
        Ok(LrsClient {
            http: http_client()?,
            base,
            user,
            password,
            reads,
        })
    }

    /// One page; a busy or failing answer is asked again a few times (as long as
    /// the LRS says, within reason) before the read fails, as for the LMS's pages.
    async fn get(&self, what: &str, url: url::Url) -> Result<StatementPage, ConnectorError> {
        let page = || self.get_once(what, url.clone());
        page.retry(self.reads)
            .when(ConnectorError::is_transient)
            .adjust(super::retry_after_within)
            .await
    }

    async fn get_once(&self, what: &str, url: url::Url) -> Result<StatementPage, ConnectorError> {
        let response = self
            .http
            .get(url)
            .basic_auth(self.user.expose(), Some(self.password.expose()))
            .header(VERSION_HEADER, XAPI_VERSION)
            .send()
            .await
            .map_err(|error| unanswered(what, error))?;
        let response = checked(what, response).await?;
        let consistent_through = response
            .headers()
            .get(CONSISTENT_THROUGH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<Timestamp>().ok());
        let result: StatementResult = json_of(what, response).await?;
        Ok(StatementPage {
            statements: result.statements,
            more: result.more.filter(|m| !m.is_empty()),
            consistent_through,
            files: Vec::new(),
        })
    }

    /// The first page of statements stored after `since` (all, with `None`),
    /// oldest first, at most `limit` per page.
    pub async fn stored_since(
        &self,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<StatementPage, ConnectorError> {
        let what = format!(
            "LRS statements stored since {} (GET statements)",
            since.map_or("the start".to_string(), |s| s.to_string())
        );
        let mut url = self
            .base
            .join("statements")
            .map_err(|error| ConnectorError::permanent(format!("{what}: {error}")))?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("ascending", "true");
            query.append_pair("limit", &limit.to_string());
            if let Some(since) = since {
                query.append_pair("since", &since.to_string());
            }
        }
        self.get(&what, url).await
    }

    /// The page a `more` IRL names (relative to the LRS's host).
    pub async fn more(&self, more: &str) -> Result<StatementPage, ConnectorError> {
        let what = "LRS statements, next page (GET more)";
        let url = self.base.join(more).map_err(|error| {
            ConnectorError::permanent(format!("{what}: the more IRL {more:?} is not a URL: {error}"))
        })?;
        if url.origin() != self.base.origin() {
            return Err(ConnectorError::permanent(format!(
                "{what}: the more IRL points at another host; credentials are not sent there"
            )));
        }
        self.get(what, url).await
    }
}

/// When the LRS stored a statement (`stored`), the cursor's measure.
pub fn stored_at(statement: &Value) -> Option<Timestamp> {
    statement.get("stored")?.as_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows_in_debug() {
        let client = LrsClient::new(
            "http://127.0.0.1:1/xAPI",
            Secret::new("u"),
            Secret::new("pw-777"),
            crate::connectors::ReadBackoff::new(),
        )
        .unwrap();
        assert!(!format!("{client:?}").contains("pw-777"));
    }

    #[tokio::test]
    async fn more_never_leaves_the_lrs_host() {
        let client = LrsClient::new(
            "http://127.0.0.1:1/xAPI",
            Secret::new("u"),
            Secret::new("p"),
            crate::connectors::ReadBackoff::new(),
        )
        .unwrap();
        let error = client.more("http://elsewhere.example/steal").await.unwrap_err();
        assert!(
            !error.is_transient() && error.to_string().contains("another host"),
            "{error}"
        );
    }
}
