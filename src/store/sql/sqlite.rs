//! The store in one SQLite file (`SqliteFile`): one writer connection behind a
//! mutex, read connections from a small pool (WAL: a read never waits on a
//! write), and `Sql` on a connection inside the transaction its caller opened.

use std::path::{Path, PathBuf};
use std::time::Duration;

use parking_lot::Mutex;
use rusqlite::types::{ToSqlOutput, Type, Value, ValueRef};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::{Bytes, Dialect, Param, Prepared, Row, Sql};
use crate::store::{StoreError, private_files, schema};

/// A connection already inside a transaction (a `StoreTx`'s, say).
pub struct SqliteSql<'a> {
    pub conn: &'a rusqlite::Connection,
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Param::Int(Some(n)) => ToSqlOutput::Owned(Value::Integer(n)),
            Param::Text(Some(text)) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Param::Bytes(Some(bytes)) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
            Param::Int(None) | Param::Text(None) | Param::Bytes(None) => ToSqlOutput::Owned(Value::Null),
        })
    }
}

/// A row of SQLite's, read as `Row`.
pub(crate) struct SqliteRow<'r, 's>(pub(crate) &'r rusqlite::Row<'s>);

impl Row for SqliteRow<'_, '_> {
    fn int(&self, column: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.0.get(column)?)
    }

    fn text(&self, column: usize) -> Result<Option<String>, StoreError> {
        Ok(self.0.get(column)?)
    }

    /// A blob, or text kept there before the column held bytes.
    fn bytes(&self, column: usize) -> Result<Option<Bytes>, StoreError> {
        match self.0.get_ref(column)? {
            ValueRef::Null => Ok(None),
            ValueRef::Blob(bytes) => Ok(Some(Bytes::Blob(bytes.to_vec()))),
            ValueRef::Text(text) => match String::from_utf8(text.to_vec()) {
                Ok(text) => Ok(Some(Bytes::Text(text))),
                Err(e) => Err(rusqlite::Error::FromSqlConversionFailure(column, Type::Text, e.into()).into()),
            },
            other => {
                Err(rusqlite::Error::InvalidColumnType(column, "bytes".into(), other.data_type()).into())
            }
        }
    }
}

impl Sql for SqliteSql<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        let changed = self
            .conn
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(params))?;
        Ok(changed as u64)
    }

    fn query(
        &self,
        sql: &str,
        params: &[Param<'_>],
        each: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            each(&SqliteRow(row))?;
        }
        Ok(())
    }

    fn prepare<'s>(&'s self, sql: &str) -> Result<Box<dyn Prepared + 's>, StoreError> {
        Ok(Box::new(SqlitePrepared(self.conn.prepare_cached(sql)?)))
    }
}

/// A statement from the connection's cache, back in it when dropped.
struct SqlitePrepared<'c>(rusqlite::CachedStatement<'c>);

impl Prepared for SqlitePrepared<'_> {
    fn execute(&mut self, params: &[Param<'_>]) -> Result<u64, StoreError> {
        Ok(self.0.execute(rusqlite::params_from_iter(params))? as u64)
    }

    fn query(
        &mut self,
        params: &[Param<'_>],
        each: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut rows = self.0.query(rusqlite::params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            each(&SqliteRow(row))?;
        }
        Ok(())
    }
}

/// Read connections kept open for reuse; more are opened when needed, then dropped.
const IDLE_READERS: usize = 4;
/// How long a statement waits for another process's write lock before failing.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The writer's page cache (negative: KiB, as SQLite reads `cache_size`).
/// Not bigger: a commit after a B-tree split walks every bucket of the cache's
/// hash (the split numbers a page past the file's end, that of the lock byte,
/// and the commit's truncate then scans the whole hash), so the walk grows with
/// the cache. At 64 MiB it was 7 % of the engine's CPU in an initial load; at
/// 16 MiB the load takes 5-10 % less CPU an employee and 15-40 MB less memory,
/// and a million-event journal is as fast as before (docs/performance.md).
const WRITER_CACHE_KIB: i64 = -16_384;
/// Prepared statements the writer keeps.
const WRITER_STATEMENTS: usize = 128;
/// The log size (pages, 256 MiB) at which the writer checkpoints itself after a
/// commit: only a backstop for when the engine's checkpointer falls far behind.
/// At 8,192 pages a burst of intake into a journal of a million events crossed it
/// every few hundred milliseconds, and every commit past it checkpointed in line,
/// the webhook senders waiting: 0.74 of the intake of an empty store, 0.83–0.87
/// with this backstop (`cargo bench --bench journal_growth`, docs/performance.md).
const WRITER_CHECKPOINT_PAGES: i64 = 65_536;
/// The log file is cut back to this many bytes when it starts over, so a burst
/// leaves no quarter-gigabyte file behind.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// The store's SQLite file and its connections.
pub(crate) struct SqliteFile {
    path: PathBuf,
    /// None when opened read-only: nothing may write.
    writer: Option<Mutex<Connection>>,
    /// What read connections open.
    source: ReadSource,
    readers: Mutex<Vec<Connection>>,
    /// Its own connection, so copying the log into the file never holds up a write.
    checkpointer: Mutex<Option<Connection>>,
}

/// SQLite counts the memory it holds (`SQLITE_CONFIG_MEMSTATUS`, on unless built
/// otherwise) under one process-wide mutex taken on every allocation and free;
/// nothing here reads the count. Turned off once, before SQLite starts.
#[allow(unsafe_code)]
fn without_memory_count() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: an integer option set before this process's first connection.
        // Once SQLite has started (a connection opened elsewhere first) it answers
        // SQLITE_MISUSE and changes nothing, and the count stays on.
        let _ = unsafe { rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0) };
    });
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
struct Reader<'a> {
    file: &'a SqliteFile,
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
            let mut idle = self.file.readers.lock();
            if idle.len() < IDLE_READERS {
                idle.push(conn);
            }
        }
    }
}

