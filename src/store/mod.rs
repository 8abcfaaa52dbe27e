//! The durable store: the journal of events, their attempts and writes, cursors and
//! the hash-chained audit log, in one SQLite file. It records and answers queries;
//! it decides nothing. Table by table it moves onto `sql::Sql`, which runs on
//! SQLite and on PostgreSQL (`PgStore`): leases, engines, cursors, control, the
//! journal (events, writes, failures, counters), the audit log, enrolments and
//! manager waits, people and duplicate groups, credentials, shadow mode, the
//! parallel run, applied records, retention, reconciliation runs, drift and
//! flags, export files, the LMS feed and who reports to whom: every table.
//!
//! Every call is blocking and short (one small transaction or one page of rows). From
//! async code call it directly for single events and pages; use `spawn_blocking` for
//! big batches. One writer connection sits behind a mutex; reads use their own
//! connections from a small pool, so a console page never waits on a write (WAL).
//! Payloads are stored as given: callers must never hand the store request headers.

mod applied;
mod audit;
mod audit_key;
mod console_queries;
mod control;
mod credentials;
pub mod csv_cells;
mod cursors;
mod drift;
mod duplicates;
mod engines;
mod enrolments;
mod export;
mod feed;
mod files;
mod flags;
mod journal;
mod lease;
mod lock;
mod page;
mod parallel;
pub mod private_files;
mod queries;
mod reconcile;
mod reports;
mod retention;
mod schema;
mod shadow;
pub mod sql;
mod transitions;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use parking_lot::{Mutex, RwLock};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::model::{EventId, EventStatus};

