//! The HRIS admin's queue: drift items and suspected duplicates an operator
//! handed over, with a note. Written once over `Sql`; any store through the
//! `FlagQueue` trait, SQLite's `StoreTx` and `Store` under the names callers had.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use super::sql::{Param, Row, Sql, Transact, clock};
use super::{Store, StoreError, StoreTx, from_micros, to_micros};

/// An entry of the HRIS admin's queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flag {
    pub id: i64,
    pub at: Timestamp,
    pub actor: String,
    /// "drift" or "duplicate".
    pub kind: String,
    pub employee_id: Option<String>,
    pub subject: String,
    pub note: String,
    pub detail: Value,
}

fn flag_from_row(row: &dyn Row) -> Result<Flag, StoreError> {
    let detail = row.text(7)?.unwrap_or_default();
    Ok(Flag {
        id: row.int(0)?.unwrap_or_default(),
        at: from_micros(row.int(1)?.unwrap_or_default()),
        actor: row.text(2)?.unwrap_or_default(),
        kind: row.text(3)?.unwrap_or_default(),
        employee_id: row.text(4)?,
        subject: row.text(5)?.unwrap_or_default(),
        note: row.text(6)?.unwrap_or_default(),
        detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
    })
}

/// The HRIS admin's queue, oldest first, after `after_id`, at most `limit`.
pub fn flags(sql: &dyn Sql, after_id: i64, limit: usize) -> Result<Vec<Flag>, StoreError> {
    sql.query_all(
        "SELECT id, at, actor, kind, employee_id, subject, note, detail FROM flags WHERE id > ?1 \
         ORDER BY id LIMIT ?2",
        &[Param::from(after_id), Param::from(limit as i64)],
        flag_from_row,
    )
}

/// Adds an entry to the HRIS admin's queue; returns its id.
#[allow(clippy::too_many_arguments)]
pub fn add_flag(
    sql: &dyn Sql,
    now: Timestamp,
    kind: &str,
    employee_id: Option<&str>,
    subject: &str,
    note: &str,
    detail: &Value,
    actor: &str,
) -> Result<i64, StoreError> {
    let detail = detail.to_string();
    let id = sql.query_opt(
        "INSERT INTO flags (at, actor, kind, employee_id, subject, note, detail) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        &[
            Param::from(to_micros(now)),
            Param::from(actor),
            Param::from(kind),
            Param::from(employee_id),
            Param::from(subject),
            Param::from(note),
            Param::from(detail.as_str()),
        ],
        |row| row.int(0),
    )?;
    Ok(id.flatten().unwrap_or_default())
}

/// The queue's calls on any store, SQLite or PostgreSQL, each one transaction.
/// Inside a wider SQLite transaction, `StoreTx::add_flag` adds the same row.
pub trait FlagQueue: Transact {
    fn flags(&self, after_id: i64, limit: usize) -> Result<Vec<Flag>, StoreError> {
        self.read(|sql| flags(sql, after_id, limit))
    }

    fn add_flag(
        &self,
        kind: &str,
        employee_id: Option<&str>,
        subject: &str,
        note: &str,
        detail: &Value,
        actor: &str,
    ) -> Result<i64, StoreError> {
        self.write_retrying(|sql| {
            add_flag(
                sql,
                from_micros(clock(sql)?),
                kind,
                employee_id,
                subject,
                note,
                detail,
                actor,
            )
        })
    }
}

impl<T: Transact> FlagQueue for T {}

/// The read on SQLite's `Store` without importing `FlagQueue`, as callers had it.
impl Store {
    pub fn flags(&self, after_id: i64, limit: usize) -> Result<Vec<Flag>, StoreError> {
        FlagQueue::flags(self, after_id, limit)
    }
}

impl StoreTx<'_> {
    /// Adds an entry to the HRIS admin's queue; returns its id.
    pub fn add_flag(
        &self,
        kind: &str,
        employee_id: Option<&str>,
        subject: &str,
        note: &str,
        detail: &Value,
        actor: &str,
    ) -> Result<i64, StoreError> {
        add_flag(
            self.sql(),
            self.now,
            kind,
            employee_id,
            subject,
            note,
            detail,
            actor,
        )
    }
}
