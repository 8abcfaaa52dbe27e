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
            text: None,
            direction: None,
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
