//! The apply worker: takes ready events from the journal (one employee at a time
//! in each direction, a bounded number at once), applies them, and journals their
//! outcomes in groups: one transaction for everything that finished together. A
//! write-back head brings its employee's queued completions along as one run.
//! Each turn claims runs ahead, so that a place that frees starts the next run at
//! once instead of waiting for the turn's commit.

use std::collections::{HashSet, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::engine::apply::outcome::{Failure, Membership, Outcome};
use crate::engine::apply::{Applier, Attempt};
use crate::engine::operator::metrics::Metrics;
use crate::model::{
    AuditAction, Direction, Event, EventId, EventStatus, FieldReason, NewAuditEntry, RecordStamp, WriteRecord,
};
use crate::store::StoreError;

/// Looks at the journal at least this often, even when nothing wakes it.
const IDLE_LOOK: Duration = Duration::from_millis(500);
/// Completions of one employee applied as one run at most.
const RUN: usize = 32;

#[derive(Clone)]
pub struct Worker {
    pub applier: Arc<Applier>,
    /// Flow 2, when the LRS and the contract's `[writeback]` are configured.
    pub writeback: Option<Arc<crate::engine::apply::writeback::WriteBack>>,
    pub concurrency: usize,
    pub metrics: Arc<Metrics>,
    /// Signalled when new events are journaled or an operator retries one.
    pub wake: Arc<Notify>,
    /// While set, nothing new is started (the operator paused the engine).
    pub paused: Arc<std::sync::atomic::AtomicBool>,
    /// Where a panic while applying is reported (it makes the engine degraded).
    pub trouble: crate::engine::supervise::TaskTrouble,
    /// The LMS's and the HRIS's health, from what each attempt met.
    pub health: crate::engine::operator::health::Health,
    /// What this engine's claims on events name it (its id in the store).
    pub engine: String,
    /// How long a claim lasts (`[store] lease_seconds`): past it, the event may
    /// be taken again (on SQLite, where one engine runs, only by this one).
    pub claim_time: Duration,
}

/// One finished event, waiting to be journaled.
struct Finished {
    event: Event,
    outcome: Outcome,
    /// The last attempt was cut off by a stop before it reached the journal.
    cut_off: bool,
    /// Who the employee turned out to be (HRIS → LMS only), for duplicate detection.
    sighting: Option<crate::engine::intake::duplicates::Sighting>,
    /// The HRIS record the attempt went by (HRIS → LMS only): the employee's newest once applied.
    record: Option<RecordStamp>,
    /// Whom that record makes the employee a report of (a contract with a manager field).
    reports_to: Option<crate::engine::apply::reports::ReportsTo>,
}

/// What the worker still needs of a journaled event (not its payload).
struct JournaledEvent {
    id: EventId,
    direction: Direction,
    employee_id: String,
    received_at: Timestamp,
    /// Why it waits for an operator now (a failure, a refusal, a hold), if it does.
    why: Option<String>,
    /// What the attempt showed of the target system: answered, or failing (why).
    target: Option<Result<(), String>>,
}

impl JournaledEvent {
    fn of(event: &Event, outcome: &Outcome) -> JournaledEvent {
        let why = match outcome {
            Outcome::Failed { failure, .. } => Some(failure.message.clone()),
            Outcome::Rejected(reasons) => Some(crate::model::FieldReason::summary(reasons)),
            Outcome::Held { why } => Some(why.clone()),
            _ => None,
        };
        let target = match outcome {
            Outcome::Applied { .. } | Outcome::Unchanged { .. } => Some(Ok(())),
            // Unreachable, busy or refusing our credentials: the system is failing.
            Outcome::Failed { failure, .. }
                if failure.transient || matches!(failure.status, Some(401 | 403)) =>
            {
                Some(Err(failure.message.clone()))
            }
            // It answered: the record or the configuration is at fault, not the system.
            Outcome::Failed { failure, .. } if failure.status.is_some() => Some(Ok(())),
            _ => None,
        };
        JournaledEvent {
            id: event.id,
            direction: event.direction,
            employee_id: event.employee_id.clone(),
            received_at: event.received_at,
            why,
            target,
        }
    }
}

/// What one task finished: its events in order, and the events of its run it
/// claimed but never tried (an earlier one is left open, so they must wait).
struct Done {
    finished: Vec<Finished>,
    untried: Vec<EventId>,
}

/// The events this engine is applying (claimed, not yet journaled), whose claims
/// it renews while they are in flight, and those whose claim it lost meanwhile.
#[derive(Default)]
struct Claims {
    held: HashSet<EventId>,
    lost: HashSet<EventId>,
}

impl Claims {
    /// Forgets the events of a turn (journaled, or left to be tried again) and
    /// answers which of them lost their claim while in flight.
    fn end(&mut self, ids: impl IntoIterator<Item = EventId>) -> HashSet<EventId> {
        ids.into_iter()
            .filter(|id| {
                self.held.remove(id);
                self.lost.remove(id)
            })
            .collect()
    }
}

/// What one turn of the journal answers: the outcomes it journaled, and the
/// runs it claimed to start (with the events whose last start was cut off).
struct Turned {
    journaled: Vec<(JournaledEvent, EventStatus)>,
    runs: Vec<Vec<Event>>,
    cut_off: HashSet<EventId>,
}

/// What the worker has on hand between turns.
#[derive(Default)]
struct Flight {
    tasks: JoinSet<Done>,
    /// The employees (per direction) with a run claimed: started or queued.
    employees: HashSet<(Direction, String)>,
    claims: Claims,
    /// Claimed runs not started yet. A place that frees takes the next at once,
    /// not after the turn's commit: at 32 places a turn held up every one of
    /// them, and waiting 5 ms more before each turn cost a fifth of the load's
    /// rate. Up to `[apply] concurrency` runs wait here.
    queued: VecDeque<Vec<Event>>,
    /// The queued events whose last start was cut off.
    cut_off: HashSet<EventId>,
}

impl Worker {
    /// Runs until `cancel`; events in flight then finish and are journaled.
    pub async fn run(self, cancel: CancellationToken) {
        let mut flight = Flight::default();
        let mut stopping = false;
        let mut finished = Vec::new();
        let mut untried = Vec::new();
        // Well before a claim runs out: an attempt may outlast several claim times.
        let mut renewal = tokio::time::interval((self.claim_time / 3).max(Duration::from_millis(10)));
        renewal.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let start = !stopping && !self.paused.load(std::sync::atomic::Ordering::Relaxed);
            if !start && !flight.queued.is_empty() {
                self.release_queued(&mut flight).await;
            }
            if start || !finished.is_empty() {
                let done = (std::mem::take(&mut finished), std::mem::take(&mut untried));
                self.turn(done, start, &mut flight).await;
            }
            if stopping && flight.tasks.is_empty() {
                return;
            }
            tokio::select! {
                _ = cancel.cancelled(), if !stopping => stopping = true,
                Some(done) = flight.tasks.join_next(), if !flight.tasks.is_empty() => {
                    let mut take = |done: Done| {
                        finished.extend(done.finished);
                        untried.extend(done.untried);
                    };
                    if let Ok(done) = done {
                        take(done);
                    }
                    while let Some(Ok(done)) = flight.tasks.try_join_next() {
                        take(done);
                    }
                    if !stopping && !self.paused.load(std::sync::atomic::Ordering::Relaxed) {
                        self.start_queued(&mut flight);
                    }
                }
                _ = renewal.tick(), if !flight.claims.held.is_empty() => self.renew(&mut flight.claims).await,
                _ = self.wake.notified(), if !stopping => {}
                _ = tokio::time::sleep(IDLE_LOOK), if !stopping => {}
            }
        }
    }

    /// One transaction (one commit) per turn: journals what finished, and, when
    /// `start`, claims the ready runs there is room for, the finished employees'
    /// next events included (their predecessors are journaled in the same
    /// transaction). Then counts and tells, and starts the claimed runs.
    async fn turn(
        &self,
        (finished, untried): (Vec<Finished>, Vec<EventId>),
        start: bool,
        flight: &mut Flight,
    ) {
        let lost = (flight.claims).end(finished.iter().map(|f| f.event.id).chain(untried.iter().copied()));
        // An employee whose event finished has nothing in flight once it is journaled
        // (or, if journaling fails, its event stays ready and is applied again).
        for f in &finished {
            (flight.employees).remove(&(f.event.direction, f.event.employee_id.clone()));
        }
        // Places free now, and as many runs again to start the moment places free.
        let room = if start {
            (2 * self.concurrency).saturating_sub(flight.tasks.len() + flight.queued.len())
        } else {
            0
        };
        let limit = flight.employees.len() + room;
        let skip = flight.employees.clone();
        let writeback = self.writeback.is_some();
        let store = self.applier.store.clone();
        let retry = self.applier.retry;
        let applier = self.applier.clone();
        let claimer = (self.engine.clone(), self.claim_time);
        let turned = tokio::task::spawn_blocking(move || {
            store.transaction(|tx| {
                // An operator left shadow mode (from anywhere): nothing claimed now is shadowed.
                if applier.shadow.is_on() && tx.shadow_mode()?.left.is_some() && applier.leave_shadow() {
                    tracing::info!("shadow mode was left: the engine writes to the LMS and the HRIS now");
                }
                let journaled = journal_outcomes(tx, &finished, &untried, retry, (&claimer.0, &lost))?;
                let (runs, cut_off) = if room == 0 {
                    (Vec::new(), HashSet::new())
                } else {
                    claim_runs(tx, limit, room, &skip, writeback, &claimer)?
                };
                Ok(Turned {
                    journaled,
                    runs,
                    cut_off,
                })
            })
        })
        .await;
        let turned = match turned {
            Ok(Ok(turned)) => turned,
            Ok(Err(error)) => {
                // Nothing of the turn was journaled; the finished events stay ready and
                // are applied again, which writes nothing the second time (only
                // differences are written).
                tracing::error!(%error, "cannot journal outcomes or start events; they will be tried again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                return;
            }
            Err(_) => return,
        };
        let learners_written =
            (turned.journaled.iter()).any(|(event, _)| event.direction == Direction::HrisToLms);
        self.count_and_tell(turned.journaled);
        // A target that sends its writes on later (a file feed) does so per batch.
        if learners_written && let Err(error) = self.applier.learners.flush().await {
            tracing::warn!(%error, "the LMS could not take the batch's writes; they are sent again later");
        }
        self.queue_runs(turned.runs, turned.cut_off, flight).await;
        if start {
            self.start_queued(flight);
        }
    }

    /// Queues the claimed runs to start, but for those that may not start here.
    async fn queue_runs(&self, runs: Vec<Vec<Event>>, cut_off: HashSet<EventId>, flight: &mut Flight) {
        let mut not_begun = Vec::new();
        for run in runs {
            let head = &run[0];
            if (head.direction == Direction::LmsToHris && self.writeback.is_none())
                || !(flight.employees).insert((head.direction, head.employee_id.clone()))
            {
                not_begun.extend(run.iter().map(|e| e.id));
                continue;
            }
            (flight.claims.held).extend(run.iter().map(|e| e.id));
            (flight.cut_off).extend(run.iter().map(|e| e.id).filter(|id| cut_off.contains(id)));
            flight.queued.push_back(run);
        }
        if !not_begun.is_empty() {
            // Claimed but not begun: not an attempt cut off by a stop.
            self.release(not_begun).await;
        }
    }

    /// Lets go of the queued runs (the engine stops or is paused).
    async fn release_queued(&self, flight: &mut Flight) {
        let mut not_begun = Vec::new();
        for run in flight.queued.drain(..) {
            (flight.employees).remove(&(run[0].direction, run[0].employee_id.clone()));
            for event in run {
                flight.claims.held.remove(&event.id);
                flight.cut_off.remove(&event.id);
                not_begun.push(event.id);
            }
        }
        self.release(not_begun).await;
    }

    /// Starts queued runs, one task each, while there are places. A run whose
    /// claim another engine took meanwhile is that engine's: it is dropped.
    fn start_queued(&self, flight: &mut Flight) {
        while flight.tasks.len() < self.concurrency
            && let Some(run) = flight.queued.pop_front()
        {
            if run.iter().any(|e| flight.claims.lost.contains(&e.id)) {
                (flight.employees).remove(&(run[0].direction, run[0].employee_id.clone()));
                flight.claims.end(run.iter().map(|e| e.id));
                for event in &run {
                    flight.cut_off.remove(&event.id);
                }
                continue;
            }
            let cut_off: Vec<bool> = run.iter().map(|e| flight.cut_off.remove(&e.id)).collect();
            self.spawn_run(run, cut_off, &mut flight.tasks);
        }
    }

    /// Starts one run; `cut_off` says, per event, whether its last start was cut off.
    fn spawn_run(&self, run: Vec<Event>, cut_off: Vec<bool>, tasks: &mut JoinSet<Done>) {
        match run[0].direction {
            Direction::HrisToLms => {
                let applier = self.applier.clone();
                let trouble = self.trouble.clone();
                let event = run.into_iter().next().expect("a run has its head");
                let cut_off = cut_off[0];
                tasks.spawn(async move {
                    // A panic while applying must not leave the event (and its
                    // employee) in limbo: it goes to the error queue with the message.
                    let attempt = AssertUnwindSafe(applier.attempt(&event))
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|panic| Attempt {
                            outcome: panicked(&trouble, &event, &*panic),
                            sighting: None,
                            record: None,
                            reports_to: None,
                        });
                    Done {
                        finished: vec![Finished {
                            event,
                            outcome: attempt.outcome,
                            cut_off,
                            sighting: attempt.sighting,
                            record: attempt.record,
                            reports_to: attempt.reports_to,
                        }],
                        untried: Vec::new(),
                    }
                });
            }
            Direction::LmsToHris => {
                let writeback = self.writeback.clone().expect("queued only with write-back");
                let trouble = self.trouble.clone();
                tasks.spawn(async move {
                    let outcomes = AssertUnwindSafe(writeback.apply_run(&run))
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|panic| vec![panicked(&trouble, &run[0], &*panic)]);
                    let tried = outcomes.len();
                    let mut events = run.into_iter();
                    let finished = events
                        .by_ref()
                        .take(tried)
                        .zip(outcomes)
                        .zip(cut_off)
                        .map(|((event, outcome), cut_off)| Finished {
                            event,
                            outcome,
                            cut_off,
                            sighting: None,
                            record: None,
                            reports_to: None,
                        })
                        .collect();
                    Done {
                        finished,
                        untried: events.map(|e| e.id).collect(),
                    }
                });
            }
        }
    }

    /// Extends the claims on the events in flight, in one small transaction of its
    /// own (not the turn's, which may be far off), and marks as lost those another
    /// engine holds now. One it could not extend that no other engine holds (an
    /// operator decided it, or its claim ran out and nobody took it) is not lost:
    /// the turn journals its outcome, or the operator's decision, as before.
    async fn renew(&self, claims: &mut Claims) {
        let ids: Vec<EventId> = claims.held.iter().copied().collect();
        let store = self.applier.store.clone();
        let (engine, claim_time, asked) = (self.engine.clone(), self.claim_time, ids);
        let renewed = tokio::task::spawn_blocking(move || {
            store.transaction(|tx| {
                let renewed: HashSet<EventId> = (tx.renew_claims(&asked, &engine, tx.now() + claim_time)?)
                    .into_iter()
                    .collect();
                let missed: Vec<EventId> = (asked.iter().copied())
                    .filter(|id| !renewed.contains(id))
                    .collect();
                let holders = tx.claim_holders(&missed)?;
                Ok(holders
                    .into_iter()
                    .filter_map(|(id, holder)| holder.filter(|h| *h != engine).map(|h| (id, h)))
                    .collect::<Vec<_>>())
            })
        })
        .await;
        let taken = match renewed {
            Ok(Ok(taken)) => taken,
            Ok(Err(error)) => {
                tracing::warn!(%error, "cannot renew the claims on the events in flight; trying again soon");
                return;
            }
            Err(_) => return,
        };
        for (id, holder) in taken {
            claims.held.remove(&id);
            claims.lost.insert(id);
            tracing::warn!(
                event = id.0,
                engine = %self.engine,
                holder = %holder,
                "another engine took the claim on an event in flight: its outcome is not journaled \
                 over the other engine's"
            );
        }
    }

    /// Lets go of claimed events that were not begun.
    async fn release(&self, ids: Vec<EventId>) {
        let store = self.applier.store.clone();
        let result =
            tokio::task::spawn_blocking(move || store.transaction(|tx| tx.release_claims(&ids))).await;
        if let Ok(Err(error)) = result {
            tracing::warn!(%error, "cannot let go of the claims on events not begun");
        }
    }

    /// Counts journaled outcomes, logs each that now waits for an operator, and
    /// tells the ops channel of dead letters.
    fn count_and_tell(&self, journaled: Vec<(JournaledEvent, EventStatus)>) {
        for (event, status) in journaled {
            self.metrics.event_finished(status, event.received_at);
            let system = match event.direction {
                Direction::HrisToLms => crate::engine::operator::health::System::Lms,
                Direction::LmsToHris => crate::engine::operator::health::System::Hris,
            };
            match &event.target {
                Some(Ok(())) => self.health.ok(system),
                Some(Err(why)) => self.health.failed(system, why),
                None => {}
            }
            if matches!(
                status,
                EventStatus::DeadLetter | EventStatus::Rejected | EventStatus::Held
            ) {
                tracing::warn!(
                    event = event.id.0,
                    employee = %event.employee_id,
                    status = status.as_str(),
                    reason = event.why.as_deref().unwrap_or(""),
                    "an event waits for an operator"
                );
            }
            // Dead letters reach the ops channel grouped, by the alerts task.
        }
    }
}

