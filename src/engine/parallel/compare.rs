//! The pure half of a parallel-run day: the legacy process's learners against
//! hrsync's, both as feed rows (`csv_files::FeedLearner`), joined on employee id.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use serde::Serialize;
use serde_json::Value;

use crate::connectors::csv_files::{ACTIVE, FeedLearner, GROUPS};
use crate::contract::Contract;
use crate::contract::map::{FieldSource, Wanted, map_employee};
use crate::contract::reports::{Counted, ReportCounts};
use crate::contract::triggers::groups_for;
use crate::model::parallel::{Difference, LEARNER};

/// One day's comparison: counts and every difference, by employee then field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comparison {
    pub legacy_learners: u64,
    pub hrsync_learners: u64,
    /// Employees both sides have with no difference at all.
    pub matching: u64,
    /// Legacy rows without an employee id (they cannot be joined).
    pub legacy_without_id: u64,
    pub differences: Vec<Difference>,
}

/// The learners hrsync's contract wants for these HRIS records today, as feed
/// rows: every record the contract places in scope and would write (a future
/// hire's learner waits for the hire date; a refused record is never written).
/// Values are keyed by contract field name, the employee id under `key`.
pub fn desired<'r, R: FieldSource + ?Sized + 'r>(
    contract: &Contract,
    records: impl IntoIterator<Item = &'r R> + Clone,
    today: Date,
) -> Vec<FeedLearner> {
    let key = contract.key_field().name.clone();
    let mut learners = Vec::new();
    let counts = ReportCounts::of_list(contract, records.clone());
    for record in records {
        let record = Counted {
            reports: counts.as_ref().map(|c| c.of_record(contract, record)),
            record,
        };
        let Ok(mapped) = map_employee(contract, &record) else {
            continue;
        };
        let active = mapped.should_be_active(contract);
        if !mapped.in_scope || mapped.hired_later(today).is_some() || (active && !mapped.problems.is_empty())
        {
            continue;
        }
        let mut values = BTreeMap::new();
        for wanted in &mapped.lms {
            let text = match &wanted.value {
                Wanted::Null => continue,
                Wanted::Text(text) => text.to_string(),
                Wanted::Number(number) => number.to_string(),
                Wanted::Bool(flag) => flag.to_string(),
            };
            if !text.is_empty() {
                values.insert(wanted.field.to_string(), text);
            }
        }
        values.insert(key.clone(), mapped.employee_id.to_string());
        learners.push(FeedLearner {
            values,
            active,
            groups: groups_for(contract, &mapped, today),
        });
    }
    learners
}

/// The learners hrsync wrote, as feed rows: each LMS user (`id`, SCIM resource)
/// read at the contract fields' SCIM paths, with the groups `groups_of` lists
/// for its id. Values are keyed by contract field name, as `desired` keys them.
pub fn written<'u>(
    contract: &Contract,
    users: impl IntoIterator<Item = (&'u str, &'u Value)>,
    groups_of: &BTreeMap<String, Vec<String>>,
) -> Vec<FeedLearner> {
    let mut learners = Vec::new();
    for (id, resource) in users {
        let mut values = BTreeMap::new();
        for rule in &contract.fields {
            let Some(path) = &rule.scim_path else { continue };
            let text = match path.get(resource) {
                Some(Value::String(text)) => text.clone(),
                Some(Value::Number(number)) => number.to_string(),
                Some(Value::Bool(flag)) => flag.to_string(),
                _ => continue,
            };
            if !text.is_empty() {
                values.insert(rule.name.clone(), text);
            }
        }
        learners.push(FeedLearner {
            values,
            active: resource.get("active") != Some(&Value::Bool(false)),
            groups: groups_of.get(id).cloned().unwrap_or_default(),
        });
    }
    learners
}

/// Compares the legacy rows with hrsync's on the columns the legacy file has
/// (`fields`: contract field names, `active` and `groups` among them or not),
/// joined on `key`. Groups compare as sets; `separator` joins them for display.
/// An employee only one side has, inactive there, is no difference: both sides
/// give them no active learner.
pub fn compare(
    key: &str,
    fields: &[&str],
    separator: &str,
    legacy: &[FeedLearner],
    hrsync: &[FeedLearner],
) -> Comparison {
    let by_id = |rows: &'_ [FeedLearner]| -> BTreeMap<String, usize> {
        (rows.iter().enumerate())
            .filter_map(|(at, row)| Some((row.values.get(key)?.trim().to_string(), at)))
            .filter(|(id, _)| !id.is_empty())
            .collect()
    };
    let (ours, theirs) = (by_id(hrsync), by_id(legacy));
    let mut comparison = Comparison {
        legacy_learners: theirs.len() as u64,
        hrsync_learners: ours.len() as u64,
        matching: 0,
        legacy_without_id: (legacy.len() - theirs.len()) as u64,
        differences: Vec::new(),
    };
    let ids: BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    for id in ids {
        let found = comparison.differences.len();
        let presence = |side: Option<&usize>| side.map(|_| "present".to_string());
        match (theirs.get(id), ours.get(id)) {
            (Some(&l), Some(&h)) => {
                let (l, h) = (&legacy[l], &hrsync[h]);
                for &field in fields.iter().filter(|&&f| f != key) {
                    let (a, b) = match field {
                        ACTIVE => (Some(l.active.to_string()), Some(h.active.to_string())),
                        GROUPS => (groups(&l.groups, separator), groups(&h.groups, separator)),
                        _ => (value(l, field), value(h, field)),
                    };
                    if a != b {
                        comparison.differences.push(Difference {
                            employee_id: id.clone(),
                            field: field.to_string(),
                            legacy: a,
                            hrsync: b,
                        });
                    }
                }
            }
            // An inactive learner on one side and none on the other agree: nobody
            // is in the LMS for this employee (a leaver hrsync never created, say).
            (Some(&l), None) if !legacy[l].active => continue,
            (None, Some(&h)) if !hrsync[h].active => continue,
            (l, h) => comparison.differences.push(Difference {
                employee_id: id.clone(),
                field: LEARNER.to_string(),
                legacy: presence(l),
                hrsync: presence(h),
            }),
        }
        if comparison.differences.len() == found {
            comparison.matching += 1;
        }
    }
    comparison
}

