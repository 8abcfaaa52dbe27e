//! Nothing acknowledged is lost, and nothing stale wins: two different edits of
//! one employee in the same second (BambooHR's times are whole seconds) are both
//! journaled and applied in order, whether they come in one delivery or two; a late
//! copy of an older record is superseded, not applied; and a late copy of an
//! earlier edit of the same second does not overwrite the HRIS's newest record.

use crate::common;

use common::{Options, World, start};
use hmac::{Hmac, Mac};
use hrsync::model::{EventStatus, RecordStamp};
use hrsync::store::{AppliedRecords, AuditFilter, EventFilter};
use jiff::Timestamp;
use serde_json::{Map, Value, json};
use sha2::Sha256;

/// Posts `changes` as one signed delivery stamped `stamp`; answers status and body.
async fn deliver(world: &World, changes: Vec<Value>, stamp: &str) -> (u16, Value) {
    let secret = &world.sandbox.credentials().webhook_secret;
    let body = serde_json::to_vec(&json!({ "employees": changes })).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&body);
    mac.update(stamp.as_bytes());
    let answer = world
        .http
        .post(format!("http://{}/webhooks/hris", world.engine().webhook_addr))
        .header("content-type", "application/json")
        .header("X-BambooHR-Timestamp", stamp)
        .header("X-BambooHR-Signature", hex::encode(mac.finalize().into_bytes()))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

fn delivery_time() -> String {
    Timestamp::now().as_second().to_string()
}

/// A change as the HRIS sends it: the record's own `lastChanged` is the change's time.
fn change(record: &Map<String, Value>, title: &str, at: Timestamp) -> Value {
    let mut fields = record.clone();
    fields.insert("jobTitle".into(), json!(title));
    fields.insert("lastChanged".into(), json!(at.to_string()));
    json!({"id": record["id"], "action": "Updated", "timestamp": at.to_string(),
           "fields": fields, "changedFields": ["jobTitle"]})
}

/// `n` employees that have a learner, each with every field the contract reads
/// (and `lastChanged`), read through the HRIS API.
async fn synced_employees(world: &World, n: usize) -> Vec<Map<String, Value>> {
    let learners = world.learners().await;
    let ids: Vec<String> = world
        .hris()
        .await
        .into_values()
        .filter(common::in_scope_and_employed)
        .map(|e| e["id"].as_str().unwrap().to_string())
        .filter(|id| learners.contains_key(id))
        .take(n)
        .collect();
    assert_eq!(ids.len(), n, "enough synced employees");
    let mut records = Vec::new();
    for id in ids {
        records.push(hris_record(world, &id).await);
    }
    records
}

