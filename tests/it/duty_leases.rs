//! The engine's once-only duties run under leases: a running engine holds each
//! one and says it is alive (`hrsync status` lists it), stops a duty another
//! holder took and takes it again once free, and lets every lease go on a clean stop.

use std::process::Command;
use std::time::{Duration, Instant};

use hrsync::store::{Engines, Leases};
use serde_json::Value;

use crate::common::engines::{EVERY_DUTY, until};
use crate::common::{self, Options};

const LEASE: Duration = Duration::from_secs(3);

fn status_json(world: &common::World) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .args(["status", "--json", "--db"])
        .arg(world.store().path().expect("an SQLite store"))
        .output()
        .expect("hrsync runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("status is JSON")
}

fn duties(world: &common::World) -> Vec<String> {
    world.engine().duties.held()
}

async fn started() -> common::World {
    common::start(Options {
        employees: 20,
        lease_time: Some(LEASE),
        ..Options::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_engine_holds_each_duty_and_status_lists_it_alive() {
    let mut world = started().await;
    until("every duty held", Duration::from_secs(20), || {
        duties(&world) == EVERY_DUTY
    })
    .await;

    let status = status_json(&world);
    let engines = status["engines"].as_array().expect("engines are listed");
    assert_eq!(engines.len(), 1, "{status}");
    let engine = &engines[0];
    let id = world.engine().duties.engine().id.clone();
    assert_eq!(engine["id"], id.as_str());
    assert_eq!(engine["pid"], std::process::id());
    assert_eq!(engine["live"], true);
    assert_eq!(engine["duties"], serde_json::json!(EVERY_DUTY));
    // The initial load's lease was let go once the load was journaled.
    assert!(
        !engine["duties"]
            .as_array()
            .unwrap()
            .contains(&"initial load".into())
    );

    // It keeps saying it is alive.
    let first = world.store().engines(LEASE).unwrap()[0].heartbeat_at;
    until("a later heartbeat", Duration::from_secs(10), || {
        world.store().engines(LEASE).unwrap()[0].heartbeat_at > first
    })
    .await;

    // The status the console's header reads counts it.
    until("the live engines published", Duration::from_secs(10), || {
        hrsync::engine::operator::status::EngineStatus::read(world.store())
            .unwrap()
            .is_some_and(|s| s.live_engines == Some(1))
    })
    .await;

    let out = Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .args(["status", "--db"])
        .arg(world.store().path().expect("an SQLite store"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("engines: 1 live"), "{text}");
    assert!(
        text.contains(&format!("{id} on "))
            && text.contains("holds lrs reader, poller, reconciliation schedule"),
        "{text}"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duty_taken_away_is_stopped_and_taken_again_once_free() {
    let mut world = started().await;
    until("every duty held", Duration::from_secs(20), || {
        duties(&world) == EVERY_DUTY
    })
    .await;
    let ours = world.engine().duties.engine().id.clone();
    let before = token_of(&world, "poller");

    // Another holder takes the poller over with a higher token, for two seconds.
    rusqlite::Connection::open(world.store().path().expect("an SQLite store"))
        .unwrap()
        .execute(
            "UPDATE leases SET holder = 'another engine', token = token + 1, \
             expires_at = CAST(unixepoch('now', 'subsec') * 1000000 AS INTEGER) + 2000000 \
             WHERE duty = 'poller'",
            [],
        )
        .unwrap();
    let taken = Instant::now();
    until("the poller stopped", LEASE, || {
        !duties(&world).contains(&"poller".to_string())
    })
    .await;
    assert!(
        taken.elapsed() < Duration::from_secs(2),
        "stopped while the other held it"
    );
    let holder = holder_of(&world, "poller");
    assert_eq!(holder.holder, "another engine", "not taken back while held");
    // The other duties are untouched.
    assert!(duties(&world).contains(&"reconciliation schedule".to_string()));

    until("the poller taken again", Duration::from_secs(10), || {
        duties(&world).contains(&"poller".to_string())
    })
    .await;
    let again = holder_of(&world, "poller");
    assert_eq!(again.holder, ours);
    assert!(again.token > before + 1, "{again:?}");
    // A poll still under the first lease is refused whole: its cursor does not move.
    let cursor = world.store().cursor("hris_poll").unwrap();
    let old = hrsync::store::Lease {
        duty: "poller".into(),
        holder: ours.clone(),
        token: before,
        expires_at: jiff::Timestamp::now(),
        held_until: Instant::now(),
    };
    let contract = hrsync::contract::parse(common::CONTRACT).unwrap();
    let hris = hrsync::connectors::HrisClient::new(
        &world.config.hris.api_base,
        world.config.hris.api_key.clone(),
        hrsync::engine::read_retry::read_backoff(&Default::default()),
    )
    .unwrap();
    let refused = hrsync::engine::intake::poll::poll_once(
        world.store(),
        &contract,
        &hris,
        world.config.safety,
        Some(&old),
    )
    .await
    .expect_err("the fence refuses the old holder");
    assert!(
        refused
            .to_string()
            .contains("the lease on poller is no longer held"),
        "{refused}"
    );
    assert_eq!(world.store().cursor("hris_poll").unwrap(), cursor);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_lets_every_lease_go() {
    let mut world = started().await;
    until("every duty held", Duration::from_secs(20), || {
        duties(&world) == EVERY_DUTY
    })
    .await;
    let store = world.store().clone();
    world.stop().await;
    let now = jiff::Timestamp::now();
    let holders = store.lease_holders().unwrap();
    assert!(!holders.is_empty());
    for lease in &holders {
        assert!(lease.expires_at <= now, "still held after the stop: {lease:?}");
    }
    let engines = store.engines(LEASE).unwrap();
    assert!(engines[0].duties.is_empty(), "{engines:?}");
}

fn holder_of(world: &common::World, duty: &str) -> hrsync::store::LeaseHolder {
    world
        .store()
        .lease_holders()
        .unwrap()
        .into_iter()
        .find(|l| l.duty == duty)
        .expect("the duty has a lease")
}

fn token_of(world: &common::World, duty: &str) -> i64 {
    holder_of(world, duty).token
}

/// A full sync journaled under a lease no longer held is refused whole: the fence
/// is checked before its commit, so nothing of it stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sync_under_a_lease_no_longer_held_journals_nothing() {
    let mut world = started().await;
    world.settle().await;
    let ours = world.engine().duties.engine().id.clone();
    let current = token_of(&world, "initial load");
    let old = hrsync::store::Lease {
        duty: "initial load".into(),
        holder: ours,
        token: current - 1,
        expires_at: jiff::Timestamp::now(),
        held_until: Instant::now(),
    };
    // Something for the sync to journal: a learner changed behind hrsync's back.
    let learners = world.learners().await;
    let (_, learner) = learners.iter().find(|(_, l)| l["active"] == true).unwrap();
    let url = format!(
        "{}/Users/{}",
        world.config.lms.scim_url,
        learner["id"].as_str().unwrap()
    );
    let patch = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{ "op": "replace", "path": "title", "value": "Changed behind hrsync" }],
    });
    let answer = (world.http.patch(url))
        .bearer_auth(world.config.lms.token.expose())
        .json(&patch)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    let before = world.store().counts().unwrap().total;
    let contract = hrsync::contract::parse(common::CONTRACT).unwrap();
    let config = &world.config;
    let backoff = hrsync::engine::read_retry::read_backoff(&Default::default());
    let hris =
        hrsync::connectors::HrisClient::new(&config.hris.api_base, config.hris.api_key.clone(), backoff)
            .unwrap();
    let scim =
        hrsync::connectors::ScimClient::new(&config.lms.scim_url, config.lms.token.clone(), backoff).unwrap();
    let refused = hrsync::engine::intake::initial_load::full_sync(
        world.store(),
        &contract,
        &hris,
        &scim,
        config.safety,
        hrsync::engine::intake::initial_load::Mode::Resync,
        Some(&old),
    )
    .await;
    let Err(refused) = refused else {
        panic!("the fence lets the old holder's full sync through")
    };
    assert!(
        refused
            .to_string()
            .contains("the lease on initial load is no longer held"),
        "{refused}"
    );
    assert_eq!(world.store().counts().unwrap().total, before, "nothing journaled");
    // Without the fence the same sync journals the change: there was something to refuse.
    let sync = hrsync::engine::intake::initial_load::full_sync(
        world.store(),
        &contract,
        &hris,
        &scim,
        config.safety,
        hrsync::engine::intake::initial_load::Mode::Resync,
        None,
    );
    let Ok((summary, _)) = sync.await else {
        panic!("a resync without a fence runs")
    };
    assert!(summary.journaled > 0, "{summary:?}");
    world.stop().await;
}
