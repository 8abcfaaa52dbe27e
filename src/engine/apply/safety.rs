//! The safety threshold for incremental ingest: when one webhook delivery or one
//! poll carries more deactivations than the threshold allows, they are held for an
//! operator, as a full sync's are (see `initial_load`). Holding is decided inside
//! the journal transaction, so a held change is never applied even for a moment.

use serde_json::Value;

use crate::config::SafetyThreshold;
use crate::contract::Contract;
use crate::contract::map::map_employee;
use crate::model::{HoldKind, NewEvent};
use crate::store::{Appended, Store, StoreError, StoreTx};

/// Cursor with the active learners counted by the last full sync: the threshold's base.
pub const ACTIVE_LEARNERS_CURSOR: &str = "lms.active_learners";

/// Whether journaling this change may deactivate a learner: a deletion, or a record
/// the contract says should not have an active learner (terminated, out of scope).
pub fn may_deactivate(contract: &Contract, event: &NewEvent) -> bool {
    if event.kind.eq_ignore_ascii_case("deleted") {
        return true;
    }
    match event.payload.get("fields").and_then(Value::as_object) {
        Some(record) => map_employee(contract, record).is_ok_and(|m| !m.should_be_active(contract)),
        None => false,
    }
}

/// What the threshold allows in one batch, from the last full sync's count of active learners.
pub fn allowed(store: &Store, threshold: SafetyThreshold) -> Result<u64, StoreError> {
    Ok(allowed_of(
        store.cursor(ACTIVE_LEARNERS_CURSOR)?.as_deref(),
        threshold,
    ))
}

/// [`allowed`], given the count's cursor as read (inside a journal transaction, say).
pub fn allowed_of(active_learners: Option<&str>, threshold: SafetyThreshold) -> u64 {
    threshold.allowed(active_learners.and_then(|n| n.parse::<u64>().ok()).unwrap_or(0))
}

/// Holds the batch's new deactivating changes when there are more than `allowed`;
/// returns how many were held. `deactivating[i]` says whether `appended[i]` may deactivate.
pub fn hold_mass_deactivations(
    tx: &StoreTx<'_>,
    appended: &[Appended],
    deactivating: &[bool],
    allowed: u64,
    source: &str,
) -> Result<usize, StoreError> {
    let new: Vec<_> = appended
        .iter()
        .zip(deactivating)
        .filter_map(|(a, &d)| match a {
            Appended::New(id) if d => Some(*id),
            _ => None,
        })
        .collect();
    if new.len() as u64 <= allowed {
        return Ok(0);
    }
    let why = format!(
        "{}: one {source} would deactivate {} learners (allowed {allowed}); \
         in the Held pane, c confirms them, x rejects them with a reason",
        HoldKind::SafetyThreshold.note_prefix(),
        new.len()
    );
    for id in &new {
        tx.mark_held(*id, &why)?;
    }
    Ok(new.len())
}
