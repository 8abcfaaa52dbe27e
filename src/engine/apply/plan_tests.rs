//! The decisions of flow 1, one rule per test, on the shipped contract.

use jiff::civil::{Date, date};
use serde_json::{Map, Value, json};

use super::{ManagerRef, Plan, plan};
use crate::contract::map::map_employee;
use crate::contract::{Contract, parse};
use crate::model::ENTERPRISE_SCHEMA as ENTERPRISE;

const TODAY: Date = date(2026, 11, 22);

fn contract() -> Contract {
    parse(include_str!("../../../assets/contract.toml")).unwrap()
}

fn record(changes: &[(&str, &str)]) -> Map<String, Value> {
    let mut r = json!({
        "id": "42", "employeeNumber": "E00042", "workEmail": "zoe@acme.example",
        "firstName": "Zoë", "lastName": "Ørsted", "preferredName": "", "jobTitle": "Engineer",
        "department": "Information Technology", "division": "R&D", "costCenter": "CC-10",
        "supervisorEId": "", "location": "Berlin", "employmentHistoryStatus": "Full-Time",
        "employmentStatus": "Active", "hireDate": "2020-01-15", "terminationDate": ""
    })
    .as_object()
    .unwrap()
    .clone();
    for (k, v) in changes {
        r.insert(k.to_string(), json!(v));
    }
    r
}

fn plan_for(changes: &[(&str, &str)], learner: Option<&Value>, manager: ManagerRef) -> Plan {
    let contract = contract();
    let record = record(changes);
    let mapped = map_employee(&contract, &record).unwrap();
    plan(&contract, &mapped, learner, &manager, TODAY)
}

/// The learner the LMS would hold after creating `record(&[])`.
fn created() -> Value {
    match plan_for(&[], None, ManagerRef::None) {
        Plan::Create { mut document, .. } => {
            document["id"] = json!("u-1");
            document["meta"] = json!({"version": "W/\"1\""});
            document
        }
        other => panic!("expected a create, got {other:?}"),
    }
}

