//! The journal, written once over `Sql` (`JournalTx`), so the same statements run
//! on SQLite and PostgreSQL: appending a batch of events (a known idempotency key
//! is acknowledged as a duplicate, by any engine), claiming ready heads, writes and
//! failures, and the status change every transition goes through, with the
//! counters kept in step. `StoreTx` is `Store::transaction`'s transaction, which runs the
//! same functions (and those of the other tables, each in its own file).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::Value;

use super::sql::{Dialect, Param, Sql, Transact, clock};
use super::{AuditKey, Store, StoreCounts, StoreError, from_micros, queries, to_micros};
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

/// What a transaction changes the counters by (table, name), written once before
/// it commits: a group of transitions costs a few upserts, not two each.
#[derive(Default)]
pub(super) struct Counts(RefCell<BTreeMap<(&'static str, &'static str), i64>>);

impl Counts {
    fn add(&self, table: &'static str, name: &'static str, delta: i64) {
        *self.0.borrow_mut().entry((table, name)).or_default() += delta;
    }

    /// Writes the changes added so far, and forgets them.
    pub(super) fn write(&self, sql: &dyn Sql) -> Result<(), StoreError> {
        for ((table, name), delta) in std::mem::take(&mut *self.0.borrow_mut()) {
            if delta != 0 {
                let statement = format!(
                    "INSERT INTO {table} (name, n) VALUES (?1, ?2) \
                     ON CONFLICT (name) DO UPDATE SET n = {table}.n + excluded.n"
                );
                sql.execute(&statement, &[Param::from(name), Param::from(delta)])?;
            }
        }
        Ok(())
    }
}

/// Whether this transaction holds every employee's turn at once (`hold_turns`
/// over `TURNS_ONE_BY_ONE` employees): then it takes no employee's lock besides.
#[derive(Default)]
pub(super) struct Turns(std::cell::Cell<bool>);

/// At most this many employees' turns a transaction holds one by one, each its
/// own lock; over it, it holds every turn under one lock. PostgreSQL keeps a
/// bounded number of locks for all transactions together (64 per connection by
/// default, `max_locks_per_transaction`), which an initial load of thousands of
/// employees ran out of ("out of shared memory").
const TURNS_ONE_BY_ONE: usize = 128;

/// The lock every employee's turn is held under: each transaction that holds
/// turns one by one shares it; one that holds them all takes it alone, so it
/// waits for those under way and they wait for it.
const EVERY_TURN: &str = "hrsync every employee's turn";

/// The event journaled under an idempotency key (`?1`).
const KNOWN: &str = "SELECT id FROM events WHERE idempotency_key = ?1";

/// The statuses of an open event, as the partial indexes' conditions list them.
macro_rules! open_list {
    () => {
        "('pending', 'retrying', 'dead_letter', 'rejected', 'held')"
    };
}
/// Open events: the statuses the `events_open` index holds, the first term of
/// every query it serves (so the partial index applies).
pub(super) const OPEN_STATUSES: &str = concat!("status IN ", open_list!());
/// Finished events: every other status, as the `events_history` index holds them.
const FINISHED_STATUSES: &str = concat!("status NOT IN ", open_list!());

/// A statement answering the ids of one employee's events, open and finished, in
/// both directions; `employee` is an SQL expression (a bound parameter, or a
/// column of an outer query). The open ones are read from `events_open`, the
/// finished ones from `events_history`: no index holds every event of an
/// employee, so journaling one writes no page of a big one (schema.rs, HISTORY).
pub(super) fn employee_event_ids(dialect: Dialect, employee: &str) -> String {
    format!(
        "SELECT id FROM events{open} WHERE direction IN ('{hris}', '{lms}') \
         AND employee_id = {employee} AND {OPEN_STATUSES} \
         UNION ALL SELECT id FROM events{history} WHERE employee_id = {employee} AND {FINISHED_STATUSES}",
        open = dialect.indexed_by(" INDEXED BY events_open"),
        history = dialect.indexed_by(" INDEXED BY events_history"),
        hris = Direction::HrisToLms.as_str(),
        lms = Direction::LmsToHris.as_str(),
    )
}

