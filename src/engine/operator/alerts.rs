//! Alerts an on-call engineer can live with: one message when a system starts
//! failing (with what waits), at most one update per `[notify] update_every_s`,
//! one "recovered" with the totals; dead letters outside an incident are told
//! in batches the same way; and a quiet HRIS (no change, no successful poll for
//! `[notify] silence_after_s`) is an alert too.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::connectors::Notifier;
use crate::engine::operator::health::{Health, System, SystemHealth, SystemState};
use crate::engine::reconcile::RunResult;
use crate::model::{Direction, DriftCategory};
use crate::store::{EventFilter, Store};

/// How often health and the journal are looked at.
const LOOK_EVERY: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct Alerts {
    pub notifier: Notifier,
    pub health: Health,
    pub store: Store,
    /// At most one update about an ongoing incident (or new dead letters) this often.
    pub update_every: Duration,
    /// No HRIS change and no successful poll for this long is an alert.
    pub silence_after: Duration,
}

/// One system's ongoing incident.
struct Incident {
    since: Timestamp,
    told_at: Instant,
    dead_at_start: u64,
}

/// What the journal says waits.
#[derive(Clone, Copy, Default)]
struct Waiting {
    queued: u64,
    dead: u64,
}

impl Alerts {
    pub async fn run(self, cancel: CancellationToken) {
        let mut incidents: HashMap<System, Incident> = HashMap::new();
        let started = Instant::now();
        let mut dead_told = self.waiting().dead;
        let mut dead_told_at: Option<Instant> = None;
        let mut silent_told = false;
        let mut ticker = tokio::time::interval(LOOK_EVERY);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let waiting = self.waiting();
            for system in self.health.snapshot() {
                self.incident(&mut incidents, &system, waiting).await;
            }
            // Dead letters outside an incident: told in batches, not one by one.
            let batch_due = dead_told_at.is_none_or(|at| at.elapsed() >= self.update_every);
            if waiting.dead > dead_told && incidents.is_empty() && batch_due {
                let new = waiting.dead - dead_told;
                self.tell(&format!(
                    ":warning: hrsync: {new} new dead letter(s), {} in all. `hrsync retries list` shows them; \
                     `hrsync retries retry --all` tries them again.",
                    waiting.dead
                ))
                .await;
                dead_told = waiting.dead;
                dead_told_at = Some(Instant::now());
            }
            dead_told = dead_told.min(waiting.dead);
            let quiet = started.elapsed() >= self.silence_after && self.hris_silent();
            if quiet && !silent_told {
                self.tell(&format!(
                    ":zzz: hrsync: no HRIS change and no successful poll for {}; is the HRIS sending webhooks, \
                     and can it be polled?",
                    human(self.silence_after)
                ))
                .await;
            } else if !quiet && silent_told {
                self.tell(":white_check_mark: hrsync: the HRIS is heard from again.")
                    .await;
            }
            silent_told = quiet;
        }
    }

    async fn incident(&self, incidents: &mut HashMap<System, Incident>, h: &SystemHealth, waiting: Waiting) {
        let error = h.last_error.as_deref().unwrap_or("no answer");
        match (h.state, incidents.get_mut(&h.system)) {
            (SystemState::Up, None) => {}
            (SystemState::Up, Some(_)) => {
                let incident = incidents.remove(&h.system).expect("matched above");
                self.tell(&format!(
                    ":white_check_mark: hrsync: {} recovered after {} (failing since {}). {} event(s) waiting, \
                     {} dead letter(s) from the incident; `hrsync retries retry --all` applies them now.",
                    h.system.label(),
                    human_since(incident.since),
                    incident.since.strftime("%H:%M:%S UTC"),
                    waiting.queued,
                    waiting.dead.saturating_sub(incident.dead_at_start),
                ))
                .await;
            }
            (state, None) => {
                incidents.insert(
                    h.system,
                    Incident {
                        since: h.since,
                        told_at: Instant::now(),
                        dead_at_start: waiting.dead,
                    },
                );
                self.tell(&format!(
                    ":red_circle: hrsync: {} {state} since {}: {error}. {} event(s) waiting, {} dead letter(s).",
                    h.system.label(),
                    h.since.strftime("%H:%M:%S UTC"),
                    waiting.queued,
                    waiting.dead,
                ))
                .await;
            }
            (state, Some(incident)) if incident.told_at.elapsed() >= self.update_every => {
                incident.told_at = Instant::now();
                let since = incident.since;
                self.tell(&format!(
                    ":red_circle: hrsync: {} still {state} ({} now): {error}. {} event(s) waiting, {} dead letter(s).",
                    h.system.label(),
                    human_since(since),
                    waiting.queued,
                    waiting.dead,
                ))
                .await;
            }
            (_, Some(_)) => {}
        }
    }

    fn waiting(&self) -> Waiting {
        self.store.counts().map_or(Waiting::default(), |c| Waiting {
            queued: c.pending + c.retrying,
            dead: c.dead_letters,
        })
    }

    /// No HRIS change journaled and no successful poll within `silence_after`.
    fn hris_silent(&self) -> bool {
        let horizon =
            Timestamp::now() - jiff::SignedDuration::try_from(self.silence_after).unwrap_or_default();
        let polled = (self.health.snapshot().into_iter())
            .find(|h| h.system == System::Hris)
            .and_then(|h| h.last_ok);
        let filter = EventFilter {
            direction: Some(Direction::HrisToLms),
            ..Default::default()
        };
        let changed = (self.store.events_page(&filter, None, 1).ok())
            .and_then(|page| page.first().map(|e| e.received_at));
        polled.max(changed).is_none_or(|last| last < horizon)
    }

    /// Sends to the ops channel; its own health is the result.
    async fn tell(&self, text: &str) {
        tracing::warn!(alert = text, "ops alert");
        match self.notifier.send(text).await {
            Ok(()) => self.health.ok(System::Ops),
            Err(error) => {
                self.health.failed(System::Ops, &error.to_string());
                tracing::warn!(%error, "cannot tell the ops channel");
            }
        }
    }
}

/// What the ops channel is told of a finished reconciliation: terminated
/// employees still active, or a run that could not finish.
pub fn run_told(result: &RunResult) -> Option<String> {
    Some(match result {
        RunResult::Complete { run } if run.count(DriftCategory::TerminatedButActive) > 0 => format!(
            ":rotating_light: hrsync reconciliation {}: {} terminated employees still have an active learner. \
             The Drift pane (or `hrsync drift list --category terminated_but_active`) shows them; fix pushes the deactivation.",
            run.id,
            run.count(DriftCategory::TerminatedButActive)
        ),
        RunResult::Failed { run } => format!(
            ":warning: hrsync reconciliation {} could not finish: {}",
            run.id,
            run.error.as_deref().unwrap_or("unknown")
        ),
        _ => return None,
    })
}

fn human(span: Duration) -> String {
    let secs = span.as_secs();
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        _ => format!("{} h", secs / 3600),
    }
}

fn human_since(since: Timestamp) -> String {
    let elapsed = Timestamp::now().duration_since(since);
    human(Duration::try_from(elapsed).unwrap_or_default())
}
