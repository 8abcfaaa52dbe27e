//! The store's conformance suite for renewing claims on events (`renew_claims`):
//! an engine whose attempt outlasts its claim extends it, only while the claim is
//! its own and live, so no other engine takes the event meanwhile, and a claim
//! another engine took over stays that engine's. Each check runs on SQLite and
//! on PostgreSQL (`conformance!`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hrsync::model::{EventId, NewEvent};
use hrsync::store::Journal;

use crate::common::backends::{Backend, change, conformance};

conformance!(
    renewal_extends_only_own_live_claims,
    a_renewed_claim_is_not_taken_after_its_first_deadline,
    a_claim_taken_over_is_not_renewed_by_the_old_holder,
);

/// Longer than any check.
const LONG: Duration = Duration::from_secs(60);

/// Journals one change for each employee; answers their ids, in order.
fn heads(store: &impl Journal, employees: &[&str]) -> Vec<EventId> {
    let batch: Vec<NewEvent> = (employees.iter())
        .map(|employee| change(&format!("k-{employee}"), employee))
        .collect();
    let appended = store.journal(|tx| tx.append(&batch)).unwrap();
    appended.iter().map(|a| a.id()).collect()
}

/// Claims these events for `engine` for `time`, by the store's clock.
fn claim(store: &impl Journal, ids: &[EventId], engine: &str, time: Duration) {
    store
        .journal(|tx| tx.claim(ids, engine, tx.now() + time))
        .unwrap();
}

/// What `engine` renewed of its claims on `ids`, for `time` from now, sorted.
fn renew(store: &impl Journal, ids: &[EventId], engine: &str, time: Duration) -> Vec<EventId> {
    let mut renewed = store
        .journal(|tx| tx.renew_claims(ids, engine, tx.now() + time))
        .unwrap();
    renewed.sort();
    renewed
}

/// The ready heads `engine` takes now (claimed for long): the ids, and those cut off.
fn take(store: &impl Journal, engine: &str) -> (Vec<EventId>, Vec<EventId>) {
    let (heads, cut_off) = store.claim_heads(engine, LONG, 10).unwrap();
    (heads.into_iter().map(|(id, _, _)| id).collect(), cut_off)
}

fn holders(store: &impl Journal, ids: &[EventId]) -> HashMap<EventId, Option<String>> {
    store.journal(|tx| tx.claim_holders(ids)).unwrap()
}

/// Polls until `engine` takes something, failing after ten seconds.
fn taken_once_expired(store: &impl Journal, engine: &str) -> (Vec<EventId>, Vec<EventId>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let taken = take(store, engine);
        if !taken.0.is_empty() {
            return taken;
        }
        assert!(Instant::now() < deadline, "no claim ran out within ten seconds");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A renewal extends the engine's own claims that are still live, and no other:
/// not one that ran out (free for any engine), not another engine's, not an
/// event nobody claimed.
fn renewal_extends_only_own_live_claims(backend: &impl Backend) {
    let (a, b, c) = (backend.open(), backend.open(), backend.open());
    let ids = heads(&a, &["E1", "E2", "E3", "E4"]);
    let [live, expiring, others, unclaimed] = ids[..] else {
        panic!("{ids:?}")
    };
    claim(&a, &[live], "engine-a", LONG);
    claim(&a, &[expiring], "engine-a", Duration::from_millis(300));
    claim(&b, &[others], "engine-b", LONG);
    // `c` only looks at what is ready (no claim taken): `expiring`, once it ran out.
    let mut ready = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready.contains(&expiring) {
        assert!(Instant::now() < deadline, "the short claim did not run out");
        std::thread::sleep(Duration::from_millis(50));
        ready = (c.journal(|tx| tx.ready_heads(10)).unwrap().into_iter())
            .map(|head| head.0)
            .collect();
    }
    assert_eq!(ready, [expiring, unclaimed], "the live claims are not ready");

    assert_eq!(
        renew(&a, &ids, "engine-a", LONG),
        [live],
        "only engine-a's live claim is renewed"
    );
    let now = holders(&c, &ids);
    assert_eq!(now[&live].as_deref(), Some("engine-a"));
    assert_eq!(
        now[&others].as_deref(),
        Some("engine-b"),
        "another's claim is not taken"
    );
    assert_eq!(now[&unclaimed], None, "a renewal claims nothing new");
    assert_eq!(
        take(&c, "engine-c"),
        (vec![expiring, unclaimed], vec![expiring]),
        "the claim that ran out was not renewed: another engine takes it, as cut off"
    );
    assert_eq!(
        renew(&a, &[], "engine-a", LONG),
        [],
        "nothing to renew: nothing asked"
    );
}

/// An attempt that outlasts its claim several times keeps it by renewing: no
/// other engine takes the event after the first deadline; once the renewals stop,
/// the claim runs out and another engine takes it as cut off.
fn a_renewed_claim_is_not_taken_after_its_first_deadline(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let claim_time = Duration::from_secs(1);
    let id = heads(&a, &["E1"])[0];
    let claimed = Instant::now();
    claim(&a, &[id], "engine-a", claim_time);
    while claimed.elapsed() < claim_time * 3 {
        assert_eq!(
            renew(&a, &[id], "engine-a", claim_time),
            [id],
            "renewed while live"
        );
        assert_eq!(take(&b, "engine-b"), (vec![], vec![]), "a renewed claim holds");
        std::thread::sleep(claim_time / 5);
    }
    assert_eq!(taken_once_expired(&b, "engine-b"), (vec![id], vec![id]));
    assert_eq!(holders(&a, &[id])[&id].as_deref(), Some("engine-b"));
}

/// An engine that lost its claim (it ran out and another engine took the event)
/// cannot renew it back: the claim stays the new holder's, who renews it.
fn a_claim_taken_over_is_not_renewed_by_the_old_holder(backend: &impl Backend) {
    let (a, b, c) = (backend.open(), backend.open(), backend.open());
    let id = heads(&a, &["E1"])[0];
    claim(&a, &[id], "engine-a", Duration::from_millis(300));
    assert_eq!(taken_once_expired(&b, "engine-b"), (vec![id], vec![id]));

    assert_eq!(
        renew(&a, &[id], "engine-a", LONG),
        [],
        "the old holder's renewal is refused"
    );
    assert_eq!(
        holders(&c, &[id])[&id].as_deref(),
        Some("engine-b"),
        "not stolen back"
    );
    assert_eq!(take(&c, "engine-c"), (vec![], vec![]), "engine-b's claim is live");
    assert_eq!(
        renew(&b, &[id], "engine-b", LONG),
        [id],
        "the new holder renews it"
    );
}
