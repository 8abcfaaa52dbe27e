//! Flow 2 end to end: completions stored in the LRS become HRIS training records
//! and certification rows exactly once — with re-posted statements, across a
//! restart with statements stored while the engine was down, with 5xx and 429
//! from the HRIS — and the HRIS webhooks our writes cause never reach the LMS.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{Options, World, start};
use hrsync::connectors::{HrisClient, LrsClient, stored_at};
use hrsync::contract::writeback::{Completion, NotedScore, StatementMapping, map_statement};
use hrsync::engine::intake::completions::LRS_CURSOR;
use hrsync::model::Secret;
use serde_json::{Value, json};

fn lrs(world: &World) -> LrsClient {
    let c = world.sandbox.credentials();
    LrsClient::new(
        &c.xapi_url,
        Secret::new(c.xapi_user.clone()),
        Secret::new(c.xapi_password.clone()),
        hrsync::engine::read_retry::read_backoff(&Default::default()),
    )
    .unwrap()
}

fn hris(world: &World) -> HrisClient {
    HrisClient::new(
        &world.config.hris.api_base,
        world.config.hris.api_key.clone(),
        hrsync::engine::read_retry::read_backoff(&Default::default()),
    )
    .unwrap()
}

async fn generate(world: &World, body: Value) {
    let answer = world.admin("completions", body).await;
    assert!(answer.is_object(), "{answer}");
}

/// Every statement in the LRS, oldest first.
async fn all_statements(world: &World) -> Vec<Value> {
    let lrs = lrs(world);
    let mut page = lrs.stored_since(None, 500).await.unwrap();
    let mut all = std::mem::take(&mut page.statements);
    while let Some(more) = page.more.take() {
        page = lrs.more(&more).await.unwrap();
        all.append(&mut page.statements);
    }
    all
}

/// Waits until the engine has read the LRS to its end and applied what it read.
async fn caught_up(world: &World) {
    let latest = all_statements(world)
        .await
        .iter()
        .filter_map(stored_at)
        .max()
        .expect("statements exist");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let cursor = world
            .store()
            .cursor(LRS_CURSOR)
            .unwrap()
            .and_then(|c| c.parse::<jiff::Timestamp>().ok());
        if cursor >= Some(latest) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the LRS cursor {cursor:?} never reached {latest}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    world.settle_until(Duration::from_secs(90), |_| true).await;
}

/// The completion each statement the contract writes back comes to.
fn mapped(statements: &[Value]) -> Vec<Completion> {
    let contract = hrsync::contract::parse(common::CONTRACT).unwrap();
    let wb = contract.writeback.clone().unwrap();
    statements
        .iter()
        .filter_map(|s| match map_statement(&contract, &wb, s) {
            Ok(StatementMapping::Completion(c)) => Some(*c),
            _ => None,
        })
        .collect()
}

/// The completions the contract writes back, one per idempotency key.
fn completions(statements: &[Value]) -> BTreeMap<String, Completion> {
    mapped(statements)
        .into_iter()
        .map(|c| (c.idempotency_key(), c))
        .collect()
}

/// Someone in scope and employed, whose completions are written back.
async fn an_employed_employee(world: &World) -> String {
    world
        .hris()
        .await
        .into_iter()
        .find(|(_, e)| common::in_scope_and_employed(e))
        .map(|(id, _)| id)
        .expect("an employed employee")
}

/// The employee's completion events (LMS → HRIS), newest first.
fn completion_events(world: &World, employee: &str) -> Vec<hrsync::store::EventSummary> {
    world
        .store()
        .events_page(
            &hrsync::store::EventFilter {
                employee_id: Some(employee.to_string()),
                direction: Some(hrsync::model::Direction::LmsToHris),
                ..Default::default()
            },
            None,
            1000,
        )
        .unwrap()
}

/// The table credentials go to, as the shipped contract names it.
fn credential_table() -> String {
    let contract = hrsync::contract::parse(common::CONTRACT).unwrap();
    contract.writeback.unwrap().credential_table
}

