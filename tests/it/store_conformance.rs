//! The store's conformance suite: one set of checks, each run on SQLite and on
//! PostgreSQL by `conformance!`. So far the tables on both: leases (duties held
//! with a fencing token), the engines that hold them, cursors, the control row,
//! the journal (idempotent appends, claims of head events, transitions), and the
//! audit log (one chain however many engines append).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use hrsync::model::{
    AuditAction, AuditEntry, EventId, FieldReason, NewAuditEntry, NewEvent, Secret, WriteRecord,
};
use hrsync::store::csv_cells::CsvCells;
use hrsync::store::{
    Appended, AuditFormat, AuditKey, AuditLog, ControlPlane, Cursors, Engines, Journal, Leases, PgStore,
    PublishedStatus, ReconcileControl, StoreError, Transact,
};

use crate::common::backends::{Backend, change, conformance, postgres};

conformance!(
    a_free_duty_is_taken_and_then_refused_to_others,
    the_holder_renews_with_its_token_only,
    an_expired_lease_is_taken_over_with_a_higher_token,
    a_released_duty_is_free_at_once,
    engines_racing_for_a_duty_leave_one_holder,
    the_store_is_called_and_dropped_inside_async_tasks,
    engines_are_listed_with_their_heartbeats_and_duties,
    an_engine_gone_silent_is_no_longer_live,
    a_cursor_is_set_advanced_and_read_by_another_engine,
    operator_requests_and_engine_reports_cross_engines,
    a_key_appended_by_two_engines_is_one_event,
    engines_claiming_at_once_take_disjoint_heads,
    only_an_employees_head_is_claimed_until_it_finishes,
    an_event_waiting_for_its_manager_goes_when_the_manager_is_journaled,
    an_expired_claim_is_taken_by_another_engine_as_cut_off,
    every_transition_moves_the_counts_on_any_engine,
    engines_appending_at_once_keep_one_chain,
    a_rolled_back_append_leaves_no_trace_in_the_chain,
    an_edited_or_removed_entry_is_found_on_any_backend,
);

const LONG: Duration = Duration::from_secs(60);

fn a_free_duty_is_taken_and_then_refused_to_others(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let before = Instant::now();
    let lease = a
        .acquire_lease("poller", "engine-a", LONG)
        .unwrap()
        .expect("a free duty is taken");
    assert_eq!(
        (lease.duty.as_str(), lease.holder.as_str(), lease.token),
        ("poller", "engine-a", 1)
    );
    assert!(lease.held_until >= before + LONG && lease.held_until <= Instant::now() + LONG);
    assert!(lease.expires_at > jiff::Timestamp::now() + Duration::from_secs(50));

    assert_eq!(
        b.acquire_lease("poller", "engine-b", LONG).unwrap(),
        None,
        "held: refused"
    );
    assert_eq!(
        a.acquire_lease("poller", "engine-a", LONG).unwrap(),
        None,
        "the holder renews, it does not take again"
    );
    let other = b
        .acquire_lease("reconcile", "engine-b", LONG)
        .unwrap()
        .expect("another duty is free");
    assert_eq!(other.token, 1);

    let holders = b.lease_holders().unwrap();
    let listed: Vec<_> = holders
        .iter()
        .map(|h| (h.duty.as_str(), h.holder.as_str(), h.token))
        .collect();
    assert_eq!(listed, [("poller", "engine-a", 1), ("reconcile", "engine-b", 1)]);
}

fn the_holder_renews_with_its_token_only(backend: &impl Backend) {
    let store = backend.open();
    let lease = store
        .acquire_lease("lrs", "engine-a", Duration::from_secs(30))
        .unwrap()
        .unwrap();
    let renewed = store
        .renew_lease(&lease, LONG)
        .unwrap()
        .expect("the current holder renews");
    assert_eq!(renewed.token, lease.token, "a renewal keeps the token");
    assert!(renewed.expires_at > lease.expires_at && renewed.held_until > lease.held_until);

    let forged = hrsync::store::Lease {
        token: lease.token + 1,
        ..lease.clone()
    };
    assert_eq!(
        store.renew_lease(&forged, LONG).unwrap(),
        None,
        "not the current token"
    );
    let impostor = hrsync::store::Lease {
        holder: "engine-b".into(),
        ..lease.clone()
    };
    assert_eq!(
        store.renew_lease(&impostor, LONG).unwrap(),
        None,
        "not the holder"
    );
    store
        .write(|sql| renewed.check(sql))
        .expect("the fence lets the holder write");
}

