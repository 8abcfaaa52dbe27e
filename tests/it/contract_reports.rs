//! "Became a manager": a trigger whose condition reads `reports` (how many
//! employees name this one as their supervisor) enrols into Leadership exactly
//! when a report is assigned, in the sandbox's HRIS, and with `on_exit =
//! "remove"` takes the learner out when the last report moves away; a
//! reconciliation after each finds nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use hrsync::engine::operator::handle::EngineHandle;

use crate::common;
use common::{Options, World, in_scope_and_employed, start};

/// The shipped contract with Leadership given by `reports` alone (not by title).
fn contract() -> &'static str {
    let text = common::CONTRACT.replacen(
        "when = \"field_matches\"\nfield = \"job_title\"\n\
         pattern = '(?i)\\b(manager|director|head|chief|vp|lead|supervisor|counsel)\\b'\n\
         group = \"Leadership\"",
        "condition = \"reports > 0\"\ngroup = \"Leadership\"\non_exit = \"remove\"",
        1,
    );
    assert_ne!(text, common::CONTRACT);
    Box::leak(text.into_boxed_str())
}

/// Employee id → how many employees still employed name them as supervisor.
fn reports(hris: &BTreeMap<String, Value>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for (id, e) in hris {
        let supervisor = e["supervisorEId"].as_str().unwrap_or("");
        if !supervisor.is_empty() && supervisor != id && e["employmentStatus"] != "Terminated" {
            *counts.entry(supervisor.to_string()).or_default() += 1;
        }
    }
    counts
}

/// The learner ids Leadership should hold: the active learners of employees with a report.
async fn leaders_wanted(world: &World) -> BTreeSet<String> {
    let hris = world.hris().await;
    let learners = world.learners().await;
    reports(&hris)
        .keys()
        .filter(|id| hris.get(*id).is_some_and(in_scope_and_employed))
        .filter_map(|id| learners.get(id))
        .filter(|l| l["active"] == true)
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect()
}

async fn leaders(world: &World) -> BTreeSet<String> {
    world.groups().await.remove("Leadership").unwrap_or_default()
}

async fn reassign(world: &World, employee: &str, supervisor: &str) {
    world
        .admin(
            "reassign",
            json!({ "employee_id": employee, "supervisor_id": supervisor }),
        )
        .await;
    world.webhooks_delivered().await;
    world.settle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_report_enrols_into_leadership_and_the_last_one_leaving_takes_them_out() {
    let world = start(Options {
        contract: Some(contract()),
        employees: 60,
        ..Options::default()
    })
    .await;
    world.settle().await;
    assert_eq!(
        leaders(&world).await,
        leaders_wanted(&world).await,
        "after the load"
    );

    let hris = world.hris().await;
    let learners = world.learners().await;
    let counts = reports(&hris);
    let active_learner = |id: &str| {
        hris.get(id).is_some_and(in_scope_and_employed)
            && learners.get(id).is_some_and(|l| l["active"] == true)
    };
    // The new manager: synced, active, and nobody's supervisor yet.
    let manager = hris
        .keys()
        .find(|id| active_learner(id) && !counts.contains_key(*id))
        .expect("an employee without reports")
        .clone();
    let manager_learner = learners[&manager]["id"].as_str().unwrap().to_string();
    // The report: still employed, supervised by someone else.
    let (report, old_supervisor) = hris
        .iter()
        .filter(|(id, e)| {
            **id != manager
                && e["employmentStatus"] != "Terminated"
                && e["supervisorEId"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty() && s != manager)
        })
        .map(|(id, e)| (id.clone(), e["supervisorEId"].as_str().unwrap().to_string()))
        .next()
        .expect("an employee with a supervisor");
    let before = leaders(&world).await;
    assert!(!before.contains(&manager_learner), "no reports yet: {before:?}");

    reassign(&world, &report, &manager).await;
    let after = leaders(&world).await;
    assert!(
        after.contains(&manager_learner),
        "not enrolled: {after:?}\n{}",
        world.events_of(&manager)
    );
    // Decided again through the journal, as an ordinary change of the manager.
    let events = world.events_of(&manager);
    assert!(events.contains("reconcile reports changed unchanged"), "{events}");
    // `trace` shows the count the sync read, and the group it gives.
    let handle = EngineHandle::in_process(world.engine(), None);
    let traced = tokio::task::block_in_place(|| handle.trace(&manager)).unwrap();
    assert_eq!(traced.reports, Some(1), "{traced:#?}");
    assert!(traced.enrol.contains(&"Leadership".to_string()), "{traced:#?}");
    // Nobody else joined; the old supervisor left only if that was their last report.
    let joined: Vec<_> = after.difference(&before).collect();
    assert_eq!(joined, [&manager_learner]);
    assert_eq!(after, leaders_wanted(&world).await);
    world.assert_reconciles_clean().await;

    // The report goes back: the manager has none left, and leaves (on_exit = "remove").
    reassign(&world, &report, &old_supervisor).await;
    let back = leaders(&world).await;
    assert!(
        !back.contains(&manager_learner),
        "still a leader: {back:?}\n{}",
        world.events_of(&manager)
    );
    assert_eq!(back, before);
    // An ordinary write: audited, and the learner stays active.
    let filter = hrsync::store::AuditFilter {
        action: Some("learner.unenrol".into()),
        ..Default::default()
    };
    let left: Vec<String> = (world.store().audit_page(&filter, None, 100).unwrap().into_iter())
        .filter(|entry| entry.employee_id.as_deref() == Some(manager.as_str()))
        .map(|entry| entry.subject)
        .collect();
    assert_eq!(left, ["group Leadership"]);
    assert_eq!(world.learners().await[&manager]["active"], true);
    world.assert_reconciles_clean().await;
}

/// The counts are kept under any contract that names a manager field: one that
/// starts reading `reports` while the engine runs finds them there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_applied_later_finds_the_counts_kept() {
    let world = start(Options {
        employees: 40,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let hris = world.hris().await;
    let learners = world.learners().await;
    let counts = reports(&hris);
    let before = leaders(&world).await;
    let (manager, manager_learner) = hris
        .iter()
        .filter(|(id, e)| in_scope_and_employed(e) && !counts.contains_key(*id))
        .filter_map(|(id, _)| Some((id.clone(), learners.get(id)?["id"].as_str()?.to_string())))
        .find(|(_, learner)| !before.contains(learner))
        .expect("an employee without reports, not in Leadership");
    let (report, _) = hris
        .iter()
        .find(|(id, e)| **id != manager && e["employmentStatus"] != "Terminated")
        .unwrap();
    let applied = hrsync::contract::parse(contract()).unwrap();
    *world.engine().contract.write() = std::sync::Arc::new(applied);

    reassign(&world, report, &manager).await;
    let after = leaders(&world).await;
    assert!(
        after.contains(&manager_learner),
        "not enrolled: {after:?}\n{}",
        world.events_of(&manager)
    );
}
