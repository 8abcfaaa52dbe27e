//! On call at 3 a.m.: the LMS goes down under some fifty changes. Within ten
//! seconds the engine's status, `hrsync status --json` and the console's header
//! name the LMS as down; the ops channel hears at most twice in the first
//! minute; once the LMS is back, a bulk "retry now" of every retrying event and
//! dead letter, from the console's keys, drains the queue with nothing rejected,
//! and the ops channel hears "recovered" once.

use crate::common;
use crate::console_support::{key, press, screen};

use std::time::{Duration, Instant};

use common::{Options, assert_in_step, start};
use crossterm::event::KeyCode;
use hrsync::console::{Console, ConsoleOptions};
use hrsync::engine::operator::handle::EngineHandle;
use hrsync::engine::operator::health::{System, SystemState};
use hrsync::model::EventStatus;
use serde_json::{Value, json};

/// Each batch of changes that fails.
const BATCH: usize = 25;
/// Long enough that the first batch is dead by the time the second fails, and the
/// second still retrying a minute into the outage.
const RETRY_INTERVAL: Duration = Duration::from_secs(40);

/// Journals `count` promotions through a poll (the restarted engine's webhook
/// port is not the one the sandbox posts to) and wakes the engine.
async fn promote(world: &common::World, count: usize) -> Vec<Value> {
    let changed = world.churn(json!([{"kind": "promotion", "count": count}])).await;
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
    changed
}

