//! The real binary killed with SIGKILL in the middle of a churn run and started
//! again loses nothing and applies nothing twice: afterwards the LMS equals the
//! HRIS, every journaled change is finished, and the audit log names each
//! applied change once and matches the journal's writes.

use crate::common;

use std::time::{Duration, Instant};

use common::{Options, assert_in_step, start_for_binary};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_engine_restarted_loses_nothing_and_applies_nothing_twice() {
    let world = start_for_binary(Options {
        employees: 800,
        retry_attempts: 30,
        ..Options::default()
    })
    .await;
    let mut engine = world.spawn_binary();
    world
        .settle_until(Duration::from_secs(90), |c| c.total >= 800)
        .await;

    // Churn in the background: a few changes every 40 ms, each delivered by webhook.
    let churn = world.churn_in_background(60);

    // Kill it mid-run, with changes arriving and being applied; what is sent
    // while it is down is lost to the webhooks and must come back by polling.
    let loaded = world.store().counts().unwrap().total;
    let deadline = Instant::now() + Duration::from_secs(30);
    while world.store().counts().unwrap().total < loaded + 60 {
        assert!(Instant::now() < deadline, "the churn's changes did not arrive");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before_kill = world.store().counts().unwrap().total;
    engine.kill().expect("SIGKILL");
    engine.wait().unwrap();
    // Down for a few rounds of changes, whose webhooks find nobody.
    let at_kill = churn.rounds_done();
    while churn.rounds_done() < at_kill + 5 && !churn.task.is_finished() {
        assert!(
            Instant::now() < deadline,
            "the churn stopped while the engine was down"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut engine = world.spawn_binary();
    let applied = churn.task.await.unwrap();
    assert!(applied >= 100, "the churn ran: {applied}");
    assert!(before_kill > 800, "changes were arriving when it was killed");

    // Every webhook delivered or given up, and one poll after the last change
    // brings in whatever the webhooks lost.
    world.webhooks_delivered().await;
    world.polled_past_every_change(Duration::from_secs(120)).await;
    nix_terminate(&engine);
    let status = engine.wait().unwrap();
    assert!(status.success(), "a SIGTERM stops it cleanly: {status:?}");

    assert_in_step(&world).await;
    world.assert_only_twins_refused();
    let counts = world.store().counts().unwrap();
    assert_eq!(counts.dead_letters, 0, "{counts:?}");

    // Nothing applied twice: each applied event is audited once, each learner created once.
    world.assert_each_write_audited_once();
}

fn nix_terminate(child: &std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// An attempt cut off after its write (simulated: the event is marked started, as
/// the killed process left it) is audited as recovered when the LMS already holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_cut_off_before_its_journal_entry_is_audited_as_recovered() {
    let world = common::start(Options {
        employees: 60,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let engine = world.engine();
    engine.paused.store(true, std::sync::atomic::Ordering::Relaxed);
    let applied = world
        .store()
        .events_page(
            &hrsync::store::EventFilter {
                status: Some(hrsync::model::EventStatus::Applied),
                ..Default::default()
            },
            None,
            1,
        )
        .unwrap();
    let earlier = world.store().event(applied[0].id).unwrap().unwrap().event;
    let again = hrsync::model::NewEvent {
        idempotency_key: format!("test-cut-off:{}", earlier.id),
        source: hrsync::model::Source::Poll,
        direction: earlier.direction,
        employee_id: earlier.employee_id.clone(),
        kind: "Updated".into(),
        occurred_at: jiff::Timestamp::now(),
        payload: earlier.payload.clone(),
    };
    let id = world.store().append(&[again]).unwrap()[0].id();
    // Claimed by a run whose claim has run out by now.
    let cut = (world.store())
        .transaction(|tx| tx.claim(&[id], "an earlier run", tx.now()))
        .unwrap();
    assert!(cut.is_empty(), "a first start is not a cut-off one");
    engine.paused.store(false, std::sync::atomic::Ordering::Relaxed);
    engine.wake.notify_one();
    world.settle().await;

    let event = world.store().event(id).unwrap().unwrap().event;
    assert_eq!(event.status, hrsync::model::EventStatus::Unchanged);
    let audit = world
        .store()
        .audit_page(
            &hrsync::store::AuditFilter {
                action: Some("learner.recovered".into()),
                ..Default::default()
            },
            None,
            10,
        )
        .unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(
        audit[0].employee_id.as_deref(),
        Some(earlier.employee_id.as_str())
    );
    assert!(
        audit[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with(&format!("event {id} "))
    );
    assert!(
        audit[0].after.is_object(),
        "the values the LMS holds: {:?}",
        audit[0].after
    );
    world.store().verify_audit().unwrap().expect("the chain is whole");
}

/// An attempt cut off by a stop, for an employee who has no learner (out of
/// scope), wrote nothing: finishing it audits no "learner.recovered".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_attempt_for_someone_without_a_learner_claims_no_write() {
    let mut world = common::start(Options {
        employees: 80,
        ..Options::default()
    })
    .await;
    world.settle().await;
    world.stop().await;
    let hris = world.hris().await;
    let learners = world.learners().await;
    let (id, employee) = hris
        .iter()
        // Out of scope for good (a contractor, say), not a hire still to come: an
        // event for a future hire waits behind the one that creates the learner.
        .find(|(id, e)| {
            let hired = e["hireDate"]
                .as_str()
                .and_then(|d| d.parse::<jiff::civil::Date>().ok());
            !common::in_scope_and_employed(e)
                && hired.is_some_and(|d| d <= common::today())
                && !learners.contains_key(*id)
        })
        .map(|(id, e)| (id.clone(), e.clone()))
        .expect("an employee out of scope without a learner");
    // As a killed engine leaves it: journaled, claimed for an hour and started,
    // never finished. The restarted engine ends the claim: one engine per SQLite store.
    let store = world.store();
    let appended = store
        .append(&[hrsync::model::NewEvent {
            idempotency_key: format!("cut-off-{id}"),
            source: hrsync::model::Source::Webhook,
            direction: hrsync::model::Direction::HrisToLms,
            employee_id: id.clone(),
            kind: "Updated".into(),
            occurred_at: jiff::Timestamp::now(),
            payload: json!({ "id": id, "fields": employee }),
        }])
        .unwrap();
    let hrsync::store::Appended::New(event) = appended[0] else {
        panic!("not journaled: {appended:?}")
    };
    store
        .transaction(|tx| tx.claim(&[event], "a killed run", tx.now() + Duration::from_secs(3600)))
        .unwrap();

    world.restart().await;
    world.settle().await;
    let after = world.store().event(event).unwrap().expect("journaled").event;
    assert_eq!(after.status, hrsync::model::EventStatus::Unchanged, "{after:?}");
    let filter = hrsync::store::AuditFilter {
        action: Some("learner.recovered".into()),
        employee_id: Some(id.clone()),
        ..Default::default()
    };
    let claimed = world.store().audit_page(&filter, None, 10).unwrap();
    assert!(claimed.is_empty(), "employee {id}: {claimed:?}");
}

/// A paused engine starts nothing more: the runs it claimed ahead of its free
/// places are let go at once (any engine may take them), those in flight finish
/// and are journaled, and once resumed it applies everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_engine_lets_go_of_the_runs_it_claimed_ahead() {
    let mut faults = hrsync::sandbox::faults::Faults::default();
    // Slow LMS answers keep every place busy, so the turns claim runs ahead.
    faults.scim.latency_ms = 150;
    let world = common::start(Options {
        employees: 240,
        faults,
        ..Options::default()
    })
    .await;
    let engine = world.engine();
    let deadline = Instant::now() + Duration::from_secs(60);
    while world.store().counts().unwrap().applied == 0 {
        assert!(Instant::now() < deadline, "nothing applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let handle = hrsync::engine::operator::handle::EngineHandle::in_process(engine, None);
    handle.set_paused(true).unwrap();
    while !engine.paused.load(std::sync::atomic::Ordering::Relaxed) {
        assert!(Instant::now() < deadline, "the engine did not pause");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let pending = |world: &common::World| {
        let filter = hrsync::store::EventFilter {
            status: Some(hrsync::model::EventStatus::Pending),
            ..Default::default()
        };
        let ids: Vec<_> = (world.store().events_page(&filter, None, 1000).unwrap())
            .iter()
            .map(|e| e.id)
            .collect();
        let holders = (world.store()).transaction(|tx| tx.claim_holders(&ids)).unwrap();
        (ids.len(), holders.values().filter(|h| h.is_some()).count())
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (waiting, claimed) = pending(&world);
        if claimed == 0 {
            assert!(waiting > 0, "the load finished before the pause took hold");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{claimed} of {waiting} pending events still claimed by a paused engine"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    handle.set_paused(false).unwrap();
    engine.wake.notify_one();
    world.admin("faults", json!({})).await;
    world.settle().await;
    let counts = world.store().counts().unwrap();
    assert_eq!(counts.dead_letters, 0, "{counts:?}");
    assert_in_step(&world).await;
    world.assert_each_write_audited_once();
}
