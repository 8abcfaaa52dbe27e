//! Expressions in scope rules (`when`) and trigger conditions, as
//! `assets/contract.expressions.toml` uses them: pre-provisioning a future hire
//! 14 days ahead and not 15, the record's problem when a rule fails or yields no
//! boolean, and where a mistake in one is reported.

use jiff::civil::Date;
use serde_json::{Map, Value, json};

use crate::contract::map::map_employee;
use crate::contract::reports::Counted;
use crate::contract::triggers::groups_for;
use crate::contract::{Contract, parse};
use crate::engine::apply::plan::{ManagerRef, Plan, assess};

const EXPRESSIONS: &str = include_str!("../../../assets/contract.expressions.toml");

fn contract() -> Contract {
    parse(EXPRESSIONS).unwrap()
}

/// Today as the mapping sees it: in the contract's zone.
fn today(contract: &Contract) -> Date {
    crate::contract::expr::today(&contract.time_zone, jiff::Timestamp::now())
}

fn days(from: Date, n: i64) -> Date {
    from.checked_add(jiff::Span::new().days(n)).unwrap()
}

fn record(hire: &str, department: &str) -> Map<String, Value> {
    json!({
        "id": "7", "employeeNumber": "E7", "workEmail": "ana.silva@acme.example",
        "firstName": "Ana", "lastName": "Silva", "department": department,
        "employmentHistoryStatus": "Full-Time", "employmentStatus": "Active",
        "hireDate": hire, "location": "Berlin",
    })
    .as_object()
    .unwrap()
    .clone()
}

/// The record as the sync maps it for someone nobody names as their manager
/// (the "people manager" trigger reads `reports`).
fn nobody_reports(record: &Map<String, Value>) -> Counted<'_, Map<String, Value>> {
    Counted {
        record,
        reports: Some(0),
    }
}

fn plan_for(contract: &Contract, record: &Map<String, Value>) -> Plan {
    let counted = nobody_reports(record);
    let mapped = map_employee(contract, &counted).unwrap();
    assess(
        contract,
        &mapped,
        None::<&Value>,
        &ManagerRef::None,
        today(contract),
    )
}

#[test]
fn a_future_hire_is_created_fourteen_days_ahead_and_not_fifteen() {
    let contract = contract();
    assert!(contract.pre_provisions());
    assert!(
        !parse(include_str!("../../../assets/contract.toml"))
            .unwrap()
            .pre_provisions()
    );
    let today = today(&contract);
    // (days ahead, in scope today, created now)
    for (ahead, in_scope) in [
        (-400, true),
        (0, true),
        (1, true),
        (14, true),
        (15, false),
        (40, false),
    ] {
        let hire = days(today, ahead);
        let record = record(&hire.to_string(), "Sales");
        let counted = nobody_reports(&record);
        let mapped = map_employee(&contract, &counted).unwrap();
        assert!(mapped.problems.is_empty(), "{ahead}: {:?}", mapped.problems);
        assert_eq!(mapped.in_scope, in_scope, "{ahead} days ahead");
        assert_eq!(
            mapped.hired_later(today),
            None,
            "{ahead}: the scope rule decides, not the hire date"
        );
        match plan_for(&contract, &record) {
            Plan::Create { enrol, .. } => {
                assert!(in_scope, "{ahead}: created");
                // Onboarding enrols a pre-provisioned learner (within 30 days of the hire).
                assert_eq!(
                    enrol.contains(&"Onboarding".to_string()),
                    ahead >= -30,
                    "{ahead}: {enrol:?}"
                );
            }
            Plan::WaitUntil { at, why } => {
                assert!(!in_scope, "{ahead}: waits");
                // It waits for the first day the rule holds: 14 days before the hire.
                let from = days(hire, -14);
                assert_eq!(mapped.in_scope_from, Some(from), "{ahead}");
                let start = from.to_zoned(contract.time_zone.clone()).unwrap().timestamp();
                assert_eq!(at, start, "{ahead}: {why}");
                assert!(
                    why.contains(&format!("the scope rules hold from {from}")),
                    "{why}"
                );
            }
            other => panic!("{ahead}: {other:?}"),
        }
    }
}

/// A rehire whose learner is inactive waits the same way, and is not left inactive.
#[test]
fn a_rehire_beyond_reach_waits_with_its_inactive_learner() {
    let contract = contract();
    let today = today(&contract);
    let hire = days(today, 20);
    let record = record(&hire.to_string(), "Sales");
    let mapped = map_employee(&contract, &record).unwrap();
    let inactive = json!({ "id": "u-7", "active": false, "externalId": "7" });
    let decided = assess(&contract, &mapped, Some(&inactive), &ManagerRef::None, today);
    let start = days(hire, -14)
        .to_zoned(contract.time_zone.clone())
        .unwrap()
        .timestamp();
    assert!(
        matches!(decided, Plan::WaitUntil { at, .. } if at == start),
        "{decided:?}"
    );
}

