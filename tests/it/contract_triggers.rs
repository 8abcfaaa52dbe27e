//! Leaving a trigger's group: the shipped contract with `on_exit = "remove"` on
//! location compliance, and a change trigger reading `before.location`. A transfer takes the learner out of the old location's
//! group and into the new one's, while onboarding (`keep`) stays; the removal is
//! audited, and a reconciliation afterwards finds nothing. A membership no
//! `remove` trigger justifies any more is drift, and its fix takes it away.

use std::collections::BTreeSet;

use crate::common;

use common::{Options, World, in_scope_and_employed, start};
use hrsync::store::{DriftItems, Enrolments};
use serde_json::{Value, json};

/// The shipped contract, location compliance leaving on exit, onboarding
/// reaching everyone (so a kept group is there to check), and a change trigger:
/// whoever moves from one location to another joins "Relocation".
fn contract() -> &'static str {
    let text = common::CONTRACT
        .replacen(
            "group = \"Compliance {value}\"",
            "group = \"Compliance {value}\"\non_exit = \"remove\"",
            1,
        )
        .replacen("within_days = 30", "within_days = 36500", 1)
        + "\n[[trigger]]\nname = \"relocated\"\n\
           condition = 'before.location != null && before.location != hris.location'\n\
           group = \"Relocation\"\n";
    assert_ne!(text, common::CONTRACT);
    Box::leak(text.into_boxed_str())
}

/// The groups the learner of `employee` is in, read through `/Groups`.
async fn groups_of(world: &World, learner_id: &str) -> BTreeSet<String> {
    world
        .groups()
        .await
        .into_iter()
        .filter(|(_, members)| members.contains(learner_id))
        .map(|(name, _)| name)
        .collect()
}

