//! Whom each employee counts as a report of (`contract::reports` decides), kept
//! as records apply, so a manager's `reports` is one index lookup. The store
//! only keeps it; `engine::apply::reports` decides when it changes.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, StoreTx};
use crate::model::EventId;

impl StoreTx<'_> {
    /// Records whom the employee counts as a report of (`None`: nobody);
    /// answers whom they counted for before.
    pub fn set_reports_to(
        &self,
        employee_id: &str,
        manager_id: Option<&str>,
    ) -> Result<Option<String>, StoreError> {
        let before: Option<String> = self
            .conn
            .prepare_cached("SELECT manager_id FROM reports_to WHERE employee_id = ?1")?
            .query_row([employee_id], |r| r.get(0))
            .optional()?;
        if before.as_deref() == manager_id {
            return Ok(before);
        }
        match manager_id {
            Some(manager_id) => self
                .conn
                .prepare_cached(
                    "INSERT INTO reports_to (employee_id, manager_id) VALUES (?1, ?2) \
                     ON CONFLICT (employee_id) DO UPDATE SET manager_id = excluded.manager_id",
                )?
                .execute(params![employee_id, manager_id])?,
            None => self
                .conn
                .prepare_cached("DELETE FROM reports_to WHERE employee_id = ?1")?
                .execute([employee_id])?,
        };
        Ok(before)
    }

    /// The event whose record was last applied to the employee, if any was.
    pub fn applied_event(&self, employee_id: &str) -> Result<Option<EventId>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT event_id FROM applied_records WHERE employee_id = ?1")?
            .query_row([employee_id], |r| Ok(EventId(r.get(0)?)))
            .optional()?)
    }

    /// Whether an HRIS change of the employee is due to be applied, and whether
    /// one is being applied now (begun): (waiting, begun).
    pub fn change_due(&self, employee_id: &str) -> Result<(bool, bool), StoreError> {
        Ok(self
            .conn
            .prepare_cached(
                // The first status term is the index's own condition, so the partial index applies.
                "SELECT COALESCE(MAX(started_at IS NULL), 0), COALESCE(MAX(started_at IS NOT NULL), 0) \
                 FROM events INDEXED BY events_open WHERE direction = 'hris_to_lms' \
                 AND employee_id = ?1 AND status IN ('pending', 'retrying', 'dead_letter', 'rejected', 'held') \
                 AND status IN ('pending', 'retrying')",
            )?
            .query_row([employee_id], |r| Ok((r.get(0)?, r.get(1)?)))?)
    }
}

impl Store {
    /// How many employees count as the employee's reports.
    pub fn reports_of(&self, employee_id: &str) -> Result<u32, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached("SELECT COUNT(*) FROM reports_to WHERE manager_id = ?1")?;
        Ok(stmt.query_row([employee_id], |r| r.get(0))?)
    }
}