fn an_expired_lease_is_taken_over_with_a_higher_token(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let short = Duration::from_millis(300);
    let first = a
        .acquire_lease("initial-load", "engine-a", short)
        .unwrap()
        .unwrap();
    // Until it expires by the database's clock, the duty stays engine-a's.
    let deadline = Instant::now() + Duration::from_secs(20);
    let taken = loop {
        if let Some(lease) = b.acquire_lease("initial-load", "engine-b", LONG).unwrap() {
            break lease;
        }
        assert!(
            Instant::now() < deadline,
            "the expired lease was never taken over"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        Instant::now() >= first.held_until,
        "taken over before the holder's own deadline"
    );
    assert!(taken.token > first.token, "{} after {}", taken.token, first.token);

    assert_eq!(
        a.renew_lease(&first, LONG).unwrap(),
        None,
        "the stale holder may not renew"
    );
    assert!(
        !a.release_lease(&first).unwrap(),
        "nor let go of what it no longer holds"
    );
    match a.write(|sql| first.check(sql)) {
        Err(StoreError::LeaseLost { duty, token }) => {
            assert_eq!((duty.as_str(), token), ("initial-load", first.token))
        }
        other => panic!("the fence let a stale holder write: {other:?}"),
    }
    b.write(|sql| taken.check(sql)).expect("the new holder writes");
    assert!(b.renew_lease(&taken, LONG).unwrap().is_some());
}

fn a_released_duty_is_free_at_once(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let lease = a
        .acquire_lease("audit-checkpoint", "engine-a", LONG)
        .unwrap()
        .unwrap();
    assert!(a.release_lease(&lease).unwrap());
    assert!(!a.release_lease(&lease).unwrap(), "released once");
    let next = b
        .acquire_lease("audit-checkpoint", "engine-b", LONG)
        .unwrap()
        .expect("free without waiting out the lease");
    assert_eq!(next.token, lease.token + 1);
    assert_eq!(a.renew_lease(&lease, LONG).unwrap(), None);
}

fn engines_racing_for_a_duty_leave_one_holder(backend: &impl Backend) {
    const ENGINES: usize = 4;
    let stores: Vec<_> = (0..ENGINES).map(|_| Arc::new(backend.open())).collect();
    for round in 0..5 {
        let duty = format!("poller-{round}");
        let start = Arc::new(Barrier::new(ENGINES));
        let racers: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(engine, store)| {
                let (store, start, duty) = (store.clone(), start.clone(), duty.clone());
                std::thread::spawn(move || {
                    start.wait();
                    store
                        .acquire_lease(&duty, &format!("engine-{engine}"), LONG)
                        .unwrap()
                })
            })
            .collect();
        let won: Vec<_> = racers.into_iter().filter_map(|r| r.join().unwrap()).collect();
        assert_eq!(won.len(), 1, "round {round}: {won:?}");
        assert_eq!(won[0].token, 1);
    }
}

/// The engine calls the store from async tasks, on a one-thread runtime in tests:
/// PostgreSQL's blocking client must neither panic there nor stall the runtime.
fn the_store_is_called_and_dropped_inside_async_tasks(backend: &impl Backend) {
    let store = backend.open();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let lease = store.acquire_lease("poller", "engine-a", LONG).unwrap().unwrap();
        let renewed = tokio::spawn(async move {
            let renewed = store.renew_lease(&lease, LONG).unwrap();
            drop(store);
            renewed
        });
        assert!(renewed.await.unwrap().is_some());
    });
}

