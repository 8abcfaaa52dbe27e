//! Learners waiting for their manager to get a learner: once the manager has
//! one, each waiting employee's last change is journaled again (source
//! `reconcile`, kind `manager linked`), so it is applied with the reference.

use jiff::Timestamp;
use serde_json::Value;

use crate::model::{Direction, EventId, NewEvent, Source};
use crate::store::{Appended, StoreError, StoreTx};

/// The change that applies `earlier` again now that `manager_id` has a learner;
/// the key makes the release idempotent per wait.
pub fn manager_linked(
    employee_id: &str,
    earlier: EventId,
    manager_id: &str,
    payload: Value,
    now: Timestamp,
) -> NewEvent {
    NewEvent {
        idempotency_key: format!("manager-link:{employee_id}:{}:{manager_id}", earlier.0),
        source: Source::Reconcile,
        direction: Direction::HrisToLms,
        employee_id: employee_id.to_owned(),
        kind: "manager linked".into(),
        occurred_at: now,
        payload,
    }
}

/// The manager now has a learner: journals the waiting employees' last change
/// again and forgets the waits. Returns what was appended.
pub fn release_manager_waits(tx: &StoreTx<'_>, manager_id: &str) -> Result<Vec<Appended>, StoreError> {
    let waiting = tx.take_manager_waits(manager_id)?;
    if waiting.is_empty() {
        return Ok(Vec::new());
    }
    let mut batch = Vec::with_capacity(waiting.len());
    for (employee_id, event_id) in &waiting {
        let earlier = tx.event(*event_id)?;
        batch.push(manager_linked(
            employee_id,
            *event_id,
            manager_id,
            earlier.payload,
            tx.now(),
        ));
    }
    tx.append(&batch)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_release_replays_the_earlier_payload_under_a_key_per_wait() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let event = manager_linked("E7", EventId(42), "M1", json!({"fields": {"x": 1}}), now);
        assert_eq!(event.idempotency_key, "manager-link:E7:42:M1");
        assert_eq!(event.source, Source::Reconcile);
        assert_eq!(event.direction, Direction::HrisToLms);
        assert_eq!(event.employee_id, "E7");
        assert_eq!(event.kind, "manager linked");
        assert_eq!(event.occurred_at, now);
        assert_eq!(event.payload, json!({"fields": {"x": 1}}));
    }
}
