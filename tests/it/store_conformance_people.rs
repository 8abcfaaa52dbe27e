//! The store's conformance suite for the people directory and suspected
//! duplicate groups, enrolments and manager waits, and the credentials ledger:
//! each check runs on SQLite and on PostgreSQL (`conformance!`), usually with
//! one engine writing and another reading.

use std::sync::{Arc, Barrier};

use hrsync::model::{Direction, DuplicateBasis, DuplicateSide, EventId, GroupState, HoldKind, IdentityKeys};
use hrsync::store::{
    CredentialLedger, CredentialTotals, DuplicateCounts, DuplicateMember, Duplicates, Enrolments, Journal,
    NewCredential, SuspectedGroup,
};
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::common::backends::{Backend, appended, change_with, conformance};

conformance!(
    a_person_keeps_when_first_seen_through_changes,
    people_sharing_a_key_are_found_by_either_basis,
    a_group_is_stored_seen_decided_and_reopened_across_engines,
    two_engines_finding_one_new_group_at_once_store_it_once,
    groups_page_open_first_by_state_and_by_text,
    only_a_duplicate_hold_is_a_held_duplicate,
    enrolments_are_recorded_once_listed_and_forgotten,
    a_managers_waits_are_handed_to_one_engine_once,
    credentials_keep_the_newest_award_banded_by_expiry,
    credentials_expiring_page_by_expiry_with_the_department,
);

fn at(micros: i64) -> Timestamp {
    Timestamp::from_microsecond(micros).unwrap()
}