fn engines_are_listed_with_their_heartbeats_and_duties(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    a.heartbeat("engine-a", "host-a", 101).unwrap();
    b.heartbeat("engine-b", "host-b", 202).unwrap();
    a.acquire_lease("poller", "engine-a", LONG).unwrap().unwrap();
    a.acquire_lease("reconcile", "engine-a", LONG).unwrap().unwrap();
    let first = b.engines(LONG).unwrap();
    let seen: Vec<_> = first
        .iter()
        .map(|e| (e.id.as_str(), e.host.as_str(), e.pid, e.live, e.duties.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "engine-a",
                "host-a",
                101,
                true,
                vec!["poller".to_string(), "reconcile".to_string()]
            ),
            ("engine-b", "host-b", 202, true, vec![]),
        ]
    );
    a.heartbeat("engine-a", "host-a", 101).unwrap();
    let again = b.engines(LONG).unwrap();
    let (before, after) = (&first[0], &again[0]);
    assert_eq!(after.started_at, before.started_at, "a heartbeat keeps the start");
    assert!(after.heartbeat_at >= before.heartbeat_at);
}

fn an_engine_gone_silent_is_no_longer_live(backend: &impl Backend) {
    let store = backend.open();
    store.heartbeat("engine-c", "host-c", 7).unwrap();
    let window = Duration::from_millis(200);
    assert!(store.engines(LONG).unwrap()[0].live);
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.engines(window).unwrap()[0].live {
        assert!(Instant::now() < deadline, "a silent engine stayed live");
        std::thread::sleep(Duration::from_millis(20));
    }
    store.heartbeat("engine-c", "host-c", 7).unwrap();
    assert!(
        store.engines(window).unwrap()[0].live,
        "live again once heard from"
    );
}

fn a_cursor_is_set_advanced_and_read_by_another_engine(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    assert_eq!(
        b.read_cursor("poll.since").unwrap(),
        None,
        "never read: no cursor"
    );
    a.write_cursor("poll.since", "2026-01-01T00:00:00Z").unwrap();
    a.write_cursor("lrs.since", "2026-01-02T00:00:00Z").unwrap();
    a.write_cursor("poll.since", "2026-01-03T00:00:00Z").unwrap();
    assert_eq!(
        b.read_cursor("poll.since").unwrap().as_deref(),
        Some("2026-01-03T00:00:00Z"),
        "advanced in place"
    );
    assert_eq!(
        b.read_cursor("lrs.since").unwrap().as_deref(),
        Some("2026-01-02T00:00:00Z"),
        "each name its own row"
    );
}