#[test]
fn a_new_employee_becomes_a_complete_learner() {
    let Plan::Create {
        document,
        changes,
        enrol,
    } = plan_for(&[], None, ManagerRef::None)
    else {
        panic!()
    };
    assert_eq!(document["externalId"], "42");
    assert_eq!(document["userName"], "zoe@acme.example");
    assert_eq!(
        document["emails"],
        json!([{"type": "work", "value": "zoe@acme.example"}])
    );
    assert_eq!(
        document["name"],
        json!({"givenName": "Zoë", "familyName": "Ørsted"})
    );
    assert_eq!(document[ENTERPRISE]["department"], "IT Dept");
    assert_eq!(document[ENTERPRISE]["employeeNumber"], "E00042");
    assert_eq!(
        document["addresses"],
        json!([{"type": "work", "locality": "Berlin"}])
    );
    assert_eq!(document["active"], true);
    assert_eq!(
        document["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE])
    );
    assert!(
        document.get("nickName").is_none(),
        "a null on create is simply absent"
    );
    assert_eq!(changes.after["user_name"], "zoe@acme.example");
    assert_eq!(
        enrol,
        vec!["Compliance Berlin".to_string()],
        "hired in 2020: no onboarding"
    );
}

#[test]
fn an_unchanged_record_writes_nothing_value_tables_and_email_case_included() {
    let mut learner = created();
    learner["userName"] = json!("ZOE@ACME.EXAMPLE");
    let plan = plan_for(&[], Some(&learner), ManagerRef::None);
    assert!(matches!(plan, Plan::Nothing { .. }), "{plan:?}");
}

#[test]
fn one_changed_field_is_the_only_change_and_lms_extras_are_kept() {
    let mut learner = created();
    learner["phoneNumbers"] = json!([{"value": "+49 30 1234"}]);
    let Plan::Update {
        document,
        changes,
        deactivates,
        ..
    } = plan_for(
        &[("jobTitle", "Engineering Manager")],
        Some(&learner),
        ManagerRef::None,
    )
    else {
        panic!()
    };
    assert!(!deactivates);
    assert_eq!(
        changes.after,
        json!({"job_title": "Engineering Manager"})
            .as_object()
            .unwrap()
            .clone()
    );
    assert_eq!(changes.before["job_title"], "Engineer");
    assert_eq!(document["phoneNumbers"], learner["phoneNumbers"]);
    assert_eq!(document["id"], "u-1");
    assert!(document.get("meta").is_none());
}

#[test]
fn a_promotion_enrols_leadership_and_a_transfer_its_compliance_path() {
    let learner = created();
    let Plan::Update { enrol, .. } = plan_for(
        &[("jobTitle", "Head of Sales"), ("location", "Lisboa")],
        Some(&learner),
        ManagerRef::None,
    ) else {
        panic!()
    };
    assert_eq!(
        enrol,
        vec!["Leadership".to_string(), "Compliance Lisboa".to_string()]
    );
}

#[test]
fn termination_and_leaving_scope_deactivate_and_never_touch_other_fields() {
    let learner = created();
    for changes in [
        &[("employmentStatus", "Terminated"), ("workEmail", "")][..],
        &[("employmentHistoryStatus", "Contractor")][..],
    ] {
        let Plan::Update {
            document,
            changes: c,
            deactivates,
            enrol,
        } = plan_for(changes, Some(&learner), ManagerRef::None)
        else {
            panic!("{changes:?}")
        };
        assert!(deactivates);
        assert!(enrol.is_empty());
        assert_eq!(document["active"], false);
        assert_eq!(document["userName"], "zoe@acme.example");
        assert_eq!(c.after, json!({"active": false}).as_object().unwrap().clone());
    }
    let gone = plan_for(&[("employmentStatus", "Terminated")], None, ManagerRef::None);
    assert!(
        matches!(gone, Plan::Nothing { .. }),
        "no learner is created to be deactivated"
    );
}

#[test]
fn a_rehire_reactivates_the_same_learner_and_enrols_onboarding() {
    let mut learner = created();
    learner["active"] = json!(false);
    let Plan::Update {
        document,
        changes,
        enrol,
        ..
    } = plan_for(&[("hireDate", "2026-11-16")], Some(&learner), ManagerRef::None)
    else {
        panic!()
    };
    assert_eq!(document["id"], "u-1");
    assert_eq!(document["active"], true);
    assert_eq!(changes.before["active"], false);
    assert_eq!(enrol[0], "Onboarding");
}

#[test]
fn leave_follows_the_contract() {
    let learner = created();
    let stays = plan_for(
        &[("employmentStatus", "On Leave")],
        Some(&learner),
        ManagerRef::None,
    );
    assert!(matches!(stays, Plan::Nothing { .. }), "{stays:?}");
}

#[test]
fn a_future_hire_waits_for_midnight_of_its_hire_date_in_the_contract_zone() {
    let Plan::WaitUntil { at, .. } = plan_for(&[("hireDate", "2026-12-01")], None, ManagerRef::None) else {
        panic!()
    };
    assert_eq!(
        at.to_string(),
        "2026-11-30T23:00:00Z",
        "midnight in Europe/Berlin"
    );
    let today = plan_for(&[("hireDate", "2026-11-22")], None, ManagerRef::None);
    let Plan::Create { enrol, .. } = today else {
        panic!("{today:?}")
    };
    assert!(enrol.contains(&"Onboarding".to_string()));
}

#[test]
fn a_manager_not_yet_synced_is_waited_for_or_left_alone() {
    let waits = plan_for(
        &[("supervisorEId", "7")],
        None,
        ManagerRef::NotSynced { coming: true },
    );
    assert_eq!(
        waits,
        Plan::WaitForManager {
            manager_id: "7".into()
        }
    );
    let Plan::Create { document, .. } = plan_for(
        &[("supervisorEId", "7")],
        None,
        ManagerRef::NotSynced { coming: false },
    ) else {
        panic!()
    };
    assert!(document[ENTERPRISE].get("manager").is_none());
    let Plan::Create { document, .. } =
        plan_for(&[("supervisorEId", "7")], None, ManagerRef::Learner("u-7".into()))
    else {
        panic!()
    };
    assert_eq!(
        document[ENTERPRISE]["manager"]["value"], "u-7",
        "the manager's learner id, not the HRIS id"
    );
}

#[test]
fn a_contract_violation_is_rejected_with_reasons_and_writes_nothing() {
    let Plan::Reject(reasons) = plan_for(
        &[("workEmail", "zoe at acme")],
        Some(&created()),
        ManagerRef::None,
    ) else {
        panic!()
    };
    let fields: Vec<_> = reasons.iter().map(|r| r.field.as_str()).collect();
    assert_eq!(fields, ["user_name", "work_email"]);
}

#[test]
fn clearing_a_preferred_name_removes_it_from_the_learner() {
    let learner = created();
    let with_nick = plan_for(&[("preferredName", "Zo")], Some(&learner), ManagerRef::None);
    let Plan::Update { document, .. } = with_nick else {
        panic!()
    };
    assert_eq!(document["nickName"], "Zo");
    let Plan::Update {
        document, changes, ..
    } = plan_for(&[], Some(&document), ManagerRef::None)
    else {
        panic!()
    };
    assert!(document.get("nickName").is_none());
    assert_eq!(changes.after["preferred_name"], Value::Null);
}
