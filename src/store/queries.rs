//! Reading the journal for the engine, the console and the CLI: what may apply now,
//! pages of events (keyset-paginated, never OFFSET), one event with its writes,
//! the operator queues, counts and cursors. Written once over `Sql`: `EventReads`
//! offers them on either store, and `Store`'s own calls run the same functions
//! on a reader connection.

use std::collections::HashSet;

use jiff::Timestamp;
use serde::Serialize;

use super::page::{PageQuery, Toward};
use super::sql::{Dialect, Param, Row, Sql, Transact};
use super::{Store, StoreError, from_micros, to_micros};
use crate::model::{
    Direction, Event, EventId, EventStatus, FailedAttempt, FieldReason, HoldKind, Source, StoredWrite,
    WriteRecord,
};

/// The note is worked out when read: an event waiting behind its employee's earlier
/// open event (see [`BLOCKED`]) names it, its status and why, so it is never stale.
pub(super) const EVENT_COLUMNS: &str = "id, idempotency_key, source, direction, employee_id, kind, \
    occurred_at, received_at, updated_at, status, attempts, next_attempt_at, last_error, \
    last_http_status, reasons, \
    COALESCE(CASE WHEN events.status IN ('pending', 'retrying') AND events.is_head = 0 \
    THEN (SELECT 'waiting behind event ' || h.id || ' (' || REPLACE(h.status, '_', ' ') || ')' \
    || COALESCE(': ' || COALESCE(h.note, h.last_error), '') FROM events h \
    WHERE h.direction = events.direction AND h.employee_id = events.employee_id \
    AND h.status IN ('pending', 'retrying', 'dead_letter', 'rejected', 'held') AND h.is_head = 1) END, \
    events.note), payload, mapped";

/// Blocked: open, but not its turn, because an earlier event of the same employee
/// (in the same direction) is still open. Written as the `events_blocked` index's
/// own condition; queries name the index, which the planner would pass over for
/// `events_status` and then read every pending event of an initial load.
pub(super) const BLOCKED: &str = "is_head = 0 AND status IN ('pending', 'retrying')";
fn blocked_table(dialect: Dialect) -> String {
    format!("events{}", dialect.indexed_by(" INDEXED BY events_blocked"))
}

const SUMMARY_COLUMNS: &str = "id, source, direction, employee_id, kind, occurred_at, received_at, \
    status, attempts, next_attempt_at, last_error, last_http_status";

/// What the events pane filters on; `None` means any. `text` matches the employee id,
/// kind, last error or raw payload (ASCII case-insensitive).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    pub direction: Option<Direction>,
    pub status: Option<EventStatus>,
    pub employee_id: Option<String>,
    pub text: Option<String>,
    /// Held events of this kind of hold only (told by the note's start).
    pub hold: Option<HoldKind>,
    /// Only blocked events: waiting behind an earlier open event of their employee.
    pub blocked: bool,
}

impl EventFilter {
    /// What the filter's page is read from: the blocked events' own index, if only those.
    pub(super) fn table(&self, dialect: Dialect) -> String {
        if self.blocked {
            blocked_table(dialect)
        } else {
            "events".into()
        }
    }

    /// The page of events this filter keeps, for any direction.
    pub(super) fn page_query(&self, dialect: Dialect) -> PageQuery {
        let mut page = PageQuery::new(dialect);
        page.equal("direction", self.direction.map(|d| d.as_str()));
        page.equal("status", self.status.map(|s| s.as_str()));
        // No index holds all of an employee's events: their ids come from the two that do.
        page.bound_condition(self.employee_id.as_deref(), |employee| {
            format!(
                "id IN ({})",
                super::journal::employee_event_ids(dialect, employee)
            )
        });
        if self.blocked {
            page.condition(BLOCKED);
        }
        page.contains_text(
            &["employee_id", "kind", "last_error", "note", "payload"],
            self.text.as_deref(),
        );
        if let Some(hold) = self.hold {
            page.equal("status", Some(EventStatus::Held.as_str()));
            page.starts_with("note", hold.note_prefix());
        }
        page
    }
}

