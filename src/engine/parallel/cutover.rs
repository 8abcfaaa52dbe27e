//! Cutover (`hrsync parallel cutover`): the parallel run is over and hrsync
//! writes. Refused until the streak of clean business days reaches the bar,
//! unless forced with a reason; either way it leaves shadow mode through
//! [`shadow::leave_in`] — the one way `hrsync shadow leave` leaves it too — in
//! the same transaction as its own `parallel.cutover` audit entry, written
//! only once shadow mode is left.

use serde_json::json;

use super::run::Standing;
use crate::engine::apply::shadow::{self, ShadowError};
use crate::model::{AuditAction, NewAuditEntry};
use crate::store::{Shadow, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum CutoverError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the cutover bar is not reached: {streak} of {required} consecutive clean business days \
         (see `hrsync parallel status`); explain or fix the differences and keep comparing, or \
         force it with --force --reason TEXT (audited)"
    )]
    BarNotReached { streak: u32, required: u32 },
    #[error("--force needs --reason: say why the cutover cannot wait for the bar (kept in the audit log)")]
    ForceWithoutReason,
    #[error("cannot cut over: {0}")]
    Mode(ShadowError),
}

/// What a cutover did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Cutover {
    pub by: String,
    pub streak: u32,
    pub required_days: u32,
    pub forced: bool,
    pub reason: String,
    pub events_applied_afresh: usize,
}

/// Leaves shadow mode when `standing`'s streak reaches the bar, or when
/// `force`d with a `reason`: audited as `mode.live` and `parallel.cutover`.
pub fn cutover(
    store: &Store,
    standing: &Standing,
    actor: &str,
    force: bool,
    reason: Option<&str>,
) -> Result<Cutover, CutoverError> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    let status = &standing.status;
    if force && reason.is_none() {
        return Err(CutoverError::ForceWithoutReason);
    }
    // Not in shadow mode is said first: the bar means nothing then.
    let mode = store.shadow_mode()?;
    if let Some(left) = mode.left {
        return Err(CutoverError::Mode(ShadowError::AlreadyLeft(left)));
    }
    if mode.entered_at.is_none() {
        return Err(CutoverError::Mode(ShadowError::NotInShadow));
    }
    if !status.bar_reached && !force {
        return Err(CutoverError::BarNotReached {
            streak: status.streak,
            required: status.required_days,
        });
    }
    let forced = force && !status.bar_reached;
    let reason = match reason {
        Some(reason) => reason.to_string(),
        None => format!(
            "parallel run: cutover bar reached ({} of {} consecutive clean business days)",
            status.streak, status.required_days
        ),
    };
    let requeued = store.transaction(|tx| {
        // Shadow mode left first: when it cannot be, nothing is recorded.
        let requeued = shadow::leave_in(tx, actor, &reason)?;
        if requeued.is_ok() {
            tx.audit(NewAuditEntry {
                actor: actor.to_string(),
                action: AuditAction::ParallelCutover,
                employee_id: None,
                subject: "parallel run".into(),
                before: json!({
                    "mode": "shadow",
                    "streak": status.streak,
                    "required_days": status.required_days,
                    "bar_reached": status.bar_reached,
                }),
                after: json!({ "mode": "live", "forced": forced }),
                reason: Some(reason.clone()),
            })?;
        }
        Ok(requeued)
    })?;
    let requeued = requeued.map_err(CutoverError::Mode)?;
    Ok(Cutover {
        by: actor.to_string(),
        streak: status.streak,
        required_days: status.required_days,
        forced,
        reason,
        events_applied_afresh: requeued.len(),
    })
}
