//! The journal on a real SQLite file: duplicates, atomic batches, per-employee order,
//! retries, dead letters, every transition, restarts, cursors, pages and counts.

use hrsync::model::{Direction, EventId, EventStatus, FieldReason, NewEvent, Source, WriteRecord};
use hrsync::store::{Appended, ControlPlane, EventFilter, Store, StoreError};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("hrsync.db")).expect("open store");
    (dir, store)
}

fn change(key: &str, employee: &str) -> NewEvent {
    NewEvent {
        idempotency_key: key.to_string(),
        source: Source::Webhook,
        direction: Direction::HrisToLms,
        employee_id: employee.to_string(),
        kind: "Updated".to_string(),
        occurred_at: Timestamp::now(),
        payload: json!({ "id": employee, "firstName": "Zoë", "note": "née 李" }),
    }
}

/// `n` events of `n` different employees.
fn distinct(n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|i| change(&format!("k{i}"), &format!("E{i}")))
        .collect()
}

fn append_ids(store: &Store, batch: &[NewEvent]) -> Vec<EventId> {
    store
        .append(batch)
        .expect("append")
        .iter()
        .map(|a| a.id())
        .collect()
}

fn id(appended: &[Appended], i: usize) -> EventId {
    appended[i].id()
}

fn write() -> WriteRecord {
    WriteRecord {
        sent_from: "hris".into(),
        sent_to: "lms".into(),
        target_id: Some("u-1".into()),
        before: json!({ "title": "Clerk" }),
        after: json!({ "title": "Manager" }),
        http_status: Some(200),
    }
}