/// A value as compared: trimmed, an empty one the same as none.
fn value(row: &FeedLearner, field: &str) -> Option<String> {
    (row.values.get(field))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Group names as a sorted set, joined; no groups is none.
fn groups(names: &[String], separator: &str) -> Option<String> {
    let set: BTreeSet<&str> = names.iter().map(|g| g.trim()).filter(|g| !g.is_empty()).collect();
    (!set.is_empty()).then(|| set.into_iter().collect::<Vec<_>>().join(separator))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, department: &str, active: bool, groups: &[&str]) -> FeedLearner {
        FeedLearner {
            values: [("employee_id", id), ("department", department)]
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            active,
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    const FIELDS: &[&str] = &["employee_id", "department", "active", "groups"];

    #[test]
    fn equal_sides_have_no_differences_and_groups_compare_as_sets() {
        let ours = [row("1", "Sales", true, &["a", "b"]), row("2", "Ops", false, &[])];
        let theirs = [
            row("2", " Ops ", false, &[]),
            row("1", "Sales", true, &["b", "a"]),
        ];
        let c = compare("employee_id", FIELDS, "|", &theirs, &ours);
        assert_eq!(c.differences, []);
        assert_eq!((c.legacy_learners, c.hrsync_learners, c.matching), (2, 2, 2));
    }

    #[test]
    fn each_difference_carries_both_values() {
        let ours = [
            row("1", "Sales", true, &["a"]),
            row("2", "Ops", true, &[]),
            row("3", "HR", true, &[]),
        ];
        let theirs = [
            row("1", "Sales", false, &["a", "c"]),
            row("2", "Finance", true, &[]),
            row("4", "HR", true, &[]),
        ];
        let c = compare("employee_id", FIELDS, "|", &theirs, &ours);
        let d = |id: &str, field: &str, legacy: Option<&str>, hrsync: Option<&str>| Difference {
            employee_id: id.into(),
            field: field.into(),
            legacy: legacy.map(Into::into),
            hrsync: hrsync.map(Into::into),
        };
        assert_eq!(
            c.differences,
            [
                d("1", "active", Some("false"), Some("true")),
                d("1", "groups", Some("a|c"), Some("a")),
                d("2", "department", Some("Finance"), Some("Ops")),
                d("3", LEARNER, None, Some("present")),
                d("4", LEARNER, Some("present"), None),
            ]
        );
        assert_eq!(c.matching, 0);
    }

    #[test]
    fn an_inactive_learner_one_side_has_agrees_with_none() {
        let ours = [row("1", "Sales", false, &[])];
        let theirs = [row("2", "Ops", false, &[])];
        let c = compare("employee_id", FIELDS, "|", &theirs, &ours);
        assert_eq!((c.differences.len(), c.matching), (0, 0));
        let theirs = [row("2", "Ops", true, &[])];
        let c = compare("employee_id", FIELDS, "|", &theirs, &ours);
        assert_eq!(c.differences.len(), 1);
    }

    #[test]
    fn a_legacy_row_without_an_id_is_counted_not_joined() {
        let theirs = [row("", "Sales", true, &[])];
        let c = compare("employee_id", FIELDS, "|", &theirs, &[]);
        assert_eq!(
            (c.legacy_without_id, c.legacy_learners, c.differences.len()),
            (1, 0, 0)
        );
    }
}

#[cfg(test)]
mod written_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_lms_user_reads_at_the_contract_paths_with_its_groups() {
        let contract = crate::contract::parse(include_str!("../../../assets/contract.toml")).unwrap();
        let user = json!({
            "id": "u1",
            "externalId": "E7",
            "active": false,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "department": "Ops" },
        });
        let groups = BTreeMap::from([("u1".to_string(), vec!["onboarding".to_string()])]);
        let learners = written(&contract, [("u1", &user)], &groups);
        assert_eq!(learners.len(), 1);
        let learner = &learners[0];
        assert_eq!(learner.values.get("employee_id").map(String::as_str), Some("E7"));
        assert_eq!(learner.values.get("department").map(String::as_str), Some("Ops"));
        assert!(!learner.active);
        assert_eq!(learner.groups, ["onboarding"]);
        let active = written(&contract, [("u2", &json!({ "externalId": "E8" }))], &groups);
        assert!(active[0].active && active[0].groups.is_empty());
    }
}
