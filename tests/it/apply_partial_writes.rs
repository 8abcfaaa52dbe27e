//! Every write that reached the LMS is journaled and audited, whatever fails
//! after it in the same attempt. Each apply step in turn is made to fail the
//! steps after it (learning paths missing, creation of them off): the learner's
//! create, then the first enrolment, then an update; the audit matches the LMS
//! at each stage, and operator retries (which look the learner up live) finish
//! the job without a second create.

use crate::common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Options, World, assert_in_step, start};
use hrsync::engine::operator::handle::EngineHandle;
use hrsync::model::{EventId, EventStatus};
use hrsync::sandbox::faults::Faults;
use serde_json::{Value, json};

fn rejected(world: &World) -> Vec<hrsync::store::EventSummary> {
    let filter = hrsync::store::EventFilter {
        status: Some(EventStatus::Rejected),
        ..Default::default()
    };
    world.store().events_page(&filter, None, 10_000).unwrap()
}

/// Audit entries of one action, counted per employee.
fn audited(world: &World, action: &str) -> BTreeMap<String, Vec<Value>> {
    let filter = hrsync::store::AuditFilter {
        action: Some(action.into()),
        ..Default::default()
    };
    let mut by_employee: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for entry in world.store().audit_page(&filter, None, 100_000).unwrap() {
        by_employee
            .entry(entry.employee_id.clone().unwrap_or_default())
            .or_default()
            .push(entry.after.clone());
    }
    by_employee
}

async fn create_group(world: &World, name: &str) {
    let c = world.sandbox.credentials();
    let answer = world
        .http
        .post(format!("{}/Groups", c.scim_url))
        .bearer_auth(&c.scim_token)
        .json(&json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name }))
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "creating {name}: {}",
        answer.status()
    );
}

async fn retry_rejected(world: &World, handle: &EngineHandle) -> usize {
    let ids: Vec<EventId> = rejected(world).iter().map(|e| e.id).collect();
    handle.retry(&ids).unwrap();
    world.settle().await;
    ids.len()
}

/// The learners, by employee id, with the groups `/Groups` lists them in.
async fn memberships(world: &World) -> BTreeMap<String, Vec<String>> {
    let groups = world.groups().await;
    world
        .learners()
        .await
        .into_iter()
        .map(|(employee, learner)| {
            let id = learner["id"].as_str().unwrap().to_string();
            let member_of = groups
                .iter()
                .filter(|(_, members)| members.contains(&id))
                .map(|(name, _)| name.clone())
                .collect();
            (employee, member_of)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_reached_the_lms_is_audited_whatever_fails_after_it() {
    let world = start(Options {
        employees: 200,
        faults: serde_json::from_value::<Faults>(json!({ "scim": { "quirks": ["no_groups"] } })).unwrap(),
        create_groups: false,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let handle = EngineHandle::in_process(world.engine(), None).with_operator("on-call");

    // Step 1 succeeds (the learner is created), step 2 fails (no learning path):
    // the event is refused naming the path, and the create is on record.
    let refused = rejected(&world);
    assert!(refused.len() > 100, "the hires are refused: {}", refused.len());
    let event = world.store().event(refused[0].id).unwrap().unwrap().event;
    let reason = event.last_error.unwrap_or_default();
    assert!(
        reason.contains("does not exist in the LMS") && reason.contains("create_groups is off"),
        "{reason}"
    );
    let learners = world.learners().await;
    let created = audited(&world, "learner.create");
    assert_eq!(learners.len(), created.len(), "one create audited per learner");
    for employee in learners.keys() {
        assert_eq!(
            created.get(employee).map(Vec::len),
            Some(1),
            "employee {employee}"
        );
    }
    assert!(audited(&world, "learner.enrol").is_empty());

    // Only Onboarding exists now: the retry finds the learner live (no second
    // create), the first enrolment goes, the next fails; the one that went is audited.
    create_group(&world, "Onboarding").await;
    let retried = retry_rejected(&world, &handle).await;
    assert_eq!(retried, refused.len());
    let enrolled = audited(&world, "learner.enrol");
    let groups = memberships(&world).await;
    for (employee, member_of) in &groups {
        let audited_groups: Vec<&str> = enrolled
            .get(employee)
            .map(|entries| entries.iter().filter_map(|e| e["group"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            audited_groups,
            member_of.iter().map(String::as_str).collect::<Vec<_>>(),
            "employee {employee}: the audit's enrolments are the LMS's\n{}",
            world.events_of(employee)
        );
    }
    assert!(groups.values().any(|g| g == &["Onboarding".to_string()]));

    // Every path there: the rest goes, still one create per learner.
    for path in hrsync::sandbox::world::catalog::learning_paths() {
        if path.display_name != "Onboarding" {
            create_group(&world, &path.display_name).await;
        }
    }
    retry_rejected(&world, &handle).await;
    assert!(rejected(&world).iter().all(|e| world.held_as_duplicate(e.id) || {
        // The planted email twins the LMS refuses stay refused.
        world
            .store()
            .event(e.id)
            .unwrap()
            .unwrap()
            .event
            .last_error
            .unwrap_or_default()
            .contains("409")
    }));
    assert_in_step(&world).await;
    world.assert_groups_exact().await;
    world.assert_one_create_or_adopt_per_learner().await;

    // An update reaches the LMS, then its enrolment fails (Leadership deleted and
    // creation off): the update is audited with the refusal, and the LMS has it.
    let c = world.sandbox.credentials();
    let leadership = world.groups().await;
    assert!(leadership.contains_key("Leadership"));
    let page: Value = world
        .http
        .get(format!(
            "{}/Groups?filter=displayName eq \"Leadership\"",
            c.scim_url
        ))
        .bearer_auth(&c.scim_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = page["Resources"][0]["id"].as_str().unwrap().to_string();
    let deleted = world
        .http
        .delete(format!("{}/Groups/{id}", c.scim_url))
        .bearer_auth(&c.scim_token)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    let before = world.store().counts().unwrap().total;
    let today = common::today();
    let employee = world
        .hris()
        .await
        .into_iter()
        .find(|(_, e)| {
            common::in_scope_and_employed(e)
                && e["employmentStatus"] == "Active"
                && !common::expected_groups(e, today).contains("Leadership")
        })
        .map(|(id, _)| id)
        .expect("an employee to promote");
    world
        .churn(json!([{ "kind": "promotion", "employee_id": employee }]))
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while world.store().counts().unwrap().total <= before {
        assert!(
            Instant::now() < deadline,
            "the promotion's webhook did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    world.settle().await;
    let refusal = rejected(&world)
        .into_iter()
        .find(|e| e.employee_id == employee)
        .unwrap_or_else(|| panic!("the promotion is refused: {}", world.events_of(&employee)));
    let detail = world.store().event(refusal.id).unwrap().unwrap();
    assert!(
        detail
            .event
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("Leadership"),
        "{detail:?}"
    );
    assert!(
        !detail.writes.is_empty(),
        "the update's write is recorded with the event"
    );
    let updates = audited(&world, "learner.update");
    assert!(updates.contains_key(&employee), "the update is audited");
    let title = world.hris().await[&employee]["jobTitle"].clone();
    assert_eq!(
        world.learners().await[&employee]["title"],
        title,
        "the LMS has the update"
    );
}