/// The outcome of an attempt that panicked: refused with the panic's message.
/// A panic is a bug: the engine says it is degraded until it restarts.
fn panicked(
    trouble: &crate::engine::supervise::TaskTrouble,
    event: &Event,
    panic: &(dyn std::any::Any + Send),
) -> Outcome {
    let message = crate::engine::supervise::panic_message(panic);
    trouble.report(format!(
        "applying event {} (employee {}) panicked: {message}; it is in the error queue",
        event.id, event.employee_id
    ));
    Outcome::failed(Failure::permanent(format!(
        "applying the event panicked: {message}"
    )))
}

/// Claims up to `room` ready runs (heads not in `skip`; write-back ones only with
/// `writeback`), each a head and, for a write-back, its employee's queued
/// completions after it, claimed for `engine` for `claim_time`. Answers them
/// whole, and those whose last start was cut off.
fn claim_runs(
    tx: &crate::store::StoreTx<'_>,
    limit: usize,
    room: usize,
    skip: &HashSet<(Direction, String)>,
    writeback: bool,
    (engine, claim_time): &(String, Duration),
) -> Result<(Vec<Vec<Event>>, HashSet<EventId>), StoreError> {
    let heads = tx.ready_heads(limit)?;
    let start = heads
        .into_iter()
        .filter(|(_, direction, employee)| {
            (writeback || *direction == Direction::HrisToLms)
                && !skip.contains(&(*direction, employee.clone()))
        })
        .take(room);
    let mut runs = Vec::with_capacity(room);
    for (head, direction, employee) in start {
        let mut run = vec![head];
        if direction == Direction::LmsToHris {
            run.extend(tx.queued_after(head, direction, &employee, RUN - 1)?);
        }
        runs.push(run);
    }
    let all: Vec<EventId> = runs.iter().flatten().copied().collect();
    let cut_off = tx
        .claim(&all, engine, tx.now() + *claim_time)?
        .into_iter()
        .collect();
    let mut events: std::collections::HashMap<EventId, Event> =
        tx.events(&all)?.into_iter().map(|e| (e.id, e)).collect();
    let runs = runs
        .into_iter()
        .map(|run| run.iter().filter_map(|id| events.remove(id)).collect::<Vec<_>>())
        .filter(|run| !run.is_empty())
        .collect();
    Ok((runs, cut_off))
}

