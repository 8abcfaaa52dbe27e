//! The moves an event makes: the engine's outcomes (applied, unchanged, retry, dead
//! letter, rejected, held, superseded) and the operator's (retry, skip, flag,
//! release). Anything else is an `IllegalTransition`. Each sets the note (why the
//! event waits) or clears it when nothing waits any more, so no note outlives its
//! truth: an applied event never still says "waiting for the manager".

use jiff::Timestamp;
use serde_json::{Value, json};

use super::journal::JournalTx;
use super::sql::Param;
use super::{Store, StoreError, StoreTx, to_micros};
use crate::model::{Event, EventId, EventStatus, FieldReason, WriteRecord};

use EventStatus::{
    Applied, DeadLetter, Flagged, Held, Pending, Rejected, Retrying, Shadowed, Skipped, Unchanged,
};

/// Statuses the engine may be working on.
const IN_FLIGHT: &[EventStatus] = &[Pending, Retrying];
/// Statuses an operator may retry now: a retrying event without waiting for its
/// next attempt, and those that wait for an operator.
const RETRYABLE: &[EventStatus] = &[Retrying, DeadLetter, Held, Rejected];
/// Statuses an operator may close.
const OPEN: &[EventStatus] = EventStatus::OPEN;
/// The `set` of transitions that leave nothing scheduled and nothing to say.
const NO_NEXT: &str = "next_attempt_at = NULL, note = NULL";
/// The `set` of transitions that keep why (?4) and leave nothing scheduled.
const WITH_NOTE: &str = "note = ?4, next_attempt_at = NULL";
/// The `set` of a finish that keeps what the event mapped to (?4), if given.
const KEEP_MAPPED: &str = "next_attempt_at = NULL, note = NULL, mapped = COALESCE(?4, mapped)";
/// The `set` of failures: one more attempt, its error (?4) and HTTP status (?5);
/// the error is what the event is waiting on now, so an earlier note goes.
const FAILED: &str = "attempts = attempts + 1, last_error = ?4, last_http_status = ?5, note = NULL";

