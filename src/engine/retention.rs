//! Retention as the engine runs it: every so often, the events finished longer
//! ago than `[store] keep_days` are compacted (`Store::compact`), a short batch
//! per transaction so webhooks and the workers wait at most one batch, and the
//! pages that frees are given back to the file system a few at a time.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio_util::sync::CancellationToken;

use super::supervise::RepeatedWarning;
use crate::store::{Compacted, Retention, Store, StoreError};

/// Events compacted per transaction.
const BATCH: usize = 500;
/// Free pages given back per transaction (4 KiB each).
const RELEASE: u32 = 2_048;

/// How often to look: a quarter of the retention, between a second and an hour.
pub fn every(keep: Duration) -> Duration {
    (keep / 4).clamp(Duration::from_secs(1), Duration::from_secs(3_600))
}

/// Compacts everything finished before `now - keep`, then gives free pages back
/// (on SQLite; PostgreSQL's autovacuum takes them). Returns the totals.
pub fn compact_now(store: &impl Retention, keep: Duration) -> Result<Compacted, StoreError> {
    let keep = SignedDuration::try_from(keep).unwrap_or(SignedDuration::MAX);
    let cutoff = Timestamp::now().checked_sub(keep).unwrap_or(Timestamp::MIN);
    let mut total = Compacted::default();
    loop {
        let step = store.compact(cutoff, BATCH)?;
        total.events += step.events;
        total.writes += step.writes;
        if !step.more {
            break;
        }
    }
    let mut free = u64::MAX;
    while free > 0 {
        let left = store.release_free_pages(RELEASE)?;
        if left >= free {
            break;
        }
        free = left;
    }
    Ok(total)
}

/// The engine's retention task: until `cancel`.
pub async fn run(store: Store, keep: Duration, cancel: CancellationToken) {
    let mut failing = RepeatedWarning::default();
    loop {
        let store = store.clone();
        match tokio::task::spawn_blocking(move || compact_now(&store, keep)).await {
            Ok(Ok(done)) => {
                failing.clear("the journal compacts again");
                if done.events > 0 {
                    tracing::info!(
                        events = done.events,
                        writes = done.writes,
                        "compacted finished events"
                    );
                }
            }
            Ok(Err(error)) => failing.warn("cannot compact the journal", &error.to_string()),
            Err(_) => return,
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every(keep)) => {}
        }
    }
}