/// Whether an event this engine (`engine`) claimed is another engine's now: its
/// claim was taken over (`holder`, locked by `claim_holders`), or it was `lost`
/// while in flight and is no engine's (the other engine may have finished it).
fn taken_over(holder: Option<&Option<String>>, engine: &str, lost: bool) -> bool {
    match holder {
        Some(Some(holder)) => holder != engine,
        Some(None) => lost,
        None => false,
    }
}

/// Journals finished outcomes (and lets go of the claims on untried events) inside
/// the turn's transaction; answers each journaled event with its new status. An
/// event another engine took over while it was in flight (`lost`, or claimed by
/// another now) is left to that engine: its outcome is not journaled over the
/// other's, and the event is named in a warning.
fn journal_outcomes(
    tx: &crate::store::StoreTx<'_>,
    finished: &[Finished],
    untried: &[EventId],
    retry: crate::config::RetryPolicy,
    (engine, lost): (&str, &HashSet<EventId>),
) -> Result<Vec<(JournaledEvent, EventStatus)>, StoreError> {
    // Where engines share the store, their turns take the employees in one order.
    tx.hold_turns(
        finished
            .iter()
            .map(|f| (f.event.direction, f.event.employee_id.as_str())),
    )?;
    let ids: Vec<EventId> = (finished.iter().map(|f| f.event.id))
        .chain(untried.iter().copied())
        .collect();
    let holders = tx.claim_holders(&ids)?;
    let taken = |id: &EventId| taken_over(holders.get(id), engine, lost.contains(id));
    let untried: Vec<EventId> = untried.iter().copied().filter(|id| !taken(id)).collect();
    tx.release_claims(&untried)?;
    let mut results = Vec::with_capacity(finished.len());
    // Those whose change is journaled now: whatever waits for them as a manager goes.
    let mut finished_employees = Vec::new();
    for Finished {
        event,
        outcome,
        cut_off,
        sighting,
        record: applied,
        reports_to,
    } in finished
    {
        if taken(&event.id) {
            tracing::warn!(
                event = event.id.0,
                employee = %event.employee_id,
                engine,
                holder = holders.get(&event.id).cloned().flatten().as_deref().unwrap_or("none"),
                "another engine took this event while it was being applied here: this \
                 attempt's outcome is not journaled over that engine's"
            );
            continue;
        }
        let status = match record(tx, event, outcome, retry) {
            Ok(status) => status,
            // An operator decided the event (skipped, flagged) while it was in
            // flight: the decision stands, and the attempt is on record.
            Err(StoreError::IllegalTransition { from, .. }) => {
                tx.audit_at_commit(NewAuditEntry {
                    actor: "engine".into(),
                    action: AuditAction::EventDecidedInFlight,
                    employee_id: Some(event.employee_id.clone()),
                    subject: format!("event {}", event.id),
                    before: serde_json::Value::Null,
                    after: serde_json::Value::Null,
                    reason: Some(format!(
                        "event {} became {} while it was being applied; what the attempt \
                         wrote (if anything) stays in the target, the operator's decision stands",
                        event.id,
                        from.as_str()
                    )),
                });
                continue;
            }
            Err(error) => return Err(error),
        };
        if let (Some(stamp), EventStatus::Applied | EventStatus::Unchanged) = (applied, status) {
            tx.set_applied_record(&event.employee_id, stamp, event.id)?;
        }
        // A manager whose count this record changed is decided again.
        if let Some(reports_to) = reports_to {
            crate::engine::apply::reports::record_reports_to(tx, &event.employee_id, event.id, reports_to)?;
        }
        if event.direction == Direction::HrisToLms
            && !matches!(status, EventStatus::Pending | EventStatus::Retrying)
        {
            finished_employees.push(event.employee_id.as_str());
        }
        results.push((JournaledEvent::of(event, outcome), status));
        if let Some(sighting) = sighting {
            tx.upsert_person(&sighting.keys)?;
            for group in &sighting.groups {
                crate::engine::intake::duplicates::record_suspected(tx, group)?;
            }
        }
        if *cut_off {
            audit_recovered(tx, event, outcome)?;
        }
    }
    tx.wake_waiting_for(&finished_employees)?;
    Ok(results)
}

