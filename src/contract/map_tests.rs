//! Table tests of the mapping: every type, every empty rule, both owners, the
//! lifecycle states, scope and value tables.

use serde_json::{Map, Value, json};

use super::{EmploymentState, map_employee};
use crate::contract::{Contract, parse};

const SHIPPED: &str = include_str!("../../assets/contract.toml");

fn shipped() -> Contract {
    parse(SHIPPED).unwrap()
}

fn record() -> Map<String, Value> {
    json!({
        "id": "42", "employeeNumber": "E00042", "workEmail": " Zoë.Ørsted@Acme.example ",
        "firstName": "Zoë", "lastName": "Ørsted  ", "preferredName": "", "jobTitle": "Engineering Manager",
        "department": "Information Technology", "division": "", "costCenter": "CC-10",
        "supervisorEId": "7", "location": "Berlin", "employmentHistoryStatus": "full-time",
        "employmentStatus": "Active", "hireDate": "2024-02-29", "terminationDate": "0000-00-00"
    })
    .as_object()
    .unwrap()
    .clone()
}

fn lms_value(mapped: &super::MappedEmployee, field: &str) -> Option<Value> {
    mapped
        .lms
        .iter()
        .find(|v| v.field == field)
        .map(|v| v.value.to_value())
}

#[test]
fn a_good_record_maps_with_value_tables_empty_rules_and_exact_names() {
    let (contract, record) = (shipped(), record());
    let m = map_employee(&contract, &record).unwrap();
    assert!(m.problems.is_empty(), "{:?}", m.problems);
    assert_eq!(m.employee_id, "42");
    assert_eq!(m.state, EmploymentState::Active);
    assert!(m.in_scope, "enum matching ignores case: full-time is Full-Time");
    assert_eq!(m.manager_id.as_deref(), Some("7"));
    assert_eq!(m.hire_date.unwrap().to_string(), "2024-02-29");
    // value table
    assert_eq!(lms_value(&m, "department"), Some(json!("IT Dept")));
    // empty = null clears, empty = skip leaves out
    assert_eq!(lms_value(&m, "preferred_name"), Some(Value::Null));
    assert_eq!(lms_value(&m, "division"), None);
    // emails are trimmed, names kept exactly (trailing spaces included)
    assert_eq!(
        lms_value(&m, "work_email"),
        Some(json!("Zoë.Ørsted@Acme.example"))
    );
    assert_eq!(lms_value(&m, "last_name"), Some(json!("Ørsted  ")));
    // enum values take the contract's spelling
    assert_eq!(lms_value(&m, "employment_type"), Some(json!("Full-Time")));
    // fields without a SCIM path are read by the rules but not sent
    assert_eq!(lms_value(&m, "hire_date"), None);
    assert_eq!(&m.values["hire_date"], "2024-02-29");
}

/// One contract field of every type and empty rule, to test each combination.
fn contract_with(field: &str) -> Contract {
    let text = format!(
        r#"version = 1
[[field]]
name = "id"
hris = "id"
scim = "externalId"
type = "string"
required = true
owner = "hris"
empty = "reject"
key = true
[[field]]
name = "status"
hris = "status"
type = "enum"
allowed = ["Active", "Terminated"]
required = true
owner = "hris"
empty = "reject"
{field}
[lifecycle]
status_field = "status"
active = ["Active"]
terminated = ["Terminated"]
hire_date_field = "id"
"#
    );
    parse(&text).unwrap_or_else(|p| panic!("{p:?}\n{text}"))
}

fn field(kind: &str, empty: &str, owner: &str, extra: &str) -> String {
    format!(
        "[[field]]\nname = \"x\"\nhris = \"x\"\nscim = \"title\"\ntype = \"{kind}\"\nowner = \"{owner}\"\nempty = \"{empty}\"\n{extra}\n"
    )
}

