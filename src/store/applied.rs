//! The newest HRIS record applied to each employee's learner (its time, digest and
//! event), kept so the engine can tell a change carrying an older record from a
//! newer one. The store only keeps it; `engine::apply::supersede` decides.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, StoreTx, from_micros, to_micros};
use crate::model::{AppliedRecord, EventId, RecordStamp};

impl StoreTx<'_> {
    /// Records `stamp`, carried by `event`, as the newest record applied to the employee.
    pub fn set_applied_record(
        &self,
        employee_id: &str,
        stamp: &RecordStamp,
        event: EventId,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO applied_records (employee_id, record_at, digest, event_id) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (employee_id) DO UPDATE SET \
                 record_at = excluded.record_at, digest = excluded.digest, event_id = excluded.event_id",
            )?
            .execute(params![employee_id, to_micros(stamp.at), stamp.digest, event.0])?;
        Ok(())
    }
}

impl Store {
    /// The newest record applied to the employee's learner, if any was.
    pub fn applied_record(&self, employee_id: &str) -> Result<Option<AppliedRecord>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT record_at, digest, event_id FROM applied_records WHERE employee_id = ?1",
        )?;
        Ok(stmt
            .query_row([employee_id], |r| {
                Ok(AppliedRecord {
                    stamp: RecordStamp {
                        at: from_micros(r.get(0)?),
                        digest: r.get(1)?,
                    },
                    event_id: EventId(r.get(2)?),
                })
            })
            .optional()?)
    }
}
