//! Pages for the console's scrolling lists, in both directions from a key, so a
//! view of a million-event journal moves by one small indexed page at a time.

use super::audit::{AUDIT_COLUMNS, entry_from_row};
use super::page::Toward;
use super::queries::{EVENT_COLUMNS, event_from_row};
use super::{AuditFilter, EventFilter, Store, StoreError};
use crate::model::{AuditEntry, Event, EventId};

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
}
