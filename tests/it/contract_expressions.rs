//! Contract expressions end to end: the engine runs
//! `assets/contract.expressions.toml` against the sandbox, a userName computed
//! from names in every script reaches the LMS, and a reconciliation afterwards
//! (the same mapping path) finds nothing to report.

use crate::common;

use common::{Options, start};
use hrsync::connectors::Notifier;
use hrsync::engine::reconcile::{Reconciler, RunResult};

use hrsync::contract::map::map_employee;
use hrsync::contract::parse;
use hrsync::contract::reports::Counted;
use serde_json::{Map, Value as Json, json};

const EXPRESSIONS: &str = include_str!("../../assets/contract.expressions.toml");

/// The contract's userName, written out here independently of the engine:
/// the names in ASCII, lower case, without spaces.
fn user_name(first: &str, last: &str) -> String {
    let ascii = any_ascii::any_ascii(&format!("{first}.{last}")).to_lowercase();
    ascii.split_whitespace().collect::<String>() + "@acme.com"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_computed_user_name_reaches_the_lms_and_a_reconciliation_finds_nothing() {
    let world = start(Options {
        contract: Some(EXPRESSIONS),
        employees: 150,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let hris = world.hris().await;
    let learners = world.learners().await;
    let mut checked = 0;
    let mut scripts = std::collections::BTreeSet::new();
    for (id, employee) in &hris {
        let Some(learner) = learners.get(id) else {
            continue;
        };
        let (first, last) = (
            employee["firstName"].as_str().unwrap(),
            employee["lastName"].as_str().unwrap(),
        );
        assert_eq!(
            learner["userName"].as_str(),
            Some(user_name(first, last).as_str()),
            "employee {id}: {employee}\nlearner {learner}"
        );
        let preferred = employee["preferredName"]
            .as_str()
            .filter(|p| !p.trim().is_empty());
        let display = format!("{} {last}", preferred.unwrap_or(first));
        assert_eq!(
            learner["displayName"].as_str(),
            Some(display.as_str()),
            "employee {id}"
        );
        if !first.is_ascii() {
            scripts.insert(first.chars().find(|c| !c.is_ascii()).map(|c| u32::from(c) >> 8));
        }
        checked += 1;
    }
    assert!(
        checked > 100,
        "only {checked} learners of {} employees",
        hris.len()
    );
    assert!(scripts.len() >= 5, "names in few scripts: {scripts:?}");

    let c = &world.config;
    let reconciler = Reconciler {
        store: world.store().clone(),
        contract: world.engine().contract.clone(),
        connections: hrsync::engine::connect::connect(c, world.store()).await.unwrap(),
        notifier: Notifier::new(None),
        progress: Default::default(),
    };
    let run = match reconciler.run("test").await.unwrap() {
        RunResult::Complete { run } => run,
        other => panic!("the run did not complete: {other:?}"),
    };
    let items = world.store().drift_items_page(run.id, None, 0, 50).unwrap();
    assert_eq!(
        run.total(),
        0,
        "findings after a sync by the expressions contract: {items:#?}"
    );
}

/// The console's editor applies through the engine handle: a contract whose
/// expression is broken is refused with the line and column, and the contract
/// in force stays (nothing requested of the engine, the same contract running).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_expression_is_refused_and_the_contract_in_force_stays() {
    use hrsync::engine::operator::handle::{ContractVerdict, EngineHandle};
    let world = start(Options {
        contract: Some(EXPRESSIONS),
        employees: 20,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let handle = EngineHandle::in_process(world.engine(), None).with_operator("on-call");
    let before = handle.contract_text().unwrap();
    let broken = EXPRESSIONS.replacen("hris.lastName)), \" \"", "hris.lastNme)), \" \"", 1);
    assert_ne!(broken, EXPRESSIONS);
    let ContractVerdict::Refused(problems) = handle.apply_contract(&broken).unwrap() else {
        panic!("a broken expression was applied");
    };
    let at = broken.find("lastNme").unwrap();
    let line = broken[..at].matches('\n').count() + 1;
    let column = at - broken[..at].rfind('\n').unwrap();
    assert_eq!(
        problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [format!(
            "line {line}, column {column}: field \"user_name\": hris_expr: hris.lastNme is not an HRIS \
             field the contract reads (a [[field]]'s `hris`)"
        )]
    );
    assert_eq!(handle.contract_text().unwrap(), before);
    assert!(
        world
            .engine()
            .contract
            .read()
            .field("user_name")
            .unwrap()
            .expr
            .is_some()
    );
    assert_eq!(world.store().contract_requested().unwrap(), None);
}

/// Every name the sandbox writes, in each of its scripts, through the contract
/// (the contract layer may not name the sandbox, so this lives here).
#[test]
fn every_sandbox_name_becomes_an_ascii_login_through_the_contract() {
    let contract = parse(EXPRESSIONS).unwrap();
    let record = |first: &str, last: &str| -> Map<String, Json> {
        json!({
            "id": "7", "employeeNumber": "E7", "workEmail": "a@acme.example",
            "firstName": first, "lastName": last,
            "employmentHistoryStatus": "Full-Time", "employmentStatus": "Active",
            "hireDate": "2020-01-15",
        })
        .as_object()
        .unwrap()
        .clone()
    };
    for locale in hrsync::sandbox::world::names::LOCALES {
        for ((first, _), (last, _)) in locale.given.iter().zip(locale.family.iter().cycle()) {
            let record = record(first, last);
            // As the sync maps it (the "people manager" trigger reads `reports`).
            let counted = Counted {
                record: &record,
                reports: Some(0),
            };
            let mapped = map_employee(&contract, &counted).unwrap();
            assert!(
                mapped.problems.is_empty(),
                "{first} {last}: {:?}",
                mapped.problems
            );
            let user_name = mapped.lms.iter().find(|v| v.field == "user_name").unwrap();
            let user_name = user_name.value.as_str().unwrap();
            assert!(
                user_name.is_ascii()
                    && user_name.ends_with("@acme.com")
                    && !user_name.starts_with('.')
                    && !user_name.contains(".@"),
                "{} {first} {last}: {user_name}",
                locale.tag
            );
            let display = mapped.lms.iter().find(|v| v.field == "display_name").unwrap();
            assert_eq!(display.value.as_str(), Some(format!("{first} {last}").as_str()));
        }
    }
    let cases = [
        ("Jürgen", "Müller", "jurgen.muller@acme.com"),
        ("Ελένη", "Μακρή", "eleni.makri@acme.com"),
        ("Йорданка", "Петрова", "yordanka.petrova@acme.com"),
        ("मरियम", "गुप्ता", "mriym.gupta@acme.com"),
        ("فاطمة", "المنصوري", "ftmh.lmnswry@acme.com"),
        ("田中", "太郎", "tianzhong.tailang@acme.com"),
        ("Liam", "O'Connor", "liam.o'connor@acme.com"),
    ];
    for (first, last, want) in cases {
        let record = record(first, last);
        let mapped = map_employee(&contract, &record).unwrap();
        let user_name = mapped.lms.iter().find(|v| v.field == "user_name").unwrap();
        assert_eq!(user_name.value.as_str(), Some(want), "{first} {last}");
    }
}

/// The scope rule `days_between(today, date(hris.hireDate)) <= 14` pre-provisions:
/// of the sandbox's new hires, one starting within 14 days has an active learner
/// now, one starting later has none and its change waits for the day 14 days
/// before the hire; a reconciliation afterwards finds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_hire_is_pre_provisioned_fourteen_days_ahead_and_not_fifteen() {
    let world = start(Options {
        contract: Some(EXPRESSIONS),
        employees: 40,
        ..Options::default()
    })
    .await;
    world.settle().await;
    // One hire in ten starts 1 to 30 days ahead.
    world.churn(json!([{ "kind": "hire", "count": 80 }])).await;
    world.webhooks_delivered().await;
    world.settle().await;
    let today = common::today();
    let hris = world.hris().await;
    let learners = world.learners().await;
    let (mut within, mut beyond) = (0, 0);
    for (id, e) in &hris {
        let hired: jiff::civil::Date = e["hireDate"].as_str().unwrap().parse().unwrap();
        let ahead = (hired - today).get_days();
        let in_scope = matches!(
            e["employmentHistoryStatus"].as_str(),
            Some("Full-Time" | "Part-Time")
        ) && e["employmentStatus"] == "Active"
            && e["department"] != "Board";
        // A suspected duplicate waits for an operator, whatever its hire date.
        if ahead <= 0 || !in_scope || world.events_of(id).contains(" held ") {
            continue;
        }
        let learner = learners.get(id);
        if ahead <= 14 {
            within += 1;
            let learner =
                learner.unwrap_or_else(|| panic!("{id} starts in {ahead} days: {}", world.events_of(id)));
            assert_eq!(learner["active"], true, "{id}");
        } else {
            beyond += 1;
            assert!(learner.is_none(), "{id} starts in {ahead} days: {learner:?}");
            let waiting = world.events_of(id);
            let from = hired.checked_sub(jiff::Span::new().days(14)).unwrap();
            assert!(
                waiting.contains(&format!("the scope rules hold from {from}")),
                "{id}: {waiting}"
            );
        }
    }
    assert!(
        within > 0 && beyond > 0,
        "future hires: {within} within 14 days, {beyond} beyond"
    );
    world.assert_reconciles_clean().await;
}
