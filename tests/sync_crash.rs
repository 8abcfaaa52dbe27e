//! The real binary killed with SIGKILL in the middle of a churn run and started
//! again loses nothing and applies nothing twice: afterwards the LMS equals the
//! HRIS, every journaled change is finished, and the audit log names each
//! applied change once and matches the journal's writes.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Options, assert_in_step, start_for_binary};
use serde_json::json;

const KINDS: [&str; 9] = [
    "hire",
    "promotion",
    "transfer",
    "name_change",
    "email_change",
    "leave",
    "return",
    "rehire",
    "conversion",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_engine_restarted_loses_nothing_and_applies_nothing_twice() {
    let world = start_for_binary(Options {
        employees: 800,
        retry_attempts: 30,
        ..Options::default()
    })
    .await;
    let mut engine = world.spawn_binary();
    world
        .settle_until(Duration::from_secs(90), |c| c.total >= 800)
        .await;

    // Churn in the background: a few changes every 40 ms, each delivered by webhook.
    let admin = format!("{}/churn", world.sandbox.credentials().admin_url);
    let http = world.http.clone();
    let churn = tokio::spawn(async move {
        let mut applied = 0;
        for round in 0..60 {
            let kind = KINDS[round % KINDS.len()];
            let answer: serde_json::Value = http
                .post(&admin)
                .json(&json!({ "changes": [{ "kind": kind, "count": 2 }, { "kind": "termination", "count": 1 }] }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            applied += answer["applied"].as_array().map_or(0, Vec::len);
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
        applied
    });

    // Kill it mid-run, with changes arriving and being applied; what is sent
    // while it is down is lost to the webhooks and must come back by polling.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let before_kill = world.store().counts().unwrap().total;
    engine.kill().expect("SIGKILL");
    engine.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut engine = world.spawn_binary();
    let applied = churn.await.unwrap();
    assert!(applied >= 100, "the churn ran: {applied}");
    assert!(before_kill > 800, "changes were arriving when it was killed");

    // One poll after the last change brings in whatever the webhooks lost.
    tokio::time::sleep(Duration::from_secs(3)).await;
    world.settle_until(Duration::from_secs(120), |_| true).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    world.settle_until(Duration::from_secs(60), |_| true).await;
    nix_terminate(&engine);
    let status = engine.wait().unwrap();
    assert!(status.success(), "a SIGTERM stops it cleanly: {status:?}");

    assert_in_step(&world).await;
    world.assert_only_twins_refused();
    let counts = world.store().counts().unwrap();
    assert_eq!(counts.dead_letters, 0, "{counts:?}");

    // Nothing applied twice: each applied event is audited once, each learner created once.
    let audit = world
        .store()
        .verify_audit()
        .unwrap()
        .expect("the audit chain is whole");
    let mut per_event: BTreeMap<String, usize> = BTreeMap::new();
    let mut creates: BTreeMap<String, usize> = BTreeMap::new();
    let mut before = None;
    loop {
        let page = world
            .store()
            .audit_page(&Default::default(), before, 500)
            .unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.seq);
        for entry in &page {
            if !matches!(
                entry.action.as_str(),
                "learner.create" | "learner.update" | "learner.deactivate" | "learner.reactivate"
            ) {
                continue;
            }
            let reason = entry.reason.clone().unwrap_or_default();
            *per_event.entry(reason).or_default() += 1;
            if entry.action == "learner.create" {
                *creates.entry(entry.employee_id.clone().unwrap()).or_default() += 1;
            }
        }
    }
    assert!(audit.entries as usize >= per_event.len());
    let twice: Vec<_> = per_event.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "events written more than once: {twice:?}");
    let created_twice: Vec<_> = creates.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        created_twice.is_empty(),
        "learners created twice: {created_twice:?}"
    );
    assert_eq!(
        per_event.len() as u64,
        counts.applied,
        "every applied change is audited, and nothing else is"
    );
}

fn nix_terminate(child: &std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
