//! Pages for the console's scrolling lists, in both directions from a key, so a
//! view of a million-event journal moves by one small indexed page at a time.

use super::audit::{AUDIT_COLUMNS, entry_from_row};
use super::page::{PageQuery, Toward};
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
        let mut page = PageQuery::new();
        page.equal("direction", filter.direction.map(|d| d.as_str()));
        page.equal("status", filter.status.map(|s| s.as_str()));
        page.equal("employee_id", filter.employee_id.as_deref());
        page.contains_text(
            &["employee_id", "kind", "last_error", "payload"],
            filter.text.as_deref(),
        );
        page.run(
            &*self.reader()?,
            (EVENT_COLUMNS, "events", "id"),
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
        let mut page = PageQuery::new();
        page.equal("employee_id", filter.employee_id.as_deref());
        page.equal("actor", filter.actor.as_deref());
        page.equal("action", filter.action.as_deref());
        page.contains_text(
            &[
                "subject",
                "reason",
                "before",
                "after",
                "employee_id",
                "action",
                "actor",
            ],
            filter.text.as_deref(),
        );
        page.run(
            &*self.reader()?,
            (AUDIT_COLUMNS, "audit", "seq"),
            (from.map(|s| s as i64), toward),
            limit,
            entry_from_row,
        )
    }
}
