//! Writing to the journal inside one transaction: appending a batch of events
//! (duplicates acknowledged and counted), cursors, mapped payloads, writes, and the
//! status change every transition goes through.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, ToSql, params};
use serde_json::Value;

use super::{AuditKey, Store, StoreError, queries, to_micros};
use crate::model::{Direction, Event, EventId, EventStatus, NewEvent, WriteRecord};

/// What the journal did with one event of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    New(EventId),
    /// The idempotency key was seen before: acknowledged, not journaled again.
    Duplicate(EventId),
}

impl Appended {
    pub fn id(self) -> EventId {
        match self {
            Appended::New(id) | Appended::Duplicate(id) => id,
        }
    }
}

/// One open write transaction; everything done through it commits or rolls back together.
pub struct StoreTx<'a> {
    pub(super) conn: &'a Connection,
    pub(super) now: Timestamp,
    /// What audit entries are an HMAC with; none: plain SHA-256.
    pub(super) audit_key: Option<Arc<AuditKey>>,
    /// What the transaction changes the counters by (table, name), written once
    /// before it commits: a group of transitions costs a few upserts, not two each.
    counts: RefCell<BTreeMap<(&'static str, &'static str), i64>>,
}

impl<'a> StoreTx<'a> {
    pub(super) fn new(conn: &'a Connection, now: Timestamp, audit_key: Option<Arc<AuditKey>>) -> StoreTx<'a> {
        StoreTx {
            conn,
            now,
            audit_key,
            counts: RefCell::default(),
        }
    }

    /// Writes the counters' changes; the store calls it just before committing.
    pub(super) fn write_counts(&self) -> Result<(), StoreError> {
        for ((table, name), delta) in std::mem::take(&mut *self.counts.borrow_mut()) {
            if delta != 0 {
                let sql = format!(
                    "INSERT INTO {table} (name, n) VALUES (?1, ?2) ON CONFLICT DO UPDATE SET n = n + excluded.n"
                );
                self.conn.prepare_cached(&sql)?.execute(params![name, delta])?;
            }
        }
        Ok(())
    }

    fn add_count(&self, table: &'static str, name: &'static str, delta: i64) {
        *self.counts.borrow_mut().entry((table, name)).or_default() += delta;
    }

    /// The transaction's clock: every row it touches gets this time.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Journals a batch as Pending; an event whose key is known comes back as a duplicate.
    pub fn append(&self, batch: &[NewEvent]) -> Result<Vec<Appended>, StoreError> {
        let now = to_micros(self.now);
        // The first status term is the index's own condition, so the partial index applies.
        let mut has_head = self.conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM events WHERE direction = ?1 AND employee_id = ?2 \
             AND status IN ('pending', 'retrying', 'dead_letter', 'rejected', 'held') AND is_head = 1)",
        )?;
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO events (idempotency_key, source, direction, employee_id, kind, occurred_at, \
             received_at, updated_at, status, is_head, next_attempt_at, payload) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 'pending', ?8, ?7, ?9) \
             ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        )?;
        let mut known = self
            .conn
            .prepare_cached("SELECT id FROM events WHERE idempotency_key = ?1")?;
        let mut appended = Vec::with_capacity(batch.len());
        let (mut new, mut duplicates) = (0_i64, 0_i64);
        for (index, event) in batch.iter().enumerate() {
            // Checked as rows go in: a bad event rolls back the ones before it too.
            if event.idempotency_key.is_empty() {
                return Err(StoreError::InvalidEvent {
                    index,
                    reason: "empty idempotency key".into(),
                });
            }
            if event.employee_id.is_empty() {
                return Err(StoreError::InvalidEvent {
                    index,
                    reason: "empty employee id".into(),
                });
            }
            // A key seen before is answered from the index alone: a duplicate
            // (redelivered, re-read) costs neither its payload's text nor an insert.
            let seen: Option<i64> = known
                .query_row([&event.idempotency_key], |r| r.get(0))
                .optional()?;
            if let Some(id) = seen {
                duplicates += 1;
                appended.push(Appended::Duplicate(EventId(id)));
                continue;
            }
            let direction = event.direction.as_str();
            let blocked: bool = has_head.query_row(params![direction, event.employee_id], |r| r.get(0))?;
            let inserted: Option<i64> = insert
                .query_row(
                    params![
                        event.idempotency_key,
                        event.source.as_str(),
                        direction,
                        event.employee_id,
                        event.kind,
                        to_micros(event.occurred_at),
                        now,
                        !blocked,
                        event.payload.to_string(),
                    ],
                    |r| r.get(0),
                )
                .optional()?;
            appended.push(match inserted {
                Some(id) => {
                    new += 1;
                    Appended::New(EventId(id))
                }
                None => {
                    duplicates += 1;
                    Appended::Duplicate(EventId(known.query_row([&event.idempotency_key], |r| r.get(0))?))
                }
            });
        }
        self.add_count("status_counts", EventStatus::Pending.as_str(), new);
        self.add_count("counters", "duplicates", duplicates);
        Ok(appended)
    }

    /// Remembers that the employee was enrolled in these learning paths.
    pub fn record_enrolments(&self, employee_id: &str, groups: &[String]) -> Result<(), StoreError> {
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO enrolments (employee_id, group_name, at) VALUES (?1, ?2, ?3) \
             ON CONFLICT DO NOTHING",
        )?;
        for group in groups {
            insert.execute(params![employee_id, group, to_micros(self.now)])?;
        }
        Ok(())
    }

    /// Forgets a recorded enrolment, so the next change enrols the learner again
    /// (reconciliation found the LMS group without them).
    pub fn forget_enrolment(&self, employee_id: &str, group: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM enrolments WHERE employee_id = ?1 AND group_name = ?2")?
            .execute(params![employee_id, group])?;
        Ok(())
    }

    /// Remembers (or, with `None`, forgets) that this employee's learner waits for
    /// its manager to get a learner; `event` is the change to apply again then.
    pub fn set_manager_wait(
        &self,
        employee_id: &str,
        manager_id: Option<&str>,
        event: EventId,
    ) -> Result<(), StoreError> {
        match manager_id {
            Some(manager_id) => {
                self.conn
                    .prepare_cached(
                        "INSERT INTO manager_waits (employee_id, manager_id, event_id, at) \
                         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (employee_id) DO UPDATE SET \
                         manager_id = excluded.manager_id, event_id = excluded.event_id, at = excluded.at",
                    )?
                    .execute(params![employee_id, manager_id, event.0, to_micros(self.now)])?;
            }
            None => {
                self.conn
                    .prepare_cached("DELETE FROM manager_waits WHERE employee_id = ?1")?
                    .execute([employee_id])?;
            }
        }
        Ok(())
    }

    /// The links waiting for this manager, forgotten as they are handed back
    /// (employee, the change to apply again), oldest employee id first.
    pub fn take_manager_waits(&self, manager_id: &str) -> Result<Vec<(String, EventId)>, StoreError> {
        let waiting: Vec<(String, EventId)> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT employee_id, event_id FROM manager_waits WHERE manager_id = ?1")?;
            let rows = stmt.query_map([manager_id], |r| Ok((r.get(0)?, EventId(r.get(1)?))))?;
            rows.collect::<Result<_, _>>()?
        };
        if !waiting.is_empty() {
            self.conn
                .prepare_cached("DELETE FROM manager_waits WHERE manager_id = ?1")?
                .execute([manager_id])?;
        }
        Ok(waiting)
    }

    /// The fence of a write made for a once-only duty: refused (`LeaseLost`)
    /// unless `lease` is still the duty's current lease.
    pub fn check_lease(&self, lease: &super::Lease) -> Result<(), StoreError> {
        lease.check(&self.sql())
    }

    /// Remembers how far a source has been read (e.g. the poller's "changed since"),
    /// inside this transaction (`store/cursors.rs`).
    pub fn set_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        super::cursors::set_cursor(&self.sql(), name, value)
    }

    /// This transaction as `Sql`, for the store functions written once over it.
    pub(super) fn sql(&self) -> super::sql::sqlite::SqliteSql<'a> {
        super::sql::sqlite::SqliteSql { conn: self.conn }
    }

    /// Keeps the contract-mapped payload beside the raw one, for the console's detail view.
    /// The worker keeps it with the outcome instead (`mark_applied`, `mark_unchanged`).
    pub fn set_mapped(&self, id: EventId, mapped: &Value) -> Result<Event, StoreError> {
        let changed = self
            .conn
            .prepare_cached("UPDATE events SET mapped = ?1, updated_at = ?2 WHERE id = ?3")?
            .execute(params![mapped.to_string(), to_micros(self.now), id.0])?;
        if changed == 0 {
            return Err(StoreError::NoSuchEvent(id));
        }
        self.event(id)
    }

    /// Records a write made for an event; `mark_applied` records its own.
    pub fn record_write(&self, id: EventId, write: &WriteRecord) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO writes (event_id, at, sent_from, sent_to, target_id, before, after, http_status) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                id.0,
                to_micros(self.now),
                write.sent_from,
                write.sent_to,
                write.target_id,
                write.before.to_string(),
                write.after.to_string(),
                write.http_status,
            ])?;
        Ok(())
    }

    pub(super) fn record_failure(
        &self,
        id: EventId,
        error: &str,
        http_status: Option<u16>,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO failures (event_id, at, error, http_status) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id.0, to_micros(self.now), error, http_status])?;
        Ok(())
    }

    /// Marks events as being applied now; answers those whose last start never
    /// reached the journal (an attempt cut off by a stop).
    pub fn mark_started(&self, ids: &[EventId]) -> Result<Vec<EventId>, StoreError> {
        let mut cut_off = Vec::new();
        // One statement per event: the first start of an event; only an event started
        // before (an attempt cut off by a stop) takes the second.
        let mut first = self
            .conn
            .prepare_cached("UPDATE events SET started_at = ?2 WHERE id = ?1 AND started_at IS NULL")?;
        let mut again = self
            .conn
            .prepare_cached("UPDATE events SET started_at = ?2 WHERE id = ?1")?;
        let now = to_micros(self.now);
        for id in ids {
            if first.execute(params![id.0, now])? == 0 && again.execute(params![id.0, now])? == 1 {
                cut_off.push(*id);
            }
        }
        Ok(cut_off)
    }

    /// The employee's queued events after `head`, oldest first, that may apply now
    /// (pending or retrying and due), stopping at the first that may not and after
    /// `limit`: the rest of a run its worker claims with the head.
    pub fn queued_after(
        &self,
        head: EventId,
        direction: Direction,
        employee_id: &str,
        limit: usize,
    ) -> Result<Vec<EventId>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            // The first status term is the index's own condition, so the partial index applies.
            "SELECT id, COALESCE(status IN ('pending', 'retrying') AND next_attempt_at <= ?4, 0) \
             FROM events INDEXED BY events_open WHERE direction = ?1 AND employee_id = ?2 \
             AND status IN ('pending', 'retrying', 'dead_letter', 'rejected', 'held') AND id > ?3 \
             ORDER BY id LIMIT ?5",
        )?;
        let rows = stmt.query_map(
            params![
                direction.as_str(),
                employee_id,
                head.0,
                to_micros(self.now),
                limit as i64
            ],
            |r| Ok((EventId(r.get(0)?), r.get::<_, bool>(1)?)),
        )?;
        let mut queued = Vec::new();
        for row in rows {
            let (id, may_apply) = row?;
            if may_apply {
                queued.push(id);
            } else if direction.in_order() {
                break;
            }
        }
        Ok(queued)
    }

    /// The employees' heads that may apply now, longest-due first, without their
    /// payloads, as this transaction sees them: a head it passed the turn to counts.
    pub fn ready_heads(&self, limit: usize) -> Result<Vec<(EventId, Direction, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, direction, employee_id FROM events INDEXED BY events_ready \
             WHERE is_head = 1 AND status IN ('pending', 'retrying') AND next_attempt_at <= ?1 \
             ORDER BY next_attempt_at, id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![to_micros(self.now), limit as i64], |row| {
            Ok((
                EventId(row.get(0)?),
                queries::word(row, 1, Direction::parse)?,
                row.get(2)?,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whole events by id, in the order asked; ids not in the journal are left out.
    pub fn events(&self, ids: &[EventId]) -> Result<Vec<Event>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            found.extend(queries::read_event(self.conn, *id)?);
        }
        Ok(found)
    }

    /// Forgets the start of events claimed but never tried (their run stopped
    /// before them), so their next start is not taken for one cut off by a stop.
    pub fn unstart(&self, ids: &[EventId]) -> Result<(), StoreError> {
        let mut unmark = self
            .conn
            .prepare_cached("UPDATE events SET started_at = NULL WHERE id = ?1")?;
        for id in ids {
            unmark.execute([id.0])?;
        }
        Ok(())
    }

    /// The event as this transaction sees it.
    pub fn event(&self, id: EventId) -> Result<Event, StoreError> {
        queries::read_event(self.conn, id)?.ok_or(StoreError::NoSuchEvent(id))
    }

    /// Moves an event from one of `allowed` to `to`, setting `set` (SQL with ?4.. bound
    /// to `extra`), keeps the counts and passes the employee's turn on when it finishes.
    pub(super) fn transition(
        &self,
        id: EventId,
        action: &'static str,
        allowed: &[EventStatus],
        to: EventStatus,
        set: &str,
        extra: &[&dyn ToSql],
    ) -> Result<(), StoreError> {
        let found = self
            .conn
            .prepare_cached("SELECT status, is_head, direction, employee_id FROM events WHERE id = ?1")?
            .query_row([id.0], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .optional()?;
        let (from, is_head, direction_word, employee_id) = found.ok_or(StoreError::NoSuchEvent(id))?;
        let direction = Direction::parse(&direction_word).ok_or_else(|| StoreError::Corrupt {
            row: id.0,
            column: "direction",
            reason: direction_word.clone(),
        })?;
        let from = EventStatus::parse(&from).ok_or_else(|| StoreError::Corrupt {
            row: id.0,
            column: "status",
            reason: from.clone(),
        })?;
        if !allowed.contains(&from) {
            return Err(StoreError::IllegalTransition { id, from, action });
        }
        let sql =
            format!("UPDATE events SET status = ?1, updated_at = ?2, started_at = NULL, {set} WHERE id = ?3");
        let (status, at) = (to.as_str(), to_micros(self.now));
        let mut bound: Vec<&dyn ToSql> = vec![&status, &at, &id.0];
        bound.extend_from_slice(extra);
        self.conn.prepare_cached(&sql)?.execute(bound.as_slice())?;
        if from != to {
            self.add_count("status_counts", from.as_str(), -1);
            self.add_count("status_counts", to.as_str(), 1);
        }
        if is_head && !direction.keeps_turn(to) {
            self.pass_turn(id, direction, &employee_id)?;
        } else if !is_head && direction.keeps_turn(to) {
            // A completion retried after a refusal: its turn comes when nothing holds it.
            self.conn
                .prepare_cached(
                    "UPDATE events SET is_head = 1 WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM events \
                     WHERE direction = ?2 AND employee_id = ?3 \
                     AND status IN ('pending', 'retrying', 'dead_letter', 'rejected', 'held') AND is_head = 1)",
                )?
                .execute(params![id.0, direction_word, employee_id])?;
        }
        Ok(())
    }

    /// The head that is done (or, for completions, waits for an operator) hands
    /// over to the employee's next event that keeps a turn, if any.
    fn pass_turn(
        &self,
        finished: EventId,
        direction: Direction,
        employee_id: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE events SET is_head = 0 WHERE id = ?1")?
            .execute([finished.0])?;
        let next = if direction.in_order() {
            "UPDATE events SET is_head = 1 WHERE id = (SELECT id FROM events \
             WHERE direction = ?1 AND employee_id = ?2 \
             AND status IN ('pending', 'retrying', 'dead_letter', 'rejected', 'held') \
             ORDER BY id LIMIT 1)"
        } else {
            "UPDATE events SET is_head = 1 WHERE id = (SELECT id FROM events \
             WHERE direction = ?1 AND employee_id = ?2 \
             AND status IN ('pending', 'retrying', 'dead_letter', 'rejected', 'held') \
             AND status IN ('pending', 'retrying') ORDER BY id LIMIT 1)"
        };
        self.conn
            .prepare_cached(next)?
            .execute(params![direction.as_str(), employee_id])?;
        Ok(())
    }
}

impl Store {
    /// Journals a batch in one transaction (group commit): when this returns, it is on disk.
    pub fn append(&self, batch: &[NewEvent]) -> Result<Vec<Appended>, StoreError> {
        self.transaction(|tx| tx.append(batch))
    }

    /// Journals a batch and moves a cursor in the same transaction: never one without the other.
    pub fn append_with_cursor(
        &self,
        batch: &[NewEvent],
        cursor: &str,
        value: &str,
    ) -> Result<Vec<Appended>, StoreError> {
        self.transaction(|tx| {
            let appended = tx.append(batch)?;
            tx.set_cursor(cursor, value)?;
            Ok(appended)
        })
    }

    pub fn set_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.transaction(|tx| tx.set_cursor(name, value))
    }

    pub fn set_mapped(&self, id: EventId, mapped: &Value) -> Result<Event, StoreError> {
        self.transaction(|tx| tx.set_mapped(id, mapped))
    }
}
