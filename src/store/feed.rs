//! The learners a CSV-feed LMS should hold, their groups, and how far the feed
//! file and its upload have caught up with them (engine/feed decides what to
//! write and when; the store only keeps). Every change that alters a learner or
//! a membership counts one in `feed_outbox.changes`, in the same transaction.

use std::collections::BTreeMap;

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use serde_json::Value;

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

impl StoreTx<'_> {
    /// Inserts or replaces a learner; counts a change only when something differs.
    /// A userName another learner holds fails on the table's UNIQUE constraint.
    pub fn put_feed_learner(
        &self,
        id: &str,
        (external_id, user_name, employee_number): (Option<&str>, &str, Option<&str>),
        resource: &Value,
    ) -> Result<(), StoreError> {
        let changed = self
            .conn
            .prepare_cached(
                "INSERT INTO feed_learners (id, external_id, user_name, employee_number, resource) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET \
                 external_id = excluded.external_id, user_name = excluded.user_name, \
                 employee_number = excluded.employee_number, resource = excluded.resource \
                 WHERE resource IS NOT excluded.resource",
            )?
            .execute(params![
                id,
                external_id,
                user_name,
                employee_number,
                resource.to_string()
            ])?;
        self.count_feed_change(changed)
    }

    /// Makes the group if it is new.
    pub fn put_feed_group(&self, name: &str) -> Result<(), StoreError> {
        let added = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO feed_groups (name) VALUES (?1)")?
            .execute([name])?;
        self.count_feed_change(added)
    }

    /// Adds learners to a group; those already in it stay as they are.
    pub fn add_feed_members(&self, group: &str, learner_ids: &[String]) -> Result<(), StoreError> {
        let mut insert = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO feed_members (group_name, learner_id) VALUES (?1, ?2)")?;
        let mut added = 0;
        for id in learner_ids {
            added += insert.execute(params![group, id])?;
        }
        self.count_feed_change(added)
    }

    /// Takes learners out of a group; those not in it change nothing.
    pub fn remove_feed_members(&self, group: &str, learner_ids: &[String]) -> Result<(), StoreError> {
        let mut delete = self
            .conn
            .prepare_cached("DELETE FROM feed_members WHERE group_name = ?1 AND learner_id = ?2")?;
        let mut removed = 0;
        for id in learner_ids {
            removed += delete.execute(params![group, id])?;
        }
        self.count_feed_change(removed)
    }

    /// The file now holds the changes up to `changes`, written at `at`.
    pub fn feed_written(&self, changes: i64, at: Timestamp) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE feed_outbox SET written = ?1, written_at = ?2 WHERE id = 1")?
            .execute(params![changes, to_micros(at)])?;
        Ok(())
    }

    /// The upload now holds the changes up to `changes`.
    pub fn feed_uploaded(&self, changes: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE feed_outbox SET uploaded = ?1 WHERE id = 1")?
            .execute([changes])?;
        Ok(())
    }

    fn count_feed_change(&self, rows: usize) -> Result<(), StoreError> {
        if rows > 0 {
            self.conn
                .prepare_cached("UPDATE feed_outbox SET changes = changes + 1 WHERE id = 1")?
                .execute([])?;
        }
        Ok(())
    }
}