fn fields(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn person(id: &str, email: &str, name: &str, hire_date: &str) -> IdentityKeys {
    IdentityKeys {
        employee_id: id.into(),
        email: email.into(),
        name: name.into(),
        hire_date: hire_date.into(),
        display: fields(json!({ "id": id, "workEmail": email })),
    }
}

fn member(id: &str, first_seen: i64, display: Value) -> DuplicateMember {
    DuplicateMember {
        member_id: id.into(),
        employee_id: Some(id.into()),
        learner_id: None,
        first_seen: at(first_seen),
        fields: fields(display),
    }
}

fn group(key: &str, members: Vec<DuplicateMember>) -> SuspectedGroup {
    SuspectedGroup {
        side: DuplicateSide::Hris,
        basis: DuplicateBasis::Email,
        match_key: key.into(),
        members,
    }
}

/// Stores a found group with its members, as detection does; returns its id.
fn stored(store: &impl Duplicates, found: &SuspectedGroup) -> i64 {
    let id = store.insert_duplicate_group(found).unwrap();
    store.upsert_duplicate_members(id, &found.members).unwrap();
    id
}

/// First seen once, kept through later sightings, changed or not; another
/// engine reads the same person.
fn a_person_keeps_when_first_seen_through_changes(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let ana = person("E1", "ana@x.com", "ana okafor", "2021-03-01");
    let first = a.upsert_person(&ana).unwrap();
    assert!(
        first > Timestamp::now() - std::time::Duration::from_secs(60),
        "{first}"
    );
    assert_eq!(b.person_first_seen("E1").unwrap(), Some(first));
    assert_eq!(b.person_first_seen("E2").unwrap(), None);

    assert_eq!(b.upsert_person(&ana).unwrap(), first, "unchanged: as first seen");
    let moved = person("E1", "ana@y.com", "ana okafor", "2021-03-01");
    assert_eq!(
        b.upsert_person(&moved).unwrap(),
        first,
        "changed: still as first seen"
    );

    let newcomer = person("E2", "ana@y.com", "", "");
    let sharers = a.people_sharing(&newcomer).unwrap();
    assert_eq!(sharers.len(), 1, "{sharers:?}");
    assert_eq!(sharers[0].basis, DuplicateBasis::Email);
    assert_eq!(sharers[0].member.member_id, "E1");
    assert_eq!(sharers[0].member.first_seen, first);
    assert_eq!(
        sharers[0].member.fields["workEmail"], "ana@y.com",
        "the new display"
    );
    assert!(
        a.people_sharing(&person("E3", "ana@x.com", "", ""))
            .unwrap()
            .is_empty(),
        "the old email is no longer E1's"
    );
}

/// Both bases, first seen first, never the one asked about, and empty keys
/// shared by nobody.
fn people_sharing_a_key_are_found_by_either_basis(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    for keys in [
        person("E1", "ana@x.com", "", ""),
        person("E2", "ana@x.com", "ana okafor", "2021-03-01"),
        person("E3", "", "ana okafor", "2021-03-01"),
        person("E4", "", "", ""),
    ] {
        a.upsert_person(&keys).unwrap();
    }
    let asked = person("E2", "ana@x.com", "ana okafor", "2021-03-01");
    let found: Vec<(DuplicateBasis, String)> = b
        .people_sharing(&asked)
        .unwrap()
        .into_iter()
        .map(|s| (s.basis, s.member.member_id))
        .collect();
    assert_eq!(
        found,
        [
            (DuplicateBasis::Email, "E1".to_string()),
            (DuplicateBasis::NameAndHireDate, "E3".to_string())
        ]
    );
    let nobody = b.people_sharing(&person("E5", "", "", "")).unwrap();
    assert!(nobody.is_empty(), "empty keys match nothing: {nobody:?}");
}

/// One engine finds a group, the other reads it by key and id with its members
/// (first seen first), an operator decides, and a changed membership opens it again.
fn a_group_is_stored_seen_decided_and_reopened_across_engines(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let found = group(
        "ana@x.com",
        vec![
            member("E2", 2_000, json!({ "name": "Ana Okafor-Lee" })),
            member("E1", 1_000, json!({ "name": "Ana Okafor" })),
        ],
    );
    let id = stored(&a, &found);
    let read = b
        .duplicate_group_by_key(DuplicateSide::Hris, DuplicateBasis::Email, "ana@x.com")
        .unwrap()
        .expect("stored");
    assert_eq!(read.id, id);
    assert_eq!(
        (read.state, read.members_key.as_str()),
        (GroupState::Open, "E1,E2")
    );
    assert_eq!((read.decided_at, read.decided_by.as_deref()), (None, None));
    let members: Vec<&str> = read.members.iter().map(|m| m.member_id.as_str()).collect();
    assert_eq!(members, ["E1", "E2"], "first seen first");
    assert_eq!(read.members[1].fields["name"], "Ana Okafor-Lee");
    assert_eq!(b.duplicate_group(id).unwrap().as_ref(), Some(&read));
    assert_eq!(b.duplicate_group(id + 1).unwrap(), None);
    assert_eq!(
        b.duplicate_group_by_key(DuplicateSide::Lms, DuplicateBasis::Email, "ana@x.com")
            .unwrap(),
        None,
        "the other side's key is another group"
    );

    b.duplicate_group_seen(id).unwrap();
    let seen = a.duplicate_group(id).unwrap().unwrap();
    assert!(seen.seen_at >= read.seen_at && seen.found_at == read.found_at);

    b.decide_duplicate(id, GroupState::NotDuplicate, Some("two people"), "op")
        .unwrap();
    let decided = a.duplicate_group(id).unwrap().unwrap();
    assert_eq!(decided.state, GroupState::NotDuplicate);
    assert_eq!(
        (decided.note.as_deref(), decided.decided_by.as_deref()),
        (Some("two people"), Some("op"))
    );
    assert!(decided.decided_at.is_some());

    // A member seen again keeps its first sighting; its fields are the newest.
    let again = vec![member("E1", 9_000, json!({ "name": "Ana O." }))];
    a.upsert_duplicate_members(id, &again).unwrap();
    let kept = b.duplicate_group(id).unwrap().unwrap();
    assert_eq!(kept.members[0].first_seen, at(1_000));
    assert_eq!(kept.members[0].fields["name"], "Ana O.");

    a.reopen_duplicate_group(id, "E1,E2,E3").unwrap();
    let reopened = b.duplicate_group(id).unwrap().unwrap();
    assert_eq!(
        (reopened.state, reopened.members_key.as_str()),
        (GroupState::Open, "E1,E2,E3")
    );
    assert_eq!(
        (reopened.decided_at, reopened.decided_by, reopened.note),
        (None, None, None),
        "the decision is dropped"
    );
    assert!(reopened.members.is_empty(), "and the members with it");
}

/// Two engines find one new group at once and both store it: the one that comes
/// second (waiting on the unique key for the first one's commit, on PostgreSQL)
/// gets the group the first stored instead of an error, and there is one group.
fn two_engines_finding_one_new_group_at_once_store_it_once(backend: &impl Backend) {
    let found = group(
        "bo@x.com",
        vec![member("E1", 1_000, json!({})), member("E2", 2_000, json!({}))],
    );
    for round in 0..5 {
        let found = SuspectedGroup {
            match_key: format!("{round}.{}", found.match_key),
            ..found.clone()
        };
        let start = Arc::new(Barrier::new(2));
        let finders: Vec<_> = [backend.open(), backend.open()]
            .into_iter()
            .map(|store| {
                let (start, found) = (start.clone(), found.clone());
                std::thread::spawn(move || {
                    start.wait();
                    stored(&store, &found)
                })
            })
            .collect();
        let ids: Vec<i64> = finders.into_iter().map(|f| f.join().unwrap()).collect();
        assert_eq!(ids[0], ids[1], "round {round}: one group for both engines");
        let read = backend.open().duplicate_group(ids[0]).unwrap().expect("stored");
        assert_eq!(
            (read.state, read.members_key.as_str()),
            (GroupState::Open, "E1,E2")
        );
    }
    // Found again later by either, it is the same group still.
    let (a, b) = (backend.open(), backend.open());
    let again = SuspectedGroup {
        match_key: format!("0.{}", found.match_key),
        ..found.clone()
    };
    assert_eq!(stored(&a, &again), stored(&b, &again));
    assert_eq!(a.duplicate_counts().unwrap().open, 5);
}

/// The Duplicates pane's pages: open groups first, then flagged, then the
/// decided, newest first in each; by state; by text in the key, a member's id
/// or fields, letters in either case and `%` as itself.
fn groups_page_open_first_by_state_and_by_text(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let mut ids = Vec::new();
    for (n, (key, state)) in [
        ("one@x.com", GroupState::NotDuplicate),
        ("two@x.com", GroupState::Open),
        ("three@x.com", GroupState::Flagged),
        ("four@x.com", GroupState::Open),
        ("five%@x.com", GroupState::Linked),
    ]
    .into_iter()
    .enumerate()
    {
        let e = format!("E{n}");
        let display = json!({ "department": if n == 2 { "Finance" } else { "IT" } });
        let id = stored(
            &a,
            &group(
                key,
                vec![member(&e, 1_000, display.clone()), member("X9", 500, display)],
            ),
        );
        if state != GroupState::Open {
            a.decide_duplicate(id, state, None, "op").unwrap();
        }
        ids.push(id);
    }
    let page = |states: &[GroupState], text: Option<&str>, offset, limit| -> Vec<i64> {
        b.duplicate_groups_matching(states, text, offset, limit)
            .unwrap()
            .iter()
            .map(|g| g.id)
            .collect()
    };
    assert_eq!(page(&[], None, 0, 10), [ids[3], ids[1], ids[2], ids[4], ids[0]]);
    assert_eq!(page(&[], None, 1, 2), [ids[1], ids[2]], "offset and limit");
    assert_eq!(b.duplicate_groups(&[GroupState::Open], 0, 10).unwrap().len(), 2);
    assert_eq!(
        page(&[GroupState::Flagged, GroupState::Linked], None, 0, 10),
        [ids[2], ids[4]]
    );
    assert_eq!(page(&[], Some("TWO@"), 0, 10), [ids[1]], "the key, in any case");
    assert_eq!(page(&[], Some("e3"), 0, 10), [ids[3]], "a member's id");
    assert_eq!(page(&[], Some("finance"), 0, 10), [ids[2]], "a member's fields");
    assert_eq!(page(&[], Some("%"), 0, 10), [ids[4]], "% is itself");
    assert_eq!(page(&[GroupState::Open], Some("x9"), 0, 10), [ids[3], ids[1]]);
    assert!(page(&[], Some("nobody"), 0, 10).is_empty());

    assert_eq!(b.duplicate_groups_count(&[], None).unwrap(), 5);
    assert_eq!(
        b.duplicate_groups_count(&[GroupState::Open], Some("X9")).unwrap(),
        2
    );
    assert_eq!(
        b.duplicate_groups_count(&[], Some("_")).unwrap(),
        0,
        "_ is itself"
    );
    assert_eq!(
        b.duplicate_counts().unwrap(),
        DuplicateCounts {
            open: 2,
            flagged: 1,
            decided: 2
        }
    );
}

/// Events held by a duplicate hold, not by another hold nor pending, of the
/// employees asked about, in their order.
fn only_a_duplicate_hold_is_a_held_duplicate(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let ids = appended(
        &a,
        &[
            change_with("k1", Direction::HrisToLms, "E1", json!({})),
            change_with("k2", Direction::HrisToLms, "E2", json!({})),
            change_with("k3", Direction::HrisToLms, "E3", json!({})),
            change_with("k4", Direction::HrisToLms, "E4", json!({})),
        ],
    );
    let duplicate = format!(
        "{} of employee E9 (same email)",
        HoldKind::SuspectedDuplicate.note_prefix()
    );
    let threshold = format!("{}: 40% of learners", HoldKind::SafetyThreshold.note_prefix());
    a.journal(|tx| {
        tx.mark_held(ids[0], &duplicate)?;
        tx.mark_held(ids[1], &threshold)?;
        tx.mark_held(ids[3], &duplicate)
    })
    .unwrap();
    let employees: Vec<String> = ["E4", "E1", "E2", "E3"].map(String::from).into();
    assert_eq!(b.duplicate_held_events(&employees).unwrap(), [ids[3], ids[0]]);
    assert!(b.duplicate_held_events(&[]).unwrap().is_empty());
}

/// An enrolment recorded twice is one; the list is by name, per employee; a
/// forgotten one is gone for every engine.
fn enrolments_are_recorded_once_listed_and_forgotten(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    let paths: Vec<String> = ["Safety", "Onboarding"].map(String::from).into();
    a.record_enrolments("E1", &paths).unwrap();
    b.record_enrolments("E1", &["Safety".to_string(), "Leadership".to_string()])
        .unwrap();
    a.record_enrolments("E2", &["Safety".to_string()]).unwrap();
    a.record_enrolments("E3", &[]).unwrap();
    assert_eq!(
        b.enrolments("E1").unwrap(),
        ["Leadership", "Onboarding", "Safety"]
    );
    assert_eq!(b.enrolments("E3").unwrap(), Vec::<String>::new());

    b.forget_enrolment("E1", "Safety").unwrap();
    b.forget_enrolment("E1", "Never").unwrap();
    assert_eq!(a.enrolments("E1").unwrap(), ["Leadership", "Onboarding"]);
    assert_eq!(
        a.enrolments("E2").unwrap(),
        ["Safety"],
        "another employee's stays"
    );
}

/// Waits kept per employee (the newest change, or none), handed back by
/// employee id, and to one engine only when two take them at once.
fn a_managers_waits_are_handed_to_one_engine_once(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    a.set_manager_wait("E3", Some("M1"), EventId(30)).unwrap();
    a.set_manager_wait("E2", Some("M1"), EventId(20)).unwrap();
    b.set_manager_wait("E2", Some("M1"), EventId(21)).unwrap();
    a.set_manager_wait("E4", Some("M1"), EventId(40)).unwrap();
    b.set_manager_wait("E4", None, EventId(41)).unwrap();
    a.set_manager_wait("E5", Some("M2"), EventId(50)).unwrap();
    assert_eq!(
        b.take_manager_waits("M1").unwrap(),
        [("E2".to_string(), EventId(21)), ("E3".to_string(), EventId(30))]
    );
    assert!(a.take_manager_waits("M1").unwrap().is_empty(), "taken: forgotten");

    for n in 0..20 {
        a.set_manager_wait(&format!("F{n:02}"), Some("M3"), EventId(n))
            .unwrap();
    }
    let start = Arc::new(Barrier::new(2));
    let takers: Vec<_> = [a, b]
        .into_iter()
        .map(|store| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                store.take_manager_waits("M3").unwrap()
            })
        })
        .collect();
    let taken: Vec<Vec<(String, EventId)>> = takers.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(
        taken.iter().any(Vec::is_empty) && taken.iter().map(Vec::len).sum::<usize>() == 20,
        "one engine takes all 20, the other none: {taken:?}"
    );
    let other = backend.open();
    assert_eq!(
        other.take_manager_waits("M2").unwrap(),
        [("E5".to_string(), EventId(50))]
    );
}