/// Ids of events ready now, as a sorted list.
fn ready_ids(store: &Store) -> Vec<EventId> {
    let later = Timestamp::now() + SignedDuration::from_secs(1);
    let mut ids: Vec<EventId> = store
        .ready(later, 100)
        .expect("ready")
        .iter()
        .map(|e| e.id)
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_duplicate_delivery_is_acknowledged_once_and_counted() {
    let (_dir, store) = open();
    let first = store
        .append(&[change("k1", "E1"), change("k2", "E2")])
        .expect("append");
    assert!(matches!(first[0], Appended::New(_)));
    let again = store
        .append(&[change("k1", "E1"), change("k3", "E3"), change("k3", "E3")])
        .expect("append");
    assert_eq!(again[0], Appended::Duplicate(id(&first, 0)));
    assert!(matches!(again[1], Appended::New(_)));
    assert_eq!(
        again[2],
        Appended::Duplicate(id(&again, 1)),
        "a repeat inside one batch is a duplicate too"
    );
    let counts = store.counts().expect("counts");
    assert_eq!((counts.total, counts.pending, counts.duplicates), (3, 3, 2));
}

#[test]
fn a_failing_batch_leaves_nothing() {
    let (_dir, store) = open();
    let bad = [change("k1", "E1"), change("k2", "E2"), change("", "E3")];
    let err = store.append(&bad).expect_err("empty key refused");
    assert!(matches!(err, StoreError::InvalidEvent { index: 2, .. }), "{err}");
    assert!(
        store
            .events_page(&EventFilter::default(), None, 10)
            .expect("page")
            .is_empty()
    );
    assert_eq!(store.counts().expect("counts").total, 0);
    // The keys of the failed batch were not taken: a good retry is new.
    let retried = store.append(&bad[..2]).expect("append");
    assert!(retried.iter().all(|a| matches!(a, Appended::New(_))));
}

#[test]
fn one_employee_applies_in_order_others_in_parallel() {
    let (_dir, store) = open();
    let a = store
        .append(&[change("a1", "A"), change("b1", "B"), change("a2", "A")])
        .expect("append");
    let mut lms = change("a3", "A");
    lms.direction = Direction::LmsToHris;
    let other_way = store.append(&[lms]).expect("append");
    assert_eq!(ready_ids(&store), vec![id(&a, 0), id(&a, 1), id(&other_way, 0)]);
    store.mark_applied(id(&a, 0), &write()).expect("applied");
    assert_eq!(ready_ids(&store), vec![id(&a, 1), id(&a, 2), id(&other_way, 0)]);
    store.mark_unchanged(id(&a, 2)).expect("unchanged");
    assert_eq!(ready_ids(&store), vec![id(&a, 1), id(&other_way, 0)]);
}

#[test]
fn a_retry_waits_for_its_time_and_keeps_the_employee_waiting() {
    let (_dir, store) = open();
    let a = store
        .append(&[change("a1", "A"), change("a2", "A")])
        .expect("append");
    let next = Timestamp::now() + SignedDuration::from_secs(60);
    let event = store
        .mark_retry(id(&a, 0), "connect timeout", None, next)
        .expect("retry");
    assert_eq!((event.status, event.attempts), (EventStatus::Retrying, 1));
    assert_eq!(event.last_error.as_deref(), Some("connect timeout"));
    assert!(
        ready_ids(&store).is_empty(),
        "not due yet, and a2 waits behind it"
    );
    let due = store.ready(next, 10).expect("ready");
    assert_eq!(due.iter().map(|e| e.id).collect::<Vec<_>>(), vec![id(&a, 0)]);
    let event = store
        .mark_retry(id(&a, 0), "503", Some(503), next)
        .expect("retry");
    assert_eq!((event.attempts, event.last_http_status), (2, Some(503)));
    let failures = store.event(id(&a, 0)).expect("read").expect("exists").failures;
    let seen: Vec<_> = failures
        .iter()
        .map(|f| (f.error.as_str(), f.http_status))
        .collect();
    assert_eq!(seen, vec![("connect timeout", None), ("503", Some(503))]);
}

#[test]
fn a_dead_letter_blocks_the_employee_until_an_operator_acts() {
    let (_dir, store) = open();
    let a = store
        .append(&[change("a1", "A"), change("a2", "A"), change("b1", "B")])
        .expect("append");
    let dead = store
        .mark_dead_letter(id(&a, 0), "LMS down", Some(503))
        .expect("dead letter");
    assert_eq!(
        (dead.status, dead.attempts, dead.next_attempt_at),
        (EventStatus::DeadLetter, 1, None)
    );
    assert_eq!(
        ready_ids(&store),
        vec![id(&a, 2)],
        "B goes on, A's second change waits"
    );
    let waiting = store.event(id(&a, 1)).expect("read").expect("exists").event;
    assert_eq!(
        waiting.note.as_deref(),
        Some(format!("waiting behind event {} (dead letter): LMS down", id(&a, 0).0).as_str()),
        "the waiting change names what holds it"
    );
    let behind: Vec<EventId> = store
        .waiting_behind(None, 10)
        .expect("read")
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(behind, vec![id(&a, 1)]);
    let letters = store.dead_letters(10, None).expect("dead letters");
    assert_eq!(letters.iter().map(|e| e.id).collect::<Vec<_>>(), vec![id(&a, 0)]);

    let retried = store.retry(id(&a, 0)).expect("retry");
    assert_eq!((retried.status, retried.attempts), (EventStatus::Pending, 0));
    assert_eq!(ready_ids(&store), vec![id(&a, 0), id(&a, 2)]);

    store
        .mark_dead_letter(id(&a, 0), "LMS down", Some(503))
        .expect("dead letter");
    let skipped = store.skip(id(&a, 0), "superseded").expect("skip");
    let next = store.event(id(&a, 1)).expect("read").expect("exists").event;
    assert_eq!(next.note, None, "once nothing holds it, it says nothing");
    assert_eq!(
        (skipped.status, skipped.note.as_deref()),
        (EventStatus::Skipped, Some("superseded"))
    );
    assert_eq!(ready_ids(&store), vec![id(&a, 1), id(&a, 2)]);

    store
        .mark_dead_letter(id(&a, 1), "LMS down", Some(503))
        .expect("dead letter");
    store.flag(id(&a, 1), "ask HR").expect("flag");
    assert!(store.dead_letters(10, None).expect("dead letters").is_empty());
}

#[test]
fn every_transition_and_an_illegal_one() {
    let (_dir, store) = open();
    let ids = append_ids(&store, &distinct(6));
    let applied = store.mark_applied(ids[0], &write()).expect("applied");
    assert_eq!(applied.status, EventStatus::Applied);
    let detail = store.event(ids[0]).expect("read").expect("exists");
    assert_eq!(detail.writes.len(), 1);
    assert_eq!(detail.writes[0].write, write());

    let mapped = store
        .set_mapped(ids[1], &json!({ "userName": "zoë@example.com" }))
        .expect("mapped");
    assert_eq!(mapped.mapped, Some(json!({ "userName": "zoë@example.com" })));

    let reasons = [FieldReason {
        field: "workEmail".into(),
        reason: "required, was empty".into(),
    }];
    let rejected = store.mark_rejected(ids[2], &reasons).expect("rejected");
    assert_eq!(
        (rejected.status, rejected.reasons.clone()),
        (EventStatus::Rejected, reasons.to_vec())
    );
    assert_eq!(
        rejected.last_error.as_deref(),
        Some("workEmail: required, was empty")
    );

    let held = store
        .mark_held(ids[3], "safety threshold: 60 deactivations")
        .expect("held");
    assert_eq!(held.status, EventStatus::Held);
    assert_eq!(store.held(10, None).expect("held").len(), 1);
    let released = store.release_held(&[ids[3]]).expect("release");
    assert_eq!(released[0].status, EventStatus::Pending);

    store.mark_held(ids[4], "duplicate email").expect("held");
    let err = store
        .release_held(&[ids[4], ids[5]])
        .expect_err("ids[5] is not held");
    assert!(
        matches!(
            err,
            StoreError::IllegalTransition {
                from: EventStatus::Pending,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        store.held(10, None).expect("held").len(),
        1,
        "release is all or none"
    );

    let err = store
        .skip(ids[0], "too late")
        .expect_err("applied cannot be skipped");
    match err {
        StoreError::IllegalTransition { id, from, action } => {
            assert_eq!((id, from, action), (ids[0], EventStatus::Applied, "skip"));
        }
        other => panic!("expected an illegal transition, got {other}"),
    }
    assert!(matches!(
        store.retry(ids[5]),
        Err(StoreError::IllegalTransition { .. })
    ));
    assert!(matches!(
        store.mark_applied(EventId(999), &write()),
        Err(StoreError::NoSuchEvent(_))
    ));
    let after = store.event(ids[0]).expect("read").expect("exists");
    assert_eq!(
        after.event.status,
        EventStatus::Applied,
        "a refused transition changes nothing"
    );
}

#[test]
fn a_restart_finds_everything_where_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hrsync.db");
    let ids = {
        let store = Store::open(&path).expect("open");
        let ids = append_ids(&store, &[change("a1", "A"), change("a2", "A"), change("b1", "B")]);
        store.mark_applied(ids[0], &write()).expect("applied");
        store
            .mark_dead_letter(ids[2], "LMS down", Some(503))
            .expect("dead");
        store
            .set_cursor("hris.changed_since", "2026-11-22T00:00:00Z")
            .expect("cursor");
        ids
    };
    let store = Store::open(&path).expect("reopen");
    assert_eq!(
        ready_ids(&store),
        vec![ids[1]],
        "the pending change is still pending"
    );
    assert_eq!(store.dead_letters(10, None).expect("dead").len(), 1);
    assert_eq!(
        store.event(ids[0]).expect("read").expect("exists").writes.len(),
        1
    );
    assert_eq!(
        store.cursor("hris.changed_since").expect("cursor").as_deref(),
        Some("2026-11-22T00:00:00Z")
    );
    let counts = store.counts().expect("counts");
    assert_eq!(
        (counts.total, counts.applied, counts.pending, counts.dead_letters),
        (3, 1, 1, 1)
    );
    let again = store.append(&[change("a2", "A")]).expect("append");
    assert_eq!(again[0], Appended::Duplicate(ids[1]), "keys survive a restart");
}

#[test]
fn a_cursor_moves_only_with_its_batch() {
    let (_dir, store) = open();
    store
        .append_with_cursor(&[change("k1", "E1")], "poll", "t1")
        .expect("append");
    assert_eq!(store.cursor("poll").expect("cursor").as_deref(), Some("t1"));
    let failed = store.append_with_cursor(&[change("k2", "E2"), change("k3", "")], "poll", "t2");
    assert!(failed.is_err());
    assert_eq!(
        store.cursor("poll").expect("cursor").as_deref(),
        Some("t1"),
        "cursor stayed"
    );
    assert_eq!(store.counts().expect("counts").total, 1, "batch left nothing");
    assert_eq!(store.cursor("never set").expect("cursor"), None);
}

#[test]
fn pages_return_each_event_once_newest_first() {
    let (_dir, store) = open();
    for chunk in 0..100 {
        let batch: Vec<NewEvent> = (0..100)
            .map(|i| {
                let n = chunk * 100 + i;
                let mut event = change(&format!("k{n}"), &format!("E{}", n % 37));
                if n % 3 == 0 {
                    event.direction = Direction::LmsToHris;
                    event.payload = json!({ "course": format!("Fire safety {n}") });
                }
                event
            })
            .collect();
        store.append(&batch).expect("append");
    }
    let page_through = |filter: &EventFilter, limit: usize| {
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let page = store.events_page(filter, before, limit).expect("page");
            let Some(last) = page.last() else { break };
            before = Some(last.id);
            seen.extend(page.iter().map(|e| e.id));
        }
        seen
    };
    let all = page_through(&EventFilter::default(), 250);
    assert_eq!(all.len(), 10_000);
    assert!(
        all.windows(2).all(|w| w[0] > w[1]),
        "strictly newest first, no repeats"
    );

    let lms = EventFilter {
        direction: Some(Direction::LmsToHris),
        ..EventFilter::default()
    };
    assert_eq!(page_through(&lms, 99).len(), 3334);
    let one = EventFilter {
        employee_id: Some("E5".into()),
        ..EventFilter::default()
    };
    let ids = page_through(&one, 7);
    assert_eq!(ids.len(), (0..10_000).filter(|n| n % 37 == 5).count());
    let text = EventFilter {
        text: Some("fire SAFETY 99".into()),
        ..EventFilter::default()
    };
    // 99, 990..999 and 9900..9999 that are multiples of 3.
    let expected = (0..10_000)
        .filter(|n| n % 3 == 0 && n.to_string().starts_with("99"))
        .count();
    assert_eq!(page_through(&text, 10).len(), expected);
    let percent = EventFilter {
        text: Some("100%".into()),
        ..EventFilter::default()
    };
    assert!(page_through(&percent, 10).is_empty(), "% is matched literally");

    store
        .mark_dead_letter(all[0], "LMS down", Some(503))
        .expect("dead");
    let dead = EventFilter {
        status: Some(EventStatus::DeadLetter),
        ..EventFilter::default()
    };
    assert_eq!(page_through(&dead, 10), vec![all[0]]);
}

#[test]
fn counts_follow_every_transition() {
    let (_dir, store) = open();
    let ids = append_ids(&store, &distinct(7));
    store.mark_applied(ids[0], &write()).expect("applied");
    store.mark_unchanged(ids[1]).expect("unchanged");
    store
        .mark_retry(ids[2], "timeout", None, Timestamp::now())
        .expect("retry");
    store.mark_dead_letter(ids[3], "down", Some(502)).expect("dead");
    store.mark_rejected(ids[4], &[]).expect("rejected");
    store.mark_held(ids[5], "threshold").expect("held");
    store.skip(ids[6], "noise").expect("skip");
    store.append(&[change("k0", "E0")]).expect("duplicate");
    let c = store.counts().expect("counts");
    assert_eq!(c.total, 7);
    assert_eq!(
        (
            c.pending,
            c.applied,
            c.unchanged,
            c.retrying,
            c.dead_letters,
            c.rejected,
            c.held,
            c.skipped
        ),
        (0, 1, 1, 1, 1, 1, 1, 1)
    );
    assert_eq!(c.duplicates, 1);
    store.flag(ids[3], "ask HR").expect("flag");
    let c = store.counts().expect("counts");
    assert_eq!((c.dead_letters, c.flagged, c.total), (0, 1, 7));
}

#[test]
fn reads_never_wait_for_an_open_write() {
    let (_dir, store) = open();
    store.append(&[change("k1", "E1")]).expect("append");
    let seen_inside = store
        .transaction(|tx| {
            tx.append(&[change("k2", "E2")])?;
            // The writer is busy; a read on the same thread would deadlock if it waited.
            store.events_page(&EventFilter::default(), None, 10)
        })
        .expect("transaction");
    assert_eq!(seen_inside.len(), 1, "a read sees only what is committed");
    assert_eq!(
        store
            .events_page(&EventFilter::default(), None, 10)
            .expect("page")
            .len(),
        2
    );
}

#[test]
fn a_file_from_a_newer_hrsync_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hrsync.db");
    drop(Store::open(&path).expect("open"));
    let raw = rusqlite::Connection::open(&path).expect("raw");
    raw.pragma_update(None, "user_version", 99).expect("bump version");
    drop(raw);
    let err = Store::open(&path).err().expect("refused");
    assert!(matches!(err, StoreError::NewerSchema { found: 99, .. }), "{err}");
}

