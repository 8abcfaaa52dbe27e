//! A slow LMS: an attempt outlasts the engine's claim on its event several times.
//! The engine renews the claim while the attempt runs, so another engine asking
//! for ready events all along never gets it, and the event is applied once and
//! journaled once. An event another engine took over all the same (a claim that
//! ran out in a stall) is left to that engine: the engine's log names it, and its
//! outcome is not journaled over the other's.

use std::time::{Duration, Instant};

use hrsync::model::{EventId, EventStatus, WriteRecord};
use hrsync::store::{AuditFilter, EventFilter, Journal};
use serde_json::json;

use crate::common::{Options, World, start, start_for_binary};

/// Another engine sharing the store: what it takes, it holds for long.
const OTHER: &str = "engine-other";

/// `[store] lease_seconds`' least: an engine's claims last one second.
const CLAIM_TIME: Duration = Duration::from_secs(1);

/// Polls `found` every 50 ms until it answers, failing with `what` after `limit`.
async fn within<T>(limit: Duration, what: &str, mut found: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = found() {
            return found;
        }
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The open event of `employee`'s once the engine has claimed it: its id and
/// the engine the claim names.
async fn claimed_change(world: &World, employee: &str) -> (EventId, String) {
    let store = world.store();
    let filter = EventFilter {
        employee_id: Some(employee.to_string()),
        ..Default::default()
    };
    within(Duration::from_secs(30), "the change is claimed", || {
        let open = (store.events_page(&filter, None, 20).unwrap().into_iter())
            .find(|e| matches!(e.status, EventStatus::Pending | EventStatus::Retrying))?;
        let holder = store.journal(|tx| tx.claim_holders(&[open.id])).unwrap()[&open.id].clone()?;
        Some((open.id, holder))
    })
    .await
}

/// Whether an audit entry's reason names event `id` (not one whose id starts so).
fn names_event(reason: Option<&str>, id: EventId) -> bool {
    let said = format!("event {id}");
    reason.is_some_and(|reason| {
        reason
            .match_indices(&said)
            .any(|(at, _)| !(reason[at + said.len()..].chars().next()).is_some_and(|c| c.is_ascii_digit()))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_outlasting_its_claim_keeps_it_and_is_applied_once() {
    let mut world = start(Options {
        employees: 5,
        lease_time: Some(CLAIM_TIME),
        ..Default::default()
    })
    .await;
    world.settle().await;
    // Every LMS request now takes 1.5 s: an update (a look-up, then the write) outlasts
    // the claim a few times over.
    world.admin("faults", json!({"scim": {"latency_ms": 1500}})).await;
    let changed = world.churn(json!([{"kind": "promotion", "count": 1}])).await;
    let employee = changed[0]["employee_id"].as_str().unwrap().to_string();
    let store = world.store().clone();
    let (id, holder) = claimed_change(&world, &employee).await;
    let claimed = Instant::now();
    assert_ne!(holder, OTHER);

    // All along the attempt, the other engine finds nothing to take: the claim is
    // renewed before it runs out, and stays the engine's.
    let applied = within(Duration::from_secs(60), "the change is applied", || {
        let (taken, _) = store.claim_heads(OTHER, Duration::from_secs(60), 10).unwrap();
        assert_eq!(
            taken,
            [],
            "another engine took a claimed event, {:?} after the claim",
            claimed.elapsed()
        );
        let event = store.event(id).unwrap().expect("the event is journaled");
        if event.event.status != EventStatus::Pending {
            return Some(event);
        }
        let now = store.journal(|tx| tx.claim_holders(&[id])).unwrap()[&id].clone();
        assert_eq!(now.as_ref(), Some(&holder), "the claim stays the engine's");
        None
    })
    .await;
    let took = claimed.elapsed();
    assert!(
        took > CLAIM_TIME * 2,
        "the attempt outlasted the claim several times: {took:?}"
    );

    // Applied once, journaled once: one write, one audit entry for it, no other outcome.
    assert_eq!(
        applied.event.status,
        EventStatus::Applied,
        "{}",
        world.events_of(&employee)
    );
    assert_eq!(applied.writes.len(), 1, "{:?}", applied.writes);
    assert_eq!(applied.failures.len(), 0, "{:?}", applied.failures);
    let audit = AuditFilter {
        employee_id: Some(employee.clone()),
        ..Default::default()
    };
    let written = format!("event {id} (");
    let of_write: Vec<_> = (store.audit_page(&audit, None, 100).unwrap().into_iter())
        .filter(|entry| (entry.reason.as_deref()).is_some_and(|r| r.starts_with(&written)))
        .collect();
    assert_eq!(of_write.len(), 1, "the write is audited once: {of_write:#?}");
    let again = store.journal(|tx| tx.claim_holders(&[id])).unwrap();
    assert_eq!(again[&id], None, "journaled: the claim is over");
    world.stop().await;
}

/// Another engine takes the event over while this engine is still applying it
/// (as if its claim had run out in a stall): the engine's renewal finds the claim
/// lost, its turn journals nothing over the other engine's, and its log names the
/// event; the other engine's outcome is the one journaled, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_taken_over_in_flight_is_left_to_the_other_engine() {
    let world = start_for_binary(Options {
        employees: 5,
        ..Default::default()
    })
    .await;
    let config = world.dir.path().join("hrsync.toml");
    let toml = std::fs::read_to_string(&config).unwrap();
    let lease = format!("[store]\nlease_seconds = {}\n", CLAIM_TIME.as_secs());
    std::fs::write(&config, toml.replacen("[store]\n", &lease, 1)).unwrap();
    let mut engine = world.spawn_binary();
    world
        .settle_until(Duration::from_secs(60), |c| c.total >= 1)
        .await;
    world.admin("faults", json!({"scim": {"latency_ms": 1500}})).await;
    let changed = world.churn(json!([{"kind": "promotion", "count": 1}])).await;
    let employee = changed[0]["employee_id"].as_str().unwrap().to_string();
    let store = world.store().clone();
    let (id, holder) = claimed_change(&world, &employee).await;
    assert_ne!(holder, OTHER);

    store
        .journal(|tx| tx.claim(&[id], OTHER, tx.now() + Duration::from_secs(60)))
        .unwrap();
    let log = world.dir.path().join("hrsync.log");
    let named = format!("event={id}");
    let line = within(
        Duration::from_secs(30),
        "the engine's log names the event taken over",
        || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            (text.lines())
                .find(|line| line.contains("another engine took this event") && line.contains(&named))
                .map(str::to_string)
        },
    )
    .await;
    assert!(line.contains("WARN") && line.contains(OTHER), "{line}");

    // Nothing of the engine's attempt is journaled: the event is the other engine's.
    let event = store.event(id).unwrap().expect("the event is journaled");
    assert_eq!(
        event.event.status,
        EventStatus::Pending,
        "{}",
        world.events_of(&employee)
    );
    assert_eq!((event.writes.len(), event.failures.len()), (0, 0), "{event:?}");
    let claim = store.journal(|tx| tx.claim_holders(&[id])).unwrap();
    assert_eq!(
        claim[&id].as_deref(),
        Some(OTHER),
        "the claim stays the other engine's"
    );
    let audit = AuditFilter {
        employee_id: Some(employee.clone()),
        ..Default::default()
    };
    let of_event = || {
        (store.audit_page(&audit, None, 100).unwrap().into_iter())
            .filter(|entry| names_event(entry.reason.as_deref(), id))
            .count()
    };
    assert_eq!(of_event(), 0, "the engine audited nothing of the event");

    // The other engine's outcome is journaled: one transition, not a second one.
    let write = WriteRecord {
        sent_from: "hris".into(),
        sent_to: "lms".into(),
        target_id: None,
        before: json!({}),
        after: json!({ "title": "by the other engine" }),
        http_status: Some(200),
    };
    store.journal(|tx| tx.mark_applied(id, &write, None)).unwrap();
    let event = store.event(id).unwrap().expect("the event is journaled");
    assert_eq!(event.event.status, EventStatus::Applied);
    assert_eq!(event.writes.len(), 1, "{:?}", event.writes);
    assert_eq!(of_event(), 0, "the engine audited nothing of the event");
    engine.kill().unwrap();
    engine.wait().unwrap();
}