/// Polls `done` until it holds, failing with `what` after `limit`.
async fn within(limit: Duration, what: &str, mut done: impl FnMut() -> Option<String>) {
    let deadline = Instant::now() + limit;
    loop {
        let Some(why_not) = done() else { return };
        assert!(Instant::now() < deadline, "{what} within {limit:?}: {why_not}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What `hrsync status --json` says of the LMS.
fn lms_in_status_json(world: &common::World) -> (Value, Value) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .args(["status", "--json", "--db"])
        .arg(&world.config.store_path)
        .output()
        .unwrap();
    let status: Value = serde_json::from_slice(&output.stdout).unwrap();
    let lms = (status["engine"]["systems"].as_array().into_iter().flatten())
        .find(|s| s["system"] == "lms")
        .map_or(Value::Null, |s| s["state"].clone());
    (status["engine"]["state"].clone(), lms)
}

fn console_on(world: &common::World) -> Console {
    let handle = EngineHandle::in_process(world.engine(), None).with_operator("on-call");
    let options = ConsoleOptions {
        read_only: false,
        no_color: true,
    };
    Console::new(handle, &options)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_lms_outage_is_named_told_once_and_drained_from_the_console() {
    let (ops_url, ops_messages, ops_server) = common::ops_channel().await;
    let mut world = start(Options {
        employees: 200,
        retry_attempts: 2,
        retry_interval: RETRY_INTERVAL,
        ..Options::default()
    })
    .await;
    world.settle().await;
    world.stop().await;
    world.config.notify_url = Some(ops_url.parse().unwrap());
    world.restart().await;
    let before = world.store().counts().unwrap();

    world.admin("faults", json!({"scim": {"error_ratio": 1.0}})).await;
    let outage = Instant::now();
    let mut changed = promote(&world, BATCH).await;

    // Named within ten seconds: the engine's status, the CLI, the console's header.
    let handle = EngineHandle::in_process(world.engine(), None);
    within(Duration::from_secs(10), "the status names the LMS down", || {
        let Some(status) = handle.status().unwrap() else {
            return Some("no status yet".into());
        };
        let lms = status.systems.iter().find(|h| h.system == System::Lms);
        let down = lms.is_some_and(|h| h.state == SystemState::Down);
        let cli = lms_in_status_json(&world);
        if down && cli == (json!("degraded"), json!("down")) {
            None
        } else {
            Some(format!(
                "{:?} {:?}; status --json {cli:?}",
                status.state, status.systems
            ))
        }
    })
    .await;
    let named_after = outage.elapsed();
    let mut console = console_on(&world);
    let header = screen(&mut console, 80, 24);
    assert!(
        header.contains("▲ degraded") && header.contains("LMS ✗ down"),
        "{header}"
    );
    assert!(outage.elapsed() < Duration::from_secs(10));

    // The first batch fails both its attempts; then a second batch fails once.
    within(
        RETRY_INTERVAL + Duration::from_secs(30),
        "the first batch dead-lettered",
        || {
            let counts = world.store().counts().unwrap();
            (counts.retrying > 0 || counts.dead_letters == before.dead_letters).then(|| format!("{counts:?}"))
        },
    )
    .await;
    changed.extend(promote(&world, BATCH).await);
    within(Duration::from_secs(15), "the second batch retrying", || {
        let counts = world.store().counts().unwrap();
        let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(10);
        let due = world.store().ready(soon, 1).unwrap();
        (counts.retrying == 0 || !due.is_empty()).then(|| format!("{counts:?}, due {due:?}"))
    })
    .await;
    // The whole first minute of the outage: at most two messages for it all.
    within(Duration::from_secs(70), "a minute of the outage", || {
        let told = ops_messages.lock().len();
        assert!(told <= 2, "grouped: {:?}", ops_messages.lock());
        (outage.elapsed() < Duration::from_secs(60)).then(|| format!("{told} told so far"))
    })
    .await;
    let told = ops_messages.lock().clone();
    assert!(
        !told.is_empty() && told.iter().all(|m| m.contains("LMS down")),
        "{told:?}"
    );
    // Most of the fifty (some promotions are of people the contract leaves out, or
    // twice of one person) wait: the first batch dead, the second retrying.
    let counts = world.store().counts().unwrap();
    let (retrying, dead) = (counts.retrying, counts.dead_letters - before.dead_letters);
    assert!(retrying >= 15 && dead >= 15, "{counts:?}");

    // The LMS is back. From the console, one bulk "retry now" of every retrying
    // event and dead letter.
    world.admin("faults", json!({})).await;
    // As the console's loop does when the store changes.
    console.update(hrsync::console::Action::StoreChanged);
    press(&mut console, "2h");
    let rows = console.state.panes.failed.list.rows.len();
    assert_eq!(rows as u64, retrying, "the retrying view lists them all");
    press(&mut console, "R");
    let shown = screen(&mut console, 80, 24);
    assert!(shown.contains("retrying events and"), "{shown}");
    console.key(key(KeyCode::Enter));
    let shown = screen(&mut console, 80, 24);
    assert!(
        shown.contains("done: retry every retrying event and dead letter"),
        "{shown}"
    );

    world.settle_until(Duration::from_secs(60), |_| true).await;
    let after = world.store().counts().unwrap();
    assert_eq!((after.retrying, after.dead_letters), (0, 0), "{after:?}");
    assert_eq!(after.rejected, before.rejected, "nothing rejected: {after:?}");
    for change in &changed {
        let id = change["employee_id"].as_str().unwrap();
        let filter = hrsync::store::EventFilter {
            employee_id: Some(id.to_string()),
            ..Default::default()
        };
        let newest = world.store().events_page(&filter, None, 1).unwrap();
        let status = newest.first().map(|e| e.status);
        assert!(
            matches!(status, Some(EventStatus::Applied | EventStatus::Unchanged)),
            "employee {id}: {}",
            world.events_of(id)
        );
    }
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
    let retried = audit
        .lines()
        .filter(|l| l.contains(r#""action":"event.retry""#) && l.contains(r#""actor":"on-call""#))
        .count();
    assert_eq!(retried as u64, retrying + dead, "each retry audited");

    // One "recovered", and only one.
    within(
        Duration::from_secs(15),
        "the ops channel hears of the recovery",
        || {
            let recovered = ops_messages
                .lock()
                .iter()
                .filter(|m| m.contains("recovered"))
                .count();
            (recovered == 0).then(|| format!("{:?}", ops_messages.lock()))
        },
    )
    .await;
    let messages = ops_messages.lock().clone();
    assert_eq!(
        messages.iter().filter(|m| m.contains("LMS recovered")).count(),
        1,
        "{messages:?}"
    );
    assert_in_step(&world).await;
    // The figures, for `--nocapture`.
    eprintln!(
        "LMS named down after {named_after:?}; {} message(s) in the first minute; \
         {retrying} retrying and {dead} dead retried from the console; {messages:#?}",
        told.len()
    );
    ops_server.abort();
}