fn operator_requests_and_engine_reports_cross_engines(backend: &impl Backend) {
    let (console, engine) = (backend.open(), backend.open());
    assert_eq!(
        engine.pause_requested().unwrap(),
        None,
        "nobody paused or resumed yet"
    );
    assert_eq!(engine.contract_requested().unwrap(), None);
    assert_eq!(engine.reconcile_control().unwrap(), ReconcileControl::default());
    assert_eq!(console.published_status().unwrap(), None);

    console.request_pause(true).unwrap();
    assert_eq!(engine.pause_requested().unwrap(), Some(true));
    console.request_pause(false).unwrap();
    assert_eq!(engine.pause_requested().unwrap(), Some(false), "resumed");

    console.request_contract("version = 2").unwrap();
    assert_eq!(
        engine.contract_requested().unwrap().as_deref(),
        Some("version = 2")
    );
    engine.set_contract_in_force("version = 2").unwrap();
    assert_eq!(
        console.contract_in_force().unwrap().as_deref(),
        Some("version = 2")
    );

    let at = |micros| jiff::Timestamp::from_microsecond(micros).unwrap();
    console.request_reconcile(at(1_700_000_000_000_001)).unwrap();
    engine.reconcile_request_taken(at(1_700_000_000_000_001)).unwrap();
    engine.reconcile_scheduled(at(1_700_000_000_000_002)).unwrap();
    engine.set_reconcile_next(at(1_700_000_000_000_003)).unwrap();
    assert_eq!(
        console.reconcile_control().unwrap(),
        ReconcileControl {
            requested: Some(at(1_700_000_000_000_001)),
            taken: Some(at(1_700_000_000_000_001)),
            last_scheduled: Some(at(1_700_000_000_000_002)),
            next: Some(at(1_700_000_000_000_003)),
        },
        "to the microsecond"
    );

    engine
        .publish_status(at(1_700_000_000_000_004), r#"{"paused":false}"#)
        .unwrap();
    assert_eq!(
        console.published_status().unwrap(),
        Some(PublishedStatus {
            at: at(1_700_000_000_000_004),
            json: r#"{"paused":false}"#.into(),
        })
    );
}

fn write() -> WriteRecord {
    WriteRecord {
        sent_from: "hris".into(),
        sent_to: "lms".into(),
        target_id: Some("u-1".into()),
        before: serde_json::json!({}),
        after: serde_json::json!({ "active": true }),
        http_status: Some(200),
    }
}

/// Claims for `engine` what it may take now: the heads, and those cut off.
fn claim(
    store: &impl Journal,
    engine: &str,
    claim_time: Duration,
    limit: usize,
) -> (Vec<EventId>, Vec<EventId>) {
    let (heads, cut_off) = store.claim_heads(engine, claim_time, limit).unwrap();
    (heads.into_iter().map(|(id, _, _)| id).collect(), cut_off)
}

/// Webhooks spread over engines: a delivery repeated to another engine, even at
/// the same moment, is journaled once and acknowledged as a duplicate there.
fn a_key_appended_by_two_engines_is_one_event(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let first = a.journal(|tx| tx.append(&[change("k-1", "E1")])).unwrap();
    let again = b.journal(|tx| tx.append(&[change("k-1", "E1")])).unwrap();
    let [Appended::New(id)] = first[..] else {
        panic!("{first:?}")
    };
    assert_eq!(again, [Appended::Duplicate(id)]);

    let batch: Vec<NewEvent> = (0..20)
        .map(|n| change(&format!("k-at-once-{n}"), &format!("F{}", n % 7)))
        .collect();
    // The other engine has the batch in the opposite order: neither waits on the other for good.
    let start = Arc::new(Barrier::new(2));
    let racers: Vec<_> = [(a, false), (b, true)]
        .into_iter()
        .map(|(store, reversed)| {
            let (start, mut batch) = (start.clone(), batch.clone());
            std::thread::spawn(move || {
                if reversed {
                    batch.reverse();
                }
                start.wait();
                let mut answers = store.journal(|tx| tx.append(&batch)).unwrap();
                if reversed {
                    answers.reverse();
                }
                answers
            })
        })
        .collect();
    let answers: Vec<Vec<Appended>> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    for (n, (x, y)) in answers[0].iter().zip(&answers[1]).enumerate() {
        assert_eq!(x.id(), y.id(), "event {n}: one event for one key");
        let new = [x, y].iter().filter(|a| matches!(a, Appended::New(_))).count();
        assert_eq!(new, 1, "event {n}: journaled once: {x:?} {y:?}");
    }
    let counts = backend.open().journal_counts().unwrap();
    assert_eq!((counts.pending, counts.duplicates), (21, 21));
    assert_eq!(counts.blocked, 20 - 7, "one head per employee, the rest wait");
}

/// Each engine takes ready heads the others are not taking: none is applied twice.
fn engines_claiming_at_once_take_disjoint_heads(backend: &impl Backend) {
    const EMPLOYEES: usize = 30;
    let store = backend.open();
    let batch: Vec<NewEvent> = (0..EMPLOYEES)
        .map(|n| change(&format!("k-{n}"), &format!("E{n}")))
        .collect();
    store.journal(|tx| tx.append(&batch)).unwrap();
    let start = Arc::new(Barrier::new(2));
    let racers: Vec<_> = ["engine-a", "engine-b"]
        .into_iter()
        .map(|engine| {
            let (store, start) = (backend.open(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                claim(&store, engine, LONG, 20).0
            })
        })
        .collect();
    let taken: Vec<Vec<EventId>> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    let rest = claim(&store, "engine-c", LONG, EMPLOYEES).0;
    let mut all: Vec<EventId> = taken.iter().flatten().chain(&rest).copied().collect();
    assert!(taken.iter().all(|t| !t.is_empty() && t.len() <= 20), "{taken:?}");
    all.sort();
    let claimed = all.len();
    all.dedup();
    assert_eq!(all.len(), claimed, "no head claimed twice: {taken:?} {rest:?}");
    assert_eq!(all.len(), EMPLOYEES, "every head claimed once");
}

/// Per-employee order across engines: an employee's next event is claimable only
/// once its head has finished, whichever engine finishes it.
fn only_an_employees_head_is_claimed_until_it_finishes(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let appended = a
        .journal(|tx| tx.append(&[change("k-1", "E1"), change("k-2", "E1"), change("k-3", "E2")]))
        .unwrap();
    let ids: Vec<EventId> = appended.iter().map(|a| a.id()).collect();
    assert_eq!(claim(&a, "engine-a", LONG, 10), (vec![ids[0], ids[2]], vec![]));
    assert_eq!(
        claim(&b, "engine-b", LONG, 10),
        (vec![], vec![]),
        "the heads are claimed, and E1's second event waits behind its head"
    );
    a.journal(|tx| tx.mark_applied(ids[0], &write(), None)).unwrap();
    assert_eq!(
        claim(&b, "engine-b", LONG, 10),
        (vec![ids[1]], vec![]),
        "the head applied: the next is claimable, by any engine"
    );
    let retry_at = jiff::Timestamp::now() - Duration::from_secs(1);
    b.journal(|tx| tx.mark_retry(ids[1], "LMS answered 503", Some(503), retry_at))
        .unwrap();
    assert_eq!(
        claim(&a, "engine-a", LONG, 10),
        (vec![ids[1]], vec![]),
        "a failed attempt ends its claim; due again, it is claimable"
    );
    let counts = b.journal_counts().unwrap();
    assert_eq!(
        (counts.pending, counts.retrying, counts.applied, counts.blocked),
        (1, 1, 1, 0)
    );
}

/// An event deferred for its manager's change is due again once that change is
/// journaled (by any engine), in its old place ahead of later arrivals and with
/// no note left; deferred for a manager with nothing left to apply, at once.
fn an_event_waiting_for_its_manager_goes_when_the_manager_is_journaled(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let batch = [
        change("k-m", "M1"),
        change("k-r", "E1"),
        change("k-l", "E2"),
        change("k-x", "E3"),
    ];
    let ids: Vec<EventId> = (a.journal(|tx| tx.append(&batch)).unwrap().iter())
        .map(|a| a.id())
        .collect();
    let [manager, report, later, lone] = ids[..] else {
        panic!("{ids:?}")
    };
    let hour = jiff::Timestamp::now() + Duration::from_secs(3600);
    let why = "waiting for the manager M1 to be synced first";
    a.journal(|tx| tx.defer_for_manager(report, hour, why, "M1"))
        .unwrap();
    assert_eq!(
        ready_on(&b),
        [manager, later, lone],
        "the report waits an hour at most"
    );
    let woken = b
        .journal(|tx| {
            tx.mark_unchanged(manager, None)?;
            tx.wake_waiting_for(&["M1", "E9"])
        })
        .unwrap();
    assert_eq!(woken, 1);
    assert_eq!(
        ready_on(&a),
        [report, later, lone],
        "due again, ahead of later arrivals"
    );
    let event = a.journal(|tx| tx.event(report)).unwrap();
    assert_eq!(event.note, None, "no longer waiting for anyone");
    assert_eq!(
        a.journal(|tx| tx.wake_waiting_for(&["M1"])).unwrap(),
        0,
        "woken once"
    );

    a.journal(|tx| tx.defer_for_manager(lone, hour, why, "M1"))
        .unwrap();
    assert_eq!(
        ready_on(&b),
        [report, later, lone],
        "the manager has nothing left to apply: due at once"
    );
}

/// The heads due now, in the order they are taken.
fn ready_on(store: &impl Journal) -> Vec<EventId> {
    (store.journal(|tx| tx.ready_heads(10)).unwrap().into_iter())
        .map(|(id, _, _)| id)
        .collect()
}

/// A claim is a lease: the claim of an engine that died runs out, and another
/// engine takes the event, told that its last attempt was cut off.
fn an_expired_claim_is_taken_by_another_engine_as_cut_off(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let id = a.journal(|tx| tx.append(&[change("k-1", "E1")])).unwrap()[0].id();
    let short = Duration::from_millis(300);
    assert_eq!(claim(&a, "engine-a", short, 10), (vec![id], vec![]));
    assert_eq!(claim(&b, "engine-b", LONG, 10).0, [], "claimed, not yet expired");
    let deadline = Instant::now() + Duration::from_secs(10);
    let taken = loop {
        let taken = claim(&b, "engine-b", LONG, 10);
        if !taken.0.is_empty() || Instant::now() > deadline {
            break taken;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        taken,
        (vec![id], vec![id]),
        "taken over, its start known as cut off"
    );
    assert_eq!(claim(&a, "engine-a", LONG, 10).0, [], "the new claim holds");
}

/// The engine's outcomes and the operator's moves, each on its own engine: the
/// counters follow, an illegal move leaves nothing, and what is due is claimable.
fn every_transition_moves_the_counts_on_any_engine(backend: &impl Backend) {
    let (engine, operator) = (backend.open(), backend.open());
    let batch: Vec<NewEvent> = (0..9)
        .map(|n| change(&format!("k-{n}"), &format!("E{n}")))
        .collect();
    let appended = engine.journal(|tx| tx.append(&batch)).unwrap();
    let e: Vec<EventId> = appended.iter().map(|a| a.id()).collect();
    let later = |secs| jiff::Timestamp::now() + Duration::from_secs(secs);
    let mapped = serde_json::json!({ "userName": "ana" });
    let refused = [FieldReason {
        field: "email".into(),
        reason: "not an address".into(),
    }];
    engine
        .journal(|tx| {
            tx.mark_unchanged(e[0], Some(&mapped))?;
            tx.mark_retry(e[1], "LMS answered 503", Some(503), later(60))?;
            tx.mark_dead_letter(e[2], "LMS answered 503 again", Some(503))?;
            tx.mark_rejected(e[3], &refused)?;
            tx.mark_held(e[4], "suspected duplicate of E1")?;
            tx.mark_superseded(e[5], "a newer record was applied")?;
            tx.mark_shadowed(e[6], "would create ana", &mapped)?;
            tx.defer(e[7], later(3600), "hired next month")?;
            tx.mark_applied(e[8], &write(), Some(&mapped))
        })
        .unwrap();
    let counts = operator.journal_counts().unwrap();
    let by_status = |c: hrsync::store::StoreCounts| {
        [
            c.pending,
            c.retrying,
            c.applied,
            c.unchanged,
            c.dead_letters,
            c.rejected,
            c.held,
            c.skipped,
            c.flagged,
            c.shadowed,
        ]
    };
    assert_eq!(by_status(counts), [1, 1, 1, 1, 1, 1, 1, 1, 0, 1]);
    assert_eq!(counts.total, 9);

    let requeued = operator
        .journal(|tx| {
            tx.retry(e[2])?;
            tx.release_held(e[4])?;
            tx.skip(e[3], "fixed in the HRIS by hand")?;
            tx.flag(e[1], "for the HRIS admin")?;
            tx.requeue_shadowed()
        })
        .unwrap();
    assert_eq!(requeued, [e[6]]);
    let moved = by_status(engine.journal_counts().unwrap());
    assert_eq!(moved, [4, 0, 1, 1, 0, 0, 0, 2, 1, 0]);

    let illegal = operator.journal(|tx| {
        tx.skip(e[7], "not needed after all")?;
        tx.skip(e[0], "already unchanged")
    });
    assert!(
        matches!(illegal, Err(StoreError::IllegalTransition { .. })),
        "{illegal:?}"
    );
    assert_eq!(
        by_status(engine.journal_counts().unwrap()),
        moved,
        "an illegal move rolls back the moves before it"
    );
    let (mut due, _) = claim(&engine, "engine-a", LONG, 10);
    due.sort();
    assert_eq!(due, [e[2], e[4], e[6]], "due now; the deferred one is not");
}

/// PostgreSQL only: what an operator sees when the server cannot be used. Said
/// at once, in the server's words, and never with the password.
#[test]
fn postgres_says_at_once_why_it_cannot_connect() {
    let Some(db) = postgres() else { return };
    let wrong = hrsync::model::Secret::new("not-the-password-xyzzy");
    let started = Instant::now();
    let refused = match PgStore::open(&db.url, Some(&wrong)) {
        Err(error) => error.to_string(),
        Ok(_) => panic!("a wrong password was let in"),
    };
    assert!(refused.contains("password authentication failed"), "{refused}");
    assert!(
        !refused.contains("xyzzy") && !refused.contains(db.password.expose()),
        "{refused}"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = format!("postgres://hrsync@127.0.0.1:{closed}/hrsync");
    let refused = match PgStore::open(&nowhere, Some(&db.password)) {
        Err(error) => error.to_string(),
        Ok(_) => panic!("a store opened on a closed port"),
    };
    assert!(
        refused.contains("cannot reach the store's PostgreSQL server"),
        "{refused}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

fn audit_entry(engine: usize, n: usize) -> NewAuditEntry {
    NewAuditEntry {
        actor: format!("engine-{engine}"),
        action: AuditAction::LearnerUpdate,
        employee_id: Some(format!("E{n}")),
        subject: format!("learner u-{engine}-{n}"),
        before: serde_json::json!({ "title": "Clerk" }),
        after: serde_json::json!({ "title": "Manager", "n": n }),
        reason: None,
    }
}

/// Engines appending at the same moment, with a key, take turns on the head: one
/// chain with no gap or fork, sealed once (at the empty log) by the first of them.
fn engines_appending_at_once_keep_one_chain(backend: &impl Backend) {
    const ENGINES: usize = 3;
    const EACH: usize = 40;
    let key = AuditKey::new(Secret::new("k".repeat(32))).unwrap();
    let stores: Vec<_> = (0..ENGINES).map(|_| Arc::new(backend.open())).collect();
    let start = Arc::new(Barrier::new(ENGINES));
    let appenders: Vec<_> = stores
        .iter()
        .enumerate()
        .map(|(engine, store)| {
            let (store, start, key) = (store.clone(), start.clone(), key.clone());
            std::thread::spawn(move || {
                start.wait();
                let mut seqs = Vec::new();
                for n in 0..EACH {
                    // Some transactions append two entries: a batch is one turn too.
                    let batch = if n % 5 == 0 {
                        vec![audit_entry(engine, n), audit_entry(engine, n + 1000)]
                    } else {
                        vec![audit_entry(engine, n)]
                    };
                    let appended = store
                        .audit_log(Some(&key), |tx| tx.append(batch.clone()))
                        .unwrap();
                    seqs.extend(appended.iter().map(|entry| entry.seq));
                }
                seqs
            })
        })
        .collect();
    let mut seqs: Vec<u64> = appenders.into_iter().flat_map(|a| a.join().unwrap()).collect();
    let total = (ENGINES * (EACH + EACH / 5)) as u64;
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=total).collect::<Vec<_>>(),
        "every entry its own place, none missing"
    );

    let report = stores[0]
        .verify_audit_log(std::slice::from_ref(&key), None)
        .unwrap()
        .expect("one intact chain");
    assert_eq!((report.entries, report.legacy_entries), (total, 0));
    assert_eq!(report.keys.len(), 1);
    assert_eq!(report.keys[0].entries, total);
    let checkpoint = stores[1]
        .audit_log_checkpoint(std::slice::from_ref(&key))
        .unwrap()
        .expect("a checkpoint of an intact chain");
    assert_eq!((checkpoint.seq, &checkpoint.hash), (total, &report.last_hash));
    assert_eq!(checkpoint.key_id.as_deref(), Some(key.id()));
    assert_eq!(stores[1].audit_log_entries(None).unwrap(), total);
    assert_eq!(
        stores[1].audit_log_entries(Some("E1000")).unwrap(),
        ENGINES as u64
    );
    let seal = report.seal.expect("sealed by the first keyed append");
    assert_eq!(seal.legacy_entries, 0);
    assert_eq!(stores[1].audit_log_seal().unwrap(), Some(seal));
    // Without the key the chain is not taken for intact, and a keyless writer is refused.
    assert!(stores[1].verify_audit_log(&[], None).unwrap().is_err());
    let refused = stores[1].audit_log(None, |tx| tx.append(vec![audit_entry(9, 9)]));
    assert!(
        matches!(refused, Err(StoreError::AuditKeyMissing { .. })),
        "{refused:?}"
    );
}

/// An entry appended in a transaction that rolls back leaves nothing: the next one
/// takes its place in the chain, which verifies.
fn a_rolled_back_append_leaves_no_trace_in_the_chain(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let first = a
        .audit_log(None, |tx| tx.append(vec![audit_entry(0, 1)]))
        .unwrap();
    assert_eq!(first[0].seq, 1);
    let rolled_back = a.audit_log(None, |tx| {
        let appended = tx.append(vec![audit_entry(0, 2), audit_entry(0, 3)])?;
        assert_eq!(appended[1].seq, 3);
        Err::<(), _>(StoreError::NoSuchEvent(EventId(77)))
    });
    assert!(matches!(rolled_back, Err(StoreError::NoSuchEvent(_))));
    let report = b.verify_audit_log(&[], None).unwrap().expect("intact");
    assert_eq!(
        (report.entries, report.last_hash.as_str()),
        (1, first[0].hash.as_str())
    );

    let next = b
        .audit_log(None, |tx| tx.append(vec![audit_entry(1, 4)]))
        .unwrap();
    assert_eq!(
        (next[0].seq, next[0].prev_hash.as_str()),
        (2, first[0].hash.as_str())
    );
    let report = a.verify_audit_log(&[], None).unwrap().expect("intact");
    assert_eq!((report.entries, report.legacy_entries), (2, 2));
    assert!(report.seal.is_none());

    // Exported as written, links as hex, of one employee by its own filter.
    let mut out = Vec::new();
    let written = a
        .export_audit_log(AuditFormat::Jsonl, CsvCells::default(), None, &mut out)
        .unwrap();
    let exported: Vec<AuditEntry> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(written, 2);
    assert_eq!(exported, vec![first[0].clone(), next[0].clone()]);
    let mut out = Vec::new();
    let of_one = (b.export_audit_log(AuditFormat::Jsonl, CsvCells::default(), Some("E4"), &mut out)).unwrap();
    assert_eq!(of_one, 1);
    assert!(String::from_utf8(out).unwrap().contains(&next[0].hash));
}

/// The chain check reads each backend's links alike: an edit, or the newest
/// entries removed, is found at its entry.
fn an_edited_or_removed_entry_is_found_on_any_backend(backend: &impl Backend) {
    let store = backend.open();
    let entries: Vec<NewAuditEntry> = (1..=4).map(|n| audit_entry(0, n)).collect();
    store.audit_log(None, |tx| tx.append(entries.clone())).unwrap();
    store.verify_audit_log(&[], None).unwrap().expect("intact");

    store
        .write(|sql| sql.execute("UPDATE audit SET reason = 'nothing to see' WHERE seq = 2", &[]))
        .unwrap();
    let broken = store
        .verify_audit_log(&[], None)
        .unwrap()
        .expect_err("the edit is found");
    assert_eq!(broken.seq, 2, "{broken}");

    store
        .write(|sql| sql.execute("UPDATE audit SET reason = NULL WHERE seq = 2", &[]))
        .unwrap();
    store.verify_audit_log(&[], None).unwrap().expect("intact again");
    store
        .write(|sql| sql.execute("DELETE FROM audit WHERE seq >= 3", &[]))
        .unwrap();
    let broken = store
        .verify_audit_log(&[], None)
        .unwrap()
        .expect_err("the cut is found");
    assert_eq!(broken.seq, 3, "{broken}");
    assert!(broken.reason.contains("removed"), "{broken}");
}
