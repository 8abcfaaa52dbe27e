//! Contract expressions end to end: the engine runs
//! `assets/contract.expressions.toml` against the sandbox, a userName computed
//! from names in every script reaches the LMS, and a reconciliation afterwards
//! (the same mapping path) finds nothing to report; a record an expression
//! fails on goes to the error queue, named.

use crate::common;

use common::{Options, in_scope_and_employed, start};
use hrsync::connectors::Notifier;
use hrsync::engine::reconcile::{Reconciler, RunResult};

use hrsync::contract::map::map_employee;
use hrsync::contract::parse;
use hrsync::contract::reports::Counted;
use hrsync::store::{ControlPlane, DriftItems};
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

/// A hire date typed as "15/01/2020" into the HRIS: the tenure expression
/// `years_between(hris.hireDate, today)` fails on it at runtime, and the change
/// goes to the error queue (rejected), its error naming the field, the
/// expression and the value. The learner is left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hire_date_that_does_not_parse_sends_the_record_to_the_error_queue() {
    use hrsync::model::EventStatus;
    use hrsync::sandbox::hris::state::ChangeAction;
    let world = start(Options {
        contract: Some(EXPRESSIONS),
        employees: 20,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let learners = world.learners().await;
    let employee = (world.hris().await)
        .into_iter()
        .find(|(id, e)| in_scope_and_employed(e) && learners.contains_key(id))
        .map(|(id, _)| id)
        .expect("a synced employee");
    {
        let mut hris = world.sandbox.shared().hris.lock();
        let id: u32 = employee.parse().unwrap();
        hris.get_mut(id).unwrap().hire_date_typed = Some("15/01/2020".into());
        hris.record_change(
            id,
            ChangeAction::Updated,
            vec!["hireDate"],
            jiff::Timestamp::now(),
        );
    }
    world.webhooks_delivered().await;
    world.settle().await;

    let filter = hrsync::store::EventFilter {
        status: Some(EventStatus::Rejected),
        employee_id: Some(employee.clone()),
        ..Default::default()
    };
    let rejected = world.store().events_page(&filter, None, 10).unwrap();
    assert_eq!(rejected.len(), 1, "{}", world.events_of(&employee));
    let error = rejected[0].last_error.as_deref().unwrap_or_default();
    assert!(
        error.contains(
            "tenure_years: expression `years_between(hris.hireDate, today)` failed: years_between: \
             \"15/01/2020\" is not a date (YYYY-MM-DD) (hris.hireDate = \"15/01/2020\")"
        ),
        "{error}"
    );
    // Only this record: nobody else is in the queue, and its learner is unchanged.
    let all = hrsync::store::EventFilter {
        status: Some(EventStatus::Rejected),
        ..Default::default()
    };
    assert_eq!(world.store().events_page(&all, None, 10).unwrap().len(), 1);
    assert_eq!(world.learners().await[&employee], learners[&employee]);
}

/// The write-back's `hours_expr` end to end: completions the sandbox LRS holds
/// for one employee become HRIS training records whose hours are the
/// catalogue's (`lookup("course_hours", statement.object.id)`), whatever time
/// the LMS measured, and none is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_training_record_takes_its_hours_from_the_writeback_expression() {
    use hrsync::model::{Direction, EventStatus};
    use std::time::{Duration, Instant};
    let world = start(Options {
        contract: Some(EXPRESSIONS),
        employees: 20,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let employee = (world.hris().await)
        .into_iter()
        .find(|(_, e)| in_scope_and_employed(e))
        .map(|(id, _)| id)
        .expect("an employed employee");
    let answer = world
        .admin("completions", json!({ "count": 12, "employee_ids": [employee] }))
        .await;
    assert!(answer.is_object(), "{answer}");

    // Until the LRS's statements are journaled and none is waiting any more.
    let filter = hrsync::store::EventFilter {
        employee_id: Some(employee.clone()),
        direction: Some(Direction::LmsToHris),
        ..Default::default()
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    let events = loop {
        let events = world.store().events_page(&filter, None, 100).unwrap();
        let waiting = events
            .iter()
            .any(|e| matches!(e.status, EventStatus::Pending | EventStatus::Retrying));
        if !events.is_empty() && !waiting {
            break events;
        }
        assert!(
            Instant::now() < deadline,
            "completions still waiting: {events:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    world.settle().await;
    let refused: Vec<_> = (events.iter())
        .filter(|e| e.status.is_open())
        .map(|e| (e.status, e.last_error.clone()))
        .collect();
    assert!(refused.is_empty(), "{refused:#?}");

    // The catalogue's hours by HRIS training type, from the contract's tables.
    let contract = parse(EXPRESSIONS).unwrap();
    let table = |name: &str| &contract.value_tables[name].entries;
    let hours_of_type: std::collections::BTreeMap<u64, f64> = (table("courses").iter())
        .map(|(course, kind)| {
            (
                kind.parse().unwrap(),
                table("course_hours")[course].parse().unwrap(),
            )
        })
        .collect();
    let hris = hrsync::connectors::HrisClient::new(
        &world.config.hris.api_base,
        world.config.hris.api_key.clone(),
        hrsync::engine::read_retry::read_backoff(&Default::default()),
    )
    .unwrap();
    let records = hris.training_records(&employee).await.unwrap().unwrap();
    let ours: Vec<&Json> = (records.iter())
        .filter(|r| r["notes"].as_str().is_some_and(|n| n.contains("via hrsync")))
        .collect();
    assert!(!ours.is_empty(), "no training record written back: {records:#?}");
    for record in ours {
        let kind = match &record["type"] {
            Json::String(s) => s.parse().unwrap(),
            other => other.as_u64().unwrap(),
        };
        assert_eq!(record["hours"].as_f64(), Some(hours_of_type[&kind]), "{record}");
    }
}

/// A trigger reading the learner (`lms.active == false`, "returning"): the sync
/// decides it with the learner it holds before writing, so someone whose
/// learner was deactivated by a termination and who is rehired joins
/// "Welcome Back", and nobody else does; `trace` says so beforehand, and the
/// reconciliation, which does not judge such a trigger, finds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rehire_whose_learner_was_deactivated_joins_welcome_back() {
    let world = start(Options {
        contract: Some(EXPRESSIONS),
        employees: 40,
        ..Options::default()
    })
    .await;
    world.settle().await;
    assert!(
        !world.groups().await.contains_key("Welcome Back"),
        "nobody returned yet"
    );
    let learners = world.learners().await;
    let employee = (world.hris().await)
        .into_iter()
        .find(|(id, e)| {
            in_scope_and_employed(e)
                && e["supervisorEId"].as_str().is_some_and(|s| !s.is_empty())
                && learners.get(id).is_some_and(|l| l["active"] == true)
        })
        .map(|(id, _)| id)
        .expect("a synced employee with a manager");
    let learner_id = learners[&employee]["id"].as_str().unwrap().to_string();

    world
        .churn(json!([{ "kind": "termination", "employee_id": employee }]))
        .await;
    world.webhooks_delivered().await;
    world.settle().await;
    assert_eq!(world.learners().await[&employee]["active"], false);

    // Rehired in the HRIS, unannounced (no webhook, no change for the poll):
    // `trace` reads the record live and decides the trigger as the sync will.
    let id: u32 = employee.parse().unwrap();
    {
        let mut hris = world.sandbox.shared().hris.lock();
        let rehired = hris.get_mut(id).unwrap();
        rehired.employment_status = hrsync::sandbox::hris::employee::EmploymentStatus::Active;
        rehired.termination_date = None;
        rehired.hire_date = common::today();
    }
    let tracer = hrsync::engine::apply::trace::Tracer::connect(
        &world.config,
        world.store().clone(),
        parse(EXPRESSIONS).unwrap(),
    )
    .await
    .unwrap();
    let traced = tracer.trace(&employee).await.unwrap();
    assert!(traced.enrol.iter().any(|g| g == "Welcome Back"), "{traced:#?}");
    // Announced: the sync does what the trace said.
    world.sandbox.shared().hris.lock().record_change(
        id,
        hrsync::sandbox::hris::state::ChangeAction::Updated,
        vec!["status", "employmentStatus", "terminationDate", "hireDate"],
        jiff::Timestamp::now(),
    );
    world.webhooks_delivered().await;
    world.settle().await;
    assert_eq!(
        world.learners().await[&employee]["active"],
        true,
        "{}",
        world.events_of(&employee)
    );
    let returned = world.groups().await.remove("Welcome Back").unwrap_or_default();
    assert_eq!(
        returned,
        std::collections::BTreeSet::from([learner_id]),
        "{}",
        world.events_of(&employee)
    );
    world.assert_reconciles_clean().await;
}
