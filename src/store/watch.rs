//! Tells a reader that the store changed, from any process: SQLite's
//! `PRAGMA data_version` on one dedicated connection moves whenever another
//! connection commits. Polling it is one cheap statement, no rows read.

use rusqlite::{Connection, OpenFlags};

use super::{BUSY_TIMEOUT, Store, StoreError};

/// A dedicated read connection that remembers the last `data_version` it saw.
pub struct ChangeWatch {
    conn: Connection,
    last: Option<i64>,
}

impl ChangeWatch {
    /// Watches the store's file (the engine's writes, another process's, the console's own).
    pub fn new(store: &Store) -> Result<ChangeWatch, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(store.path(), flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        Ok(ChangeWatch { conn, last: None })
    }

    /// True the first time, then whenever anything was committed since the last call.
    pub fn changed(&mut self) -> Result<bool, StoreError> {
        let now: i64 = self.conn.pragma_query_value(None, "data_version", |r| r.get(0))?;
        Ok(self.last.replace(now) != Some(now))
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
