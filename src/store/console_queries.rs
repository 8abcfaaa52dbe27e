//! Pages for the console's scrolling lists, in both directions from a key, so a
//! view of a million-event journal moves by one small indexed page at a time.

use super::audit::{AUDIT_COLUMNS, entry_from_row};
use super::page::Toward;
use super::queries::{EVENT_COLUMNS, event_from_row};
use super::{AuditFilter, EventFilter, Store, StoreError};
use crate::model::{AuditEntry, Event, EventId, HoldKind};

/// Held events by the kind of hold (the held count split in two).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeldCounts {
    /// Deactivations held by the safety threshold.
    pub deactivations: u64,
    /// Changes of newcomers to a suspected duplicate group.
    pub duplicates: u64,
}

impl HeldCounts {
    pub fn of(&self, kind: HoldKind) -> u64 {
        match kind {
            HoldKind::SafetyThreshold => self.deactivations,
            HoldKind::SuspectedDuplicate => self.duplicates,
        }
    }
}

impl Store {
    /// A page of events (with payloads) from `from`, newest first.
    pub fn events_window(
        &self,
        filter: &EventFilter,
        from: Option<EventId>,
        toward: Toward,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        filter.page_query().run(
            &*self.reader()?,
            (EVENT_COLUMNS, filter.table(), "id"),
            (from.map(|id| id.0), toward),
            limit,
            event_from_row,
        )
    }

    /// A page of the audit log from `from` (a sequence number), newest first.
    pub fn audit_window(
        &self,
        filter: &AuditFilter,
        from: Option<u64>,
        toward: Toward,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        filter.page_query().run(
            &*self.reader()?,
            (AUDIT_COLUMNS, "audit", "seq"),
            (from.map(|s| s as i64), toward),
            limit,
            entry_from_row,
        )
    }

    /// How many events each kind of hold holds (by the status index).
    pub fn held_counts(&self) -> Result<HeldCounts, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT COALESCE(SUM(note LIKE ?1 || '%'), 0), COALESCE(SUM(note LIKE ?2 || '%'), 0) \
             FROM events WHERE status = 'held'",
        )?;
        let (deactivations, duplicates): (i64, i64) = stmt.query_row(
            [
                HoldKind::SafetyThreshold.note_prefix(),
                HoldKind::SuspectedDuplicate.note_prefix(),
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(HeldCounts {
            deactivations: deactivations.max(0) as u64,
            duplicates: duplicates.max(0) as u64,
        })
    }
}
