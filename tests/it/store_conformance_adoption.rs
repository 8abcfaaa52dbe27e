//! The conformance suite for the tables of a store's adoption and upkeep, run on
//! SQLite and on PostgreSQL by `conformance!`: shadow mode (entered once, left
//! once, whichever engine asks), the parallel run's days and explanations, the
//! newest record applied to each employee, and retention (finished events
//! compacted once, in batches, however many engines compact at once).

use std::sync::{Arc, Barrier};
use std::time::Duration;

use hrsync::engine::retention::compact_now;
use hrsync::model::parallel::Difference;
use hrsync::model::{Direction, EventId, NewEvent, RecordStamp, WriteRecord};
use hrsync::store::sql::{Param, Sql};
use hrsync::store::{
    Appended, AppliedRecords, Compacted, Journal, ParallelDay, ParallelRun, Retention, Shadow, StoreError,
    Transact,
};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use crate::common::backends::{Backend, change_with, conformance};

conformance!(
    shadow_mode_is_entered_once_and_left_once_by_any_engine,
    a_parallel_day_is_replaced_by_any_engine_and_days_read_in_order,
    explanations_come_back_in_the_order_given_as_kept,
    the_newest_applied_record_is_kept_per_employee,
    finished_events_lose_their_bodies_in_batches_and_keep_their_rows,
    engines_compacting_at_once_compact_each_event_once,
);

fn shadow_mode_is_entered_once_and_left_once_by_any_engine(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let never = a.shadow_mode().unwrap();
    assert_eq!(never, Default::default());
    assert!(!never.is_on());

    let before = Timestamp::now() - SignedDuration::from_secs(5);
    a.enter_shadow().unwrap();
    let entered = b.shadow_mode().unwrap();
    assert!(entered.is_on(), "{entered:?}");
    let entered_at = entered.entered_at.expect("entered");
    assert!(entered_at > before, "stamped now: {entered_at}");
    b.enter_shadow().unwrap();
    assert_eq!(a.shadow_mode().unwrap(), entered, "the first entry is kept");

    b.record_left_shadow("ana", "cut over: «30 clean days»").unwrap();
    a.record_left_shadow("bob", "again").unwrap();
    let left = a.shadow_mode().unwrap();
    assert!(!left.is_on());
    assert_eq!(left.entered_at, Some(entered_at));
    let how = left.left.expect("left");
    assert_eq!(
        (how.by.as_str(), how.reason.as_str()),
        ("ana", "cut over: «30 clean days»")
    );
    assert!(how.at >= entered_at, "{} before {entered_at}", how.at);
    a.enter_shadow().unwrap();
    assert!(!b.shadow_mode().unwrap().is_on(), "left stays left");
}

fn difference(employee: &str, legacy: Option<&str>, hrsync: Option<&str>) -> Difference {
    Difference {
        employee_id: employee.into(),
        field: "department".into(),
        legacy: legacy.map(Into::into),
        hrsync: hrsync.map(Into::into),
    }
}

fn day(date: jiff::civil::Date, shadow: bool) -> ParallelDay {
    ParallelDay {
        day: date,
        file: format!("legacy-{date}.csv"),
        compared_at: Timestamp::from_second(1_800_000_000).unwrap(),
        shadow,
        legacy_learners: 3_000_000_000,
        hrsync_learners: 2,
        matching: 1,
        legacy_without_id: 0,
        differences: vec![
            difference("7", Some("Sales"), None),
            difference("8", None, Some("Zoë's team")),
        ],
    }
}

fn a_parallel_day_is_replaced_by_any_engine_and_days_read_in_order(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    assert_eq!(a.parallel_days().unwrap(), []);
    let (first, second) = (jiff::civil::date(2026, 12, 7), jiff::civil::date(2026, 12, 8));
    a.record_parallel_day(&day(second, true)).unwrap();
    a.record_parallel_day(&day(first, true)).unwrap();
    let again = ParallelDay {
        file: "legacy-rerun.csv".into(),
        compared_at: Timestamp::from_second(1_800_000_600).unwrap(),
        shadow: false,
        matching: 2,
        differences: vec![],
        ..day(first, true)
    };
    b.record_parallel_day(&again).unwrap();
    assert_eq!(a.parallel_days().unwrap(), [again, day(second, true)]);
}