#[test]
fn only_a_change_the_engine_will_apply_soon_counts_as_coming() {
    let (_dir, store) = open();
    let soon = || Timestamp::now() + SignedDuration::from_secs(120);
    let ids = append_ids(&store, &[change("m-1", "M"), change("m-2", "M")]);
    assert!(store.has_change_due(Direction::HrisToLms, "M", soon()).unwrap());
    assert!(!store.has_change_due(Direction::HrisToLms, "N", soon()).unwrap());
    assert!(!store.has_change_due(Direction::LmsToHris, "M", soon()).unwrap());

    // Deferred to a later date (a future hire): not coming now.
    let later = Timestamp::now() + SignedDuration::from_hours(48);
    store
        .transaction(|tx| tx.defer(ids[0], later, "hired in two days"))
        .unwrap();
    assert!(!store.has_change_due(Direction::HrisToLms, "M", soon()).unwrap());

    // Waiting for an operator: its later change waits behind it, so nothing is coming.
    store
        .mark_rejected(
            ids[0],
            &[FieldReason {
                field: "work_email".into(),
                reason: "not an address".into(),
            }],
        )
        .unwrap();
    assert!(!store.has_change_due(Direction::HrisToLms, "M", soon()).unwrap());

    // Skipped by the operator: the next change is the head and due.
    store.skip(ids[0], "bad data, fixed in the HRIS").unwrap();
    assert!(store.has_change_due(Direction::HrisToLms, "M", soon()).unwrap());
}

