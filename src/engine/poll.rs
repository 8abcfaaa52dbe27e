//! The poller: every `[poll] interval_s`, "changed since" the stored cursor, each
//! changed employee read and journaled under the same idempotency key a webhook
//! for that change has, so a change seen both ways applies once. The cursor moves
//! in the transaction that journals the batch.

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use jiff::Timestamp;
use serde_json::json;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::initial_load::{POLL_CURSOR, hris_fields};
use crate::connectors::{ConnectorError, HrisChange, HrisClient};
use crate::contract::Contract;
use crate::model::{Direction, NewEvent, Source, hris_change_key};
use crate::store::Store;

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
}

/// Polls once: journals every change since the cursor and moves the cursor.
pub async fn poll_once(store: &Store, contract: &Contract, hris: &HrisClient) -> Result<PollSummary, PollError> {
    let since = store
        .cursor(POLL_CURSOR)?
        .and_then(|c| c.parse::<Timestamp>().ok())
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let changed = hris.changed_since(since).await?;
    let latest = changed.latest.to_string();
    let fields: Arc<Vec<String>> = Arc::new(hris_fields(contract).into_iter().map(str::to_string).collect());
    let reads = changed.changes.into_iter().map(|change| {
        let (hris, fields) = (hris.clone(), fields.clone());
        async move { journal_entry(&hris, &fields, change).await }
    });
    let events: Vec<NewEvent> = futures::stream::iter(reads)
        .buffered(READ_CONCURRENCY)
        .try_collect()
        .await?;
    let store = store.clone();
    let appended = tokio::task::spawn_blocking(move || {
        store.transaction(|tx| {
            let appended = tx.append(&events)?;
            tx.set_cursor(POLL_CURSOR, &latest)?;
            Ok(appended)
        })
    })
    .await
    .expect("the poll's journal task does not panic")?;
    Ok(PollSummary {
        changes: appended.len(),
        new: appended
            .iter()
            .filter(|a| matches!(a, crate::store::Appended::New(_)))
            .count(),
    })
}

/// One changed employee, read and made a journal event.
async fn journal_entry(hris: &HrisClient, fields: &[String], change: HrisChange) -> Result<NewEvent, ConnectorError> {
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    let record = if change.action.eq_ignore_ascii_case("deleted") {
        None
    } else {
        hris.employee(&change.employee_id, &fields).await?
    };
    let mut payload = json!({
        "id": change.employee_id,
        "action": change.action,
        "lastChanged": change.last_changed.to_string(),
    });
    // An employee gone between the two reads is a deletion.
    let kind = match record {
        Some(record) => {
            payload["fields"] = serde_json::Value::Object(record);
            change.action.clone()
        }
        None => "Deleted".to_string(),
    };
    Ok(NewEvent {
        idempotency_key: hris_change_key(&change.employee_id, change.last_changed),
        source: Source::Poll,
        direction: Direction::HrisToLms,
        employee_id: change.employee_id,
        kind,
        occurred_at: change.last_changed,
        payload,
    })
}

/// Polls every `interval` until `cancel`; a failed poll is logged and tried at the next tick.
pub async fn run(
    store: Store,
    contract: Arc<parking_lot::RwLock<Arc<Contract>>>,
    hris: HrisClient,
    interval: Duration,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let contract = contract.read().clone();
        match poll_once(&store, &contract, &hris).await {
            Ok(summary) => {
                tracing::info!(changes = summary.changes, new = summary.new, "polled the HRIS");
                if summary.new > 0 {
                    wake.notify_one();
                }
            }
            Err(error) => tracing::warn!(%error, "poll failed; trying again at the next interval"),
        }
    }
}
