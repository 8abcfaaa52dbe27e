//! Reconciliation end to end against the sandbox: a run finds each kind of drift
//! (a field changed in the LMS by hand, a termination and hires not yet applied,
//! a learner with no employee, a completion never written back), the operator's
//! fix pushes the owner's value through the pipeline, accept keeps an item out
//! of later runs, flag reaches the HRIS admin's queue, and a run against an
//! empty HRIS list fails and reports nothing.

use crate::common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{Options, World, start};
use hrsync::connectors::Notifier;
use hrsync::engine::operator::handle::EngineHandle;
use hrsync::engine::reconcile::{Reconciler, RunResult};
use hrsync::model::{DriftCategory, DriftState};
use hrsync::store::{DriftItem, DriftItems, ReconcileRun, ReconcileRuns};
use serde_json::{Value, json};

async fn reconciler(world: &World) -> Reconciler {
    reconciler_telling(world, None).await
}

async fn reconciler_telling(world: &World, ops: Option<&str>) -> Reconciler {
    let c = &world.config;
    Reconciler {
        store: world.store().clone(),
        contract: world.engine().contract.clone(),
        connections: hrsync::engine::connect::connect(c, world.store()).await.unwrap(),
        notifier: Notifier::new(ops.map(|u| u.parse().unwrap())),
        progress: Default::default(),
    }
}

async fn complete_run(world: &World) -> ReconcileRun {
    match reconciler(world).await.run("test").await.unwrap() {
        RunResult::Complete { run } => run,
        other => panic!("the run did not complete: {other:?}"),
    }
}

fn items(world: &World, run: &ReconcileRun, category: DriftCategory) -> Vec<DriftItem> {
    world
        .store()
        .drift_items_page(run.id, Some(category), 0, 1000)
        .unwrap()
}