fn map_x(contract: &Contract, x: Value) -> Result<(Option<Value>, Vec<String>), Vec<String>> {
    let mut record = json!({"id": "1", "status": "Active"})
        .as_object()
        .unwrap()
        .clone();
    if !x.is_null() {
        record.insert("x".into(), x);
    }
    let reasons = |r: Vec<crate::model::FieldReason>| {
        r.into_iter()
            .map(|p| format!("{}: {}", p.field, p.reason))
            .collect()
    };
    match map_employee(contract, &record) {
        Ok(m) => Ok((lms_value(&m, "x"), reasons(m.problems))),
        Err(problems) => Err(reasons(problems)),
    }
}

#[test]
fn every_empty_rule_does_what_it_says() {
    for (rule, expected) in [
        ("skip", Ok((None, vec![]))),
        ("empty", Ok((Some(json!("")), vec![]))),
        ("null", Ok((Some(Value::Null), vec![]))),
        ("reject", Ok((None, vec!["x: is required but empty".to_string()]))),
    ] {
        let contract = contract_with(&field("string", rule, "hris", ""));
        for empty in [Value::Null, json!(""), json!("   ")] {
            assert_eq!(
                map_x(&contract, empty.clone()),
                expected,
                "rule {rule}, value {empty}"
            );
        }
    }
}

#[test]
fn every_type_accepts_its_values_and_names_what_is_wrong() {
    let cases: &[(&str, &str, Value, Result<Value, &str>)] = &[
        ("string", "", json!("Ἀθηνᾶ 李"), Ok(json!("Ἀθηνᾶ 李"))),
        ("email", "", json!("a@b.example"), Ok(json!("a@b.example"))),
        (
            "email",
            "",
            json!("not-an-email"),
            Err("\"not-an-email\" is not an email address"),
        ),
        (
            "email",
            "",
            json!("a b@c.example"),
            Err("is not an email address"),
        ),
        ("date", "", json!("2025-01-31"), Ok(json!("2025-01-31"))),
        ("date", "", json!("31/01/2025"), Err("is not a date (YYYY-MM-DD)")),
        ("date", "", json!("2025-02-30"), Err("is not a date")),
        ("enum", "allowed = [\"A\", \"B\"]", json!("b"), Ok(json!("B"))),
        (
            "enum",
            "allowed = [\"A\", \"B\"]",
            json!("C"),
            Err("\"C\" is not one of A, B"),
        ),
        ("number", "", json!(7.5), Ok(json!(7.5))),
        ("number", "", json!("12"), Ok(json!(12.0))),
        ("number", "", json!("twelve"), Err("is not a number")),
        ("bool", "", json!(true), Ok(json!(true))),
        ("bool", "", json!("No"), Ok(json!(false))),
        ("bool", "", json!("maybe"), Err("is not true or false")),
    ];
    for (kind, extra, input, expected) in cases {
        let contract = contract_with(&field(kind, "skip", "hris", extra));
        let (value, problems) = map_x(&contract, input.clone()).unwrap();
        match expected {
            Ok(want) => {
                assert_eq!(value.as_ref(), Some(want), "{kind} {input}");
                assert!(problems.is_empty(), "{kind} {input}: {problems:?}");
            }
            Err(fragment) => {
                assert_eq!(value, None, "{kind} {input}");
                assert!(
                    problems.len() == 1 && problems[0].starts_with("x: ") && problems[0].contains(fragment),
                    "{kind} {input}: {problems:?}"
                );
            }
        }
    }
}

#[test]
fn lms_owned_fields_are_neither_checked_nor_sent() {
    let contract = contract_with(&field("email", "reject", "lms", ""));
    assert_eq!(map_x(&contract, json!("garbage")), Ok((None, vec![])));
    assert_eq!(map_x(&contract, Value::Null), Ok((None, vec![])));
}