/// Checks the HRIS holds each completion's record and credential exactly once.
async fn assert_recorded_once(world: &World, wanted: &BTreeMap<String, Completion>) {
    let hris = hris(world);
    let by_statement: BTreeMap<String, Completion> = mapped(&all_statements(world).await)
        .into_iter()
        .map(|c| (c.statement_id.clone(), c))
        .collect();
    let mut scores_noted = 0;
    let employees: BTreeSet<&str> = wanted.values().map(|c| c.employee_id.as_str()).collect();
    for employee in employees {
        let records = hris
            .training_records(employee)
            .await
            .unwrap()
            .expect("employee exists");
        let rows = hris
            .table_rows(employee, &credential_table())
            .await
            .unwrap()
            .unwrap_or_default();
        for c in wanted.values().filter(|c| c.employee_id == employee) {
            let day = c.completed.to_string();
            let same: Vec<&Value> = records
                .iter()
                .filter(|r| {
                    r["type"].as_u64() == Some(u64::from(c.training_type)) && r["completed"] == json!(day)
                })
                .collect();
            assert_eq!(
                same.len(),
                1,
                "employee {employee}: course {} on {day}: {records:?}",
                c.course_iri
            );
            // A record we wrote carries, in its notes (the HRIS takes no score), the
            // assessment of the statement it names: with several statements under
            // one key, or one course twice a day, that is the one written first.
            let notes = same[0]["notes"].as_str().unwrap_or_default();
            if let Some((_, id)) = notes.split_once("(xAPI statement ") {
                let from = &by_statement[id.trim_end_matches(')')];
                let read = NotedScore::parse(notes).map(|n| (n.raw, n.max, n.scaled, n.success));
                let reported = (from.score_raw, from.score_max, from.score_scaled, from.success);
                assert_eq!(read.unwrap_or((None, None, None, None)), reported, "{notes}");
                scores_noted += usize::from(reported.0.is_some());
            }
            if let Some(k) = &c.credential {
                let same = rows
                    .iter()
                    .filter(|r| {
                        r["name"] == json!(k.name)
                            && r["issued"] == json!(k.issued.to_string())
                            && r["expires"] == json!(k.expires.map(|e| e.to_string()))
                    })
                    .count();
                assert_eq!(same, 1, "employee {employee}: credential {k:?}: {rows:?}");
            }
        }
    }
    if wanted.values().any(|c| c.score_raw.is_some()) {
        assert!(scores_noted > 0, "no record we wrote carried a score");
    }
}

