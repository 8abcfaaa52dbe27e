//! What a CSV-feed LMS says it holds: its own user export, dropped in `[lms]
//! inbox`, read with the feed's columns. Reconciliation compares the desired
//! learners with it; comparing them with the feed hrsync wrote itself would
//! find nothing, so without an export there is no comparison, said plainly.
//!
//! A value the export has no column for cannot disagree: it is taken from the
//! desired learner, so only what the LMS shows is checked.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};

use super::{FeedColumns, learner_id};
use crate::config::LearnerFeed;
use crate::connectors::ConnectorError;
use crate::connectors::csv_files::read_feed;
use crate::connectors::inbox::{self, Inbox, InboxEntry};
use crate::connectors::roles::{GroupMembers, ScimUser};
use crate::store::{LearnerFeed as _, Store};

/// The newest export's learners and groups, as the SCIM role would list them.
#[derive(Debug, Clone)]
pub struct ExportedLearners {
    /// The file they were read from.
    pub file: String,
    pub users: Vec<ScimUser>,
    pub groups: Vec<GroupMembers>,
}

pub struct LmsExport {
    inbox: Arc<dyn Inbox>,
    columns: FeedColumns,
    store: Store,
}

impl std::fmt::Debug for LmsExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LmsExport")
            .field("inbox", &self.inbox.location())
            .finish_non_exhaustive()
    }
}

impl LmsExport {
    /// `None` when `[lms] inbox` is not set.
    pub async fn open(store: Store, feed: &LearnerFeed) -> Result<Option<LmsExport>, ConnectorError> {
        let Some(location) = &feed.inbox else {
            return Ok(None);
        };
        let columns = FeedColumns::new(feed).map_err(|why| ConnectorError::Permanent {
            status: None,
            message: why,
        })?;
        Ok(Some(LmsExport {
            inbox: inbox::open(location, &feed.sftp).await?,
            columns,
            store,
        }))
    }

    pub fn location(&self) -> &str {
        self.inbox.location()
    }

    /// The newest CSV file in the inbox (by time, then name): the LMS's latest export.
    async fn newest(&self) -> Result<Option<InboxEntry>, String> {
        let location = self.inbox.location();
        // A folder no one has made yet holds no export; that is not a failure to read it.
        if !location.starts_with("sftp://") && !std::path::Path::new(location).exists() {
            return Ok(None);
        }
        let listed =
            (self.inbox.list("").await).map_err(|e| format!("the LMS's exports could not be listed: {e}"))?;
        Ok(listed
            .into_iter()
            .filter(|entry| entry.name.to_ascii_lowercase().ends_with(".csv"))
            .max_by(|a, b| (a.modified, &a.name).cmp(&(b.modified, &b.name))))
    }

    /// The learners of the newest export; `Err` says why there is nothing to compare.
    pub async fn read(&self) -> Result<ExportedLearners, String> {
        let Some(entry) = self.newest().await? else {
            return Err(format!(
                "the LMS is a CSV feed and no user export of it is in {} (*.csv): there is \
                 nothing to compare the desired learners with; drop the LMS's own user export there",
                self.inbox.location()
            ));
        };
        let bytes = (self.inbox.read(&entry.name).await)
            .map_err(|e| format!("the LMS's export {} could not be read: {e}", entry.name))?;
        let rows = read_feed(&bytes, &self.columns.spec)
            .map_err(|e| format!("the LMS's export is refused: {}", e.in_file(entry.name.clone())))?;
        let desired = (self.store.feed_snapshot())
            .map_err(|e| format!("the desired learners could not be read: {e}"))?;
        let base: HashMap<&str, &Value> = desired.learners.iter().map(|(id, r)| (id.as_str(), r)).collect();
        let mut users = Vec::with_capacity(rows.len());
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (index, row) in rows.iter().enumerate() {
            let bare = self.columns.resource(row, None);
            // A row with neither externalId nor userName is still a learner the LMS has.
            let id = learner_id(&bare).unwrap_or_else(|| format!("{}:row {}", entry.name, index + 2));
            let mut resource = self.columns.resource(row, base.get(id.as_str()).copied());
            resource["id"] = json!(id);
            for group in &row.groups {
                groups.entry(group.clone()).or_default().push(id.clone());
            }
            users.push(ScimUser {
                id,
                etag: None,
                resource,
            });
        }
        if !self.columns.has_groups() {
            groups = desired.groups.clone();
        }
        Ok(ExportedLearners {
            file: entry.name,
            users,
            groups: groups
                .into_iter()
                .map(|(name, members)| GroupMembers {
                    id: name.clone(),
                    display_name: name,
                    members,
                })
                .collect(),
        })
    }
}