async fn hris_record(world: &World, id: &str) -> Map<String, Value> {
    let contract = hrsync::contract::parse(common::CONTRACT).unwrap();
    let fields = hrsync::engine::intake::initial_load::hris_fields(&contract).join(",");
    let c = world.sandbox.credentials();
    world
        .http
        .get(format!("{}/employees/{id}?fields={fields}", c.hris_api()))
        .basic_auth(&c.hris_api_key, Some("x"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The employee's learner updates, oldest first, as the audit log names them.
fn updates_of(world: &World, id: &str) -> Vec<Value> {
    let filter = AuditFilter {
        employee_id: Some(id.into()),
        action: Some("learner.update".into()),
        ..Default::default()
    };
    let mut entries = world.store().audit_page(&filter, None, 50).unwrap();
    entries.sort_by_key(|e| e.seq);
    entries.into_iter().map(|e| e.after).collect()
}

/// The employee's events with their status and note, newest first.
fn events(world: &World, id: &str) -> Vec<hrsync::model::Event> {
    let filter = EventFilter {
        employee_id: Some(id.into()),
        ..Default::default()
    };
    world
        .store()
        .events_page(&filter, None, 50)
        .unwrap()
        .iter()
        .map(|e| world.store().event(e.id).unwrap().unwrap().event)
        .collect()
}

/// One poll by the engine's own poller code, now rather than in 30 s; then applied.
async fn poll_now(world: &World) {
    let contract = hrsync::contract::parse(common::CONTRACT).unwrap();
    let hris = hrsync::connectors::HrisClient::new(
        &world.config.hris.api_base,
        world.config.hris.api_key.clone(),
        hrsync::engine::read_retry::read_backoff(&Default::default()),
    )
    .unwrap();
    hrsync::engine::intake::poll::poll_once(world.store(), &contract, &hris, world.config.safety, None)
        .await
        .unwrap();
    world.engine().wake.notify_one();
    world.settle().await;
}

/// The first whole second, as a clock reads it now, after `loaded` (the records as
/// the initial load applied them): edits stamped in the load's own second would be
/// older than the load's record and rightly superseded. Waits for it if need be.
async fn second_after(loaded: Timestamp) -> Timestamp {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let second = Timestamp::from_second(Timestamp::now().as_second()).unwrap();
        if second > loaded {
            return second;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the clock passes {loaded} within five seconds"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// When the record last changed, to the microsecond (as the journal keeps times).
fn changed_at(record: &Map<String, Value>) -> Timestamp {
    let at: Timestamp = record["lastChanged"].as_str().unwrap().parse().unwrap();
    Timestamp::from_microsecond(at.as_microsecond()).unwrap()
}

fn title(world_learners: &std::collections::BTreeMap<String, Value>, id: &str) -> Value {
    world_learners[id]["title"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_changes_of_one_employee_in_the_same_second_both_apply_in_order() {
    let world = start(Options {
        employees: 120,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let employees = synced_employees(&world, 2).await;
    let (one, two) = (&employees[0], &employees[1]);
    let second = second_after(employees.iter().map(changed_at).max().unwrap()).await;

    // In one delivery: the second edit is the one the LMS ends with.
    let (status, answer) = deliver(
        &world,
        vec![
            change(one, "Analyst", second),
            change(one, "Senior Analyst", second),
        ],
        &delivery_time(),
    )
    .await;
    assert_eq!((status, answer["journaled"].as_u64()), (200, Some(2)), "{answer}");
    // In two deliveries of the same second, stamped alike.
    let stamp = delivery_time();
    let (status, answer) = deliver(&world, vec![change(two, "Designer", second)], &stamp).await;
    assert_eq!((status, answer["journaled"].as_u64()), (200, Some(1)), "{answer}");
    let (status, answer) = deliver(&world, vec![change(two, "Lead Designer", second)], &stamp).await;
    assert_eq!(
        (
            status,
            answer["journaled"].as_u64(),
            answer["duplicates"].as_u64()
        ),
        (200, Some(1), Some(0)),
        "the second edit is not taken for the first: {answer}"
    );
    world.settle().await;

    let learners = world.learners().await;
    for (record, first, last) in [
        (one, "Analyst", "Senior Analyst"),
        (two, "Designer", "Lead Designer"),
    ] {
        let id = record["id"].as_str().unwrap();
        assert_eq!(title(&learners, id), last, "{}", world.events_of(id));
        let updates = updates_of(&world, id);
        let wrote = |after: &Value, title: &str| after.to_string().contains(&format!("\"{title}\""));
        assert_eq!(updates.len(), 2, "both edits of {id} applied: {updates:?}");
        assert!(
            wrote(&updates[0], first) && wrote(&updates[1], last),
            "in order, the first edit first: {updates:?}"
        );
    }
}

/// What sync_crash once met after a restart: the poller journals a change with
/// the employee's current record, and an older record of the employee, lost to
/// the webhooks while the engine was down, is delivered only afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_copy_of_an_older_record_after_the_pollers_newer_one_is_superseded() {
    let world = start(Options {
        employees: 120,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let record = synced_employees(&world, 1).await.remove(0);
    let id = record["id"].as_str().unwrap().to_string();
    let loaded = changed_at(&record);

    // A real change in the HRIS whose webhooks never get through: the poller brings it.
    world
        .admin("faults", json!({"webhooks": {"bad_signature_ratio": 1.0}}))
        .await;
    let applied = world
        .churn(json!([{ "kind": "promotion", "employee_id": id }]))
        .await;
    assert_eq!(applied.len(), 1, "{applied:?}");
    poll_now(&world).await;
    world.admin("faults", json!({})).await;
    let promoted = hris_record(&world, &id).await;
    let newest = promoted["jobTitle"].clone();
    assert_eq!(title(&world.learners().await, &id), newest);
    let by_poll = &events(&world, &id)[0];
    assert_eq!(
        (by_poll.source, by_poll.status),
        (hrsync::model::Source::Poll, EventStatus::Applied),
        "{}",
        world.events_of(&id)
    );

    // An edit made between the load and the promotion, delivered only now.
    let between = loaded + loaded.duration_until(changed_at(&promoted)) / 2;
    let (status, answer) = deliver(
        &world,
        vec![change(&record, "Stale Title", between)],
        &delivery_time(),
    )
    .await;
    assert_eq!((status, answer["journaled"].as_u64()), (200, Some(1)), "{answer}");
    world.settle().await;

    assert_eq!(
        title(&world.learners().await, &id),
        newest,
        "the older record wrote nothing"
    );
    let late = &events(&world, &id)[0];
    assert_eq!(late.status, EventStatus::Skipped, "{}", world.events_of(&id));
    let note = late.note.as_deref().unwrap_or_default();
    assert!(
        note.starts_with("superseded") && note.contains(&format!("event {}", by_poll.id)),
        "{note}"
    );
    let filter = AuditFilter {
        employee_id: Some(id.clone()),
        action: Some("event.superseded".into()),
        ..Default::default()
    };
    let audited = world.store().audit_page(&filter, None, 10).unwrap();
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0].actor, "engine");
    assert!(
        audited[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with(&format!("event {} ", late.id)),
        "{audited:?}"
    );
    let newest_applied = world.store().applied_record(&id).unwrap().unwrap();
    assert_eq!(
        (newest_applied.stamp.at, newest_applied.event_id),
        (changed_at(&promoted), by_poll.id),
        "the poller's copy is still the newest record applied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_copy_of_an_earlier_edit_in_the_same_second_does_not_win() {
    let world = start(Options {
        employees: 120,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let record = synced_employees(&world, 1).await.remove(0);
    let id = record["id"].as_str().unwrap().to_string();
    let applied = world
        .churn(json!([{ "kind": "promotion", "employee_id": id }]))
        .await;
    assert_eq!(applied.len(), 1, "{applied:?}");
    world.webhooks_delivered().await;
    world.settle().await;
    let promoted = hris_record(&world, &id).await;
    let at = changed_at(&promoted);
    let before = world.store().applied_record(&id).unwrap().unwrap();
    assert_eq!(before.stamp.at, at);

    // Another edit of the very same time, delivered after the newest was applied:
    // the records cannot say which came first, the HRIS can.
    let (status, answer) = deliver(
        &world,
        vec![change(&promoted, "Earlier Same-Second Title", at)],
        &delivery_time(),
    )
    .await;
    assert_eq!((status, answer["journaled"].as_u64()), (200, Some(1)), "{answer}");
    world.settle().await;

    assert_eq!(
        title(&world.learners().await, &id),
        promoted["jobTitle"],
        "the HRIS's newest record stands: {}",
        world.events_of(&id)
    );
    let late = &events(&world, &id)[0];
    assert_eq!(late.status, EventStatus::Unchanged, "{}", world.events_of(&id));
    let after = world.store().applied_record(&id).unwrap().unwrap();
    assert_eq!(
        (after.stamp.clone(), after.event_id),
        (
            RecordStamp {
                at,
                digest: before.stamp.digest.clone()
            },
            late.id
        ),
        "it went by the HRIS's record"
    );
}