impl JournalTx<'_> {
    // The engine's outcomes do not read the event back (the worker journals thousands
    // a second); the `Store` wrappers, for operators and tests, do.

    /// Written to the target; the write is recorded with the event.
    /// `mapped`, when given, is kept as what the event came to (as `set_mapped` keeps it).
    pub fn mark_applied(
        &self,
        id: EventId,
        write: &WriteRecord,
        mapped: Option<&Value>,
    ) -> Result<(), StoreError> {
        let mapped = mapped.map(Value::to_string);
        let extra = [Param::from(mapped.as_deref())];
        self.transition(id, "mark applied", IN_FLIGHT, Applied, KEEP_MAPPED, &extra)?;
        self.record_write(id, write)
    }

    /// The target already held these values: nothing was written.
    pub fn mark_unchanged(&self, id: EventId, mapped: Option<&Value>) -> Result<(), StoreError> {
        let mapped = mapped.map(Value::to_string);
        let extra = [Param::from(mapped.as_deref())];
        self.transition(id, "mark unchanged", IN_FLIGHT, Unchanged, KEEP_MAPPED, &extra)
    }

    /// A transient failure: one more failed attempt, tried again at `next_attempt_at`.
    pub fn mark_retry(
        &self,
        id: EventId,
        error: &str,
        http_status: Option<u16>,
        next_attempt_at: Timestamp,
    ) -> Result<(), StoreError> {
        let set = format!("{FAILED}, next_attempt_at = ?6");
        let extra = [
            Param::from(error),
            Param::from(http_status.map(i64::from)),
            Param::from(to_micros(next_attempt_at)),
        ];
        self.transition(id, "retry later", IN_FLIGHT, Retrying, &set, &extra)?;
        self.record_failure(id, error, http_status)
    }

    /// The last attempt failed too: counted, and the event waits for an operator.
    pub fn mark_dead_letter(
        &self,
        id: EventId,
        error: &str,
        http_status: Option<u16>,
    ) -> Result<(), StoreError> {
        let set = format!("{FAILED}, next_attempt_at = NULL");
        let extra = [Param::from(error), Param::from(http_status.map(i64::from))];
        self.transition(id, "dead-letter", IN_FLIGHT, DeadLetter, &set, &extra)?;
        self.record_failure(id, error, http_status)
    }

    /// A permanent failure (contract violation, 4xx), with the reason for each field.
    pub fn mark_rejected(&self, id: EventId, reasons: &[FieldReason]) -> Result<(), StoreError> {
        let summary = crate::model::FieldReason::summary(reasons);
        let reasons = Value::Array(
            reasons
                .iter()
                .map(|r| json!({ "field": r.field, "reason": r.reason }))
                .collect(),
        )
        .to_string();
        let set = format!("last_error = ?4, reasons = ?5, {NO_NEXT}");
        let extra = [Param::from(summary.as_str()), Param::from(reasons.as_str())];
        self.transition(id, "reject", IN_FLIGHT, Rejected, &set, &extra)
    }

    /// Held by the safety threshold or a duplicate hold until an operator decides.
    pub fn mark_held(&self, id: EventId, why: &str) -> Result<(), StoreError> {
        self.transition(id, "hold", IN_FLIGHT, Held, WITH_NOTE, &[Param::from(why)])
    }

    /// Closed without applying it: the engine found a newer record of the employee
    /// applied already (`why` says which), so this one's values are stale.
    pub fn mark_superseded(&self, id: EventId, why: &str) -> Result<(), StoreError> {
        self.transition(
            id,
            "supersede",
            IN_FLIGHT,
            Skipped,
            WITH_NOTE,
            &[Param::from(why)],
        )
    }

    /// Shadow mode: planned, not written. The note says what it would have written
    /// (`planned`, one line); `mapped` keeps what it mapped to and the plan.
    pub fn mark_shadowed(&self, id: EventId, planned: &str, mapped: &Value) -> Result<(), StoreError> {
        let mapped = mapped.to_string();
        let set = "next_attempt_at = NULL, note = ?4, mapped = ?5";
        let extra = [Param::from(planned), Param::from(mapped.as_str())];
        self.transition(id, "shadow", IN_FLIGHT, Shadowed, set, &extra)
    }

    /// Leaving shadow mode: every shadowed event is journaled again, due now and
    /// oldest first, to be planned afresh against the target as it is then.
    pub fn requeue_shadowed(&self) -> Result<Vec<EventId>, StoreError> {
        let ids = self.sql.query_all(
            "SELECT id FROM events WHERE status = 'shadowed' ORDER BY id",
            &[],
            |row| Ok(EventId(row.int(0)?.unwrap_or_default())),
        )?;
        let now = [Param::from(to_micros(self.now))];
        let set = "attempts = 0, next_attempt_at = ?4, note = NULL";
        for &id in &ids {
            self.transition(id, "apply afresh", &[Shadowed], Pending, set, &now)?;
        }
        Ok(ids)
    }

    /// Not yet: the event waits until `until` (a future hire date, a manager not yet
    /// synced) without counting as a failed attempt.
    pub fn defer(&self, id: EventId, until: Timestamp, why: &str) -> Result<(), StoreError> {
        let set = "note = ?4, next_attempt_at = ?5";
        let extra = [Param::from(why), Param::from(to_micros(until))];
        self.transition(id, "defer", IN_FLIGHT, Pending, set, &extra)
    }

    /// Deferred until the change of its manager (`manager_id`) is journaled: that
    /// turn makes it due again at once (`wake_waiting_for`), `until` is only the
    /// latest it waits. If the manager has no change left to apply (it was
    /// journaled since the attempt looked: earlier in this turn, or by another
    /// engine), it is due again now.
    pub fn defer_for_manager(
        &self,
        id: EventId,
        until: Timestamp,
        why: &str,
        manager_id: &str,
    ) -> Result<(), StoreError> {
        self.defer(id, until, why)?;
        let manager_waits = super::queries::has_change_due(
            self.sql,
            crate::model::Direction::HrisToLms,
            manager_id,
            Timestamp::MAX,
        )?;
        if manager_waits {
            self.sql.execute(
                "UPDATE events SET waits_for = ?2 WHERE id = ?1",
                &[Param::from(id.0), Param::from(manager_id)],
            )?;
        } else {
            self.sql.execute(
                "UPDATE events SET next_attempt_at = received_at, note = NULL WHERE id = ?1",
                &[Param::from(id.0)],
            )?;
        }
        Ok(())
    }

    /// The events deferred for these employees' changes (`defer_for_manager`),
    /// which are journaled now: due again at once, in their old place in the
    /// queue (their arrival), ahead of what came in after them. One statement.
    pub fn wake_waiting_for(&self, employees: &[&str]) -> Result<u64, StoreError> {
        if employees.is_empty() {
            return Ok(0);
        }
        let slots: Vec<String> = (1..=employees.len()).map(|n| format!("?{n}")).collect();
        // By the small index of those waiting, never by status (every pending event).
        let statement = format!(
            "UPDATE events{} SET next_attempt_at = received_at, note = NULL, waits_for = NULL \
             WHERE waits_for IN ({}) AND status = 'pending'",
            self.sql.dialect().indexed_by(" INDEXED BY events_waiting"),
            slots.join(", ")
        );
        let params: Vec<Param<'_>> = employees.iter().map(|e| Param::from(*e)).collect();
        self.sql.execute(&statement, &params)
    }

    /// Operator: try a retrying or waiting event again from scratch, now.
    pub fn retry(&self, id: EventId) -> Result<(), StoreError> {
        let set = "attempts = 0, next_attempt_at = ?4, note = NULL";
        let now = [Param::from(to_micros(self.now))];
        self.transition(id, "retry", RETRYABLE, Pending, set, &now)
    }

    /// Operator: close an open event without applying it.
    pub fn skip(&self, id: EventId, reason: &str) -> Result<(), StoreError> {
        self.transition(id, "skip", OPEN, Skipped, WITH_NOTE, &[Param::from(reason)])
    }

    /// Operator: close an open event and hand it to the HRIS admin.
    pub fn flag(&self, id: EventId, reason: &str) -> Result<(), StoreError> {
        self.transition(id, "flag", OPEN, Flagged, WITH_NOTE, &[Param::from(reason)])
    }

    /// Operator: confirm a held event; it applies as soon as it is its employee's turn.
    /// Why it was held is no longer why it waits: the note goes (the audit keeps it).
    pub fn release_held(&self, id: EventId) -> Result<(), StoreError> {
        let set = "next_attempt_at = ?4, note = NULL";
        let now = [Param::from(to_micros(self.now))];
        self.transition(id, "release", &[Held], Pending, set, &now)
    }
}

