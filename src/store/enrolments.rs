//! The learning paths each employee was enrolled in (so a retried or repeated
//! change does not enrol them again) and the learners waiting for their manager
//! to get a learner. Written once over `Sql`, so the same statements run on
//! SQLite and PostgreSQL: `Enrolments` offers them on either store, each one
//! transaction; inside a SQLite `StoreTx` the same functions run on the wider
//! transaction.

use jiff::Timestamp;

use super::duplicates::required;
use super::sql::{Param, Sql, Transact, clock};
use super::{Store, StoreError, StoreTx, from_micros, to_micros};
use crate::model::EventId;

/// Remembers, `now`, that the employee was enrolled in these learning paths.
pub fn record_enrolments(
    sql: &dyn Sql,
    now: Timestamp,
    employee_id: &str,
    groups: &[String],
) -> Result<(), StoreError> {
    if groups.is_empty() {
        return Ok(());
    }
    let mut insert = sql.prepare(
        "INSERT INTO enrolments (employee_id, group_name, at) VALUES (?1, ?2, ?3) \
         ON CONFLICT DO NOTHING",
    )?;
    for group in groups {
        insert.execute(&[
            Param::from(employee_id),
            Param::from(group.as_str()),
            Param::from(to_micros(now)),
        ])?;
    }
    Ok(())
}

/// Forgets a recorded enrolment, so the next change enrols the learner again
/// (reconciliation found the LMS group without them).
pub fn forget_enrolment(sql: &dyn Sql, employee_id: &str, group: &str) -> Result<(), StoreError> {
    sql.execute(
        "DELETE FROM enrolments WHERE employee_id = ?1 AND group_name = ?2",
        &[Param::from(employee_id), Param::from(group)],
    )?;
    Ok(())
}

/// The learning paths the employee is recorded as enrolled in, by name.
pub fn enrolments(sql: &dyn Sql, employee_id: &str) -> Result<Vec<String>, StoreError> {
    sql.query_all(
        "SELECT group_name FROM enrolments WHERE employee_id = ?1 ORDER BY group_name",
        &[Param::from(employee_id)],
        |row| required(row.text(0)?, "enrolments", 0),
    )
}

/// Remembers `now` (or, with `None`, forgets) that this employee's learner waits
/// for its manager to get a learner; `event` is the change to apply again then.
pub fn set_manager_wait(
    sql: &dyn Sql,
    now: Timestamp,
    employee_id: &str,
    manager_id: Option<&str>,
    event: EventId,
) -> Result<(), StoreError> {
    match manager_id {
        Some(manager_id) => sql.execute(
            "INSERT INTO manager_waits (employee_id, manager_id, event_id, at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (employee_id) DO UPDATE SET \
             manager_id = excluded.manager_id, event_id = excluded.event_id, at = excluded.at",
            &[
                Param::from(employee_id),
                Param::from(manager_id),
                Param::from(event.0),
                Param::from(to_micros(now)),
            ],
        )?,
        None => sql.execute(
            "DELETE FROM manager_waits WHERE employee_id = ?1",
            &[Param::from(employee_id)],
        )?,
    };
    Ok(())
}

/// The links waiting for this manager, forgotten as they are handed back
/// (employee, the change to apply again), by employee id. One `DELETE …
/// RETURNING`: of two engines taking the same manager's waits, one gets them.
pub fn take_manager_waits(sql: &dyn Sql, manager_id: &str) -> Result<Vec<(String, EventId)>, StoreError> {
    let mut waiting = sql.query_all(
        "DELETE FROM manager_waits WHERE manager_id = ?1 RETURNING employee_id, event_id",
        &[Param::from(manager_id)],
        |row| {
            Ok((
                required(row.text(0)?, "manager_waits", 0)?,
                EventId(required(row.int(1)?, "manager_waits", 1)?),
            ))
        },
    )?;
    waiting.sort();
    Ok(waiting)
}

/// The enrolment and manager-wait calls on any store, SQLite or PostgreSQL,
/// each one transaction (a write stamped by the database's clock). On SQLite,
/// `StoreTx` and `Store` offer the same calls under the same names.
pub trait Enrolments: Transact {
    fn record_enrolments(&self, employee_id: &str, groups: &[String]) -> Result<(), StoreError> {
        self.write_retrying(|sql| record_enrolments(sql, from_micros(clock(sql)?), employee_id, groups))
    }

    fn forget_enrolment(&self, employee_id: &str, group: &str) -> Result<(), StoreError> {
        self.write_retrying(|sql| forget_enrolment(sql, employee_id, group))
    }

    fn enrolments(&self, employee_id: &str) -> Result<Vec<String>, StoreError> {
        self.read(|sql| enrolments(sql, employee_id))
    }

    fn set_manager_wait(
        &self,
        employee_id: &str,
        manager_id: Option<&str>,
        event: EventId,
    ) -> Result<(), StoreError> {
        self.write_retrying(|sql| {
            set_manager_wait(sql, from_micros(clock(sql)?), employee_id, manager_id, event)
        })
    }

    fn take_manager_waits(&self, manager_id: &str) -> Result<Vec<(String, EventId)>, StoreError> {
        self.write_retrying(|sql| take_manager_waits(sql, manager_id))
    }
}

impl<T: Transact> Enrolments for T {}

impl StoreTx<'_> {
    /// Remembers that the employee was enrolled in these learning paths.
    pub fn record_enrolments(&self, employee_id: &str, groups: &[String]) -> Result<(), StoreError> {
        record_enrolments(self.sql(), self.now, employee_id, groups)
    }

    /// Forgets a recorded enrolment, so the next change enrols the learner again.
    pub fn forget_enrolment(&self, employee_id: &str, group: &str) -> Result<(), StoreError> {
        forget_enrolment(self.sql(), employee_id, group)
    }

    /// Remembers (or, with `None`, forgets) that this employee's learner waits for
    /// its manager to get a learner; `event` is the change to apply again then.
    pub fn set_manager_wait(
        &self,
        employee_id: &str,
        manager_id: Option<&str>,
        event: EventId,
    ) -> Result<(), StoreError> {
        set_manager_wait(self.sql(), self.now, employee_id, manager_id, event)
    }

    /// The links waiting for this manager, forgotten as they are handed back.
    pub fn take_manager_waits(&self, manager_id: &str) -> Result<Vec<(String, EventId)>, StoreError> {
        take_manager_waits(self.sql(), manager_id)
    }
}

/// The read on SQLite's `Store` without importing `Enrolments`, as callers had it.
impl Store {
    pub fn enrolments(&self, employee_id: &str) -> Result<Vec<String>, StoreError> {
        Enrolments::enrolments(self, employee_id)
    }
}
