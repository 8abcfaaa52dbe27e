//! The contract checker against the shipped contract and against files with
//! each kind of mistake, asserting the line each problem is reported on.

use super::*;

const SHIPPED: &str = include_str!("../../assets/contract.toml");

fn problems(text: &str) -> Vec<String> {
    parse(text)
        .expect_err("the contract has problems")
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// A small valid contract; tests append or replace lines to break it.
const MINIMAL: &str = r#"version = 1
[[field]]
name = "employee_id"
hris = "id"
scim = "externalId"
type = "string"
required = true
owner = "hris"
key = true
[[field]]
name = "status"
hris = "employmentStatus"
type = "enum"
allowed = ["Active", "Terminated"]
owner = "hris"
[[field]]
name = "hire_date"
hris = "hireDate"
type = "date"
owner = "hris"
[lifecycle]
status_field = "status"
active = ["Active"]
terminated = ["Terminated"]
hire_date_field = "hire_date"
"#;

#[test]
fn the_shipped_contract_is_valid_and_summarised() {
    let contract = parse(SHIPPED).expect("assets/contract.toml is valid");
    assert_eq!(contract.key_field().hris, "id");
    assert_eq!(contract.key_field().scim.as_deref(), Some("externalId"));
    assert_eq!(
        contract.value_tables["departments"].entries["Information Technology"],
        "IT Dept"
    );
    assert_eq!(contract.lifecycle.on_leave_action, LeaveAction::StayActive);
    assert_eq!(contract.triggers.len(), 3);
    assert!(
        matches!(&contract.triggers[1].when, TriggerWhen::FieldMatches { pattern, .. } if pattern.is_match("Engineering Manager"))
    );
    let summary = contract.summary();
    assert!(
        summary.starts_with(
            "contract version 1: 17 fields (17 owned by the HRIS, 0 by the LMS), key id → externalId"
        ),
        "{summary}"
    );
}

#[test]
fn a_minimal_contract_defaults_empty_rules_from_required() {
    let contract = parse(MINIMAL).unwrap();
    assert_eq!(contract.key_field().empty, EmptyRule::Reject);
    assert_eq!(contract.field("hire_date").unwrap().empty, EmptyRule::Skip);
    assert_eq!(contract.time_zone_name, "UTC");
}

#[test]
fn a_toml_syntax_error_names_its_line() {
    let text = MINIMAL.replace("owner = \"hris\"\nkey = true", "owner = \"hris\nkey = true");
    let found = problems(&text);
    assert_eq!(found.len(), 1);
    assert!(found[0].starts_with("line 8:"), "{found:?}");
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let text = MINIMAL.replace("key = true", "key = true\nrequird = true");
    let found = problems(&text);
    assert!(
        found[0].starts_with("line 10:") && found[0].contains("requird"),
        "{found:?}"
    );
}

#[test]
fn every_problem_is_reported_at_once_in_line_order() {
    let text = MINIMAL
        .replace("version = 1", "version = 1\ntime_zone = \"Mars/Olympus\"") // line 2
        .replace("type = \"date\"", "type = \"datetime\"") // line 20
        .replace("owner = \"hris\"\n[lifecycle]", "owner = \"payroll\"\nvalues = \"nope\"\n[lifecycle]") // 21, 22
        + "[[trigger]]\nname = \"lead\"\nwhen = \"field_matches\"\nfield = \"title\"\npattern = \"(\"\ngroup = \"Leadership\"\n"; // 29..34
    let found = problems(&text);
    let expected_starts = [
        ("line 2:", "Mars/Olympus"),
        ("line 20:", "datetime"),
        ("line 21:", "payroll"),
        ("line 22:", "value table \"nope\""),
        ("line 31:", "field \"title\" is not defined"),
        ("line 32:", "not a valid regex"),
    ];
    assert_eq!(found.len(), expected_starts.len(), "{found:#?}");
    for (problem, (line, words)) in found.iter().zip(expected_starts) {
        assert!(
            problem.starts_with(line) && problem.contains(words),
            "{problem} should be at {line} about {words}"
        );
    }
}

#[test]
fn the_join_key_must_exist_once_and_required_fields_must_reject_empty() {
    let no_key = MINIMAL.replace("key = true\n", "");
    assert!(problems(&no_key)[0].contains("no field is the join key"));
    let required_skip = MINIMAL.replace(
        "type = \"date\"",
        "type = \"date\"\nrequired = true\nempty = \"skip\"",
    );
    let found = problems(&required_skip);
    assert!(
        found[0].starts_with("line 21:") && found[0].contains("must be rejected"),
        "{found:?}"
    );
    let enum_without_values = MINIMAL.replace("allowed = [\"Active\", \"Terminated\"]\n", "");
    assert!(problems(&enum_without_values)[0].contains("needs `allowed` values"));
}
