//! The apply worker: takes ready events from the journal (one per employee at a
//! time, a bounded number at once), applies them, and journals their outcomes in
//! groups: one transaction for everything that finished together.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::apply::{Applier, Failure, Outcome};
use super::metrics::Metrics;
use crate::connectors::Notifier;
use crate::model::{Direction, Event, EventId, EventStatus, FieldReason, NewAuditEntry};
use crate::store::StoreError;

/// Looks at the journal at least this often, even when nothing wakes it.
const IDLE_LOOK: Duration = Duration::from_millis(500);

pub struct Worker {
    pub applier: Arc<Applier>,
    /// Flow 2, when the LRS and the contract's `[writeback]` are configured.
    pub writeback: Option<Arc<super::writeback::WriteBack>>,
    pub concurrency: usize,
    pub metrics: Arc<Metrics>,
    pub notifier: Notifier,
    /// Signalled when new events are journaled or an operator retries one.
    pub wake: Arc<Notify>,
    /// While set, nothing new is started (the operator paused the engine).
    pub paused: Arc<std::sync::atomic::AtomicBool>,
}

/// One finished event, waiting to be journaled.
struct Finished {
    event: Event,
    outcome: Outcome,
    /// The last attempt was cut off by a stop before it reached the journal.
    cut_off: bool,
    /// Who the employee turned out to be (HRIS → LMS only), for duplicate detection.
    sighting: Option<super::duplicates::Sighting>,
}

impl Worker {
    /// Runs until `cancel`; events in flight then finish and are journaled.
    pub async fn run(self, cancel: CancellationToken) {
        let mut in_flight: HashSet<(Direction, String)> = HashSet::new();
        let mut tasks: JoinSet<Finished> = JoinSet::new();
        let mut stopping = false;
        loop {
            if !stopping && !self.paused.load(std::sync::atomic::Ordering::Relaxed) {
                self.start_ready(&mut tasks, &mut in_flight).await;
            }
            if stopping && tasks.is_empty() {
                return;
            }
            let mut finished = Vec::new();
            tokio::select! {
                _ = cancel.cancelled(), if !stopping => stopping = true,
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Ok(done) = done {
                        finished.push(done);
                    }
                    while let Some(Ok(done)) = tasks.try_join_next() {
                        finished.push(done);
                    }
                }
                _ = self.wake.notified(), if !stopping => {}
                _ = tokio::time::sleep(IDLE_LOOK), if !stopping => {}
            }
            if finished.is_empty() {
                continue;
            }
            let keys: Vec<_> = finished
                .iter()
                .map(|f| (f.event.direction, f.event.employee_id.clone()))
                .collect();
            self.journal(finished).await;
            // Only now may the employee's next event start: its predecessor is journaled.
            for key in keys {
                in_flight.remove(&key);
            }
        }
    }

    async fn start_ready(&self, tasks: &mut JoinSet<Finished>, in_flight: &mut HashSet<(Direction, String)>) {
        let room = self.concurrency.saturating_sub(tasks.len());
        if room == 0 {
            return;
        }
        let store = self.applier.store.clone();
        let limit = in_flight.len() + room;
        let skip: HashSet<(Direction, String)> = in_flight.clone();
        let writeback = self.writeback.is_some();
        // Heads first (no payloads), then whole events only for those to start.
        let ready = tokio::task::spawn_blocking(move || {
            let heads = store.ready_heads(Timestamp::now(), limit)?;
            let start: Vec<EventId> = heads
                .into_iter()
                .filter(|(_, direction, employee)| {
                    (writeback || *direction == Direction::HrisToLms)
                        && !skip.contains(&(*direction, employee.clone()))
                })
                .take(room)
                .map(|(id, _, _)| id)
                .collect();
            let events = store.events(&start)?;
            let cut_off = store.transaction(|tx| tx.mark_started(&start))?;
            Ok::<_, crate::store::StoreError>((events, cut_off))
        })
        .await;
        let (ready, cut_off) = match ready {
            Ok(Ok(ready)) => ready,
            Ok(Err(error)) => {
                tracing::error!(%error, "cannot read ready events from the journal");
                return;
            }
            Err(_) => return,
        };
        for event in ready {
            let cut_off = cut_off.contains(&event.id);
            if tasks.len() >= self.concurrency {
                break;
            }
            if event.direction == Direction::LmsToHris && self.writeback.is_none() {
                continue;
            }
            if !in_flight.insert((event.direction, event.employee_id.clone())) {
                continue;
            }
            match event.direction {
                Direction::HrisToLms => {
                    let applier = self.applier.clone();
                    tasks.spawn(async move {
                        let (outcome, sighting) = applier.apply_sighted(&event).await;
                        Finished {
                            event,
                            outcome,
                            cut_off,
                            sighting,
                        }
                    });
                }
                Direction::LmsToHris => {
                    let writeback = self.writeback.clone().expect("checked above");
                    tasks.spawn(async move {
                        let outcome = writeback.apply(&event).await;
                        Finished {
                            event,
                            outcome,
                            cut_off,
                            sighting: None,
                        }
                    });
                }
            }
        }
    }

    /// Journals a group of outcomes in one transaction, then counts and tells.
    async fn journal(&self, finished: Vec<Finished>) {
        let store = self.applier.store.clone();
        let retry = self.applier.retry;
        let result = tokio::task::spawn_blocking(move || {
            store.transaction(|tx| {
                let mut results = Vec::with_capacity(finished.len());
                for Finished {
                    event,
                    outcome,
                    cut_off,
                    sighting,
                } in &finished
                {
                    results.push((event.clone(), record(tx, event, outcome, retry)?));
                    if let Some(sighting) = sighting {
                        tx.upsert_person(&sighting.keys)?;
                        for group in &sighting.groups {
                            tx.record_suspected(group)?;
                        }
                    }
                    if *cut_off {
                        audit_recovered(tx, event, outcome)?;
                    }
                }
                Ok(results)
            })
        })
        .await;
        let results = match result {
            Ok(Ok(results)) => results,
            Ok(Err(error)) => {
                // Nothing of the group was journaled; the events stay ready and are
                // applied again, which writes nothing the second time (only differences are written).
                tracing::error!(%error, "cannot journal outcomes; they will be tried again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                return;
            }
            Err(_) => return,
        };
        for (event, status) in results {
            self.metrics.event_finished(status, event.received_at);
            if status == EventStatus::DeadLetter {
                let text = format!(
                    ":warning: hrsync: event {} for employee {} is a dead letter after {} attempts: {}. \
                     `hrsync retries list` shows it; `hrsync retries retry {}` tries again.",
                    event.id,
                    event.employee_id,
                    event.attempts + 1,
                    self.applier
                        .store
                        .event(event.id)
                        .ok()
                        .flatten()
                        .and_then(|d| d.event.last_error)
                        .unwrap_or_default(),
                    event.id,
                );
                let notifier = self.notifier.clone();
                tokio::spawn(async move {
                    if let Err(error) = notifier.send(&text).await {
                        tracing::warn!(%error, "cannot tell the ops channel about a dead letter");
                    }
                });
            }
        }
    }
}

