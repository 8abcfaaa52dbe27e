//! Whom each employee counts as a report of (`contract::reports` decides), kept
//! as records apply, so a manager's `reports` is one index lookup. The store
//! only keeps it; `engine::apply::reports` decides when it changes. Written once
//! over `Sql`, so the same statements run on SQLite and PostgreSQL.

use super::sql::{Param, Sql, Transact};
use super::{Store, StoreError, StoreTx};
use crate::model::EventId;

/// Records whom the employee counts as a report of (`None`: nobody); answers
/// whom they counted for before.
pub fn set_reports_to(
    sql: &dyn Sql,
    employee_id: &str,
    manager_id: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let read = format!(
        "SELECT manager_id FROM reports_to WHERE employee_id = ?1{}",
        sql.dialect().for_update()
    );
    let before = sql.query_opt(&read, &[Param::from(employee_id)], |row| {
        row.text_of(0, "reports_to.manager_id")
    })?;
    if before.as_deref() == manager_id {
        return Ok(before);
    }
    match manager_id {
        Some(manager_id) => sql.execute(
            "INSERT INTO reports_to (employee_id, manager_id) VALUES (?1, ?2) \
             ON CONFLICT (employee_id) DO UPDATE SET manager_id = excluded.manager_id",
            &[Param::from(employee_id), Param::from(manager_id)],
        )?,
        None => sql.execute(
            "DELETE FROM reports_to WHERE employee_id = ?1",
            &[Param::from(employee_id)],
        )?,
    };
    Ok(before)
}

/// The event whose record was last applied to the employee, if any was.
pub fn applied_event(sql: &dyn Sql, employee_id: &str) -> Result<Option<EventId>, StoreError> {
    sql.query_opt(
        "SELECT event_id FROM applied_records WHERE employee_id = ?1",
        &[Param::from(employee_id)],
        |row| Ok(EventId(row.int_of(0, "applied_records.event_id")?)),
    )
}

/// Whether an HRIS change of the employee is due to be applied, and whether
/// one is being applied now (begun): (waiting, begun).
pub fn change_due(sql: &dyn Sql, employee_id: &str) -> Result<(bool, bool), StoreError> {
    // The first status term is the index's own condition, so the partial index applies.
    let statement = format!(
        "SELECT CAST(COALESCE(MAX(CASE WHEN started_at IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(MAX(CASE WHEN started_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM events{} WHERE direction = 'hris_to_lms' \
         AND employee_id = ?1 AND status IN ('pending', 'retrying', 'dead_letter', 'rejected', 'held') \
         AND status IN ('pending', 'retrying')",
        sql.dialect().indexed_by(" INDEXED BY events_open")
    );
    let due = sql.query_opt(&statement, &[Param::from(employee_id)], |row| {
        Ok((row.int_of(0, "waiting")? != 0, row.int_of(1, "begun")? != 0))
    })?;
    Ok(due.unwrap_or_default())
}

/// How many employees count as the employee's reports.
pub fn reports_of(sql: &dyn Sql, employee_id: &str) -> Result<u32, StoreError> {
    let count = sql.query_opt(
        "SELECT COUNT(*) FROM reports_to WHERE manager_id = ?1",
        &[Param::from(employee_id)],
        |row| row.int_of(0, "count"),
    )?;
    Ok(u32::try_from(count.unwrap_or_default()).unwrap_or(u32::MAX))
}

/// Who reports to whom on any store, SQLite or PostgreSQL, each call one
/// transaction. Inside a wider SQLite transaction, `StoreTx` offers the same
/// calls under the same names.
pub trait ReportsTo: Transact {
    fn set_reports_to(
        &self,
        employee_id: &str,
        manager_id: Option<&str>,
    ) -> Result<Option<String>, StoreError> {
        self.write_retrying(|sql| set_reports_to(sql, employee_id, manager_id))
    }

    fn applied_event(&self, employee_id: &str) -> Result<Option<EventId>, StoreError> {
        self.read(|sql| applied_event(sql, employee_id))
    }

    fn change_due(&self, employee_id: &str) -> Result<(bool, bool), StoreError> {
        self.read(|sql| change_due(sql, employee_id))
    }

    fn reports_of(&self, employee_id: &str) -> Result<u32, StoreError> {
        self.read(|sql| reports_of(sql, employee_id))
    }
}

impl<T: Transact> ReportsTo for T {}

impl StoreTx<'_> {
    /// Records whom the employee counts as a report of (`None`: nobody);
    /// answers whom they counted for before.
    pub fn set_reports_to(
        &self,
        employee_id: &str,
        manager_id: Option<&str>,
    ) -> Result<Option<String>, StoreError> {
        set_reports_to(self.sql(), employee_id, manager_id)
    }

    /// The event whose record was last applied to the employee, if any was.
    pub fn applied_event(&self, employee_id: &str) -> Result<Option<EventId>, StoreError> {
        applied_event(self.sql(), employee_id)
    }

    /// Whether an HRIS change of the employee is due to be applied, and whether
    /// one is being applied now (begun): (waiting, begun).
    pub fn change_due(&self, employee_id: &str) -> Result<(bool, bool), StoreError> {
        change_due(self.sql(), employee_id)
    }
}

/// The read on SQLite's `Store` without importing `ReportsTo`, as callers had it.
impl Store {
    /// How many employees count as the employee's reports.
    pub fn reports_of(&self, employee_id: &str) -> Result<u32, StoreError> {
        ReportsTo::reports_of(self, employee_id)
    }
}
