//! The engine against the sandbox's LMS behaving like real SCIM servers, one
//! quirk at a time: every in-scope employee has exactly one learner, group
//! membership is exact through `/Groups`, nothing is refused or dead but the
//! planted duplicates, the audit has one create or adoption per learner, and a
//! reconciliation right after finds nothing.

use crate::common;

use std::time::{Duration, Instant};

use common::{Options, World, assert_in_step, start};
use hrsync::engine::reconcile::RunResult;
use hrsync::model::{EventStatus, ScimQuirk};
use hrsync::sandbox::faults::Faults;
use hrsync::store::Duplicates;
use serde_json::{Value, json};

fn faults(quirks: &[&str]) -> Faults {
    serde_json::from_value(json!({ "scim": { "quirks": quirks } })).unwrap()
}

async fn synced_under(quirks: &[&str], named: &[ScimQuirk]) -> World {
    let world = start(Options {
        employees: 300,
        faults: faults(quirks),
        lms_quirks: named.to_vec(),
        ..Options::default()
    })
    .await;
    world.settle().await;
    world
}

async fn assert_synced(world: &World) {
    let synced = assert_in_step(world).await;
    assert!(synced > 200, "most of the workforce is synced: {synced}");
    world.assert_groups_exact().await;
    world.assert_one_create_or_adopt_per_learner().await;
    let counts = world.store().counts().unwrap();
    assert_eq!(counts.dead_letters, 0, "{counts:?}");
    world.assert_only_twins_refused();
    world.assert_only_duplicates_held();
    world.assert_reconciles_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_learning_paths_beforehand_they_are_created() {
    let world = synced_under(&["no_groups"], &[]).await;
    assert_synced(&world).await;
    assert!(world.groups().await.contains_key("Onboarding"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_without_groups_membership_is_read_from_groups() {
    let world = synced_under(&["no_groups_attribute"], &[]).await;
    assert_synced(&world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_broken_by_the_attributes_parameter() {
    // Named in the configuration, or not: found out at the first enrolment.
    let world = synced_under(
        &["ignores_attributes_param"],
        &[ScimQuirk::IgnoresAttributesParam],
    )
    .await;
    assert_synced(&world).await;
    let world = synced_under(&["ignores_attributes_param"], &[]).await;
    assert_synced(&world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booleans_as_strings() {
    let world = synced_under(&["string_booleans"], &[]).await;
    assert_synced(&world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_etags() {
    let world = synced_under(&["no_etag"], &[]).await;
    assert_synced(&world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_enterprise_filter_a_learner_without_external_id_is_found_by_user_name() {
    let world = synced_under(&["no_enterprise_filter"], &[ScimQuirk::NoEnterpriseFilter]).await;
    assert_synced(&world).await;
    // A learner that lost its externalId (edited by hand) is found by userName
    // and linked again, not created twice.
    let (employee, learner) = an_active_learner(&world).await;
    let mut edited = learner.clone();
    let object = edited.as_object_mut().unwrap();
    object.remove("externalId");
    object.remove("meta");
    scim(
        &world,
        reqwest::Method::PUT,
        &format!("Users/{}", learner["id"].as_str().unwrap()),
        edited,
    )
    .await;
    churn_and_settle(&world, json!([{ "kind": "transfer", "employee_id": employee }])).await;
    assert_eq!(world.learners().await[&employee]["id"], learner["id"]);
    assert_in_step(&world).await;
    world.assert_one_create_or_adopt_per_learner().await;
    world.assert_reconciles_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_made_by_hand_is_adopted_after_a_409() {
    let world = synced_under(&[], &[]).await;
    learner_made_by_hand_is_adopted(&world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_made_by_hand_is_adopted_after_a_400() {
    let world = synced_under(&["duplicate_is_400"], &[]).await;
    learner_made_by_hand_is_adopted(&world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_name_another_employees_learner_holds_is_a_learner_side_duplicate() {
    let world = synced_under(&[], &[]).await;
    let handle = paused(&world).await;
    let hired = hire_one(&world).await;
    let user_name = hired["workEmail"].as_str().unwrap().to_string();
    scim(
        &world,
        reqwest::Method::POST,
        "Users",
        json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name,
                "externalId": "someone-else", "active": true }),
    )
    .await;
    handle.set_paused(false).unwrap();
    let id = hired["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    let held = loop {
        let events = world
            .store()
            .events_page(&employee_filter(&id), None, 10)
            .unwrap();
        if let Some(held) = events.iter().find(|e| e.status == EventStatus::Held) {
            break held.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the hire was not held: {}",
            world.events_of(&id)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let note = world.store().event(held.id).unwrap().unwrap().event.note.unwrap();
    assert!(note.contains("belongs to employee someone-else"), "{note}");
    let groups = world.store().duplicate_groups(&[], 0, 100).unwrap();
    assert!(
        groups
            .iter()
            .any(|g| g.side == hrsync::model::DuplicateSide::Lms && g.match_key == user_name),
        "a learner-side duplicate for the Duplicates pane: {groups:?}"
    );
    assert_eq!(world.store().counts().unwrap().rejected, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_paging_fails_the_reconciliation_with_its_reason() {
    // More learners than one page holds (the sandbox answers at most 1,000).
    let world = start(Options {
        employees: 1300,
        faults: faults(&["broken_paging"]),
        ..Options::default()
    })
    .await;
    world.settle_until(Duration::from_secs(120), |_| true).await;
    match world.reconcile().await {
        RunResult::Failed { run } => {
            let error = run.error.unwrap_or_default();
            assert!(error.contains("does not page"), "{error}");
            assert!(
                error.contains(&world.config.lms.scim_url),
                "names the server: {error}"
            );
        }
        other => panic!("a list read from a server that ignores startIndex is not trusted: {other:?}"),
    }
}

/// A new hire whose learner an administrator made by hand (same userName, no
/// externalId) while the engine was paused: the engine's create meets the
/// taken userName and adopts that learner.
async fn learner_made_by_hand_is_adopted(world: &World) {
    let handle = paused(world).await;
    let hired = hire_one(world).await;
    let made = scim(
        world,
        reqwest::Method::POST,
        "Users",
        json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": hired["workEmail"], "active": true }),
    )
    .await;
    handle.set_paused(false).unwrap();
    world.engine().wake.notify_one();
    world.settle().await;
    let id = hired["id"].as_str().unwrap();
    let learners = world.learners().await;
    assert_eq!(learners[id]["id"], made["id"], "the hand-made learner is adopted");
    let adoptions = world
        .store()
        .audit_page(
            &hrsync::store::AuditFilter {
                action: Some("learner.adopt".into()),
                employee_id: Some(id.to_string()),
                ..Default::default()
            },
            None,
            10,
        )
        .unwrap();
    assert_eq!(adoptions.len(), 1, "{}", world.events_of(id));
    assert_synced(world).await;
}

/// Pauses the engine and waits until it has noticed.
async fn paused(world: &World) -> hrsync::engine::operator::handle::EngineHandle {
    let handle = hrsync::engine::operator::handle::EngineHandle::in_process(world.engine(), None);
    handle.set_paused(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !world.engine().paused.load(std::sync::atomic::Ordering::Relaxed) {
        assert!(Instant::now() < deadline, "the engine did not pause");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    handle
}

/// Hires someone whose hire date has come (so the learner is due now).
async fn hire_one(world: &World) -> Value {
    for _ in 0..20 {
        let applied = world.churn(json!([{ "kind": "hire", "count": 1 }])).await;
        let id = applied[0]["employee_id"].as_str().unwrap().to_string();
        let hris = world.hris().await;
        if common::in_scope_and_employed(&hris[&id]) {
            return hris[&id].clone();
        }
    }
    panic!("no hire in scope and due today in 20 tries");
}

async fn an_active_learner(world: &World) -> (String, Value) {
    let learners = world.learners().await;
    let hris = world.hris().await;
    learners
        .into_iter()
        .find(|(id, l)| l["active"] == true && common::in_scope_and_employed(&hris[id]))
        .expect("an active learner")
}

async fn churn_and_settle(world: &World, changes: Value) {
    let before = world.store().counts().unwrap().total;
    let wanted = changes.as_array().unwrap().len() as u64;
    world.churn(changes).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while world.store().counts().unwrap().total < before + wanted {
        assert!(Instant::now() < deadline, "the churn's webhooks did not arrive");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    world.settle().await;
}

fn employee_filter(id: &str) -> hrsync::store::EventFilter {
    hrsync::store::EventFilter {
        employee_id: Some(id.to_string()),
        ..Default::default()
    }
}

async fn scim(world: &World, method: reqwest::Method, path: &str, body: Value) -> Value {
    let c = world.sandbox.credentials();
    let response = world
        .http
        .request(method, format!("{}/{path}", c.scim_url))
        .bearer_auth(&c.scim_token)
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.unwrap_or(Value::Null)
}

/// The engine's quirk names and the sandbox's are one vocabulary: every quirk
/// hrsync works around can be switched on in the sandbox under the same name.
#[test]
fn every_quirk_the_engine_knows_the_sandbox_can_imitate() {
    for quirk in ScimQuirk::ALL {
        let imitated: Result<hrsync::sandbox::faults::ScimQuirk, _> =
            serde_json::from_value(json!(quirk.as_str()));
        assert!(imitated.is_ok(), "the sandbox has no quirk named {quirk}");
    }
}
