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

/// Whom an applied record makes the employee a report of (`None`: nobody).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportsTo(pub Option<String>);

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
/// a change still to begin reads the new count then, and one never applied
/// reads it with their first change: neither needs another.
pub fn record_reports_to(
    tx: &StoreTx<'_>,
    employee_id: &str,
    cause: EventId,
    reports_to: &ReportsTo,
) -> Result<Vec<Appended>, StoreError> {
    let before = tx.set_reports_to(employee_id, reports_to.0.as_deref())?;
    if before == reports_to.0 {
        return Ok(Vec::new());
    }
    let mut batch = Vec::new();
    for manager in [before.as_deref(), reports_to.0.as_deref()].into_iter().flatten() {
        if tx.has_change_waiting(manager)? {
            continue;
        }
        let Some(applied) = tx.applied_event(manager)? else {
            continue;
        };
        let earlier = tx.event(applied)?;
        // A record compacted away (or never carried) is read from the HRIS again.
        let payload = if earlier.payload.get("fields").is_some_and(Value::is_object) {
            earlier.payload
        } else {
            json!({ "id": manager, READ_LATER: "reports changed: the record is read again" })
        };
        batch.push(reports_changed(manager, cause, payload, tx.now()));
    }
    tx.append(&batch)
}

#[cfg(test)]
mod tests {
    use super::*;

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
