//! The pure half of a reconciliation run: given both full lists (and the group
//! memberships the learners show), which differences are there? Every finding
//! carries what a fix needs (the HRIS record).

use std::collections::{HashMap, HashSet};

use jiff::civil::Date;
use serde_json::{Map, Value, json};

use crate::connectors::ScimUser;
use crate::contract::Contract;
use crate::contract::map::{EmploymentState, map_employee};
use crate::engine::plan::{ManagerRef, Plan, groups_for, plan};
use crate::model::identity::normalise_email;
use crate::model::{DriftCategory, DuplicateBasis, DuplicateSide};
use crate::store::{DuplicateMember, Finding, SuspectedGroup};

fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn is_active(user: &ScimUser) -> bool {
    user.resource.get("active") != Some(&Value::Bool(false))
}

/// The groups (by display name) a learner is a member of, as the LMS shows it.
fn groups_of(user: &ScimUser) -> HashSet<String> {
    user.resource["groups"]
        .as_array()
        .map(|groups| {
            groups
                .iter()
                .filter_map(|g| g["display"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Compares the HRIS's employees with the LMS's learners under `contract`.
pub fn compare(
    contract: &Contract,
    employees: &[Map<String, Value>],
    learners: &[ScimUser],
    today: Date,
) -> Vec<Finding> {
    let by_employee: HashMap<&str, &ScimUser> = learners
        .iter()
        .filter_map(|u| Some((u.resource["externalId"].as_str()?, u)))
        .collect();
    let id_field = &contract.key_field().hris;
    let mut findings = Vec::new();
    let mut listed = HashSet::with_capacity(employees.len());
    for record in employees {
        let Some(employee_id) = record.get(id_field).and_then(text) else {
            continue;
        };
        listed.insert(employee_id.clone());
        // A record the contract refuses is in the error queue already, not drift.
        let Ok(mapped) = map_employee(contract, record) else {
            continue;
        };
        let learner = by_employee.get(employee_id.as_str()).copied();
        let manager = match &mapped.manager_id {
            Some(id) => match by_employee.get(id.as_str()) {
                Some(user) => ManagerRef::Learner(user.id.clone()),
                None => ManagerRef::NotSynced { coming: false },
            },
            None => ManagerRef::None,
        };
        let finding = |category, field: &str, hris: Option<String>, lms: Option<String>| Finding {
            category,
            employee_id: employee_id.clone(),
            learner_id: learner.map(|u| u.id.clone()),
            field: field.to_string(),
            hris_value: hris,
            lms_value: lms,
            detail: json!({ "record": record }),
        };
        match plan(contract, &mapped, learner.map(|u| &u.resource), &manager, today) {
            Plan::Create { .. } => findings.push(finding(
                DriftCategory::EmployeeWithoutLearner,
                "",
                Some("active employee".into()),
                None,
            )),
            Plan::Update {
                deactivates: true, ..
            } if mapped.state == EmploymentState::Terminated => findings.push(finding(
                DriftCategory::TerminatedButActive,
                "active",
                Some("terminated".into()),
                Some("active".into()),
            )),
            Plan::Update { changes, .. } => {
                for (field, after) in &changes.after {
                    let before = changes.before.get(field).cloned().unwrap_or(Value::Null);
                    findings.push(finding(
                        DriftCategory::FieldDrift,
                        field,
                        text(after),
                        text(&before),
                    ));
                }
            }
            _ => {}
        }
        if let Some(user) = learner.filter(|u| is_active(u) && mapped.should_be_active(contract)) {
            let member_of = groups_of(user);
            for group in groups_for(contract, &mapped, today) {
                if !member_of.contains(&group) {
                    findings.push(finding(
                        DriftCategory::WrongGroups,
                        &group,
                        Some(format!("member of {group}")),
                        Some("not a member".into()),
                    ));
                }
            }
        }
    }
    for user in learners.iter().filter(|u| is_active(u)) {
        let external = user.resource["externalId"].as_str().unwrap_or("");
        if external.is_empty() || !listed.contains(external) {
            findings.push(Finding {
                category: DriftCategory::LearnerWithoutEmployee,
                employee_id: if external.is_empty() {
                    "(none)".into()
                } else {
                    external.into()
                },
                learner_id: Some(user.id.clone()),
                field: String::new(),
                hris_value: None,
                lms_value: user.resource["userName"].as_str().map(str::to_string),
                detail: json!({ "learner": learner_summary(user) }),
            });
        }
    }
    findings
}

/// What an operator compares of a learner.
fn learner_summary(user: &ScimUser) -> Map<String, Value> {
    let r = &user.resource;
    let mut fields = Map::new();
    for (name, value) in [
        ("userName", &r["userName"]),
        ("externalId", &r["externalId"]),
        ("givenName", &r["name"]["givenName"]),
        ("familyName", &r["name"]["familyName"]),
        ("email", &r["emails"][0]["value"]),
        ("active", &r["active"]),
    ] {
        if !value.is_null() {
            fields.insert(name.into(), value.clone());
        }
    }
    fields
}

/// Learners sharing one normalised email (their work email, else their userName).
pub fn learner_duplicates(learners: &[ScimUser], first_seen: jiff::Timestamp) -> Vec<SuspectedGroup> {
    let mut by_email: HashMap<String, Vec<&ScimUser>> = HashMap::new();
    for user in learners {
        let email = user.resource["emails"]
            .as_array()
            .and_then(|emails| emails.iter().find_map(|e| e["value"].as_str()))
            .or_else(|| user.resource["userName"].as_str().filter(|u| u.contains('@')));
        if let Some(email) = email.map(normalise_email).filter(|e| !e.is_empty()) {
            by_email.entry(email).or_default().push(user);
        }
    }
    let mut groups: Vec<SuspectedGroup> = by_email
        .into_iter()
        .filter(|(_, users)| users.len() > 1)
        .map(|(email, users)| SuspectedGroup {
            side: DuplicateSide::Lms,
            basis: DuplicateBasis::Email,
            match_key: email,
            members: users
                .into_iter()
                .map(|u| DuplicateMember {
                    member_id: u.id.clone(),
                    employee_id: u.resource["externalId"].as_str().map(str::to_string),
                    learner_id: Some(u.id.clone()),
                    first_seen,
                    fields: learner_summary(u),
                })
                .collect(),
        })
        .collect();
    groups.sort_by(|a, b| a.match_key.cmp(&b.match_key));
    groups
}
