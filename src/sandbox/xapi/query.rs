//! The parameters of `GET /xAPI/statements` and the `more` token that carries
//! a query and its position from one page to the next.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::statements::AgentKey;

/// Statements per page when the client gives no `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// The most statements one page holds; `limit=0` asks for this many.
pub const MAX_LIMIT: usize = 1000;

/// A statement query, the same on every page of its answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatementQuery {
    pub verb: Option<String>,
    pub agent: Option<AgentKey>,
    pub activity: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub limit: usize,
    pub ascending: bool,
}

impl Default for StatementQuery {
    fn default() -> Self {
        Self {
            verb: None,
            agent: None,
            activity: None,
            since: None,
            until: None,
            limit: DEFAULT_LIMIT,
            ascending: false,
        }
    }
}

/// What a GET on `/statements` asks for.
#[derive(Debug, PartialEq)]
pub enum StatementRequest {
    One(String),
    Query(StatementQuery),
    More(StatementQuery, Timestamp),
}

/// Parameters accepted and ignored: every statement is served in the exact
/// format, with no attachments.
const IGNORED: &[&str] = &["format", "attachments", "related_activities", "related_agents"];

/// Parses the query string of a GET; the error names the parameter.
pub fn parse(raw_query: Option<&str>) -> Result<StatementRequest, String> {
    let mut query = StatementQuery::default();
    let mut statement_id = None;
    let mut more = None;
    let mut filtered = false;
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in url::form_urlencoded::parse(raw_query.unwrap_or("").as_bytes()) {
        if seen.contains(&name.to_string()) {
            return Err(format!("parameter {name} is given twice"));
        }
        seen.push(name.to_string());
        let time = |value: &str| {
            value
                .parse::<Timestamp>()
                .map_err(|_| format!("{name} must be an ISO 8601 time with an offset, got {value:?}"))
        };
        match &*name {
            "statementId" => statement_id = Some(value.to_string()),
            "more" => more = Some(value.to_string()),
            "verb" => query.verb = Some(value.to_string()),
            "activity" => query.activity = Some(value.to_string()),
            "agent" => {
                let agent: serde_json::Value = serde_json::from_str(&value)
                    .map_err(|error| format!("agent must be an Agent as JSON: {error}"))?;
                let key = AgentKey::of(&agent, "agent")?;
                query.agent = Some(key.ok_or("agent must carry an identifier (account or mbox)")?);
            }
            "since" => query.since = Some(time(&value)?),
            "until" => query.until = Some(time(&value)?),
            "limit" => {
                let limit: usize = value
                    .parse()
                    .map_err(|_| format!("limit must be a non-negative integer, got {value:?}"))?;
                query.limit = if limit == 0 {
                    MAX_LIMIT
                } else {
                    limit.min(MAX_LIMIT)
                };
            }
            "ascending" => {
                query.ascending = value
                    .parse()
                    .map_err(|_| format!("ascending must be true or false, got {value:?}"))?;
            }
            "voidedStatementId" | "registration" => {
                return Err(format!("{name} is not supported by the sandbox LRS"));
            }
            other if IGNORED.contains(&other) => continue,
            other => return Err(format!("{other} is not a statements parameter")),
        }
        if !matches!(&*name, "statementId" | "more") {
            filtered = true;
        }
    }
    match (statement_id, more) {
        (Some(_), _) if filtered => Err("statementId cannot be combined with filters".into()),
        (Some(_), Some(_)) => Err("statementId cannot be combined with more".into()),
        (Some(id), None) => Ok(StatementRequest::One(id)),
        (None, Some(_)) if filtered => Err("more carries its query; give no other filters".into()),
        (None, Some(token)) => {
            let (query, after) = decode_more(&token)?;
            Ok(StatementRequest::More(query, after))
        }
        (None, None) => Ok(StatementRequest::Query(query)),
    }
}

#[derive(Serialize, Deserialize)]
struct MoreToken {
    query: StatementQuery,
    after: Timestamp,
}

/// The `more` IRL continuing `query` after the statement stored at `after`.
pub fn more_irl(query: &StatementQuery, after: Timestamp) -> String {
    let token = MoreToken {
        query: query.clone(),
        after,
    };
    let json = serde_json::to_vec(&token).unwrap_or_default();
    format!("/xAPI/statements?more={}", URL_SAFE_NO_PAD.encode(json))
}

fn decode_more(token: &str) -> Result<(StatementQuery, Timestamp), String> {
    let bad = || "more is not a token this LRS issued".to_string();
    let json = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let token: MoreToken = serde_json::from_slice(&json).map_err(|_| bad())?;
    if token.query.limit == 0 || token.query.limit > MAX_LIMIT {
        return Err(bad());
    }
    Ok((token.query, token.after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_more_token_carries_the_whole_query() {
        let query = StatementQuery {
            verb: Some("http://adlnet.gov/expapi/verbs/passed".into()),
            agent: Some(AgentKey::Mbox("mailto:a@example.com".into())),
            since: Some("2026-01-01T00:00:00Z".parse().unwrap()),
            until: Some("2026-02-01T00:00:00.000001Z".parse().unwrap()),
            limit: 7,
            ascending: true,
            ..StatementQuery::default()
        };
        let after: Timestamp = "2026-01-15T10:00:00.123456Z".parse().unwrap();
        let irl = more_irl(&query, after);
        let raw = irl.split_once('?').unwrap().1;
        assert_eq!(parse(Some(raw)).unwrap(), StatementRequest::More(query, after));
    }

    #[test]
    fn bad_parameters_are_named() {
        assert_eq!(
            parse(Some("limit=-1")).unwrap_err(),
            "limit must be a non-negative integer, got \"-1\""
        );
        assert_eq!(
            parse(Some("colour=red")).unwrap_err(),
            "colour is not a statements parameter"
        );
        assert!(parse(Some("statementId=x&verb=y")).is_err());
        assert!(
            parse(Some("since=yesterday"))
                .unwrap_err()
                .starts_with("since must be")
        );
        assert!(parse(Some("more=garbage")).is_err());
        let anonymous_group = "agent=%7B%22objectType%22%3A%22Group%22%7D";
        assert!(parse(Some(anonymous_group)).unwrap_err().contains("identifier"));
    }

    #[test]
    fn limit_zero_means_the_maximum() {
        let StatementRequest::Query(query) = parse(Some("limit=0&ascending=true")).unwrap() else {
            panic!("a query");
        };
        assert_eq!(query.limit, MAX_LIMIT);
        assert!(query.ascending);
    }
}
