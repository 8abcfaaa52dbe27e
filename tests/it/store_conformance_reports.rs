//! The conformance suite for who reports to whom and for what PostgreSQL's driver
//! itself must get right, run on SQLite and on PostgreSQL by `conformance!`: the
//! `reports_to` table (kept and counted by any engine), the last applied event
//! and a change due per employee, a long chain read back whole and in order
//! (rows streamed, not loaded), and writes run again when PostgreSQL gave them
//! up for another engine's (a deadlock, a serialization failure).

use hrsync::model::{AuditAction, AuditEntry, Direction, EventId, NewAuditEntry, RecordStamp, WriteRecord};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use hrsync::store::csv_cells::CsvCells;
use hrsync::store::sql::{CONFLICT_RETRIES, Param, Sql, is_conflict};
use hrsync::store::{
    AppliedRecords, AuditFormat, AuditLog, Cursors, Journal, ReportsTo, StoreError, Transact,
};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use crate::common::backends::{Backend, change_with, conformance, postgres};

conformance!(
    who_reports_to_whom_is_kept_and_counted_by_any_engine,
    the_last_applied_event_is_read_per_employee,
    a_change_due_is_waiting_then_begun_then_gone,
    a_long_chain_is_verified_and_exported_whole_and_in_order,
    a_write_that_fails_otherwise_runs_once_and_leaves_nothing,
);

fn who_reports_to_whom_is_kept_and_counted_by_any_engine(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    assert_eq!(a.reports_of("M1").unwrap(), 0);
    assert_eq!(a.set_reports_to("E1", Some("M1")).unwrap(), None);
    assert_eq!(b.set_reports_to("E2", Some("M1")).unwrap(), None);
    assert_eq!(
        b.set_reports_to("E1", Some("M1")).unwrap(),
        Some("M1".into()),
        "unchanged"
    );
    assert_eq!((a.reports_of("M1").unwrap(), b.reports_of("M2").unwrap()), (2, 0));

    assert_eq!(b.set_reports_to("E1", Some("M2")).unwrap(), Some("M1".into()));
    assert_eq!((a.reports_of("M1").unwrap(), a.reports_of("M2").unwrap()), (1, 1));
    assert_eq!(a.set_reports_to("E2", None).unwrap(), Some("M1".into()));
    assert_eq!(a.set_reports_to("E2", None).unwrap(), None, "nobody stays nobody");
    assert_eq!((b.reports_of("M1").unwrap(), b.reports_of("M2").unwrap()), (0, 1));
    assert_eq!(
        b.reports_of("E1").unwrap(),
        0,
        "counted by manager, not by employee"
    );
}

fn the_last_applied_event_is_read_per_employee(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    assert_eq!(a.applied_event("E1").unwrap(), None);
    let stamp = RecordStamp {
        at: Timestamp::from_second(1_800_000_000).unwrap(),
        digest: "d".into(),
    };
    a.set_applied_record("E1", &stamp, EventId(7)).unwrap();
    b.set_applied_record("E2", &stamp, EventId(8)).unwrap();
    a.set_applied_record("E1", &stamp, EventId(9)).unwrap();
    assert_eq!(b.applied_event("E1").unwrap(), Some(EventId(9)));
    assert_eq!(a.applied_event("E2").unwrap(), Some(EventId(8)));
    assert_eq!(a.applied_event("E3").unwrap(), None);
}

fn written() -> WriteRecord {
    WriteRecord {
        sent_from: "hris".into(),
        sent_to: "lms".into(),
        target_id: Some("u-1".into()),
        before: json!({ "title": "Clerk" }),
        after: json!({ "title": "Manager" }),
        http_status: Some(200),
    }
}

fn a_change_due_is_waiting_then_begun_then_gone(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    assert_eq!(a.change_due("M").unwrap(), (false, false));
    let batch = [
        change_with("m1", Direction::HrisToLms, "M", json!({ "id": "M" })),
        change_with("l1", Direction::LmsToHris, "L", json!({ "id": "L" })),
    ];
    let ids: Vec<EventId> = (a.journal(|tx| tx.append(&batch)).unwrap().iter())
        .map(|appended| appended.id())
        .collect();
    assert_eq!(b.change_due("M").unwrap(), (true, false));
    assert_eq!(
        b.change_due("L").unwrap(),
        (false, false),
        "a change the other way is not due"
    );

    let until = Timestamp::now() + SignedDuration::from_secs(60);
    b.journal(|tx| tx.claim(&ids[..1], "engine-b", until)).unwrap();
    assert_eq!(a.change_due("M").unwrap(), (false, true), "being applied");
    let next = a
        .journal(|tx| tx.append(&[change_with("m2", Direction::HrisToLms, "M", json!({ "id": "M" }))]))
        .unwrap()[0]
        .id();
    assert_eq!(
        a.change_due("M").unwrap(),
        (true, true),
        "one begun, one behind it"
    );

    b.journal(|tx| tx.mark_applied(ids[0], &written(), None)).unwrap();
    assert_eq!(a.change_due("M").unwrap(), (true, false));
    a.journal(|tx| tx.mark_applied(next, &written(), None)).unwrap();
    assert_eq!(b.change_due("M").unwrap(), (false, false), "nothing left");
}

fn audit_entry(n: usize) -> NewAuditEntry {
    NewAuditEntry {
        actor: "engine".into(),
        action: AuditAction::LearnerUpdate,
        employee_id: Some(format!("E{}", n % 97)),
        subject: format!("learner u-{n}"),
        before: json!({ "title": "Clerk" }),
        after: json!({ "title": "Manager", "n": n }),
        reason: None,
    }
}

