//! Enrolment into learning paths (SCIM groups), batched: every learner waiting
//! for the same group while one PATCH is in flight goes in the next PATCH
//! together, so an initial load sends hundreds of members per request, not one.
//! A path the LMS lacks is created (`[lms] create_groups`), or named once in the
//! log as the configuration problem it is.

use std::collections::{HashMap, HashSet};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use std::sync::Arc;

use crate::connectors::roles::LearnerTarget;
use crate::engine::apply::outcome::Failure;

/// Requests taken off the queue at once.
const MAX_BATCH: usize = 4096;

struct Request {
    group: String,
    /// Taken out of the group rather than added (a trigger's `on_exit = "remove"`).
    leave: bool,
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
    pub fn spawn(
        learners: Arc<dyn LearnerTarget>,
        create_groups: bool,
        cancel: CancellationToken,
    ) -> (Enroller, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(MAX_BATCH);
        let paths = Paths {
            learners,
            create_groups,
            ids: HashMap::new(),
            reported: HashSet::new(),
        };
        let task = tokio::spawn(run(paths, rx, cancel));
        (Enroller { tx }, task)
    }

    /// Adds the learner to the group (by display name); returns once the LMS has it.
    pub async fn enrol(&self, group: &str, learner_id: &str) -> Result<(), Failure> {
        self.send(group, learner_id, false).await
    }

    /// Takes the learner out of the group (by display name); returns once the LMS
    /// has done it. A group the LMS lacks has nobody to take out.
    pub async fn leave(&self, group: &str, learner_id: &str) -> Result<(), Failure> {
        self.send(group, learner_id, true).await
    }

    async fn send(&self, group: &str, learner_id: &str, leave: bool) -> Result<(), Failure> {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            leave,
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

/// The learning paths as the enrolment task knows them.
struct Paths {
    learners: Arc<dyn LearnerTarget>,
    create_groups: bool,
    /// Group ids by display name; a group's id never changes.
    ids: HashMap<String, String>,
    /// Paths already named in the log as missing, so each is named once.
    reported: HashSet<String>,
}

async fn run(mut paths: Paths, mut rx: mpsc::Receiver<Request>, cancel: CancellationToken) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let received = tokio::select! {
            _ = cancel.cancelled() => 0,
            n = rx.recv_many(&mut batch, MAX_BATCH) => n,
        };
        if received == 0 {
            return;
        }
        let mut by_group: HashMap<(String, bool), Vec<Request>> = HashMap::new();
        for request in batch.drain(..) {
            by_group
                .entry((request.group.clone(), request.leave))
                .or_default()
                .push(request);
        }
        for ((group, leave), requests) in by_group {
            let result = if leave {
                paths.remove(&group, &requests).await
            } else {
                paths.add(&group, &requests).await
            };
            for request in requests {
                let _ = request.reply.send(result.clone());
            }
        }
    }
}

impl Paths {
    async fn add(&mut self, group: &str, requests: &[Request]) -> Result<(), Failure> {
        let id = self.id_of(group).await?;
        let mut members: Vec<String> = requests.iter().map(|r| r.learner_id.clone()).collect();
        members.sort();
        members.dedup();
        match self.learners.add_members(&id, &members).await {
            // Deleted in the LMS since it was looked up: look it up (or make it) again.
            Err(error) if error.status() == Some(404) => {
                self.ids.remove(group);
                let id = self.id_of(group).await?;
                self.learners.add_members(&id, &members).await?;
            }
            answer => answer?,
        }
        Ok(())
    }

    async fn remove(&mut self, group: &str, requests: &[Request]) -> Result<(), Failure> {
        let id = match self.ids.get(group) {
            Some(id) => id.clone(),
            None => match self.learners.group_id(group).await? {
                Some(id) => {
                    self.ids.insert(group.to_string(), id.clone());
                    id
                }
                None => return Ok(()),
            },
        };
        let mut members: Vec<String> = requests.iter().map(|r| r.learner_id.clone()).collect();
        members.sort();
        members.dedup();
        match self.learners.remove_members(&id, &members).await {
            // Deleted in the LMS since it was looked up: nobody is in it.
            Err(error) if error.status() == Some(404) => {
                self.ids.remove(group);
                Ok(())
            }
            answer => Ok(answer?),
        }
    }

    /// The group's id; a missing group is created when the configuration allows.
    async fn id_of(&mut self, group: &str) -> Result<String, Failure> {
        if let Some(id) = self.ids.get(group) {
            return Ok(id.clone());
        }
        let id = match self.learners.group_id(group).await? {
            Some(id) => id,
            None if self.create_groups => match self.learners.create_group(group).await {
                Ok(id) => {
                    tracing::info!(group, id, "created the learning path in the LMS");
                    id
                }
                Err(error) if !error.is_transient() => {
                    return Err(self.missing(
                        group,
                        format!("the LMS refused to create it ({error}); create it in the LMS"),
                    ));
                }
                Err(error) => return Err(error.into()),
            },
            None => {
                return Err(self.missing(
                    group,
                    "[lms] create_groups is off; create it in the LMS or turn create_groups on".into(),
                ));
            }
        };
        self.ids.insert(group.to_string(), id.clone());
        Ok(id)
    }

    /// A configuration problem: named once in the log, and in every event it stops.
    fn missing(&mut self, group: &str, what_to_do: String) -> Failure {
        let message = format!(
            "the learning path \"{group}\" does not exist in the LMS: {what_to_do}, then retry the event"
        );
        if self.reported.insert(group.to_string()) {
            tracing::warn!(group, "configuration problem: {message}");
        }
        Failure::permanent(message)
    }
}
