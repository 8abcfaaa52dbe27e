//! The store's conformance suite for the read side: the journal's reads the engine,
//! the console and the CLI make (`EventReads`: what may apply now, pages of
//! events both ways with filters, one event's detail, the operator queues) and
//! the console's pages (`ConsolePages`: events and audit windows, held counts).
//! Each check runs on SQLite and on PostgreSQL (`conformance!`), one engine
//! writing and another reading.

use std::collections::HashSet;
use std::time::Duration;

use hrsync::model::{
    AuditAction, Direction, EventId, EventStatus, FailedAttempt, FieldReason, HoldKind, NewAuditEntry,
    NewEvent, Source, WriteRecord,
};
use hrsync::store::{AuditFilter, AuditLog, ConsolePages, EventFilter, EventReads, Journal, Toward};
use jiff::Timestamp;
use serde_json::json;

use crate::common::backends::{Backend, appended, change_with, conformance};

conformance!(
    events_page_both_ways_newest_first,
    events_are_filtered_by_field_text_hold_and_blocking,
    an_employees_events_are_found_open_and_finished_both_ways,
    one_event_is_read_with_its_writes_and_failures,
    the_queues_list_oldest_first_after_a_key,
    audit_pages_both_ways_with_filters,
);

fn write(sent_to: &str) -> WriteRecord {
    WriteRecord {
        sent_from: "hris".into(),
        sent_to: sent_to.into(),
        target_id: Some("u-1".into()),
        before: json!({ "title": "Clerk" }),
        after: json!({ "title": "Manager" }),
        http_status: Some(200),
    }
}

fn later(secs: u64) -> Timestamp {
    Timestamp::now() + Duration::from_secs(secs)
}

fn ids<T>(rows: &[T], id: impl Fn(&T) -> EventId) -> Vec<EventId> {
    rows.iter().map(id).collect()
}

/// Eight events read page by page from either end: each page newest first, the
/// pages meeting without a gap or an overlap.
fn events_page_both_ways_newest_first(backend: &impl Backend) {
    let (engine, console) = (backend.open(), backend.open());
    let batch: Vec<NewEvent> = (0..8)
        .map(|n| {
            change_with(
                &format!("k-{n}"),
                Direction::HrisToLms,
                &format!("E{n}"),
                json!({}),
            )
        })
        .collect();
    let e = appended(&engine, &batch);
    let all = EventFilter::default();
    let summary = |rows: &[hrsync::store::EventSummary]| ids(rows, |s| s.id);

    let first = console.events_page(&all, None, 3).unwrap();
    assert_eq!(summary(&first), [e[7], e[6], e[5]]);
    let second = console.events_page(&all, Some(e[5]), 3).unwrap();
    assert_eq!(summary(&second), [e[4], e[3], e[2]]);
    let last = console.events_page(&all, Some(e[2]), 3).unwrap();
    assert_eq!(summary(&last), [e[1], e[0]]);
    assert!(console.events_page(&all, Some(e[0]), 3).unwrap().is_empty());
    assert_eq!(
        (first[0].employee_id.as_str(), first[0].status, first[0].source),
        ("E7", EventStatus::Pending, Source::Webhook)
    );

    let event = |rows: &[hrsync::model::Event]| ids(rows, |e| e.id);
    let newer = console.events_window(&all, Some(e[2]), Toward::Newer, 3).unwrap();
    assert_eq!(event(&newer), [e[5], e[4], e[3]], "above the key, newest first");
    let oldest = console.events_window(&all, None, Toward::Newer, 2).unwrap();
    assert_eq!(event(&oldest), [e[1], e[0]]);
    let older = console.events_window(&all, Some(e[6]), Toward::Older, 2).unwrap();
    assert_eq!(event(&older), [e[5], e[4]]);
    assert_eq!(older[0].payload, json!({}));
}