#[test]
fn a_checkpoint_beside_the_writer_copies_the_log_and_loses_nothing() {
    let (dir, store) = open();
    let ids = append_ids(&store, &distinct(300));
    let (frames, copied) = store.checkpoint().expect("checkpoint");
    assert!(frames > 0, "300 events are in the log before any checkpoint");
    assert_eq!(
        copied, frames,
        "no reader holds the log back, so all of it is copied"
    );
    // Writes go on after it, and everything is there when the file is opened again.
    store.mark_applied(ids[0], &write()).expect("applied");
    drop(store);
    let store = Store::open(dir.path().join("hrsync.db")).expect("open again");
    assert_eq!(store.counts().expect("counts").total, 300);
    let first = store.event(ids[0]).expect("read").expect("the event is there");
    assert_eq!(first.event.status, EventStatus::Applied);
}

#[test]
fn a_refused_completion_holds_back_none_of_its_employees_other_completions() {
    let (_dir, store) = open();
    let completion = |key: &str| NewEvent {
        direction: Direction::LmsToHris,
        source: Source::Lrs,
        kind: "completed".into(),
        ..change(key, "A")
    };
    let a = store
        .append(&[completion("c1"), completion("c2"), completion("c3")])
        .expect("append");
    let refused = [FieldReason {
        field: "object.id".into(),
        reason: "no training type for this course".into(),
    }];
    store.mark_rejected(id(&a, 0), &refused).expect("reject");
    assert_eq!(ready_ids(&store), vec![id(&a, 1)], "the next completion goes on");
    store
        .mark_dead_letter(id(&a, 1), "HRIS down", Some(503))
        .expect("dead letter");
    assert_eq!(
        ready_ids(&store),
        vec![id(&a, 2)],
        "so does the one after a dead letter"
    );
    let later = store.append(&[completion("c4")]).expect("append");
    assert_eq!(ready_ids(&store), vec![id(&a, 2)], "one at a time per employee");

    // Retried after a fix, a refused completion takes its turn when one is free.
    store.mark_unchanged(id(&a, 2)).expect("done");
    store.retry(id(&a, 0)).expect("retry");
    assert_eq!(ready_ids(&store), vec![id(&later, 0)]);
    store.mark_unchanged(id(&later, 0)).expect("done");
    assert_eq!(ready_ids(&store), vec![id(&a, 0)]);

    // Identity changes keep their order: a refusal holds the employee's next change.
    let b = store
        .append(&[change("b1", "B"), change("b2", "B")])
        .expect("append");
    store.mark_rejected(id(&b, 0), &refused).expect("reject");
    assert_eq!(ready_ids(&store), vec![id(&a, 0)]);
}

