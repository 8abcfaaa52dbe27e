//! Enrolment into learning paths (SCIM groups), batched per path. Each path has
//! a task of its own with one PATCH in flight: every learner that comes for the
//! path meanwhile goes in its next PATCH together, so the slower the LMS answers,
//! the more members each PATCH carries. A PATCH to one path never waits on
//! another's (with one task for all, twenty paths on an LMS answering in 100 ms
//! took two seconds a round). An attempt waits on one enrolment at a time, so
//! `[apply] concurrency` bounds the PATCHes in flight as it bounds every other
//! request. A path the LMS lacks is created (`[lms] create_groups`), or named
//! once in the log as the configuration problem it is.

use std::collections::HashMap;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use std::sync::Arc;

use crate::connectors::roles::LearnerTarget;
use crate::engine::apply::outcome::Failure;

/// Requests taken off a queue at once.
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
        let task = tokio::spawn(route(learners, create_groups, rx, cancel));
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

/// Hands each request to its path's task, starting the task on the path's first
/// request. Every request waits for its answer, so a path's queue holds no more
/// than the attempts in flight: it needs no bound of its own.
async fn route(
    learners: Arc<dyn LearnerTarget>,
    create_groups: bool,
    mut rx: mpsc::Receiver<Request>,
    cancel: CancellationToken,
) {
    let mut paths: HashMap<String, mpsc::UnboundedSender<Request>> = HashMap::new();
    let mut tasks = JoinSet::new();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let received = tokio::select! {
            _ = cancel.cancelled() => 0,
            n = rx.recv_many(&mut batch, MAX_BATCH) => n,
            // Before the engine stops, a path's task ends only by a panic: the
            // engine's supervisor hears of it.
            Some(Err(error)) = tasks.join_next(), if !tasks.is_empty() => {
                if error.is_panic() {
                    std::panic::resume_unwind(error.into_panic());
                }
                0
            }
        };
        if received == 0 {
            break;
        }
        for request in batch.drain(..) {
            let queue = paths.entry(request.group.clone()).or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                let path = Path {
                    name: request.group.clone(),
                    learners: learners.clone(),
                    create_groups,
                    id: None,
                    reported: false,
                };
                tasks.spawn(path.run(rx, cancel.clone()));
                tx
            });
            // The path's task stops only with the engine; the request then answers
            // "stopping" as it drops.
            let _ = queue.send(request);
        }
    }
    drop(paths);
    while tasks.join_next().await.is_some() {}
}

/// One learning path as its enrolment task knows it.
struct Path {
    /// Its display name.
    name: String,
    learners: Arc<dyn LearnerTarget>,
    create_groups: bool,
    /// Its id in the LMS, once known; a group's id never changes.
    id: Option<String>,
    /// Named in the log as missing already, so it is named once.
    reported: bool,
}

impl Path {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Request>, cancel: CancellationToken) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        loop {
            let received = tokio::select! {
                _ = cancel.cancelled() => 0,
                n = rx.recv_many(&mut batch, MAX_BATCH) => n,
            };
            if received == 0 {
                return;
            }
            let (leaving, joining): (Vec<Request>, Vec<Request>) = batch.drain(..).partition(|r| r.leave);
            if !joining.is_empty() {
                let result = self.add(&joining).await;
                answer(joining, &result);
            }
            if !leaving.is_empty() {
                let result = self.remove(&leaving).await;
                answer(leaving, &result);
            }
        }
    }

    async fn add(&mut self, requests: &[Request]) -> Result<(), Failure> {
        let id = self.id().await?;
        let members = members(requests);
        match self.learners.add_members(&id, &members).await {
            // Deleted in the LMS since it was looked up: look it up (or make it) again.
            Err(error) if error.status() == Some(404) => {
                self.id = None;
                let id = self.id().await?;
                self.learners.add_members(&id, &members).await?;
            }
            answer => answer?,
        }
        Ok(())
    }

    async fn remove(&mut self, requests: &[Request]) -> Result<(), Failure> {
        let id = match &self.id {
            Some(id) => id.clone(),
            None => match self.learners.group_id(&self.name).await? {
                Some(id) => self.id.insert(id).clone(),
                None => return Ok(()),
            },
        };
        match self.learners.remove_members(&id, &members(requests)).await {
            // Deleted in the LMS since it was looked up: nobody is in it.
            Err(error) if error.status() == Some(404) => {
                self.id = None;
                Ok(())
            }
            answer => Ok(answer?),
        }
    }

    /// The group's id; a missing group is created when the configuration allows.
    async fn id(&mut self) -> Result<String, Failure> {
        if let Some(id) = &self.id {
            return Ok(id.clone());
        }
        let group = self.name.as_str();
        let id = match self.learners.group_id(group).await? {
            Some(id) => id,
            None if self.create_groups => match self.learners.create_group(group).await {
                Ok(id) => {
                    tracing::info!(group, id, "created the learning path in the LMS");
                    id
                }
                Err(error) if !error.is_transient() => {
                    return Err(self.missing(format!(
                        "the LMS refused to create it ({error}); create it in the LMS"
                    )));
                }
                Err(error) => return Err(error.into()),
            },
            None => {
                return Err(self.missing(
                    "[lms] create_groups is off; create it in the LMS or turn create_groups on".into(),
                ));
            }
        };
        Ok(self.id.insert(id).clone())
    }

    /// A configuration problem: named once in the log, and in every event it stops.
    fn missing(&mut self, what_to_do: String) -> Failure {
        let group = self.name.as_str();
        let message = format!(
            "the learning path \"{group}\" does not exist in the LMS: {what_to_do}, then retry the event"
        );
        if !std::mem::replace(&mut self.reported, true) {
            tracing::warn!(group, "configuration problem: {message}");
        }
        Failure::permanent(message)
    }
}

fn answer(requests: Vec<Request>, result: &Result<(), Failure>) {
    for request in requests {
        let _ = request.reply.send(result.clone());
    }
}

/// The learners the requests name, each once.
fn members(requests: &[Request]) -> Vec<String> {
    let mut members: Vec<String> = requests.iter().map(|r| r.learner_id.clone()).collect();
    members.sort();
    members.dedup();
    members
}
