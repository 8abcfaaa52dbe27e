//! `hrsync trace`: the real binary against the sandbox and a store a running
//! engine filled. Each kind of employee is traced, and the trace names what
//! decided it: the inclusion rule, the hire date, the duplicate hold, the event
//! the rest wait behind. `--apply` journals the record and the engine applies it.

use crate::common;

use common::{Options, World};
use hrsync::model::{Direction, EventStatus, NewEvent, Source};
use serde_json::{Value, json};

fn trace(world: &World, args: &[&str]) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .arg("trace")
        .args(args)
        .arg("--config")
        .arg(world.dir.path().join("hrsync.toml"))
        .arg("--json")
        .envs(world.engine_env())
        .env("HRSYNC_OPERATOR", "on-call")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "trace {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("trace {args:?} printed no JSON ({e}): {text}"))
}

async fn traced(world: &World, id: &str) -> Value {
    tokio::task::block_in_place(|| trace(world, &[id]))
}

fn hired(e: &Value) -> Option<jiff::civil::Date> {
    e["hireDate"].as_str().and_then(|d| d.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_employee_is_traced_to_the_rule_that_decided_it() {
    let mut world = common::start_for_binary(Options::default()).await;
    world.restart().await;
    world.settle().await;
    let hris = world.hris().await;
    let learners = world.learners().await;
    let today = common::today();

    // In scope, employed, synced: found by externalId, nothing to write.
    let (id, _) = hris
        .iter()
        .find(|(id, e)| {
            common::in_scope_and_employed(e)
                && e["employmentStatus"] == "Active"
                && learners.contains_key(*id)
        })
        .expect("a synced employee");
    let t = traced(&world, id).await;
    assert_eq!(t["scope"]["outcome"], "in scope", "{t:#}");
    assert!(
        t["scope"]["by"]
            .as_str()
            .unwrap()
            .contains("employment_type any of Full-Time, Part-Time"),
        "{t:#}"
    );
    assert_eq!(t["lifecycle"]["outcome"], "active", "{t:#}");
    assert_eq!(t["learner"]["found_by"], "external_id", "{t:#}");
    assert_eq!(t["plan"]["outcome"], "nothing", "{t:#}");
    let department = t["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "department")
        .unwrap();
    assert_eq!(department["hris_value"], hris[id]["department"], "{department}");
    assert!(
        department["rule"].as_str().unwrap().starts_with("value table")
            || department["rule"].as_str().unwrap().starts_with("as sent"),
        "{department}"
    );
    assert!(t["blocked_by"].is_null(), "{t:#}");

    // Out of scope: the inclusion rule is named with the value that broke it.
    let (id, e) = hris
        .iter()
        .find(|(id, e)| {
            e["employmentStatus"] == "Active"
                && !matches!(
                    e["employmentHistoryStatus"].as_str(),
                    Some("Full-Time" | "Part-Time")
                )
                && hired(e).is_some_and(|d| d <= today)
                && !learners.contains_key(*id)
        })
        .expect("an out-of-scope employee");
    let t = traced(&world, id).await;
    assert_eq!(t["scope"]["outcome"], "out of scope", "{t:#}");
    let by = t["scope"]["by"].as_str().unwrap();
    let kind = e["employmentHistoryStatus"].as_str().unwrap();
    assert!(
        by.starts_with("inclusion rule at line") && by.contains(&format!("employment_type is \"{kind}\"")),
        "{by}"
    );
    assert_eq!(t["plan"]["outcome"], "nothing", "{t:#}");
    assert!(t["learner"].is_null(), "{t:#}");

    // A future hire: the plan waits for the hire date, and says so.
    let (id, e) = hris
        .iter()
        .find(|(_, e)| {
            e["employmentStatus"] == "Active"
                && matches!(
                    e["employmentHistoryStatus"].as_str(),
                    Some("Full-Time" | "Part-Time")
                )
                && hired(e).is_some_and(|d| d > today)
        })
        .expect("a future hire");
    let t = traced(&world, id).await;
    assert_eq!(t["plan"]["outcome"], "wait", "{t:#}");
    let hire = e["hireDate"].as_str().unwrap();
    assert!(t["plan"]["by"].as_str().unwrap().contains(hire), "{t:#}");
    assert!(t["verdict"].as_str().unwrap().starts_with("wait"), "{t:#}");

    // A suspected duplicate: the held event blocks, and the verdict names it.
    let held = world
        .store()
        .events_page(
            &hrsync::store::EventFilter {
                status: Some(EventStatus::Held),
                ..Default::default()
            },
            None,
            100,
        )
        .unwrap();
    let twin = held
        .iter()
        .find(|e| world.held_as_duplicate(e.id))
        .map(|e| e.employee_id.clone())
        .expect("a suspected duplicate is held");
    let t = traced(&world, &twin).await;
    assert_eq!(t["blocked_by"]["status"], "held", "{t:#}");
    let verdict = t["verdict"].as_str().unwrap();
    assert!(
        verdict.starts_with("blocked by event") && verdict.contains("suspected duplicate of employee"),
        "{verdict}"
    );

    // Blocked: a change rejected by the contract keeps the next one waiting.
    let (id, e) = hris
        .iter()
        .find(|(id, e)| common::in_scope_and_employed(e) && learners.contains_key(*id) && **id != twin)
        .map(|(id, e)| (id.clone(), e.clone()))
        .expect("another synced employee");
    let mut broken = e.clone();
    broken["workEmail"] = json!("not an address");
    let change = |key: &str, fields: &Value| NewEvent {
        idempotency_key: format!("trace-test-{key}-{id}"),
        source: Source::Webhook,
        direction: Direction::HrisToLms,
        employee_id: id.clone(),
        kind: "Updated".into(),
        occurred_at: jiff::Timestamp::now(),
        payload: json!({ "id": id, "fields": fields }),
    };
    let first = world.store().append(&[change("broken", &broken)]).unwrap()[0].id();
    world.engine().wake.notify_one();
    world.settle().await;
    let rejected = world.store().event(first).unwrap().unwrap().event;
    assert_eq!(rejected.status, EventStatus::Rejected, "{rejected:?}");
    let second = world.store().append(&[change("after", &e)]).unwrap()[0].id();
    world.engine().wake.notify_one();
    world.settle().await;
    let t = traced(&world, &id).await;
    assert_eq!(t["blocked_by"]["id"], first.0, "{t:#}");
    assert_eq!(t["blocked_by"]["status"], "rejected", "{t:#}");
    assert!(
        t["verdict"].as_str().unwrap().contains("is not an email address"),
        "{t:#}"
    );
    let listed: Vec<i64> = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(
        listed.contains(&first.0) && listed.contains(&second.0),
        "{listed:?}"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_journals_the_record_and_the_engine_puts_the_lms_right() {
    let mut world = common::start_for_binary(Options {
        employees: 60,
        ..Options::default()
    })
    .await;
    world.restart().await;
    world.settle().await;
    world.stop().await;
    let hris = world.hris().await;
    let learners = world.learners().await;
    let (id, learner) = learners
        .iter()
        .find(|(id, l)| {
            l["active"] == true
                && hris
                    .get(*id)
                    .is_some_and(|e| common::in_scope_and_employed(e) && e["jobTitle"].is_string())
        })
        .map(|(id, l)| (id.clone(), l.clone()))
        .expect("an active learner");
    // Someone changed the learner's title in the LMS by hand.
    let c = world.sandbox.credentials();
    let mut edited = learner.clone();
    edited["title"] = json!("Edited By Hand");
    let put = world
        .http
        .put(format!(
            "{}/Users/{}",
            c.scim_url,
            learner["id"].as_str().unwrap()
        ))
        .bearer_auth(&c.scim_token)
        .json(&edited)
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());

    let before = world.store().counts().unwrap().total;
    let t = traced(&world, &id).await;
    assert_eq!(t["plan"]["outcome"], "update", "{t:#}");
    assert_eq!(t["changes"]["before"]["job_title"], "Edited By Hand", "{t:#}");
    assert_eq!(t["changes"]["after"]["job_title"], hris[&id]["jobTitle"], "{t:#}");
    assert_eq!(
        before,
        world.store().counts().unwrap().total,
        "a trace journals nothing"
    );

    let t = tokio::task::block_in_place(|| {
        trace(&world, &[&id, "--apply", "--reason", "title edited in the LMS"])
    });
    let event = hrsync::model::EventId(t["journaled_event"].as_i64().expect("the event journaled"));
    let filter = hrsync::store::AuditFilter {
        action: Some("trace.apply".into()),
        employee_id: Some(id.clone()),
        ..Default::default()
    };
    let audit = world.store().audit_page(&filter, None, 10).unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].actor, "on-call");
    assert_eq!(audit[0].reason.as_deref(), Some("title edited in the LMS"));

    world.restart().await;
    world.settle().await;
    let applied = world.store().event(event).unwrap().unwrap().event;
    assert_eq!(applied.status, EventStatus::Applied, "{applied:?}");
    assert_eq!(applied.source, Source::Operator);
    let learners = world.learners().await;
    assert_eq!(learners[&id]["title"], hris[&id]["jobTitle"], "{}", learners[&id]);
    world.stop().await;
}