/// The journal inside one write transaction, on either backend: every row it
/// touches is stamped `now` (on PostgreSQL the server's clock, which engines share).
pub struct JournalTx<'a> {
    pub(super) sql: &'a dyn Sql,
    pub(super) now: Timestamp,
    pub(super) counts: &'a Counts,
    pub(super) turns: &'a Turns,
}

/// An employee's head event that may apply now: its id, direction and employee.
pub type ReadyHead = (EventId, Direction, String);

impl JournalTx<'_> {
    /// The transaction's clock: every row it touches gets this time.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Journals a batch as Pending; an event whose key is known comes back as a
    /// duplicate, whichever engine journaled it first.
    pub fn append(&self, batch: &[NewEvent]) -> Result<Vec<Appended>, StoreError> {
        let sql = self.sql;
        let now = to_micros(self.now);
        // Whether an event is its employee's head depends on events not yet
        // committed: engines appending for one employee take turns.
        self.hold_turns(batch.iter().map(|e| (e.direction, e.employee_id.as_str())))?;
        // Prepared once for the batch. Whether the employee has a head already is
        // asked inside the insert: one statement a new event, not two.
        let mut known = sql.prepare(KNOWN)?;
        let mut insert = sql.prepare(&format!(
            "INSERT INTO events (idempotency_key, source, direction, employee_id, kind, occurred_at, \
             received_at, updated_at, status, is_head, next_attempt_at, payload) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, 'pending', \
             CASE WHEN EXISTS (SELECT 1 FROM events WHERE direction = ?3 AND employee_id = ?4 \
             AND {OPEN_STATUSES} AND is_head = 1) THEN 0 ELSE 1 END, ?7, ?8) \
             ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
        ))?;
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
            let key = [Param::from(event.idempotency_key.as_str())];
            if let Some(id) = known.query_opt(&key, |row| row.int(0))?.flatten() {
                duplicates += 1;
                appended.push(Appended::Duplicate(EventId(id)));
                continue;
            }
            let payload = event.payload.to_string();
            let inserted = insert.query_opt(
                &[
                    Param::from(event.idempotency_key.as_str()),
                    Param::from(event.source.as_str()),
                    Param::from(event.direction.as_str()),
                    Param::from(event.employee_id.as_str()),
                    Param::from(event.kind.as_str()),
                    Param::from(to_micros(event.occurred_at)),
                    Param::from(now),
                    Param::from(payload.as_str()),
                ],
                |row| row.int(0),
            )?;
            appended.push(match inserted.flatten() {
                Some(id) => {
                    new += 1;
                    Appended::New(EventId(id))
                }
                None => {
                    // Another engine journaled the key meanwhile (its commit came first).
                    duplicates += 1;
                    let id = known.query_opt(&key, |row| row.int(0))?.flatten();
                    Appended::Duplicate(EventId(id.ok_or_else(|| StoreError::InvalidEvent {
                        index,
                        reason: "its idempotency key was taken and then lost again".into(),
                    })?))
                }
            });
        }
        self.counts
            .add("status_counts", EventStatus::Pending.as_str(), new);
        self.counts.add("counters", "duplicates", duplicates);
        Ok(appended)
    }

    /// Holds these employees' turns until the transaction ends, where engines
    /// share the store, in one order: two transactions that hold several never
    /// wait on each other. Over `TURNS_ONE_BY_ONE` employees (an initial load's
    /// chunk) it holds every employee's turn under one lock instead. Call it
    /// first in a transaction that moves many employees' events (a batch
    /// appended, a turn's outcomes).
    pub fn hold_turns<'e>(
        &self,
        employees: impl IntoIterator<Item = (Direction, &'e str)>,
    ) -> Result<(), StoreError> {
        let Some(lock) = self.sql.dialect().transaction_lock() else {
            return Ok(());
        };
        if self.turns.0.get() {
            return Ok(());
        }
        let employees: BTreeSet<(&str, &str)> = (employees.into_iter())
            .map(|(direction, employee_id)| (direction.as_str(), employee_id))
            .collect();
        if employees.len() > TURNS_ONE_BY_ONE {
            self.sql
                .query(lock, &[Param::from(EVERY_TURN)], &mut |_| Ok(()))?;
            self.turns.0.set(true);
            return Ok(());
        }
        for (direction, employee_id) in employees {
            self.lock_employee(direction, employee_id)?;
        }
        Ok(())
    }

    /// Holds the employee's turn in `direction` until the transaction ends, where
    /// engines share the store (`Dialect::transaction_lock`): under a share of
    /// `EVERY_TURN` (taken again costs nothing: the transaction holds it), unless
    /// this transaction holds every turn already.
    fn lock_employee(&self, direction: &str, employee_id: &str) -> Result<(), StoreError> {
        let dialect = self.sql.dialect();
        let (Some(lock), Some(shared)) = (dialect.transaction_lock(), dialect.transaction_lock_shared())
        else {
            return Ok(());
        };
        if self.turns.0.get() {
            return Ok(());
        }
        self.sql
            .query(shared, &[Param::from(EVERY_TURN)], &mut |_| Ok(()))?;
        let key = format!("hrsync employee {direction} {employee_id}");
        self.sql
            .query(lock, &[Param::from(key.as_str())], &mut |_| Ok(()))?;
        Ok(())
    }

    /// Keeps the contract-mapped payload beside the raw one, for the console's detail view.
    pub fn set_mapped(&self, id: EventId, mapped: &Value) -> Result<Event, StoreError> {
        let mapped = mapped.to_string();
        let changed = self.sql.execute(
            "UPDATE events SET mapped = ?1, updated_at = ?2 WHERE id = ?3",
            &[
                Param::from(mapped.as_str()),
                Param::from(to_micros(self.now)),
                Param::from(id.0),
            ],
        )?;
        if changed == 0 {
            return Err(StoreError::NoSuchEvent(id));
        }
        self.event(id)
    }

    /// The event as this transaction sees it.
    pub fn event(&self, id: EventId) -> Result<Event, StoreError> {
        queries::read_event(self.sql, id)?.ok_or(StoreError::NoSuchEvent(id))
    }

    /// Records a write made for an event; `mark_applied` records its own.
    pub fn record_write(&self, id: EventId, write: &WriteRecord) -> Result<(), StoreError> {
        let (before, after) = (write.before.to_string(), write.after.to_string());
        self.sql.execute(
            "INSERT INTO writes (event_id, at, sent_from, sent_to, target_id, before, after, http_status) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            &[
                Param::from(id.0),
                Param::from(to_micros(self.now)),
                Param::from(write.sent_from.as_str()),
                Param::from(write.sent_to.as_str()),
                Param::from(write.target_id.as_deref()),
                Param::from(before.as_str()),
                Param::from(after.as_str()),
                Param::from(write.http_status.map(i64::from)),
            ],
        )?;
        Ok(())
    }

    pub(super) fn record_failure(
        &self,
        id: EventId,
        error: &str,
        http_status: Option<u16>,
    ) -> Result<(), StoreError> {
        self.sql.execute(
            "INSERT INTO failures (event_id, at, error, http_status) VALUES (?1, ?2, ?3, ?4)",
            &[
                Param::from(id.0),
                Param::from(to_micros(self.now)),
                Param::from(error),
                Param::from(http_status.map(i64::from)),
            ],
        )?;
        Ok(())
    }

    /// The employees' heads that may apply now and no engine holds a live claim
    /// on, longest-due first, without their payloads, as this transaction sees
    /// them: a head it passed the turn to counts. On PostgreSQL the heads answered
    /// stay locked to the commit and those another engine is claiming are passed
    /// over (`FOR UPDATE SKIP LOCKED`): claim them (`claim`) in this transaction.
    pub fn ready_heads(&self, limit: usize) -> Result<Vec<ReadyHead>, StoreError> {
        let dialect = self.sql.dialect();
        let statement = format!(
            "SELECT id, direction, employee_id FROM events{index} \
             WHERE is_head = 1 AND status IN ('pending', 'retrying') AND next_attempt_at <= ?1 \
             AND (claim_until IS NULL OR claim_until <= ?1) \
             ORDER BY next_attempt_at, id LIMIT ?2{lock}",
            index = dialect.indexed_by(" INDEXED BY events_ready"),
            lock = dialect.for_update_skip_locked(),
        );
        self.sql.query_all(
            &statement,
            &[Param::from(to_micros(self.now)), Param::from(limit as i64)],
            |row| {
                let id = row.int(0)?.unwrap_or_default();
                let word = row.text(1)?.unwrap_or_default();
                let direction = Direction::parse(&word).ok_or(StoreError::Corrupt {
                    row: id,
                    column: "direction",
                    reason: format!("unknown word {word:?}"),
                })?;
                Ok((EventId(id), direction, row.text(2)?.unwrap_or_default()))
            },
        )
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
        let statement = format!(
            "SELECT id, CASE WHEN status IN ('pending', 'retrying') AND next_attempt_at <= ?4 THEN 1 ELSE 0 END \
             FROM events{index} WHERE direction = ?1 AND employee_id = ?2 \
             AND {OPEN_STATUSES} AND id > ?3 ORDER BY id LIMIT ?5",
            index = self.sql.dialect().indexed_by(" INDEXED BY events_open"),
        );
        let rows = self.sql.query_all(
            &statement,
            &[
                Param::from(direction.as_str()),
                Param::from(employee_id),
                Param::from(head.0),
                Param::from(to_micros(self.now)),
                Param::from(limit as i64),
            ],
            |row| Ok((EventId(row.int(0)?.unwrap_or_default()), row.int(1)? == Some(1))),
        )?;
        let mut queued = Vec::new();
        for (id, may_apply) in rows {
            if may_apply {
                queued.push(id);
            } else if direction.in_order() {
                break;
            }
        }
        Ok(queued)
    }

    /// Claims events for `engine` until `until` (a lease: past it, another engine
    /// may take them) and marks them as being applied now; answers those whose last
    /// start never reached the journal (an attempt cut off by a stop or a lost claim).
    pub fn claim(&self, ids: &[EventId], engine: &str, until: Timestamp) -> Result<Vec<EventId>, StoreError> {
        let mut cut_off = Vec::new();
        if ids.is_empty() {
            return Ok(cut_off);
        }
        let (now, until) = (Param::from(to_micros(self.now)), Param::from(to_micros(until)));
        // One statement per event: the first start of an event; only an event started
        // before (an attempt cut off) takes the second.
        let mut first = self.sql.prepare(
            "UPDATE events SET started_at = ?2, claimed_by = ?3, claim_until = ?4 \
             WHERE id = ?1 AND started_at IS NULL",
        )?;
        let mut again = self
            .sql
            .prepare("UPDATE events SET started_at = ?2, claimed_by = ?3, claim_until = ?4 WHERE id = ?1")?;
        for id in ids {
            let params = [Param::from(id.0), now, Param::from(engine), until];
            if first.execute(&params)? == 0 && again.execute(&params)? == 1 {
                cut_off.push(*id);
            }
        }
        Ok(cut_off)
    }

    /// Extends `engine`'s live claims on `ids` to `until`, in one statement, and
    /// answers those it extended. A claim that ran out, or that another engine took,
    /// is left as it is (a renewal never takes a claim back) and is not answered:
    /// the caller's attempt on that event has lost its claim.
    pub fn renew_claims(
        &self,
        ids: &[EventId],
        engine: &str,
        until: Timestamp,
    ) -> Result<Vec<EventId>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let slots: Vec<String> = (4..4 + ids.len()).map(|n| format!("?{n}")).collect();
        let statement = format!(
            "UPDATE events SET claim_until = ?3 \
             WHERE claimed_by = ?1 AND claim_until > ?2 AND id IN ({slots}) RETURNING id",
            slots = slots.join(", ")
        );
        let mut params = vec![
            Param::from(engine),
            Param::from(to_micros(self.now)),
            Param::from(to_micros(until)),
        ];
        params.extend(ids.iter().map(|id| Param::from(id.0)));
        self.sql
            .query_all(&statement, &params, |row| Ok(EventId(row.int_of(0, "id")?)))
    }

    /// Which engine holds the claim on each of `ids` now (`None`: no engine), the
    /// rows locked to the commit where engines share the store, so that no engine
    /// takes one while this transaction journals what it did with them.
    pub fn claim_holders(&self, ids: &[EventId]) -> Result<HashMap<EventId, Option<String>>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let slots: Vec<String> = (1..=ids.len()).map(|n| format!("?{n}")).collect();
        let statement = format!(
            "SELECT id, claimed_by FROM events WHERE id IN ({slots}) ORDER BY id{lock}",
            slots = slots.join(", "),
            lock = self.sql.dialect().for_update(),
        );
        let params: Vec<Param<'_>> = ids.iter().map(|id| Param::from(id.0)).collect();
        let holders = self.sql.query_all(&statement, &params, |row| {
            Ok((EventId(row.int_of(0, "id")?), row.text(1)?))
        })?;
        Ok(holders.into_iter().collect())
    }

    /// Lets go of events claimed but never tried (their run stopped before them):
    /// free for any engine at once, and their next start is not taken for one cut off.
    pub fn release_claims(&self, ids: &[EventId]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut release = self.sql.prepare(
            "UPDATE events SET started_at = NULL, claimed_by = NULL, claim_until = NULL WHERE id = ?1",
        )?;
        for id in ids {
            release.execute(&[Param::from(id.0)])?;
        }
        Ok(())
    }

    /// The event's status, whether it is its employee's head, and whose it is.
    fn place(&self, id: EventId) -> Result<(EventStatus, bool, Direction, String), StoreError> {
        let found = self.sql.query_opt(
            "SELECT status, is_head, direction, employee_id FROM events WHERE id = ?1",
            &[Param::from(id.0)],
            |row| {
                Ok((
                    row.text(0)?.unwrap_or_default(),
                    row.int(1)? == Some(1),
                    row.text(2)?.unwrap_or_default(),
                    row.text(3)?.unwrap_or_default(),
                ))
            },
        )?;
        let (from, is_head, direction, employee_id) = found.ok_or(StoreError::NoSuchEvent(id))?;
        let direction = Direction::parse(&direction).ok_or(StoreError::Corrupt {
            row: id.0,
            column: "direction",
            reason: direction.clone(),
        })?;
        let from = EventStatus::parse(&from).ok_or_else(|| StoreError::Corrupt {
            row: id.0,
            column: "status",
            reason: from.clone(),
        })?;
        Ok((from, is_head, direction, employee_id))
    }

    /// Moves an event from one of `allowed` to `to`, setting `set` (SQL with ?4.. bound
    /// to `extra`), ends its claim, keeps the counts and passes the employee's turn
    /// on when it finishes.
    pub(super) fn transition(
        &self,
        id: EventId,
        action: &'static str,
        allowed: &[EventStatus],
        to: EventStatus,
        set: &str,
        extra: &[Param<'_>],
    ) -> Result<(), StoreError> {
        let mut place = self.place(id)?;
        if self.sql.dialect().transaction_lock().is_some() {
            // The turn is passed on among events another engine may be appending:
            // read again once the employee's turn is held.
            self.lock_employee(place.2.as_str(), &place.3)?;
            place = self.place(id)?;
        }
        let (from, is_head, direction, employee_id) = place;
        if !allowed.contains(&from) {
            return Err(StoreError::IllegalTransition { id, from, action });
        }
        let statement = format!(
            "UPDATE events SET status = ?1, updated_at = ?2, started_at = NULL, claimed_by = NULL, \
             claim_until = NULL, waits_for = NULL, {set} WHERE id = ?3"
        );
        let mut bound = vec![
            Param::from(to.as_str()),
            Param::from(to_micros(self.now)),
            Param::from(id.0),
        ];
        bound.extend_from_slice(extra);
        self.sql.execute(&statement, &bound)?;
        if from != to {
            self.counts.add("status_counts", from.as_str(), -1);
            self.counts.add("status_counts", to.as_str(), 1);
        }
        if is_head && !direction.keeps_turn(to) {
            self.pass_turn(id, direction, &employee_id)?;
        } else if !is_head && direction.keeps_turn(to) {
            // A completion retried after a refusal: its turn comes when nothing holds it.
            self.sql.execute(
                &format!(
                    "UPDATE events SET is_head = 1 WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM events \
                     WHERE direction = ?2 AND employee_id = ?3 AND {OPEN_STATUSES} AND is_head = 1)"
                ),
                &[
                    Param::from(id.0),
                    Param::from(direction.as_str()),
                    Param::from(employee_id.as_str()),
                ],
            )?;
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
        self.sql.execute(
            "UPDATE events SET is_head = 0 WHERE id = ?1",
            &[Param::from(finished.0)],
        )?;
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
        self.sql
            .execute(next, &[Param::from(direction.as_str()), Param::from(employee_id)])?;
        Ok(())
    }
}

/// Ends every live claim, keeping when each event was started (so its next start
/// is known as one cut off). Only for a store one engine holds alone (SQLite, under
/// its lock file), where a live claim can only be a crashed run's.
pub fn end_claims(sql: &dyn Sql) -> Result<u64, StoreError> {
    sql.execute(
        "UPDATE events SET claimed_by = NULL, claim_until = NULL \
         WHERE status IN ('pending', 'retrying') AND claim_until IS NOT NULL",
        &[],
    )
}

/// The journal on any store, SQLite or PostgreSQL.
pub trait Journal: Transact {
    /// Runs `work` on the journal in one write transaction, by the database's
    /// clock; the counters' changes are written just before it commits. One the
    /// database gave up for another engine's runs again (`write_retrying`).
    fn journal<T: Send>(
        &self,
        work: impl Fn(&JournalTx<'_>) -> Result<T, StoreError> + Send + Sync,
    ) -> Result<T, StoreError> {
        self.write_retrying(|sql| {
            let counts = Counts::default();
            let turns = Turns::default();
            let tx = JournalTx {
                sql,
                now: from_micros(clock(sql)?),
                counts: &counts,
                turns: &turns,
            };
            let out = work(&tx)?;
            counts.write(sql)?;
            Ok(out)
        })
    }

    /// Claims up to `limit` ready heads for `engine` for `claim_time`, in one
    /// transaction; answers them (`ReadyHead`) with those whose last start was cut off.
    fn claim_heads(
        &self,
        engine: &str,
        claim_time: std::time::Duration,
        limit: usize,
    ) -> Result<(Vec<ReadyHead>, Vec<EventId>), StoreError> {
        self.journal(|tx| {
            let heads = tx.ready_heads(limit)?;
            let ids: Vec<EventId> = heads.iter().map(|head| head.0).collect();
            let until = tx.now + claim_time;
            let cut_off = tx.claim(&ids, engine, until)?;
            Ok((heads, cut_off))
        })
    }

    /// The journal's totals (`StoreCounts`).
    fn journal_counts(&self) -> Result<StoreCounts, StoreError> {
        self.read(queries::counts)
    }

    /// See `end_claims`: for a store one engine holds alone.
    fn end_claims_of_crashed_runs(&self) -> Result<u64, StoreError> {
        self.write(end_claims)
    }
}

impl<T: Transact> Journal for T {}

/// One open write transaction on either backend (`Store::transaction`);
/// everything done through it commits or rolls back together.
pub struct StoreTx<'a> {
    pub(super) sql: &'a dyn Sql,
    pub(super) now: Timestamp,
    /// What audit entries are an HMAC with; none: plain SHA-256.
    pub(super) audit_key: Option<Arc<AuditKey>>,
    counts: Counts,
    turns: Turns,
    /// Audit entries to append just before the commit (`audit_at_commit`).
    pub(super) audits: RefCell<Vec<crate::model::NewAuditEntry>>,
}

impl<'a> StoreTx<'a> {
    pub(super) fn new(sql: &'a dyn Sql, now: Timestamp, audit_key: Option<Arc<AuditKey>>) -> StoreTx<'a> {
        StoreTx {
            sql,
            now,
            audit_key,
            counts: Counts::default(),
            turns: Turns::default(),
            audits: RefCell::default(),
        }
    }

    /// Appends the entries `audit_at_commit` kept, then writes the counters'
    /// changes; the store calls it just before committing.
    pub(super) fn finish(&self) -> Result<(), StoreError> {
        let audits = std::mem::take(&mut *self.audits.borrow_mut());
        if !audits.is_empty() {
            self.audit_log().append(audits)?;
        }
        self.counts.write(self.sql)
    }

    /// The journal's calls (`JournalTx`) inside this transaction.
    pub fn journal(&self) -> JournalTx<'_> {
        JournalTx {
            sql: self.sql,
            now: self.now,
            counts: &self.counts,
            turns: &self.turns,
        }
    }

    /// The transaction's clock: every row it touches gets this time.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Journals a batch as Pending; an event whose key is known comes back as a duplicate.
    pub fn append(&self, batch: &[NewEvent]) -> Result<Vec<Appended>, StoreError> {
        self.journal().append(batch)
    }

    /// The fence of a write made for a once-only duty: refused (`LeaseLost`)
    /// unless `lease` is still the duty's current lease.
    pub fn check_lease(&self, lease: &super::Lease) -> Result<(), StoreError> {
        lease.check(self.sql())
    }

    /// Remembers how far a source has been read (e.g. the poller's "changed since"),
    /// inside this transaction (`store/cursors.rs`).
    pub fn set_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        super::cursors::set_cursor(self.sql(), name, value)
    }

    /// A cursor as this transaction sees it.
    pub fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        super::cursors::cursor(self.sql(), name)
    }

    /// This transaction as `Sql`, for the store functions written once over it.
    pub(super) fn sql(&self) -> &'a dyn Sql {
        self.sql
    }

    /// Keeps the contract-mapped payload beside the raw one, for the console's detail view.
    /// The worker keeps it with the outcome instead (`mark_applied`, `mark_unchanged`).
    pub fn set_mapped(&self, id: EventId, mapped: &Value) -> Result<Event, StoreError> {
        self.journal().set_mapped(id, mapped)
    }

    /// Records a write made for an event; `mark_applied` records its own.
    pub fn record_write(&self, id: EventId, write: &WriteRecord) -> Result<(), StoreError> {
        self.journal().record_write(id, write)
    }

    /// See `JournalTx::claim`.
    pub fn claim(&self, ids: &[EventId], engine: &str, until: Timestamp) -> Result<Vec<EventId>, StoreError> {
        self.journal().claim(ids, engine, until)
    }

    /// See `JournalTx::queued_after`.
    pub fn queued_after(
        &self,
        head: EventId,
        direction: Direction,
        employee_id: &str,
        limit: usize,
    ) -> Result<Vec<EventId>, StoreError> {
        self.journal().queued_after(head, direction, employee_id, limit)
    }

    /// See `JournalTx::ready_heads`.
    pub fn ready_heads(&self, limit: usize) -> Result<Vec<ReadyHead>, StoreError> {
        self.journal().ready_heads(limit)
    }

    /// Whole events by id, in the order asked; ids not in the journal are left out.
    pub fn events(&self, ids: &[EventId]) -> Result<Vec<Event>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            found.extend(queries::read_event(self.sql, *id)?);
        }
        Ok(found)
    }

    /// See `JournalTx::hold_turns`.
    pub fn hold_turns<'e>(
        &self,
        employees: impl IntoIterator<Item = (Direction, &'e str)>,
    ) -> Result<(), StoreError> {
        self.journal().hold_turns(employees)
    }

    /// See `JournalTx::renew_claims`.
    pub fn renew_claims(
        &self,
        ids: &[EventId],
        engine: &str,
        until: Timestamp,
    ) -> Result<Vec<EventId>, StoreError> {
        self.journal().renew_claims(ids, engine, until)
    }

    /// See `JournalTx::claim_holders`.
    pub fn claim_holders(&self, ids: &[EventId]) -> Result<HashMap<EventId, Option<String>>, StoreError> {
        self.journal().claim_holders(ids)
    }

    /// See `JournalTx::release_claims`.
    pub fn release_claims(&self, ids: &[EventId]) -> Result<(), StoreError> {
        self.journal().release_claims(ids)
    }

    /// The event as this transaction sees it.
    pub fn event(&self, id: EventId) -> Result<Event, StoreError> {
        self.journal().event(id)
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
