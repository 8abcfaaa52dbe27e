//! A manager's `reports` changed: when an applied record moves an employee from
//! one manager to another, or into or out of counting (`contract::reports`),
//! each manager whose count changed has their last applied record journaled
//! again (source `reconcile`, kind `reports changed`), so the triggers that read
//! `reports` are decided anew through the ordinary apply: joined, or left.

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::engine::intake::poll::READ_LATER;
use crate::model::{Direction, EventId, NewEvent, Source};
use crate::store::{Appended, StoreError, StoreTx};

/// Whom an applied record makes the employee a report of. Kept for every
/// contract that names a manager field, so a contract that starts reading
/// `reports` finds the counts there; managers are decided again only under one
/// that reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportsTo {
    /// The manager (`None`: nobody's report).
    pub manager: Option<String>,
    /// Whether the contract's triggers read `reports`.
    pub read: bool,
}

/// The change that decides `manager_id`'s triggers again because `cause` changed
/// their count; the key makes it one per cause.
pub fn reports_changed(manager_id: &str, cause: EventId, payload: Value, now: Timestamp) -> NewEvent {
    NewEvent {
        idempotency_key: format!("reports:{manager_id}:{}", cause.0),
        source: Source::Reconcile,
        direction: Direction::HrisToLms,
        employee_id: manager_id.to_owned(),
        kind: "reports changed".into(),
        occurred_at: now,
        payload,
    }
}

/// Records whom `employee_id` counts for by the record `cause` applied, and
/// journals the re-decision of each manager whose count changed. A manager with
/// a change still to begin reads the new count then, and one never applied and
/// not being applied reads it with their first change: neither needs another.
/// One being applied now may have read the old count: decided again from the
/// HRIS's current record (their applied one may be older than what they apply).
pub fn record_reports_to(
    tx: &StoreTx<'_>,
    employee_id: &str,
    cause: EventId,
    reports_to: &ReportsTo,
) -> Result<Vec<Appended>, StoreError> {
    let now = reports_to.manager.as_deref();
    let before = tx.set_reports_to(employee_id, now)?;
    if before.as_deref() == now || !reports_to.read {
        return Ok(Vec::new());
    }
    let mut batch = Vec::new();
    for manager in [before.as_deref(), now].into_iter().flatten() {
        let (waiting, begun) = tx.change_due(manager)?;
        if waiting {
            continue;
        }
        let read_again = json!({ "id": manager, READ_LATER: "reports changed: the record is read again" });
        let payload = match tx.applied_event(manager)? {
            _ if begun => read_again,
            None => continue,
            Some(applied) => {
                let earlier = tx.event(applied)?;
                // A record compacted away (or never carried) is read again too.
                if earlier.payload.get("fields").is_some_and(Value::is_object) {
                    earlier.payload
                } else {
                    read_again
                }
            }
        };
        batch.push(reports_changed(manager, cause, payload, tx.now()));
    }
    tx.append(&batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RecordStamp;
    use crate::store::{ReportsTo as _, Store};

    fn change(employee: &str, payload: Value) -> NewEvent {
        NewEvent {
            idempotency_key: format!("load:{employee}"),
            source: Source::InitialLoad,
            direction: Direction::HrisToLms,
            employee_id: employee.into(),
            kind: "Load".into(),
            occurred_at: Timestamp::now(),
            payload,
        }
    }

    fn to(manager: Option<&str>, read: bool) -> ReportsTo {
        ReportsTo {
            manager: manager.map(str::to_string),
            read,
        }
    }

    /// The managers' own records, applied: M1's carries its fields, M2's none.
    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("hrsync.db")).unwrap();
        let loads = [
            change("M1", json!({ "fields": { "id": "M1" } })),
            change("M2", json!({ "id": "M2" })),
        ];
        let appended = store.append(&loads).unwrap();
        store
            .transaction(|tx| {
                for (event, appended) in loads.iter().zip(&appended) {
                    tx.mark_unchanged(appended.id(), None)?;
                    let stamp = RecordStamp {
                        at: Timestamp::now(),
                        digest: "d".into(),
                    };
                    tx.set_applied_record(&event.employee_id, &stamp, appended.id())?;
                }
                Ok(())
            })
            .unwrap();
        (dir, store)
    }

    fn record(store: &Store, employee: &str, cause: i64, reports_to: ReportsTo) -> Vec<crate::model::Event> {
        let appended = store
            .transaction(|tx| record_reports_to(tx, employee, EventId(cause), &reports_to))
            .unwrap();
        (appended.iter())
            .map(|a| store.event(a.id()).unwrap().unwrap().event)
            .collect()
    }

    #[test]
    fn a_changed_count_decides_each_manager_again_unless_a_change_of_theirs_waits() {
        let (_dir, store) = store();
        // E becomes M1's report: M1 is decided again from their applied record.
        let again = record(&store, "E", 10, to(Some("M1"), true));
        assert_eq!(store.reports_of("M1").unwrap(), 1);
        assert_eq!(again.len(), 1);
        assert_eq!(
            (again[0].employee_id.as_str(), again[0].kind.as_str()),
            ("M1", "reports changed")
        );
        assert_eq!(again[0].payload, json!({ "fields": { "id": "M1" } }));
        // The same record again changes nothing.
        assert!(record(&store, "E", 11, to(Some("M1"), true)).is_empty());
        // M1's re-decision has not begun: it will read the newer count.
        assert!(record(&store, "F", 12, to(Some("M1"), true)).is_empty());
        assert_eq!(store.reports_of("M1").unwrap(), 2);
        // E moves to M2, whose record was never carried: read from the HRIS again.
        let again = record(&store, "E", 13, to(Some("M2"), true));
        assert_eq!(store.reports_of("M1").unwrap(), 1);
        assert_eq!(store.reports_of("M2").unwrap(), 1);
        assert_eq!(again.len(), 1, "M1 still has a change waiting");
        assert_eq!(again[0].employee_id, "M2");
        assert!(again[0].payload.get(READ_LATER).is_some(), "{}", again[0].payload);
        // Terminated or gone: nobody's report. A contract not reading `reports`
        // keeps the counts and decides nobody again.
        assert!(record(&store, "E", 14, to(None, false)).is_empty());
        assert_eq!(store.reports_of("M2").unwrap(), 0);
        // A manager never applied reads the count with their first change.
        assert!(record(&store, "G", 15, to(Some("M9"), true)).is_empty());
        assert_eq!(store.reports_of("M9").unwrap(), 1);
        // Unless that change is being applied now (it may have read the old
        // count): then decided again, from the HRIS's current record.
        let first = store
            .append(&[change("M8", json!({ "fields": { "id": "M8" } }))])
            .unwrap();
        store
            .transaction(|tx| {
                tx.claim(
                    &[first[0].id()],
                    "engine",
                    tx.now() + std::time::Duration::from_secs(60),
                )
            })
            .unwrap();
        let again = record(&store, "H", 16, to(Some("M8"), true));
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].employee_id, "M8");
        assert!(again[0].payload.get(READ_LATER).is_some(), "{}", again[0].payload);
    }

    #[test]
    fn a_re_decision_is_keyed_by_manager_and_cause() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let event = reports_changed("M1", EventId(42), json!({"fields": {"id": "M1"}}), now);
        assert_eq!(event.idempotency_key, "reports:M1:42");
        assert_eq!(event.source, Source::Reconcile);
        assert_eq!(event.direction, Direction::HrisToLms);
        assert_eq!(event.employee_id, "M1");
        assert_eq!(event.kind, "reports changed");
        assert_eq!(event.payload, json!({"fields": {"id": "M1"}}));
    }
}
