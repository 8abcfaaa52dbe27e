//! The audit log on a real SQLite file: entries chain by hash, verification finds an
//! edited, removed or reordered entry at the right place, exports round-trip, and an
//! entry commits with its journal change or not at all.

use hrsync::model::{AuditEntry, Direction, EventStatus, NewAuditEntry, NewEvent, Source};
use hrsync::store::csv_cells::CsvCells;
use hrsync::store::{AUDIT_CSV_HEADER, AuditFilter, AuditFormat, GENESIS_HASH, Store, StoreError};
use jiff::Timestamp;
use rusqlite::Connection;
use serde_json::json;

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("hrsync.db")).expect("open store");
    (dir, store)
}

fn entry(n: u32, employee: &str) -> NewAuditEntry {
    NewAuditEntry {
        actor: "engine".into(),
        action: "learner.update".into(),
        employee_id: Some(employee.into()),
        subject: format!("learner u-{n}"),
        before: json!({ "title": "Clerk", "n": n }),
        after: json!({ "title": "Manager", "n": n }),
        reason: None,
    }
}

/// A store holding five entries, and a second raw connection to tamper with it.
fn five_entries() -> (tempfile::TempDir, Store, Connection) {
    let (dir, store) = open();
    for n in 1..=5 {
        store.audit(entry(n, "E1")).expect("audit");
    }
    let raw = Connection::open(dir.path().join("hrsync.db")).expect("raw connection");
    (dir, store, raw)
}

fn broken_at(store: &Store) -> (u64, String) {
    let verdict = store.verify_audit().expect("readable");
    let broken = verdict.expect_err("tampering must be found");
    (broken.seq, broken.reason)
}

#[test]
fn entries_chain_and_verify() {
    let (_dir, store) = open();
    assert_eq!(
        store
            .verify_audit()
            .expect("readable")
            .expect("empty log is intact")
            .entries,
        0
    );
    let entries: Vec<AuditEntry> = (1..=5)
        .map(|n| store.audit(entry(n, "E1")).expect("audit"))
        .collect();
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(entries[0].prev_hash, GENESIS_HASH);
    for pair in entries.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
        assert_ne!(pair[1].hash, pair[0].hash);
    }
    let report = store.verify_audit().expect("readable").expect("intact");
    assert_eq!(
        (report.entries, report.last_hash.as_str()),
        (5, entries[4].hash.as_str())
    );
}

#[test]
fn an_edited_entry_is_found_at_its_seq() {
    let (_dir, store, raw) = five_entries();
    raw.execute("UPDATE audit SET reason = 'nothing to see' WHERE seq = 3", [])
        .expect("tamper");
    let (seq, reason) = broken_at(&store);
    assert_eq!(seq, 3);
    assert!(reason.contains("edited"), "{reason}");
}

#[test]
fn an_edited_before_value_is_found() {
    let (_dir, store, raw) = five_entries();
    raw.execute(
        r#"UPDATE audit SET after = '{"n":4,"title":"CEO"}' WHERE seq = 4"#,
        [],
    )
    .expect("tamper");
    assert_eq!(broken_at(&store).0, 4);
}

#[test]
fn a_removed_entry_is_found() {
    let (_dir, store, raw) = five_entries();
    raw.execute("DELETE FROM audit WHERE seq = 2", [])
        .expect("tamper");
    let (seq, reason) = broken_at(&store);
    assert_eq!(seq, 2);
    assert!(reason.contains("missing"), "{reason}");
}

#[test]
fn removed_newest_entries_are_found() {
    let (_dir, store, raw) = five_entries();
    raw.execute("DELETE FROM audit WHERE seq >= 4", [])
        .expect("tamper");
    let (seq, reason) = broken_at(&store);
    assert_eq!(seq, 4);
    assert!(reason.contains("removed"), "{reason}");
}

#[test]
fn a_renumbered_gap_is_found() {
    let (_dir, store, raw) = five_entries();
    raw.execute_batch(
        "DELETE FROM audit WHERE seq = 3; UPDATE audit SET seq = seq - 1 WHERE seq > 3; \
         UPDATE audit_head SET seq = 4",
    )
    .expect("tamper");
    let (seq, reason) = broken_at(&store);
    assert_eq!(seq, 3);
    assert!(reason.contains("link"), "{reason}");
}

#[test]
fn reordered_entries_are_found() {
    let (_dir, store, raw) = five_entries();
    raw.execute_batch(
        "UPDATE audit SET seq = 100 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3; \
         UPDATE audit SET seq = 3 WHERE seq = 100;",
    )
    .expect("tamper");
    assert_eq!(broken_at(&store).0, 2);
}

