//! The learner role for a CSV-feed LMS: learners are found, created and replaced
//! in the store, which the feed is written from. Answers take the shapes a SCIM
//! server's would (404 for no such learner or group, 409 for a taken userName),
//! so the engine treats both kinds alike. A deactivation is a replacement with
//! `active` false: the learner stays, and stays in the feed.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::connectors::ConnectorError;
use crate::connectors::roles::{GroupMembers, LearnerTarget, ScimProfile, ScimUser};
use crate::model::ENTERPRISE_SCHEMA;
use crate::store::{FeedKeys, Store, StoreError};

/// The learners of a CSV-feed LMS, kept in the store.
pub struct FeedTarget {
    store: Store,
    profile: ScimProfile,
    /// Joins group names in the feed: a name holding it cannot be written.
    group_separator: String,
    /// Wakes the feed writer after an apply batch.
    written: Arc<Notify>,
}

impl std::fmt::Debug for FeedTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedTarget")
            .field("store", &self.store.location())
            .finish_non_exhaustive()
    }
}

impl FeedTarget {
    pub fn new(store: Store, group_separator: String, written: Arc<Notify>) -> FeedTarget {
        FeedTarget {
            store,
            // Ours: it filters on everything and needs no ETags.
            profile: ScimProfile::default(),
            group_separator,
            written,
        }
    }

    fn user_of(id: String, resource: Value) -> ScimUser {
        ScimUser {
            id,
            etag: None,
            resource,
        }
    }

    fn found(&self, key: FeedKeys, value: &str) -> Result<Option<ScimUser>, ConnectorError> {
        let found = self.store.feed_learner_by(key, value).map_err(store_error)?;
        Ok(found.map(|(id, resource)| Self::user_of(id, resource)))
    }

