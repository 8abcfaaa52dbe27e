//! The poller: every `[poll] interval_s`, "changed since" the stored cursor, each
//! changed employee read and journaled under the same idempotency key a webhook
//! for that change has, so a change seen both ways applies once. An employee
//! whose read keeps failing is journaled to be read when applied (with the
//! retry policy), so one bad answer never stops the poll. The cursor moves in
//! the transaction that journals the batch.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use serde_json::json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::SafetyThreshold;
use crate::connectors::roles::{EmployeeSource, HrisChange};
use crate::connectors::{ConnectorError, Notifier};
use crate::contract::Contract;
use crate::engine::apply::{safety, supersede};
use crate::engine::intake::initial_load::{POLL_CURSOR, hris_fields};
use crate::model::{Direction, NewEvent, RecordStamp, Source, hris_change_key};
use crate::store::{Lease, Store};

/// Employees read at the same time while polling.
const READ_CONCURRENCY: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("poll: {0}")]
    Connector(#[from] ConnectorError),
    #[error("poll: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// What one poll found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollSummary {
    pub changes: usize,
    pub new: usize,
    /// Deactivations held by the safety threshold.
    pub held: usize,
}

/// Polls once: journals every change since the cursor and moves the cursor, in
/// one transaction that `fence` (the poller's lease) lets through only while held.
pub async fn poll_once(
    store: &Store,
    contract: &Contract,
    employees: &dyn EmployeeSource,
    threshold: SafetyThreshold,
    fence: Option<&Lease>,
) -> Result<PollSummary, PollError> {
    let since = store
        .cursor(POLL_CURSOR)?
        .and_then(|c| c.parse::<Timestamp>().ok())
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let changed = employees.changed_since(since).await?;
    let latest = changed.latest.to_string();
    let fields: Arc<Vec<String>> = Arc::new(hris_fields(contract).into_iter().map(str::to_string).collect());
    let reads = changed.changes.into_iter().map(|change| {
        let fields = fields.clone();
        async move { journal_entry(contract, employees, &fields, change).await }
    });
    let events: Vec<NewEvent> = futures::stream::iter(reads)
        .buffered(READ_CONCURRENCY)
        .collect()
        .await;
    let deactivating: Vec<bool> = events
        .iter()
        .map(|e| safety::may_deactivate(contract, e))
        .collect();
    let allowed = safety::allowed(store, threshold)?;
    let store = store.clone();
    let fence = fence.cloned();
    let (appended, held) = tokio::task::spawn_blocking(move || {
        store.transaction(|tx| {
            if let Some(lease) = &fence {
                tx.check_lease(lease)?;
            }
            let appended = tx.append(&events)?;
            let held = safety::hold_mass_deactivations(tx, &appended, &deactivating, allowed, "poll")?;
            tx.set_cursor(POLL_CURSOR, &latest)?;
            Ok((appended, held))
        })
    })
    .await
    .expect("the poll's journal task does not panic")?;
    Ok(PollSummary {
        held,
        changes: appended.len(),
        new: appended
            .iter()
            .filter(|a| matches!(a, crate::store::Appended::New(_)))
            .count(),
    })
}

/// One changed employee, read and made a journal event; one that cannot be
/// read now is journaled to be read when it is applied. The key is the record's
/// (read after the change was listed, it may be newer than the change).
async fn journal_entry(
    contract: &Contract,
    employees: &dyn EmployeeSource,
    fields: &[String],
    change: HrisChange,
) -> NewEvent {
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    let record = if change.action.eq_ignore_ascii_case("deleted") {
        Ok(None)
    } else {
        employees.employee(&change.employee_id, &fields).await
    };
    let mut payload = json!({
        "id": change.employee_id,
        "action": change.action,
        "lastChanged": change.last_changed.to_string(),
    });
    let (kind, stamp) = match record {
        Ok(Some(record)) => {
            let stamp = supersede::stamp(contract, Some(&record), change.last_changed);
            payload["fields"] = serde_json::Value::Object(record);
            (change.action.clone(), stamp)
        }
        // An employee gone between the two reads is a deletion.
        Ok(None) => (
            "Deleted".to_string(),
            supersede::stamp(contract, None, change.last_changed),
        ),
        Err(error) => {
            tracing::warn!(employee = %change.employee_id, %error, "cannot read a changed employee; it is read again when applied");
            payload[READ_LATER] = json!(error.to_string());
            let unread = RecordStamp {
                digest: "unread".into(),
                ..supersede::stamp(contract, None, change.last_changed)
            };
            (change.action.clone(), unread)
        }
    };
    NewEvent {
        idempotency_key: hris_change_key(&change.employee_id, &stamp),
        source: Source::Poll,
        direction: Direction::HrisToLms,
        employee_id: change.employee_id,
        kind,
        // The record read may be newer than the change listed (changed again
        // between the two reads): the event is as of the record it carries.
        occurred_at: stamp.at.max(change.last_changed),
        payload,
    }
}

/// In a change's payload: its employee could not be read when it was journaled
/// (the value says why); the applier reads them.
pub const READ_LATER: &str = "read_later";

/// When the poller last ran and will run next, for the console's header.
#[derive(Debug, Clone, Default)]
pub struct PollInfo {
    pub last_at: Option<Timestamp>,
    pub next_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

/// The poller task: what it reads, how often, and whom it tells.
#[derive(Clone)]
pub struct Poller {
    pub store: Store,
    pub contract: Arc<parking_lot::RwLock<Arc<Contract>>>,
    pub employees: Arc<dyn EmployeeSource>,
    pub interval: Duration,
    pub threshold: SafetyThreshold,
    pub notifier: Notifier,
    /// Poked when a poll journaled something, so the worker starts at once.
    pub wake: Arc<Notify>,
    /// When it last ran and runs next, for the status the console shows.
    pub info: Arc<parking_lot::Mutex<PollInfo>>,
    /// The HRIS's health, from each poll.
    pub health: crate::engine::operator::health::Health,
}

impl Poller {
    /// Polls every `interval` until `cancel`, while `lease` holds the poller's
    /// duty; a failed poll is logged and tried at the next tick.
    pub async fn run(self, lease: Lease, cancel: CancellationToken) {
        let step =
            jiff::SignedDuration::try_from(self.interval).unwrap_or(jiff::SignedDuration::from_secs(300));
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        self.info.lock().next_at = Some(Timestamp::now() + step);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let contract = self.contract.read().clone();
            let result = poll_once(
                &self.store,
                &contract,
                self.employees.as_ref(),
                self.threshold,
                Some(&lease),
            )
            .await;
            {
                let mut info = self.info.lock();
                info.last_at = Some(Timestamp::now());
                info.next_at = Some(Timestamp::now() + step);
                info.last_error = result.as_ref().err().map(ToString::to_string);
            }
            match result {
                Ok(summary) => {
                    self.health.ok(crate::engine::operator::health::System::Hris);
                    tracing::info!(
                        changes = summary.changes,
                        new = summary.new,
                        held = summary.held,
                        "polled the HRIS"
                    );
                    if summary.held > 0 {
                        crate::engine::intake::webhook::tell_held(
                            &self.notifier,
                            summary.held,
                            "one poll of the HRIS",
                        );
                    }
                    if summary.new > 0 {
                        self.wake.notify_one();
                    }
                }
                Err(error) => {
                    self.health
                        .failed(crate::engine::operator::health::System::Hris, &error.to_string());
                    tracing::warn!(%error, "poll failed; trying again at the next interval")
                }
            }
        }
    }
}
