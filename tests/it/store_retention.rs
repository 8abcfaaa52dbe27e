//! Retention on a real SQLite file: finished events older than the cutoff lose
//! their payloads and write bodies and keep their rows; open and shadowed events,
//! the idempotency keys and the audit log are untouched; a store this hrsync
//! creates gives the freed pages back.

use hrsync::model::{Direction, EventStatus, NewEvent, Source, WriteRecord};
use hrsync::store::{Compacted, Retention, Store};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

fn change(key: &str, employee: &str) -> NewEvent {
    NewEvent {
        idempotency_key: key.to_string(),
        source: Source::Webhook,
        direction: Direction::HrisToLms,
        employee_id: employee.to_string(),
        kind: "Updated".to_string(),
        occurred_at: Timestamp::now(),
        payload: json!({
            "id": employee,
            "fields": { "department": "Sales", "firstName": "Zoë", "bio": "x".repeat(2_000) },
        }),
    }
}

fn write() -> WriteRecord {
    WriteRecord {
        sent_from: "hris".into(),
        sent_to: "lms".into(),
        target_id: Some("u-1".into()),
        before: json!({ "title": "Clerk", "bio": "y".repeat(2_000) }),
        after: json!({ "title": "Manager" }),
        http_status: Some(200),
    }
}

fn pages(store_path: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(store_path).unwrap();
    conn.pragma_query_value(None, "page_count", |r| r.get(0)).unwrap()
}

#[test]
fn finished_events_lose_their_bodies_and_keep_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hrsync.db");
    let store = Store::open(&path).unwrap();
    let batch: Vec<NewEvent> = (0..600)
        .map(|i| change(&format!("k{i}"), &format!("E{i}")))
        .collect();
    let ids: Vec<_> = store.append(&batch).unwrap().iter().map(|a| a.id()).collect();
    // 500 applied, one dead letter, one shadowed, the rest pending.
    for &id in &ids[..500] {
        store.mark_applied(id, &write()).unwrap();
    }
    store
        .transaction(|tx| tx.mark_dead_letter(ids[500], "503 from the LMS", Some(503)))
        .unwrap();
    store
        .transaction(|tx| tx.mark_shadowed(ids[501], "would create learner", &json!({ "userName": "z" })))
        .unwrap();
    store
        .audit(hrsync::model::NewAuditEntry {
            actor: "alice".into(),
            action: hrsync::model::AuditAction::LearnerUpdate,
            employee_id: Some("E1".into()),
            subject: "learner u-1".into(),
            before: json!({ "title": "Clerk" }),
            after: json!({ "title": "Manager" }),
            reason: None,
        })
        .unwrap();
    let audit_before = store.audit_page(&Default::default(), None, 10).unwrap();
    let grown = pages(&path);

    // Nothing finished before an hour ago: nothing to do.
    let an_hour_ago = Timestamp::now() - SignedDuration::from_hours(1);
    assert_eq!(store.compact(an_hour_ago, 100).unwrap(), Compacted::default());

    // Everything finished so far, in batches of 200.
    let cutoff = Timestamp::now() + SignedDuration::from_secs(1);
    let mut done = Vec::new();
    loop {
        let step = store.compact(cutoff, 200).unwrap();
        done.push(step);
        if !step.more {
            break;
        }
    }
    assert_eq!(done.iter().map(|s| s.events).sum::<u64>(), 500, "{done:?}");
    assert_eq!(done.iter().map(|s| s.writes).sum::<u64>(), 500, "{done:?}");
    assert_eq!(done.len(), 3, "{done:?}");
    // Again: nothing left.
    assert_eq!(store.compact(cutoff, 200).unwrap().events, 0);
    assert!(store.compacted_through().unwrap().is_some());

    let applied = store.event(ids[0]).unwrap().unwrap();
    assert_eq!(applied.event.status, EventStatus::Applied);
    assert_eq!(applied.event.idempotency_key, "k0");
    assert_eq!(applied.event.payload["fields"], json!({ "department": "Sales" }));
    assert!(
        applied.event.payload["compacted"].is_string(),
        "{}",
        applied.event.payload
    );
    assert_eq!(applied.event.mapped, None);
    assert_eq!(applied.writes.len(), 1);
    assert_eq!(applied.writes[0].write.target_id.as_deref(), Some("u-1"));
    assert_eq!(applied.writes[0].write.http_status, Some(200));
    assert_eq!(applied.writes[0].write.before, json!({}));

    // Open and shadowed events keep what they will need.
    for &id in &ids[500..] {
        let kept = store.event(id).unwrap().unwrap();
        assert!(
            kept.event.payload["fields"]["bio"].is_string(),
            "{id:?} kept its payload"
        );
    }
    // A redelivery of a compacted event is still known.
    let again = store.append(&[change("k0", "E0")]).unwrap();
    assert!(
        matches!(again[0], hrsync::store::Appended::Duplicate(_)),
        "{again:?}"
    );
    // The audit log is never trimmed.
    assert_eq!(
        store.audit_page(&Default::default(), None, 10).unwrap(),
        audit_before
    );
    assert!(store.verify_audit().unwrap().is_ok());

    // The freed pages go back to the file system.
    assert_eq!(
        store.release_free_pages(u32::MAX).unwrap(),
        0,
        "no free page left"
    );
    drop(store);
    let shrunk = pages(&path);
    assert!(shrunk * 2 < grown, "{grown} pages before, {shrunk} after");
}

/// A running engine compacts by itself: with `keep_days` of two seconds, the
/// initial load's events lose their payloads soon after they are applied, and
/// the LMS and the HRIS still reconcile clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_compacts_what_finished_longer_ago_than_keep_days() {
    let world = crate::common::start(crate::common::Options {
        employees: 40,
        keep_finished: Some(std::time::Duration::from_secs(2)),
        ..Default::default()
    })
    .await;
    world.settle().await;
    let store = world.store();
    let first_applied = store
        .events_page(
            &hrsync::store::EventFilter {
                status: Some(EventStatus::Applied),
                ..Default::default()
            },
            None,
            1_000,
        )
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .min()
        .expect("the initial load applied events");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let event = store.event(first_applied).unwrap().unwrap().event;
        if event.payload.get("compacted").is_some() {
            assert_eq!(event.mapped, None);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not compacted: {}",
            event.payload
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    world.assert_reconciles_clean().await;
}
