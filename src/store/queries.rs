//! Reading the journal for the engine, the console and the CLI: what may apply now,
//! pages of events (keyset-paginated, never OFFSET), one event with its writes,
//! the operator queues, counts and cursors.

use jiff::Timestamp;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::Value;

use super::page::{PageQuery, Toward};
use super::sql::{Sql, Transact};
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
const BLOCKED_TABLE: &str = "events INDEXED BY events_blocked";

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
    pub(super) fn table(&self) -> &'static str {
        if self.blocked { BLOCKED_TABLE } else { "events" }
    }

    /// The page of events this filter keeps, for any direction.
    pub(super) fn page_query(&self) -> PageQuery {
        let mut page = PageQuery::new();
        page.equal("direction", self.direction.map(|d| d.as_str()));
        page.equal("status", self.status.map(|s| s.as_str()));
        page.equal("employee_id", self.employee_id.as_deref());
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

pub(super) fn word<T>(row: &Row<'_>, idx: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, format!("unknown word {text:?}").into())
    })
}

pub(super) fn json(row: &Row<'_>, idx: usize) -> rusqlite::Result<Value> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, e.into()))
}

fn time(row: &Row<'_>, idx: usize) -> rusqlite::Result<Timestamp> {
    Ok(from_micros(row.get(idx)?))
}

fn maybe_time(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<Timestamp>> {
    Ok(row.get::<_, Option<i64>>(idx)?.map(from_micros))
}

pub(super) fn event_from_row(row: &Row<'_>) -> rusqlite::Result<Event> {
    let reasons: Vec<FieldReason> = match row.get::<_, Option<String>>(14)? {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(14, Type::Text, e.into()))?,
        None => Vec::new(),
    };
    Ok(Event {
        id: EventId(row.get(0)?),
        idempotency_key: row.get(1)?,
        source: word(row, 2, Source::parse)?,
        direction: word(row, 3, Direction::parse)?,
        employee_id: row.get(4)?,
        kind: row.get(5)?,
        occurred_at: time(row, 6)?,
        received_at: time(row, 7)?,
        updated_at: time(row, 8)?,
        status: word(row, 9, EventStatus::parse)?,
        attempts: row.get(10)?,
        next_attempt_at: maybe_time(row, 11)?,
        last_error: row.get(12)?,
        last_http_status: row.get(13)?,
        reasons,
        note: row.get(15)?,
        payload: json(row, 16)?,
        mapped: match row.get::<_, Option<String>>(17)? {
            Some(_) => Some(json(row, 17)?),
            None => None,
        },
    })
}

fn summary_from_row(row: &Row<'_>) -> rusqlite::Result<EventSummary> {
    Ok(EventSummary {
        id: EventId(row.get(0)?),
        source: word(row, 1, Source::parse)?,
        direction: word(row, 2, Direction::parse)?,
        employee_id: row.get(3)?,
        kind: row.get(4)?,
        occurred_at: time(row, 5)?,
        received_at: time(row, 6)?,
        status: word(row, 7, EventStatus::parse)?,
        attempts: row.get(8)?,
        next_attempt_at: maybe_time(row, 9)?,
        last_error: row.get(10)?,
        last_http_status: row.get(11)?,
    })
}

pub(super) fn read_event(conn: &Connection, id: EventId) -> Result<Option<Event>, StoreError> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id.0], event_from_row)
        .optional()?)
}