/// Every filter the events pane has, alone: direction, status, employee, text in
/// any case (with `%` and `_` matching themselves), the kind of hold, blocked.
fn events_are_filtered_by_field_text_hold_and_blocking(backend: &impl Backend) {
    let (engine, console) = (backend.open(), backend.open());
    let batch = [
        change_with("k-0", Direction::HrisToLms, "E1", json!({ "name": "Ana Lopez" })),
        change_with("k-1", Direction::LmsToHris, "E2", json!({ "name": "ana lopez" })),
        change_with("k-2", Direction::HrisToLms, "E3", json!({ "share": "50%" })),
        change_with(
            "k-3",
            Direction::HrisToLms,
            "E4",
            json!({ "share": "500", "tag": "a_b" }),
        ),
        change_with("k-4", Direction::HrisToLms, "E5", json!({ "tag": "axb" })),
        change_with("k-5", Direction::HrisToLms, "E1", json!({ "name": "Ana" })),
    ];
    let e = appended(&engine, &batch);
    engine
        .journal(|tx| {
            tx.mark_held(e[0], "suspected duplicate of E9")?;
            tx.mark_held(e[3], "safety threshold: 40 deactivations in one pull")?;
            tx.mark_dead_letter(e[2], "LMS answered 503", Some(503))
        })
        .unwrap();
    let page = |filter: EventFilter| {
        let rows = console.events_page(&filter, None, 10).unwrap();
        let window = console.events_window(&filter, None, Toward::Older, 10).unwrap();
        assert_eq!(ids(&rows, |s| s.id), ids(&window, |e| e.id), "{filter:?}");
        ids(&rows, |s| s.id)
    };
    let text = |text: &str| EventFilter {
        text: Some(text.into()),
        ..EventFilter::default()
    };

    let lms_to_hris = EventFilter {
        direction: Some(Direction::LmsToHris),
        ..EventFilter::default()
    };
    assert_eq!(page(lms_to_hris), [e[1]]);
    let dead = EventFilter {
        status: Some(EventStatus::DeadLetter),
        ..EventFilter::default()
    };
    assert_eq!(page(dead), [e[2]]);
    let of_e1 = EventFilter {
        employee_id: Some("E1".into()),
        ..EventFilter::default()
    };
    assert_eq!(page(of_e1), [e[5], e[0]]);
    assert_eq!(page(text("ANA LOP")), [e[1], e[0]], "any case");
    assert_eq!(page(text("50%")), [e[2]], "a % is itself");
    assert_eq!(page(text("a_b")), [e[3]], "an _ is itself");
    assert_eq!(page(text("503")), [e[2]], "the last error is searched");
    assert_eq!(page(text("")), [e[5], e[4], e[3], e[2], e[1], e[0]]);
    let held = |kind| EventFilter {
        hold: Some(kind),
        ..EventFilter::default()
    };
    assert_eq!(page(held(HoldKind::SafetyThreshold)), [e[3]]);
    assert_eq!(page(held(HoldKind::SuspectedDuplicate)), [e[0]]);
    let blocked = EventFilter {
        blocked: true,
        ..EventFilter::default()
    };
    assert_eq!(page(blocked.clone()), [e[5]], "behind E1's held change");
    let blocked_of_e5 = EventFilter {
        employee_id: Some("E5".into()),
        ..blocked
    };
    assert!(page(blocked_of_e5).is_empty());
}

/// One employee's events whatever their status and direction: the open ones
/// are read from one index, the finished ones from another, and a page of them
/// runs newest first across both.
fn an_employees_events_are_found_open_and_finished_both_ways(backend: &impl Backend) {
    let (engine, console) = (backend.open(), backend.open());
    let batch = [
        change_with("k-0", Direction::HrisToLms, "E1", json!({ "n": 0 })),
        change_with("k-1", Direction::LmsToHris, "E1", json!({ "n": 1 })),
        change_with("k-2", Direction::HrisToLms, "E2", json!({ "n": 2 })),
        change_with("k-3", Direction::HrisToLms, "E1", json!({ "n": 3 })),
        change_with("k-4", Direction::LmsToHris, "E1", json!({ "n": 4 })),
    ];
    let e = appended(&engine, &batch);
    engine
        .journal(|tx| {
            tx.mark_applied(e[0], &write("lms"), None)?;
            tx.mark_unchanged(e[1], None)?;
            tx.mark_applied(e[2], &write("lms"), None)
        })
        .unwrap();
    let of = |employee: &str, status: Option<EventStatus>, before: Option<EventId>| {
        let filter = EventFilter {
            employee_id: Some(employee.into()),
            status,
            ..EventFilter::default()
        };
        let rows = console.events_page(&filter, before, 10).unwrap();
        let window = console.events_window(&filter, before, Toward::Older, 10).unwrap();
        assert_eq!(ids(&rows, |s| s.id), ids(&window, |e| e.id), "{filter:?}");
        ids(&rows, |s| s.id)
    };
    assert_eq!(of("E1", None, None), [e[4], e[3], e[1], e[0]]);
    assert_eq!(of("E1", None, Some(e[3])), [e[1], e[0]], "a page from a key");
    assert_eq!(of("E1", Some(EventStatus::Applied), None), [e[0]]);
    assert_eq!(of("E1", Some(EventStatus::Pending), None), [e[4], e[3]]);
    assert_eq!(of("E2", None, None), [e[2]]);
    assert!(of("E3", None, None).is_empty());
}

