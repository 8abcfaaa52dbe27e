//! The console on a real engine run against the sandbox: what the engine did
//! shows in the panes, and a retry from the console is applied by the engine.

use crate::common;
use crate::console_support;

use std::time::{Duration, Instant};

use common::{Options, start};
use console_support::{press, screen};
use hrsync::console::{Console, ConsoleOptions};
use hrsync::engine::operator::handle::EngineHandle;
use hrsync::model::EventStatus;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_panes_show_the_engines_work_and_a_retry_reaches_it() {
    let mut world = start(Options {
        employees: 80,
        retry_attempts: 1,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let handle =
        EngineHandle::in_process(world.engine(), Some(common::CONTRACT.to_string())).with_operator("carol");
    let options = ConsoleOptions {
        read_only: false,
        no_color: true,
    };
    let mut console = Console::new(handle, &options);
    let shown = screen(&mut console, 160, 48);
    assert!(shown.contains("hrsync ● running"), "{shown}");
    assert!(
        shown.contains("→LMS") && shown.contains("applied"),
        "the initial load shows:\n{shown}"
    );

    // The LMS goes down: a promotion becomes a dead letter after its one attempt.
    world.admin("faults", json!({"scim": {"error_ratio": 1.0}})).await;
    let promoted = world.churn(json!([{"kind": "promotion", "count": 1}])).await;
    let employee = promoted[0]["employee_id"].as_str().unwrap().to_string();
    world
        .settle_until(Duration::from_secs(30), |c| c.dead_letters >= 1)
        .await;
    world.admin("faults", json!({})).await;

    press(&mut console, "2");
    console.update(hrsync::console::Action::StoreChanged);
    let shown = screen(&mut console, 160, 48);
    assert!(shown.contains(&employee), "the dead letter is listed:\n{shown}");
    press(&mut console, "r");
    let shown = screen(&mut console, 160, 48);
    assert!(shown.contains("done: retry"), "{shown}");

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let filter = hrsync::store::EventFilter {
            employee_id: Some(employee.clone()),
            status: Some(EventStatus::Applied),
            ..Default::default()
        };
        if world
            .store()
            .events_page(&filter, None, 10)
            .unwrap()
            .iter()
            .any(|e| e.source == hrsync::model::Source::Webhook)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the retried promotion was not applied:\n{}",
            world.events_of(&employee)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let audit = world
        .store()
        .audit_page(
            &hrsync::store::AuditFilter {
                actor: Some("carol".into()),
                ..Default::default()
            },
            None,
            10,
        )
        .unwrap();
    assert!(
        !audit.is_empty(),
        "the operator's retry is in the audit log under their name"
    );
    world.stop().await;
}

/// A reconciliation under way shows in the engine's status and the console's
/// header with its step; once it is over, the header shows its findings again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconciliation_under_way_shows_its_step_in_the_status_and_the_header() {
    let world = start(Options {
        employees: 120,
        ..Options::default()
    })
    .await;
    world.settle().await;
    // Slow LMS pages, so the reading step lasts long enough to be seen.
    world.admin("faults", json!({"scim": {"latency_ms": 700}})).await;
    let handle = EngineHandle::in_process(world.engine(), Some(common::CONTRACT.to_string()));
    handle.request_reconcile().expect("a run is asked for");
    let deadline = Instant::now() + Duration::from_secs(30);
    let step = loop {
        let status = handle.status().unwrap().expect("the engine publishes its status");
        if let Some(work) = status.work.filter(|w| w.what.starts_with("reconciling: reading")) {
            break work;
        }
        assert!(Instant::now() < deadline, "no reconciliation step in the status");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        step.total.is_none(),
        "no earlier run to guess the size from: {step:?}"
    );
    let options = ConsoleOptions {
        read_only: true,
        no_color: true,
    };
    let mut console = Console::new(handle.clone(), &options);
    let shown = screen(&mut console, 160, 48);
    assert!(
        shown.contains("reconciling: reading the HRIS and the LMS"),
        "{shown}"
    );
    world.admin("faults", json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = handle.status().unwrap().expect("status");
        if status.work.is_none() && status.reconcile.last_complete_at.is_some() {
            // The initial load's progress ended long since: that is no trouble.
            assert!(status.problems.is_empty(), "{:?}", status.problems);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the run never ended: {:?} {:?} {:?}",
            status.work,
            world.store().counts(),
            world
                .store()
                .ready(jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1), 10)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    console.update(hrsync::console::Action::StoreChanged);
    let shown = screen(&mut console, 160, 48);
    assert!(
        !shown.contains("reconciling:") && shown.contains("drift"),
        "{shown}"
    );
}