impl Store {
    /// Events that may be applied now, longest-due first: Pending or Retrying and due,
    /// and only the oldest open event of each employee in each direction. An employee's
    /// event that waits for an operator (dead letter, rejected, held) keeps that
    /// employee's later events waiting until it is retried, skipped or flagged, so that
    /// one employee's changes always apply in the order they happened.
    /// It claims nothing: until an event is marked, it stays ready, so the engine keeps
    /// its own set of events in flight.
    pub fn ready(&self, now: Timestamp, limit: usize) -> Result<Vec<Event>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events INDEXED BY events_ready \
             WHERE is_head = 1 AND status IN ('pending', 'retrying') AND next_attempt_at <= ?1 \
             ORDER BY next_attempt_at, id LIMIT ?2"
        );
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![to_micros(now), limit as i64], event_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
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
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            // The first status term is the index's own condition, so the partial index applies.
            "SELECT EXISTS (SELECT 1 FROM events INDEXED BY events_open WHERE direction = ?1 \
             AND employee_id = ?2 AND status IN ('pending', 'retrying', 'dead_letter', 'rejected', 'held') \
             AND status IN ('pending', 'retrying') AND is_head = 1 AND next_attempt_at <= ?3)",
        )?;
        Ok(
            stmt.query_row(params![direction.as_str(), employee_id, to_micros(by)], |r| {
                r.get(0)
            })?,
        )
    }

    /// A page of events, newest first, older than `before` (None: from the newest).
    pub fn events_page(
        &self,
        filter: &EventFilter,
        before: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<EventSummary>, StoreError> {
        filter.page_query().run(
            &*self.reader()?,
            (SUMMARY_COLUMNS, filter.table(), "id"),
            (before.map(|id| id.0), Toward::Older),
            limit,
            summary_from_row,
        )
    }

    /// One event with its writes, for the detail view.
    pub fn event(&self, id: EventId) -> Result<Option<EventDetail>, StoreError> {
        let conn = self.reader()?;
        let Some(event) = read_event(&conn, id)? else {
            return Ok(None);
        };
        let mut stmt = conn.prepare_cached(
            "SELECT id, event_id, at, sent_from, sent_to, target_id, before, after, http_status \
             FROM writes WHERE event_id = ?1 ORDER BY id",
        )?;
        let writes = stmt.query_map([id.0], |row| {
            Ok(StoredWrite {
                id: row.get(0)?,
                event_id: EventId(row.get(1)?),
                at: time(row, 2)?,
                write: WriteRecord {
                    sent_from: row.get(3)?,
                    sent_to: row.get(4)?,
                    target_id: row.get(5)?,
                    before: json(row, 6)?,
                    after: json(row, 7)?,
                    http_status: row.get(8)?,
                },
            })
        })?;
        let writes = writes.collect::<Result<_, _>>()?;
        let mut stmt = conn
            .prepare_cached("SELECT at, error, http_status FROM failures WHERE event_id = ?1 ORDER BY id")?;
        let failures = stmt.query_map([id.0], |row| {
            Ok(FailedAttempt {
                at: time(row, 0)?,
                error: row.get(1)?,
                http_status: row.get(2)?,
            })
        })?;
        Ok(Some(EventDetail {
            event,
            writes,
            failures: failures.collect::<Result<_, _>>()?,
        }))
    }

    /// Events with one status, oldest first, after `after` (None: from the oldest).
    pub fn with_status(
        &self,
        status: EventStatus,
        after: Option<EventId>,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE status = ?1 AND id > ?2 ORDER BY id LIMIT ?3");
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&sql)?;
        let after = after.map_or(0, |id| id.0);
        let rows = stmt.query_map(params![status.as_str(), after, limit as i64], event_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The failed-retries pane: dead letters, oldest first.
    pub fn dead_letters(&self, limit: usize, after: Option<EventId>) -> Result<Vec<Event>, StoreError> {
        self.with_status(EventStatus::DeadLetter, after, limit)
    }

    /// Blocked events (see [`BLOCKED`]), each naming in its note the event it
    /// waits behind, oldest first, after `after`.
    pub fn waiting_behind(&self, after: Option<EventId>, limit: usize) -> Result<Vec<Event>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM {BLOCKED_TABLE} WHERE {BLOCKED} AND id > ?1 ORDER BY id LIMIT ?2"
        );
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![after.map_or(0, |id| id.0), limit as i64], event_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Held events (safety threshold, duplicate holds), oldest first.
    pub fn held(&self, limit: usize, after: Option<EventId>) -> Result<Vec<Event>, StoreError> {
        self.with_status(EventStatus::Held, after, limit)
    }

    /// Employees with a change held for an operator in `direction` (a suspected
    /// duplicate, a mass deactivation): the held pane already asks about them.
    pub fn held_employees(
        &self,
        direction: Direction,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT DISTINCT employee_id FROM events WHERE status = 'held' AND direction = ?1",
        )?;
        let held = stmt
            .query_map([direction.as_str()], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?;
        Ok(held)
    }

    pub fn counts(&self) -> Result<StoreCounts, StoreError> {
        self.read(counts)
    }

    /// Where the source `name` was last read up to (`store/cursors.rs`).
    pub fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        let reader = self.reader()?;
        super::cursors::cursor(&super::sql::sqlite::SqliteSql { conn: &reader }, name)
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
        "SELECT COUNT(*) FROM events{} WHERE {BLOCKED}",
        sql.dialect().indexed_by(" INDEXED BY events_blocked")
    );
    let blocked = sql.query_opt(&statement, &[], |row| row.int(0))?;
    counts.blocked = blocked.flatten().unwrap_or_default().max(0) as u64;
    Ok(counts)
}