/// An attempt cut off by a stop may have written before it could journal: if the
/// target now holds the values, say so in the audit log, so no write goes unrecorded.
fn audit_recovered(
    tx: &crate::store::StoreTx<'_>,
    event: &Event,
    outcome: &Outcome,
) -> Result<(), StoreError> {
    let Outcome::Unchanged {
        mapped: Some(mapped),
        held: true,
        ..
    } = outcome
    else {
        return Ok(());
    };
    let (action, after) = match event.direction {
        Direction::HrisToLms => (
            AuditAction::LearnerRecovered,
            mapped.get("lms").cloned().unwrap_or(serde_json::Value::Null),
        ),
        Direction::LmsToHris => (AuditAction::TrainingRecovered, mapped.clone()),
    };
    tx.audit_at_commit(NewAuditEntry {
        actor: "engine".into(),
        action,
        employee_id: Some(event.employee_id.clone()),
        subject: format!("event {}", event.id),
        before: serde_json::Value::Null,
        after,
        reason: Some(format!(
            "event {} ({} {}): an attempt cut off by a stop; the target already holds these values, \
             most likely written by that attempt",
            event.id, event.source, event.kind
        )),
    });
    Ok(())
}

/// Journals one outcome inside the group's transaction; returns the new status.
fn record(
    tx: &crate::store::StoreTx<'_>,
    event: &Event,
    outcome: &Outcome,
    retry: crate::config::RetryPolicy,
) -> Result<EventStatus, StoreError> {
    let id = event.id;
    let status = match outcome {
        Outcome::Applied {
            write,
            audit_action,
            enrolled,
            mapped,
            awaits_manager,
        } => {
            tx.mark_applied(id, write, mapped.as_ref())?;
            journal_write(tx, event, Some((write, audit_action)), enrolled)?;
            match event.direction {
                Direction::HrisToLms => {
                    tx.set_manager_wait(&event.employee_id, awaits_manager.as_deref(), id)?;
                }
                Direction::LmsToHris => tx.credential_in_hris(id)?,
            }
            EventStatus::Applied
        }
        Outcome::Unchanged {
            enrolled,
            mapped,
            awaits_manager,
            ..
        } => {
            tx.mark_unchanged(id, mapped.as_ref())?;
            journal_write(tx, event, None, enrolled)?;
            match event.direction {
                Direction::HrisToLms => {
                    tx.set_manager_wait(&event.employee_id, awaits_manager.as_deref(), id)?
                }
                // Found in the HRIS already (not a statement the contract stopped writing back).
                Direction::LmsToHris if mapped.is_some() => tx.credential_in_hris(id)?,
                Direction::LmsToHris => {}
            }
            EventStatus::Unchanged
        }
        Outcome::Deferred {
            until,
            why,
            waits_for,
        } => {
            match waits_for {
                Some(manager_id) => tx.defer_for_manager(id, *until, why, manager_id)?,
                None => tx.defer(id, *until, why)?,
            }
            EventStatus::Pending
        }
        Outcome::Rejected(reasons) => {
            tx.mark_rejected(id, reasons)?;
            EventStatus::Rejected
        }
        Outcome::Held { why } => {
            tx.mark_held(id, why)?;
            EventStatus::Held
        }
        // Left meanwhile (the plan was made before): planned afresh, soon, as the rest are.
        Outcome::Shadowed { .. } if tx.shadow_mode()?.left.is_some() => {
            let soon = Timestamp::now() + SignedDuration::from_secs(1);
            tx.defer(
                id,
                soon,
                "planned in shadow mode, which was left since: planned afresh",
            )?;
            EventStatus::Pending
        }
        Outcome::Shadowed { planned, mapped } => {
            tx.mark_shadowed(id, &planned.summary(), &planned.with_mapped(mapped.clone()))?;
            EventStatus::Shadowed
        }
        Outcome::Superseded { why } => {
            tx.mark_superseded(id, why)?;
            tx.audit_at_commit(NewAuditEntry {
                actor: "engine".into(),
                action: AuditAction::EventSuperseded,
                employee_id: Some(event.employee_id.clone()),
                subject: format!("event {id}"),
                before: serde_json::Value::Null,
                after: serde_json::Value::Null,
                reason: Some(format!("event {id} ({} {}): {why}", event.source, event.kind)),
            });
            EventStatus::Skipped
        }
        Outcome::Failed { failure, written } if !failure.transient => {
            journal_partial(tx, event, written.as_deref())?;
            let reasons = [FieldReason {
                field: match event.direction {
                    Direction::HrisToLms => "lms".into(),
                    Direction::LmsToHris => "hris".into(),
                },
                reason: failure.message.clone(),
            }];
            tx.mark_rejected(id, &reasons)?;
            EventStatus::Rejected
        }
        Outcome::Failed { failure, written } => {
            journal_partial(tx, event, written.as_deref())?;
            if event.attempts + 1 >= retry.attempts {
                tx.mark_dead_letter(id, &failure.message, failure.status)?;
                EventStatus::DeadLetter
            } else {
                tx.mark_retry(id, &failure.message, failure.status, next_attempt(failure, retry))?;
                EventStatus::Retrying
            }
        }
    };
    Ok(status)
}

