//! The newest HRIS record applied to each employee's learner (its time, digest and
//! event), kept so the engine can tell a change carrying an older record from a
//! newer one. The store only keeps it; `engine::apply::supersede` decides. Written
//! once over `Sql`, so the same statements run on SQLite and PostgreSQL.

use super::sql::{Param, Sql, Transact};
use super::{Store, StoreError, StoreTx, from_micros, to_micros};
use crate::model::{AppliedRecord, EventId, RecordStamp};

/// Records `stamp`, carried by `event`, as the newest record applied to the employee.
pub fn set_applied_record(
    sql: &dyn Sql,
    employee_id: &str,
    stamp: &RecordStamp,
    event: EventId,
) -> Result<(), StoreError> {
    sql.execute(
        "INSERT INTO applied_records (employee_id, record_at, digest, event_id) \
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (employee_id) DO UPDATE SET \
         record_at = excluded.record_at, digest = excluded.digest, event_id = excluded.event_id",
        &[
            Param::from(employee_id),
            Param::from(to_micros(stamp.at)),
            Param::from(stamp.digest.as_str()),
            Param::from(event.0),
        ],
    )?;
    Ok(())
}

/// The newest record applied to the employee's learner, if any was.
pub fn applied_record(sql: &dyn Sql, employee_id: &str) -> Result<Option<AppliedRecord>, StoreError> {
    sql.query_opt(
        "SELECT record_at, digest, event_id FROM applied_records WHERE employee_id = ?1",
        &[Param::from(employee_id)],
        |row| {
            Ok(AppliedRecord {
                stamp: RecordStamp {
                    at: from_micros(row.int_of(0, "applied_records.record_at")?),
                    digest: row.text_of(1, "applied_records.digest")?,
                },
                event_id: EventId(row.int_of(2, "applied_records.event_id")?),
            })
        },
    )
}

/// The applied records on any store, SQLite or PostgreSQL, each one transaction.
/// Inside a wider SQLite transaction, `StoreTx::set_applied_record` writes the same row.
pub trait AppliedRecords: Transact {
    fn set_applied_record(
        &self,
        employee_id: &str,
        stamp: &RecordStamp,
        event: EventId,
    ) -> Result<(), StoreError> {
        self.write_retrying(|sql| set_applied_record(sql, employee_id, stamp, event))
    }

    fn applied_record(&self, employee_id: &str) -> Result<Option<AppliedRecord>, StoreError> {
        self.read(|sql| applied_record(sql, employee_id))
    }
}

impl<T: Transact> AppliedRecords for T {}

impl StoreTx<'_> {
    /// Records `stamp`, carried by `event`, as the newest record applied to the employee.
    pub fn set_applied_record(
        &self,
        employee_id: &str,
        stamp: &RecordStamp,
        event: EventId,
    ) -> Result<(), StoreError> {
        set_applied_record(self.sql(), employee_id, stamp, event)
    }
}

/// The read on SQLite's `Store` without importing `AppliedRecords`, as callers had it.
impl Store {
    /// The newest record applied to the employee's learner, if any was.
    pub fn applied_record(&self, employee_id: &str) -> Result<Option<AppliedRecord>, StoreError> {
        AppliedRecords::applied_record(self, employee_id)
    }
}