/// The same moves inside a `StoreTx`; the operator's read the event back.
impl StoreTx<'_> {
    pub fn mark_applied(
        &self,
        id: EventId,
        write: &WriteRecord,
        mapped: Option<&Value>,
    ) -> Result<(), StoreError> {
        self.journal().mark_applied(id, write, mapped)
    }

    pub fn mark_unchanged(&self, id: EventId, mapped: Option<&Value>) -> Result<(), StoreError> {
        self.journal().mark_unchanged(id, mapped)
    }

    pub fn mark_retry(
        &self,
        id: EventId,
        error: &str,
        http_status: Option<u16>,
        next_attempt_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.journal().mark_retry(id, error, http_status, next_attempt_at)
    }

    pub fn mark_dead_letter(
        &self,
        id: EventId,
        error: &str,
        http_status: Option<u16>,
    ) -> Result<(), StoreError> {
        self.journal().mark_dead_letter(id, error, http_status)
    }

    pub fn mark_rejected(&self, id: EventId, reasons: &[FieldReason]) -> Result<(), StoreError> {
        self.journal().mark_rejected(id, reasons)
    }

    pub fn mark_held(&self, id: EventId, why: &str) -> Result<(), StoreError> {
        self.journal().mark_held(id, why)
    }

    pub fn mark_superseded(&self, id: EventId, why: &str) -> Result<(), StoreError> {
        self.journal().mark_superseded(id, why)
    }

    pub fn mark_shadowed(&self, id: EventId, planned: &str, mapped: &Value) -> Result<(), StoreError> {
        self.journal().mark_shadowed(id, planned, mapped)
    }

    pub fn requeue_shadowed(&self) -> Result<Vec<EventId>, StoreError> {
        self.journal().requeue_shadowed()
    }

    pub fn defer(&self, id: EventId, until: Timestamp, why: &str) -> Result<(), StoreError> {
        self.journal().defer(id, until, why)
    }

    /// See `JournalTx::defer_for_manager`.
    pub fn defer_for_manager(
        &self,
        id: EventId,
        until: Timestamp,
        why: &str,
        manager_id: &str,
    ) -> Result<(), StoreError> {
        self.journal().defer_for_manager(id, until, why, manager_id)
    }

    /// See `JournalTx::wake_waiting_for`.
    pub fn wake_waiting_for(&self, employees: &[&str]) -> Result<u64, StoreError> {
        self.journal().wake_waiting_for(employees)
    }

    pub fn retry(&self, id: EventId) -> Result<Event, StoreError> {
        self.journal().retry(id)?;
        self.event(id)
    }

    pub fn skip(&self, id: EventId, reason: &str) -> Result<Event, StoreError> {
        self.journal().skip(id, reason)?;
        self.event(id)
    }

    pub fn flag(&self, id: EventId, reason: &str) -> Result<Event, StoreError> {
        self.journal().flag(id, reason)?;
        self.event(id)
    }

    /// All or none: the first that is not held fails the call.
    pub fn release_held(&self, ids: &[EventId]) -> Result<Vec<Event>, StoreError> {
        ids.iter()
            .map(|&id| {
                self.journal().release_held(id)?;
                self.event(id)
            })
            .collect()
    }
}

