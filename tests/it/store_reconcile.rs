//! The store's memory of decisions: a duplicate group decided "not a duplicate"
//! stays decided while its members stay the same and opens again when a new
//! record joins; an accepted drift item stays out of later runs only while its
//! values stay as accepted and until its expiry.

use std::time::Duration;

use hrsync::engine::intake::duplicates::record_suspected;
use hrsync::model::{DriftCategory, DuplicateBasis, DuplicateSide, GroupState};
use hrsync::store::{DriftItems, DuplicateMember, Duplicates, Finding, ReconcileRuns, Store, SuspectedGroup};
use serde_json::json;

fn member(id: &str) -> DuplicateMember {
    DuplicateMember {
        member_id: id.into(),
        employee_id: Some(id.into()),
        learner_id: None,
        first_seen: jiff::Timestamp::UNIX_EPOCH,
        fields: Default::default(),
    }
}

fn group(ids: &[&str]) -> SuspectedGroup {
    SuspectedGroup {
        side: DuplicateSide::Hris,
        basis: DuplicateBasis::Email,
        match_key: "ana@x.com".into(),
        members: ids.iter().map(|id| member(id)).collect(),
    }
}

#[test]
fn a_decision_holds_while_the_members_stay_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.db")).unwrap();
    let found = store
        .transaction(|tx| record_suspected(tx, &group(&["1", "2"])))
        .unwrap();
    assert_eq!(found.state, GroupState::Open);
    store
        .transaction(|tx| tx.decide_duplicate(found.id, GroupState::NotDuplicate, Some("two people"), "op"))
        .unwrap();
    let again = store
        .transaction(|tx| record_suspected(tx, &group(&["2", "1"])))
        .unwrap();
    assert_eq!((again.id, again.state), (found.id, GroupState::NotDuplicate));
    let joined = store
        .transaction(|tx| record_suspected(tx, &group(&["1", "2", "3"])))
        .unwrap();
    assert_eq!(joined.state, GroupState::Open, "a newcomer reopens the decision");
    assert_eq!(joined.members.len(), 3);
    assert_eq!(store.duplicate_counts().unwrap().open, 1);
}

fn finding(lms: &str) -> Finding {
    Finding {
        category: DriftCategory::FieldDrift,
        employee_id: "7".into(),
        learner_id: Some("L7".into()),
        field: "job_title".into(),
        hris_value: Some("Engineer".into()),
        lms_value: Some(lms.into()),
        detail: json!({}),
    }
}

fn run_with(store: &Store, findings: &[Finding]) -> hrsync::store::ReconcileRun {
    let id = store.begin_run("test", Duration::from_secs(60)).unwrap().unwrap();
    store
        .transaction(|tx| tx.finish_run(id, (1, 1, 0), findings))
        .unwrap()
}

#[test]
fn accepted_drift_is_left_out_until_its_values_change_or_it_expires() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.db")).unwrap();
    let first = run_with(&store, &[finding("Senior Engineer")]);
    assert_eq!(first.count(DriftCategory::FieldDrift), 1);
    let item = store.drift_items_page(first.id, None, 0, 10).unwrap().remove(0);
    store
        .transaction(|tx| tx.accept_drift(&item, "titles differ on purpose", None, "op"))
        .unwrap();
    let second = run_with(&store, &[finding("Senior Engineer")]);
    assert_eq!((second.count(DriftCategory::FieldDrift), second.accepted), (0, 1));
    let changed = run_with(&store, &[finding("Principal Engineer")]);
    assert_eq!(
        changed.count(DriftCategory::FieldDrift),
        1,
        "a changed value is reported again"
    );
    let expired = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1);
    let item = store.drift_items_page(changed.id, None, 0, 10).unwrap().remove(0);
    store
        .transaction(|tx| tx.accept_drift(&item, "for a day", Some(expired), "op"))
        .unwrap();
    let after_expiry = run_with(&store, &[finding("Principal Engineer")]);
    assert_eq!(
        after_expiry.count(DriftCategory::FieldDrift),
        1,
        "an expired acceptance no longer hides it"
    );
}

/// A person seen again as stored is not written again (a reconciliation sees
/// every employee); one whose keys changed is, and keeps when it was first seen.
#[test]
fn a_person_seen_again_unchanged_is_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.db")).unwrap();
    let ana = |email: &str| hrsync::model::IdentityKeys {
        employee_id: "E1".into(),
        email: email.into(),
        name: "ana okafor".into(),
        hire_date: "2021-03-01".into(),
        display: json!({ "firstName": "Ana", "workEmail": email })
            .as_object()
            .unwrap()
            .clone(),
    };
    let stored = || -> (String, i64, i64) {
        let conn = rusqlite::Connection::open(dir.path().join("s.db")).unwrap();
        conn.query_row(
            "SELECT email_key, first_seen, updated_at FROM people WHERE employee_id = 'E1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
    };
    let first = store
        .transaction(|tx| tx.upsert_person(&ana("ana@x.com")))
        .unwrap();
    let (_, first_seen, written) = stored();
    let again = store
        .transaction(|tx| tx.upsert_person(&ana("ana@x.com")))
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(
        stored(),
        ("ana@x.com".into(), first_seen, written),
        "not written again"
    );
    let moved = store
        .transaction(|tx| tx.upsert_person(&ana("ana@y.com")))
        .unwrap();
    assert_eq!(moved, first, "still first seen when first written");
    let (email, kept, updated) = stored();
    assert_eq!((email.as_str(), kept), ("ana@y.com", first_seen));
    assert!(updated >= written);
}
