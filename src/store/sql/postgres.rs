//! The store on a PostgreSQL server: a pool of connections (r2d2) and `Sql` on
//! one of them inside a transaction. A query's rows are streamed to its caller
//! as the server sends them (`query_raw`), never loaded all at once: the audit
//! chain's verify and export keep their memory flat however long the chain.
//!
//! The client is the blocking `postgres` crate, like the store's API. It drives
//! its socket with a runtime of its own, which tokio refuses to start on a thread
//! that runs async tasks, and the engine calls the store from such threads. So
//! each call runs on a short scoped thread of its own (which may borrow the
//! caller's arguments) while the caller waits, as it waits on SQLite's disk.

use std::cell::{RefCell, RefMut};
use std::time::Duration;

use postgres::NoTls;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use r2d2_postgres::PostgresConnectionManager;

use super::{Bytes, Dialect, Param, Prepared, Row, Sql, Transact};
use crate::model::Secret;
use crate::store::{StoreError, schema};

/// Connections the pool keeps at most.
const POOL_SIZE: u32 = 8;
/// How long a call waits for a connection (the server down, or the pool busy).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// A handle on the store's PostgreSQL database; cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    /// Taken out only when dropped: see `Drop`.
    pool: Option<Pool>,
}

impl Drop for Inner {
    /// The pool's idle clients close with a blocking call, which panics on an async
    /// thread, and the last handle may be dropped on one: close them on a thread of their own.
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`, with the password given
    /// apart, from `[store] password_env`) and brings the schema up to date.
    pub fn open(url: &str, password: Option<&Secret>) -> Result<PgStore, StoreError> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| StoreError::PostgresUrl { reason: describe(&e) })?;
        if let Some(password) = password {
            config.password(password.expose());
        }
        config.connect_timeout(CONNECT_TIMEOUT);
        config.application_name("hrsync");
        let pool = off_async_thread(|| {
            // One connection first: a wrong password or a server down is said at
            // once, in the server's words, not after the pool's timeout.
            let mut first = config
                .connect(NoTls)
                .map_err(|e| StoreError::PostgresUnreachable { reason: describe(&e) })?;
            schema::migrate_postgres(&mut first)?;
            drop(first);
            r2d2::Pool::builder()
                .max_size(POOL_SIZE)
                .min_idle(Some(1))
                .connection_timeout(CONNECT_TIMEOUT)
                // Connection errors come back to the caller; r2d2 would also log them.
                .error_handler(Box::new(r2d2::NopErrorHandler))
                .build(PostgresConnectionManager::new(config.clone(), NoTls))
                .map_err(pool_error)
        })?;
        Ok(PgStore {
            inner: std::sync::Arc::new(Inner { pool: Some(pool) }),
        })
    }

    fn pool(&self) -> &Pool {
        self.inner
            .pool
            .as_ref()
            .expect("the pool stays until the store is dropped")
    }

    fn in_transaction<T: Send>(
        &self,
        read_only: bool,
        work: impl FnOnce(&dyn Sql) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        let pool = self.pool();
        off_async_thread(|| {
            let mut client = pool.get().map_err(pool_error)?;
            let mut builder = client.build_transaction().read_only(read_only);
            if read_only {
                // One snapshot for the whole read, as SQLite's read transaction
                // sees: several statements answer of one moment (a read-only
                // transaction at this level never fails to serialise).
                builder = builder.isolation_level(postgres::IsolationLevel::RepeatableRead);
            }
            let tx = builder.start()?;
            let sql = PgSql { tx: RefCell::new(tx) };
            let out = work(&sql)?;
            sql.tx.into_inner().commit()?;
            Ok(out)
        })
    }
}

impl Transact for PgStore {
    fn write<T: Send>(
        &self,
        work: impl FnOnce(&dyn Sql) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        self.in_transaction(false, work)
    }

    fn read<T: Send>(
        &self,
        work: impl FnOnce(&dyn Sql) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        self.in_transaction(true, work)
    }
}

/// The client's error with what the server or the socket said: its own text is
/// only the kind ("db error"), the rest sits in its source.
pub(crate) fn describe(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return db.to_string();
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text = format!("{text}: {said}");
        }
        source = cause.source();
    }
    text
}

fn pool_error(error: r2d2::Error) -> StoreError {
    StoreError::PostgresUnreachable {
        reason: error.to_string(),
    }
}

/// Runs `work` on a thread outside any async runtime and waits for it; a panic
/// in `work` goes on in the caller.
fn off_async_thread<T: Send>(work: impl FnOnce() -> Result<T, StoreError> + Send) -> Result<T, StoreError> {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("hrsync-store-pg".into())
            .spawn_scoped(scope, work)
            .map_err(|e| StoreError::PostgresUnreachable {
                reason: format!("cannot start a thread for the call: {e}"),
            })?;
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// `Sql` on a PostgreSQL transaction. Its client wants `&mut` for every
/// statement and `Sql` hands out `&self`: one thread, so a `RefCell` is enough.
struct PgSql<'c> {
    tx: RefCell<postgres::Transaction<'c>>,
}

impl<'c> PgSql<'c> {
    /// The transaction, for one statement. A query's rows are read as they come
    /// (`stream`), so no statement may run from inside its `each`.
    fn client(&self) -> RefMut<'_, postgres::Transaction<'c>> {
        (self.tx.try_borrow_mut()).expect("no statement runs inside another query's `each` on PostgreSQL")
    }
}

/// Hands each row to `each` as the server sends it: however many rows a query
/// answers (a whole audit chain), only the few in flight are held, not all.
fn stream(
    mut rows: postgres::RowIter<'_>,
    each: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    while let Some(row) = rows.next()? {
        each(&PgRow(&row))?;
    }
    Ok(())
}

fn bind<'p>(params: &'p [Param<'_>]) -> Vec<&'p (dyn ToSql + Sync)> {
    params
        .iter()
        .map(|param| match param {
            Param::Int(value) => value as &(dyn ToSql + Sync),
            Param::Text(value) => value as &(dyn ToSql + Sync),
            Param::Bytes(value) => value as &(dyn ToSql + Sync),
        })
        .collect()
}

struct PgRow<'r>(&'r postgres::Row);

impl Row for PgRow<'_> {
    fn int(&self, column: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.0.try_get(column)?)
    }

    fn text(&self, column: usize) -> Result<Option<String>, StoreError> {
        Ok(self.0.try_get(column)?)
    }

    fn bytes(&self, column: usize) -> Result<Option<Bytes>, StoreError> {
        Ok(self.0.try_get::<_, Option<Vec<u8>>>(column)?.map(Bytes::Blob))
    }
}

impl Sql for PgSql<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError> {
        let sql = Dialect::Postgres.translate(sql);
        Ok(self.client().execute(sql.as_ref(), &bind(params))?)
    }

    fn query(
        &self,
        sql: &str,
        params: &[Param<'_>],
        each: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let sql = Dialect::Postgres.translate(sql);
        let mut tx = self.client();
        stream(tx.query_raw(sql.as_ref(), bind(params))?, each)
    }

    fn prepare<'s>(&'s self, sql: &str) -> Result<Box<dyn Prepared + 's>, StoreError> {
        let sql = Dialect::Postgres.translate(sql);
        let statement = self.client().prepare(sql.as_ref())?;
        Ok(Box::new(PgPrepared { on: self, statement }))
    }
}

/// A statement the server has parsed and planned, run by its handle.
struct PgPrepared<'s, 'c> {
    on: &'s PgSql<'c>,
    statement: postgres::Statement,
}

impl Prepared for PgPrepared<'_, '_> {
    fn execute(&mut self, params: &[Param<'_>]) -> Result<u64, StoreError> {
        Ok(self.on.client().execute(&self.statement, &bind(params))?)
    }

    fn query(
        &mut self,
        params: &[Param<'_>],
        each: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut tx = self.on.client();
        stream(tx.query_raw(&self.statement, bind(params))?, each)
    }
}
