//! What the commands print: lists newest first (as the console) unless
//! `--oldest-first`, JSON on one line in a pipe, and a reader that closes the
//! pipe early (`| head`) ends the command quietly with success.

use crate::console_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use hrsync::model::NewAuditEntry;
use serde_json::json;

fn hrsync(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .args(args)
        .output()
        .expect("hrsync runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The event ids a `retries list` printed, in its order.
fn listed_ids(text: &str) -> Vec<i64> {
    text.lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

#[test]
fn lists_are_newest_first_unless_asked_and_json_is_one_line_in_a_pipe() {
    let fixture = console_support::fixture();
    let db = fixture
        .store
        .path()
        .expect("an SQLite store")
        .to_str()
        .expect("utf-8 path")
        .to_string();
    let mut oldest_first: Vec<i64> = fixture.dead.iter().map(|id| id.0).collect();
    oldest_first.sort();
    let newest_first: Vec<i64> = oldest_first.iter().rev().copied().collect();
    assert_eq!(
        listed_ids(&hrsync(&["retries", "list", "--db", &db])),
        newest_first
    );
    assert_eq!(
        listed_ids(&hrsync(&["retries", "list", "--db", &db, "--oldest-first"])),
        oldest_first
    );
    let json_text = hrsync(&["retries", "list", "--db", &db, "--json"]);
    assert_eq!(json_text.lines().count(), 1, "compact in a pipe: {json_text}");
    let listed: serde_json::Value = serde_json::from_str(&json_text).expect("JSON");
    let ids: Vec<i64> = (listed.as_array().expect("an array").iter())
        .map(|e| e["id"].as_i64().expect("an id"))
        .collect();
    assert_eq!(ids, newest_first);
    // An empty list is not a failure: `hrsync` above asserts success.
    assert_eq!(hrsync(&["flags", "list", "--db", &db, "--json"]).trim(), "[]");
}

#[test]
fn a_reader_closing_the_pipe_early_ends_the_command_quietly() {
    let fixture = console_support::fixture();
    // Far more than a pipe holds, so the export is still writing when the reader goes.
    for n in 0..3000 {
        fixture
            .store
            .audit(NewAuditEntry {
                actor: "engine".into(),
                action: hrsync::model::AuditAction::LearnerUpdate,
                employee_id: Some(format!("E{n}")),
                subject: format!("learner u-{n}"),
                before: json!({ "title": "Clerk" }),
                after: json!({ "title": "Manager" }),
                reason: None,
            })
            .expect("audit");
    }
    let db = fixture
        .store
        .path()
        .expect("an SQLite store")
        .to_str()
        .expect("utf-8 path")
        .to_string();
    for args in [
        &["audit", "export", "--db", &db, "--format", "jsonl"][..],
        &["audit", "export", "--db", &db, "--format", "csv"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hrsync"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("hrsync runs");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("a first line");
        // The reader (and with it the pipe) is gone here, as with `| head -1`.
        assert!(!first.is_empty());
        let out = child.wait_with_output().expect("hrsync ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
        assert!(
            !stderr.contains("Error") && !stderr.contains("panicked"),
            "{stderr}"
        );
    }
}