#[test]
fn an_entry_commits_with_its_journal_change_or_not_at_all() {
    let (_dir, store) = open();
    let event = NewEvent {
        idempotency_key: "k1".into(),
        source: Source::Webhook,
        direction: Direction::HrisToLms,
        employee_id: "E1".into(),
        kind: "Updated".into(),
        occurred_at: Timestamp::now(),
        payload: json!({ "id": "E1" }),
    };
    let id = store.append(&[event]).expect("append")[0].id();
    store
        .mark_dead_letter(id, "LMS down", Some(503))
        .expect("dead letter");
    let skip = |reason: &str| {
        let mut audit = entry(0, "E1");
        (audit.actor, audit.action, audit.reason) =
            ("ana".into(), "dead_letter.skip".into(), Some(reason.into()));
        store.transaction(|tx| {
            let skipped = tx.skip(id, reason)?;
            let logged = tx.audit(audit)?;
            Ok((skipped, logged))
        })
    };
    let (skipped, logged) = skip("superseded by a later change").expect("skip and audit");
    assert_eq!(skipped.status, EventStatus::Skipped);
    assert_eq!(logged.seq, 1);
    // Skipping again is illegal: the audit entry written before the refusal rolls back with it.
    let mut audit = entry(9, "E1");
    audit.action = "dead_letter.skip".into();
    let refused = store.transaction(|tx| {
        tx.audit(audit)?;
        tx.skip(id, "twice")
    });
    assert!(matches!(refused, Err(StoreError::IllegalTransition { .. })));
    assert!(skip("twice").is_err());
    let report = store.verify_audit().expect("readable").expect("intact");
    assert_eq!(report.entries, 1, "only the committed skip is in the log");
}

#[test]
fn pages_filter_and_walk_newest_first() {
    let (_dir, store) = open();
    for n in 1..=30 {
        store
            .audit(entry(n, if n % 3 == 0 { "E3" } else { "E1" }))
            .expect("audit");
    }
    let filter = AuditFilter {
        employee_id: Some("E3".into()),
        ..AuditFilter::default()
    };
    let first = store.audit_page(&filter, None, 4).expect("page");
    assert_eq!(
        first.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![30, 27, 24, 21]
    );
    let next = store.audit_page(&filter, Some(21), 100).expect("page");
    assert_eq!(
        next.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![18, 15, 12, 9, 6, 3]
    );
    let text = AuditFilter {
        text: Some("U-7".into()),
        ..AuditFilter::default()
    };
    assert_eq!(
        store
            .audit_page(&text, None, 100)
            .expect("page")
            .iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>(),
        [7]
    );
}

fn awkward_entries(store: &Store) -> Vec<AuditEntry> {
    let mut odd = entry(1, "E-李");
    odd.subject = "Ångström, \"Zoë\"\nsecond line".into();
    odd.reason = Some("ask HR, then \"confirm\";\r\nок 確認 ✓".into());
    odd.after = json!({ "displayName": "محمد, \"Mo\"\n" });
    vec![
        store.audit(odd).expect("audit"),
        store.audit(entry(2, "E2")).expect("audit"),
    ]
}

#[test]
fn jsonl_export_round_trips() {
    let (_dir, store) = open();
    let written = awkward_entries(&store);
    let mut out = Vec::new();
    assert_eq!(
        store
            .export_audit(AuditFormat::Jsonl, CsvCells::Guarded, None, &mut out)
            .expect("export"),
        2
    );
    let text = String::from_utf8(out).expect("utf-8");
    let read: Vec<AuditEntry> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON object per line"))
        .collect();
    assert_eq!(read, written);
    let mut one = Vec::new();
    assert_eq!(
        store
            .export_audit(AuditFormat::Jsonl, CsvCells::Guarded, Some("E2"), &mut one)
            .expect("export"),
        1
    );
}

#[test]
fn csv_export_round_trips_awkward_text() {
    let (_dir, store) = open();
    let written = awkward_entries(&store);
    let mut out = Vec::new();
    store
        .export_audit(AuditFormat::Csv, CsvCells::Guarded, None, &mut out)
        .expect("export");
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(header, AUDIT_CSV_HEADER);
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("valid CSV");
    assert_eq!(rows.len(), 2);
    let first = &rows[0];
    assert_eq!(&first[0], "1");
    assert_eq!(
        first[1].parse::<Timestamp>().expect("RFC 3339 time"),
        written[0].at
    );
    assert_eq!(&first[4], "E-李");
    assert_eq!(&first[5], "Ångström, \"Zoë\"\nsecond line");
    assert_eq!(&first[8], "ask HR, then \"confirm\";\r\nок 確認 ✓");
    let after: serde_json::Value = serde_json::from_str(&first[7]).expect("after is JSON");
    assert_eq!(after, written[0].after);
    assert_eq!(&first[10], written[0].hash);
    let mut one = Vec::new();
    store
        .export_audit(AuditFormat::Csv, CsvCells::Guarded, Some("E-李"), &mut one)
        .expect("export");
    assert_eq!(csv::Reader::from_reader(one.as_slice()).records().count(), 1);
}
