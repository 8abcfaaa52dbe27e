//! Hostile text from the HRIS and LMS for the console and CLI tests: an OSC 52
//! clipboard write, OSC 2, CSI 2J and its C1 form, DEL and a bidi override in
//! names, ids, reasons, payloads and the engine status, written through the store.

use std::time::Duration;

use hrsync::engine::intake::duplicates::record_suspected;
use hrsync::engine::operator::status::{EngineState, EngineStatus, MetricsSnapshot};
use hrsync::model::{
    Direction, DriftCategory, DuplicateBasis, DuplicateSide, FieldReason, IdentityKeys, NewAuditEntry,
    NewEvent, Source, WriteRecord,
};
use hrsync::store::{DuplicateMember, Finding, NewCredential, ReconcileRuns, Store, SuspectedGroup};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

use super::Fixture;

/// A first name that, printed raw, writes "hi" to the operator's clipboard.
pub const NAME: &str = "\x1b]52;c;aGk=\x07Zoë";
pub const NAME_SHOWN: &str = "␛]52;c;aGk=␇Zoë";
/// Clears the screen; the C1 form of the same; sets the window title.
pub const CLEAR: &str = "E\x1b[2J01";
pub const C1_CLEAR: &str = "E\u{9b}2J02";
pub const TITLE: &str = "\x1b]2;pwned\x07";
/// Shown reversed without escaping: "Okafor" reads as "rofakO…".
pub const BIDI: &str = "Oka\u{202e}rof";

fn fields(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

fn event(employee: &str, kind: &str, direction: Direction, payload: Value) -> NewEvent {
    NewEvent {
        idempotency_key: format!("hostile:{employee}:{kind}"),
        source: Source::Webhook,
        direction,
        employee_id: employee.into(),
        kind: kind.into(),
        occurred_at: Timestamp::now(),
        payload,
    }
}

/// One event in each state a pane shows, each carrying hostile text, plus an
/// audit entry, a drift run, duplicate groups, a credential and the status row.
pub fn hostile() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path().join("hrsync.db")).expect("open store");
    let person = json!({ "id": CLEAR, "firstName": NAME, "lastName": BIDI, "note": "\u{85}\x7f" });
    let ids: Vec<_> = store
        .append(&[
            event(CLEAR, "Updated\x7f", Direction::HrisToLms, person.clone()),
            event(C1_CLEAR, "Updated", Direction::HrisToLms, person.clone()),
            event("E003", "Term\x1b[2J", Direction::HrisToLms, person.clone()),
            event("E004", "Updated", Direction::HrisToLms, person.clone()),
            event(
                "E005",
                "completion",
                Direction::LmsToHris,
                json!({ "course": NAME }),
            ),
        ])
        .expect("append")
        .iter()
        .map(|a| a.id())
        .collect();
    // A contract error quoting the value it refused.
    let reasons = [FieldReason {
        field: "first_name".into(),
        reason: format!("\"{NAME}\" has a control character"),
    }];
    store.mark_rejected(ids[0], &reasons).expect("reject");
    let error = format!("LMS answered 400: displayName \"{NAME}\" refused");
    store
        .mark_dead_letter(ids[1], &error, Some(400))
        .expect("dead letter");
    let why = format!("safety threshold {TITLE}: {NAME} would be deactivated");
    store.mark_held(ids[2], &why).expect("hold");
    store
        .set_mapped(ids[3], &json!({ "name.givenName": NAME, "title": "\u{9b}2J" }))
        .expect("map");
    let write = WriteRecord {
        sent_from: "hris".into(),
        sent_to: "lms".into(),
        target_id: Some(format!("u-{TITLE}")),
        before: json!({ "givenName": "Zoe" }),
        after: json!({ "givenName": NAME, "familyName": BIDI }),
        http_status: Some(200),
    };
    store.mark_applied(ids[3], &write).expect("apply");
    store
        .audit(NewAuditEntry {
            actor: "engine".into(),
            action: hrsync::model::AuditAction::LearnerUpdate,
            employee_id: Some(C1_CLEAR.into()),
            subject: format!("event {}", ids[3]),
            before: json!({ "givenName": "Zoe" }),
            after: json!({ "givenName": NAME }),
            reason: Some(format!("name changed to {NAME} {BIDI}")),
        })
        .expect("audit");
    drift(&store);
    duplicates(&store);
    store
        .transaction(|tx| {
            tx.record_credential(&NewCredential {
                employee_id: C1_CLEAR,
                name: NAME,
                number: Some("FA-1"),
                issued: "2020-01-01",
                expires: &(jiff::Zoned::now().date() + jiff::Span::new().days(10)).to_string(),
                event_id: ids[4],
            })
        })
        .expect("credential");
    status(&store);
    Fixture {
        dir,
        store,
        dead: vec![ids[1]],
        held: vec![ids[2]],
    }
}

