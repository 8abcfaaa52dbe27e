//! When reconciliation runs: on the configured daily schedule (see
//! `config::ReconcileSchedule`, which handles daylight saving) and on an operator's
//! request, one run at a time across processes.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Reconciler, RunResult};
use crate::config::ReconcileSchedule;
use crate::store::{ControlPlane, ReconcileControl};

/// How often requests and the schedule are looked at.
const TICK: Duration = Duration::from_secs(1);

/// The engine's reconciliation task: the daily run and operators' requests.
#[derive(Clone)]
pub struct Scheduler {
    pub reconciler: Reconciler,
    pub schedule: ReconcileSchedule,
    pub wake: Arc<Notify>,
}

impl Scheduler {
    pub async fn run(self, cancel: CancellationToken) {
        let store = self.reconciler.store.clone();
        // Unreadable counts as nothing asked; the first start counts from now (no
        // run for a time before hrsync was here).
        let stored = || store.reconcile_control().unwrap_or_default();
        let mut last = stored().last_scheduled.unwrap_or_else(|| {
            let now = Timestamp::now();
            let _ = store.transaction(|tx| tx.reconcile_scheduled(now));
            now
        });
        let mut published = None;
        // The request taken, kept here too: a store that cannot record it (a full
        // disk) must not start the same operator's run again every second.
        let mut taken_here = None;
        let mut ticker = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let next = self.schedule.next_after(last);
            if published != Some(next) && store.transaction(|tx| tx.set_reconcile_next(next)).is_ok() {
                published = Some(next);
            }
            let ReconcileControl { requested, taken, .. } = stored();
            let trigger = if let Some(asked) = requested.filter(|_| ![taken, taken_here].contains(&requested))
            {
                if let Err(error) = store.transaction(|tx| tx.reconcile_request_taken(asked)) {
                    tracing::warn!(%error, "cannot record that a reconciliation request was taken; it runs once");
                }
                taken_here = requested;
                "operator"
            } else if let Some(due) = self.schedule.due(last, Timestamp::now()) {
                last = due;
                let _ = store.transaction(|tx| tx.reconcile_scheduled(due));
                "schedule"
            } else {
                continue;
            };
            match self.reconciler.run_until(trigger, &cancel).await {
                Ok(RunResult::Complete { run }) => {
                    tracing::info!(run = run.id, total = run.total(), "reconciliation complete");
                    // A fix or a duplicate released by it may be waiting.
                    self.wake.notify_one();
                }
                Ok(RunResult::Failed { run }) => {
                    tracing::warn!(
                        run = run.id,
                        error = run.error.as_deref(),
                        "reconciliation failed"
                    )
                }
                Ok(RunResult::AlreadyRunning { run }) => {
                    tracing::info!(run = run.id, "a reconciliation is under way; not started twice")
                }
                Err(error) => tracing::error!(%error, "cannot record a reconciliation run"),
            }
        }
    }
}