impl Store {
    pub fn mark_applied(&self, id: EventId, write: &WriteRecord) -> Result<Event, StoreError> {
        self.transaction(|tx| {
            tx.mark_applied(id, write, None)?;
            tx.event(id)
        })
    }

    pub fn mark_unchanged(&self, id: EventId) -> Result<Event, StoreError> {
        self.transaction(|tx| {
            tx.mark_unchanged(id, None)?;
            tx.event(id)
        })
    }

    pub fn mark_retry(
        &self,
        id: EventId,
        error: &str,
        http_status: Option<u16>,
        next_attempt_at: Timestamp,
    ) -> Result<Event, StoreError> {
        self.transaction(|tx| {
            tx.mark_retry(id, error, http_status, next_attempt_at)?;
            tx.event(id)
        })
    }

    pub fn mark_dead_letter(
        &self,
        id: EventId,
        error: &str,
        http_status: Option<u16>,
    ) -> Result<Event, StoreError> {
        self.transaction(|tx| {
            tx.mark_dead_letter(id, error, http_status)?;
            tx.event(id)
        })
    }

    pub fn mark_rejected(&self, id: EventId, reasons: &[FieldReason]) -> Result<Event, StoreError> {
        self.transaction(|tx| {
            tx.mark_rejected(id, reasons)?;
            tx.event(id)
        })
    }

    pub fn mark_held(&self, id: EventId, why: &str) -> Result<Event, StoreError> {
        self.transaction(|tx| {
            tx.mark_held(id, why)?;
            tx.event(id)
        })
    }

    pub fn retry(&self, id: EventId) -> Result<Event, StoreError> {
        self.transaction(|tx| tx.retry(id))
    }

    pub fn skip(&self, id: EventId, reason: &str) -> Result<Event, StoreError> {
        self.transaction(|tx| tx.skip(id, reason))
    }

    pub fn flag(&self, id: EventId, reason: &str) -> Result<Event, StoreError> {
        self.transaction(|tx| tx.flag(id, reason))
    }

    /// All or none: one id that is not held releases nothing.
    pub fn release_held(&self, ids: &[EventId]) -> Result<Vec<Event>, StoreError> {
        self.transaction(|tx| tx.release_held(ids))
    }
}

#[cfg(test)]
mod tests {
    use jiff::{SignedDuration, Timestamp};
    use serde_json::json;

    use crate::model::{Direction, EventId, EventStatus, NewEvent, Source, WriteRecord};
    use crate::store::{EventFilter, Store, Toward};

    fn change(key: &str, employee: &str) -> NewEvent {
        NewEvent {
            idempotency_key: key.into(),
            source: Source::Webhook,
            direction: Direction::HrisToLms,
            employee_id: employee.into(),
            kind: "Updated".into(),
            occurred_at: Timestamp::now(),
            payload: json!({}),
        }
    }

