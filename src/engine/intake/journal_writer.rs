//! Group commit for ingest: webhook deliveries hand their changes to one task that
//! journals whatever has queued up in a single transaction, then answers each
//! sender. One fsync covers many deliveries, and none is answered before it is on disk.

use std::sync::Arc;

use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::SafetyThreshold;
use crate::model::{FieldReason, NewEvent};
use crate::store::{Appended, Store, StoreError};

/// Deliveries waiting for the writer at most; senders wait beyond that (backpressure).
const QUEUE: usize = 1024;
/// Deliveries journaled in one transaction at most.
const GROUP: usize = 256;

/// One change to journal; `rejected` carries its reasons when it is unusable as sent.
#[derive(Debug, Clone)]
pub struct Intake {
    pub event: NewEvent,
    pub rejected: Option<Vec<FieldReason>>,
    /// It may deactivate a learner (see `safety::may_deactivate`).
    pub deactivates: bool,
}

/// What journaling one delivery did.
#[derive(Debug, Clone, Default)]
pub struct Journaled {
    pub appended: Vec<Appended>,
    /// Deactivations held by the safety threshold.
    pub held: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("the journal is stopping")]
    Stopping,
    #[error("cannot journal: {0}")]
    Store(String),
}

struct Request {
    batch: Vec<Intake>,
    /// The threshold for this delivery's deactivations: what it allows is read
    /// in the group's transaction, once for the group.
    safety: SafetyThreshold,
    answer: oneshot::Sender<Result<Journaled, JournalError>>,
}

/// A handle on the group-commit task; cheap to clone.
#[derive(Clone)]
pub struct JournalWriter {
    requests: mpsc::Sender<Request>,
}

impl JournalWriter {
    /// Starts the writer; it stops when `cancel` fires (queued deliveries are still journaled).
    pub fn spawn(
        store: Store,
        wake: Arc<Notify>,
        cancel: CancellationToken,
    ) -> (JournalWriter, JoinHandle<()>) {
        let (requests, receiver) = mpsc::channel(QUEUE);
        let task = tokio::spawn(run(store, wake, receiver, cancel));
        (JournalWriter { requests }, task)
    }

    /// Journals a delivery's changes durably; answers once they are committed.
    pub async fn journal(
        &self,
        batch: Vec<Intake>,
        safety: SafetyThreshold,
    ) -> Result<Journaled, JournalError> {
        let (answer, answered) = oneshot::channel();
        self.requests
            .send(Request {
                batch,
                safety,
                answer,
            })
            .await
            .map_err(|_| JournalError::Stopping)?;
        answered.await.map_err(|_| JournalError::Stopping)?
    }
}

async fn run(
    store: Store,
    wake: Arc<Notify>,
    mut receiver: mpsc::Receiver<Request>,
    cancel: CancellationToken,
) {
    let mut group = Vec::with_capacity(GROUP);
    loop {
        let received = tokio::select! {
            // Stop taking new deliveries, but finish what is queued: those senders wait for an answer.
            _ = cancel.cancelled() => {
                receiver.close();
                receiver.recv_many(&mut group, GROUP).await
            }
            n = receiver.recv_many(&mut group, GROUP) => n,
        };
        if received == 0 {
            return;
        }
        let requests = std::mem::take(&mut group);
        commit(&store, requests).await;
        wake.notify_one();
    }
}

/// Journals a group in one transaction and answers every sender.
async fn commit(store: &Store, requests: Vec<Request>) {
    let store = store.clone();
    let (batches, answers): (Vec<(Vec<Intake>, SafetyThreshold)>, Vec<_>) = requests
        .into_iter()
        .map(|r| ((r.batch, r.safety), r.answer))
        .unzip();
    let result = tokio::task::spawn_blocking(move || journal_group(&store, batches)).await;
    match result {
        Ok(Ok(appended)) => {
            for (answer, appended) in answers.into_iter().zip(appended) {
                let _ = answer.send(Ok(appended));
            }
        }
        Ok(Err(error)) => {
            tracing::error!(%error, "cannot journal a group of webhook deliveries");
            for answer in answers {
                let _ = answer.send(Err(JournalError::Store(error.to_string())));
            }
        }
        Err(_) => {
            for answer in answers {
                let _ = answer.send(Err(JournalError::Store("the journal task panicked".into())));
            }
        }
    }
}

fn journal_group(
    store: &Store,
    batches: Vec<(Vec<Intake>, SafetyThreshold)>,
) -> Result<Vec<Journaled>, StoreError> {
    store.transaction_once(move |tx| {
        // The last full sync's count, read once for the group.
        let active = tx.cursor(crate::engine::apply::safety::ACTIVE_LEARNERS_CURSOR)?;
        batches
            .into_iter()
            .map(|(batch, safety)| {
                let allowed = crate::engine::apply::safety::allowed_of(active.as_deref(), safety);
                // The events are handed over, not copied: a delivery's payloads are most of its bytes.
                let (events, rest): (Vec<NewEvent>, Vec<_>) = batch
                    .into_iter()
                    .map(|i| (i.event, (i.rejected, i.deactivates)))
                    .unzip();
                let appended = tx.append(&events)?;
                for ((rejected, _), appended) in rest.iter().zip(&appended) {
                    if let (Some(reasons), Appended::New(id)) = (rejected, appended) {
                        tx.mark_rejected(*id, reasons)?;
                    }
                }
                let deactivating: Vec<bool> = rest
                    .iter()
                    .map(|(rejected, deactivates)| *deactivates && rejected.is_none())
                    .collect();
                let held = crate::engine::apply::safety::hold_mass_deactivations(
                    tx,
                    &appended,
                    &deactivating,
                    allowed,
                    "webhook delivery",
                )?;
                Ok(Journaled { appended, held })
            })
            .collect()
    })
}
