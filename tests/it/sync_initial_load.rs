//! The first start on an empty store: every in-scope HRIS employee becomes a
//! learner equal to it field for field and group for group, nobody else does,
//! and starting again applies nothing twice.

use crate::common;

use std::collections::BTreeSet;

use common::{Options, assert_learner_matches, expected_groups, in_scope_and_employed, start, today};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_initial_load_makes_the_lms_equal_the_mapped_hris() {
    let world = start(Options {
        employees: 2500,
        ..Options::default()
    })
    .await;
    let load = world
        .engine()
        .initial_load
        .expect("an empty store runs the initial load");
    assert!(load.employees >= 2500, "{load:?}");
    assert_eq!(load.learners, 0);
    world.settle().await;

    let hris = world.hris().await;
    let learners = world.learners().await;
    let groups = world.groups().await;
    let today = today();
    let mut synced = 0;
    let mut twins_refused = 0;
    for (id, employee) in &hris {
        let learner = learners.get(id);
        if !in_scope_and_employed(employee) {
            assert!(
                learner.is_none(),
                "employee {id} is out of scope, terminated or not hired yet: {employee}"
            );
            continue;
        }
        if learner.is_none() && world.refused_as_email_twin(id, &learners) {
            twins_refused += 1;
            continue;
        }
        let learner = learner.unwrap_or_else(|| panic!("employee {id} has no learner: {employee}"));
        let manager = employee["supervisorEId"]
            .as_str()
            .and_then(|m| learners.get(m))
            .map(|m| m["id"].as_str().unwrap());
        assert_learner_matches(employee, learner, manager);
        let learner_id = learner["id"].as_str().unwrap();
        let member_of: BTreeSet<String> = groups
            .iter()
            .filter(|(_, members)| members.contains(learner_id))
            .map(|(name, _)| name.clone())
            .collect();
        assert_eq!(
            member_of,
            expected_groups(employee, today),
            "employee {id}'s groups"
        );
        synced += 1;
    }
    assert_eq!(learners.len(), synced, "no learner without an in-scope employee");
    assert!(synced > 2000, "most of the workforce is synced: {synced}");

    let counts = world.store().counts().unwrap();
    assert_eq!(counts.dead_letters + counts.rejected, 0, "{counts:?}");
    world.assert_only_duplicates_held();
    assert!(twins_refused > 0, "the planted duplicates are held: {counts:?}");
    assert!(
        counts.held as usize >= twins_refused,
        "the planted duplicates' newcomers are held: {counts:?}"
    );
    let audit = world.store().verify_audit().unwrap().unwrap();
    assert!(
        audit.entries as usize >= synced,
        "every create is audited: {audit:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_on_the_same_store_does_not_load_again() {
    let mut world = start(Options::default()).await;
    world.settle().await;
    let learners = world.learners().await.len();
    let applied = world.store().counts().unwrap().applied;
    world.stop().await;

    let contract = hrsync::contract::parse(common::CONTRACT).unwrap();
    let engine = hrsync::engine::start(&world.config, contract).await.unwrap();
    assert!(engine.initial_load.is_none());
    assert_eq!(engine.store.counts().unwrap().applied, applied);
    engine.shutdown().await;
    assert_eq!(world.learners().await.len(), learners);
}

/// A create is audited by what it set: `before` is null (nothing was there, where
/// an object of nulls once took ~250 B an entry), `after` the learner's fields, as
/// the journal's write says too; the Audit pane's line (the reason) still names the
/// event, and the chain verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_is_audited_by_the_fields_it_set() {
    let world = start(Options {
        employees: 30,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let store = world.store();
    let filter = hrsync::store::AuditFilter {
        action: Some("learner.create".into()),
        ..Default::default()
    };
    let created = store.audit_page(&filter, None, 1_000).unwrap();
    assert!(created.len() >= 20, "{}", created.len());
    for entry in &created {
        assert_eq!(entry.before, serde_json::Value::Null, "{entry:?}");
        let after = entry.after.as_object().expect("the fields set");
        assert!(after.values().any(|v| !v.is_null()), "{entry:?}");
        let reason = entry.reason.as_deref().unwrap_or_default();
        let event: i64 = reason
            .strip_prefix("event ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("the reason names the event: {reason}"));
        let detail = store.event(hrsync::model::EventId(event)).unwrap().unwrap();
        assert_eq!(detail.writes.len(), 1, "{detail:?}");
        assert_eq!(detail.writes[0].write.before, serde_json::Value::Null);
        assert_eq!(detail.writes[0].write.after, entry.after);
    }
    assert!(store.verify_audit().unwrap().is_ok());
}