fn learner_versions(learners: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    learners
        .iter()
        .map(|(id, l)| (id.clone(), l["meta"]["version"].clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_reach_the_hris_once_and_never_loop_back_to_the_lms() {
    let world = start(Options::default()).await;
    world.settle().await;
    let versions = learner_versions(&world.learners().await);
    let audit_before = world.store().verify_audit().unwrap().unwrap().entries;

    generate(
        &world,
        json!({ "count": 150, "from": "hris", "duplicate_ratio": 0.2 }),
    )
    .await;
    caught_up(&world).await;

    let statements = all_statements(&world).await;
    let wanted = completions(&statements);
    assert!(wanted.len() >= 60, "enough passed completions: {}", wanted.len());
    assert!(
        statements.len() > wanted.len(),
        "re-posted and failed statements exist too"
    );
    assert_recorded_once(&world, &wanted).await;
    assert!(
        wanted.values().any(|c| c.credential.is_some()),
        "some completions carry credentials"
    );

    // Our writes made the HRIS send webhooks; once they are in, the LMS saw nothing.
    world.webhooks_delivered().await;
    world.settle().await;
    assert_eq!(
        learner_versions(&world.learners().await),
        versions,
        "no learner was written because of the write-back"
    );
    let mut before = None;
    let mut written_back = 0;
    loop {
        let page = world
            .store()
            .audit_page(&Default::default(), before, 500)
            .unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.seq);
        for entry in page.iter().filter(|e| e.seq > audit_before) {
            assert!(
                !entry.action.starts_with("learner."),
                "an LMS write after the write-back: {entry:?}"
            );
            written_back += usize::from(entry.action == "training.record");
        }
    }
    assert!(
        written_back > 0 && written_back <= wanted.len(),
        "{written_back} audited write-backs"
    );
    let metrics = world
        .http
        .get(format!("http://{}/metrics", world.engine().admin_addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.contains("result=\"ignored\"") && !l.ends_with(" 0")),
        "the echoes are counted as ignored:\n{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_stored_while_down_and_hris_faults_still_arrive_once() {
    let mut world = start(Options {
        retry_attempts: 30,
        retry_interval: Duration::from_millis(100),
        ..Options::default()
    })
    .await;
    world.settle().await;
    generate(&world, json!({ "count": 40, "from": "hris" })).await;
    caught_up(&world).await;

    world.stop().await;
    generate(
        &world,
        json!({ "count": 80, "from": "hris", "duplicate_ratio": 0.3 }),
    )
    .await;
    world
        .admin(
            "faults",
            json!({ "hris": { "error_ratio": 0.3, "rate_limit_per_sec": 200, "retry_after_s": 1 } }),
        )
        .await;
    world.restart().await;
    caught_up(&world).await;
    world.admin("faults", json!({})).await;

    let counts = world.store().counts().unwrap();
    assert_eq!(counts.dead_letters, 0, "{counts:?}");
    let wanted = completions(&all_statements(&world).await);
    assert_recorded_once(&world, &wanted).await;
    let retried = world
        .store()
        .events_page(
            &hrsync::store::EventFilter {
                direction: Some(hrsync::model::Direction::LmsToHris),
                ..Default::default()
            },
            None,
            1000,
        )
        .unwrap()
        .iter()
        .filter(|e| e.attempts > 0)
        .count();
    assert!(retried > 0, "the HRIS faults caused retries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_for_an_unknown_employee_waits_in_the_error_queue() {
    let world = start(Options::default()).await;
    world.settle().await;
    generate(&world, json!({ "count": 3, "employee_ids": ["99999999"] })).await;
    caught_up(&world).await;
    let refused = world
        .store()
        .events_page(
            &hrsync::store::EventFilter {
                employee_id: Some("99999999".into()),
                ..Default::default()
            },
            None,
            10,
        )
        .unwrap();
    let wanted = completions(&all_statements(&world).await);
    let expected = wanted.values().filter(|c| c.employee_id == "99999999").count();
    assert_eq!(refused.len(), expected, "nothing dropped: {refused:?}");
    // Completions are independent of each other: each is refused with its reason,
    // none waits behind another, and the error queue holds them all.
    world.settle().await;
    for event in &refused {
        let event = world.store().event(event.id).unwrap().unwrap().event;
        assert_eq!(event.status, hrsync::model::EventStatus::Rejected, "{event:?}");
        assert!(
            event
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("no employee 99999999")),
            "{event:?}"
        );
    }
    let oldest = refused.last().expect("at least one");
    hrsync::engine::operator::skip(world.store(), "test", oldest.id, "not our employee").unwrap();
    let skipped = world.store().event(oldest.id).unwrap().unwrap().event;
    assert_eq!(skipped.status, hrsync::model::EventStatus::Skipped, "{skipped:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_of_one_employee_writes_only_what_the_hris_lacks() {
    let mut world = start(Options::default()).await;
    world.settle().await;
    let employee = an_employed_employee(&world).await;
    // Stored while the engine is down, so they wait as one queue for one employee:
    // more than one run's worth.
    world.stop().await;
    generate(&world, json!({ "count": 45, "employee_ids": [employee] })).await;
    let wanted = completions(&all_statements(&world).await);
    assert!(wanted.len() >= 10, "enough passed completions: {}", wanted.len());
    // A legacy import already holds some of them.
    let hris = hris(&world);
    let legacy: Vec<&Completion> = wanted.values().step_by(4).collect();
    for c in &legacy {
        hris.add_training_record(
            &employee,
            &json!({ "completed": c.completed.to_string(), "type": c.training_type, "notes": "legacy import" }),
        )
        .await
        .unwrap();
        if let Some(row) = c.certification_row() {
            hris.add_table_row(&employee, &credential_table(), &row)
                .await
                .unwrap();
        }
    }
    world.restart().await;
    caught_up(&world).await;

    assert_recorded_once(&world, &wanted).await;
    let events = completion_events(&world, &employee);
    let mut applied = 0;
    for summary in &events {
        let detail = world.store().event(summary.id).unwrap().unwrap();
        let was_legacy = legacy
            .iter()
            .any(|c| c.idempotency_key() == detail.event.idempotency_key);
        match detail.event.status {
            hrsync::model::EventStatus::Unchanged => {}
            hrsync::model::EventStatus::Applied => {
                assert!(!was_legacy, "a legacy record was written again: {detail:?}");
                applied += 1;
            }
            other => panic!("event {} is {other}: {detail:?}", summary.id),
        }
        if was_legacy {
            assert_eq!(detail.event.status, hrsync::model::EventStatus::Unchanged);
        }
        // What it came to is kept with it, written or found, for the event's detail.
        let mapped = detail.event.mapped.as_ref();
        assert!(
            mapped.is_some_and(|m| !m.is_null()),
            "event {} keeps its mapped record: {detail:?}",
            summary.id
        );
    }
    assert!(applied > 0, "the missing ones were written");
    let audited = world
        .store()
        .audit_page(&Default::default(), None, 10_000)
        .unwrap()
        .iter()
        .filter(|e| e.action == "training.record" && e.employee_id.as_deref() == Some(employee.as_str()))
        .count();
    assert_eq!(audited, applied, "each written completion is audited on its own");
}

/// An operator who skips a completion while its write is under way has the last
/// word: the attempt is put on record, and the employee's queue goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_skipped_while_in_flight_stays_skipped_and_the_queue_goes_on() {
    let world = start(Options::default()).await;
    world.settle().await;
    let employee = an_employed_employee(&world).await;
    world
        .admin("faults", json!({ "hris": { "latency_ms": 1500 } }))
        .await;
    generate(&world, json!({ "count": 1, "employee_ids": [employee] })).await;
    // The engine's own record of an attempt under way: the event's start time.
    let journal = rusqlite::Connection::open(&world.config.store_path).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let in_flight = loop {
        let started: Option<i64> = journal
            .query_row(
                "SELECT id FROM events WHERE direction = 'lms_to_hris' AND employee_id = ?1 \
                 AND started_at IS NOT NULL AND status IN ('pending', 'retrying')",
                [&employee],
                |row| row.get(0),
            )
            .ok();
        if let Some(id) = started {
            break hrsync::model::EventId(id);
        }
        assert!(
            Instant::now() < deadline,
            "no completion of {employee} was started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    hrsync::engine::operator::skip(world.store(), "operator", in_flight, "the course was cancelled").unwrap();
    world.admin("faults", json!({})).await;

    let audited = |action: &str| {
        world
            .store()
            .audit_page(
                &hrsync::store::AuditFilter {
                    action: Some(action.into()),
                    ..Default::default()
                },
                None,
                100,
            )
            .unwrap()
            .iter()
            .filter(|e| e.subject == format!("event {}", in_flight.0))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while audited("event.decided_in_flight") == 0 {
        assert!(
            Instant::now() < deadline,
            "the finished attempt was not put on record"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(audited("event.skip"), 1);
    let event = world.store().event(in_flight).unwrap().unwrap().event;
    assert_eq!(event.status, hrsync::model::EventStatus::Skipped, "{event:?}");

    // Later completions of the same employee are written as usual.
    generate(&world, json!({ "count": 6, "employee_ids": [employee] })).await;
    caught_up(&world).await;
    let events = completion_events(&world, &employee);
    assert!(events.len() > 1, "{events:?}");
    for e in events.iter().filter(|e| e.id != in_flight) {
        assert!(
            matches!(
                e.status,
                hrsync::model::EventStatus::Applied | hrsync::model::EventStatus::Unchanged
            ),
            "{e:?}"
        );
    }
    let event = world.store().event(in_flight).unwrap().unwrap().event;
    assert_eq!(event.status, hrsync::model::EventStatus::Skipped, "still skipped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_lrs_comparing_since_with_the_timestamp_loses_no_late_statement() {
    let faults = serde_json::from_value(json!({ "lrs": { "since_on_timestamp": true } })).unwrap();
    let world = start(Options {
        faults,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let hris_now = world.hris().await;
    let mut employed = hris_now
        .iter()
        .filter(|(_, e)| common::in_scope_and_employed(e))
        .map(|(id, _)| id.clone());
    let (first, second) = (employed.next().unwrap(), employed.next().unwrap());
    generate(&world, json!({ "count": 3, "employee_ids": [first] })).await;
    caught_up(&world).await;
    let cursor: jiff::Timestamp = world
        .store()
        .cursor(LRS_CURSOR)
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();

    // Reported late: stored now, but its own time is before the cursor. An LRS
    // that compares `since` with the timestamp shows it only to a read that
    // starts before that time.
    let template = all_statements(&world)
        .await
        .into_iter()
        .find(|s| !completions(std::slice::from_ref(s)).is_empty())
        .expect("a statement the contract writes back");
    let mut late = template.clone();
    for key in ["stored", "authority", "version"] {
        late.as_object_mut().unwrap().remove(key);
    }
    late["id"] = json!("0b0e0f3c-5a6d-4c1e-9f00-1a2b3c4d5e6f");
    late["actor"]["account"]["name"] = json!(second);
    late["timestamp"] = json!((cursor - jiff::SignedDuration::from_mins(2)).to_string());
    let c = world.sandbox.credentials();
    let posted = world
        .http
        .post(format!("{}/statements", c.xapi_url))
        .basic_auth(&c.xapi_user, Some(&c.xapi_password))
        .header("X-Experience-API-Version", "1.0.3")
        .json(&json!([late]))
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success(), "{}", posted.status());
    caught_up(&world).await;
    let wanted: BTreeMap<String, Completion> = completions(&[late])
        .into_iter()
        .filter(|(_, c)| c.employee_id == second)
        .collect();
    assert_eq!(wanted.len(), 1);
    assert_recorded_once(&world, &wanted).await;
    // The rest of the sync is as with any LRS.
    world.settle().await;
    common::assert_in_step(&world).await;
    world.assert_groups_exact().await;
    world.assert_one_create_or_adopt_per_learner().await;
    let counts = world.store().counts().unwrap();
    assert_eq!(counts.dead_letters, 0, "{counts:?}");
    world.assert_only_twins_refused();
    world.assert_reconciles_clean().await;
}