pub use applied::AppliedRecords;
pub use audit::{AuditBreak, AuditFilter, AuditLog, AuditReport, AuditTx, GENESIS_HASH, KeyUse};
pub use audit_key::{AuditCheckpoint, AuditKey, AuditKeyError, AuditSeal, MIN_AUDIT_KEY_BYTES};
pub use console_queries::{ConsolePages, HeldCounts};
pub use control::{ControlPlane, PublishedStatus, ReconcileControl};
pub use credentials::{CredentialLedger, CredentialRow, CredentialTotals, NewCredential};
pub use cursors::Cursors;
pub use drift::{DriftItem, DriftItems};
pub use duplicates::{DuplicateCounts, DuplicateGroup, DuplicateMember, Duplicates, Sharer, SuspectedGroup};
pub use engines::{EngineRecord, Engines};
pub use enrolments::Enrolments;
pub use export::{AUDIT_CSV_HEADER, AuditFormat};
pub use feed::{FeedKeys, FeedOutbox, FeedSnapshot, LearnerFeed};
pub use files::{ExportFiles, FileTotals};
pub use flags::{Flag, FlagQueue};
pub use journal::{Appended, Journal, JournalTx, ReadyHead, StoreTx};
pub use lease::{Lease, LeaseHolder, Leases};
pub use lock::{EngineLock, LockError, host_name};
pub use page::Toward;
pub use parallel::{ParallelDay, ParallelRun};
pub use queries::{EventDetail, EventFilter, EventReads, EventSummary, StoreCounts};
pub use reconcile::{Finding, ReconcileRun, ReconcileRuns};
pub use reports::ReportsTo;
pub use retention::{Compacted, Retention};
pub use shadow::{LeftShadow, Shadow, ShadowMode};
pub use sql::Transact;
pub use sql::postgres::PgStore;
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
    #[error("store database error (PostgreSQL): {}", sql::postgres::describe(.0))]
    Postgres(#[from] postgres::Error),
    #[error("[store] url is not a PostgreSQL connection URL: {reason}")]
    PostgresUrl { reason: String },
    #[error("cannot reach the store's PostgreSQL server: {reason}")]
    PostgresUnreachable { reason: String },
    #[error(
        "the lease on {duty} is no longer held with token {token}: another engine took it over, or it expired"
    )]
    LeaseLost { duty: String, token: i64 },
    #[error("store file has schema version {found}, this hrsync knows up to {known}: upgrade hrsync")]
    NewerSchema { found: i64, known: i64 },
    #[error(
        "store file has schema version {found}, older than this hrsync's {known}, and a read-only \
         open does not upgrade it: run `hrsync run` on it once, or read it with the hrsync that wrote it"
    )]
    OlderSchema { found: i64, known: i64 },
    #[error(
        "store file has no hrsync tables (schema version 0): not an hrsync store, or a copy made \
         without its -wal while its pages were still there"
    )]
    NoSchema,
    #[error(
        "the -wal of the store {} holds changes not yet in the file, and SQLite cannot make the \
         -shm it needs to read them here (a read-only folder?): copy the file with its -wal into a \
         folder you may write, or checkpoint the store where it was written",
        path.display()
    )]
    UnreadableWal { path: PathBuf },
    #[error("the store {} was opened read-only: {action} needs a store opened for writing", path.display())]
    ReadOnly { path: PathBuf, action: &'static str },
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
    Export(#[source] std::io::Error),
    #[error("store file {}: {source}", path.display())]
    File { path: PathBuf, source: std::io::Error },
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
    /// None when opened read-only: nothing may write.
    writer: Option<Mutex<Connection>>,
    /// What read connections open.
    source: ReadSource,
    readers: Mutex<Vec<Connection>>,
    /// Its own connection, so copying the log into the file never holds up a write.
    checkpointer: Mutex<Option<Connection>>,
    /// What audit appends are an HMAC with (`set_audit_key`); none: plain SHA-256.
    audit_key: RwLock<Option<Arc<audit_key::AuditKey>>>,
}

/// How a read connection opens the store.
enum ReadSource {
    /// The file, through SQLite's WAL index (`-shm`) like any reader.
    File,
    /// An `immutable=1` URI: SQLite takes the file as it is, with no `-shm`, no
    /// locks and no `-wal`. Only for a file nothing writes and whose log is empty.
    Immutable(String),
}

impl ReadSource {
    fn open(&self, path: &Path) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = match self {
            ReadSource::File => Connection::open_with_flags(path, flags)?,
            ReadSource::Immutable(uri) => {
                Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)?
            }
        };
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(conn)
    }

    fn immutable(path: &Path) -> Result<ReadSource, StoreError> {
        let file_error = |source| StoreError::File {
            path: path.to_path_buf(),
            source,
        };
        let absolute = std::path::absolute(path).map_err(file_error)?;
        // `url` percent-encodes what SQLite's URI parser would read as a query or fragment.
        let mut uri = url::Url::from_file_path(&absolute)
            .map_err(|()| file_error(std::io::Error::other("cannot be written as a file: URI")))?;
        uri.set_query(Some("immutable=1"));
        Ok(ReadSource::Immutable(uri.into()))
    }
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
    /// A new file is created 0600, and so are its `-wal` and `-shm` (SQLite gives
    /// them the file's mode): the journal and audit log hold names and emails.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let file_error = |source| StoreError::File {
            path: path.clone(),
            source,
        };
        private_files::create_private(&path).map_err(file_error)?;
        let mut writer = Connection::open(&path)?;
        writer.busy_timeout(BUSY_TIMEOUT)?;
        // Free pages can be given back while the engine runs (`release_free_pages`).
        // SQLite takes this only in a new file, before it turns to WAL.
        writer.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
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
        // After the first read, so SQLite has opened (or made) both.
        private_files::restrict_sidecars(&path).map_err(file_error)?;
        Ok(Store {
            inner: Arc::new(Inner {
                path,
                writer: Some(Mutex::new(writer)),
                source: ReadSource::File,
                readers: Mutex::new(Vec::new()),
                checkpointer: Mutex::new(None),
                audit_key: RwLock::new(None),
            }),
        })
    }

    /// Opens an existing store for reading only, for the commands that only look:
    /// SQLite's read-only flag, no migration (a schema older or newer than this
    /// hrsync's is refused), and `transaction`/`checkpoint` refuse. A live store is
    /// read as any reader reads it, beside a running engine.
    ///
    /// A copy kept as evidence must be readable as it is: a store file no one may
    /// write (no write bits) whose `-wal` is missing or empty is read `immutable`,
    /// which creates no `-wal` or `-shm` beside it (SQLite would make them even for a
    /// read-only connection wherever it may, as root anywhere). Any store whose
    /// `-shm` cannot be made (a read-only folder) and whose `-wal` is missing or
    /// empty is read the same way; with committed pages in its `-wal`, it is an error.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        // There at all? Otherwise SQLite's "unable to open" would read as a -shm
        // problem below. By path: closing a descriptor of the store would drop
        // the locks this process's other connections to it hold.
        let meta = std::fs::metadata(&path).map_err(|source| StoreError::File {
            path: path.clone(),
            source,
        })?;
        let [wal, _] = private_files::sidecars(&path);
        let log_empty = std::fs::metadata(&wal).map_or(true, |m| m.len() == 0);
        // The first read needs the WAL index, so a failure to make one shows here.
        let checked = |source: ReadSource| -> Result<(ReadSource, Connection), StoreError> {
            let conn = source.open(&path)?;
            schema::check_current(&conn)?;
            Ok((source, conn))
        };
        let (source, conn) = if log_empty && meta.permissions().readonly() {
            checked(ReadSource::immutable(&path)?)?
        } else {
            match checked(ReadSource::File) {
                Err(e) if cannot_make_wal_index(&e) && log_empty => checked(ReadSource::immutable(&path)?)?,
                Err(e) if cannot_make_wal_index(&e) => return Err(StoreError::UnreadableWal { path }),
                other => other?,
            }
        };
        Ok(Store {
            inner: Arc::new(Inner {
                path,
                writer: None,
                source,
                readers: Mutex::new(vec![conn]),
                checkpointer: Mutex::new(None),
                audit_key: RwLock::new(None),
            }),
        })
    }

    /// Whether it was opened with `open_read_only`.
    pub fn is_read_only(&self) -> bool {
        self.inner.writer.is_none()
    }

    fn read_only_error(&self, action: &'static str) -> StoreError {
        StoreError::ReadOnly {
            path: self.inner.path.clone(),
            action,
        }
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// A read-only connection that sees the last committed state and never blocks writers.
    pub fn reader(&self) -> Result<Reader<'_>, StoreError> {
        let pooled = self.inner.readers.lock().pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => self.inner.source.open(&self.inner.path)?,
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
        if self.is_read_only() {
            return Err(self.read_only_error("a checkpoint"));
        }
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
        let Some(writer) = &self.inner.writer else {
            return Err(self.read_only_error("a write"));
        };
        let mut conn = writer.lock();
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

/// The errors a read-only connection gets when SQLite can neither create the
/// `-shm` (WAL index) nor open an existing one: a read-only folder or file.
fn cannot_make_wal_index(error: &StoreError) -> bool {
    matches!(
        error,
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            if matches!(e.code, rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen)
    )
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