fn explanations_come_back_in_the_order_given_as_kept(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let before = Timestamp::now() - SignedDuration::from_secs(5);
    let contractor = difference("7", Some("Sales"), None);
    let renamed = difference("8", None, Some("Zoë's team"));
    let first = a
        .add_parallel_explanation(&contractor, "legacy kept contractors", "ana")
        .unwrap();
    let second = b
        .add_parallel_explanation(&renamed, "renamed in the HRIS first", "bob")
        .unwrap();
    let third = a
        .add_parallel_explanation(&contractor, "and still does", "ana")
        .unwrap();
    let kept = b.parallel_explanations().unwrap();
    assert_eq!(kept, [first.clone(), second.clone(), third]);
    assert!(contractor.explained_by(&first) && renamed.explained_by(&second));
    assert!(!contractor.explained_by(&second));
    let at: Timestamp = first.at.parse().unwrap();
    assert!(at > before, "stamped now: {at}");
}

fn the_newest_applied_record_is_kept_per_employee(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    assert_eq!(a.applied_record("E1").unwrap(), None);
    let stamp = |second, digest: &str| RecordStamp {
        at: Timestamp::from_second(second).unwrap(),
        digest: digest.into(),
    };
    a.set_applied_record("E1", &stamp(1_800_000_000, "d-old"), EventId(1))
        .unwrap();
    b.set_applied_record("E2", &stamp(1_800_000_050, "d-two"), EventId(2))
        .unwrap();
    b.set_applied_record("E1", &stamp(1_800_000_100, "d-new"), EventId(3))
        .unwrap();
    let newest = a.applied_record("E1").unwrap().expect("kept");
    assert_eq!(newest.stamp, stamp(1_800_000_100, "d-new"));
    assert_eq!(newest.event_id, EventId(3));
    let other = b.applied_record("E2").unwrap().expect("kept");
    assert_eq!(
        (other.stamp.digest.as_str(), other.event_id),
        ("d-two", EventId(2))
    );
    assert_eq!(b.applied_record("E3").unwrap(), None);
}

fn change(key: &str, employee: &str) -> NewEvent {
    change_with(
        key,
        Direction::HrisToLms,
        employee,
        json!({
            "id": employee,
            "fields": { "department": "Sales", "firstName": "Zoë", "bio": "x".repeat(500) },
        }),
    )
}

fn write() -> WriteRecord {
    WriteRecord {
        sent_from: "hris".into(),
        sent_to: "lms".into(),
        target_id: Some("u-1".into()),
        before: json!({ "title": "Clerk", "bio": "y".repeat(500) }),
        after: json!({ "title": "Manager" }),
        http_status: Some(200),
    }
}

/// `count` events journaled and applied, each with one write.
fn applied_events(store: &impl Journal, count: usize) -> Vec<EventId> {
    let batch: Vec<NewEvent> = (0..count)
        .map(|n| change(&format!("k{n}"), &format!("E{n}")))
        .collect();
    let ids: Vec<EventId> = (store.journal(|tx| tx.append(&batch)).unwrap().iter())
        .map(|a| a.id())
        .collect();
    let mapped = json!({ "userName": "zoe" });
    store
        .journal(|tx| {
            for &id in &ids {
                tx.mark_applied(id, &write(), Some(&mapped))?;
            }
            Ok(())
        })
        .unwrap();
    ids
}

/// The event's payload and mapped payload, as kept.
fn kept(store: &impl Transact, id: EventId) -> (serde_json::Value, Option<String>) {
    store
        .read(|sql: &dyn Sql| {
            sql.query_opt(
                "SELECT payload, mapped FROM events WHERE id = ?1",
                &[Param::from(id.0)],
                |row| Ok((row.text(0)?.expect("a payload"), row.text(1)?)),
            )
        })
        .unwrap()
        .map(|(payload, mapped)| (serde_json::from_str(&payload).unwrap(), mapped))
        .expect("the row stays")
}

/// The event's writes: target, HTTP status, before and after, as kept.
type KeptWrite = (Option<String>, Option<i64>, String, String);

