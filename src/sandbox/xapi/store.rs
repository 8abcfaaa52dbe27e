//! What the LRS holds: statements in the order they were stored, each with a
//! strictly increasing `stored` time, so a page is a binary search and a scan.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::query::StatementQuery;
use super::statements::{AgentKey, ValidStatement};

/// One statement as stored: its JSON, and the keys queries filter on.
struct StoredStatement {
    stored: Timestamp,
    /// The statement's own time, or `stored` when it gave none (as it is answered).
    timestamp: Timestamp,
    fingerprint: [u8; 32],
    actor: Option<AgentKey>,
    verb: Box<str>,
    activity: Option<Box<str>>,
    json: Box<str>,
}

impl StoredStatement {
    fn matches(&self, query: &StatementQuery) -> bool {
        query.verb.as_deref().is_none_or(|verb| *self.verb == *verb)
            && query
                .agent
                .as_ref()
                .is_none_or(|agent| self.actor.as_ref() == Some(agent))
            && query
                .activity
                .as_deref()
                .is_none_or(|activity| self.activity.as_deref() == Some(activity))
    }
}

/// Why a batch was refused; nothing of it was stored.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("statement {0} already exists with different content")]
    Conflict(String),
}

/// What a query's `since` is compared with: the spec's `stored`, or the
/// statement's `timestamp` as some real LRSs do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinceOn {
    Stored,
    Timestamp,
}

/// One page of a statement query, statements as raw JSON.
pub struct Page<'a> {
    pub statements: Vec<&'a str>,
    /// The `stored` time of the last statement, when more match after it.
    pub continue_after: Option<Timestamp>,
}

#[derive(Default)]
pub struct LrsState {
    statements: Vec<StoredStatement>,
    by_id: HashMap<String, usize>,
    /// How many admin completion batches ran: seeds the next one's rng.
    pub(super) admin_batches: u64,
    /// Completions the generator was due to make, with or without a learner
    /// to make them for: how a test knows it has run.
    pub generator_draws: u64,
}

impl LrsState {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// Stores a batch all-or-nothing and returns every statement's id. A
    /// statement already stored with the same content is accepted, not stored again.
    pub fn store(
        &mut self,
        batch: Vec<ValidStatement>,
        authority: &Value,
        now: Timestamp,
    ) -> Result<Vec<String>, StoreError> {
        for statement in &batch {
            if let Some(&at) = self.by_id.get(&statement.id)
                && self.statements[at].fingerprint != statement.fingerprint
            {
                return Err(StoreError::Conflict(statement.id.clone()));
            }
        }
        let authority = authority.to_string();
        let mut ids = Vec::with_capacity(batch.len());
        for statement in batch {
            ids.push(statement.id.clone());
            if !self.by_id.contains_key(&statement.id) {
                self.insert(statement, &authority, now);
            }
        }
        Ok(ids)
    }

    /// Stores one statement; its JSON is the canonical form with the LRS's
    /// properties spliced in front, so it is serialized once.
    fn insert(&mut self, statement: ValidStatement, authority: &str, now: Timestamp) {
        let stored = self.next_stored(now);
        let mut json = String::with_capacity(statement.canonical.len() + authority.len() + 96);
        json.push_str(&format!(
            "{{\"stored\":\"{stored:.6}\",\"authority\":{authority},\"version\":\"1.0.3\","
        ));
        if statement.timestamp.is_none() {
            json.push_str(&format!("\"timestamp\":\"{stored:.6}\","));
        }
        json.push_str(&statement.canonical[1..]);
        self.by_id.insert(statement.id, self.statements.len());
        self.statements.push(StoredStatement {
            stored,
            timestamp: statement.timestamp.unwrap_or(stored),
            fingerprint: statement.fingerprint,
            actor: statement.actor,
            verb: statement.verb.into_boxed_str(),
            activity: statement.activity.map(String::into_boxed_str),
            json: json.into_boxed_str(),
        });
    }

    /// Now at microsecond precision, bumped past the last stored time so that
    /// a client's `since` cursor never skips a statement stored in the same µs.
    fn next_stored(&self, now: Timestamp) -> Timestamp {
        let now = now.round(jiff::Unit::Microsecond).unwrap_or(now);
        match self.last_stored() {
            Some(last) if now <= last => last + SignedDuration::from_micros(1),
            _ => now,
        }
    }

    pub fn last_stored(&self) -> Option<Timestamp> {
        self.statements.last().map(|s| s.stored)
    }

    /// A time up to which every statement is visible: any later statement is
    /// stored after both the last one and the current microsecond.
    pub fn consistent_through(&self, now: Timestamp) -> Timestamp {
        let now = now.round(jiff::Unit::Microsecond).unwrap_or(now) - SignedDuration::from_micros(1);
        self.last_stored().map_or(now, |last| last.max(now))
    }