/// One line of the events pane: everything but the payloads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventSummary {
    pub id: EventId,
    pub source: Source,
    pub direction: Direction,
    pub employee_id: String,
    pub kind: String,
    pub occurred_at: Timestamp,
    pub received_at: Timestamp,
    pub status: EventStatus,
    pub attempts: u32,
    pub next_attempt_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_http_status: Option<u16>,
}

/// One event with every write made for it and every failed attempt, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventDetail {
    pub event: Event,
    pub writes: Vec<StoredWrite>,
    pub failures: Vec<FailedAttempt>,
}

/// Journal totals, read from counters kept in step with every transition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StoreCounts {
    pub total: u64,
    pub pending: u64,
    pub retrying: u64,
    pub applied: u64,
    pub unchanged: u64,
    pub dead_letters: u64,
    pub rejected: u64,
    pub held: u64,
    pub skipped: u64,
    pub flagged: u64,
    /// Planned in shadow mode and not written.
    pub shadowed: u64,
    /// Deliveries acknowledged as already journaled.
    pub duplicates: u64,
    /// Pending or retrying events waiting behind an earlier one (not in `total`:
    /// they are counted as pending or retrying already).
    pub blocked: u64,
}

/// The cells of one row, read with the row's key at hand for a damaged cell's error.
pub(super) struct Cells<'r> {
    row: &'r dyn Row,
    key: i64,
}

impl<'r> Cells<'r> {
    /// `row`, whose key (an id) is in column `key`.
    pub(super) fn new(row: &'r dyn Row, key: usize) -> Result<Self, StoreError> {
        Ok(Self {
            row,
            key: row.int_of(key, "id")?,
        })
    }

    pub(super) fn key(&self) -> i64 {
        self.key
    }

    fn corrupt(&self, column: &'static str, reason: String) -> StoreError {
        StoreError::Corrupt {
            row: self.key,
            column,
            reason,
        }
    }

    pub(super) fn text(&self, idx: usize, column: &'static str) -> Result<String, StoreError> {
        self.row
            .text(idx)?
            .ok_or_else(|| self.corrupt(column, "null".into()))
    }

    pub(super) fn maybe_text(&self, idx: usize) -> Result<Option<String>, StoreError> {
        self.row.text(idx)
    }

    /// A number that fits `T` (a count, an HTTP status), if there is one.
    pub(super) fn maybe_number<T: TryFrom<i64>>(
        &self,
        idx: usize,
        column: &'static str,
    ) -> Result<Option<T>, StoreError> {
        match self.row.int(idx)? {
            Some(n) => T::try_from(n)
                .map(Some)
                .map_err(|_| self.corrupt(column, format!("{n} is out of range"))),
            None => Ok(None),
        }
    }

    pub(super) fn number<T: TryFrom<i64>>(&self, idx: usize, column: &'static str) -> Result<T, StoreError> {
        self.maybe_number(idx, column)?
            .ok_or_else(|| self.corrupt(column, "null".into()))
    }

    /// One of hrsync's words (a status, a direction), parsed.
    pub(super) fn word<T>(
        &self,
        idx: usize,
        column: &'static str,
        parse: fn(&str) -> Option<T>,
    ) -> Result<T, StoreError> {
        let text = self.text(idx, column)?;
        parse(&text).ok_or_else(|| self.corrupt(column, format!("unknown word {text:?}")))
    }

    pub(super) fn json<T: serde::de::DeserializeOwned>(
        &self,
        idx: usize,
        column: &'static str,
    ) -> Result<T, StoreError> {
        let text = self.text(idx, column)?;
        serde_json::from_str(&text).map_err(|e| self.corrupt(column, e.to_string()))
    }

