//! The durable store: the journal of events, their attempts and writes, cursors and
//! the hash-chained audit log, in one SQLite file or a PostgreSQL database that
//! several engines share. It records and answers queries; it decides nothing.
//! Every table is written once over `sql::Sql`, which runs on both, and `Store`
//! holds either backend: the engine, console and CLI do not know which.
//!
//! Every call is blocking and short (one small transaction or one page of rows). From
//! async code call it directly for single events and pages; use `spawn_blocking` for
//! big batches. On SQLite one writer connection sits behind a mutex; reads use their
//! own connections from a small pool, so a console page never waits on a write (WAL).
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

use jiff::Timestamp;
use parking_lot::RwLock;

use crate::model::{EventId, EventStatus, Secret};
use sql::Sql;
use sql::sqlite::SqliteFile;

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
    #[error("the store {place} was opened read-only: {action} needs a store opened for writing")]
    ReadOnly { place: String, action: &'static str },
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

/// A handle on the store, on either backend: the SQLite file (`[store] path`) or
/// a PostgreSQL database (`[store] url`). Cheap to clone and share between tokio
/// tasks; every table's calls (the traits on `Transact`) and `transaction` run
/// the same on both.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    /// What audit appends are an HMAC with (`set_audit_key`); none: plain SHA-256.
    audit_key: RwLock<Option<Arc<audit_key::AuditKey>>>,
}

enum Backend {
    /// Boxed: its connections are several times the size of the other's pool handle.
    Sqlite(Box<SqliteFile>),
    Postgres {
        store: PgStore,
        /// Where it is, for messages: the URL as configured (it holds no password).
        url: String,
        /// Opened by a command that only looks: every write is refused.
        read_only: bool,
    },
}

impl Store {
    fn on(backend: Backend) -> Store {
        Store {
            inner: Arc::new(Inner {
                backend,
                audit_key: RwLock::new(None),
            }),
        }
    }