/// The detail view: the event with its mapped record and refused fields, every
/// write and every failed attempt, oldest first, as another engine left them.
fn one_event_is_read_with_its_writes_and_failures(backend: &impl Backend) {
    let (engine, console) = (backend.open(), backend.open());
    let batch = [
        change_with("k-0", Direction::HrisToLms, "E1", json!({ "id": "E1" })),
        change_with("k-1", Direction::HrisToLms, "E2", json!({ "id": "E2" })),
    ];
    let e = appended(&engine, &batch);
    let mapped = json!({ "userName": "ana" });
    let refused = vec![FieldReason {
        field: "email".into(),
        reason: "not an address".into(),
    }];
    let kept = engine
        .journal(|tx| {
            tx.mark_retry(e[0], "LMS answered 503", Some(503), Timestamp::now())?;
            tx.mark_retry(e[0], "connection reset", None, Timestamp::now())?;
            tx.record_write(e[0], &write("lms-group"))?;
            tx.mark_applied(e[0], &write("lms"), None)?;
            let kept = tx.set_mapped(e[0], &mapped)?;
            tx.mark_rejected(e[1], &refused)?;
            Ok(kept)
        })
        .unwrap();
    assert_eq!(kept.mapped.as_ref(), Some(&mapped));

    let detail = console.event(e[0]).unwrap().expect("the event is there");
    assert_eq!(
        detail.event, kept,
        "the detail's event is the one set_mapped answered"
    );
    assert_eq!(
        (detail.event.status, detail.event.attempts, &detail.event.payload),
        (EventStatus::Applied, 2, &json!({ "id": "E1" }))
    );
    let writes: Vec<(&str, EventId, Option<u16>)> = (detail.writes.iter())
        .map(|w| (w.write.sent_to.as_str(), w.event_id, w.write.http_status))
        .collect();
    assert_eq!(writes, [("lms-group", e[0], Some(200)), ("lms", e[0], Some(200))]);
    assert!(detail.writes[0].id < detail.writes[1].id);
    assert_eq!(detail.writes[1].write, write("lms"));
    let failures: Vec<(String, Option<u16>)> = (detail.failures.iter())
        .map(
            |FailedAttempt {
                 error, http_status, ..
             }| (error.clone(), *http_status),
        )
        .collect();
    assert_eq!(
        failures,
        [
            ("LMS answered 503".to_string(), Some(503)),
            ("connection reset".to_string(), None)
        ]
    );

    let rejected = console.event(e[1]).unwrap().expect("the event is there");
    assert_eq!(
        (
            rejected.event.status,
            rejected.event.reasons,
            rejected.writes.len()
        ),
        (EventStatus::Rejected, refused, 0)
    );
    assert_eq!(console.event(EventId(e[1].0 + 1000)).unwrap(), None);
    let missing = engine.journal(|tx| tx.set_mapped(EventId(e[1].0 + 1000), &mapped));
    assert!(missing.is_err(), "{missing:?}");
}

/// What the engine applies next and the operator's queues: only due heads, in
/// due order; dead letters, held and blocked events oldest first after a key, the
/// blocked one naming the event it waits behind; held employees and counts.
fn the_queues_list_oldest_first_after_a_key(backend: &impl Backend) {
    let (engine, console) = (backend.open(), backend.open());
    let to_lms = Direction::HrisToLms;
    let batch = [
        change_with("k-0", to_lms, "E1", json!({})),
        change_with("k-1", to_lms, "E1", json!({})),
        change_with("k-2", to_lms, "E2", json!({})),
        change_with("k-3", to_lms, "E3", json!({})),
        change_with("k-4", to_lms, "E4", json!({})),
        change_with("k-5", to_lms, "E5", json!({})),
        change_with("k-6", Direction::LmsToHris, "E6", json!({})),
    ];
    let e = appended(&engine, &batch);
    engine
        .journal(|tx| {
            tx.mark_held(e[0], "suspected duplicate of E9")?;
            tx.mark_dead_letter(e[2], "LMS answered 503 again", Some(503))?;
            tx.mark_held(e[3], "safety threshold: 40 deactivations")?;
            tx.mark_retry(e[5], "LMS answered 429", Some(429), later(3600))
        })
        .unwrap();
    let event = |rows: &[hrsync::model::Event]| ids(rows, |e| e.id);

    assert_eq!(event(&console.ready(later(5), 10).unwrap()), [e[4], e[6]]);
    assert_eq!(event(&console.ready(later(5), 1).unwrap()), [e[4]]);
    assert_eq!(
        event(&console.ready(later(7200), 10).unwrap()),
        [e[4], e[6], e[5]]
    );
    assert!(console.has_change_due(to_lms, "E4", later(5)).unwrap());
    assert!(
        !console.has_change_due(to_lms, "E5", later(5)).unwrap(),
        "not due yet"
    );
    assert!(console.has_change_due(to_lms, "E5", later(7200)).unwrap());
    assert!(!console.has_change_due(to_lms, "E1", later(5)).unwrap(), "held");
    assert!(
        !console.has_change_due(to_lms, "E2", later(5)).unwrap(),
        "dead letter"
    );
    assert!(
        !console
            .has_change_due(Direction::LmsToHris, "E4", later(5))
            .unwrap()
    );

    let dead = console.dead_letters(10, None).unwrap();
    assert_eq!(event(&dead), [e[2]]);
    assert_eq!(
        (dead[0].last_error.as_deref(), dead[0].last_http_status),
        (Some("LMS answered 503 again"), Some(503))
    );
    assert_eq!(event(&console.held(10, None).unwrap()), [e[0], e[3]]);
    assert_eq!(event(&console.held(1, None).unwrap()), [e[0]]);
    assert_eq!(event(&console.held(10, Some(e[0])).unwrap()), [e[3]]);
    let pending = console.with_status(EventStatus::Pending, None, 10).unwrap();
    assert_eq!(event(&pending), [e[1], e[4], e[6]]);
    assert_eq!(
        event(&console.with_status(EventStatus::Pending, Some(e[1]), 1).unwrap()),
        [e[4]]
    );

    let behind = console.waiting_behind(None, 10).unwrap();
    assert_eq!(event(&behind), [e[1]]);
    assert_eq!(
        behind[0].note.as_deref(),
        Some(format!("waiting behind event {} (held): suspected duplicate of E9", e[0]).as_str())
    );
    assert!(console.waiting_behind(Some(e[1]), 10).unwrap().is_empty());

    let held: HashSet<String> = ["E1", "E3"].map(String::from).into();
    assert_eq!(console.held_employees(to_lms).unwrap(), held);
    assert!(console.held_employees(Direction::LmsToHris).unwrap().is_empty());
    let split = console.held_counts().unwrap();
    assert_eq!((split.deactivations, split.duplicates), (1, 1));
    let counts = console.journal_counts().unwrap();
    assert_eq!(
        (
            counts.pending,
            counts.retrying,
            counts.held,
            counts.dead_letters,
            counts.blocked
        ),
        (3, 1, 2, 1, 1)
    );
}

