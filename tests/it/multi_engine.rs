//! Two engines on one PostgreSQL store share the work (issue 28): both apply
//! the initial load and the churn, and afterwards the LMS equals the HRIS, each
//! applied event is audited once and the audit chain verifies. Killed with
//! SIGKILL mid-churn, the engine holding the once-only duties hands them to the
//! survivor within the lease time, and nothing is lost or applied twice.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use hrsync::store::Engines;
use serde_json::json;

use crate::common::engines::{EVERY_DUTY, applied_in, start_for_binaries, start_two, until};
use crate::common::{Options, World, assert_in_step};

const LEASE: Duration = Duration::from_secs(3);

/// Every duty held by exactly one live lease, each by one of `engines`; the
/// duties each of them holds, in the order of `engines`.
fn duties_by_engine(world: &World, engines: &[&str]) -> Vec<BTreeSet<String>> {
    let holders = world.duty_holders();
    for duty in EVERY_DUTY {
        let held: Vec<_> = holders.iter().filter(|(d, _)| d == duty).collect();
        assert_eq!(held.len(), 1, "{duty} is held once: {holders:?}");
        assert!(
            engines.contains(&held[0].1.as_str()),
            "{duty} is held by one of {engines:?}: {holders:?}"
        );
    }
    (engines.iter())
        .map(|engine| {
            (holders.iter())
                .filter(|(_, holder)| holder == engine)
                .map(|(duty, _)| duty.clone())
                .collect()
        })
        .collect()
}