/// Far more rows than one network read holds: the verify and the export read
/// them as they come, and must see every one, in the chain's order.
fn a_long_chain_is_verified_and_exported_whole_and_in_order(backend: &impl Backend) {
    const ENTRIES: usize = 20_000;
    const BATCH: usize = 2_000;
    let (a, b) = (backend.open(), backend.open());
    let mut appended: Vec<AuditEntry> = Vec::with_capacity(ENTRIES);
    for start in (0..ENTRIES).step_by(BATCH) {
        let batch: Vec<NewAuditEntry> = (start..start + BATCH).map(audit_entry).collect();
        appended.extend(a.audit_log(None, |tx| tx.append(batch.clone())).unwrap());
    }

    let report = b.verify_audit_log(&[], None).unwrap().expect("intact");
    assert_eq!(report.entries, ENTRIES as u64);
    assert_eq!(report.last_hash, appended.last().unwrap().hash);

    let mut out = Vec::new();
    let count = (b.export_audit_log(AuditFormat::Jsonl, CsvCells::default(), None, &mut out)).unwrap();
    assert_eq!(count, ENTRIES as u64);
    let exported: Vec<AuditEntry> = (String::from_utf8(out).unwrap().lines())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(exported.len(), ENTRIES);
    assert!(
        exported.windows(2).all(|w| w[0].seq + 1 == w[1].seq),
        "in order, none missing"
    );
    assert!(exported == appended, "exported as appended");
}

fn a_write_that_fails_otherwise_runs_once_and_leaves_nothing(backend: &impl Backend) {
    let store = backend.open();
    let runs = AtomicUsize::new(0);
    let failed = store.write_retrying(|sql| {
        runs.fetch_add(1, Ordering::SeqCst);
        sql.execute(
            "INSERT INTO cursors (name, value, updated_at) VALUES ('c', 'v', 0)",
            &[],
        )?;
        sql.execute("INSERT INTO no_such_table (x) VALUES (1)", &[])
    });
    let error = failed.expect_err("the table is missing");
    assert!(!is_conflict(&error), "{error}");
    assert_eq!(runs.load(Ordering::SeqCst), 1, "not a conflict: not run again");
    assert_eq!(store.read_cursor("c").unwrap(), None, "rolled back");
}

/// Runs `statement` (it changes rows) in `sql`, for `Transact::write_retrying`.
fn run(sql: &dyn Sql, statement: &str, params: &[Param<'_>]) -> Result<(), StoreError> {
    sql.execute(statement, params).map(drop)
}

/// A server error with the SQLSTATE of a serialization failure, as PostgreSQL
/// answers a transaction it could not serialise with another.
const SERIALIZATION_FAILURE: &str =
    "DO $$ BEGIN RAISE EXCEPTION 'could not serialize' USING ERRCODE = '40001'; END $$";

#[test]
fn postgres_runs_a_write_again_after_a_serialization_failure_a_bounded_number_of_times() {
    let Some(db) = postgres() else { return };
    let store = db.open();
    let runs = AtomicUsize::new(0);
    let once = store.write_retrying(|sql| {
        run(
            sql,
            "INSERT INTO cursors (name, value, updated_at) VALUES ('once', 'x', 0) \
                  ON CONFLICT (name) DO UPDATE SET value = cursors.value || 'x'",
            &[],
        )?;
        if runs.fetch_add(1, Ordering::SeqCst) == 0 {
            run(sql, SERIALIZATION_FAILURE, &[])?;
        }
        Ok(())
    });
    once.expect("committed on the second run");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(
        store.read_cursor("once").unwrap().as_deref(),
        Some("x"),
        "the first run left nothing"
    );

    let runs = AtomicUsize::new(0);
    let always = store.write_retrying(|sql| {
        runs.fetch_add(1, Ordering::SeqCst);
        run(sql, SERIALIZATION_FAILURE, &[])
    });
    let error = always.expect_err("never serialises");
    assert!(is_conflict(&error), "the database's error comes back: {error}");
    assert!(error.to_string().contains("could not serialize"), "{error}");
    assert_eq!(runs.load(Ordering::SeqCst), CONFLICT_RETRIES + 1, "bounded");
}

/// Two engines lock the same two rows in opposite orders inside a write: PostgreSQL
/// breaks the deadlock by giving one of them up, which runs again and commits too.
#[test]
fn postgres_engines_meeting_in_a_deadlock_both_commit() {
    let Some(db) = postgres() else { return };
    let setup = db.open();
    setup.write_cursor("left", "").unwrap();
    setup.write_cursor("right", "").unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let both_hold_one = Arc::new(Barrier::new(2));
    let engines: Vec<_> = [("A", ["left", "right"]), ("B", ["right", "left"])]
        .into_iter()
        .map(|(engine, order)| {
            let (store, runs, both_hold_one) = (db.open(), runs.clone(), both_hold_one.clone());
            std::thread::spawn(move || {
                let first_run = AtomicUsize::new(0);
                store.write_retrying(|sql| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    let append = "UPDATE cursors SET value = value || ?2 WHERE name = ?1";
                    run(sql, append, &[Param::from(order[0]), Param::from(engine)])?;
                    if first_run.fetch_add(1, Ordering::SeqCst) == 0 {
                        // Each holds its first row before asking for the other's.
                        both_hold_one.wait();
                    }
                    run(sql, append, &[Param::from(order[1]), Param::from(engine)])
                })
            })
        })
        .collect();
    for engine in engines {
        engine
            .join()
            .unwrap()
            .expect("committed, after a retry if given up");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 3, "one of them ran again, once");
    for row in ["left", "right"] {
        let mut value: Vec<char> = setup.read_cursor(row).unwrap().unwrap().chars().collect();
        value.sort_unstable();
        assert_eq!(value, ['A', 'B'], "both engines' changes in {row}");
    }
}