    /// Keeps `body` as the learner `id`: its userName must be its own.
    fn put(&self, id: &str, body: &Value) -> Result<ScimUser, ConnectorError> {
        let user_name = text(body, "userName")
            .ok_or_else(|| refused(400, format!("learner {id}: a learner needs a userName")))?;
        if let Some((holder, _)) = self
            .store
            .feed_learner_by(FeedKeys::UserName, user_name)
            .map_err(store_error)?
            .filter(|(holder, _)| holder != id)
        {
            return Err(taken(user_name, &holder));
        }
        let mut resource = body.clone();
        resource["id"] = json!(id);
        resource["meta"] = json!({ "resourceType": "User" });
        let keys = (
            text(body, "externalId"),
            user_name,
            body.get(ENTERPRISE_SCHEMA)
                .and_then(|e| e.get("employeeNumber"))
                .and_then(Value::as_str),
        );
        self.store
            .transaction(|tx| tx.put_feed_learner(id, keys, &resource))
            .map_err(|error| match error {
                StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    taken(user_name, "another learner")
                }
                other => store_error(other),
            })?;
        Ok(Self::user_of(id.to_string(), resource))
    }

    fn writable_group(&self, name: &str) -> Result<(), ConnectorError> {
        if name.contains(&self.group_separator) {
            return Err(refused(
                400,
                format!(
                    "the group {name:?} holds the feed's group separator {:?}: the LMS would read it \
                     as two groups; rename the path or change [lms] group_separator",
                    self.group_separator
                ),
            ));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl LearnerTarget for FeedTarget {
    fn profile(&self) -> &ScimProfile {
        &self.profile
    }

    async fn user(&self, id: &str) -> Result<Option<ScimUser>, ConnectorError> {
        let resource = self.store.feed_learner(id).map_err(store_error)?;
        Ok(resource.map(|resource| Self::user_of(id.to_string(), resource)))
    }

    async fn user_by_external_id(&self, external_id: &str) -> Result<Option<ScimUser>, ConnectorError> {
        self.found(FeedKeys::ExternalId, external_id)
    }

    async fn user_by_employee_number(&self, number: &str) -> Result<Option<ScimUser>, ConnectorError> {
        self.found(FeedKeys::EmployeeNumber, number)
    }

    async fn user_by_user_name(&self, user_name: &str) -> Result<Option<ScimUser>, ConnectorError> {
        self.found(FeedKeys::UserName, user_name)
    }

    async fn create_user(&self, body: &Value) -> Result<ScimUser, ConnectorError> {
        let id = super::learner_id(body)
            .ok_or_else(|| refused(400, "a learner needs an externalId or a userName".into()))?;
        if self.store.feed_learner(&id).map_err(store_error)?.is_some() {
            return Err(refused(409, format!("the learner {id} exists already")));
        }
        self.put(&id, body)
    }

    async fn replace_user(
        &self,
        id: &str,
        body: &Value,
        _etag: Option<&str>,
    ) -> Result<ScimUser, ConnectorError> {
        if self.store.feed_learner(id).map_err(store_error)?.is_none() {
            return Err(refused(404, format!("no learner {id} in the feed")));
        }
        self.put(id, body)
    }

    async fn each_user(&self, each: &mut (dyn FnMut(ScimUser) + Send)) -> Result<usize, ConnectorError> {
        let snapshot = self.store.feed_snapshot().map_err(store_error)?;
        let count = snapshot.learners.len();
        for (id, resource) in snapshot.learners {
            each(Self::user_of(id, resource));
        }
        Ok(count)
    }

    async fn group_id(&self, display_name: &str) -> Result<Option<String>, ConnectorError> {
        let exists = self.store.feed_group_exists(display_name).map_err(store_error)?;
        Ok(exists.then(|| display_name.to_string()))
    }

    async fn create_group(&self, display_name: &str) -> Result<String, ConnectorError> {
        self.writable_group(display_name)?;
        self.store
            .transaction(|tx| tx.put_feed_group(display_name))
            .map_err(store_error)?;
        Ok(display_name.to_string())
    }

    async fn remove_members(&self, group_id: &str, user_ids: &[String]) -> Result<(), ConnectorError> {
        self.writable_group(group_id)?;
        self.store
            .transaction(|tx| tx.remove_feed_members(group_id, user_ids))
            .map_err(store_error)
    }

    async fn add_members(&self, group_id: &str, user_ids: &[String]) -> Result<(), ConnectorError> {
        self.writable_group(group_id)?;
        if !self.store.feed_group_exists(group_id).map_err(store_error)? {
            return Err(refused(404, format!("no group {group_id:?} in the feed")));
        }
        self.store
            .transaction(|tx| tx.add_feed_members(group_id, user_ids))
            .map_err(|error| match error {
                StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    refused(404, format!("a learner added to {group_id:?} is not in the feed"))
                }
                other => store_error(other),
            })
    }

    async fn all_groups(&self) -> Result<Vec<GroupMembers>, ConnectorError> {
        let snapshot = self.store.feed_snapshot().map_err(store_error)?;
        Ok(snapshot
            .groups
            .into_iter()
            .map(|(name, members)| GroupMembers {
                id: name.clone(),
                display_name: name,
                members,
            })
            .collect())
    }

    /// A batch was applied: the writer looks whether the feed is owed a write.
    async fn flush(&self) -> Result<(), ConnectorError> {
        self.written.notify_one();
        Ok(())
    }
}

fn text<'v>(body: &'v Value, key: &str) -> Option<&'v str> {
    body.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn refused(status: u16, message: String) -> ConnectorError {
    ConnectorError::Permanent {
        status: Some(status),
        message,
    }
}

fn taken(user_name: &str, holder: &str) -> ConnectorError {
    refused(409, format!("the userName {user_name:?} is taken by {holder}"))
}

/// The store failing is worth trying again (busy, a full disk), like a server's 503.
fn store_error(error: StoreError) -> ConnectorError {
    ConnectorError::Transient {
        status: None,
        retry_after: None,
        message: format!("the learner feed's store: {error}"),
    }
}
