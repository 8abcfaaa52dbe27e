//! The LMS as a CSV user feed (`[lms] kind = "csv"`), for LMSs that import users
//! from files. The learners the engine creates and replaces are kept in the
//! store (`FeedTarget`, the learner role); `FeedWriter` writes them whole, as a
//! feed, after each apply batch and at least every `every_s`; `LmsExport` reads
//! the LMS's own user export back for reconciliation.
//!
//! A learner's row is its SCIM document seen through `[lms.columns]`: one SCIM
//! path per column, plus `active` (a word) and `groups` (joined names).

pub mod export;
pub mod target;
pub mod writer;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::config::LearnerFeed;
use crate::connectors::csv_files::{ACTIVE, FeedLearner, FeedSpec, GROUPS};
use crate::contract::ScimPath;

pub use export::LmsExport;
pub use target::FeedTarget;
pub use writer::FeedWriter;

/// The feed's columns with their SCIM paths parsed once.
#[derive(Debug, Clone)]
pub struct FeedColumns {
    pub spec: FeedSpec,
    /// Per column: the path it reads, or `None` for `active` and `groups`.
    paths: Vec<(String, Option<ScimPath>)>,
}

impl FeedColumns {
    /// The configuration checked the attributes; one that still does not parse is named.
    pub fn new(feed: &LearnerFeed) -> Result<FeedColumns, String> {
        let spec = FeedSpec {
            columns: feed.columns.clone(),
            active_words: feed.active_words.clone(),
            group_separator: feed.group_separator.clone(),
        };
        let paths = feed
            .columns
            .iter()
            .map(|(header, attribute)| match attribute.as_str() {
                ACTIVE | GROUPS => Ok((attribute.clone(), None)),
                path => ScimPath::parse(path)
                    .map(|parsed| (attribute.clone(), Some(parsed)))
                    .map_err(|why| format!("[lms.columns] \"{header}\": {why}")),
            })
            .collect::<Result<_, _>>()?;
        Ok(FeedColumns { spec, paths })
    }

    /// Whether the feed has a column for the groups.
    pub fn has_groups(&self) -> bool {
        self.paths.iter().any(|(attribute, _)| attribute == GROUPS)
    }

    /// One learner's row: each column's value in its SCIM document, its
    /// `active`, and the groups it is a member of.
    pub fn row(&self, resource: &Value, groups: Vec<String>) -> FeedLearner {
        let mut values = BTreeMap::new();
        for (attribute, path) in &self.paths {
            let Some(path) = path else { continue };
            if let Some(text) = path.get(resource).and_then(cell_text).filter(|t| !t.is_empty()) {
                values.insert(attribute.clone(), text);
            }
        }
        FeedLearner {
            values,
            active: is_active(resource),
            groups,
        }
    }

    /// A row back as a SCIM document: `base` (what the feed has no column for,
    /// when known) with each column's value set at its path.
    pub fn resource(&self, row: &FeedLearner, base: Option<&Value>) -> Value {
        let mut resource = base.cloned().unwrap_or_else(|| Value::Object(Default::default()));
        for (attribute, path) in &self.paths {
            let Some(path) = path else { continue };
            let value = row
                .values
                .get(attribute)
                .map_or(Value::Null, |v| Value::String(v.clone()));
            path.set(&mut resource, value);
        }
        if self.paths.iter().any(|(attribute, _)| attribute == ACTIVE) {
            resource["active"] = Value::Bool(row.active);
        }
        resource
    }
}

/// A learner's id in the feed: its externalId (the employee id) when it has
/// one, else its userName; it never changes once given.
pub fn learner_id(resource: &Value) -> Option<String> {
    let text = |key: &str| {
        resource
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    text("externalId").or_else(|| text("userName"))
}

/// A learner is active unless its document says `false` (as a boolean or a word).
fn is_active(resource: &Value) -> bool {
    match resource.get("active") {
        Some(Value::Bool(active)) => *active,
        Some(Value::String(word)) => !word.eq_ignore_ascii_case("false"),
        _ => true,
    }
}

/// A value as a cell: text as it is, numbers and booleans as written, nothing for null.
fn cell_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        Value::Bool(_) | Value::Number(_) => Some(value.to_string()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::connectors::csv_files::{read_feed, write_feed};

    fn columns() -> FeedColumns {
        FeedColumns::new(&LearnerFeed {
            outbox: "/tmp".into(),
            file_name: "learners.csv".into(),
            columns: [
                ("Username", "userName"),
                ("Employee", "externalId"),
                ("First", "name.givenName"),
                ("Email", r#"emails[type eq "work"].value"#),
                ("Status", "active"),
                ("Paths", "groups"),
            ]
            .iter()
            .map(|(h, a)| (h.to_string(), a.to_string()))
            .collect(),
            active_words: ("Active".into(), "Inactive".into()),
            group_separator: "|".into(),
            every: std::time::Duration::from_secs(60),
            upload: None,
            inbox: None,
            sftp: Default::default(),
        })
        .unwrap()
    }

    #[test]
    fn a_learner_round_trips_through_its_row_and_the_file() {
        let columns = columns();
        let learner = json!({
            "userName": "ada@x.example", "externalId": "E1", "active": false,
            "name": {"givenName": "Ada, \"the first\"", "familyName": "not a column"},
            "emails": [{"type": "work", "value": "ada@x.example"}],
        });
        let row = columns.row(&learner, vec!["Onboarding".into(), "EMEA".into()]);
        assert!(!row.active);
        assert_eq!(row.values["name.givenName"], "Ada, \"the first\"");
        assert!(!row.values.contains_key("name.familyName"));
        let bytes = write_feed(&columns.spec, std::slice::from_ref(&row));
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.starts_with("Username,Employee,First,Email,Status,Paths\r\n"),
            "{text}"
        );
        assert!(text.contains(",Inactive,Onboarding|EMEA\r\n"), "{text}");
        let back = read_feed(&bytes, &columns.spec).unwrap();
        assert_eq!(back, vec![row.clone()]);
        let resource = columns.resource(&back[0], None);
        assert_eq!(resource["emails"][0]["value"], "ada@x.example");
        assert_eq!(resource["active"], false);
        assert_eq!(learner_id(&resource).as_deref(), Some("E1"));
        let merged = columns.resource(&back[0], Some(&learner));
        assert_eq!(merged["name"]["familyName"], "not a column");
    }

    #[test]
    fn ids_come_from_the_external_id_else_the_user_name() {
        assert_eq!(
            learner_id(&json!({"userName": "u", "externalId": " "})).as_deref(),
            Some("u")
        );
        assert_eq!(learner_id(&json!({})), None);
        assert!(is_active(&json!({})));
        assert!(!is_active(&json!({"active": "False"})));
    }
}
