use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use super::*;
use crate::connectors::ScimUser;
use crate::engine::apply::plan::plan;
use crate::engine::intake::initial_load::hris_fields;
use crate::sandbox::world::{WorkforceSpec, generate};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Something an HRIS may send that a clean learner does not match, or that the
/// contract refuses.
fn spoil_employee(record: &mut Map<String, Value>, rng: &mut ChaCha8Rng) {
    let (field, value) = match rng.random_range(0..29) {
        0 => (
            "workEmail",
            json!(record["workEmail"].as_str().unwrap_or("").to_uppercase()),
        ),
        1 => (
            "workEmail",
            json!(format!("  {}  ", record["workEmail"].as_str().unwrap_or(""))),
        ),
        2 => ("workEmail", json!("not-an-address")),
        3 => ("workEmail", Value::Null),
        4 => ("employmentStatus", json!("active")),
        5 => ("employmentStatus", json!("Terminated")),
        6 => ("employmentStatus", json!("On Leave")),
        7 => ("employmentStatus", json!("Retired")),
        8 => ("employmentHistoryStatus", json!("contractor")),
        9 => ("employmentHistoryStatus", json!(" full-time ")),
        10 => ("hireDate", json!("2027-03-01")),
        11 => ("hireDate", json!("0000-00-00")),
        12 => ("hireDate", json!("2026-11-20")),
        13 => ("hireDate", json!(" 2019-04-02")),
        // The last hire day the onboarding trigger catches, and the first it misses
        // (today is 2026-11-25).
        24 => ("hireDate", json!("2026-10-26")),
        25 => ("hireDate", json!("2026-10-25")),
        14 => ("department", json!("Information Technology")),
        15 => ("department", json!("")),
        16 => ("preferredName", json!("   ")),
        17 => ("jobTitle", json!("Head of Sales")),
        18 => ("jobTitle", json!(7)),
        19 => ("location", Value::Null),
        20 => ("location", json!("Zürich")),
        21 => ("supervisorEId", json!("999999")),
        22 => ("supervisorEId", Value::Null),
        // Refused text: an escape sequence, a C1 control, one character too long.
        26 => ("firstName", json!("Ana\u{1b}]52;c;aGk=\u{7}")),
        27 => ("lastName", json!("Li\u{9b}2J")),
        28 => (
            "jobTitle",
            json!("x".repeat(crate::contract::DEFAULT_MAX_LENGTH + 1)),
        ),
        _ => ("firstName", json!("Ærø ")),
    };
    record.insert(field.into(), value);
}

/// Something a learner may hold that its employee's record does not say.
fn spoil_learner(document: &mut Value, rng: &mut ChaCha8Rng) {
    let keep_groups = |document: &mut Value, keep: fn(&str) -> bool| {
        if let Some(groups) = document["groups"].as_array_mut() {
            groups.retain(|g| keep(g["display"].as_str().unwrap_or("")));
        }
    };
    match rng.random_range(0..18) {
        0 => document["active"] = json!(false),
        1 => document[ENTERPRISE]["department"] = json!("Elsewhere"),
        2 => document["userName"] = json!(document["userName"].as_str().unwrap_or("").to_uppercase()),
        3 => document["title"] = json!(5),
        4 => document["nickName"] = json!(""),
        5 => document["nickName"] = json!("Someone"),
        6 => document["groups"] = json!([]),
        7 => document["groups"] = json!([{ "display": "Leadership" }]),
        8 => document[ENTERPRISE]["manager"] = json!({ "value": "u-other" }),
        // A manager no other learner has (so never among the values stored once).
        15 => document[ENTERPRISE]["manager"] = json!({ "value": format!("u-{}", rng.random::<u64>()) }),
        9 => document[ENTERPRISE]["costCenter"] = Value::Null,
        10 => document["name"]["givenName"] = json!(null),
        11 => document["externalId"] = json!(""),
        12 => document["active"] = json!("false"),
        // Another work email, the userName (read from the same HRIS field) kept.
        16 => {
            if let Some(email) = document["emails"].get_mut(0) {
                email["value"] = json!("someone.else@acme.example");
            }
        }
        // One trigger's group missing, the others there.
        13 => keep_groups(document, |g| g.starts_with("Compliance ")),
        14 => keep_groups(document, |g| !g.starts_with("Compliance ")),
        _ => {
            if let Some(object) = document.as_object_mut() {
                object.remove("title");
            }
        }
    }
}

fn sorted(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.sort_by(|a, b| {
        (&a.employee_id, a.category as u8, &a.field, &a.learner_id).cmp(&(
            &b.employee_id,
            b.category as u8,
            &b.field,
            &b.learner_id,
        ))
    });
    findings
}

/// The order the LMS lists its learners in.
#[derive(Clone, Copy, Debug)]
enum Listed {
    /// As they were synced: the HRIS's order.
    AsSynced,
    Reversed,
    Shuffled,
}

