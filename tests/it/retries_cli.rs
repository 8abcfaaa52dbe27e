//! `hrsync retries` over every queue: a retrying event is listed with its next
//! attempt and retried now by id, `--all` takes every retrying event and dead
//! letter (a rejected event waits for a fix), and each retry is audited.

use crate::console_support;

use std::process::Command;

use hrsync::model::{EventId, EventStatus};
use hrsync::store::{AuditFilter, Store};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

fn hrsync(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .args(args)
        .arg("--json")
        .env("HRSYNC_OPERATOR", "on-call")
        .output()
        .expect("hrsync runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn ids(listed: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = (listed.as_array().expect("a list").iter())
        .map(|e| e["id"].as_i64().expect("an id"))
        .collect();
    ids.sort();
    ids
}

fn status(store: &Store, id: EventId) -> EventStatus {
    store.event(id).expect("read").expect("exists").event.status
}

#[test]
fn a_retrying_event_is_retried_now_by_id_and_all_takes_retrying_and_dead() {
    let fixture = console_support::fixture();
    let store = &fixture.store;
    let db = store
        .path()
        .expect("an SQLite store")
        .to_str()
        .expect("utf-8 path")
        .to_string();
    let later = Timestamp::now() + SignedDuration::from_secs(3600);
    let heads: Vec<EventId> = (store.ready(later, 100).expect("ready"))
        .iter()
        .filter(|e| e.status == EventStatus::Pending)
        .map(|e| e.id)
        .take(2)
        .collect();
    assert_eq!(heads.len(), 2, "the fixture has two pending heads");
    for id in &heads {
        store
            .mark_retry(*id, "LMS answered 503", Some(503), later)
            .expect("retry later");
    }

    let listed = hrsync(&["retries", "list", "--retrying", "--db", &db]);
    assert_eq!(ids(&listed), heads.iter().map(|id| id.0).collect::<Vec<_>>());
    let rejected = hrsync(&["retries", "list", "--rejected", "--db", &db]);
    assert_eq!(ids(&rejected).len() as u64, store.counts().unwrap().rejected);

    // One by id: due now, not in an hour.
    let one = heads[0].0.to_string();
    let done = hrsync(&["retries", "retry", &one, "--db", &db]);
    assert_eq!(ids(&done), vec![heads[0].0]);
    let event = store.event(heads[0]).expect("read").expect("exists").event;
    assert_eq!((event.status, event.attempts), (EventStatus::Pending, 0));
    assert!(event.next_attempt_at.is_some_and(|at| at < later));

    // --all: the other retrying event and the three dead letters; the rejected stay.
    let done = hrsync(&["retries", "retry", "--all", "--db", &db]);
    let mut expected: Vec<i64> = heads[1..].iter().chain(&fixture.dead).map(|id| id.0).collect();
    expected.sort();
    assert_eq!(ids(&done), expected);
    for id in heads.iter().chain(&fixture.dead) {
        assert_eq!(status(store, *id), EventStatus::Pending);
    }
    let counts = store.counts().unwrap();
    assert_eq!((counts.retrying, counts.dead_letters), (0, 0));
    assert_eq!(ids(&rejected).len() as u64, counts.rejected);

    let retries = (store
        .audit_page(&AuditFilter::default(), None, 100)
        .expect("audit"))
    .into_iter()
    .filter(|a| a.action.as_str() == "event.retry" && a.actor == "on-call")
    .count();
    assert_eq!(retries, 5, "each retry audited as the operator");
}