fn kept_writes(store: &impl Transact, id: EventId) -> Vec<KeptWrite> {
    store
        .read(|sql: &dyn Sql| {
            sql.query_all(
                "SELECT target_id, http_status, before, after FROM writes WHERE event_id = ?1 ORDER BY id",
                &[Param::from(id.0)],
                |row| {
                    Ok((
                        row.text(0)?,
                        row.int(1)?,
                        row.text(2)?.unwrap(),
                        row.text(3)?.unwrap(),
                    ))
                },
            )
        })
        .unwrap()
}

fn finished_events_lose_their_bodies_in_batches_and_keep_their_rows(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let applied = applied_events(&a, 25);
    let open: Vec<EventId> = (a
        .journal(|tx| tx.append(&[change("d", "D1"), change("s", "S1"), change("p", "P1")])))
    .unwrap()
    .iter()
    .map(|a| a.id())
    .collect();
    a.journal(|tx| {
        tx.mark_dead_letter(open[0], "503 from the LMS", Some(503))?;
        tx.mark_shadowed(open[1], "would create learner", &json!({ "userName": "s" }))
    })
    .unwrap();

    let an_hour_ago = Timestamp::now() - SignedDuration::from_hours(1);
    assert_eq!(a.compact(an_hour_ago, 10).unwrap(), Compacted::default());
    assert_eq!(b.compacted_through().unwrap(), None);

    // Engines take turns: each goes on from where the other stopped.
    let cutoff = Timestamp::now() + SignedDuration::from_secs(5);
    let steps = [
        a.compact(cutoff, 10).unwrap(),
        b.compact(cutoff, 10).unwrap(),
        a.compact(cutoff, 10).unwrap(),
    ];
    let counts: Vec<_> = steps.iter().map(|s| (s.events, s.writes, s.more)).collect();
    assert_eq!(counts, [(10, 10, true), (10, 10, true), (5, 5, false)]);
    assert_eq!(
        b.compact(cutoff, 10).unwrap(),
        Compacted::default(),
        "nothing left"
    );
    let through = a.compacted_through().unwrap().expect("a mark");
    assert!(through < cutoff, "{through}");

    for &id in &applied {
        let (payload, mapped) = kept(&b, id);
        assert_eq!(payload["fields"], json!({ "department": "Sales" }), "{id:?}");
        assert!(payload["compacted"].is_string(), "{payload}");
        assert_eq!(mapped, None);
        assert_eq!(
            kept_writes(&b, id),
            [(Some("u-1".into()), Some(200), "{}".into(), "{}".into())]
        );
    }
    for &id in &open {
        let (payload, _) = kept(&b, id);
        assert!(payload["fields"]["bio"].is_string(), "{id:?} kept its payload");
    }
    // A redelivery of a compacted event is still known.
    let again = b.journal(|tx| tx.append(&[change("k0", "E0")])).unwrap();
    assert_eq!(again, [Appended::Duplicate(applied[0])]);
    // The engine's retention ends on either backend, with nothing left to do
    // (PostgreSQL gives no pages back: autovacuum takes them).
    let done = compact_now(&a, Duration::ZERO).unwrap();
    assert_eq!((done.events, done.writes), (0, 0));
    assert_eq!(b.release_free_pages(u32::MAX).unwrap(), 0, "no free page left");
}

fn engines_compacting_at_once_compact_each_event_once(backend: &impl Backend) {
    const EVENTS: usize = 120;
    let first = backend.open();
    applied_events(&first, EVENTS);
    let cutoff = Timestamp::now() + SignedDuration::from_secs(5);
    let start = Arc::new(Barrier::new(2));
    let engines: Vec<_> = [first, backend.open()]
        .into_iter()
        .map(|store| {
            let start = Arc::clone(&start);
            std::thread::spawn(move || -> Result<Compacted, StoreError> {
                start.wait();
                let mut total = Compacted::default();
                loop {
                    let step = store.compact(cutoff, 7)?;
                    total.events += step.events;
                    total.writes += step.writes;
                    if !step.more {
                        return Ok(total);
                    }
                }
            })
        })
        .collect();
    let totals: Vec<Compacted> = engines
        .into_iter()
        .map(|engine| engine.join().unwrap().unwrap())
        .collect();
    let events: u64 = totals.iter().map(|t| t.events).sum();
    let writes: u64 = totals.iter().map(|t| t.writes).sum();
    assert_eq!((events, writes), (EVENTS as u64, EVENTS as u64), "{totals:?}");
}
