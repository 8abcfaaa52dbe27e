//! `Sql` on an SQLite connection (inside the transaction its caller opened).

use rusqlite::types::{ToSqlOutput, Type, Value, ValueRef};

use super::{Bytes, Dialect, Param, Prepared, Row, Sql, Transact};
use crate::store::{Store, StoreError};

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

impl Transact for Store {
    fn write<T: Send>(
        &self,
        work: impl FnOnce(&dyn Sql) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        self.transaction(|tx| work(&SqliteSql { conn: tx.conn }))
    }

    fn read<T: Send>(
        &self,
        work: impl FnOnce(&dyn Sql) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        let reader = self.reader()?;
        let tx = reader.unchecked_transaction()?;
        let out = work(&SqliteSql { conn: &tx })?;
        tx.finish()?;
        Ok(out)
    }
}