fn audited(world: &World, action: &str, employee: &str) -> Vec<Value> {
    let filter = hrsync::store::AuditFilter {
        action: Some(action.into()),
        ..Default::default()
    };
    world
        .store()
        .audit_page(&filter, None, 1000)
        .unwrap()
        .into_iter()
        .filter(|entry| entry.employee_id.as_deref() == Some(employee))
        .map(|entry| json!({ "subject": entry.subject, "before": entry.before, "after": entry.after }))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_leaves_the_old_location_group_and_keeps_onboarding() {
    let world = start(Options {
        contract: Some(contract()),
        employees: 60,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let hris = world.hris().await;
    let learners = world.learners().await;
    let (employee, before) = hris
        .iter()
        .find(|(id, e)| {
            in_scope_and_employed(e)
                && e["location"].as_str().is_some_and(|l| !l.is_empty())
                && learners.get(*id).is_some_and(|l| l["active"] == true)
        })
        .expect("an employee with a learner and a location");
    let learner_id = learners[employee]["id"].as_str().unwrap().to_string();
    let old = format!("Compliance {}", before["location"].as_str().unwrap());
    let groups = groups_of(&world, &learner_id).await;
    assert!(
        groups.contains(&old) && groups.contains("Onboarding"),
        "{groups:?}"
    );
    assert!(
        !world.groups().await.contains_key("Relocation"),
        "nobody moved yet"
    );

    world
        .churn(json!([{ "kind": "transfer", "employee_id": employee }]))
        .await;
    world.webhooks_delivered().await;
    world.settle().await;

    let after = &world.hris().await[employee];
    let new = format!("Compliance {}", after["location"].as_str().unwrap());
    assert_ne!(old, new);
    let groups = groups_of(&world, &learner_id).await;
    assert!(
        !groups.contains(&old),
        "still in {old}: {groups:?}\n{}",
        world.events_of(employee)
    );
    assert!(groups.contains(&new), "not in {new}: {groups:?}");
    assert!(groups.contains("Onboarding"), "onboarding is kept: {groups:?}");
    // The change trigger saw the previous record: the mover, and only them.
    let relocated = world.groups().await.remove("Relocation").unwrap_or_default();
    assert_eq!(relocated, BTreeSet::from([learner_id.clone()]));
    // The learner itself stays, active.
    assert_eq!(world.learners().await[employee]["active"], true);
    // An ordinary write: audited, and the enrolment record forgotten.
    let left = audited(&world, "learner.unenrol", employee);
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["subject"], format!("group {old}"));
    assert_eq!(left[0]["before"]["learner"], learner_id.as_str());
    let recorded = world.store().enrolments(employee).unwrap();
    assert!(
        !recorded.contains(&old) && recorded.contains(&new),
        "{recorded:?}"
    );

    world.assert_reconciles_clean().await;
}

/// A membership no `remove` trigger justifies, made behind the engine's back in
/// the LMS: a reconciliation reports it as a learner in the wrong groups, and the
/// fix takes the learner out of it (the learner and its other groups stay).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_membership_is_drift_and_the_fix_removes_it() {
    use hrsync::engine::operator::handle::EngineHandle;
    use hrsync::model::DriftCategory;
    let world = start(Options {
        contract: Some(contract()),
        employees: 60,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let hris = world.hris().await;
    let learners = world.learners().await;
    let groups = world.groups().await;
    // Someone active, and a location group they do not belong in.
    let (employee, record) = hris
        .iter()
        .find(|(id, e)| {
            in_scope_and_employed(e)
                && e["location"].as_str().is_some_and(|l| !l.is_empty())
                && learners.get(*id).is_some_and(|l| l["active"] == true)
        })
        .unwrap();
    let own = format!("Compliance {}", record["location"].as_str().unwrap());
    let other = groups
        .keys()
        .find(|g| g.starts_with("Compliance ") && **g != own)
        .expect("another location's group")
        .clone();
    let learner_id = learners[employee]["id"].as_str().unwrap().to_string();
    let c = world.sandbox.credentials();
    let group_id = {
        let found: Value = world
            .http
            .get(format!("{}/Groups", c.scim_url))
            .query(&[("filter", format!("displayName eq \"{other}\""))])
            .bearer_auth(&c.scim_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        found["Resources"][0]["id"].as_str().unwrap().to_string()
    };
    let added = world
        .http
        .patch(format!("{}/Groups/{group_id}", c.scim_url))
        .bearer_auth(&c.scim_token)
        .header("content-type", "application/scim+json")
        .body(
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{ "op": "add", "path": "members", "value": [{ "value": learner_id }] }],
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert!(added.status().is_success(), "{}", added.status());
    assert!(groups_of(&world, &learner_id).await.contains(&other));

    let run = match world.reconcile().await {
        hrsync::engine::reconcile::RunResult::Complete { run } => run,
        other => panic!("the run did not complete: {other:?}"),
    };
    let items = world
        .store()
        .drift_items_page(run.id, Some(DriftCategory::WrongGroups), 0, 100)
        .unwrap();
    assert_eq!(run.total(), 1, "{items:#?}");
    let item = &items[0];
    assert_eq!(
        (item.employee_id.as_str(), item.field.as_str()),
        (employee.as_str(), other.as_str())
    );
    assert_eq!(
        item.lms_value.as_deref(),
        Some(format!("member of {other}").as_str())
    );
    assert_eq!(item.hris_value.as_deref(), Some("not a member"));

    let handle = EngineHandle::in_process(world.engine(), None).with_operator("on-call");
    let fixed = handle.fix_drift(&[item.id]).unwrap();
    assert!(fixed[0].result.is_ok(), "{fixed:?}");
    world.engine().wake.notify_one();
    world.settle().await;
    let groups = groups_of(&world, &learner_id).await;
    assert!(
        !groups.contains(&other),
        "still in {other}: {groups:?}\n{}",
        world.events_of(employee)
    );
    assert!(
        groups.contains(&own) && groups.contains("Onboarding"),
        "{groups:?}"
    );
    assert_eq!(audited(&world, "learner.unenrol", employee).len(), 1);
    world.assert_reconciles_clean().await;
}
