//! The learners a CSV-feed LMS should hold, their groups, and how far the feed
//! file and its upload have caught up with them (engine/feed decides what to
//! write and when; the store only keeps). Every change that alters a learner or
//! a membership counts one in `feed_outbox.changes`, in the same transaction.
//! Written once over `Sql`, so the same statements run on SQLite and
//! PostgreSQL: any store through the `LearnerFeed` trait (each call one
//! transaction), SQLite's `StoreTx` and `Store` under the names callers had.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::Value;

use super::sql::{Param, Sql, Transact};
use super::{Store, StoreError, StoreTx, from_micros, to_micros};

/// What a learner is looked up by, besides its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKeys {
    ExternalId,
    UserName,
    EmployeeNumber,
}

impl FeedKeys {
    fn column(self) -> &'static str {
        match self {
            FeedKeys::ExternalId => "external_id",
            FeedKeys::UserName => "user_name",
            FeedKeys::EmployeeNumber => "employee_number",
        }
    }
}

/// How far the file and the upload hold the learners' changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedOutbox {
    /// Changes made to the learners so far.
    pub changes: i64,
    /// Changes the file last written holds.
    pub written: i64,
    pub written_at: Option<Timestamp>,
    /// Changes the file last uploaded holds.
    pub uploaded: i64,
}

/// Every learner and membership as of one moment, with the change count then.
#[derive(Debug, Clone, Default)]
pub struct FeedSnapshot {
    pub changes: i64,
    /// (id, SCIM resource), by id.
    pub learners: Vec<(String, Value)>,
    /// Group name → member ids, by name.
    pub groups: BTreeMap<String, Vec<String>>,
}

fn resource_of(id: &str, text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt {
        row: 0,
        column: "feed_learners.resource",
        reason: format!("learner {id}: {error}"),
    })
}

/// Inserts or replaces a learner; counts a change only when something differs.
/// A userName another learner holds (in any case) fails on the table's UNIQUE
/// constraint.
pub fn put_feed_learner(
    sql: &dyn Sql,
    id: &str,
    (external_id, user_name, employee_number): (Option<&str>, &str, Option<&str>),
    resource: &Value,
) -> Result<(), StoreError> {
    let resource = resource.to_string();
    let changed = sql.execute(
        "INSERT INTO feed_learners (id, external_id, user_name, employee_number, resource) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET \
         external_id = excluded.external_id, user_name = excluded.user_name, \
         employee_number = excluded.employee_number, resource = excluded.resource \
         WHERE feed_learners.resource IS DISTINCT FROM excluded.resource",
        &[
            Param::from(id),
            Param::from(external_id),
            Param::from(user_name),
            Param::from(employee_number),
            Param::from(resource.as_str()),
        ],
    )?;
    count_feed_change(sql, changed)
}

/// Makes the group if it is new.
pub fn put_feed_group(sql: &dyn Sql, name: &str) -> Result<(), StoreError> {
    let added = sql.execute(
        "INSERT INTO feed_groups (name) VALUES (?1) ON CONFLICT DO NOTHING",
        &[Param::from(name)],
    )?;
    count_feed_change(sql, added)
}