    /// The verb ids and JSON of the statements stored at `range` (positions in
    /// storing order, clamped to what is stored): for the completion report.
    pub fn stored_range(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = (&str, &str)> {
        let end = range.end.min(self.statements.len());
        let start = range.start.min(end);
        self.statements[start..end].iter().map(|s| (&*s.verb, &*s.json))
    }

    pub fn get(&self, id: &str) -> Option<&str> {
        let at = *self.by_id.get(&id.to_ascii_lowercase())?;
        Some(&self.statements[at].json)
    }

    /// The statements `query` matches after `after` (exclusive, in the query's
    /// direction), at most `query.limit` of them. Pages follow `stored`
    /// whatever `since` is compared with.
    pub fn page(&self, query: &StatementQuery, after: Option<Timestamp>, since_on: SinceOn) -> Page<'_> {
        let all = &self.statements;
        // since is exclusive and until inclusive (xAPI 1.0.3, 7.2.3).
        let mut start = match (query.since, since_on) {
            (Some(since), SinceOn::Stored) => all.partition_point(|s| s.stored <= since),
            _ => 0,
        };
        // Timestamps are in no order, so each statement is tested on its own.
        let since_timestamp = query.since.filter(|_| since_on == SinceOn::Timestamp);
        let matches = |s: &&StoredStatement| {
            s.matches(query) && since_timestamp.is_none_or(|since| s.timestamp > since)
        };
        let mut end = query
            .until
            .map_or(all.len(), |until| all.partition_point(|s| s.stored <= until));
        if let Some(after) = after {
            if query.ascending {
                start = start.max(all.partition_point(|s| s.stored <= after));
            } else {
                end = end.min(all.partition_point(|s| s.stored < after));
            }
        }
        let window = &all[start..end.max(start)];
        let mut matching: Box<dyn Iterator<Item = &StoredStatement>> = if query.ascending {
            Box::new(window.iter().filter(matches))
        } else {
            Box::new(window.iter().rev().filter(matches))
        };
        let page: Vec<&StoredStatement> = matching.by_ref().take(query.limit).collect();
        let continue_after = match (page.last(), matching.next()) {
            (Some(last), Some(_)) => Some(last.stored),
            _ => None,
        };
        Page {
            statements: page.iter().map(|s| &*s.json).collect(),
            continue_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::xapi::statements::validate;
    use serde_json::json;

    fn statement(verb: &str) -> ValidStatement {
        let value = json!({
            "actor": {"mbox": "mailto:a@example.com"},
            "verb": {"id": format!("http://adlnet.gov/expapi/verbs/{verb}")},
            "object": {"id": "https://lms.example.com/courses/first-aid"},
        });
        validate(value, "s").unwrap()
    }

    #[test]
    fn stored_times_strictly_increase_within_one_microsecond() {
        let mut lrs = LrsState::new();
        let now = Timestamp::now();
        let batch = (0..3).map(|_| statement("completed")).collect();
        lrs.store(batch, &json!({}), now).unwrap();
        let times: Vec<_> = lrs.statements.iter().map(|s| s.stored).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
        assert!(lrs.consistent_through(now) >= times[2]);
    }

    #[test]
    fn pages_continue_where_they_ended_in_both_directions() {
        let mut lrs = LrsState::new();
        let batch = (0..7)
            .map(|i| statement(if i % 2 == 0 { "passed" } else { "failed" }))
            .collect();
        lrs.store(batch, &json!({}), Timestamp::now()).unwrap();
        for ascending in [true, false] {
            let query = StatementQuery {
                verb: Some("http://adlnet.gov/expapi/verbs/passed".into()),
                limit: 3,
                ascending,
                ..StatementQuery::default()
            };
            let first = lrs.page(&query, None, SinceOn::Stored);
            assert_eq!(first.statements.len(), 3);
            let second = lrs.page(&query, first.continue_after, SinceOn::Stored);
            assert_eq!(second.statements.len(), 1);
            assert!(second.continue_after.is_none());
        }
    }

    #[test]
    fn since_on_timestamp_tests_each_statement_own_time_and_stored_stays_the_default() {
        let mut lrs = LrsState::new();
        let at = |timestamp: Option<&str>| {
            let mut value = json!({
                "actor": {"mbox": "mailto:a@example.com"},
                "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
                "object": {"id": "https://lms.example.com/courses/first-aid"},
            });
            if let Some(timestamp) = timestamp {
                value["timestamp"] = json!(timestamp);
            }
            validate(value, "s").unwrap()
        };
        let batch = vec![
            at(Some("2020-01-01T00:00:00Z")),
            at(None),
            at(Some("2100-01-01T00:00:00Z")),
        ];
        lrs.store(batch, &json!({}), Timestamp::now()).unwrap();
        let count = |since: &str, since_on| {
            let query = StatementQuery {
                since: Some(since.parse().unwrap()),
                ..StatementQuery::default()
            };
            lrs.page(&query, None, since_on).statements.len()
        };
        assert_eq!(count("2025-01-01T00:00:00Z", SinceOn::Stored), 3);
        assert_eq!(count("2025-01-01T00:00:00Z", SinceOn::Timestamp), 2);
        assert_eq!(count("2099-01-01T00:00:00Z", SinceOn::Stored), 0);
        assert_eq!(count("2099-01-01T00:00:00Z", SinceOn::Timestamp), 1);
    }
}