fn drift(store: &Store) {
    let finding = Finding {
        category: DriftCategory::FieldDrift,
        employee_id: CLEAR.into(),
        learner_id: Some(format!("u-{TITLE}")),
        field: "firstName\u{9b}".into(),
        hris_value: Some(NAME.into()),
        lms_value: Some(format!("{BIDI}\nsecond line {TITLE}")),
        detail: json!({ "record": { "firstName": NAME, "lastName": "\u{9b}2J" } }),
    };
    let run = store
        .begin_run("schedule", Duration::from_secs(900))
        .expect("begin run")
        .expect("no other run");
    store
        .transaction(|tx| tx.finish_run(run, (1, 1, 0), std::slice::from_ref(&finding)))
        .expect("finish run");
    let failed = store
        .begin_run("console", Duration::from_secs(900))
        .expect("begin")
        .expect("free");
    store
        .fail_run(failed, &format!("the HRIS answered {NAME}"))
        .expect("fail run");
}

fn duplicates(store: &Store) {
    let now = Timestamp::now();
    let display = json!({ "firstName": NAME, "lastName\u{9b}": BIDI });
    let member = |id: &str, learner: bool| DuplicateMember {
        member_id: id.into(),
        employee_id: (!learner).then(|| id.into()),
        learner_id: learner.then(|| id.into()),
        first_seen: now - SignedDuration::from_hours(1),
        fields: {
            let mut f = fields(display.clone());
            if learner {
                f.insert("externalId".into(), json!(NAME));
            }
            f
        },
    };
    store
        .transaction(|tx| {
            tx.upsert_person(&IdentityKeys {
                employee_id: CLEAR.into(),
                email: "zoe@example.com".into(),
                name: "zoe okafor".into(),
                hire_date: "2021-03-01".into(),
                display: fields(display.clone()),
            })?;
            for (side, members) in [
                (
                    DuplicateSide::Hris,
                    vec![member(CLEAR, false), member(C1_CLEAR, false)],
                ),
                (
                    DuplicateSide::Lms,
                    vec![member(&format!("u-{TITLE}"), true), member("u-2", true)],
                ),
            ] {
                record_suspected(
                    tx,
                    &SuspectedGroup {
                        side,
                        basis: DuplicateBasis::Email,
                        match_key: format!("zoe\x1b[2J{BIDI}@example.com"),
                        members,
                    },
                )?;
            }
            Ok(())
        })
        .expect("seed duplicates");
}

/// An engine status whose listen address and contract version carry escapes.
fn status(store: &Store) {
    let now = Timestamp::now();
    EngineStatus {
        state: EngineState::Running,
        pid: 4242,
        updated_at: now,
        started_at: now - SignedDuration::from_secs(600),
        webhook_listen: format!("127.0.0.1:8080{TITLE}"),
        last_poll_at: Some(now - SignedDuration::from_secs(12)),
        next_poll_at: Some(now + SignedDuration::from_secs(288)),
        last_poll_error: None,
        metrics: MetricsSnapshot::default(),
        contract_version: format!("v1 {BIDI}"),
        reconcile: Default::default(),
        problems: Vec::new(),
        systems: Vec::new(),
        work: None,
        retry_attempts: None,
        hris_kind: None,
        export_outbox: None,
        shadow: false,
        live_engines: Some(1),
    }
    .publish(store)
    .expect("publish status");
}

/// The default contract with a TOML-escaped OSC 52 in a field's HRIS name.
pub fn hostile_contract() -> String {
    super::CONTRACT.replace(
        "hris = \"firstName\"",
        "hris = \"first\\u001B]52;c;aGk=\\u0007Name\\u202E\"",
    )
}
