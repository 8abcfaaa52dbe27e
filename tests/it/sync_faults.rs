//! When the outside systems misbehave: 5xx and 429 are retried until everything
//! arrives; an LMS down past the retries leaves dead letters (and tells the ops
//! channel) that `hrsync retries retry` later applies; an HRIS answering an empty
//! list trips the safety threshold and nobody is deactivated.

use crate::common;

use std::time::Duration;

use common::{Options, assert_in_step, start};
use hrsync::sandbox::faults::{Faults, SystemFaults};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_5xx_and_429_faults_everything_still_arrives() {
    let faults = Faults {
        scim: SystemFaults {
            error_ratio: 0.2,
            rate_limit_per_sec: Some(400),
            retry_after_s: 1,
            ..SystemFaults::default()
        },
        ..Faults::default()
    };
    let world = start(Options {
        employees: 400,
        faults,
        // An apply makes several LMS calls, each failing one time in five: give it room.
        retry_attempts: 60,
        retry_interval: Duration::from_millis(50),
        ..Options::default()
    })
    .await;
    world.settle_until(Duration::from_secs(120), |_| true).await;
    let counts = world.store().counts().unwrap();
    let dead = world.store().dead_letters(10, None).unwrap();
    assert_eq!(counts.dead_letters, 0, "{counts:?}\n{dead:#?}");
    world.assert_only_twins_refused();
    assert!(counts.retrying == 0);
    // Retries really happened: failures are on record.
    let retried = world
        .store()
        .events_page(&Default::default(), None, 1000)
        .unwrap()
        .iter()
        .filter(|e| e.attempts > 0)
        .count();
    assert!(retried > 0, "the faults caused retries");
    world.admin("faults", json!({})).await;
    assert_in_step(&world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_lms_down_past_the_retries_gives_dead_letters_that_retry_applies() {
    let (ops_url, ops_messages, ops_server) = common::ops_channel().await;
    let mut world = start(Options {
        employees: 200,
        retry_attempts: 2,
        retry_interval: Duration::from_millis(100),
        ..Options::default()
    })
    .await;
    world.settle().await;
    // Restart with the ops channel configured (the options above keep the sandbox's defaults).
    world.stop().await;
    world.config.notify_url = Some(ops_url.parse().unwrap());
    world.restart().await;

    world.admin("faults", json!({"scim": {"error_ratio": 1.0}})).await;
    let before = world.store().counts().unwrap();
    // The engine restarted on a new port the sandbox does not post to, so the
    // changes come in through the poller: poll now instead of waiting 30 s.
    let applied = world.churn(json!([{"kind": "promotion", "count": 4}])).await;
    let contract = hrsync::contract::parse(common::CONTRACT).unwrap();
    let hris = hrsync::connectors::HrisClient::new(
        &world.config.hris.api_base,
        world.config.hris.api_key.clone(),
        hrsync::engine::read_retry::read_backoff(&Default::default()),
    )
    .unwrap();
    hrsync::engine::intake::poll::poll_once(world.store(), &contract, &hris, world.config.safety, None)
        .await
        .unwrap();
    world.engine().wake.notify_one();
    world
        .settle_until(Duration::from_secs(30), |c| {
            c.dead_letters >= before.dead_letters + 4
        })
        .await;
    let dead = world.store().dead_letters(100, None).unwrap();
    assert_eq!(dead.len(), 4);
    for event in &dead {
        assert_eq!(event.attempts, 2);
        assert!(event.last_http_status.is_some_and(|s| s >= 500), "{event:?}");
        assert!(
            applied
                .iter()
                .any(|c| c["employee_id"] == event.employee_id.as_str())
        );
    }
    // One message for the incident, not one per dead letter.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !ops_messages.lock().iter().any(|m| m.contains("LMS down")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the ops channel heard {:?}",
            ops_messages.lock()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        ops_messages.lock().len() <= 2,
        "grouped: {:?}",
        ops_messages.lock()
    );
    // The engine's status names the LMS as down.
    let handle = hrsync::engine::operator::handle::EngineHandle::in_process(world.engine(), None);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = handle.status().unwrap().expect("the engine publishes its status");
        let lms = status
            .systems
            .iter()
            .find(|h| h.system == hrsync::engine::operator::health::System::Lms);
        if lms.is_some_and(|h| h.state == hrsync::engine::operator::health::SystemState::Down) {
            assert_eq!(
                status.state,
                hrsync::engine::operator::status::EngineState::Degraded
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "status: {:?}",
            status.systems
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ops_messages.lock().iter().all(|m| m.contains("dead letter")));

    // `hrsync status --json` says the same, for scripts and the on-call engineer.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .args(["status", "--json", "--db"])
        .arg(&world.config.store_path)
        .output()
        .unwrap();
    let status: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status["engine"]["state"], "degraded", "{status}");
    let lms = status["engine"]["systems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["system"] == "lms");
    assert_eq!(lms.map(|s| s["state"].clone()), Some(json!("down")), "{status}");

    // The LMS is back; the operator retries from the command line.
    world.admin("faults", json!({})).await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .args(["retries", "retry", "--all", "--json", "--db"])
        .arg(&world.config.store_path)
        .env("HRSYNC_OPERATOR", "on-call")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let retried: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(retried.len(), 4);
    world.settle().await;
    assert_eq!(world.store().counts().unwrap().dead_letters, 0);
    // The incident ends with one "recovered" message.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !ops_messages.lock().iter().any(|m| m.contains("LMS recovered")) {
        assert!(
            std::time::Instant::now() < deadline,
            "no recovery message: {:?}",
            ops_messages.lock()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered = ops_messages
        .lock()
        .iter()
        .filter(|m| m.contains("recovered"))
        .count();
    assert_eq!(recovered, 1, "{:?}", ops_messages.lock());
    assert_in_step(&world).await;
    let mut audit = Vec::new();
    world
        .store()
        .export_audit(
            hrsync::store::AuditFormat::Jsonl,
            hrsync::store::csv_cells::CsvCells::Guarded,
            None,
            &mut audit,
        )
        .unwrap();
    let audit = String::from_utf8(audit).unwrap();
    assert_eq!(audit.matches(r#""action":"event.retry""#).count(), 4);
    assert!(audit.contains(r#""actor":"on-call""#));
    ops_server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_hris_list_trips_the_safety_threshold_and_nobody_is_deactivated() {
    let world = start(Options {
        employees: 300,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let active_before = world
        .learners()
        .await
        .values()
        .filter(|l| l["active"] == true)
        .count();
    assert!(active_before > 200);

    // Suspected duplicates are held from the start; the deactivations come on top.
    let held_before = world.store().counts().unwrap().held as usize;
    world
        .admin("faults", json!({"hris": {"empty_next_full_pull": true}}))
        .await;
    let contract = hrsync::contract::parse(common::CONTRACT).unwrap();
    let config = &world.config;
    let hris = hrsync::connectors::HrisClient::new(
        &config.hris.api_base,
        config.hris.api_key.clone(),
        hrsync::engine::read_retry::read_backoff(&Default::default()),
    )
    .unwrap();
    let scim = hrsync::connectors::ScimClient::new(
        &config.lms.scim_url,
        config.lms.token.clone(),
        hrsync::engine::read_retry::read_backoff(&Default::default()),
    )
    .unwrap();
    let (summary, _) = hrsync::engine::intake::initial_load::full_sync(
        world.store(),
        &contract,
        &hris,
        &scim,
        config.safety,
        hrsync::engine::intake::initial_load::Mode::Resync,
        None,
    )
    .await
    .unwrap();
    assert_eq!(summary.employees, 0);
    assert_eq!(summary.held, active_before);
    world.engine().wake.notify_one();
    world.settle().await;
    assert_eq!(
        world.store().counts().unwrap().held as usize,
        held_before + active_before
    );
    let active_after = world
        .learners()
        .await
        .values()
        .filter(|l| l["active"] == true)
        .count();
    assert_eq!(active_after, active_before, "nobody was deactivated");

    // The operator rejects the held deactivations; they are closed, not applied.
    let rejected = hrsync::engine::operator::reject_held(
        world.store(),
        "on-call",
        &hrsync::engine::operator::all_held(world.store())
            .unwrap()
            .into_iter()
            .filter(|id| {
                let event = world.store().event(*id).unwrap().unwrap().event;
                !event.note.unwrap_or_default().starts_with("suspected duplicate")
            })
            .collect::<Vec<_>>(),
        "HRIS returned an empty list",
    )
    .unwrap();
    assert_eq!(rejected.len(), active_before);
    world.settle().await;
    assert_eq!(
        world
            .learners()
            .await
            .values()
            .filter(|l| l["active"] == true)
            .count(),
        active_before
    );
    assert_in_step(&world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_goes_on_when_employee_reads_fail_and_they_are_read_when_applied() {
    let mut world = start(Options {
        employees: 200,
        retry_attempts: 100,
        retry_interval: Duration::from_millis(100),
        ..Options::default()
    })
    .await;
    world.settle().await;
    // Restarted on a port the sandbox does not post to: the changes come by poll.
    world.stop().await;
    world.restart().await;
    world
        .admin("faults", json!({"hris": {"failing_employee_reads": true}}))
        .await;
    let applied = world.churn(json!([{"kind": "transfer", "count": 5}])).await;
    let before = world
        .store()
        .cursor(hrsync::engine::intake::initial_load::POLL_CURSOR)
        .unwrap();
    let contract = hrsync::contract::parse(common::CONTRACT).unwrap();
    let hris = hrsync::connectors::HrisClient::new(
        &world.config.hris.api_base,
        world.config.hris.api_key.clone(),
        hrsync::engine::read_retry::read_backoff(&Default::default()),
    )
    .unwrap();
    let summary =
        hrsync::engine::intake::poll::poll_once(world.store(), &contract, &hris, world.config.safety, None)
            .await
            .expect("one employee's failed read does not fail the poll");
    assert_eq!(summary.new, 5, "{summary:?}");
    assert_ne!(
        world
            .store()
            .cursor(hrsync::engine::intake::initial_load::POLL_CURSOR)
            .unwrap(),
        before,
        "the cursor moves past what was journaled"
    );
    // Each is read when applied; while reads fail, it retries by policy.
    world.engine().wake.notify_one();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while world.store().counts().unwrap().retrying < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            world.store().counts()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    world.admin("faults", json!({})).await;
    world.settle_until(Duration::from_secs(60), |_| true).await;
    let learners = world.learners().await;
    let hris_now = world.hris().await;
    for change in &applied {
        let id = change["employee_id"].as_str().unwrap();
        if !common::in_scope_and_employed(&hris_now[id]) {
            continue;
        }
        let locality = learners[id]["addresses"][0]["locality"].clone();
        assert_eq!(
            locality, hris_now[id]["location"],
            "employee {id} moved in the LMS"
        );
    }
    assert_in_step(&world).await;
}
