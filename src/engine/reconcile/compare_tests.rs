//! The packed comparison against the plain one: the same findings as each HRIS
//! record (a JSON object) and its learner (a SCIM document) judged one by one.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use super::*;
use crate::connectors::roles::ScimUser;
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

/// Generated employees, some spoiled, and the learners a clean sync made of
/// them, some spoiled, listed in `listed` order; a few learners carry another's
/// employee id (the later one wins the join).
fn spoiled(seed: u64, employees: usize, listed: Listed) -> (Vec<Map<String, Value>>, Vec<ScimUser>) {
    let contract = contract();
    let today = today();
    let workforce = generate(&WorkforceSpec {
        employees,
        seed,
        today,
        // Fixed, so lists made twice are the same.
        generated_at: jiff::Timestamp::from_second(1_764_028_800).expect("a time"),
    });
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut records, mut users) = (Vec::new(), Vec::new());
    for employee in &workforce.employees {
        let clean = employee.to_json();
        let mut record = clean.clone();
        if rng.random_bool(0.3) {
            spoil_employee(&mut record, &mut rng);
        }
        records.push(record);
        // The learner a clean sync made of the record before it was spoiled.
        let Ok(mapped) = map_employee(&contract, &clean) else {
            continue;
        };
        let manager = match &mapped.manager_id {
            Some(id) => ManagerRef::Learner(format!("u-{id}").into()),
            None => ManagerRef::None,
        };
        if let Plan::Create {
            mut document, enrol, ..
        } = plan(&contract, &mapped, None, &manager, today)
        {
            document["groups"] = enrol.iter().map(|g| json!({ "display": g })).collect();
            if rng.random_bool(0.3) {
                spoil_learner(&mut document, &mut rng);
            }
            if rng.random_bool(0.01) {
                document["externalId"] = json!(format!("{}", rng.random_range(1..employees)));
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
    (records, users)
}

fn contract() -> Contract {
    crate::contract::parse(include_str!("../../../assets/contract.toml")).unwrap()
}

fn today() -> Date {
    jiff::civil::date(2026, 11, 25)
}

/// Both lists packed; each column interns at most `interned` values.
fn packed(records: &[Map<String, Value>], users: &[ScimUser], interned: Option<usize>) -> Vec<Finding> {
    let contract = contract();
    let mut employees = Employees::new(&hris_fields(&contract));
    let mut learners = Learners::new(&contract);
    if let Some(limit) = interned {
        employees.rows.share_at_most(limit);
        learners.rows.share_at_most(limit);
    }
    records.iter().for_each(|r| employees.push(r));
    users.iter().for_each(|u| learners.push(u));
    sorted(compare(&contract, &employees, &learners, today()))
}

/// A learner as the LMS sent it.
struct Plain<'a>(&'a ScimUser);

impl LearnerState for Plain<'_> {
    fn active(&self) -> bool {
        self.0.resource.active()
    }

    fn current(&self, wanted: &LmsValue<'_>) -> Current<'_> {
        self.0.resource.current(wanted)
    }
}

impl Learner for Plain<'_> {
    fn id(&self) -> &str {
        &self.0.id
    }

    fn in_group(&self, group: &str) -> bool {
        (self.0.resource["groups"].as_array())
            .is_some_and(|groups| groups.iter().any(|g| g["display"] == group))
    }

    fn groups(&self) -> Vec<&str> {
        (self.0.resource["groups"].as_array()).map_or_else(Vec::new, |groups| {
            groups.iter().filter_map(|g| g["display"].as_str()).collect()
        })
    }
}

/// The same comparison without packing: each record as JSON, each learner as
/// its document, joined through a plain map.
fn plain(records: &[Map<String, Value>], users: &[ScimUser]) -> Vec<Finding> {
    let contract = contract();
    let columns = hris_fields(&contract);
    let key = &contract.key_field().hris;
    let id_of = |value: &Value| match value {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for (at, user) in users.iter().enumerate() {
        if let Some(id) = user
            .resource
            .get("externalId")
            .and_then(id_of)
            .filter(|id| !id.is_empty())
        {
            by_id.insert(id, at);
        }
    }
    let mut listed = vec![false; users.len()];
    let mut findings = Vec::new();
    for record in records {
        let Some(employee_id) = record.get(key).and_then(id_of) else {
            continue;
        };
        let learner = by_id.get(&employee_id).map(|&at| {
            listed[at] = true;
            Plain(&users[at])
        });
        let detail = || -> Map<String, Value> {
            (columns.iter())
                .map(|c| (c.to_string(), record.get(*c).cloned().unwrap_or(Value::Null)))
                .collect()
        };
        let manager = |id: &str| by_id.get(id).map(|&at| users[at].id.as_str());
        judge(
            &contract,
            record,
            &employee_id,
            learner.as_ref(),
            manager,
            today(),
            detail,
            &mut findings,
        );
    }
    for (at, user) in users.iter().enumerate() {
        let r = &user.resource;
        let external = r.get("externalId").and_then(id_of).unwrap_or_default();
        let hidden_by_listed = by_id.get(&external).is_some_and(|&winner| listed[winner]);
        if listed[at] || hidden_by_listed || r["active"] == json!(false) {
            continue;
        }
        let mut summary = Map::new();
        for (name, value) in [
            ("userName", &r["userName"]),
            ("externalId", &r["externalId"]),
            ("givenName", &r["name"]["givenName"]),
            ("familyName", &r["name"]["familyName"]),
            ("email", &r["emails"][0]["value"]),
            ("active", &r["active"]),
        ] {
            if !value.is_null() {
                summary.insert(name.into(), value.clone());
            }
        }
        findings.push(without_employee(
            &external,
            Some(&user.id),
            r["userName"].as_str(),
            summary,
        ));
    }
    sorted(findings)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn the_packed_comparison_finds_exactly_what_the_plain_one_finds(
        seed in any::<u64>(),
        listed in prop_oneof![Just(Listed::AsSynced), Just(Listed::Reversed), Just(Listed::Shuffled)],
        interned in prop_oneof![Just(None), Just(Some(6))],
    ) {
        let (records, users) = spoiled(seed, 600, listed);
        let (packed, plain) = (packed(&records, &users, interned), plain(&records, &users));
        prop_assert_eq!(packed.len(), plain.len());
        for (packed, plain) in packed.iter().zip(&plain) {
            prop_assert_eq!(packed, plain);
        }
    }
}

#[test]
fn a_spoiled_world_shows_every_kind_of_difference() {
    let (records, users) = spoiled(11, 3_000, Listed::Shuffled);
    let found = packed(&records, &users, None);
    assert_eq!(found, plain(&records, &users));
    for category in [
        DriftCategory::EmployeeWithoutLearner,
        DriftCategory::LearnerWithoutEmployee,
        DriftCategory::TerminatedButActive,
        DriftCategory::FieldDrift,
        DriftCategory::WrongGroups,
    ] {
        let count = found.iter().filter(|f| f.category == category).count();
        assert!(count >= 3, "{category:?}: {count} findings");
    }
}