/// An attempt cut off by a stop may have written before it could journal: if the
/// target now holds the values, say so in the audit log, so no write goes unrecorded.
fn audit_recovered(
    tx: &crate::store::StoreTx<'_>,
    event: &Event,
    outcome: &Outcome,
) -> Result<(), StoreError> {
    let Outcome::Unchanged {
        mapped: Some(mapped), ..
    } = outcome
    else {
        return Ok(());
    };
    let (action, after) = match event.direction {
        Direction::HrisToLms => (
            "learner.recovered",
            mapped.get("lms").cloned().unwrap_or(serde_json::Value::Null),
        ),
        Direction::LmsToHris => ("training.recovered", mapped.clone()),
    };
    tx.audit(NewAuditEntry {
        actor: "engine".into(),
        action: action.into(),
        employee_id: Some(event.employee_id.clone()),
        subject: format!("event {}", event.id),
        before: serde_json::Value::Null,
        after,
        reason: Some(format!(
            "event {} ({} {}): an attempt cut off by a stop; the target already holds these values, \
             most likely written by that attempt",
            event.id, event.source, event.kind
        )),
    })?;
    Ok(())
}

/// Journals one outcome inside the group's transaction; returns the new status.
fn record(
    tx: &crate::store::StoreTx<'_>,
    event: &Event,
    outcome: &Outcome,
    retry: crate::config::RetryPolicy,
) -> Result<EventStatus, StoreError> {
    let id = event.id;
    let status = match outcome {
        Outcome::Applied {
            write,
            audit_action,
            enrolled,
            mapped,
            awaits_manager,
        } => {
            set_mapped(tx, id, mapped)?;
            tx.mark_applied(id, write)?;
            tx.record_enrolments(&event.employee_id, enrolled)?;
            tx.audit(NewAuditEntry {
                actor: "engine".into(),
                action: audit_action.to_string(),
                employee_id: Some(event.employee_id.clone()),
                subject: match event.direction {
                    Direction::HrisToLms => format!("learner {}", write.target_id.as_deref().unwrap_or("?")),
                    Direction::LmsToHris => format!("HRIS {}", write.target_id.as_deref().unwrap_or("?")),
                },
                before: write.before.clone(),
                after: write.after.clone(),
                reason: Some(format!("event {id} ({} {})", event.source, event.kind)),
            })?;
            audit_enrolments(tx, event, write.target_id.as_deref(), enrolled)?;
            match event.direction {
                Direction::HrisToLms => {
                    tx.set_manager_wait(&event.employee_id, awaits_manager.as_deref(), id)?;
                    if *audit_action == "learner.create" {
                        tx.release_manager_waits(&event.employee_id)?;
                    }
                }
                Direction::LmsToHris => tx.credential_in_hris(id)?,
            }
            EventStatus::Applied
        }
        Outcome::Unchanged {
            enrolled,
            mapped,
            awaits_manager,
            ..
        } => {
            set_mapped(tx, id, mapped)?;
            tx.mark_unchanged(id)?;
            tx.record_enrolments(&event.employee_id, enrolled)?;
            audit_enrolments(tx, event, None, enrolled)?;
            match event.direction {
                Direction::HrisToLms => {
                    tx.set_manager_wait(&event.employee_id, awaits_manager.as_deref(), id)?
                }
                // Found in the HRIS already (not a statement the contract stopped writing back).
                Direction::LmsToHris if mapped.is_some() => tx.credential_in_hris(id)?,
                Direction::LmsToHris => {}
            }
            EventStatus::Unchanged
        }
        Outcome::Deferred { until, why } => {
            tx.defer(id, *until, why)?;
            EventStatus::Pending
        }
        Outcome::Rejected(reasons) => {
            tx.mark_rejected(id, reasons)?;
            EventStatus::Rejected
        }
        Outcome::Held { why } => {
            tx.mark_held(id, why)?;
            EventStatus::Held
        }
        Outcome::Failed(failure) if !failure.transient => {
            let reasons = [FieldReason {
                field: "lms".into(),
                reason: failure.message.clone(),
            }];
            tx.mark_rejected(id, &reasons)?;
            EventStatus::Rejected
        }
        Outcome::Failed(failure) => {
            if event.attempts + 1 >= retry.attempts {
                tx.mark_dead_letter(id, &failure.message, failure.status)?;
                EventStatus::DeadLetter
            } else {
                tx.mark_retry(id, &failure.message, failure.status, next_attempt(failure, retry))?;
                EventStatus::Retrying
            }
        }
    };
    Ok(status)
}

