//! The two places a store lives, for the conformance suites: a SQLite file in a
//! temporary folder and a database on the tests' PostgreSQL. `conformance!` turns
//! each check into a test on each backend, so a suite is written once.

use hrsync::model::{Direction, EventId, NewEvent, Source};
use hrsync::store::{Appended, Journal, PgStore, Store, Transact};
use serde_json::{Value, json};

use super::postgres::{TestDatabase, database};

/// A place a store lives, and a way to open another handle on it: another engine.
pub trait Backend {
    type Handle: Transact + Send + Sync + 'static;
    fn open(&self) -> Self::Handle;
}

pub struct SqliteFile(tempfile::TempDir);

impl Backend for SqliteFile {
    type Handle = Store;
    fn open(&self) -> Store {
        Store::open(self.0.path().join("hrsync.db")).expect("the SQLite store opens")
    }
}

impl Backend for TestDatabase {
    type Handle = PgStore;
    fn open(&self) -> PgStore {
        PgStore::open(&self.url, Some(&self.password)).expect("the PostgreSQL store opens")
    }
}

pub fn sqlite() -> Option<SqliteFile> {
    Some(SqliteFile(tempfile::tempdir().unwrap()))
}

pub fn postgres() -> Option<TestDatabase> {
    database()
}

/// A webhook change of `employee` toward the LMS, keyed `key`, its payload `{"id": employee}`.
pub fn change(key: &str, employee: &str) -> NewEvent {
    change_with(key, Direction::HrisToLms, employee, json!({ "id": employee }))
}

/// A webhook change with its direction and payload given.
pub fn change_with(key: &str, direction: Direction, employee: &str, payload: Value) -> NewEvent {
    NewEvent {
        idempotency_key: key.into(),
        source: Source::Webhook,
        direction,
        employee_id: employee.into(),
        kind: "Updated".into(),
        occurred_at: jiff::Timestamp::now(),
        payload,
    }
}

/// Journals `batch` on `store`; the new events' ids, in the batch's order.
pub fn appended(store: &impl Journal, batch: &[NewEvent]) -> Vec<EventId> {
    let appended = store.journal(|tx| tx.append(batch)).unwrap();
    (appended.iter())
        .map(|a| match a {
            Appended::New(id) => *id,
            other => panic!("not new: {other:?}"),
        })
        .collect()
}

/// Each check (a function taking `&impl Backend`) becomes a test on each backend:
/// `on_sqlite::NAME`, `on_postgres::NAME`, in the module that calls it.
#[allow(unused_macros)] // not every test binary holds a suite
macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[test]
            fn $check() {
                if let Some(backend) = $crate::common::backends::sqlite() {
                    super::$check(&backend);
                }
            })*
        }
        mod on_postgres {
            $(#[test]
            fn $check() {
                if let Some(backend) = $crate::common::backends::postgres() {
                    super::$check(&backend);
                }
            })*
        }
    };
}

#[allow(unused_imports)]
pub(crate) use conformance;