    /// Opens (creating if needed) the SQLite store file and brings its schema up
    /// to date. A new file is created 0600, and so are its `-wal` and `-shm`
    /// (SQLite gives them the file's mode): the journal and audit log hold names
    /// and emails.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Ok(Store::on(Backend::Sqlite(Box::new(SqliteFile::open(
            path.as_ref(),
        )?))))
    }

    /// Opens an existing SQLite store for reading only, for the commands that only
    /// look: SQLite's read-only flag, no migration (a schema older or newer than
    /// this hrsync's is refused), and writes and `checkpoint` refuse. A live store
    /// is read as any reader reads it, beside a running engine.
    ///
    /// A copy kept as evidence must be readable as it is: a store file no one may
    /// write (no write bits) whose `-wal` is missing or empty is read `immutable`,
    /// which creates no `-wal` or `-shm` beside it (SQLite would make them even for a
    /// read-only connection wherever it may, as root anywhere). Any store whose
    /// `-shm` cannot be made (a read-only folder) and whose `-wal` is missing or
    /// empty is read the same way; with committed pages in its `-wal`, it is an error.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let file = SqliteFile::open_read_only(path.as_ref())?;
        Ok(Store::on(Backend::Sqlite(Box::new(file))))
    }

    /// Connects to the store's PostgreSQL database (`PgStore::open`: the schema is
    /// brought up to date). Several engines may share it.
    pub fn open_postgres(url: &str, password: Option<&Secret>) -> Result<Store, StoreError> {
        Store::postgres(url, password, false)
    }

    /// As `open_postgres`, for a command that only looks: it writes nothing.
    pub fn open_postgres_read_only(url: &str, password: Option<&Secret>) -> Result<Store, StoreError> {
        Store::postgres(url, password, true)
    }

    fn postgres(url: &str, password: Option<&Secret>, read_only: bool) -> Result<Store, StoreError> {
        Ok(Store::on(Backend::Postgres {
            store: PgStore::open(url, password)?,
            url: url.to_string(),
            read_only,
        }))
    }

    /// Whether it was opened for reading only.
    pub fn is_read_only(&self) -> bool {
        match &self.inner.backend {
            Backend::Sqlite(file) => file.is_read_only(),
            Backend::Postgres { read_only, .. } => *read_only,
        }
    }

    /// Whether this store is PostgreSQL's, where several engines may share it.
    pub fn is_shared(&self) -> bool {
        matches!(self.inner.backend, Backend::Postgres { .. })
    }

    /// The SQLite file, if the store is one.
    pub fn path(&self) -> Option<&Path> {
        match &self.inner.backend {
            Backend::Sqlite(file) => Some(file.path()),
            Backend::Postgres { .. } => None,
        }
    }

    /// Where the store is, for people: the SQLite file's path or the PostgreSQL
    /// URL as configured (which never holds a password).
    pub fn location(&self) -> String {
        match &self.inner.backend {
            Backend::Sqlite(file) => file.path().display().to_string(),
            Backend::Postgres { url, .. } => url.clone(),
        }
    }

    fn read_only_error(&self, action: &'static str) -> StoreError {
        StoreError::ReadOnly {
            place: self.location(),
            action,
        }
    }

    /// Copies what SQLite's write-ahead log holds into the database file, as far
    /// as no reader still needs it, on a connection of its own: writes go on
    /// meanwhile. Returns the log's frames and how many of them are in the file
    /// now. PostgreSQL checkpoints by itself: nothing to do there.
    pub fn checkpoint(&self) -> Result<(i64, i64), StoreError> {
        match &self.inner.backend {
            Backend::Sqlite(file) => file.checkpoint(),
            Backend::Postgres { read_only: true, .. } => Err(self.read_only_error("a checkpoint")),
            Backend::Postgres { .. } => Ok((0, 0)),
        }
    }

    /// Runs one read as it is: on SQLite on a reader outside a transaction (a
    /// single statement is its own consistent view, and the engine's hot reads pay
    /// no `BEGIN` and `COMMIT` for it); on PostgreSQL as `read`.
    pub(crate) fn read_one<T: Send>(
        &self,
        work: impl FnOnce(&dyn Sql) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        match &self.inner.backend {
            Backend::Sqlite(file) => file.read_one(work),
            Backend::Postgres { store, .. } => store.read(work),
        }
    }

    /// The clock a transaction stamps its rows with: on SQLite, which one engine
    /// holds, this process's; on PostgreSQL the server's, which engines share.
    fn clock(&self, sql: &dyn Sql) -> Result<Timestamp, StoreError> {
        match sql.dialect() {
            sql::Dialect::Sqlite => Ok(now()),
            sql::Dialect::Postgres => Ok(from_micros(sql::clock(sql)?)),
        }
    }

    /// Runs `work` in one write transaction: it commits if `work` returns Ok, else
    /// nothing of it stays. Use it to journal a transition and its audit entry
    /// together. Where engines share the store, a transaction the database gave up
    /// for another's (a deadlock, say) runs again from the start
    /// (`Transact::write_retrying`), so `work` must do nothing but its statements.
    pub fn transaction<T: Send>(
        &self,
        work: impl Fn(&StoreTx<'_>) -> Result<T, StoreError> + Send + Sync,
    ) -> Result<T, StoreError> {
        self.write_retrying(|sql| self.run_in(sql, &work))
    }

    /// As `transaction`, for work that takes what it journals by move (a batch
    /// handed over, not copied): it runs once, and a transaction the database gave
    /// up comes back as the error, for the caller to try again as it would any
    /// failure to journal (a webhook is answered 503, a duty runs again).
    pub fn transaction_once<T: Send>(
        &self,
        work: impl FnOnce(&StoreTx<'_>) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        self.write(|sql| self.run_in(sql, work))
    }

    /// `work` on a `StoreTx` over `sql`, the counters' changes written after it.
    fn run_in<T>(
        &self,
        sql: &dyn Sql,
        work: impl FnOnce(&StoreTx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let audit_key = self.inner.audit_key.read().clone();
        let tx = StoreTx::new(sql, self.clock(sql)?, audit_key);
        let out = work(&tx)?;
        tx.finish()?;
        Ok(out)
    }
}

impl Transact for Store {
    fn write<T: Send>(
        &self,
        work: impl FnOnce(&dyn Sql) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        match &self.inner.backend {
            Backend::Sqlite(file) => file.write(work),
            Backend::Postgres { read_only: true, .. } => Err(self.read_only_error("a write")),
            Backend::Postgres { store, .. } => store.write(work),
        }
    }

    fn read<T: Send>(
        &self,
        work: impl FnOnce(&dyn Sql) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        match &self.inner.backend {
            Backend::Sqlite(file) => file.read(work),
            Backend::Postgres { store, .. } => store.read(work),
        }
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
