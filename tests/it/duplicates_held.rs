//! Suspected duplicates end to end: the sandbox's planted pairs (one mailbox
//! typed twice; one name and hire date under two ids) are found on ingest, the
//! newcomer is held from sync while the first seen syncs, and nothing merges.
//! "Not a duplicate" is remembered and releases the held record; "flag" keeps it
//! held and reaches the HRIS admin's queue; a learner-side pair found by a
//! reconciliation run is linked by hand. Every decision is audited.

use crate::common;

use common::{Options, start};
use hrsync::engine::operator::handle::EngineHandle;
use hrsync::engine::reconcile::{Reconciler, RunResult};
use hrsync::model::{DuplicateBasis, DuplicateSide, EventStatus, GroupState};
use hrsync::sandbox::world::DuplicateKind;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_duplicates_are_held_until_an_operator_decides() {
    let world = start(Options::default()).await;
    world.settle().await;
    let handle = EngineHandle::in_process(world.engine(), None).with_operator("on-call");
    let planted = world.sandbox.shared().planted_duplicates.clone();
    let by_name = planted
        .iter()
        .find(|d| d.kind == DuplicateKind::SameNameAndHireDate)
        .expect("a same-name pair is planted");
    let by_email = planted
        .iter()
        .find(|d| d.kind == DuplicateKind::SameEmail)
        .expect("a same-email pair is planted");

    let groups = handle.duplicate_groups(&[GroupState::Open], 0, 100).unwrap();
    let group_of = |d: &hrsync::sandbox::world::PlantedDuplicate, basis| {
        groups
            .iter()
            .find(|g| {
                g.side == DuplicateSide::Hris
                    && g.basis == basis
                    && g.members.iter().any(|m| m.member_id == d.duplicate_id)
                    && g.members.iter().any(|m| m.member_id == d.original_id)
            })
            .unwrap_or_else(|| panic!("{d:?} is a suspected group: {groups:?}"))
            .clone()
    };
    let name_group = group_of(by_name, DuplicateBasis::NameAndHireDate);
    let email_group = group_of(by_email, DuplicateBasis::Email);

    // The first seen syncs, the newcomer is held; nothing merged.
    let learners = world.learners().await;
    for group in [&name_group, &email_group] {
        let first = &group.members[0].member_id;
        let newcomer = &group.members[1].member_id;
        assert!(
            learners.contains_key(first),
            "the first seen {first} has a learner"
        );
        assert!(
            !learners.contains_key(newcomer),
            "the newcomer {newcomer} is held, no learner"
        );
        let held = world
            .store()
            .events_page(
                &hrsync::store::EventFilter {
                    employee_id: Some(newcomer.clone()),
                    status: Some(EventStatus::Held),
                    ..Default::default()
                },
                None,
                10,
            )
            .unwrap();
        assert!(
            !held.is_empty() && world.held_as_duplicate(held[0].id),
            "{}",
            world.events_of(newcomer)
        );
    }

    // Flag the email pair to the HRIS admin: it stays held and is in the queue.
    assert!(
        handle.flag_duplicate(email_group.id, " ").is_err(),
        "a flag needs a note"
    );
    let flagged = handle
        .flag_duplicate(email_group.id, "one person, two ids: please merge in the HRIS")
        .unwrap();
    assert_eq!(flagged.state, GroupState::Flagged);
    let flags = handle.flags(0, 10).unwrap();
    assert!(flags.iter().any(|f| f.kind == "duplicate"), "{flags:?}");

    // Not a duplicate: remembered, and the held newcomer syncs.
    let decided = handle
        .not_duplicate(name_group.id, "two people who share a name and a start date")
        .unwrap();
    assert_eq!(decided.state, GroupState::NotDuplicate);
    world.settle().await;
    let learners = world.learners().await;
    let newcomer = &name_group.members[1].member_id;
    assert!(
        learners.contains_key(newcomer),
        "released, the newcomer {newcomer} has a learner: {}",
        world.events_of(newcomer)
    );
    assert!(
        !learners.contains_key(&email_group.members[1].member_id),
        "the flagged newcomer stays held"
    );
    // Remembered: a later change of the released employee is not held again.
    world
        .churn(json!([{"kind": "transfer", "employee_id": newcomer}]))
        .await;
    world.webhooks_delivered().await;
    world.settle().await;
    assert_eq!(world.store().counts().unwrap().held as usize, {
        let open = handle
            .duplicate_groups(&[GroupState::Open, GroupState::Flagged], 0, 100)
            .unwrap();
        world
            .store()
            .events_page(
                &hrsync::store::EventFilter {
                    status: Some(EventStatus::Held),
                    ..Default::default()
                },
                None,
                100,
            )
            .unwrap()
            .iter()
            .filter(|e| {
                open.iter()
                    .any(|g| g.members.iter().any(|m| m.member_id == e.employee_id))
            })
            .count()
    });

    // A learner-side pair: a second learner made by hand with an existing learner's email.
    let (owner, original) = learners
        .iter()
        .find(|(_, l)| l["active"] == true)
        .map(|(id, l)| (id.clone(), l.clone()))
        .unwrap();
    let email = original["emails"][0]["value"].as_str().unwrap().to_string();
    let c = world.sandbox.credentials();
    let made: Value = world
        .http
        .post(format!("{}/Users", c.scim_url))
        .bearer_auth(&c.scim_token)
        .header("content-type", "application/scim+json")
        .body(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": format!("second.{email}"), "active": true,
                "emails": [{"value": email.to_uppercase(), "type": "work"}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second = made["id"].as_str().unwrap().to_string();
    let cfg = &world.config;
    let reconciler = Reconciler {
        store: world.store().clone(),
        contract: world.engine().contract.clone(),
        connections: hrsync::engine::connect::Connections {
            completions: None,
            ..hrsync::engine::connect::connect(cfg, world.store())
                .await
                .unwrap()
        },
        notifier: hrsync::connectors::Notifier::new(None),
        progress: Default::default(),
    };
    assert!(matches!(
        reconciler.run("test").await.unwrap(),
        RunResult::Complete { .. }
    ));
    let lms_group = handle
        .duplicate_groups(&[GroupState::Open], 0, 100)
        .unwrap()
        .into_iter()
        .find(|g| g.side == DuplicateSide::Lms && g.members.iter().any(|m| m.member_id == second))
        .expect("the learner-side pair is found by the run");
    assert!(
        handle.link_learner(name_group.id, &second, &owner).is_err(),
        "link is for learner-side groups"
    );
    let linked = handle.link_learner(lms_group.id, &second, &owner).unwrap();
    assert_eq!(linked.state, GroupState::Linked);
    world.settle().await;
    let get = |id: String| {
        let http = world.http.clone();
        let url = format!("{}/Users/{id}", c.scim_url);
        let token = c.scim_token.clone();
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        get(second.clone()).await["externalId"],
        json!(owner),
        "the chosen learner is linked"
    );
    let old = get(original["id"].as_str().unwrap().to_string()).await;
    assert!(
        old["externalId"].is_null(),
        "the other learner lost the link: {old}"
    );
    assert_eq!(
        old["active"],
        json!(true),
        "and is kept, not merged or deactivated"
    );

    let actions: Vec<String> = world
        .store()
        .audit_window(&Default::default(), None, hrsync::store::Toward::Older, 500)
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for wanted in [
        "duplicate.flag",
        "duplicate.not_duplicate",
        "duplicate.link",
        "learner.link",
    ] {
        assert!(
            actions.iter().any(|a| a == wanted),
            "{wanted} is audited: {actions:?}"
        );
    }
}