    pub(super) fn maybe_json<T: serde::de::DeserializeOwned>(
        &self,
        idx: usize,
        column: &'static str,
    ) -> Result<Option<T>, StoreError> {
        match self.row.text(idx)? {
            Some(_) => self.json(idx, column).map(Some),
            None => Ok(None),
        }
    }

    pub(super) fn time(&self, idx: usize, column: &'static str) -> Result<Timestamp, StoreError> {
        Ok(from_micros(self.number(idx, column)?))
    }

    pub(super) fn maybe_time(
        &self,
        idx: usize,
        column: &'static str,
    ) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.maybe_number::<i64>(idx, column)?.map(from_micros))
    }
}

/// An event read with `EVENT_COLUMNS`.
pub(super) fn event_from_row(row: &dyn Row) -> Result<Event, StoreError> {
    let cells = Cells::new(row, 0)?;
    Ok(Event {
        id: EventId(cells.key()),
        idempotency_key: cells.text(1, "idempotency_key")?,
        source: cells.word(2, "source", Source::parse)?,
        direction: cells.word(3, "direction", Direction::parse)?,
        employee_id: cells.text(4, "employee_id")?,
        kind: cells.text(5, "kind")?,
        occurred_at: cells.time(6, "occurred_at")?,
        received_at: cells.time(7, "received_at")?,
        updated_at: cells.time(8, "updated_at")?,
        status: cells.word(9, "status", EventStatus::parse)?,
        attempts: cells.number(10, "attempts")?,
        next_attempt_at: cells.maybe_time(11, "next_attempt_at")?,
        last_error: cells.maybe_text(12)?,
        last_http_status: cells.maybe_number(13, "last_http_status")?,
        reasons: cells
            .maybe_json::<Vec<FieldReason>>(14, "reasons")?
            .unwrap_or_default(),
        note: cells.maybe_text(15)?,
        payload: cells.json(16, "payload")?,
        mapped: cells.maybe_json(17, "mapped")?,
    })
}

/// A line of the events pane, read with `SUMMARY_COLUMNS`.
fn summary_from_row(row: &dyn Row) -> Result<EventSummary, StoreError> {
    let cells = Cells::new(row, 0)?;
    Ok(EventSummary {
        id: EventId(cells.key()),
        source: cells.word(1, "source", Source::parse)?,
        direction: cells.word(2, "direction", Direction::parse)?,
        employee_id: cells.text(3, "employee_id")?,
        kind: cells.text(4, "kind")?,
        occurred_at: cells.time(5, "occurred_at")?,
        received_at: cells.time(6, "received_at")?,
        status: cells.word(7, "status", EventStatus::parse)?,
        attempts: cells.number(8, "attempts")?,
        next_attempt_at: cells.maybe_time(9, "next_attempt_at")?,
        last_error: cells.maybe_text(10)?,
        last_http_status: cells.maybe_number(11, "last_http_status")?,
    })
}

/// One event, as this transaction sees it.
pub(super) fn read_event(sql: &dyn Sql, id: EventId) -> Result<Option<Event>, StoreError> {
    let statement = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1");
    sql.query_opt(&statement, &[Param::from(id.0)], event_from_row)
}

/// Events that may be applied now, longest-due first (see `Store::ready`).
pub(super) fn ready(sql: &dyn Sql, now: Timestamp, limit: usize) -> Result<Vec<Event>, StoreError> {
    let statement = format!(
        "SELECT {EVENT_COLUMNS} FROM events{} \
         WHERE is_head = 1 AND status IN ('pending', 'retrying') AND next_attempt_at <= ?1 \
         ORDER BY next_attempt_at, id LIMIT ?2",
        sql.dialect().indexed_by(" INDEXED BY events_ready")
    );
    sql.query_all(
        &statement,
        &[Param::from(to_micros(now)), Param::from(limit as i64)],
        event_from_row,
    )
}