    fn store(changes: &[NewEvent]) -> (tempfile::TempDir, Store, Vec<EventId>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("hrsync.db")).unwrap();
        let ids = store.append(changes).unwrap().iter().map(|a| a.id()).collect();
        (dir, store, ids)
    }

    fn write() -> WriteRecord {
        WriteRecord {
            sent_from: "hris".into(),
            sent_to: "lms".into(),
            target_id: Some("u-1".into()),
            before: json!({}),
            after: json!({}),
            http_status: Some(200),
        }
    }

    fn note(store: &Store, id: EventId) -> Option<String> {
        store.event(id).unwrap().unwrap().event.note
    }

    fn defer(store: &Store, id: EventId) {
        let later = Timestamp::now() - SignedDuration::from_secs(1);
        store
            .transaction(|tx| tx.defer(id, later, "waiting for the manager E9 to be synced first"))
            .unwrap();
    }

    #[test]
    fn a_note_goes_when_it_stops_being_true() {
        let (_dir, store, ids) = store(&[change("a", "A"), change("b", "B"), change("c", "C")]);
        for &id in &ids {
            defer(&store, id);
            assert!(note(&store, id).is_some_and(|n| n.contains("manager")));
        }
        store.mark_applied(ids[0], &write()).unwrap();
        assert_eq!(note(&store, ids[0]), None, "applied: nothing waits");
        let next = Timestamp::now() + SignedDuration::from_secs(60);
        let retrying = store
            .mark_retry(ids[1], "LMS answered 503", Some(503), next)
            .unwrap();
        assert_eq!(
            (retrying.note, retrying.last_error.as_deref()),
            (None, Some("LMS answered 503")),
            "retrying: the error is what it waits on, in the list and the detail alike"
        );
        store.mark_held(ids[2], "suspected duplicate of E1").unwrap();
        let released = store.release_held(&[ids[2]]).unwrap();
        assert_eq!(
            released[0].note, None,
            "confirmed: no longer held for that reason"
        );
    }

    #[test]
    fn a_retrying_event_can_be_retried_now_and_a_pending_one_cannot() {
        let (_dir, store, ids) = store(&[change("a", "A"), change("b", "B")]);
        let next = Timestamp::now() + SignedDuration::from_secs(600);
        store
            .mark_retry(ids[0], "LMS answered 503", Some(503), next)
            .unwrap();
        let now = store.retry(ids[0]).unwrap();
        assert_eq!((now.status, now.attempts), (EventStatus::Pending, 0));
        assert!(
            now.next_attempt_at.is_some_and(|at| at < next),
            "due now, not in ten minutes"
        );
        assert!(
            store.retry(ids[1]).is_err(),
            "pending is not retried: it is on its way"
        );
    }

    #[test]
    fn blocked_events_name_what_they_wait_behind_whatever_its_status() {
        let (_dir, store, ids) = store(&[change("a1", "A"), change("a2", "A"), change("b1", "B")]);
        let blocked = EventFilter {
            blocked: true,
            ..EventFilter::default()
        };
        let shown = |store: &Store| -> Vec<(EventId, Option<String>)> {
            (store.events_window(&blocked, None, Toward::Older, 10).unwrap())
                .into_iter()
                .map(|e| (e.id, e.note))
                .collect()
        };
        let behind = |what: &str| Some(format!("waiting behind event {} {what}", ids[0]));
        assert_eq!(shown(&store), vec![(ids[1], behind("(pending)"))]);
        let next = Timestamp::now() + SignedDuration::from_secs(60);
        store
            .mark_retry(ids[0], "LMS answered 503", Some(503), next)
            .unwrap();
        assert_eq!(
            shown(&store),
            vec![(ids[1], behind("(retrying): LMS answered 503"))]
        );
        store
            .mark_dead_letter(ids[0], "LMS answered 503", Some(503))
            .unwrap();
        assert_eq!(
            shown(&store),
            vec![(ids[1], behind("(dead letter): LMS answered 503"))]
        );
        assert_eq!(store.counts().unwrap().blocked, 1);
        store.skip(ids[0], "superseded").unwrap();
        assert_eq!(shown(&store), Vec::new(), "its turn now: no longer blocked");
        assert_eq!(store.counts().unwrap().blocked, 0);
        assert_eq!(note(&store, ids[1]), None);
    }
}
