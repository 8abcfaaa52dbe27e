//! The audit log on a real SQLite file: entries chain by hash (an HMAC with a key),
//! verification finds an edited, removed, reordered or rechained entry at the right
//! place, checkpoints catch a log cut short or emptied, keys rotate, stores from
//! before keys still verify, exports round-trip, and an entry commits with its
//! journal change or not at all. The CLI is the real binary.

use std::path::Path;
use std::process::{Command, Output};

use hrsync::model::{AuditEntry, Direction, EventStatus, NewAuditEntry, NewEvent, Secret, Source};
use hrsync::store::csv_cells::CsvCells;
use hrsync::store::{
    AUDIT_CSV_HEADER, AuditCheckpoint, AuditFilter, AuditFormat, AuditKey, GENESIS_HASH, KeyUse, Store,
    StoreError,
};
use jiff::Timestamp;
use rusqlite::{Connection, params};
use serde_json::json;
use sha2::{Digest, Sha256};

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("hrsync.db")).expect("open store");
    (dir, store)
}

fn entry(n: u32, employee: &str) -> NewAuditEntry {
    NewAuditEntry {
        actor: "engine".into(),
        action: hrsync::model::AuditAction::LearnerUpdate,
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
        (audit.actor, audit.action, audit.reason) = (
            "ana".into(),
            hrsync::model::AuditAction::EventSkip,
            Some(reason.into()),
        );
        store.transaction(|tx| {
            let skipped = tx.skip(id, reason)?;
            let logged = tx.audit(audit.clone())?;
            Ok((skipped, logged))
        })
    };
    let (skipped, logged) = skip("superseded by a later change").expect("skip and audit");
    assert_eq!(skipped.status, EventStatus::Skipped);
    assert_eq!(logged.seq, 1);
    // Skipping again is illegal: the audit entry written before the refusal rolls back with it.
    let mut audit = entry(9, "E1");
    audit.action = hrsync::model::AuditAction::EventSkip;
    let refused = store.transaction(|tx| {
        tx.audit(audit.clone())?;
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

// ---- keys, checkpoints, rotation and stores from before keys ----

const KEY_A: &str = "key-a-0123456789abcdef0123456789abcdef";
const KEY_B: &str = "key-b-fedcba9876543210fedcba9876543210";

fn key(text: &str) -> AuditKey {
    AuditKey::new(Secret::new(text)).expect("a long enough key")
}

fn db(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("hrsync.db")
}

/// A store whose five entries are HMACs with key A, and a raw connection to tamper with it.
fn five_keyed() -> (tempfile::TempDir, Store, Connection) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(db(&dir))
        .expect("open store")
        .with_audit_key(key(KEY_A));
    for n in 1..=5 {
        store.audit(entry(n, "E1")).expect("audit");
    }
    let raw = Connection::open(db(&dir)).expect("raw connection");
    (dir, store, raw)
}

/// What someone with write access but no key can do: recompute every link with plain
/// SHA-256 over the entry's fields (as entries were hashed before keys), fix the head.
/// `drop_key_ids` also clears the key ids, so the entries pass for ones from before keys.
fn rechain_plain(raw: &Connection, drop_key_ids: bool) {
    if drop_key_ids {
        raw.execute("UPDATE audit SET key_id = NULL", []).expect("tamper");
    }
    let rows: Vec<(i64, serde_json::Value, Option<String>)> = {
        let mut stmt = raw
            .prepare(
                "SELECT seq, at, actor, action, employee_id, subject, before, after, reason, key_id \
                 FROM audit ORDER BY seq",
            )
            .expect("select");
        stmt.query_map([], |r| {
            let fields = json!([
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, Option<String>>(8)?,
            ]);
            Ok((r.get(0)?, fields, r.get(9)?))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
    };
    let mut prev = GENESIS_HASH.to_string();
    for (seq, fields, key_id) in rows {
        let mut canonical = fields.as_array().expect("array").clone();
        canonical.push(json!(prev));
        if let Some(id) = key_id {
            canonical.push(json!(id));
        }
        let hash = hex::encode(Sha256::digest(serde_json::Value::from(canonical).to_string()));
        raw.execute(
            "UPDATE audit SET prev_hash = ?1, hash = ?2 WHERE seq = ?3",
            params![prev, hash, seq],
        )
        .expect("rechain");
        prev = hash;
    }
    raw.execute("UPDATE audit_head SET hash = ?1", [prev])
        .expect("fix the head");
}

fn keyed_break(store: &Store, keys: &[AuditKey]) -> (u64, String) {
    let broken = store
        .verify_audit_with(keys, None)
        .expect("readable")
        .expect_err("tampering must be found");
    (broken.seq, broken.reason)
}

#[test]
fn keyed_entries_are_hmacs_that_only_the_key_verifies() {
    let (_dir, store, _raw) = five_keyed();
    let a = key(KEY_A);
    let report = store.verify_audit().expect("readable").expect("intact");
    assert_eq!(report.entries, 5);
    assert_eq!(report.legacy_entries, 0);
    assert_eq!(
        report.keys,
        [KeyUse {
            key_id: a.id().to_string(),
            entries: 5
        }]
    );
    let newest = &store.audit_page(&AuditFilter::default(), None, 1).expect("page")[0];
    assert_eq!(newest.key_id.as_deref(), Some(a.id()));
    let (seq, reason) = keyed_break(&store, &[]);
    assert_eq!(seq, 1);
    assert!(reason.contains(a.id()), "{reason}");
    let (seq, reason) = keyed_break(&store, &[key(KEY_B)]);
    assert_eq!(seq, 1);
    assert!(reason.contains(a.id()), "{reason}");
}

#[test]
fn an_edit_rechained_with_plain_sha256_fails_with_a_key() {
    let (_dir, store, raw) = five_keyed();
    raw.execute("UPDATE audit SET reason = 'nothing to see' WHERE seq = 3", [])
        .expect("tamper");
    rechain_plain(&raw, false);
    let (seq, reason) = keyed_break(&store, &[key(KEY_A)]);
    assert_eq!(seq, 1, "every link was recomputed without the key");
    assert!(reason.contains("HMAC"), "{reason}");
}

#[test]
fn entries_rechained_as_ones_from_before_keys_are_found() {
    let (_dir, store, raw) = five_keyed();
    let checkpoint = store
        .audit_checkpoint(&[key(KEY_A)])
        .expect("readable")
        .expect("intact");
    raw.execute("UPDATE audit SET reason = 'nothing to see' WHERE seq = 3", [])
        .expect("tamper");
    rechain_plain(&raw, true);
    // The seal says every entry after the first 0 has a key.
    let (seq, reason) = keyed_break(&store, &[key(KEY_A)]);
    assert_eq!(seq, 1);
    assert!(reason.contains("rechained"), "{reason}");

    // Dropping the seal too: with the key in hand, a log without any keyed entry or seal fails.
    raw.execute("DELETE FROM audit_seal", []).expect("tamper");
    let (seq, reason) = keyed_break(&store, &[key(KEY_A)]);
    assert_eq!(seq, 1);
    assert!(reason.contains("rechained without the key"), "{reason}");
    // Without a key it passes for a log from before keys (only accidents show), but not
    // against a checkpoint taken before: entry 5's hash is not the checkpointed one.
    let plain = store
        .verify_audit_with(&[], None)
        .expect("readable")
        .expect("plain chain");
    assert_eq!(plain.legacy_entries, 5);
    let broken = store
        .verify_audit_with(&[], Some(&checkpoint))
        .expect("readable")
        .expect_err("the checkpoint shows the rewrite");
    assert_eq!(broken.seq, 5);
    assert!(broken.reason.contains("checkpoint"), "{}", broken.reason);
}

#[test]
fn a_keyless_writer_is_refused_once_the_log_is_keyed() {
    let (dir, _store, _raw) = five_keyed();
    let keyless = Store::open(db(&dir)).expect("open");
    let refused = keyless.audit(entry(6, "E1"));
    match refused {
        Err(StoreError::AuditKeyMissing { key_id }) => assert_eq!(key_id, key(KEY_A).id()),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let report = keyless
        .verify_audit_with(&[key(KEY_A)], None)
        .expect("readable")
        .expect("intact");
    assert_eq!(report.entries, 5, "nothing was appended");
}

#[test]
fn a_rotated_key_keeps_old_entries_verifiable_with_the_old_key() {
    let (dir, store, _raw) = five_keyed();
    drop(store);
    let rotated = Store::open(db(&dir)).expect("open").with_audit_key(key(KEY_B));
    for n in 6..=7 {
        rotated.audit(entry(n, "E2")).expect("audit");
    }
    let (a, b) = (key(KEY_A), key(KEY_B));
    let report = rotated
        .verify_audit_with(&[b.clone(), a.clone()], None)
        .expect("readable")
        .expect("both keys verify");
    assert_eq!(
        report.keys,
        [
            KeyUse {
                key_id: a.id().to_string(),
                entries: 5
            },
            KeyUse {
                key_id: b.id().to_string(),
                entries: 2
            },
        ]
    );
    let (seq, reason) = keyed_break(&rotated, std::slice::from_ref(&b));
    assert_eq!(seq, 1);
    assert!(reason.contains(a.id()), "{reason}");
    // The store's own key is B: verify_audit alone cannot check A's entries either.
    assert_eq!(
        rotated
            .verify_audit()
            .expect("readable")
            .expect_err("A missing")
            .seq,
        1
    );
}

/// Turns a store written by this hrsync without a key into the file an hrsync from
/// before keys left: no key_id column, no seal table, schema version 6.
fn as_before_keys(path: &Path) {
    let raw = Connection::open(path).expect("raw connection");
    raw.execute_batch(
        "ALTER TABLE audit DROP COLUMN key_id; DROP TABLE audit_seal; DROP TABLE control; \
         PRAGMA user_version = 6;",
    )
    .expect("downgrade the file");
}

#[test]
fn a_store_from_before_keys_verifies_and_is_sealed_by_the_first_keyed_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let written: Vec<AuditEntry> = {
        let store = Store::open(db(&dir)).expect("open");
        (1..=4)
            .map(|n| store.audit(entry(n, "E1")).expect("audit"))
            .collect()
    };
    // Legacy links are the SHA-256 of the entry's fields, exactly as before keys.
    let raw = Connection::open(db(&dir)).expect("raw");
    let before = written[3].hash.clone();
    rechain_plain(&raw, false);
    let after: String = raw
        .query_row("SELECT hash FROM audit WHERE seq = 4", [], |r| r.get(0))
        .expect("hash");
    assert_eq!(
        after, before,
        "the legacy link is plain SHA-256 of the same fields"
    );
    drop(raw);
    as_before_keys(&db(&dir));

    let old = Store::open(db(&dir)).expect("the migration adds key ids");
    let report = old.verify_audit().expect("readable").expect("intact");
    assert_eq!((report.entries, report.legacy_entries), (4, 4));
    assert!(report.keys.is_empty() && report.seal.is_none());
    drop(old);

    let keyed = Store::open(db(&dir)).expect("open").with_audit_key(key(KEY_A));
    keyed.audit(entry(5, "E1")).expect("audit");
    let report = keyed.verify_audit().expect("readable").expect("intact");
    assert_eq!((report.entries, report.legacy_entries), (5, 4));
    let seal = report.seal.expect("sealed by the first keyed append");
    assert_eq!((seal.legacy_entries, seal.key_id.as_str()), (4, key(KEY_A).id()));

    // The legacy entries are now under the seal: rewriting them is found.
    let raw = Connection::open(db(&dir)).expect("raw");
    raw.execute("UPDATE audit SET reason = 'nothing to see' WHERE seq = 2", [])
        .expect("tamper");
    rechain_plain(&raw, false);
    assert!(keyed.verify_audit().expect("readable").is_err());
}

// ---- the CLI ----

/// `hrsync audit ARGS` on the store at `db`, with exactly the audit-key variables in `env`.
fn hrsync_audit(db: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hrsync"));
    command.arg("audit").arg("--db").arg(db).args(args);
    for var in ["HRSYNC_AUDIT_KEY", "OLD_AUDIT_KEY", "NEW_AUDIT_KEY"] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    command.output().expect("run hrsync")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Takes a checkpoint with the CLI into a file beside the store; checks the file.
fn cli_checkpoint(dir: &tempfile::TempDir, env: &[(&str, &str)]) -> (std::path::PathBuf, AuditCheckpoint) {
    let path = dir.path().join("checkpoint.json");
    let out = hrsync_audit(
        &db(dir),
        &["checkpoint", "--out", path.to_str().expect("utf-8 path")],
        env,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("written").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&path).expect("read");
    (path, serde_json::from_str(&text).expect("a checkpoint document"))
}

#[test]
fn cli_checkpoint_names_the_head_and_verify_against_it_passes() {
    let (dir, _store, _raw) = five_keyed();
    let env = [("HRSYNC_AUDIT_KEY", KEY_A)];
    let (path, checkpoint) = cli_checkpoint(&dir, &env);
    assert_eq!(checkpoint.seq, 5);
    assert_eq!(checkpoint.key_id.as_deref(), Some(key(KEY_A).id()));
    let printed = hrsync_audit(&db(&dir), &["checkpoint"], &env);
    let on_stdout: AuditCheckpoint = serde_json::from_slice(&printed.stdout).expect("JSON on stdout");
    assert_eq!((on_stdout.seq, &on_stdout.hash), (5, &checkpoint.hash));

    let out = hrsync_audit(
        &db(&dir),
        &["verify", "--against", path.to_str().expect("utf-8")],
        &env,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("audit log intact: 5 entries"), "{text}");
    assert!(text.contains("keyed (HMAC-SHA256): 5 entries"), "{text}");
    assert!(text.contains("checkpoint's entry 5"), "{text}");
    // Without the key the keyed entries cannot be checked, and a checkpoint is not taken.
    let out = hrsync_audit(&db(&dir), &["verify"], &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains(key(KEY_A).id()), "{}", stderr(&out));
    assert!(!hrsync_audit(&db(&dir), &["checkpoint"], &[]).status.success());
}

#[test]
fn cli_verify_against_finds_a_log_cut_short_after_the_checkpoint() {
    let (dir, _store, raw) = five_keyed();
    let env = [("HRSYNC_AUDIT_KEY", KEY_A)];
    let (path, _) = cli_checkpoint(&dir, &env);
    // The newest two go, and the head is made to agree with what is left.
    raw.execute_batch(
        "DELETE FROM audit WHERE seq >= 4; \
         UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit WHERE seq = 3);",
    )
    .expect("tamper");
    assert!(
        hrsync_audit(&db(&dir), &["verify"], &env).status.success(),
        "without the checkpoint a truncated log cannot be told from a shorter one"
    );
    let out = hrsync_audit(
        &db(&dir),
        &["--json", "verify", "--against", path.to_str().expect("utf-8")],
        &env,
    );
    assert!(!out.status.success());
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(verdict["ok"], false);
    assert_eq!(verdict["seq"], 5);
    let reason = verdict["reason"].as_str().expect("reason");
    assert!(
        reason.contains("ends at entry 3") && reason.contains("4 to 5"),
        "{reason}"
    );
}

#[test]
fn cli_verify_against_finds_an_emptied_log() {
    let (dir, _store, raw) = five_keyed();
    let env = [("HRSYNC_AUDIT_KEY", KEY_A)];
    let (path, _) = cli_checkpoint(&dir, &env);
    raw.execute_batch("DELETE FROM audit; DELETE FROM audit_head; DELETE FROM audit_seal;")
        .expect("tamper");
    let out = hrsync_audit(
        &db(&dir),
        &["verify", "--against", path.to_str().expect("utf-8")],
        &env,
    );
    assert!(!out.status.success());
    let text = stderr(&out);
    assert!(text.contains("broken at entry 5"), "{text}");
    assert!(text.contains("emptied"), "{text}");
}

#[test]
fn cli_verify_checks_rotated_keys_by_id() {
    let (dir, store, _raw) = five_keyed();
    drop(store);
    let rotated = Store::open(db(&dir)).expect("open").with_audit_key(key(KEY_B));
    rotated.audit(entry(6, "E2")).expect("audit");
    let both = [("NEW_AUDIT_KEY", KEY_B), ("OLD_AUDIT_KEY", KEY_A)];
    let out = hrsync_audit(
        &db(&dir),
        &[
            "verify",
            "--key-env",
            "NEW_AUDIT_KEY",
            "--key-env",
            "OLD_AUDIT_KEY",
        ],
        &both,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("keyed (HMAC-SHA256): 6 entries"),
        "{}",
        stdout(&out)
    );

    let out = hrsync_audit(&db(&dir), &["verify", "--key-env", "NEW_AUDIT_KEY"], &both);
    assert!(!out.status.success());
    assert!(stderr(&out).contains(key(KEY_A).id()), "{}", stderr(&out));

    // A key typed where its variable's name belongs is refused, and not echoed.
    let out = hrsync_audit(&db(&dir), &["verify", "--key-env", KEY_A], &both);
    assert!(!out.status.success());
    assert!(!stderr(&out).contains(KEY_A), "{}", stderr(&out));
}

#[test]
fn cli_verify_says_a_keyless_log_shows_accidents_only() {
    let (dir, _store, _raw) = five_entries();
    let out = hrsync_audit(&db(&dir), &["verify"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("legacy (plain SHA-256, no audit key): 5 entries"),
        "{text}"
    );
    assert!(text.contains("accidents"), "{text}");
}

#[test]
fn cli_writers_append_with_the_key_from_the_environment() {
    let (dir, store, _raw) = five_keyed();
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
    let skip = |env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hrsync"));
        command
            .args(["retries", "--db"])
            .arg(db(&dir))
            .args(["skip", &id.0.to_string(), "--reason", "superseded"])
            .env_remove("HRSYNC_AUDIT_KEY")
            .envs(env.iter().copied());
        command.output().expect("run hrsync")
    };
    // Without the key the skip is refused whole: no unaudited change.
    let out = skip(&[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("HRSYNC_AUDIT_KEY"), "{}", stderr(&out));
    assert_eq!(
        store.event(id).expect("read").expect("event").event.status,
        EventStatus::DeadLetter
    );

    let out = skip(&[("HRSYNC_AUDIT_KEY", KEY_A)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let newest = &store.audit_page(&AuditFilter::default(), None, 1).expect("page")[0];
    assert_eq!((newest.seq, newest.action.as_str()), (6, "event.skip"));
    assert_eq!(newest.key_id.as_deref(), Some(key(KEY_A).id()));
    store.verify_audit().expect("readable").expect("intact");
}

/// Links are kept as their 32 bytes (half the hex): a log whose older entries hold
/// them as hex text, as every hrsync before did, and newer ones as bytes verifies as
/// one chain, reads back the same hex, and an edit to either kind is still found.
#[test]
fn links_kept_as_text_before_and_as_bytes_now_verify_as_one_chain() {
    let (_dir, store, raw) = five_keyed();
    let kind = |seq: i64| -> (String, i64) {
        raw.query_row(
            "SELECT typeof(hash) || '/' || typeof(prev_hash), length(hash) FROM audit WHERE seq = ?1",
            [seq],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("kind")
    };
    assert_eq!(kind(5), ("blob/blob".to_string(), 32));
    let written = store.audit_page(&AuditFilter::default(), None, 10).expect("page");
    // The first three as an older hrsync wrote them: hex text.
    raw.execute_batch(
        "UPDATE audit SET hash = lower(hex(hash)), prev_hash = lower(hex(prev_hash)) WHERE seq <= 3;",
    )
    .expect("as older entries");
    assert_eq!(kind(3).0, "text/text");
    assert_eq!(
        store.audit_page(&AuditFilter::default(), None, 10).expect("page"),
        written,
        "the same hex either way"
    );
    store.audit(entry(6, "E2")).expect("audit");
    let report = store.verify_audit().expect("readable").expect("intact");
    assert_eq!(report.entries, 6);
    assert_eq!(kind(6).0, "blob/blob");

    raw.execute("UPDATE audit SET after = '{\"title\":\"CEO\"}' WHERE seq = 2", [])
        .expect("tamper with a text-linked entry");
    assert_eq!(keyed_break(&store, &[key(KEY_A)]).0, 2);
}

/// A store an older hrsync wrote holds every link as text, its head's too: the next
/// entry links from that head, the chain verifies, and the head is bytes from then on.
#[test]
fn an_entry_appended_after_a_head_kept_as_text_links_to_it() {
    let (_dir, store, raw) = five_entries();
    let fifth = store.audit_page(&AuditFilter::default(), None, 1).expect("page")[0].clone();
    raw.execute_batch(
        "UPDATE audit SET hash = lower(hex(hash)), prev_hash = lower(hex(prev_hash)); \
         UPDATE audit_head SET hash = lower(hex(hash));",
    )
    .expect("as an older hrsync left it");
    let head_kind = || -> String {
        raw.query_row("SELECT typeof(hash) FROM audit_head", [], |r| r.get(0))
            .expect("head")
    };
    assert_eq!(head_kind(), "text");
    store.verify_audit().expect("readable").expect("intact as text");

    let sixth = store.audit(entry(6, "E1")).expect("audit");
    assert_eq!((sixth.seq, sixth.prev_hash.as_str()), (6, fifth.hash.as_str()));
    let report = store.verify_audit().expect("readable").expect("intact");
    assert_eq!(
        (report.entries, report.last_hash.as_str()),
        (6, sixth.hash.as_str())
    );
    assert_eq!(head_kind(), "blob");
}
