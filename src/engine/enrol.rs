//! Enrolment into learning paths (SCIM groups), batched: every learner waiting
//! for the same group while one PATCH is in flight goes in the next PATCH
//! together, so an initial load sends hundreds of members per request, not one.

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::apply::Failure;
use crate::connectors::ScimClient;

/// Requests taken off the queue at once.
const MAX_BATCH: usize = 4096;

struct Request {
    group: String,
    learner_id: String,
    reply: oneshot::Sender<Result<(), Failure>>,
}

/// A handle on the enrolment task; cheap to clone.
#[derive(Clone)]
pub struct Enroller {
    tx: mpsc::Sender<Request>,
}

impl Enroller {
    /// Starts the task; it stops when `cancel` fires, answering what is queued.
    pub fn spawn(scim: ScimClient, cancel: CancellationToken) -> (Enroller, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(MAX_BATCH);
        let task = tokio::spawn(run(scim, rx, cancel));
        (Enroller { tx }, task)
    }

    /// Adds the learner to the group (by display name); returns once the LMS has it.
    pub async fn enrol(&self, group: &str, learner_id: &str) -> Result<(), Failure> {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            group: group.to_string(),
            learner_id: learner_id.to_string(),
            reply,
        };
        let stopped = || Failure {
            message: "the engine is stopping".into(),
            status: None,
            transient: true,
            retry_after: None,
        };
        self.tx.send(request).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(scim: ScimClient, mut rx: mpsc::Receiver<Request>, cancel: CancellationToken) {
    let mut group_ids: HashMap<String, String> = HashMap::new();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let received = tokio::select! {
            _ = cancel.cancelled() => 0,
            n = rx.recv_many(&mut batch, MAX_BATCH) => n,
        };
        if received == 0 {
            return;
        }
        let mut by_group: HashMap<String, Vec<Request>> = HashMap::new();
        for request in batch.drain(..) {
            by_group.entry(request.group.clone()).or_default().push(request);
        }
        for (group, requests) in by_group {
            let result = add(&scim, &mut group_ids, &group, &requests).await;
            for request in requests {
                let _ = request.reply.send(result.clone());
            }
        }
    }
}

async fn add(
    scim: &ScimClient,
    group_ids: &mut HashMap<String, String>,
    group: &str,
    requests: &[Request],
) -> Result<(), Failure> {
    let id = match group_ids.get(group) {
        Some(id) => id.clone(),
        None => {
            let id = scim.group_id(group).await?.ok_or_else(|| {
                Failure::permanent(format!("the learning path \"{group}\" does not exist in the LMS"))
            })?;
            group_ids.insert(group.to_string(), id.clone());
            id
        }
    };
    let mut members: Vec<String> = requests.iter().map(|r| r.learner_id.clone()).collect();
    members.sort();
    members.dedup();
    scim.add_members(&id, &members).await?;
    Ok(())
}