/// The state both tests end in: the LMS equals the HRIS, nothing was left
/// failing, each applied event is audited once and no learner made twice.
async fn assert_final_state(world: &World) {
    assert_in_step(world).await;
    world.assert_only_twins_refused();
    let counts = world.store().counts().unwrap();
    assert_eq!(counts.dead_letters, 0, "{counts:?}");
    world.assert_each_write_audited_once();
    world.assert_one_create_or_adopt_per_learner().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_on_one_postgres_share_the_initial_load_and_the_churn() {
    let Some(two) = start_two(Options {
        employees: 300,
        lease_time: Some(LEASE),
        ..Options::default()
    })
    .await
    else {
        return;
    };
    let world = &two.world;
    world
        .settle_until(Duration::from_secs(60), |c| c.total >= 300)
        .await;
    for kind in hrsync::sandbox::churn::ChurnKind::ALL {
        world.churn(json!([{ "kind": kind, "count": 4 }])).await;
    }
    world.webhooks_delivered().await;
    world.polled_past_every_change(Duration::from_secs(60)).await;

    // Both engines applied events: each counts those it applied (nothing in the
    // journal or the audit names the engine that applied an event).
    let first = applied_in(&world.engine().metrics.render());
    let second = applied_in(&two.second.metrics.render());
    let applied = world.store().counts().unwrap().applied;
    eprintln!("applied: {first} by the first engine, {second} by the second, {applied} in the journal");
    assert!(
        first > 0 && second > 0,
        "both engines applied events: {first} and {second} of {applied}"
    );
    assert!(
        first + second >= applied,
        "no event is applied by neither: {first} + {second} < {applied}"
    );
    assert_final_state(world).await;

    // Each duty is held by one engine, and each engine knows which it holds.
    let ids = [
        world.engine().duties.engine().id.clone(),
        two.second.duties.engine().id.clone(),
    ];
    let by_engine = duties_by_engine(world, &[&ids[0], &ids[1]]);
    let held: Vec<BTreeSet<String>> = [world.engine(), &two.second]
        .iter()
        .map(|engine| engine.duties.held().into_iter().collect())
        .collect();
    assert_eq!(by_engine, held, "what each engine holds is what the store says");
    assert_eq!(world.live_engines(LEASE).len(), 2);
    two.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_duty_holder_killed_mid_churn_hands_its_duties_to_the_survivor_in_time() {
    let Some((world, _database)) = start_for_binaries(Options {
        employees: 300,
        retry_attempts: 30,
        lease_time: Some(LEASE),
        ..Options::default()
    })
    .await
    else {
        return;
    };
    // The first takes the duties (the initial load among them); the second shares
    // the work. Webhooks go to the first.
    let mut engines = [world.spawn_engine("a", true), world.spawn_engine("b", false)];
    world
        .settle_until(Duration::from_secs(60), |c| c.total >= 300)
        .await;
    let every: BTreeSet<String> = EVERY_DUTY.iter().map(|d| d.to_string()).collect();
    until(
        "both engines alive, one holding every duty",
        Duration::from_secs(30),
        || {
            let live = world.live_engines(LEASE);
            live.len() == 2
                && (live.iter()).any(|(_, duties)| duties.iter().cloned().collect::<BTreeSet<_>>() == every)
        },
    )
    .await;

    let churn = world.churn_in_background(40);
    let loaded = world.store().counts().unwrap().total;
    until("the churn's changes arriving", Duration::from_secs(30), || {
        world.store().counts().unwrap().total >= loaded + 40
    })
    .await;

    // The holder, by its pid in the engines' table.
    let records = world.store().engines(LEASE).unwrap();
    let holder = (records.iter())
        .find(|e| e.live && e.duties.len() == EVERY_DUTY.len())
        .expect("an engine holds the duties");
    let dying = (engines.iter())
        .position(|e| i64::from(e.pid) == holder.pid)
        .unwrap();
    let survivor = 1 - dying;
    let survivor_id = (records.iter())
        .find(|e| e.live && e.pid == i64::from(engines[survivor].pid))
        .expect("the survivor is alive")
        .id
        .clone();
    // `hrsync status` on the same configuration says the same.
    let (code, status) = world.cli_json(&["status"]);
    assert_eq!(code, 0, "{status}");
    let listed = status["engines"].as_array().expect("engines are listed");
    let live: Vec<&serde_json::Value> = listed.iter().filter(|e| e["live"] == true).collect();
    assert_eq!(live.len(), 2, "{status}");
    let by_status = live
        .iter()
        .find(|e| e["pid"] == holder.pid)
        .expect("the holder is listed");
    assert_eq!(by_status["duties"], json!(EVERY_DUTY), "{status}");
    let applied_by_dying = engines[dying].applied(&world.http).await;
    engines[dying].kill();
    let killed = Instant::now();
    until("the survivor holds every duty", LEASE * 3, || {
        let holders = world.duty_holders();
        (EVERY_DUTY.iter()).all(|duty| holders.contains(&(duty.to_string(), survivor_id.clone())))
    })
    .await;
    let took = killed.elapsed();
    assert_eq!(duties_by_engine(&world, &[&survivor_id]), [every]);
    // The dead holder's leases run at most the lease time from its last renewal;
    // the survivor asks as they end (2.2-3.0 s here; 3.1-3.5 s when it asked only
    // every third of the lease time, which engine::duties' unit test pins down).
    // The margin is for a debug build on 2 cores and this test's 50 ms polling.
    assert!(
        took <= LEASE + Duration::from_millis(500),
        "the survivor took the duties {took:?} after the kill; the lease is {LEASE:?}"
    );
    eprintln!("failover: the survivor held every duty {took:?} after the kill");

    let changes = churn.task.await.unwrap();
    assert!(changes >= 60, "the churn ran: {changes}");
    world.webhooks_delivered().await;
    world.polled_past_every_change(Duration::from_secs(90)).await;
    let applied_by_survivor = engines[survivor].applied(&world.http).await;
    assert!(
        applied_by_dying > 0 && applied_by_survivor > 0,
        "both engines applied events: {applied_by_dying} before the kill, {applied_by_survivor} by the survivor"
    );
    let status = engines[survivor].terminate();
    assert!(
        status.success(),
        "a SIGTERM stops the survivor cleanly: {status:?}"
    );
    assert_final_state(&world).await;
    // As an operator would check it: `hrsync audit verify` on the configuration.
    let (code, verdict) = world.cli_json(&["audit", "verify"]);
    assert_eq!((code, &verdict["ok"]), (0, &json!(true)), "{verdict}");
}

/// An initial load whose journal takes longer than a third of the lease time
/// keeps its lease (its fence no longer holds the lease row through the whole
/// transaction, which made every renewal wait past the deadline), and the
/// second engine, waiting for the duty, finds the load done: it runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_initial_load_keeps_its_lease_and_runs_once() {
    let Some(two) = start_two(Options {
        employees: 2000,
        lease_time: Some(LEASE),
        ..Options::default()
    })
    .await
    else {
        return;
    };
    let load = two.world.engine().initial_load.expect("the first engine loads");
    assert_eq!(load.employees, 2000, "{load:?}");
    assert_eq!(two.second.initial_load, None, "the second finds it done");
    two.stop().await;
}

/// Behind a load balancer any engine takes a delivery, and the HRIS may send a
/// retry to another engine than the first: one delivery reaching both engines
/// at once is journaled once and written once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_reaching_both_engines_is_journaled_and_written_once() {
    let Some(two) = start_two(Options {
        employees: 40,
        ..Options::default()
    })
    .await
    else {
        return;
    };
    let world = &two.world;
    world.settle().await;
    let employee = (world.hris().await.into_values())
        .find(crate::common::in_scope_and_employed)
        .unwrap();
    let id = employee["id"].as_str().unwrap().to_string();
    let mut fields = employee.as_object().unwrap().clone();
    fields.insert("jobTitle".into(), json!("Seen By Both"));
    let body = serde_json::to_vec(&json!({"employees": [
        {"id": id, "action": "Updated", "timestamp": "2030-02-02T00:00:00Z", "fields": fields}
    ]}))
    .unwrap();
    let stamp = jiff::Timestamp::now().as_second().to_string();
    let secret = world.sandbox.credentials().webhook_secret.clone();
    let signature = hrsync::sandbox::hris::webhooks::sign(secret.as_bytes(), &body, &stamp);
    let before = world.store().counts().unwrap().total;
    let send = |addr: std::net::SocketAddr| {
        (world.http.post(format!("http://{addr}/webhooks/hris")))
            .header("content-type", "application/json")
            .header("X-BambooHR-Timestamp", &stamp)
            .header("X-BambooHR-Signature", &signature)
            .body(body.clone())
            .send()
    };
    let (first, second) = tokio::join!(send(world.engine().webhook_addr), send(two.second.webhook_addr));
    let statuses = [
        first.unwrap().status().as_u16(),
        second.unwrap().status().as_u16(),
    ];
    assert!(statuses.contains(&200), "one engine took it: {statuses:?}");
    assert_eq!(
        world.store().counts().unwrap().total,
        before + 1,
        "journaled once"
    );
    world.settle().await;
    let learner = world.learners().await.remove(&id).unwrap();
    assert_eq!(learner["title"], "Seen By Both");
    world.assert_each_write_audited_once();
    two.stop().await;
}