/// Adds learners to a group; those already in it stay as they are.
pub fn add_feed_members(sql: &dyn Sql, group: &str, learner_ids: &[String]) -> Result<(), StoreError> {
    let mut insert = sql.prepare(
        "INSERT INTO feed_members (group_name, learner_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?;
    let mut added = 0;
    for id in learner_ids {
        added += insert.execute(&[Param::from(group), Param::from(id.as_str())])?;
    }
    drop(insert);
    count_feed_change(sql, added)
}

/// Takes learners out of a group; those not in it change nothing.
pub fn remove_feed_members(sql: &dyn Sql, group: &str, learner_ids: &[String]) -> Result<(), StoreError> {
    let mut delete = sql.prepare("DELETE FROM feed_members WHERE group_name = ?1 AND learner_id = ?2")?;
    let mut removed = 0;
    for id in learner_ids {
        removed += delete.execute(&[Param::from(group), Param::from(id.as_str())])?;
    }
    drop(delete);
    count_feed_change(sql, removed)
}

/// The file now holds the changes up to `changes`, written at `at`.
pub fn feed_written(sql: &dyn Sql, changes: i64, at: Timestamp) -> Result<(), StoreError> {
    sql.execute(
        "UPDATE feed_outbox SET written = ?1, written_at = ?2 WHERE id = 1",
        &[Param::from(changes), Param::from(to_micros(at))],
    )?;
    Ok(())
}

/// The upload now holds the changes up to `changes`.
pub fn feed_uploaded(sql: &dyn Sql, changes: i64) -> Result<(), StoreError> {
    sql.execute(
        "UPDATE feed_outbox SET uploaded = ?1 WHERE id = 1",
        &[Param::from(changes)],
    )?;
    Ok(())
}

/// One change more, when `rows` changed any.
fn count_feed_change(sql: &dyn Sql, rows: u64) -> Result<(), StoreError> {
    if rows > 0 {
        sql.execute("UPDATE feed_outbox SET changes = changes + 1 WHERE id = 1", &[])?;
    }
    Ok(())
}

/// One learner by id.
pub fn feed_learner(sql: &dyn Sql, id: &str) -> Result<Option<Value>, StoreError> {
    let text = sql.query_opt(
        "SELECT resource FROM feed_learners WHERE id = ?1",
        &[Param::from(id)],
        |r| r.text(0),
    )?;
    text.flatten().map(|text| resource_of(id, &text)).transpose()
}

/// The learner with this externalId, userName (any case: the column's
/// collation) or employee number.
pub fn feed_learner_by(
    sql: &dyn Sql,
    key: FeedKeys,
    value: &str,
) -> Result<Option<(String, Value)>, StoreError> {
    let found = sql.query_opt(
        &format!(
            "SELECT id, resource FROM feed_learners WHERE {} = ?1 ORDER BY id LIMIT 1",
            key.column()
        ),
        &[Param::from(value)],
        |r| Ok((r.text(0)?.unwrap_or_default(), r.text(1)?.unwrap_or_default())),
    )?;
    found
        .map(|(id, text)| resource_of(&id, &text).map(|resource| (id, resource)))
        .transpose()
}

/// Whether the group exists.
pub fn feed_group_exists(sql: &dyn Sql, name: &str) -> Result<bool, StoreError> {
    let found = sql.query_opt(
        "SELECT 1 FROM feed_groups WHERE name = ?1",
        &[Param::from(name)],
        |_| Ok(()),
    )?;
    Ok(found.is_some())
}

/// Everything the feed is written from. Read in one transaction (see
/// `Transact::read`), so the count and the rows are of the same moment.
pub fn feed_snapshot(sql: &dyn Sql) -> Result<FeedSnapshot, StoreError> {
    let changes = sql.query_opt("SELECT changes FROM feed_outbox WHERE id = 1", &[], |r| r.int(0))?;
    let mut learners = Vec::new();
    sql.query(
        "SELECT id, resource FROM feed_learners ORDER BY id",
        &[],
        &mut |r| {
            let (id, text) = (r.text(0)?.unwrap_or_default(), r.text(1)?.unwrap_or_default());
            let resource = resource_of(&id, &text)?;
            learners.push((id, resource));
            Ok(())
        },
    )?;
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    sql.query("SELECT name FROM feed_groups", &[], &mut |r| {
        groups.entry(r.text(0)?.unwrap_or_default()).or_default();
        Ok(())
    })?;
    sql.query(
        "SELECT group_name, learner_id FROM feed_members ORDER BY group_name, learner_id",
        &[],
        &mut |r| {
            let (group, learner) = (r.text(0)?.unwrap_or_default(), r.text(1)?.unwrap_or_default());
            groups.entry(group).or_default().push(learner);
            Ok(())
        },
    )?;
    Ok(FeedSnapshot {
        changes: changes.flatten().unwrap_or_default(),
        learners,
        groups,
    })
}

/// How far the file and the upload have caught up.
pub fn feed_outbox(sql: &dyn Sql) -> Result<FeedOutbox, StoreError> {
    let found = sql.query_opt(
        "SELECT changes, written, written_at, uploaded FROM feed_outbox WHERE id = 1",
        &[],
        |r| {
            Ok(FeedOutbox {
                changes: r.int(0)?.unwrap_or_default(),
                written: r.int(1)?.unwrap_or_default(),
                written_at: r.int(2)?.map(from_micros),
                uploaded: r.int(3)?.unwrap_or_default(),
            })
        },
    )?;
    found.ok_or(StoreError::Corrupt {
        row: 1,
        column: "feed_outbox",
        reason: "the row is missing".into(),
    })
}

/// The feed's calls on any store, SQLite or PostgreSQL, each one transaction.
/// Inside a wider SQLite transaction, `StoreTx` offers the writes under the
/// same names.
pub trait LearnerFeed: Transact {
    fn put_feed_learner(
        &self,
        id: &str,
        keys: (Option<&str>, &str, Option<&str>),
        resource: &Value,
    ) -> Result<(), StoreError> {
        self.write_retrying(|sql| put_feed_learner(sql, id, keys, resource))
    }

    fn put_feed_group(&self, name: &str) -> Result<(), StoreError> {
        self.write_retrying(|sql| put_feed_group(sql, name))
    }

    fn add_feed_members(&self, group: &str, learner_ids: &[String]) -> Result<(), StoreError> {
        self.write_retrying(|sql| add_feed_members(sql, group, learner_ids))
    }

    fn remove_feed_members(&self, group: &str, learner_ids: &[String]) -> Result<(), StoreError> {
        self.write_retrying(|sql| remove_feed_members(sql, group, learner_ids))
    }

    fn feed_written(&self, changes: i64, at: Timestamp) -> Result<(), StoreError> {
        self.write_retrying(|sql| feed_written(sql, changes, at))
    }

    fn feed_uploaded(&self, changes: i64) -> Result<(), StoreError> {
        self.write_retrying(|sql| feed_uploaded(sql, changes))
    }

    fn feed_learner(&self, id: &str) -> Result<Option<Value>, StoreError> {
        self.read(|sql| feed_learner(sql, id))
    }

    fn feed_learner_by(&self, key: FeedKeys, value: &str) -> Result<Option<(String, Value)>, StoreError> {
        self.read(|sql| feed_learner_by(sql, key, value))
    }

    fn feed_group_exists(&self, name: &str) -> Result<bool, StoreError> {
        self.read(|sql| feed_group_exists(sql, name))
    }

    fn feed_snapshot(&self) -> Result<FeedSnapshot, StoreError> {
        self.read(feed_snapshot)
    }

    fn feed_outbox(&self) -> Result<FeedOutbox, StoreError> {
        self.read(feed_outbox)
    }
}

impl<T: Transact> LearnerFeed for T {}

impl StoreTx<'_> {
    pub fn put_feed_learner(
        &self,
        id: &str,
        keys: (Option<&str>, &str, Option<&str>),
        resource: &Value,
    ) -> Result<(), StoreError> {
        put_feed_learner(self.sql(), id, keys, resource)
    }

    pub fn put_feed_group(&self, name: &str) -> Result<(), StoreError> {
        put_feed_group(self.sql(), name)
    }

    pub fn add_feed_members(&self, group: &str, learner_ids: &[String]) -> Result<(), StoreError> {
        add_feed_members(self.sql(), group, learner_ids)
    }

    pub fn remove_feed_members(&self, group: &str, learner_ids: &[String]) -> Result<(), StoreError> {
        remove_feed_members(self.sql(), group, learner_ids)
    }

    pub fn feed_written(&self, changes: i64, at: Timestamp) -> Result<(), StoreError> {
        feed_written(self.sql(), changes, at)
    }

    pub fn feed_uploaded(&self, changes: i64) -> Result<(), StoreError> {
        feed_uploaded(self.sql(), changes)
    }
}

/// The reads on SQLite's `Store` without importing `LearnerFeed`, as callers had them.
impl Store {
    pub fn feed_learner(&self, id: &str) -> Result<Option<Value>, StoreError> {
        LearnerFeed::feed_learner(self, id)
    }

    pub fn feed_learner_by(&self, key: FeedKeys, value: &str) -> Result<Option<(String, Value)>, StoreError> {
        LearnerFeed::feed_learner_by(self, key, value)
    }

    pub fn feed_group_exists(&self, name: &str) -> Result<bool, StoreError> {
        LearnerFeed::feed_group_exists(self, name)
    }

    pub fn feed_snapshot(&self) -> Result<FeedSnapshot, StoreError> {
        LearnerFeed::feed_snapshot(self)
    }

    pub fn feed_outbox(&self) -> Result<FeedOutbox, StoreError> {
        LearnerFeed::feed_outbox(self)
    }
}