fn award<'a>(employee: &'a str, name: &'a str, expires: &'a str, event: i64) -> NewCredential<'a> {
    NewCredential {
        employee_id: employee,
        name,
        number: Some("N-1"),
        issued: "2025-01-01",
        expires,
        event_id: EventId(event),
    }
}

/// A newer award replaces the kept one and is not in the HRIS until its event
/// is; the bands count by expiry and what the HRIS lacks.
fn credentials_keep_the_newest_award_banded_by_expiry(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    a.record_credential(&award("E1", "First aid", "2026-01-10", 1))
        .unwrap();
    assert_eq!(
        b.credential_expires("E1", "First aid").unwrap().as_deref(),
        Some("2026-01-10")
    );
    assert_eq!(b.credential_expires("E1", "Forklift").unwrap(), None);
    b.credential_in_hris(EventId(1)).unwrap();
    a.record_credential(&award("E1", "First aid", "2027-01-10", 2))
        .unwrap();
    b.credential_in_hris(EventId(1)).unwrap();
    let kept = a.credentials_expiring("2099-12-31", None, 10).unwrap();
    assert_eq!(kept.len(), 1, "one award kept per credential: {kept:?}");
    assert_eq!(
        (kept[0].expires.as_str(), kept[0].event_id, kept[0].in_hris),
        ("2027-01-10", EventId(2), false),
        "the newest, not in the HRIS: its own event is not applied yet"
    );
    b.credential_in_hris(EventId(2)).unwrap();
    assert!(a.credentials_expiring("2099-12-31", None, 10).unwrap()[0].in_hris);

    for (n, (employee, expires)) in [
        ("E2", "2025-12-31"),
        ("E3", "2026-01-01"),
        ("E4", "2026-01-31"),
        ("E5", "2026-02-15"),
        ("E6", "2026-03-31"),
        ("E7", "2026-04-01"),
    ]
    .into_iter()
    .enumerate()
    {
        a.record_credential(&award(employee, "Forklift", expires, 10 + n as i64))
            .unwrap();
    }
    b.credential_in_hris(EventId(10)).unwrap();
    assert_eq!(
        b.credential_totals("2026-01-01", "2026-01-31", "2026-03-02", "2026-03-31")
            .unwrap(),
        CredentialTotals {
            expired: 1,
            within_30: 2,
            within_60: 1,
            within_90: 1,
            missing_in_hris: 4,
        }
    );
}