#[test]
fn a_rule_that_never_holds_puts_the_record_out_of_scope_without_a_wait() {
    let contract = contract();
    let today = today(&contract);
    for hire in [days(today, -100), days(today, 5), days(today, 30)] {
        let record = record(&hire.to_string(), "Board");
        let mapped = map_employee(&contract, &record).unwrap();
        assert!(!mapped.in_scope, "{hire}");
        assert_eq!(mapped.out_of_scope_by, Some(0));
        assert_eq!(mapped.in_scope_from, None, "{hire}: the Board is never in scope");
        assert!(
            matches!(plan_for(&contract, &record), Plan::Nothing { .. }),
            "{hire}"
        );
    }
}

#[test]
fn a_scope_rule_that_fails_or_is_not_a_boolean_is_the_records_problem() {
    let contract = contract();
    let line = contract.inclusion[0].line;
    let bad = record("15/01/2020", "Sales");
    let mapped = map_employee(&contract, &bad).unwrap();
    let problem = mapped
        .problems
        .iter()
        .find(|p| p.field == format!("inclusion rule at line {line}"))
        .unwrap_or_else(|| panic!("{:?}", mapped.problems));
    assert_eq!(
        problem.reason,
        "expression `hris.department != \"Board\" && days_between(today, date(hris.hireDate)) <= 14` \
         failed: date: \"15/01/2020\" is not a date (YYYY-MM-DD) (hris.department = \"Sales\", \
         hris.hireDate = \"15/01/2020\")"
    );
    // Undecided is not out of scope: the record is refused (queued), its learner not deactivated.
    assert!(mapped.in_scope);
    assert!(matches!(plan_for(&contract, &bad), Plan::Reject(_)));

    let text = EXPRESSIONS.replacen(
        "when = 'hris.department != \"Board\" && days_between(today, date(hris.hireDate)) <= 14'",
        "when = 'hris.department'",
        1,
    );
    let contract = parse(&text).unwrap();
    let sales = record("2020-01-15", "Sales");
    let mapped = map_employee(&contract, &sales).unwrap();
    assert_eq!(
        mapped.problems[0].reason,
        "expression `hris.department` yields \"Sales\", not true or false"
    );
    let nobody = record("2020-01-15", "");
    let mapped = map_employee(&contract, &nobody).unwrap();
    assert_eq!(
        mapped.problems[0].reason,
        "expression `hris.department` yields nothing (null or empty), not true or false"
    );
}

#[test]
fn a_trigger_condition_decides_alone_or_narrows_its_kind() {
    let contract = contract();
    let today = today(&contract);
    let groups = |hire: Date, location: &str| {
        let mut record = record(&hire.to_string(), "Sales");
        record.insert("location".into(), json!(location));
        let counted = nobody_reports(&record);
        let mapped = map_employee(&contract, &counted).unwrap();
        assert!(mapped.problems.is_empty(), "{:?}", mapped.problems);
        groups_for(&contract, &mapped, today)
    };
    let long = days(today, -(11 * 366));
    assert_eq!(groups(long, "Berlin"), ["Compliance Berlin", "Long Service"]);
    assert_eq!(groups(days(today, -(9 * 365)), "Berlin"), ["Compliance Berlin"]);

    // A condition beside a kind narrows it.
    let text = EXPRESSIONS.replacen(
        "field = \"location\"\ngroup = \"Compliance {value}\"",
        "field = \"location\"\ncondition = 'hris.location != \"Remote\"'\ngroup = \"Compliance {value}\"",
        1,
    );
    let narrowed = parse(&text).unwrap();
    let mut record = record(&long.to_string(), "Sales");
    record.insert("location".into(), json!("Remote"));
    let mapped = map_employee(&narrowed, &record).unwrap();
    assert_eq!(groups_for(&narrowed, &mapped, today), ["Long Service"]);

    // A condition that fails at run time: the record's problem, naming the trigger.
    let mut bad = record.clone();
    bad.insert("hireDate".into(), json!("soon"));
    let mapped = map_employee(&contract, &bad).unwrap();
    let problem = mapped
        .problems
        .iter()
        .find(|p| p.field == "trigger \"long service\"")
        .unwrap_or_else(|| panic!("{:?}", mapped.problems));
    assert!(
        problem.reason.starts_with(
            "expression `years_between(date(hris.hireDate), today) >= 10` failed: date: \"soon\" is not a date"
        ),
        "{}",
        problem.reason
    );
}

