//! `Store` on PostgreSQL, where several engines share it: what only a shared
//! store meets. A transaction the server gives up for another engine's (a
//! deadlock) runs again and both commit; a change by another engine is seen by a
//! watch; a store opened to look only refuses writes.

use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hrsync::store::{ChangeWatch, Store, StoreError};

use crate::common::postgres::{TestDatabase, database};

fn open(db: &TestDatabase) -> Store {
    Store::open_postgres(&db.url, Some(&db.password)).expect("the test database opens")
}

/// Two engines write two rows in opposite orders, each waiting for the other to
/// hold its first: the server breaks the deadlock by giving one up, which
/// `Store::transaction` runs again. Both commit, each once.
#[test]
fn a_transaction_given_up_in_a_deadlock_runs_again() {
    let Some(db) = database() else { return };
    let (a, b) = (open(&db), open(&db));
    a.set_cursor("first", "0").unwrap();
    a.set_cursor("second", "0").unwrap();
    let both_hold_one = Barrier::new(2);
    let attempts = AtomicUsize::new(0);
    let write = |store: &Store, order: [&str; 2], value: &str| {
        store.transaction(|tx| {
            let attempt = attempts.fetch_add(1, Ordering::SeqCst);
            tx.set_cursor(order[0], value)?;
            // Only the first two attempts wait: a rerun goes straight through.
            if attempt < 2 {
                both_hold_one.wait();
            }
            tx.set_cursor(order[1], value)?;
            Ok(())
        })
    };
    std::thread::scope(|scope| {
        let one = scope.spawn(|| write(&a, ["first", "second"], "a"));
        let two = scope.spawn(|| write(&b, ["second", "first"], "b"));
        one.join().unwrap().expect("engine a's transaction commits");
        two.join().unwrap().expect("engine b's transaction commits");
    });
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        3,
        "one of the two ran again, once"
    );
    let (first, second) = (a.cursor("first").unwrap(), a.cursor("second").unwrap());
    assert_eq!(
        first, second,
        "the later transaction wrote both rows: {first:?} {second:?}"
    );
}

/// A console's watch notices a commit another engine made, and is quiet otherwise.
#[test]
fn a_watch_sees_another_engines_commit() {
    let Some(db) = database() else { return };
    let (console, engine) = (open(&db), open(&db));
    let mut watch = ChangeWatch::new(&console).unwrap();
    assert!(watch.changed().unwrap(), "the first look is a change");
    // Reads (the console's own) are not changes; the server may still be settling
    // its own work from the migration, so wait for a quiet look first.
    let deadline = Instant::now() + Duration::from_secs(10);
    while watch.changed().unwrap() {
        assert!(Instant::now() < deadline, "the watch never went quiet");
        std::thread::sleep(Duration::from_millis(20));
    }
    console.cursor("x").unwrap();
    assert!(!watch.changed().unwrap(), "a read is not a change");
    engine.set_cursor("x", "1").unwrap();
    assert!(watch.changed().unwrap(), "the other engine's commit is seen");
}

/// Opened to look only, a PostgreSQL store writes nothing and says so.
#[test]
fn a_store_opened_to_look_only_refuses_writes() {
    let Some(db) = database() else { return };
    let looking = Store::open_postgres_read_only(&db.url, Some(&db.password)).unwrap();
    assert!(looking.is_read_only() && looking.is_shared());
    match looking.set_cursor("x", "1") {
        Err(StoreError::ReadOnly { place, .. }) => assert_eq!(place, db.url),
        other => panic!("a write on a read-only store: {other:?}"),
    }
    assert!(matches!(looking.checkpoint(), Err(StoreError::ReadOnly { .. })));
    assert_eq!(looking.cursor("x").unwrap(), None, "reads work");
}

/// An initial load journals every employee in one transaction, 2,000 at a time.
/// Holding each one's turn by a lock of its own ran PostgreSQL out of lock
/// space ("out of shared memory") past a few thousand; over a batch it holds
/// every turn under one lock, and another engine's append waits for it.
#[test]
fn an_initial_loads_worth_of_employees_is_journaled_in_one_transaction() {
    let Some(db) = database() else { return };
    let (loading, other) = (open(&db), open(&db));
    let batch: Vec<hrsync::model::NewEvent> = (0..20_000)
        .map(|n| crate::common::backends::change(&format!("load-{n}"), &format!("E{n}")))
        .collect();
    let appended = loading
        .transaction_once(|tx| {
            let mut appended = 0;
            for chunk in batch.chunks(2_000) {
                appended += tx.append(chunk)?.len();
            }
            Ok(appended)
        })
        .expect("the whole load is journaled");
    assert_eq!(appended, 20_000);
    // The other engine's change of one of them queues behind the load's.
    let later = other
        .append(&[crate::common::backends::change("later-7", "E7")])
        .unwrap();
    let ready = other
        .ready(
            jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60),
            30_000,
        )
        .unwrap();
    assert_eq!(ready.len(), 20_000, "one head per employee");
    assert!(
        !ready.iter().any(|e| e.id == later[0].id()),
        "the later change waits its turn"
    );
}
