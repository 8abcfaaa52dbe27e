//! A panic while applying an event, injected through the engine's fault hook:
//! the event goes to the error queue with the panic's message (its employee is
//! not left in limbo), the engine says it is degraded and why, and other
//! employees' changes go on.

#[path = "it/common/mod.rs"]
mod common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Options, start};
use hrsync::engine::operator::status::EngineState;
use hrsync::model::{Event, EventStatus};
use serde_json::json;

/// The employee whose changes panic.
static VICTIM: OnceLock<String> = OnceLock::new();

fn panic_for_the_victim(event: &Event) {
    if VICTIM.get() == Some(&event.employee_id) {
        panic!("injected fault for employee {}", event.employee_id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_apply_sends_the_event_to_the_error_queue_and_degrades() {
    let world = start(Options {
        employees: 80,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let mut employed = world
        .hris()
        .await
        .into_iter()
        .filter(|(_, e)| common::in_scope_and_employed(e) && e["employmentStatus"] == "Active")
        .map(|(id, _)| id);
    let (victim, bystander) = (employed.next().unwrap(), employed.next().unwrap());
    VICTIM.set(victim.clone()).unwrap();
    let _ = hrsync::engine::apply::FAULT_HOOK.set(panic_for_the_victim);

    let before = world.store().counts().unwrap().total;
    world
        .churn(json!([
            { "kind": "transfer", "employee_id": victim },
            { "kind": "transfer", "employee_id": bystander },
        ]))
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while world.store().counts().unwrap().total < before + 2 {
        assert!(Instant::now() < deadline, "the webhooks did not arrive");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    world.settle().await;

    let filter = |id: &str| hrsync::store::EventFilter {
        employee_id: Some(id.into()),
        ..Default::default()
    };
    let refused = world.store().events_page(&filter(&victim), None, 1).unwrap()[0].clone();
    assert_eq!(
        refused.status,
        EventStatus::Rejected,
        "{}",
        world.events_of(&victim)
    );
    assert!(
        refused
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("panicked: injected fault")),
        "{refused:?}"
    );
    let went_on = world.store().events_page(&filter(&bystander), None, 1).unwrap()[0].clone();
    assert_eq!(
        went_on.status,
        EventStatus::Applied,
        "{}",
        world.events_of(&bystander)
    );

    // The status the engine publishes says degraded, and why.
    let handle = hrsync::engine::operator::handle::EngineHandle::in_process(world.engine(), None);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = handle.status().unwrap();
        if let Some(status) = status.filter(|s| s.state == EngineState::Degraded) {
            assert!(
                status
                    .problems
                    .iter()
                    .any(|p| p.contains(&format!("employee {victim}"))),
                "{:?}",
                status.problems
            );
            break;
        }
        assert!(Instant::now() < deadline, "the engine never said it is degraded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