/// A mistake in a scope rule or a trigger condition: its line and column in the
/// file, and what it is.
#[test]
fn a_mistake_in_a_scope_rule_or_a_condition_is_reported_at_its_line_and_column() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "when = 'hris.department != \"Board\" && days_between(today, date(hris.hireDate)) <= 14'",
            "when = 'hris.department != \"Board\" && hris.hiredOn <= today'",
            "hiredOn",
            "inclusion rule: when: hris.hiredOn is not an HRIS field",
        ),
        (
            "condition = \"years_between(date(hris.hireDate), today) >= 10\"",
            "condition = \"years_between(date(hris.hireDate), tomorrow) >= 10\"",
            "tomorrow",
            "trigger \"long service\": condition: unknown name `tomorrow`",
        ),
        (
            "condition = \"years_between(date(hris.hireDate), today) >= 10\"",
            "condition = \"years_between(date(hris.hireDate), today) >=\"",
            "\"\n",
            "trigger \"long service\": condition: Syntax error",
        ),
    ];
    for (from, to, at, message) in cases {
        let text = EXPRESSIONS.replacen(from, to, 1);
        assert_ne!(text, EXPRESSIONS, "{from}");
        let problems = parse(&text).expect_err(to);
        assert_eq!(problems.len(), 1, "{problems:?}");
        let offset = text.find(to).unwrap() + to.find(at.trim_end()).unwrap();
        let want_line = text[..offset].matches('\n').count() + 1;
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let want_column = text[line_start..offset].chars().count() + 1;
        assert_eq!(problems[0].line, want_line, "{}", problems[0]);
        // A syntax error at the end is reported past the last character.
        if *at != "\"\n" {
            assert_eq!(problems[0].column, Some(want_column), "{}", problems[0]);
        }
        assert!(problems[0].message.starts_with(message), "{}", problems[0]);
    }
}

#[test]
fn scope_rules_and_triggers_say_what_they_need() {
    let problems = |from: &str, to: &str| -> Vec<String> {
        let text = EXPRESSIONS.replacen(from, to, 1);
        assert_ne!(text, EXPRESSIONS, "{from}");
        parse(&text)
            .expect_err(to)
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    let alone = problems("in = [\"Full-Time\", \"Part-Time\"]\n", "");
    assert!(alone[0].contains("`field` and `in` go together"), "{alone:?}");
    let empty: Vec<String> = parse(&format!("{EXPRESSIONS}\n[[inclusion]]\n"))
        .expect_err("an empty rule")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        empty
            .iter()
            .any(|p| p.contains("needs `field` and `in`, or `when`")),
        "{empty:?}"
    );
    let nothing = problems(
        "condition = \"years_between(date(hris.hireDate), today) >= 10\"\n",
        "",
    );
    assert!(
        nothing[0].contains("needs `when` (hire, field_matches, field_value) or a `condition`"),
        "{nothing:?}"
    );
}

/// `on_exit = "remove"`: the groups a moved learner leaves, and those it keeps.
#[test]
fn a_remove_trigger_no_longer_holding_takes_the_learner_out_and_keep_stays() {
    use crate::contract::OnExit;
    use crate::contract::triggers::groups_to_leave;
    let contract = parse(EXPRESSIONS).unwrap();
    let compliance = &contract.triggers[2];
    assert_eq!(compliance.on_exit, OnExit::Remove);
    assert_eq!(contract.triggers[0].on_exit, OnExit::Keep, "keep is the default");
    assert!(compliance.can_give("Compliance London"));
    assert!(!compliance.can_give("Compliance "), "{{value}} is never empty");
    assert!(!compliance.can_give("Onboarding"));
    let today = today(&contract);
    let mut moved = record(&days(today, -3).to_string(), "Sales");
    moved.insert("location".into(), json!("Bengaluru"));
    let mapped = map_employee(&contract, &moved).unwrap();
    let member_of = [
        "Compliance London",
        "Compliance Bengaluru",
        "Onboarding",
        "Chess Club",
    ];
    assert_eq!(
        groups_to_leave(&contract, &mapped, today, member_of),
        ["Compliance London"],
        "onboarding is kept, the new location's group wanted, a group no trigger gives not ours"
    );
    // A learner who is no longer active keeps its groups: only an active one leaves one.
    let mut gone = moved.clone();
    gone.insert("employmentStatus".into(), json!("Terminated"));
    let mapped = map_employee(&contract, &gone).unwrap();
    assert!(groups_to_leave(&contract, &mapped, today, member_of).is_empty());
    // The shipped contract keeps every group.
    let shipped = parse(include_str!("../../../assets/contract.toml")).unwrap();
    let mapped = map_employee(&shipped, &moved).unwrap();
    assert!(groups_to_leave(&shipped, &mapped, today, member_of).is_empty());
    // A mistake is named.
    let wrong = EXPRESSIONS.replacen("on_exit = \"remove\"", "on_exit = \"drop\"", 1);
    let problems = parse(&wrong).unwrap_err();
    assert!(
        problems[0]
            .message
            .contains("trigger \"location compliance\": on_exit \"drop\" is not keep or remove"),
        "{problems:?}"
    );
}

