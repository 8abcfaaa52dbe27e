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
use crate::store::Store;

/// Set by an operator (console key, handle) to ask for a run now: a timestamp.
pub const REQUEST_CURSOR: &str = "reconcile.requested";
/// The last request the engine took up, so one request starts one run.
pub const TAKEN_CURSOR: &str = "reconcile.request_taken";
/// The scheduled instant the engine last handled (ran, or found a run under way).
pub const LAST_SCHEDULED_CURSOR: &str = "reconcile.last_scheduled";
/// When the schedule runs next, published for consoles and the metrics.
pub const NEXT_CURSOR: &str = "reconcile.next";

/// How often requests and the schedule are looked at.
const TICK: Duration = Duration::from_secs(1);

/// The engine's reconciliation task: the daily run and operators' requests.
#[derive(Clone)]
pub struct Scheduler {
    pub reconciler: Reconciler,
    pub schedule: ReconcileSchedule,
    pub wake: Arc<Notify>,
}

fn cursor_time(store: &Store, name: &str) -> Option<Timestamp> {
    store.cursor(name).ok().flatten().and_then(|t| t.parse().ok())
}

impl Scheduler {
    pub async fn run(self, cancel: CancellationToken) {
        let store = self.reconciler.store.clone();
        // The first start counts from now: no run for a time before hrsync was here.
        let mut last = match cursor_time(&store, LAST_SCHEDULED_CURSOR) {
            Some(last) => last,
            None => {
                let now = Timestamp::now();
                let _ = store.set_cursor(LAST_SCHEDULED_CURSOR, &now.to_string());
                now
            }
        };
        let mut published = None;
        // The request taken, kept here too: a store that cannot record it (a full
        // disk) must not start the same operator's run again every second.
        let mut taken_here: Option<String> = None;
        let mut ticker = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let next = self.schedule.next_after(last);
            if published != Some(next) && store.set_cursor(NEXT_CURSOR, &next.to_string()).is_ok() {
                published = Some(next);
            }
            let requested = store.cursor(REQUEST_CURSOR).ok().flatten();
            let taken = store.cursor(TAKEN_CURSOR).ok().flatten();
            let trigger = if requested.is_some() && requested != taken && requested != taken_here {
                if let Err(error) = store.set_cursor(TAKEN_CURSOR, requested.as_deref().unwrap_or_default()) {
                    tracing::warn!(%error, "cannot record that a reconciliation request was taken; it runs once");
                }
                taken_here = requested.clone();
                "operator"
            } else if let Some(due) = self.schedule.due(last, Timestamp::now()) {
                last = due;
                let _ = store.set_cursor(LAST_SCHEDULED_CURSOR, &due.to_string());
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
                        error = run.error.as_deref().unwrap_or(""),
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
