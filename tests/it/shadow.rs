//! Shadow mode end to end against the sandbox: the engine takes in everything
//! (initial load, webhooks, completions) and plans it, but writes nothing to the
//! LMS or the HRIS; its events are `shadowed` with the writes they would make.
//! Leaving shadow mode (`hrsync shadow leave`, audited) plans them afresh and
//! applies them; a start in shadow mode after that is refused.

use std::time::{Duration, Instant};

use crate::common;

use common::{Options, World};
use hrsync::model::{Direction, EventStatus};
use hrsync::store::{ControlPlane, EventFilter, Shadow};
use serde_json::{Value, json};

fn events(world: &World, status: EventStatus, direction: Direction) -> Vec<hrsync::model::Event> {
    let filter = EventFilter {
        status: Some(status),
        direction: Some(direction),
        ..Default::default()
    };
    (world.store().events_page(&filter, None, 10_000).unwrap())
        .into_iter()
        .map(|e| world.store().event(e.id).unwrap().unwrap().event)
        .collect()
}

/// Audit actions that record a write to the LMS or the HRIS.
fn writes_audited(world: &World) -> Vec<String> {
    let page = world
        .store()
        .audit_page(&Default::default(), None, 100_000)
        .unwrap();
    page.into_iter()
        .map(|e| e.action)
        .filter(|a| a.starts_with("learner.") || a.starts_with("training."))
        .collect()
}

async fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn published_shadow(world: &World) -> Option<bool> {
    let status = world.store().published_status().unwrap()?;
    let json: Value = serde_json::from_str(&status.json).unwrap();
    json["shadow"].as_bool()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_run_writes_nothing_and_leaving_it_applies_everything_afresh() {
    let mut world = common::start_for_binary(Options {
        employees: 120,
        ..Options::default()
    })
    .await;
    let learners_before = world.learners().await;
    // In process, on the port the HRIS sends its webhooks to.
    world.config.shadow = true;
    let listener = tokio::net::TcpListener::bind(world.config.webhook.listen)
        .await
        .unwrap();
    let contract = hrsync::contract::parse(common::CONTRACT).unwrap();
    let engine = hrsync::engine::start_with_listener(&world.config, contract, listener).await;
    world.engine = Some(engine.unwrap());
    world.settle().await;

    // Changes arrive by webhook, and completions from the LRS.
    world
        .churn(json!([{ "kind": "hire", "count": 2 }, { "kind": "promotion", "count": 3 }]))
        .await;
    world.webhooks_delivered().await;
    let webhooks = (world
        .store()
        .events_page(&EventFilter::default(), None, 10_000)
        .unwrap())
    .into_iter()
    .filter(|e| e.source == hrsync::model::Source::Webhook)
    .count();
    assert!(webhooks >= 5, "the changes came by webhook: {webhooks}");
    let answer = world
        .admin("completions", json!({ "count": 20, "from": "hris" }))
        .await;
    assert!(answer.is_object(), "{answer}");
    until("completions shadowed", Duration::from_secs(60), || {
        !events(&world, EventStatus::Shadowed, Direction::LmsToHris).is_empty()
    })
    .await;
    world.settle().await;

    // Nothing was written: the LMS is as it was, learner for learner, and no
    // write to either side is in the audit log.
    assert_eq!(
        world.learners().await,
        learners_before,
        "the LMS was written in shadow mode"
    );
    assert_eq!(writes_audited(&world), Vec::<String>::new());
    let counts = world.store().counts().unwrap();
    assert_eq!(counts.applied, 0, "{counts:?}");
    until("the status says shadow", Duration::from_secs(10), || {
        published_shadow(&world) == Some(true)
    })
    .await;

    // Each event shows the write it would have made.
    let identity = events(&world, EventStatus::Shadowed, Direction::HrisToLms);
    let created = identity
        .iter()
        .find(|e| {
            e.note
                .as_deref()
                .is_some_and(|n| n.starts_with("would create learner"))
        })
        .unwrap_or_else(|| panic!("no planned create among {} shadowed events", identity.len()));
    let planned = &created.mapped.as_ref().expect("the plan is kept")["planned"];
    assert_eq!(planned["action"], "create", "{planned}");
    assert!(planned["changes"]["after"]["user_name"].is_string(), "{planned}");
    assert!(!learners_before.contains_key(&created.employee_id));
    let completions = events(&world, EventStatus::Shadowed, Direction::LmsToHris);
    assert!(
        completions.iter().all(|e| e
            .note
            .as_deref()
            .is_some_and(|n| n.starts_with("would write to the HRIS: training record"))),
        "{:?}",
        completions.iter().map(|e| &e.note).collect::<Vec<_>>()
    );

    // The CLI lists them with the write each would make.
    let out = tokio::task::block_in_place(|| world.cli(&["retries", "list", "--shadowed"]));
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && listed.contains(&format!("{:>8}  shadowed", created.id)),
        "{listed}"
    );
    assert!(listed.contains("would create learner"), "{listed}");

    // A start in live mode while the store is in shadow mode would be refused.
    let refused = hrsync::engine::apply::shadow::check_start(world.store(), false).unwrap_err();
    assert!(refused.to_string().contains("in shadow mode since"), "{refused}");

    // Leaving is an operator's action with a reason; the engine picks it up running.
    let out = tokio::task::block_in_place(|| world.cli(&["shadow", "leave"]));
    assert!(!out.status.success(), "leaving needs --reason");
    let out = tokio::task::block_in_place(|| {
        world.cli(&["shadow", "leave", "--reason", "parallel run signed off"])
    });
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let left = world
        .store()
        .shadow_mode()
        .unwrap()
        .left
        .expect("recorded as left");
    assert_eq!(
        (left.by.as_str(), left.reason.as_str()),
        ("on-call", "parallel run signed off")
    );
    let entry = (world
        .store()
        .audit_page(&Default::default(), None, 100_000)
        .unwrap())
    .into_iter()
    .find(|e| e.action == "mode.live")
    .expect("leaving is audited");
    assert_eq!(entry.actor, "on-call");
    assert_eq!(entry.reason.as_deref(), Some("parallel run signed off"));

    until("the shadowed events applied", Duration::from_secs(90), || {
        let counts = world.store().counts().unwrap();
        counts.shadowed == 0 && counts.applied > 0
    })
    .await;
    world.settle().await;
    common::assert_in_step(&world).await;
    assert!(
        !events(&world, EventStatus::Applied, Direction::LmsToHris).is_empty(),
        "the completions reached the HRIS only now"
    );
    until("the status says live", Duration::from_secs(10), || {
        published_shadow(&world) == Some(false)
    })
    .await;

    // Back to shadow mode after leaving it: refused, naming who left and when.
    world.stop().await;
    let out = tokio::task::block_in_place(|| world.cli(&["run", "--shadow"]));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("left shadow mode") && said.contains("on-call") && said.contains(&left.at.to_string()),
        "{said}"
    );
}