impl Store {
    /// One learner by id.
    pub fn feed_learner(&self, id: &str) -> Result<Option<Value>, StoreError> {
        let conn = self.reader()?;
        let text: Option<String> = conn
            .prepare_cached("SELECT resource FROM feed_learners WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        text.map(|text| resource_of(id, &text)).transpose()
    }

    /// The learner with this externalId, userName (any case) or employee number.
    pub fn feed_learner_by(&self, key: FeedKeys, value: &str) -> Result<Option<(String, Value)>, StoreError> {
        let conn = self.reader()?;
        let sql = format!(
            "SELECT id, resource FROM feed_learners WHERE {} = ?1 ORDER BY id LIMIT 1",
            key.column()
        );
        let found: Option<(String, String)> = conn
            .prepare_cached(&sql)?
            .query_row([value], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        found
            .map(|(id, text)| resource_of(&id, &text).map(|resource| (id, resource)))
            .transpose()
    }

    /// Whether the group exists.
    pub fn feed_group_exists(&self, name: &str) -> Result<bool, StoreError> {
        let conn = self.reader()?;
        Ok(conn
            .prepare_cached("SELECT 1 FROM feed_groups WHERE name = ?1")?
            .query_row([name], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Everything the feed is written from, read in one transaction.
    pub fn feed_snapshot(&self) -> Result<FeedSnapshot, StoreError> {
        let conn = self.reader()?;
        // One read transaction: the count and the rows are of the same moment.
        let tx = conn.unchecked_transaction()?;
        let changes = tx.query_row("SELECT changes FROM feed_outbox WHERE id = 1", [], |r| r.get(0))?;
        let mut learners = Vec::new();
        {
            let mut stmt = tx.prepare_cached("SELECT id, resource FROM feed_learners ORDER BY id")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let (id, text): (String, String) = (row.get(0)?, row.get(1)?);
                let resource = resource_of(&id, &text)?;
                learners.push((id, resource));
            }
        }
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        {
            let mut stmt = tx.prepare_cached("SELECT name FROM feed_groups")?;
            for name in stmt.query_map([], |r| r.get::<_, String>(0))? {
                groups.entry(name?).or_default();
            }
            let mut stmt = tx.prepare_cached(
                "SELECT group_name, learner_id FROM feed_members ORDER BY group_name, learner_id",
            )?;
            for pair in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
                let (group, learner) = pair?;
                groups.entry(group).or_default().push(learner);
            }
        }
        tx.finish()?;
        Ok(FeedSnapshot {
            changes,
            learners,
            groups,
        })
    }

    /// How far the file and the upload have caught up.
    pub fn feed_outbox(&self) -> Result<FeedOutbox, StoreError> {
        let conn = self.reader()?;
        Ok(conn
            .prepare_cached("SELECT changes, written, written_at, uploaded FROM feed_outbox WHERE id = 1")?
            .query_row([], |r| {
                Ok(FeedOutbox {
                    changes: r.get(0)?,
                    written: r.get(1)?,
                    written_at: r.get::<_, Option<i64>>(2)?.map(from_micros),
                    uploaded: r.get(3)?,
                })
            })?)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_what_differs_counts_as_a_change_and_user_names_are_unique_in_any_case() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s.db")).unwrap();
        let ada = json!({ "userName": "ada@x.example", "active": true });
        let put = |id: &str, user_name: &str, resource: &Value| {
            store.transaction(|tx| tx.put_feed_learner(id, (Some(id), user_name, None), resource))
        };
        put("E1", "ada@x.example", &ada).unwrap();
        put("E1", "ada@x.example", &ada).unwrap();
        assert_eq!(
            store.feed_outbox().unwrap().changes,
            1,
            "the same again is no change"
        );
        put(
            "E1",
            "ada@x.example",
            &json!({ "userName": "ada@x.example", "active": false }),
        )
        .unwrap();
        assert_eq!(store.feed_outbox().unwrap().changes, 2);
        assert!(
            put("E2", "ADA@x.example", &ada).is_err(),
            "a userName is one learner's"
        );
        store.transaction(|tx| tx.put_feed_group("Onboarding")).unwrap();
        for _ in 0..2 {
            store
                .transaction(|tx| tx.add_feed_members("Onboarding", &["E1".to_string()]))
                .unwrap();
        }
        let state = store.feed_outbox().unwrap();
        assert_eq!((state.changes, state.written, state.written_at), (4, 0, None));
        let found = store
            .feed_learner_by(FeedKeys::UserName, "ADA@X.EXAMPLE")
            .unwrap();
        assert_eq!(found.map(|(id, _)| id).as_deref(), Some("E1"));
        let snapshot = store.feed_snapshot().unwrap();
        assert_eq!(snapshot.changes, 4);
        assert_eq!(snapshot.groups["Onboarding"], ["E1"]);
        assert_eq!(snapshot.learners[0].1["active"], false);
        store
            .transaction(|tx| tx.feed_written(4, Timestamp::now()))
            .unwrap();
        assert_eq!(store.feed_outbox().unwrap().written, 4);
        // Taken out of a group: one change; out of one it is not in: none.
        for _ in 0..2 {
            store
                .transaction(|tx| tx.remove_feed_members("Onboarding", &["E1".to_string()]))
                .unwrap();
        }
        assert_eq!(store.feed_outbox().unwrap().changes, 5);
        let snapshot = store.feed_snapshot().unwrap();
        assert!(
            snapshot
                .groups
                .get("Onboarding")
                .is_none_or(|members| members.is_empty())
        );
    }
}