#[test]
fn a_store_from_before_the_control_table_keeps_its_pause_contract_and_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hrsync.db");
    drop(Store::open(&path).expect("open"));
    // The file an hrsync from before the control table left: the same values as cursors.
    let requested: Timestamp = "2026-03-01T09:30:15.123456Z".parse().unwrap();
    let next: Timestamp = "2026-03-02T02:00:00Z".parse().unwrap();
    let scheduled: Timestamp = "2026-03-01T02:00:00.5Z".parse().unwrap();
    let raw = rusqlite::Connection::open(&path).expect("raw");
    raw.execute_batch(&format!(
        "DROP TABLE control; PRAGMA user_version = 7;
         INSERT INTO cursors (name, value, updated_at) VALUES
           ('control.paused', 'true', 1), ('control.contract', 'version = 2', 1),
           ('engine.contract', 'version = 1', 1), ('reconcile.requested', '{requested}', 1),
           ('reconcile.request_taken', '{requested}', 1), ('reconcile.next', '{next}', 1),
           ('reconcile.last_scheduled', '{scheduled}', 1),
           ('engine.status', '{{\"state\":\"running\"}}', 1700000000000000),
           ('hris.poll', 'kept', 1);"
    ))
    .expect("downgrade the file");
    drop(raw);
    let store = Store::open(&path).expect("migrates");
    assert_eq!(store.pause_requested().unwrap(), Some(true));
    assert_eq!(
        store.contract_requested().unwrap().as_deref(),
        Some("version = 2")
    );
    assert_eq!(store.contract_in_force().unwrap().as_deref(), Some("version = 1"));
    let reconcile = store.reconcile_control().unwrap();
    assert_eq!(reconcile.requested, Some(requested));
    assert_eq!(reconcile.taken, Some(requested));
    assert_eq!(reconcile.next, Some(next));
    assert_eq!(reconcile.last_scheduled, Some(scheduled));
    let status = store.published_status().unwrap().expect("status moved");
    assert_eq!(status.json, r#"{"state":"running"}"#);
    assert_eq!(
        status.at,
        Timestamp::from_microsecond(1_700_000_000_000_000).unwrap()
    );
    assert_eq!(store.cursor("control.paused").unwrap(), None, "moved, not copied");
    assert_eq!(store.cursor("hris.poll").unwrap().as_deref(), Some("kept"));
}