async fn scim(world: &World, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let c = world.sandbox.credentials();
    let mut request = world
        .http
        .request(method, format!("{}/{path}", c.scim_url))
        .bearer_auth(&c.scim_token);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_finds_each_kind_of_drift_and_the_operator_resolves_it() {
    let world = start(Options::default()).await;
    world.settle().await;
    let handle = EngineHandle::in_process(world.engine(), None).with_operator("on-call");

    // In step: nothing to report. The planted duplicates are held without a
    // learner, and the Duplicates and Held panes already ask about them.
    let clean = complete_run(&world).await;
    assert_eq!(clean.count(DriftCategory::EmployeeWithoutLearner), 0, "{clean:?}");
    assert!(
        world.store().counts().unwrap().held > 0,
        "duplicates were planted and held"
    );
    assert_eq!(clean.count(DriftCategory::FieldDrift), 0, "{clean:?}");
    assert_eq!(clean.count(DriftCategory::TerminatedButActive), 0, "{clean:?}");
    assert_eq!(clean.count(DriftCategory::WrongGroups), 0, "{clean:?}");
    assert_eq!(clean.count(DriftCategory::LearnerWithoutEmployee), 0, "{clean:?}");
    assert!(clean.employees >= 300, "{clean:?}");

    // Drift: a job title changed in the LMS by hand.
    let learners = world.learners().await;
    let (victim, learner) = learners
        .iter()
        .find(|(_, l)| l["active"] == true && l["title"].is_string())
        .map(|(id, l)| (id.clone(), l.clone()))
        .unwrap();
    let learner_id = learner["id"].as_str().unwrap().to_string();
    let hris_title = learner["title"].as_str().unwrap().to_string();
    let mut edited = learner.clone();
    edited["title"] = json!("Chief Vibes Officer");
    edited.as_object_mut().unwrap().remove("meta");
    scim(
        &world,
        reqwest::Method::PUT,
        &format!("Users/{learner_id}"),
        Some(edited),
    )
    .await;
    // A learner nobody in the HRIS owns.
    scim(
        &world,
        reqwest::Method::POST,
        "Users",
        Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ghost@acme.example",
            "externalId": "ghost-1", "active": true, "emails": [{"value": "ghost@acme.example", "type": "work"}]})),
    )
    .await;
    // Changes journaled but not applied yet: the engine is paused.
    handle.set_paused(true).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !world.engine().paused.load(Ordering::Relaxed) {
        assert!(std::time::Instant::now() < deadline, "the engine did not pause");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let churned = world
        .churn(json!([{"kind": "termination", "count": 2}, {"kind": "hire", "count": 3}]))
        .await;
    let terminated: Vec<&str> = churned
        .iter()
        .filter(|c| c["kind"] == "termination")
        .map(|c| c["employee_id"].as_str().unwrap())
        .collect();
    // A completion stored while nothing writes it back, once the completions
    // source has read it (one stored after its cursor is on its way, not drift).
    let read = hrsync::store::EventFilter {
        employee_id: Some(victim.clone()),
        direction: Some(hrsync::model::Direction::LmsToHris),
        ..Default::default()
    };
    let before = world.store().events_page(&read, None, 100).unwrap().len();
    world
        .admin(
            "completions",
            json!({"count": 5, "employee_ids": [victim.clone()]}),
        )
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while world.store().events_page(&read, None, 100).unwrap().len() <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "the completions were never read"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let (ops_url, heard, _server) = common::ops_channel().await;
    let run = match reconciler_telling(&world, Some(&ops_url))
        .await
        .run("test")
        .await
        .unwrap()
    {
        RunResult::Complete { run } => run,
        other => panic!("the run did not complete: {other:?}"),
    };
    assert!(
        heard
            .lock()
            .iter()
            .any(|m| m.contains("terminated employees still have an active learner")),
        "the critical finding reached the ops channel: {:?}\n{run:?}",
        heard.lock()
    );
    let field = items(&world, &run, DriftCategory::FieldDrift);
    let title = field
        .iter()
        .find(|i| i.employee_id == victim && i.field == "job_title")
        .unwrap_or_else(|| panic!("the title drift of {victim} is reported: {field:?}"));
    assert_eq!(title.hris_value.as_deref(), Some(hris_title.as_str()));
    assert_eq!(title.lms_value.as_deref(), Some("Chief Vibes Officer"));
    let critical = items(&world, &run, DriftCategory::TerminatedButActive);
    for id in &terminated {
        assert!(
            critical.iter().any(|i| i.employee_id == *id),
            "terminated {id} still active is critical: {critical:?}"
        );
    }
    assert!(
        run.count(DriftCategory::EmployeeWithoutLearner) > clean.count(DriftCategory::EmployeeWithoutLearner)
    );
    let ghost = items(&world, &run, DriftCategory::LearnerWithoutEmployee)
        .into_iter()
        .find(|i| i.employee_id == "ghost-1")
        .expect("the ghost learner is reported");
    let completions = items(&world, &run, DriftCategory::CompletionNotWrittenBack);
    assert!(
        completions.iter().any(|i| i.employee_id == victim),
        "the completion not written back is reported: {completions:?}"
    );

    // Fix the title and the completions: journaled, applied like any change, audited.
    let mut to_fix = vec![title.id];
    to_fix.extend(
        completions
            .iter()
            .filter(|i| i.employee_id == victim)
            .map(|i| i.id),
    );
    let fixed = handle.fix_drift(&to_fix).unwrap();
    assert!(
        fixed.iter().all(|f| f.result == Ok(DriftState::Fixing)),
        "{fixed:?}"
    );
    // The ghost has no HRIS record to push: refused with the reason, not dropped.
    let refused = handle.fix_drift(&[ghost.id]).unwrap();
    assert!(refused[0].result.as_ref().unwrap_err().contains("no HRIS record"));
    handle.set_paused(false).unwrap();
    world.engine().wake.notify_one();
    world.settle_until(Duration::from_secs(90), |_| true).await;
    let after: Value = scim(&world, reqwest::Method::GET, &format!("Users/{learner_id}"), None).await;
    assert_eq!(after["title"], json!(hris_title), "fix pushed the HRIS's value");

    // Accept the ghost (kept out of later runs), flag a termination to the HRIS admin.
    handle
        .accept_drift(&[ghost.id], "a test account the LMS team keeps", None)
        .unwrap();
    assert!(handle.flag_drift(&[ghost.id], "").is_err(), "a flag needs a note");
    handle
        .flag_drift(&[critical[0].id], "terminated without an exit interview?")
        .unwrap();
    let flags = handle.flags(0, 10).unwrap();
    assert!(
        flags
            .iter()
            .any(|f| f.kind == "drift" && f.employee_id == Some(critical[0].employee_id.clone())),
        "{flags:?}"
    );

    let next = complete_run(&world).await;
    assert!(
        !items(&world, &next, DriftCategory::FieldDrift)
            .iter()
            .any(|i| i.employee_id == victim),
        "the fixed drift is gone"
    );
    assert!(
        items(&world, &next, DriftCategory::TerminatedButActive).is_empty(),
        "the terminations applied once resumed"
    );
    assert!(
        !items(&world, &next, DriftCategory::LearnerWithoutEmployee)
            .iter()
            .any(|i| i.employee_id == "ghost-1"),
        "an accepted item is not reported again while it stays the same"
    );
    assert!(next.accepted >= 1, "{next:?}");
    // The fixes wrote the completions back.
    assert!(
        !items(&world, &next, DriftCategory::CompletionNotWrittenBack)
            .iter()
            .any(|i| i.employee_id == victim),
        "the completion was written back"
    );
    let actions: Vec<String> = world
        .store()
        .audit_window(&Default::default(), None, hrsync::store::Toward::Older, 200)
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for wanted in ["drift.fix", "drift.accept", "drift.flag"] {
        assert!(
            actions.iter().any(|a| a == wanted),
            "{wanted} is audited: {actions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_cannot_finish_reports_nothing_and_one_runs_at_a_time() {
    let world = start(Options {
        employees: 120,
        ..Options::default()
    })
    .await;
    world.settle().await;
    world
        .admin("faults", json!({"hris": {"empty_next_full_pull": true}}))
        .await;
    let result = reconciler(&world).await.run("test").await.unwrap();
    let RunResult::Failed { run } = result else {
        panic!("an empty HRIS list fails the run: {result:?}")
    };
    assert!(run.error.as_deref().unwrap().contains("empty"), "{run:?}");
    assert!(
        world
            .store()
            .drift_items_page(run.id, None, 0, 10)
            .unwrap()
            .is_empty()
    );
    assert!(world.store().latest_complete_run().unwrap().is_none());

    // One run at a time, across processes: a second begin sees the first.
    let store = world.store();
    let first = store.begin_run("a", Duration::from_secs(900)).unwrap().unwrap();
    let second = store.begin_run("b", Duration::from_secs(900)).unwrap();
    assert_eq!(second.unwrap_err().id, first, "the run under way is named");
    let result = reconciler(&world).await.run("test").await.unwrap();
    assert!(matches!(result, RunResult::AlreadyRunning { .. }), "{result:?}");
    // A run whose process died (no heartbeat) does not block the next forever.
    let taken_over = store.begin_run("c", Duration::ZERO).unwrap();
    assert!(taken_over.is_ok(), "{taken_over:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_runs_and_lists_for_scripts() {
    let world = common::start_for_binary(Options {
        employees: 200,
        ..Options::default()
    })
    .await;
    // Nothing synced yet: every active employee lacks a learner.
    let (code, run) = tokio::task::block_in_place(|| world.cli_json(&["reconcile"]));
    assert_eq!(code, 0, "{run}");
    assert_eq!(run["result"], "complete", "{run}");
    let missing = run["run"]["counts"]["employee_without_learner"].as_u64().unwrap();
    assert!(missing > 100, "{run}");
    let (code, listed) = tokio::task::block_in_place(|| {
        world.cli_json(&["drift", "list", "--category", "employee_without_learner"])
    });
    assert_eq!(code, 0);
    assert_eq!(listed["items"].as_array().unwrap().len() as u64, missing);
    let (_, groups) = tokio::task::block_in_place(|| world.cli_json(&["duplicates", "list"]));
    let planted = world.sandbox.shared().planted_duplicates.clone();
    for d in &planted {
        assert!(
            groups.as_array().unwrap().iter().any(|g| g["members"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["member_id"] == d.duplicate_id.as_str())),
            "the run found {d:?}: {groups}"
        );
    }
    let (_, flags) = tokio::task::block_in_place(|| world.cli_json(&["flags", "list"]));
    assert_eq!(flags, json!([]));
}
