//! The HRIS changing in the background while an engine runs: rounds of churn,
//! each a few changes of one kind and a termination, delivered by webhook.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;

use hrsync::sandbox::churn::ChurnKind;

use super::World;

/// Every churn kind but a termination, which each round adds.
pub fn kinds() -> impl Iterator<Item = ChurnKind> + Clone {
    ChurnKind::ALL
        .into_iter()
        .filter(|kind| *kind != ChurnKind::Termination)
}

/// A churn running in the background: how many rounds are done, and its task,
/// which answers how many changes the HRIS made.
pub struct Churning {
    pub rounds: Arc<AtomicUsize>,
    pub task: tokio::task::JoinHandle<usize>,
}

impl Churning {
    pub fn rounds_done(&self) -> usize {
        self.rounds.load(Ordering::SeqCst)
    }
}

impl World {
    /// Starts `rounds` rounds of churn, one every 40 ms, cycling through [`kinds`]:
    /// two changes of the round's kind and one termination each.
    pub fn churn_in_background(&self, rounds: usize) -> Churning {
        let admin = format!("{}/churn", self.sandbox.credentials().admin_url);
        let http = self.http.clone();
        let done = Arc::new(AtomicUsize::new(0));
        let rounds_done = done.clone();
        let task = tokio::spawn(async move {
            let mut applied = 0;
            for kind in kinds().cycle().take(rounds) {
                let changes =
                    json!([{ "kind": kind, "count": 2 }, { "kind": ChurnKind::Termination, "count": 1 }]);
                let answer: serde_json::Value = (http.post(&admin))
                    .json(&json!({ "changes": changes }))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                applied += answer["applied"].as_array().map_or(0, Vec::len);
                rounds_done.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            applied
        });
        Churning { rounds: done, task }
    }
}
