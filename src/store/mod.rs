//! The durable store: the journal of events, their attempts and writes, cursors and
//! the hash-chained audit log, in one SQLite file. It records and answers queries;
//! it decides nothing.
//!
//! Every call is blocking and short (one small transaction or one page of rows). From
//! async code call it directly for single events and pages; use `spawn_blocking` for
//! big batches. One writer connection sits behind a mutex; reads use their own
//! connections from a small pool, so a console page never waits on a write (WAL).
//! Payloads are stored as given: callers must never hand the store request headers.

mod audit;
mod audit_key;
mod console_queries;
mod credentials;
mod duplicates;
mod export;
mod journal;
mod lock;
mod page;
mod queries;
mod reconcile;
mod schema;
mod transitions;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use parking_lot::{Mutex, RwLock};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::model::{EventId, EventStatus};

pub use audit::{AuditBreak, AuditFilter, AuditReport, GENESIS_HASH, KeyUse};
pub use audit_key::{AuditCheckpoint, AuditKey, AuditKeyError, AuditSeal, MIN_AUDIT_KEY_BYTES};
pub use console_queries::Toward;
pub use credentials::{CredentialRow, CredentialTotals, NewCredential};
pub use duplicates::{DuplicateCounts, DuplicateGroup, DuplicateMember, Sharer, SuspectedGroup};
pub use export::{AUDIT_CSV_HEADER, AuditFormat};
pub use journal::{Appended, StoreTx};
pub use lock::{EngineLock, LockError, host_name};
pub use queries::{EventDetail, EventFilter, EventSummary, StoreCounts};
pub use reconcile::{DriftItem, Finding, Flag, ReconcileRun};
pub use watch::ChangeWatch;

/// Read connections kept open for reuse; more are opened when needed, then dropped.
const IDLE_READERS: usize = 4;
/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The writer's page cache (negative: KiB, as SQLite reads `cache_size`).
const WRITER_CACHE_KIB: i64 = -65_536;
/// Prepared statements the writer keeps.
const WRITER_STATEMENTS: usize = 128;
/// The log size (pages) at which the writer checkpoints itself after a commit.
const WRITER_CHECKPOINT_PAGES: i64 = 8_192;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store file has schema version {found}, this hrsync knows up to {known}: upgrade hrsync")]
    NewerSchema { found: i64, known: i64 },
    #[error("event {0} is not in the journal")]
    NoSuchEvent(EventId),
    #[error("event {id} is {from}: cannot {action} it")]
    IllegalTransition {
        id: EventId,
        from: EventStatus,
        action: &'static str,
    },
    #[error("event {index} of the batch is invalid: {reason}")]
    InvalidEvent { index: usize, reason: String },
    #[error("store row {row} holds an unreadable {column}: {reason}")]
    Corrupt {
        row: i64,
        column: &'static str,
        reason: String,
    },
    #[error("cannot write the audit export: {0}")]
    Export(String),
    #[error(
        "the audit log is keyed (sealed with key {key_id}) and this process has no audit key: \
         set the variable [audit] key_env names (HRSYNC_AUDIT_KEY with --db)"
    )]
    AuditKeyMissing { key_id: String },
}

/// A handle on the store; cheap to clone and share between tokio tasks.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Its own connection, so copying the log into the file never holds up a write.
    checkpointer: Mutex<Option<Connection>>,
    /// What audit appends are an HMAC with (`set_audit_key`); none: plain SHA-256.
    audit_key: RwLock<Option<Arc<audit_key::AuditKey>>>,
}

/// A pooled read connection; goes back to the pool when dropped.
pub struct Reader<'a> {
    store: &'a Store,
    conn: Option<Connection>,
}

impl std::ops::Deref for Reader<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("a reader holds its connection until dropped")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut idle = self.store.inner.readers.lock();
            if idle.len() < IDLE_READERS {
                idle.push(conn);
            }
        }
    }
}

impl Store {
    /// Opens (creating if needed) the store file and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut writer = Connection::open(&path)?;
        writer.busy_timeout(BUSY_TIMEOUT)?;
        let _mode: String = writer.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        // FULL: a webhook is answered 200 only after its batch is on disk.
        writer.pragma_update(None, "synchronous", "FULL")?;
        writer.pragma_update(None, "foreign_keys", "ON")?;
        // The writer's own pages stay valid across its commits: a bigger cache saves
        // reading back the journal's hot pages (its indexes, recent events) on every write.
        writer.pragma_update(None, "cache_size", WRITER_CACHE_KIB)?;
        // Every statement the writer runs stays prepared (rusqlite keeps 16 by default,
        // fewer than a worker's turn uses, so some were parsed again on every turn).
        writer.set_prepared_statement_cache_capacity(WRITER_STATEMENTS);
        // Only a backstop: a running engine checkpoints on its own connection
        // (`Store::checkpoint`), off the writer's path.
        writer.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
        schema::migrate(&mut writer)?;
        Ok(Store {
            inner: Arc::new(Inner {
                path,
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                checkpointer: Mutex::new(None),
                audit_key: RwLock::new(None),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// A read-only connection that sees the last committed state and never blocks writers.
    pub fn reader(&self) -> Result<Reader<'_>, StoreError> {
        let pooled = self.inner.readers.lock().pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = Connection::open_with_flags(&self.inner.path, flags)?;
                conn.busy_timeout(BUSY_TIMEOUT)?;
                conn
            }
        };
        Ok(Reader {
            store: self,
            conn: Some(conn),
        })
    }

    /// Copies what the write-ahead log holds into the database file, as far as no
    /// reader still needs it, on a connection of its own: writes go on meanwhile.
    /// Returns the log's frames and how many of them are in the file now.
    pub fn checkpoint(&self) -> Result<(i64, i64), StoreError> {
        let mut slot = self.inner.checkpointer.lock();
        let conn = match slot.as_mut() {
            Some(conn) => conn,
            None => {
                let conn = Connection::open(&self.inner.path)?;
                conn.busy_timeout(BUSY_TIMEOUT)?;
                slot.insert(conn)
            }
        };
        let frames = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        })?;
        Ok(frames)
    }

    /// Runs `work` in one write transaction: it commits if `work` returns Ok, else
    /// nothing of it stays. Use it to journal a transition and its audit entry together.
    pub fn transaction<T>(
        &self,
        work: impl FnOnce(&StoreTx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.inner.writer.lock();
        // IMMEDIATE takes the write lock up front, so a CLI process writing at the same
        // time waits (busy_timeout) instead of failing half-way with SQLITE_BUSY.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let store_tx = StoreTx::new(&tx, now(), self.inner.audit_key.read().clone());
        let out = work(&store_tx)?;
        store_tx.write_counts()?;
        tx.commit()?;
        Ok(out)
    }
}

/// Times are stored as whole microseconds since the epoch: ordered, compact, exact.
pub(crate) fn now() -> Timestamp {
    from_micros(to_micros(Timestamp::now()))
}

pub(crate) fn to_micros(at: Timestamp) -> i64 {
    at.as_microsecond()
}

pub(crate) fn from_micros(micros: i64) -> Timestamp {
    Timestamp::from_microsecond(micros).unwrap_or(Timestamp::UNIX_EPOCH)
}
