//! Pages for the console's scrolling lists, in both directions from a key, so a
//! view of a million-event journal moves by one small indexed page at a time.
//! Written once over `Sql`: `ConsolePages` offers them on either store, and
//! `Store`'s own calls run the same functions on a reader connection.

use super::audit::{AUDIT_COLUMNS, entry_of};
use super::page::{Toward, starting};
use super::queries::{EVENT_COLUMNS, event_from_row};
use super::sql::{Param, Sql, Transact};
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

/// A page of events (with payloads) from `from`, newest first.
pub(super) fn events_window(
    sql: &dyn Sql,
    filter: &EventFilter,
    from: Option<EventId>,
    toward: Toward,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let dialect = sql.dialect();
    filter.page_query(dialect).run(
        sql,
        (EVENT_COLUMNS, &filter.table(dialect), "id"),
        (from.map(|id| id.0), toward),
        limit,
        event_from_row,
    )
}

/// A page of the audit log from `from` (a sequence number), newest first.
pub(super) fn audit_window(
    sql: &dyn Sql,
    filter: &AuditFilter,
    from: Option<u64>,
    toward: Toward,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    filter.page_query(sql.dialect()).run(
        sql,
        (AUDIT_COLUMNS, "audit", "seq"),
        (from.map(|s| s as i64), toward),
        limit,
        entry_of,
    )
}

/// How many events each kind of hold holds (by the status index).
pub(super) fn held_counts(sql: &dyn Sql) -> Result<HeldCounts, StoreError> {
    let statement = format!(
        "SELECT COALESCE(SUM(CASE WHEN note {like} ?1 ESCAPE '\\' THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN note {like} ?2 ESCAPE '\\' THEN 1 ELSE 0 END), 0) \
         FROM events WHERE status = 'held'",
        like = sql.dialect().like_any_case()
    );
    let (safety, duplicate) = (
        starting(HoldKind::SafetyThreshold.note_prefix()),
        starting(HoldKind::SuspectedDuplicate.note_prefix()),
    );
    let counts = sql.query_opt(
        &statement,
        &[Param::from(safety.as_str()), Param::from(duplicate.as_str())],
        |row| Ok((row.int(0)?.unwrap_or_default(), row.int(1)?.unwrap_or_default())),
    )?;
    let (deactivations, duplicates) = counts.unwrap_or_default();
    Ok(HeldCounts {
        deactivations: deactivations.max(0) as u64,
        duplicates: duplicates.max(0) as u64,
    })
}

/// The console's pages on any store, SQLite or PostgreSQL, each one read.
/// `Store` offers the same calls under the same names.
pub trait ConsolePages: Transact {
    /// See `Store::events_window`.
    fn events_window(
        &self,
        filter: &EventFilter,
        from: Option<EventId>,
        toward: Toward,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        self.read(|sql| events_window(sql, filter, from, toward, limit))
    }

    /// See `Store::audit_window`.
    fn audit_window(
        &self,
        filter: &AuditFilter,
        from: Option<u64>,
        toward: Toward,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|sql| audit_window(sql, filter, from, toward, limit))
    }

    /// See `Store::audit_page`.
    fn audit_page(
        &self,
        filter: &AuditFilter,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|sql| audit_window(sql, filter, before_seq, Toward::Older, limit))
    }

    /// See `Store::held_counts`.
    fn held_counts(&self) -> Result<HeldCounts, StoreError> {
        self.read(held_counts)
    }
}

impl<T: Transact> ConsolePages for T {}

impl Store {
    /// A page of events (with payloads) from `from`, newest first.
    pub fn events_window(
        &self,
        filter: &EventFilter,
        from: Option<EventId>,
        toward: Toward,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        self.read_one(|sql| events_window(sql, filter, from, toward, limit))
    }

    /// A page of the audit log from `from` (a sequence number), newest first.
    pub fn audit_window(
        &self,
        filter: &AuditFilter,
        from: Option<u64>,
        toward: Toward,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.read_one(|sql| audit_window(sql, filter, from, toward, limit))
    }

    /// A page of the audit log, newest first, older than `before_seq` (None: the newest).
    pub fn audit_page(
        &self,
        filter: &AuditFilter,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.audit_window(filter, before_seq, Toward::Older, limit)
    }

    /// How many events each kind of hold holds (by the status index).
    pub fn held_counts(&self) -> Result<HeldCounts, StoreError> {
        self.read_one(held_counts)
    }
}
