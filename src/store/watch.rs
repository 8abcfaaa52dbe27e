//! Tells a reader that the store changed, from any process. On SQLite,
//! `PRAGMA data_version` on one dedicated connection moves whenever another
//! connection commits. On PostgreSQL, the server's current snapshot (the
//! transactions under way and the next to start) moves whenever a transaction
//! that wrote begins or ends, on any engine. Polling either is one cheap
//! statement, no rows read.

use rusqlite::{Connection, OpenFlags};

use super::sql::Transact;
use super::sql::sqlite::BUSY_TIMEOUT;
use super::{Store, StoreError};

/// Remembers the last mark of the store's commits it saw.
pub struct ChangeWatch {
    on: Watched,
    last: Option<String>,
}

enum Watched {
    /// A dedicated read connection to the SQLite file.
    Sqlite(Connection),
    Postgres(Store),
}

impl ChangeWatch {
    /// Watches the store (the engine's writes, another process's, the console's own).
    pub fn new(store: &Store) -> Result<ChangeWatch, StoreError> {
        let on = match store.path() {
            Some(path) => {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = Connection::open_with_flags(path, flags)?;
                conn.busy_timeout(BUSY_TIMEOUT)?;
                Watched::Sqlite(conn)
            }
            None => Watched::Postgres(store.clone()),
        };
        Ok(ChangeWatch { on, last: None })
    }

    /// True the first time, then whenever anything was committed since the last call.
    pub fn changed(&mut self) -> Result<bool, StoreError> {
        let now = match &self.on {
            Watched::Sqlite(conn) => conn
                .pragma_query_value(None, "data_version", |r| r.get::<_, i64>(0))?
                .to_string(),
            Watched::Postgres(store) => store.read(|sql| {
                let mark = sql.query_opt("SELECT CAST(pg_current_snapshot() AS TEXT)", &[], |row| {
                    row.text(0)
                })?;
                Ok(mark.flatten().unwrap_or_default())
            })?,
        };
        let changed = self.last.as_ref() != Some(&now);
        self.last = Some(now);
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_elsewhere_is_seen_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path().join("s.db")).expect("open");
        let mut watch = ChangeWatch::new(&store).expect("watch");
        assert!(watch.changed().expect("first"));
        assert!(!watch.changed().expect("quiet"));
        store.set_cursor("x", "1").expect("write");
        assert!(watch.changed().expect("after a write"));
        assert!(!watch.changed().expect("quiet again"));
    }
}
