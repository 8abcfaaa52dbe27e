//! How far each source has been read (the poller's "changed since", the LRS
//! reader's cursor, compaction's mark): one row per name. Written once over
//! `Sql`, so the same statements run on SQLite and PostgreSQL.

use super::StoreError;
use super::sql::{Param, Sql, Transact};

/// Where the source `name` was last read up to, if it ever was.
pub fn cursor(sql: &dyn Sql, name: &str) -> Result<Option<String>, StoreError> {
    let found = sql.query_opt(
        "SELECT value FROM cursors WHERE name = ?1",
        &[Param::from(name)],
        |row| row.text(0),
    )?;
    Ok(found.flatten())
}

/// Remembers that the source `name` has been read up to `value`; stamped by the
/// database's clock, which every engine shares.
pub fn set_cursor(sql: &dyn Sql, name: &str, value: &str) -> Result<(), StoreError> {
    let statement = format!(
        "WITH clock AS (SELECT {now} AS now) \
         INSERT INTO cursors (name, value, updated_at) SELECT ?1, ?2, now FROM clock WHERE true \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        now = sql.dialect().now_micros()
    );
    sql.execute(&statement, &[Param::from(name), Param::from(value)])?;
    Ok(())
}

/// The cursor calls on any store, SQLite or PostgreSQL, each one transaction.
/// inside a wider transaction, `StoreTx::set_cursor` writes the same row.
pub trait Cursors: Transact {
    fn read_cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.read(|sql| cursor(sql, name))
    }

    fn write_cursor(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.write_retrying(|sql| set_cursor(sql, name, value))
    }
}

impl<T: Transact> Cursors for T {}