/// See `Store::has_change_due`.
pub(super) fn has_change_due(
    sql: &dyn Sql,
    direction: Direction,
    employee_id: &str,
    by: Timestamp,
) -> Result<bool, StoreError> {
    // The first status term is the index's own condition, so the partial index applies.
    let statement = format!(
        "SELECT id FROM events{} WHERE direction = ?1 \
         AND employee_id = ?2 AND status IN ('pending', 'retrying', 'dead_letter', 'rejected', 'held') \
         AND status IN ('pending', 'retrying') AND is_head = 1 AND next_attempt_at <= ?3 LIMIT 1",
        sql.dialect().indexed_by(" INDEXED BY events_open")
    );
    let found = sql.query_opt(
        &statement,
        &[
            Param::from(direction.as_str()),
            Param::from(employee_id),
            Param::from(to_micros(by)),
        ],
        |row| row.int(0),
    )?;
    Ok(found.is_some())
}

/// A page of events, newest first, older than `before` (None: from the newest).
pub(super) fn events_page(
    sql: &dyn Sql,
    filter: &EventFilter,
    before: Option<EventId>,
    limit: usize,
) -> Result<Vec<EventSummary>, StoreError> {
    let dialect = sql.dialect();
    filter.page_query(dialect).run(
        sql,
        (SUMMARY_COLUMNS, &filter.table(dialect), "id"),
        (before.map(|id| id.0), Toward::Older),
        limit,
        summary_from_row,
    )
}

/// One event with its writes and failed attempts, oldest first.
pub(super) fn event_detail(sql: &dyn Sql, id: EventId) -> Result<Option<EventDetail>, StoreError> {
    let Some(event) = read_event(sql, id)? else {
        return Ok(None);
    };
    let writes = sql.query_all(
        "SELECT id, event_id, at, sent_from, sent_to, target_id, before, after, http_status \
         FROM writes WHERE event_id = ?1 ORDER BY id",
        &[Param::from(id.0)],
        |row| {
            let cells = Cells::new(row, 0)?;
            Ok(StoredWrite {
                id: cells.key(),
                event_id: EventId(cells.number(1, "event_id")?),
                at: cells.time(2, "at")?,
                write: WriteRecord {
                    sent_from: cells.text(3, "sent_from")?,
                    sent_to: cells.text(4, "sent_to")?,
                    target_id: cells.maybe_text(5)?,
                    before: cells.json(6, "before")?,
                    after: cells.json(7, "after")?,
                    http_status: cells.maybe_number(8, "http_status")?,
                },
            })
        },
    )?;
    let failures = sql.query_all(
        "SELECT id, at, error, http_status FROM failures WHERE event_id = ?1 ORDER BY id",
        &[Param::from(id.0)],
        |row| {
            let cells = Cells::new(row, 0)?;
            Ok(FailedAttempt {
                at: cells.time(1, "at")?,
                error: cells.text(2, "error")?,
                http_status: cells.maybe_number(3, "http_status")?,
            })
        },
    )?;
    Ok(Some(EventDetail {
        event,
        writes,
        failures,
    }))
}

/// Events with one status, oldest first, after `after` (None: from the oldest).
pub(super) fn with_status(
    sql: &dyn Sql,
    status: EventStatus,
    after: Option<EventId>,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let statement =
        format!("SELECT {EVENT_COLUMNS} FROM events WHERE status = ?1 AND id > ?2 ORDER BY id LIMIT ?3");
    sql.query_all(
        &statement,
        &[
            Param::from(status.as_str()),
            Param::from(after.map_or(0, |id| id.0)),
            Param::from(limit as i64),
        ],
        event_from_row,
    )
}

/// Blocked events (see [`BLOCKED`]), oldest first, after `after`.
pub(super) fn waiting_behind(
    sql: &dyn Sql,
    after: Option<EventId>,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let statement = format!(
        "SELECT {EVENT_COLUMNS} FROM {} WHERE {BLOCKED} AND id > ?1 ORDER BY id LIMIT ?2",
        blocked_table(sql.dialect())
    );
    sql.query_all(
        &statement,
        &[Param::from(after.map_or(0, |id| id.0)), Param::from(limit as i64)],
        event_from_row,
    )
}

