//! Steady state: every kind of HRIS change reaches the LMS by signed webhook and
//! has its effect, in order per employee, once.

use crate::common;

use common::{Options, assert_in_step, start};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_churn_kind_has_its_effect_in_the_lms() {
    let world = start(Options {
        employees: 600,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let before = world.learners().await;

    let kinds = [
        "hire",
        "promotion",
        "transfer",
        "name_change",
        "email_change",
        "leave",
        "return",
        "termination",
        "rehire",
        "conversion",
    ];
    let changes: Vec<_> = kinds.iter().map(|k| json!({"kind": k, "count": 3})).collect();
    let applied = world.churn(json!(changes)).await;
    assert_eq!(applied.len(), 30);
    // Webhooks are journaled as they arrive; wait for all 30 changes, then their application.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let webhook_events = world
            .store()
            .events_page(&Default::default(), None, 1000)
            .unwrap()
            .iter()
            .filter(|e| e.source == hrsync::model::Source::Webhook)
            .count();
        if webhook_events >= 30 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {webhook_events} webhook events arrived"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    world.settle().await;
    assert_in_step(&world).await;

    let after = world.learners().await;
    let hris = world.hris().await;
    for change in &applied {
        let id = change["employee_id"].as_str().unwrap();
        match change["kind"].as_str().unwrap() {
            "termination" => assert_eq!(after[id]["active"], false, "terminated {id}"),
            "rehire" => {
                assert_eq!(after[id]["active"], true, "rehired {id}");
                if let Some(old) = before.get(id) {
                    assert_eq!(
                        after[id]["id"], old["id"],
                        "a rehire reactivates the same learner"
                    );
                }
            }
            "hire" => {
                assert!(!before.contains_key(id), "hired {id} had no learner before");
                let hired: jiff::civil::Date = hris[id]["hireDate"].as_str().unwrap().parse().unwrap();
                if hired > common::today() {
                    // Offers signed ahead: the learner is created on the hire date.
                    assert!(
                        !after.contains_key(id),
                        "hired {id} from {hired} has a learner already"
                    );
                    let filter = hrsync::store::EventFilter {
                        employee_id: Some(id.to_string()),
                        status: Some(hrsync::model::EventStatus::Pending),
                        ..Default::default()
                    };
                    let waiting = world.store().events_page(&filter, None, 5).unwrap();
                    let due = waiting
                        .first()
                        .and_then(|e| e.next_attempt_at)
                        .expect("a waiting change");
                    assert!(due > jiff::Timestamp::now(), "{waiting:?}");
                } else {
                    assert!(after.contains_key(id), "hired {id} has a learner");
                }
            }
            _ => {}
        }
    }
    let counts = world.store().counts().unwrap();
    assert_eq!(counts.dead_letters, 0, "{counts:?}");
    world.assert_only_twins_refused();
}