fn audit_entry(actor: &str, n: usize, subject: &str) -> NewAuditEntry {
    NewAuditEntry {
        actor: actor.into(),
        action: AuditAction::LearnerUpdate,
        employee_id: Some(format!("E{n}")),
        subject: subject.into(),
        before: json!({ "title": "Clerk" }),
        after: json!({ "title": "Manager", "n": n }),
        reason: None,
    }
}

/// The audit pane's pages: read back exactly as appended (links and all), newest
/// first from either end, filtered by actor, employee and text in any case.
fn audit_pages_both_ways_with_filters(backend: &impl Backend) {
    let (engine, console) = (backend.open(), backend.open());
    let batch: Vec<NewAuditEntry> = (0..6)
        .map(|n| audit_entry(&format!("engine-{}", n % 2), n, &format!("learner u-{n}")))
        .chain([audit_entry("operator", 6, "learner 50% done")])
        .collect();
    let mut written = engine.audit_log(None, |tx| tx.append(batch.clone())).unwrap();
    written.reverse();
    let seqs = |rows: &[hrsync::model::AuditEntry]| rows.iter().map(|e| e.seq).collect::<Vec<_>>();
    let all = AuditFilter::default();

    let first = console.audit_page(&all, None, 3).unwrap();
    assert_eq!(first, written[..3], "read back as appended, newest first");
    let second = console.audit_page(&all, Some(first[2].seq), 3).unwrap();
    assert_eq!(second, written[3..6]);
    assert_eq!(
        console.audit_page(&all, Some(second[2].seq), 3).unwrap(),
        written[6..]
    );
    let s = |i: usize| written[i].seq;
    let newer = console.audit_window(&all, Some(s(5)), Toward::Newer, 2).unwrap();
    assert_eq!(seqs(&newer), [s(3), s(4)]);
    let oldest = console.audit_window(&all, None, Toward::Newer, 2).unwrap();
    assert_eq!(seqs(&oldest), [s(5), s(6)]);

    let by = |filter: AuditFilter| seqs(&console.audit_window(&filter, None, Toward::Older, 10).unwrap());
    let actor = AuditFilter {
        actor: Some("engine-1".into()),
        ..AuditFilter::default()
    };
    assert_eq!(by(actor), [s(1), s(3), s(5)]);
    let employee = AuditFilter {
        employee_id: Some("E2".into()),
        ..AuditFilter::default()
    };
    assert_eq!(by(employee), [s(4)]);
    let text = |text: &str| AuditFilter {
        text: Some(text.into()),
        ..AuditFilter::default()
    };
    assert_eq!(by(text("LEARNER U-3")), [s(3)], "any case");
    assert_eq!(by(text("50%")), [s(0)], "a % is itself");
    assert_eq!(by(text("\"n\":4")), [s(2)], "the values after are searched");
}