/// Employees with a change held for an operator in `direction`.
pub(super) fn held_employees(sql: &dyn Sql, direction: Direction) -> Result<HashSet<String>, StoreError> {
    let mut held = HashSet::new();
    sql.query(
        "SELECT DISTINCT employee_id FROM events WHERE status = 'held' AND direction = ?1",
        &[Param::from(direction.as_str())],
        &mut |row| {
            held.insert(row.text_of(0, "employee_id")?);
            Ok(())
        },
    )?;
    Ok(held)
}

/// The journal's reads on any store, SQLite or PostgreSQL, each on one consistent
/// view (the totals are `Journal::journal_counts`). `Store` offers the same calls under the same names (its own methods,
/// which run these functions on a reader connection).
pub trait EventReads: Transact {
    /// See `Store::ready`.
    fn ready(&self, now: Timestamp, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.read(|sql| ready(sql, now, limit))
    }

    /// See `Store::has_change_due`.
    fn has_change_due(
        &self,
        direction: Direction,
        employee_id: &str,
        by: Timestamp,
    ) -> Result<bool, StoreError> {
        self.read(|sql| has_change_due(sql, direction, employee_id, by))
    }

    /// See `Store::events_page`.
    fn events_page(
        &self,
        filter: &EventFilter,
        before: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<EventSummary>, StoreError> {
        self.read(|sql| events_page(sql, filter, before, limit))
    }

    /// See `Store::event`.
    fn event(&self, id: EventId) -> Result<Option<EventDetail>, StoreError> {
        self.read(|sql| event_detail(sql, id))
    }

    /// See `Store::with_status`.
    fn with_status(
        &self,
        status: EventStatus,
        after: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        self.read(|sql| with_status(sql, status, after, limit))
    }

    /// See `Store::dead_letters`.
    fn dead_letters(&self, limit: usize, after: Option<EventId>) -> Result<Vec<Event>, StoreError> {
        self.read(|sql| with_status(sql, EventStatus::DeadLetter, after, limit))
    }

    /// See `Store::waiting_behind`.
    fn waiting_behind(&self, after: Option<EventId>, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.read(|sql| waiting_behind(sql, after, limit))
    }

    /// See `Store::held`.
    fn held(&self, limit: usize, after: Option<EventId>) -> Result<Vec<Event>, StoreError> {
        self.read(|sql| with_status(sql, EventStatus::Held, after, limit))
    }

    /// See `Store::held_employees`.
    fn held_employees(&self, direction: Direction) -> Result<HashSet<String>, StoreError> {
        self.read(|sql| held_employees(sql, direction))
    }
}

impl<T: Transact> EventReads for T {}

impl Store {
    /// Events that may be applied now, longest-due first: Pending or Retrying and due,
    /// and only the oldest open event of each employee in each direction. An employee's
    /// event that waits for an operator (dead letter, rejected, held) keeps that
    /// employee's later events waiting until it is retried, skipped or flagged, so that
    /// one employee's changes always apply in the order they happened.
    /// It claims nothing: until an event is marked, it stays ready, so the engine keeps
    /// its own set of events in flight.
    pub fn ready(&self, now: Timestamp, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.read_one(|sql| ready(sql, now, limit))
    }

    /// Whether the engine will apply a change of the employee by itself before `by`:
    /// the employee's head change is pending or retrying and due by then. A change
    /// that waits for an operator (dead letter, rejected, held) or for a later date
    /// (a future hire) is not coming, so nobody should wait for it.
    pub fn has_change_due(
        &self,
        direction: Direction,
        employee_id: &str,
        by: Timestamp,
    ) -> Result<bool, StoreError> {
        self.read_one(|sql| has_change_due(sql, direction, employee_id, by))
    }

