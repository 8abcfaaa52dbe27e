//! What an operator may do to the journal (from the CLI or the console): retry a
//! failing or waiting event now, skip or flag one, confirm or reject held deactivations.
//! Each action and its audit entry commit together, so none goes unrecorded.

pub mod admin;
pub mod alerts;
pub mod control;
pub mod handle;
pub mod health;
pub mod metrics;
pub mod preview;
pub mod progress;
pub mod status;

use serde_json::json;

use crate::model::{AuditAction, Event, EventId, EventStatus, NewAuditEntry};
use crate::store::{Store, StoreError};

/// Who acts, for the audit log: `$HRSYNC_OPERATOR`, else the login name.
pub fn operator_name() -> String {
    ["HRSYNC_OPERATOR", "USER", "LOGNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "operator".to_string())
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a reason is required to {0}")]
    NoReason(&'static str),
    /// The action does not fit the record (a missing group, a learner not in it).
    #[error("{0}")]
    Refused(String),
}

fn entry(
    actor: &str,
    action: AuditAction,
    event: &Event,
    before: EventStatus,
    reason: Option<&str>,
) -> NewAuditEntry {
    NewAuditEntry {
        actor: actor.to_string(),
        action,
        employee_id: Some(event.employee_id.clone()),
        subject: format!("event {}", event.id),
        before: json!({ "status": before }),
        after: json!({ "status": event.status }),
        reason: reason.map(str::to_string),
    }
}

/// Tries events again from scratch, now: retrying ones without waiting for their
/// next attempt, and those waiting for an operator (dead letters, rejected, held).
/// All or none: an id that is neither (applied meanwhile, say) retries nothing.
pub fn retry(store: &Store, actor: &str, ids: &[EventId]) -> Result<Vec<Event>, ActionError> {
    Ok(store.transaction(|tx| {
        ids.iter()
            .map(|&id| {
                let before = tx.event(id)?.status;
                let event = tx.retry(id)?;
                tx.audit(entry(actor, AuditAction::EventRetry, &event, before, None))?;
                Ok(event)
            })
            .collect()
    })?)
}

/// Every dead letter, retried in one go.
pub fn retry_all_dead_letters(store: &Store, actor: &str) -> Result<Vec<Event>, ActionError> {
    retry(store, actor, &with_status(store, &[EventStatus::DeadLetter])?)
}

/// Every retrying event and dead letter, retried now in one go: what an operator
/// does once a system is back. An event whose attempt finished between the listing
/// and the retry is left as it is, so the engine never races the bulk into a refusal.
pub fn retry_all_failing(store: &Store, actor: &str) -> Result<Vec<Event>, ActionError> {
    const FAILING: [EventStatus; 2] = [EventStatus::Retrying, EventStatus::DeadLetter];
    let ids = with_status(store, &FAILING)?;
    Ok(store.transaction(|tx| {
        let mut retried = Vec::with_capacity(ids.len());
        for &id in &ids {
            let before = tx.event(id)?.status;
            if FAILING.contains(&before) {
                let event = tx.retry(id)?;
                tx.audit(entry(actor, AuditAction::EventRetry, &event, before, None))?;
                retried.push(event);
            }
        }
        Ok(retried)
    })?)
}

/// The ids of every event in one of `statuses`, oldest first.
fn with_status(store: &Store, statuses: &[EventStatus]) -> Result<Vec<EventId>, StoreError> {
    let mut ids = Vec::new();
    for &status in statuses {
        let mut after = None;
        loop {
            let page = store.with_status(status, after, 1000)?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            ids.extend(page.iter().map(|e| e.id));
        }
    }
    ids.sort();
    Ok(ids)
}

pub fn skip(store: &Store, actor: &str, id: EventId, reason: &str) -> Result<Event, ActionError> {
    close(store, actor, id, reason, AuditAction::EventSkip)
}

pub fn flag(store: &Store, actor: &str, id: EventId, reason: &str) -> Result<Event, ActionError> {
    close(store, actor, id, reason, AuditAction::EventFlag)
}

fn close(
    store: &Store,
    actor: &str,
    id: EventId,
    reason: &str,
    action: AuditAction,
) -> Result<Event, ActionError> {
    let skip = action == AuditAction::EventSkip;
    if reason.trim().is_empty() {
        return Err(ActionError::NoReason(if skip { "skip" } else { "flag" }));
    }
    Ok(store.transaction(|tx| {
        let before = tx.event(id)?.status;
        let event = if skip {
            tx.skip(id, reason)?
        } else {
            tx.flag(id, reason)?
        };
        tx.audit(entry(actor, action, &event, before, Some(reason)))?;
        Ok(event)
    })?)
}

/// Confirms held deactivations: they apply when it is their employee's turn.
pub fn confirm_held(store: &Store, actor: &str, ids: &[EventId]) -> Result<Vec<Event>, ActionError> {
    Ok(store.transaction(|tx| {
        let released = tx.release_held(ids)?;
        for event in &released {
            tx.audit(entry(
                actor,
                AuditAction::HeldConfirm,
                event,
                EventStatus::Held,
                None,
            ))?;
        }
        Ok(released)
    })?)
}

/// Rejects held deactivations: they are closed (skipped) with the reason.
pub fn reject_held(
    store: &Store,
    actor: &str,
    ids: &[EventId],
    reason: &str,
) -> Result<Vec<Event>, ActionError> {
    if reason.trim().is_empty() {
        return Err(ActionError::NoReason("reject held deactivations"));
    }
    Ok(store.transaction(|tx| {
        ids.iter()
            .map(|&id| {
                let event = tx.skip(id, reason)?;
                tx.audit(entry(
                    actor,
                    AuditAction::HeldReject,
                    &event,
                    EventStatus::Held,
                    Some(reason),
                ))?;
                Ok(event)
            })
            .collect()
    })?)
}

/// Every held event's id.
pub fn all_held(store: &Store) -> Result<Vec<EventId>, StoreError> {
    with_status(store, &[EventStatus::Held])
}