/// A write that reached the target, with its audit entry and the enrolments
/// that came with it: one implementation for a whole outcome and a partial one.
fn journal_write(
    tx: &crate::store::StoreTx<'_>,
    event: &Event,
    write: Option<(&WriteRecord, &AuditAction)>,
    enrolled: &[Membership],
) -> Result<(), StoreError> {
    let joined: Vec<String> = enrolled
        .iter()
        .filter_map(|m| match m {
            Membership::Joined(group) => Some(group.clone()),
            Membership::Left(_) => None,
        })
        .collect();
    tx.record_enrolments(&event.employee_id, &joined)?;
    for membership in enrolled {
        if let Membership::Left(group) = membership {
            tx.forget_enrolment(&event.employee_id, group)?;
        }
    }
    let Some((write, audit_action)) = write else {
        return audit_enrolments(tx, event, None, enrolled);
    };
    tx.audit_at_commit(NewAuditEntry {
        actor: "engine".into(),
        action: *audit_action,
        employee_id: Some(event.employee_id.clone()),
        subject: match event.direction {
            Direction::HrisToLms => format!("learner {}", write.target_id.as_deref().unwrap_or("?")),
            Direction::LmsToHris => format!("HRIS {}", write.target_id.as_deref().unwrap_or("?")),
        },
        before: write.before.clone(),
        after: write.after.clone(),
        reason: Some(format!("event {} ({} {})", event.id, event.source, event.kind)),
    });
    audit_enrolments(tx, event, write.target_id.as_deref(), enrolled)?;
    // A new learner is someone's manager, maybe: the links waiting for them go now.
    if event.direction == Direction::HrisToLms
        && matches!(
            *audit_action,
            AuditAction::LearnerCreate | AuditAction::LearnerAdopt
        )
    {
        crate::engine::apply::manager_waits::release_manager_waits(tx, &event.employee_id)?;
    }
    Ok(())
}