/// The impact preview counts the learners a contract change takes out of a
/// group (a `remove` trigger that no longer holds for them), per group.
#[test]
fn the_preview_counts_the_learners_taken_out_of_a_group() {
    let shipped = include_str!("../../../assets/contract.toml");
    let old = parse(shipped).unwrap();
    let narrowed = shipped.replacen(
        "group = \"Compliance {value}\"",
        "group = \"Compliance {value}\"\ncondition = 'hris.location != \"Berlin\"'\non_exit = \"remove\"",
        1,
    );
    let new = parse(&narrowed).unwrap();
    let today = today(&old);
    let people: Vec<Map<String, Value>> = [("1", "Berlin"), ("2", "London"), ("3", "Berlin")]
        .into_iter()
        .map(|(id, location)| {
            let mut person = record("2020-01-15", "Sales");
            person.insert("id".into(), json!(id));
            person.insert("employeeNumber".into(), json!(format!("E{id}")));
            person.insert("location".into(), json!(location));
            person
        })
        .collect();
    let got = crate::contract::impact::impact(&old, &new, &people, today, 5, 50);
    let left: Vec<(&str, u64, Vec<&str>)> = (got.leaving_groups.iter())
        .map(|g| {
            let ids = g.examples.iter().map(|e| e.employee_id.as_str()).collect();
            (g.group.as_str(), g.learners, ids)
        })
        .collect();
    assert_eq!(left, [("Compliance Berlin", 2, vec!["1", "3"])]);
    assert!(got.enrolments.is_empty(), "{:?}", got.enrolments);
    // Unchanged, nothing is taken out; the JSON of a preview without removals is as before.
    let same = crate::contract::impact::impact(&new, &new, &people, today, 5, 50);
    assert!(same.leaving_groups.is_empty());
    assert!(
        serde_json::to_value(&same)
            .unwrap()
            .get("leaving_groups")
            .is_none()
    );
}

/// A trigger's condition may read the previous record (`before.<field>`): a
/// change trigger, decided where that record is known; nowhere else may read it.
#[test]
fn a_change_trigger_reads_the_previous_record_and_only_a_condition_may() {
    use crate::contract::map::change_conditions;
    let text = format!(
        "{EXPRESSIONS}\n[[trigger]]\nname = \"relocated\"\n\
         condition = 'before.location != null && before.location != hris.location'\n\
         group = \"Relocation\"\n"
    );
    let contract = parse(&text).unwrap();
    let today = today(&contract);
    let now = record("2020-01-15", "Sales");
    let mut was = now.clone();
    was.insert("location".into(), json!("London"));
    let groups = |before: Option<&Map<String, Value>>| {
        let counted = nobody_reports(&now);
        let mut mapped = map_employee(&contract, &counted).unwrap();
        change_conditions(&contract, &mut mapped, &counted, before, None);
        assert!(mapped.problems.is_empty(), "{:?}", mapped.problems);
        groups_for(&contract, &mapped, today)
    };
    assert!(groups(Some(&was)).contains(&"Relocation".to_string()));
    assert!(!groups(Some(&now)).contains(&"Relocation".to_string()), "no move");
    assert!(
        !groups(None).contains(&"Relocation".to_string()),
        "no previous record"
    );
    // Mapped alone (the reconciliation, the preview), a change is not judged.
    let mapped = map_employee(&contract, &now).unwrap();
    assert!(!groups_for(&contract, &mapped, today).contains(&"Relocation".to_string()));

    let refused =
        |text: &str| -> Vec<String> { parse(text).unwrap_err().iter().map(ToString::to_string).collect() };
    let in_scope = refused(&EXPRESSIONS.replacen(
        "when = 'hris.department != \"Board\"",
        "when = 'before.department != \"Board\"",
        1,
    ));
    assert!(
        in_scope[0].contains(
            "inclusion rule: when: before.<field> is the previous record: only a trigger's condition reads it"
        ),
        "{in_scope:?}"
    );
    let removing = refused(&format!("{text}on_exit = \"remove\"\n"));
    assert!(
        removing[0]
            .contains("trigger \"relocated\": a condition that reads before.<field> fires on a change"),
        "{removing:?}"
    );
    let unknown = refused(&text.replace("before.location != hris", "before.office != hris"));
    assert!(
        unknown[0].contains("before.office is not an HRIS field"),
        "{unknown:?}"
    );
}