/// Soonest first, paged after the last row's (expiry, employee), each with the
/// department of the employee's newest HRIS change that has one.
fn credentials_expiring_page_by_expiry_with_the_department(backend: &impl Backend) {
    let (a, b) = (backend.open(), backend.open());
    appended(
        &a,
        &[
            change_with(
                "k1",
                Direction::HrisToLms,
                "E1",
                json!({ "fields": { "department": "Finance" } }),
            ),
            change_with(
                "k2",
                Direction::HrisToLms,
                "E1",
                json!({ "fields": { "department": "IT" } }),
            ),
            change_with(
                "k3",
                Direction::HrisToLms,
                "E1",
                json!({ "fields": { "title": "Lead" } }),
            ),
            change_with("k4", Direction::HrisToLms, "E2", json!({ "fields": {} })),
        ],
    );
    for (employee, name, expires) in [
        ("E2", "Forklift", "2026-05-01"),
        ("E1", "Forklift", "2026-05-01"),
        ("E1", "First aid", "2026-05-01"),
        ("E3", "Forklift", "2026-04-01"),
        ("E4", "Forklift", "2026-09-01"),
    ] {
        a.record_credential(&award(employee, name, expires, 1)).unwrap();
    }
    let rows = |after, limit| -> Vec<(String, String, Option<String>)> {
        b.credentials_expiring("2026-06-30", after, limit)
            .unwrap()
            .into_iter()
            .map(|c| (c.employee_id, c.name, c.department))
            .collect()
    };
    let row = |e: &str, n: &str, d: Option<&str>| (e.to_string(), n.to_string(), d.map(String::from));
    assert_eq!(
        rows(None, 10),
        [
            row("E3", "Forklift", None),
            row("E1", "First aid", Some("IT")),
            row("E1", "Forklift", Some("IT")),
            row("E2", "Forklift", None),
        ]
    );
    assert_eq!(
        rows(None, 2),
        [row("E3", "Forklift", None), row("E1", "First aid", Some("IT"))]
    );
    assert_eq!(
        rows(Some(("2026-05-01", "E1")), 10),
        [row("E2", "Forklift", None)],
        "after the last employee shown"
    );
}