/// What a failed attempt wrote before it failed: recorded with the event, so
/// the journal and the audit match the target.
fn journal_partial(
    tx: &crate::store::StoreTx<'_>,
    event: &Event,
    written: Option<&crate::engine::apply::outcome::Written>,
) -> Result<(), StoreError> {
    let Some(written) = written else {
        return Ok(());
    };
    if let Some((write, _)) = &written.write {
        tx.record_write(event.id, write)?;
    }
    journal_write(
        tx,
        event,
        written.write.as_ref().map(|(write, action)| (write, action)),
        &written.enrolled,
    )
}

/// The policy's interval, or the target's Retry-After when that is longer.
fn next_attempt(failure: &Failure, retry: crate::config::RetryPolicy) -> Timestamp {
    let wait = failure
        .retry_after
        .map_or(retry.interval, |after| after.max(retry.interval));
    Timestamp::now() + SignedDuration::try_from(wait).unwrap_or(SignedDuration::from_secs(60))
}

fn audit_enrolments(
    tx: &crate::store::StoreTx<'_>,
    event: &Event,
    learner: Option<&str>,
    enrolled: &[Membership],
) -> Result<(), StoreError> {
    for membership in enrolled {
        let (action, group, before, after) = match membership {
            Membership::Joined(group) => (
                AuditAction::LearnerEnrol,
                group,
                json!(null),
                json!({ "group": group, "learner": learner }),
            ),
            Membership::Left(group) => (
                AuditAction::LearnerUnenrol,
                group,
                json!({ "group": group, "learner": learner }),
                json!(null),
            ),
        };
        tx.audit_at_commit(NewAuditEntry {
            actor: "engine".into(),
            action,
            employee_id: Some(event.employee_id.clone()),
            subject: format!("group {group}"),
            before,
            after,
            reason: Some(format!("trigger, event {}", event.id)),
        });
    }
    Ok(())
}
