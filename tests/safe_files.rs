//! The files hrsync writes, mostly through the real binary: CSV exports are safe to
//! open in a spreadsheet (formula cells guarded unless `--raw`), an export replaces a
//! symlink planted at `--out`, and exports, the store and the log are owner-only.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use hrsync::model::{Direction, NewAuditEntry, NewEvent, Source};
use hrsync::store::Store;
use jiff::Timestamp;
use serde_json::json;

const CONTRACT: &str = include_str!("../assets/contract.toml");

/// A store in its own folder, with hostile text in an audit entry and in a
/// completion the shipped contract maps.
fn hostile_store() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("hrsync.db");
    let store = Store::open(&db).expect("open store");
    store
        .audit(NewAuditEntry {
            actor: "=cmd|' /C calc'!A0".into(),
            action: "learner.update".into(),
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
            action: "learner.update".into(),
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