/// 3,000 generated employees, some spoiled, and the learners a clean sync made
/// of them, some spoiled, listed in `listed` order; each column stores `shared`
/// values once before checking they repeat (and past them goes on if they do
/// and the flag says so).
fn spoiled_lists(
    contract: &Contract,
    today: Date,
    shared: Option<(usize, bool)>,
    listed: Listed,
) -> (Employees, Learners) {
    let workforce = generate(&WorkforceSpec {
        employees: 3_000,
        seed: 11,
        today,
        // Fixed, so lists made twice are the same.
        generated_at: jiff::Timestamp::from_second(1_764_028_800).expect("a time"),
    });
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut employees = Employees::new(&hris_fields(contract));
    let mut learners = Learners::new(contract);
    let mut users = Vec::new();
    if let Some((limit, repeating)) = shared {
        employees.rows.share_at_most(limit, repeating);
        learners.rows.share_at_most(limit, repeating);
    }
    for employee in &workforce.employees {
        let clean = employee.to_json();
        let mut record = clean.clone();
        if rng.random_bool(0.3) {
            spoil_employee(&mut record, &mut rng);
        }
        employees.push(&record);
        // The learner a clean sync made of the record before it was spoiled.
        let Ok(mapped) = map_employee(contract, &clean) else {
            continue;
        };
        let manager = match &mapped.manager_id {
            Some(id) => ManagerRef::Learner(format!("u-{id}")),
            None => ManagerRef::None,
        };
        if let Plan::Create {
            mut document, enrol, ..
        } = plan(contract, &mapped, None, &manager, today)
        {
            document["groups"] = enrol.iter().map(|g| json!({ "display": g })).collect();
            if rng.random_bool(0.3) {
                spoil_learner(&mut document, &mut rng);
            }
            users.push(ScimUser {
                id: format!("u-{}", mapped.employee_id),
                etag: None,
                resource: document,
            });
        }
    }
    match listed {
        Listed::AsSynced => {}
        Listed::Reversed => users.reverse(),
        Listed::Shuffled => rand::seq::SliceRandom::shuffle(users.as_mut_slice(), &mut rng),
    }
    for user in &users {
        learners.push(user);
    }
    (employees, learners)
}

#[test]
fn the_quick_proof_finds_exactly_what_the_full_mapping_finds() {
    let contract = crate::contract::parse(include_str!("../../../assets/contract.toml")).unwrap();
    let today = jiff::civil::date(2026, 11, 25);
    // Every value stored once (all these columns have fewer distinct values than
    // the limit); then only the first few of each column, so the quick proof
    // compares shared indices for the first and text for the rest; then the
    // first few and past them the values of columns that repeat (the managers,
    // the hire dates), whose cells hold their text as well.
    let mut full = Vec::new();
    for shared in [None, Some((6, false)), Some((6, true))] {
        let (employees, learners) = spoiled_lists(&contract, today, shared, Listed::AsSynced);
        let quick = sorted(compare_with(&contract, &employees, &learners, today, true));
        full = sorted(compare_with(&contract, &employees, &learners, today, false));
        assert_eq!(quick.len(), full.len(), "sharing at most {shared:?}");
        for (quick, full) in quick.iter().zip(&full) {
            assert_eq!(quick, full, "sharing at most {shared:?}");
        }
    }
    // Every kind of difference was there to be found (the test spoils enough).
    for category in [
        DriftCategory::EmployeeWithoutLearner,
        DriftCategory::LearnerWithoutEmployee,
        DriftCategory::TerminatedButActive,
        DriftCategory::FieldDrift,
        DriftCategory::WrongGroups,
    ] {
        let found = full.iter().filter(|f| f.category == category).count();
        assert!(found >= 3, "{category:?}: {found} findings");
    }
}

#[test]
fn the_order_the_lms_lists_learners_in_changes_no_finding() {
    // The join tries the learner after the last one found first; listed in any
    // other order, every employee must still meet its own learner.
    let contract = crate::contract::parse(include_str!("../../../assets/contract.toml")).unwrap();
    let today = jiff::civil::date(2026, 11, 25);
    let found = |listed| {
        let (employees, learners) = spoiled_lists(&contract, today, None, listed);
        sorted(compare(&contract, &employees, &learners, today))
    };
    let as_synced = found(Listed::AsSynced);
    assert!(as_synced.len() > 100, "{} findings", as_synced.len());
    for listed in [Listed::Reversed, Listed::Shuffled] {
        let other = found(listed);
        assert_eq!(other.len(), as_synced.len(), "{listed:?}");
        for (other, as_synced) in other.iter().zip(&as_synced) {
            assert_eq!(other, as_synced, "{listed:?}");
        }
    }
}