    /// A page of events, newest first, older than `before` (None: from the newest).
    pub fn events_page(
        &self,
        filter: &EventFilter,
        before: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<EventSummary>, StoreError> {
        self.read_one(|sql| events_page(sql, filter, before, limit))
    }

    /// One event with its writes, for the detail view (one consistent view).
    pub fn event(&self, id: EventId) -> Result<Option<EventDetail>, StoreError> {
        self.read(|sql| event_detail(sql, id))
    }

    /// Events with one status, oldest first, after `after` (None: from the oldest).
    pub fn with_status(
        &self,
        status: EventStatus,
        after: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        self.read_one(|sql| with_status(sql, status, after, limit))
    }

    /// The failed-retries pane: dead letters, oldest first.
    pub fn dead_letters(&self, limit: usize, after: Option<EventId>) -> Result<Vec<Event>, StoreError> {
        self.with_status(EventStatus::DeadLetter, after, limit)
    }

    /// Blocked events (see [`BLOCKED`]), each naming in its note the event it
    /// waits behind, oldest first, after `after`.
    pub fn waiting_behind(&self, after: Option<EventId>, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.read_one(|sql| waiting_behind(sql, after, limit))
    }

    /// Held events (safety threshold, duplicate holds), oldest first.
    pub fn held(&self, limit: usize, after: Option<EventId>) -> Result<Vec<Event>, StoreError> {
        self.with_status(EventStatus::Held, after, limit)
    }

    /// Employees with a change held for an operator in `direction` (a suspected
    /// duplicate, a mass deactivation): the held pane already asks about them.
    pub fn held_employees(&self, direction: Direction) -> Result<HashSet<String>, StoreError> {
        self.read_one(|sql| held_employees(sql, direction))
    }

    pub fn counts(&self) -> Result<StoreCounts, StoreError> {
        self.read(counts)
    }

    /// Where the source `name` was last read up to (`store/cursors.rs`).
    pub fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.read_one(|sql| super::cursors::cursor(sql, name))
    }
}

/// The journal's totals, from the counters every transition keeps, and the blocked
/// events (served by the partial index `events_blocked`: as cheap as the few it holds).
pub(super) fn counts(sql: &dyn Sql) -> Result<StoreCounts, StoreError> {
    let mut counts = StoreCounts::default();
    sql.query(
        "SELECT name, n FROM status_counts UNION ALL SELECT 'duplicates', n FROM counters \
         WHERE name = 'duplicates'",
        &[],
        &mut |row| {
            let name = row.text(0)?.unwrap_or_default();
            let n = row.int(1)?.unwrap_or_default().max(0) as u64;
            let slot = match EventStatus::parse(&name) {
                Some(EventStatus::Pending) => &mut counts.pending,
                Some(EventStatus::Retrying) => &mut counts.retrying,
                Some(EventStatus::Applied) => &mut counts.applied,
                Some(EventStatus::Unchanged) => &mut counts.unchanged,
                Some(EventStatus::DeadLetter) => &mut counts.dead_letters,
                Some(EventStatus::Rejected) => &mut counts.rejected,
                Some(EventStatus::Held) => &mut counts.held,
                Some(EventStatus::Skipped) => &mut counts.skipped,
                Some(EventStatus::Flagged) => &mut counts.flagged,
                Some(EventStatus::Shadowed) => &mut counts.shadowed,
                None if name == "duplicates" => {
                    counts.duplicates = n;
                    return Ok(());
                }
                None => return Ok(()),
            };
            *slot = n;
            counts.total += n;
            Ok(())
        },
    )?;
    let statement = format!(
        "SELECT COUNT(*) FROM {} WHERE {BLOCKED}",
        blocked_table(sql.dialect())
    );
    let blocked = sql.query_opt(&statement, &[], |row| row.int(0))?;
    counts.blocked = blocked.flatten().unwrap_or_default().max(0) as u64;
    Ok(counts)
}
