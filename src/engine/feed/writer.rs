//! Writes the learner feed: the whole snapshot of the learners the store keeps,
//! after a batch changed them (the apply worker's `flush` wakes this task) and at
//! least every `[lms] every_s`. Each write is atomic: the marker `<file>.done` is
//! removed, the file written under a temporary name in the same folder, synced
//! and renamed, then the marker written, so a marker always stands beside a
//! whole file. The same then goes to the `upload` server when there is one.
//! What the file and the upload hold is counted in the store, so a failure is
//! tried again on the next wake (or look) and a restart owes nothing it wrote.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::FeedColumns;
use crate::config::LearnerFeed;
use crate::connectors::ConnectorError;
use crate::connectors::csv_files::write_feed;
use crate::connectors::inbox::{self, Inbox};
use crate::engine::operator::health::{Health, System};
use crate::store::{FeedSnapshot, LearnerFeed as _, Store, StoreError};

/// Writes follow a batch by this much, so a burst of batches makes one write.
const GATHER: Duration = Duration::from_millis(300);
/// How often the writer looks whether a write is due without being woken.
const LOOK_EVERY: Duration = Duration::from_secs(60);
/// Beside the feed once it is whole.
pub const DONE_SUFFIX: &str = ".done";

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("the learner feed's store: {0}")]
    Store(#[from] StoreError),
    #[error("writing the learner feed to {location}: {source}")]
    Outbox {
        location: String,
        source: ConnectorError,
    },
    #[error("uploading the learner feed to {location}: {source}")]
    Upload {
        location: String,
        source: ConnectorError,
    },
}

/// What one write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub learners: usize,
    pub bytes: usize,
    pub uploaded: bool,
}

pub struct FeedWriter {
    store: Store,
    columns: FeedColumns,
    file_name: String,
    every: Duration,
    outbox: Arc<dyn Inbox>,
    upload: Option<Arc<dyn Inbox>>,
    wake: Arc<Notify>,
    /// One write at a time (the task's, and a caller's such as a test's).
    writing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for FeedWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedWriter")
            .field("outbox", &self.outbox.location())
            .field("file_name", &self.file_name)
            .field("upload", &self.upload.as_ref().map(|u| u.location().to_string()))
            .finish_non_exhaustive()
    }
}

impl FeedWriter {
    /// Nothing is written or connected yet; a wrong column or location is named.
    pub async fn open(store: Store, feed: &LearnerFeed) -> Result<FeedWriter, ConnectorError> {
        let columns = FeedColumns::new(feed).map_err(|why| ConnectorError::Permanent {
            status: None,
            message: why,
        })?;
        let outbox = inbox::open(&feed.outbox.display().to_string(), &feed.sftp).await?;
        let upload = match &feed.upload {
            Some(location) => Some(inbox::open(location, &feed.sftp).await?),
            None => None,
        };
        Ok(FeedWriter {
            store,
            columns,
            file_name: feed.file_name.clone(),
            every: feed.every,
            outbox,
            upload,
            wake: Arc::new(Notify::new()),
            writing: tokio::sync::Mutex::new(()),
        })
    }

    /// What the learner target pokes after a batch.
    pub fn wake(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Writes (and uploads) the feed when the learners changed since the last
    /// write, the upload is behind, or `every` has passed since the last write.
    /// Nothing is written before the first learner: an empty feed would tell a
    /// full-snapshot importer that everyone left.
    pub async fn write_if_due(&self, now: Timestamp) -> Result<Option<Written>, FeedError> {
        let _one = self.writing.lock().await;
        let state = self.store.feed_outbox()?;
        let every = SignedDuration::try_from(self.every).unwrap_or(SignedDuration::MAX);
        let changed = state.written != state.changes;
        let daily = state.written_at.is_some_and(|at| now.duration_since(at) >= every);
        let upload_behind = self.upload.is_some() && state.uploaded != state.changes;
        if !(changed || daily || upload_behind) {
            return Ok(None);
        }
        let (store, columns) = (self.store.clone(), self.columns.clone());
        let (snapshot, bytes) = tokio::task::spawn_blocking(move || {
            let snapshot = store.feed_snapshot()?;
            let bytes = feed_bytes(&columns, &snapshot);
            Ok::<_, StoreError>((snapshot, bytes))
        })
        .await
        .expect("writing the feed to memory does not panic")?;
        put(self.outbox.as_ref(), &self.file_name, &bytes)
            .await
            .map_err(|source| FeedError::Outbox {
                location: self.outbox.location().to_string(),
                source,
            })?;
        self.store
            .transaction(|tx| tx.feed_written(snapshot.changes, now))?;
        let mut written = Written {
            learners: snapshot.learners.len(),
            bytes: bytes.len(),
            uploaded: false,
        };
        if let Some(upload) = &self.upload {
            put(upload.as_ref(), &self.file_name, &bytes)
                .await
                .map_err(|source| FeedError::Upload {
                    location: upload.location().to_string(),
                    source,
                })?;
            self.store.transaction(|tx| tx.feed_uploaded(snapshot.changes))?;
            written.uploaded = true;
        }
        Ok(Some(written))
    }

    /// Writes when woken or due, until `cancel`; then once more if anything is owed.
    pub async fn run(self: Arc<Self>, health: Health, cancel: CancellationToken) {
        let look = self.every.min(LOOK_EVERY);
        loop {
            let stopping = tokio::select! {
                _ = cancel.cancelled() => true,
                _ = self.wake.notified() => false,
                _ = tokio::time::sleep(look) => false,
            };
            if !stopping {
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    _ = tokio::time::sleep(GATHER) => {}
                }
            }
            match self.write_if_due(Timestamp::now()).await {
                Ok(Some(written)) => {
                    tracing::info!(
                        file = %self.file_name,
                        outbox = %self.outbox.location(),
                        learners = written.learners,
                        bytes = written.bytes,
                        uploaded = written.uploaded,
                        "learner feed written"
                    );
                    health.ok(System::Lms);
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%error, "the learner feed could not be written; it is tried again");
                    health.failed(System::Lms, &error.to_string());
                }
            }
            if stopping || cancel.is_cancelled() {
                return;
            }
        }
    }
}

/// The feed's bytes: every learner, with the groups it is a member of.
fn feed_bytes(columns: &FeedColumns, snapshot: &FeedSnapshot) -> Vec<u8> {
    let mut groups_of: HashMap<&str, Vec<String>> = HashMap::new();
    for (group, members) in &snapshot.groups {
        for member in members {
            groups_of.entry(member.as_str()).or_default().push(group.clone());
        }
    }
    let rows: Vec<_> = snapshot
        .learners
        .iter()
        .map(|(id, resource)| columns.row(resource, groups_of.remove(id.as_str()).unwrap_or_default()))
        .collect();
    write_feed(&columns.spec, &rows)
}

/// The marker goes, the file is replaced whole, the marker comes back.
async fn put(place: &dyn Inbox, file_name: &str, bytes: &[u8]) -> Result<(), ConnectorError> {
    let marker = format!("{file_name}{DONE_SUFFIX}");
    // Absent the first time, or taken away with the file by the importer.
    let _ = place.remove(&marker).await;
    place.write(file_name, bytes).await?;
    place.write(&marker, b"").await
}