#[test]
fn lifecycle_state_scope_and_leave_follow_the_contract() {
    let contract = shipped();
    let with = |pairs: &[(&str, &str)]| {
        let mut r = record();
        for (k, v) in pairs {
            r.insert(k.to_string(), json!(v));
        }
        // The mapping borrows the record: a test's few records may live on.
        map_employee(&contract, Box::leak(Box::new(r)))
    };
    let terminated = with(&[("employmentStatus", "Terminated"), ("workEmail", "")]).unwrap();
    assert_eq!(terminated.state, EmploymentState::Terminated);
    assert!(!terminated.should_be_active(&contract));
    assert_eq!(
        terminated.problems.len(),
        2,
        "user_name and work_email, listed but not blocking"
    );

    let on_leave = with(&[("employmentStatus", "On Leave")]).unwrap();
    assert!(
        on_leave.should_be_active(&contract),
        "the shipped contract keeps people on leave active"
    );
    let deactivating = parse(&SHIPPED.replace(
        "on_leave_action = \"stay_active\"",
        "on_leave_action = \"deactivate\"",
    ))
    .unwrap();
    assert!(
        !map_employee(&deactivating, &on_leave_record())
            .unwrap()
            .should_be_active(&deactivating)
    );

    let contractor = with(&[("employmentHistoryStatus", "Contractor")]).unwrap();
    assert!(!contractor.in_scope);
    assert!(!contractor.should_be_active(&contract));

    let unknown = with(&[("employmentStatus", "Sabbatical")]).unwrap_err();
    assert_eq!(unknown[0].field, "employment_status");
    assert!(unknown[0].reason.contains("Sabbatical"), "{unknown:?}");

    let no_id = with(&[("id", "")]).unwrap_err();
    assert_eq!(no_id[0].field, "employee_id");
}

fn on_leave_record() -> Map<String, Value> {
    let mut r = record();
    r.insert("employmentStatus".into(), json!("On Leave"));
    r
}

#[test]
fn an_email_has_one_at_sign_a_dotted_domain_and_no_whitespace() {
    for (text, expected) in [
        ("ana@acme.example", true),
        ("a.b@c.d", true),
        ("zoë.ørsted@acme.example", true),
        ("zoë@acme", false),
        ("@acme.example", false),
        ("ana@", false),
        ("ana", false),
        ("ana@acme", false),
        ("ana@.acme.example", false),
        ("ana@acme.example.", false),
        ("ana@acme@example.com", false),
        ("a na@acme.example", false),
        ("ana@acme.example\t", false),
        ("ana@acme.exa\u{b}mple", false),
        ("zoë@acme.exa\u{2003}mple", false),
        ("ana.@acme.example", true),
        ("ana@a.b.c", true),
    ] {
        assert_eq!(super::looks_like_email(text), expected, "{text:?}");
    }
}

#[test]
fn text_too_long_or_holding_a_control_character_is_refused_by_field() {
    let contract = shipped();
    let rule = contract.fields.iter().find(|f| f.hris == "firstName").unwrap();
    assert_eq!(super::acceptable_text(rule, "Zoë 李 محمد"), Ok(()));
    let at_limit = "é".repeat(rule.max_length);
    assert_eq!(
        super::acceptable_text(rule, &at_limit),
        Ok(()),
        "characters are counted, not bytes"
    );
    let long = super::acceptable_text(rule, &"a".repeat(rule.max_length + 1)).unwrap_err();
    assert!(
        long.contains("1025 characters") && long.contains("max_length"),
        "{long}"
    );
    for (text, code, position) in [
        ("Ana\u{1b}]52;c;aGk=\u{7}", "U+001B", 4),
        ("Li\u{9b}2J", "U+009B", 3),
        ("é\u{7f}", "U+007F", 2),
        ("tab\there", "U+0009", 4),
    ] {
        let why = super::acceptable_text(rule, text).unwrap_err();
        assert!(
            why.contains(code) && why.contains(&format!("character {position}")),
            "{text:?}: {why}"
        );
        assert!(!why.contains('\u{1b}'), "the reason never repeats the value");
    }
}
