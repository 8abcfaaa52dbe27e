//! The impact preview on a handful of records under the shipped contract and
//! edits of it: each count is checked against the employees that make it.

use serde_json::{Map, Value, json};

use super::*;
use crate::contract::parse;

const SHIPPED: &str = include_str!("../../assets/contract.toml");

fn today() -> Date {
    jiff::civil::date(2026, 12, 6)
}

fn employee(id: &str, department: &str, kind: &str, status: &str, hired: &str) -> Map<String, Value> {
    json!({
        "id": id, "employeeNumber": format!("E{id}"), "workEmail": format!("p{id}@acme.example"),
        "firstName": "Ana", "lastName": "Lima", "jobTitle": "Analyst", "department": department,
        "costCenter": "CC-1", "location": "Berlin", "employmentHistoryStatus": kind,
        "employmentStatus": status, "hireDate": hired
    })
    .as_object()
    .unwrap()
    .clone()
}

fn staff() -> Vec<Map<String, Value>> {
    vec![
        employee("1", "Information Technology", "Full-Time", "Active", "2020-01-01"),
        employee("2", "Information Technology", "Part-Time", "Active", "2021-01-01"),
        employee("3", "Sales", "Full-Time", "Active", "2020-01-01"),
        employee(
            "4",
            "Information Technology",
            "Contractor",
            "Active",
            "2020-01-01",
        ),
        employee(
            "5",
            "Information Technology",
            "Full-Time",
            "Terminated",
            "2019-01-01",
        ),
        // Hired later: no learner yet, so nothing of theirs changes today.
        employee("6", "Information Technology", "Full-Time", "Active", "2027-01-01"),
        employee("7", "Sales", "Part-Time", "On Leave", "2022-01-01"),
    ]
}

fn edited(from: &str, to: &str) -> Contract {
    assert!(SHIPPED.contains(from), "the shipped contract holds {from}");
    parse(&SHIPPED.replacen(from, to, 1)).unwrap()
}

fn ids(affected: &[Example]) -> Vec<&str> {
    affected.iter().map(|e| e.employee_id.as_str()).collect()
}

#[test]
fn the_same_contract_changes_nothing() {
    let old = parse(SHIPPED).unwrap();
    let got = impact(&old, &old, &staff(), today(), 5, 50);
    assert_eq!(got.employees, 7);
    assert_eq!((got.learners_before, got.learners_after), (4, 4));
    assert!(got.fields.is_empty(), "{:?}", got.fields);
    assert!(got.enrolments.is_empty(), "{:?}", got.enrolments);
    assert_eq!(
        (
            got.entering_scope.count,
            got.leaving_scope.count,
            got.deactivated.count,
            got.rejected.count
        ),
        (0, 0, 0, 0)
    );
    assert!(!got.safety.trips_safety);
}

#[test]
fn a_value_table_entry_changes_exactly_the_learners_of_that_department() {
    let old = parse(SHIPPED).unwrap();
    let new = edited(
        r#""Information Technology" = "IT Dept""#,
        r#""Information Technology" = "Tech""#,
    );
    let got = impact(&old, &new, &staff(), today(), 5, 50);
    assert_eq!(got.fields.len(), 1, "{:?}", got.fields);
    let department = &got.fields[0];
    assert_eq!(department.field, "department");
    assert_eq!(department.learners, 2);
    assert_eq!(ids(&department.examples), ["1", "2"]);
    assert_eq!(department.examples[0].before, json!("IT Dept"));
    assert_eq!(department.examples[0].after, json!("Tech"));
    assert_eq!(got.deactivated.count, 0);
}

#[test]
fn narrowing_the_scope_deactivates_and_trips_the_safety_mark_past_the_allowance() {
    let old = parse(SHIPPED).unwrap();
    let new = edited(r#"in = ["Full-Time", "Part-Time"]"#, r#"in = ["Full-Time"]"#);
    let got = impact(&old, &new, &staff(), today(), 5, 1);
    assert_eq!(got.leaving_scope.count, 2);
    assert_eq!(ids(&got.leaving_scope.examples), ["2", "7"]);
    // Both held active learners (on leave stays active by the shipped lifecycle).
    assert_eq!(got.deactivated.count, 2);
    assert_eq!(got.deactivated.examples[0].after, json!("out of scope"));
    assert_eq!(got.learners_after, 2);
    assert_eq!(
        got.safety,
        SafetyMark {
            deactivations: 2,
            allowed: 1,
            trips_safety: true
        }
    );
    // Allowed as many as it deactivates: not marked.
    assert!(!impact(&old, &new, &staff(), today(), 5, 2).safety.trips_safety);
}

#[test]
fn widening_the_scope_creates_learners_and_enrols_them() {
    let old = parse(SHIPPED).unwrap();
    let new = edited(
        r#"in = ["Full-Time", "Part-Time"]"#,
        r#"in = ["Full-Time", "Part-Time", "Contractor"]"#,
    );
    let got = impact(&old, &new, &staff(), today(), 5, 50);
    assert_eq!(got.entering_scope.count, 1);
    assert_eq!(ids(&got.entering_scope.examples), ["4"]);
    assert_eq!(got.learners_after, 5);
    assert!(
        got.fields.is_empty(),
        "a new learner is created, not changed: {:?}",
        got.fields
    );
    let groups: Vec<(&str, u64)> = (got.enrolments.iter())
        .map(|e| (e.group.as_str(), e.learners))
        .collect();
    assert_eq!(groups, [("Compliance Berlin", 1)]);
}

#[test]
fn a_new_trigger_enrols_only_the_learners_it_matches() {
    let old = parse(SHIPPED).unwrap();
    let new = edited("(?i)\\b(manager|", "(?i)\\b(analyst|manager|");
    let mut people = staff();
    people[2]["jobTitle"] = json!("Sales Manager");
    let got = impact(&old, &new, &people, today(), 5, 50);
    // Employees 1, 2 and 7 are active analysts; 3 was a leader already.
    assert_eq!(got.enrolments.len(), 1, "{:?}", got.enrolments);
    assert_eq!(got.enrolments[0].group, "Leadership");
    assert_eq!(ids(&got.enrolments[0].examples), ["1", "2", "7"]);
}

#[test]
fn a_field_made_required_rejects_the_records_without_it_and_keeps_examples_bounded() {
    let old = parse(SHIPPED).unwrap();
    let new = edited(
        "hris = \"costCenter\"\nscim = \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter\"\ntype = \"string\"\nowner = \"hris\"\nempty = \"null\"",
        "hris = \"costCenter\"\nscim = \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter\"\ntype = \"string\"\nowner = \"hris\"\nempty = \"reject\"",
    );
    let mut people = staff();
    for person in &mut people {
        person.remove("costCenter");
    }
    let got = impact(&old, &new, &people, today(), 1, 50);
    // Only those who should hold an active learner are refused (4 is out of scope, 5 left).
    assert_eq!(got.rejected.count, 5);
    assert_eq!(got.rejected.examples.len(), 1);
    assert_eq!(
        got.rejected.examples[0].after,
        json!("cost_center: is required but empty")
    );
    assert!(got.fields.is_empty(), "{:?}", got.fields);
}