impl SqliteFile {
    /// Opens (creating if needed) the store file and brings its schema up to date.
    /// A new file is created 0600, and so are its `-wal` and `-shm` (SQLite gives
    /// them the file's mode): the journal and audit log hold names and emails.
    pub(crate) fn open(path: &Path) -> Result<SqliteFile, StoreError> {
        without_memory_count();
        let path = path.to_path_buf();
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
        // The writer's own pages stay valid across its commits: its cache saves
        // reading back the journal's hot pages (its indexes, recent events) on every write.
        writer.pragma_update(None, "cache_size", WRITER_CACHE_KIB)?;
        // A statement's journal (the pages it changed, kept until it ends) stays in
        // memory: past 64 KiB SQLite moved it to a temporary file, and every later
        // statement of the transaction then paid a write(2) for each page it touched.
        writer.pragma_update(None, "temp_store", "MEMORY")?;
        // Every statement the writer runs stays prepared (rusqlite keeps 16 by default,
        // fewer than a worker's turn uses, so some were parsed again on every turn).
        writer.set_prepared_statement_cache_capacity(WRITER_STATEMENTS);
        // Only a backstop: a running engine checkpoints on its own connection
        // (`Store::checkpoint`), off the writer's path.
        writer.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
        let _limit: i64 =
            writer.pragma_update_and_check(None, "journal_size_limit", WAL_SIZE_LIMIT, |r| r.get(0))?;
        schema::migrate(&mut writer)?;
        // After the first read, so SQLite has opened (or made) both.
        private_files::restrict_sidecars(&path).map_err(file_error)?;
        Ok(SqliteFile {
            path,
            writer: Some(Mutex::new(writer)),
            source: ReadSource::File,
            readers: Mutex::new(Vec::new()),
            checkpointer: Mutex::new(None),
        })
    }

    /// Opens an existing store for reading only (`Store::open_read_only`).
    pub(crate) fn open_read_only(path: &Path) -> Result<SqliteFile, StoreError> {
        without_memory_count();
        let path = path.to_path_buf();
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
        Ok(SqliteFile {
            path,
            writer: None,
            source,
            readers: Mutex::new(vec![conn]),
            checkpointer: Mutex::new(None),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn is_read_only(&self) -> bool {
        self.writer.is_none()
    }

    fn read_only_error(&self, action: &'static str) -> StoreError {
        StoreError::ReadOnly {
            place: self.path.display().to_string(),
            action,
        }
    }

    /// A read-only connection that sees the last committed state and never blocks writers.
    fn reader(&self) -> Result<Reader<'_>, StoreError> {
        let pooled = self.readers.lock().pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => self.source.open(&self.path)?,
        };
        Ok(Reader {
            file: self,
            conn: Some(conn),
        })
    }

    /// Runs `work` in one write transaction on the writer: it commits if `work`
    /// returns Ok, else nothing of it stays.
    pub(crate) fn write<T>(
        &self,
        work: impl FnOnce(&dyn Sql) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let Some(writer) = &self.writer else {
            return Err(self.read_only_error("a write"));
        };
        let mut conn = writer.lock();
        // IMMEDIATE takes the write lock up front, so a CLI process writing at the same
        // time waits (busy_timeout) instead of failing half-way with SQLITE_BUSY.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = work(&SqliteSql { conn: &tx })?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `work` in one read transaction on a reader: one view of the store.
    pub(crate) fn read<T>(
        &self,
        work: impl FnOnce(&dyn Sql) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let reader = self.reader()?;
        let tx = reader.unchecked_transaction()?;
        let out = work(&SqliteSql { conn: &tx })?;
        tx.finish()?;
        Ok(out)
    }

    /// Runs one read on a reader as it is, outside a transaction: a single
    /// statement is its own consistent view, with no `BEGIN` and `COMMIT` to pay.
    pub(crate) fn read_one<T>(
        &self,
        work: impl FnOnce(&dyn Sql) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let reader = self.reader()?;
        work(&SqliteSql { conn: &reader })
    }

    /// Copies what the write-ahead log holds into the database file, as far as no
    /// reader still needs it, on a connection of its own: writes go on meanwhile.
    /// Returns the log's frames and how many of them are in the file now.
    pub(crate) fn checkpoint(&self) -> Result<(i64, i64), StoreError> {
        if self.is_read_only() {
            return Err(self.read_only_error("a checkpoint"));
        }
        let mut slot = self.checkpointer.lock();
        let conn = match slot.as_mut() {
            Some(conn) => conn,
            None => {
                let conn = Connection::open(&self.path)?;
                conn.busy_timeout(BUSY_TIMEOUT)?;
                slot.insert(conn)
            }
        };
        let frames = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        })?;
        Ok(frames)
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
