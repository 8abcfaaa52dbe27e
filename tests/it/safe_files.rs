//! The files hrsync writes and reads, mostly through the real binary: CSV exports are
//! safe to open in a spreadsheet (formula cells guarded unless `--raw`), an export
//! replaces a symlink planted at `--out`, exports, the store and the log are
//! owner-only, and the read-only commands read a read-only copy without changing it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use hrsync::model::{Direction, NewAuditEntry, NewEvent, Source};
use hrsync::store::{Store, StoreError};
use jiff::Timestamp;
use serde_json::json;

const CONTRACT: &str = include_str!("../../assets/contract.toml");

/// A store in its own folder, with hostile text in an audit entry and in a
/// completion the shipped contract maps.
fn hostile_store() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("hrsync.db");
    let store = Store::open(&db).expect("open store");
    store
        .audit(NewAuditEntry {
            actor: "=cmd|' /C calc'!A0".into(),
            action: hrsync::model::AuditAction::LearnerUpdate,
            employee_id: Some("+1042".into()),
            subject: "=HYPERLINK(\"http://evil.example\",\"open\")".into(),
            before: json!({ "title": "Clerk" }),
            after: json!({ "title": "Manager" }),
            reason: Some("@SUM(1+1)".into()),
        })
        .expect("audit");
    let statement = json!({
        "id": "6f1c1f9e-0000-4000-8000-000000000001",
        "actor": {"objectType": "Agent", "account": {"homePage": "https://hris.acme.example", "name": "1042"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
        "object": {"id": "https://lms.example.com/courses/data-protection",
                   "definition": {"name": {"en-US": "=HYPERLINK(\"http://evil.example\",\"open\")"}}},
        "result": {"success": true, "completion": true, "score": {"raw": 88, "min": 0, "max": 100}},
        "context": {"extensions": {"https://hrsync.dev/xapi/extensions/credential":
            {"name": "\tDP Certificate", "number": "-2+3", "issued": "2026-11-20", "expires": "2027-11-20"}}},
        "timestamp": "2026-11-20T12:00:00Z",
    });
    store
        .append(&[NewEvent {
            idempotency_key: "lrs:6f1c1f9e".into(),
            source: Source::Lrs,
            direction: Direction::LmsToHris,
            employee_id: "1042".into(),
            kind: "completion".into(),
            occurred_at: Timestamp::now(),
            payload: statement,
        }])
        .expect("append");
    std::fs::write(dir.path().join("contract.toml"), CONTRACT).expect("write contract");
    (dir, db)
}

/// Runs the binary and insists it succeeds.
fn hrsync(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .args(args)
        .output()
        .expect("hrsync runs");
    assert!(
        out.status.success(),
        "hrsync {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// The CSV file's rows after the header, by column name.
fn rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).expect("open CSV");
    let header = reader.headers().expect("header").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("valid CSV");
            header
                .iter()
                .map(String::from)
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect()
}

#[test]
fn an_audit_csv_guards_formula_cells_unless_raw() {
    let (dir, db) = hostile_store();
    let out = dir.path().join("audit.csv");
    let export = |extra: &[&str]| {
        let mut args = vec![
            "audit",
            "export",
            "--db",
            s(&db),
            "--format",
            "csv",
            "--out",
            s(&out),
        ];
        args.extend_from_slice(extra);
        hrsync(&args);
        rows(&out)
    };
    let guarded = export(&[]);
    assert_eq!(guarded.len(), 1);
    assert_eq!(guarded[0]["actor"], "'=cmd|' /C calc'!A0");
    assert_eq!(
        guarded[0]["subject"],
        "'=HYPERLINK(\"http://evil.example\",\"open\")"
    );
    assert_eq!(guarded[0]["employee_id"], "'+1042");
    assert_eq!(guarded[0]["reason"], "'@SUM(1+1)");
    // Cells that start no formula are as stored.
    assert_eq!(guarded[0]["action"], "learner.update");
    assert_eq!(guarded[0]["seq"], "1");

    let raw = export(&["--raw"]);
    assert_eq!(raw[0]["actor"], "=cmd|' /C calc'!A0");
    assert_eq!(raw[0]["reason"], "@SUM(1+1)");
}

#[test]
fn a_completions_csv_guards_formula_cells_unless_raw() {
    let (dir, db) = hostile_store();
    let contract = dir.path().join("contract.toml");
    let out = dir.path().join("completions.csv");
    let export = |extra: &[&str]| {
        let mut args = vec![
            "export",
            "completions",
            "--db",
            s(&db),
            "--contract",
            s(&contract),
            "--since",
            "2000-01-01",
            "--out",
            s(&out),
        ];
        args.extend_from_slice(extra);
        hrsync(&args);
        rows(&out)
    };
    let guarded = export(&[]);
    assert_eq!(guarded.len(), 1, "{guarded:?}");
    assert_eq!(
        guarded[0]["course_name"],
        "'=HYPERLINK(\"http://evil.example\",\"open\")"
    );
    assert_eq!(guarded[0]["credential_name"], "'\tDP Certificate");
    assert_eq!(guarded[0]["credential_number"], "'-2+3");
    assert_eq!(guarded[0]["employee_id"], "1042");
    let raw = export(&["--raw"]);
    assert_eq!(
        raw[0]["course_name"],
        "=HYPERLINK(\"http://evil.example\",\"open\")"
    );
    assert_eq!(raw[0]["credential_number"], "-2+3");
}

/// The export replaced the symlink at `out` with a private regular file and left
/// the symlink's target as it was.
fn assert_replaced_not_followed(out: &Path, victim: &Path, header: &str) {
    assert_eq!(std::fs::read_to_string(victim).expect("victim"), "precious\n");
    let meta = std::fs::symlink_metadata(out).expect("out exists");
    assert!(
        meta.file_type().is_file(),
        "{} is {:?}",
        out.display(),
        meta.file_type()
    );
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{}", out.display());
    let written = std::fs::read_to_string(out).expect("read out");
    assert!(written.starts_with(header), "{written}");
}

#[test]
fn an_export_replaces_a_symlink_at_out_and_never_writes_through_it() {
    let (dir, db) = hostile_store();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").expect("victim");
    let contract = dir.path().join("contract.toml");
    for (name, args) in [
        (
            "audit.csv",
            vec!["audit", "export", "--db", s(&db), "--format", "csv"],
        ),
        (
            "audit.jsonl",
            vec!["audit", "export", "--db", s(&db), "--format", "jsonl"],
        ),
        (
            "completions.csv",
            vec![
                "export",
                "completions",
                "--db",
                s(&db),
                "--contract",
                s(&contract),
                "--since",
                "2000-01-01",
            ],
        ),
    ] {
        let out = dir.path().join(name);
        std::os::unix::fs::symlink(&victim, &out).expect("plant the symlink");
        let mut args = args.clone();
        args.extend(["--out", s(&out)]);
        hrsync(&args);
        let header = match name {
            "audit.csv" => "seq,at,actor",
            "audit.jsonl" => "{",
            _ => "employee_id,completed",
        };
        assert_replaced_not_followed(&out, &victim, header);
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn a_new_store_its_wal_and_shm_are_owner_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("hrsync.db");
    let store = Store::open(&db).expect("open store");
    store
        .audit(NewAuditEntry {
            actor: "engine".into(),
            action: hrsync::model::AuditAction::LearnerUpdate,
            employee_id: Some("1042".into()),
            subject: "learner u-1".into(),
            before: json!({}),
            after: json!({ "email": "zoe@example.com" }),
            reason: None,
        })
        .expect("audit");
    // While the store is open its log and index are on disk beside it.
    for name in ["hrsync.db", "hrsync.db-wal", "hrsync.db-shm"] {
        assert_eq!(mode(&dir.path().join(name)), 0o600, "{name}");
    }
}

/// Runs a command that starts logging (then fails: there is no configuration) with
/// the environment given, and returns its stderr.
fn log_something(log_file: Option<&Path>, env: &[(&str, &Path)], cwd: &Path) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hrsync"));
    command
        .current_dir(cwd)
        .env_remove("XDG_STATE_HOME")
        .env_remove("RUST_BACKTRACE");
    for (key, value) in env {
        command.env(key, value);
    }
    if let Some(path) = log_file {
        command.arg("--log-file").arg(path);
    }
    let out = command
        .args(["doctor", "--config", "missing.toml"])
        .output()
        .expect("hrsync runs");
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_log_is_owner_only_in_a_folder_of_the_users_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    // --log-file: missing folders are made 0700, the file 0600.
    let given = root.join("logs/deep/hrsync.log");
    log_something(Some(&given), &[], root);
    assert_eq!(mode(&given), 0o600);
    assert_eq!(mode(&root.join("logs")), 0o700);
    assert_eq!(mode(&root.join("logs/deep")), 0o700);
    // The default: $XDG_STATE_HOME/hrsync/hrsync.log.
    let state = root.join("state");
    log_something(
        None,
        &[("XDG_STATE_HOME", &state), ("HOME", &root.join("home"))],
        root,
    );
    assert_eq!(mode(&state.join("hrsync/hrsync.log")), 0o600);
    assert_eq!(mode(&state.join("hrsync")), 0o700);
    assert!(!root.join("home").exists());
    // Without it: ~/.local/state/hrsync/hrsync.log.
    let home = root.join("home");
    log_something(None, &[("HOME", &home)], root);
    assert_eq!(mode(&home.join(".local/state/hrsync/hrsync.log")), 0o600);
    assert_eq!(mode(&home.join(".local/state/hrsync")), 0o700);
}

#[test]
fn a_symlink_at_the_log_is_refused_and_its_target_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").expect("victim");
    let log = dir.path().join("hrsync.log");
    std::os::unix::fs::symlink(&victim, &log).expect("plant the symlink");
    let stderr = log_something(Some(&log), &[], dir.path());
    assert!(stderr.contains("is a symbolic link"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "precious\n");
    assert!(
        std::fs::symlink_metadata(&log)
            .expect("log")
            .file_type()
            .is_symlink()
    );
}

fn entry(n: u32) -> NewAuditEntry {
    NewAuditEntry {
        actor: "engine".into(),
        action: hrsync::model::AuditAction::LearnerUpdate,
        employee_id: Some(format!("E{n}")),
        subject: format!("learner u-{n}"),
        before: json!({ "title": "Clerk" }),
        after: json!({ "title": "Manager" }),
        reason: None,
    }
}

/// Runs the binary and returns its exit status, stdout and stderr.
fn hrsync_any(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .args(args)
        .output()
        .expect("hrsync runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// What a read-only command must not change: the bytes, the mtime, and which files
/// the folder holds.
fn snapshot(db: &Path) -> (Vec<u8>, std::time::SystemTime, Vec<String>) {
    let mut names: Vec<String> = std::fs::read_dir(db.parent().expect("a folder"))
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let modified = std::fs::metadata(db).expect("meta").modified().expect("mtime");
    (std::fs::read(db).expect("read"), modified, names)
}

/// Every read-only command, on `db`; each must succeed (drift list must get as far as
/// finding there is no reconciliation run).
fn every_read_only_command(db: &Path, contract: &Path, out_dir: &Path) {
    let db = s(db);
    let (ok, stdout, stderr) = hrsync_any(&["status", "--db", db, "--json"]);
    assert!(ok, "{stderr}");
    let status: serde_json::Value = serde_json::from_str(&stdout).expect("status JSON");
    assert_eq!(status["counts"]["total"], 1, "{status}");
    let (ok, stdout, stderr) = hrsync_any(&["audit", "verify", "--db", db, "--json"]);
    assert!(ok, "{stderr}");
    let verdict: serde_json::Value = serde_json::from_str(&stdout).expect("verify JSON");
    assert_eq!(
        (verdict["ok"].clone(), verdict["entries"].clone()),
        (json!(true), json!(3))
    );
    let (_, exported, _) = hrsync_any(&["audit", "export", "--db", db, "--format", "jsonl"]);
    assert_eq!(exported.lines().count(), 3, "{exported}");
    for args in [
        &["retries", "list"][..],
        &["retries", "list", "--blocked"],
        &["held", "list"],
        &["duplicates", "list"],
        &["flags", "list"],
        &["credentials", "expiring"],
    ] {
        let (ok, _, stderr) = hrsync_any(&[args, &["--db", db]].concat());
        assert!(ok, "hrsync {args:?}: {stderr}");
    }
    let out = out_dir.join("completions.csv");
    let completions = [
        "export",
        "completions",
        "--db",
        db,
        "--contract",
        s(contract),
        "--since",
        "2000-01-01",
        "--out",
        s(&out),
    ];
    let (ok, _, stderr) = hrsync_any(&completions);
    assert!(ok, "{stderr}");
    // Nothing found yet is an empty result, not a failure.
    let (ok, stdout, stderr) = hrsync_any(&["drift", "list", "--db", db]);
    assert!(
        ok && stdout.contains("no complete reconciliation yet"),
        "{stderr}"
    );
    let (ok, stdout, stderr) = hrsync_any(&["drift", "list", "--db", db, "--json"]);
    assert!(ok && stdout.contains(r#""items":[]"#), "{stdout} {stderr}");
}

#[test]
fn read_only_commands_read_a_read_only_copy_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = dir.path().join("hrsync.db");
    {
        let store = Store::open(&live).expect("open store");
        for n in 1..=3 {
            store.audit(entry(n)).expect("audit");
        }
        store
            .append(&[NewEvent {
                idempotency_key: "k1".into(),
                source: Source::Webhook,
                direction: Direction::HrisToLms,
                employee_id: "E1".into(),
                kind: "Updated".into(),
                occurred_at: Timestamp::now(),
                payload: json!({ "id": "E1" }),
            }])
            .expect("append");
        store.checkpoint().expect("checkpoint");
    }
    let contract = dir.path().join("contract.toml");
    std::fs::write(&contract, CONTRACT).expect("write contract");
    // The evidence copy: file 0444 in a folder 0555. A second copy keeps its file
    // writable, so only the folder stops SQLite making its -shm (when not root).
    for (name, file_mode) in [("evidence", 0o444), ("folder-only", 0o644)] {
        let folder = dir.path().join(name);
        std::fs::create_dir(&folder).expect("mkdir");
        let copy = folder.join("hrsync.db");
        std::fs::copy(&live, &copy).expect("copy");
        chmod(&copy, file_mode);
        chmod(&folder, 0o555);
        let before = snapshot(&copy);
        every_read_only_command(&copy, &contract, dir.path());
        let after = snapshot(&copy);
        assert_eq!(before.0, after.0, "{name}: the bytes changed");
        assert_eq!(before.1, after.1, "{name}: the mtime changed");
        if file_mode == 0o444 {
            // Read as it is: not even an empty -wal or -shm beside it, root or not.
            assert_eq!(after.2, ["hrsync.db"], "{name}");
        }
        chmod(&folder, 0o755);
    }
}

#[test]
fn a_read_only_command_reads_a_live_store_beside_its_writer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("hrsync.db");
    let store = Store::open(&db).expect("open store");
    store.audit(entry(1)).expect("audit");
    store.audit(entry(2)).expect("audit");
    // Still open, the entries only in its -wal: a reader must see them there.
    let (ok, stdout, stderr) = hrsync_any(&["audit", "verify", "--db", s(&db), "--json"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("\"entries\":2"), "{stdout}");
    store.audit(entry(3)).expect("the writer still writes");
}

#[test]
fn a_read_only_store_refuses_writes_and_schemas_it_does_not_know() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("hrsync.db");
    Store::open(&db).expect("create").audit(entry(1)).expect("audit");
    let store = Store::open_read_only(&db).expect("open read-only");
    assert!(store.is_read_only());
    assert!(matches!(store.audit(entry(2)), Err(StoreError::ReadOnly { .. })));
    assert!(matches!(store.checkpoint(), Err(StoreError::ReadOnly { .. })));
    assert_eq!(store.verify_audit().expect("read").expect("intact").entries, 1);

    let missing = dir.path().join("missing.db");
    assert!(Store::open_read_only(&missing).is_err());
    assert!(!missing.exists(), "a read-only open created the file");

    let version = |path: &Path| -> i64 {
        let conn = rusqlite::Connection::open(path).expect("raw");
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version")
    };
    for (name, found) in [("empty.db", 0), ("old.db", 2), ("new.db", 999)] {
        let path = dir.path().join(name);
        let conn = rusqlite::Connection::open(&path).expect("raw");
        conn.pragma_update(None, "user_version", found)
            .expect("set version");
        drop(conn);
        match Store::open_read_only(&path) {
            Err(StoreError::NoSchema) if found == 0 => {}
            Err(StoreError::OlderSchema { found: f, .. }) if found == 2 => assert_eq!(f, 2),
            Err(StoreError::NewerSchema { found: f, .. }) if found == 999 => assert_eq!(f, 999),
            Err(other) => panic!("{name}: {other}"),
            Ok(_) => panic!("{name}: opened"),
        }
        // The command refuses it too, and leaves it unmigrated.
        let (ok, _, stderr) = hrsync_any(&["status", "--db", s(&path)]);
        assert!(!ok && stderr.contains("schema version"), "{stderr}");
        assert_eq!(version(&path), found, "{name} was migrated");
    }
}

/// SQLite holds a lock on the store's `-shm` while it is open; another process
/// that finds it free takes the file for unused and truncates it under this
/// one's mapping (SIGBUS). Opening the store (once more in this process, as an
/// attached console does, or read-only) must never drop that lock: checking the
/// sidecars' modes through an open descriptor did, since closing any descriptor
/// of a file drops every POSIX lock the process holds on it.
#[test]
fn opening_the_store_keeps_its_shared_memory_locked_against_other_processes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("hrsync.db");
    let store = Store::open(&db).expect("open store");
    store.audit(entry(1)).expect("audit");
    let again = Store::open(&db).expect("open again");
    let read_only = Store::open_read_only(&db).expect("open read-only");
    again.audit(entry(2)).expect("audit");
    assert_eq!(read_only.counts().expect("counts").total, 0);
    let shm = format!("{}-shm", db.display());
    // SQLite's "dead man switch" byte of the -shm (offset 128): another process
    // may take it for writing only when no connection has the store open.
    let probe = "import fcntl, sys\nf = open(sys.argv[1], 'r+b')\ntry:\n    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)\n    print('free')\nexcept OSError:\n    print('held')\n";
    let out = Command::new("python3")
        .args(["-c", probe, &shm])
        .output()
        .expect("python3 runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "held",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop((store, again, read_only));
}