/// The policy's interval, or the target's Retry-After when that is longer.
fn next_attempt(failure: &Failure, retry: crate::config::RetryPolicy) -> Timestamp {
    let wait = failure
        .retry_after
        .map_or(retry.interval, |after| after.max(retry.interval));
    Timestamp::now() + SignedDuration::try_from(wait).unwrap_or(SignedDuration::from_secs(60))
}

fn set_mapped(
    tx: &crate::store::StoreTx<'_>,
    id: EventId,
    mapped: &Option<serde_json::Value>,
) -> Result<(), StoreError> {
    if let Some(mapped) = mapped {
        tx.set_mapped(id, mapped)?;
    }
    Ok(())
}

fn audit_enrolments(
    tx: &crate::store::StoreTx<'_>,
    event: &Event,
    learner: Option<&str>,
    enrolled: &[String],
) -> Result<(), StoreError> {
    for group in enrolled {
        tx.audit(NewAuditEntry {
            actor: "engine".into(),
            action: "learner.enrol".into(),
            employee_id: Some(event.employee_id.clone()),
            subject: format!("group {group}"),
            before: json!(null),
            after: json!({ "group": group, "learner": learner }),
            reason: Some(format!("trigger, event {}", event.id)),
        })?;
    }
    Ok(())
}
