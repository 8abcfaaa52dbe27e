//! What a running engine publishes about itself and what it takes from operators,
//! both through the store, so a console in the same process and one attached to a
//! headless `hrsync run` over SSH see and steer the engine the same way.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::store::{ControlPlane, Duplicates, ReconcileRuns, Store, StoreError};

/// How long a published status stays believable; older means the engine is gone.
pub const STATUS_STALE_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_secs(10);

/// Whether the engine is taking new work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineState {
    Running,
    /// An operator paused it: ingest continues (changes are journaled), nothing is applied.
    Paused,
    /// Stopping: in-flight work finishes, nothing new starts.
    Draining,
    /// Running, but an outside system fails (see `systems`) or one of its own
    /// tasks did (see `problems`).
    Degraded,
}

impl EngineState {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineState::Running => "running",
            EngineState::Paused => "paused",
            EngineState::Draining => "draining",
            EngineState::Degraded => "degraded",
        }
    }
}

/// The figures the console's header shows, measured inside the engine.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    /// Events finished per second over the last minute.
    pub events_per_sec: f64,
    /// Receipt → target acknowledgement, over the last minute's applied events.
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Share of the last minute's finished events that failed (retrying, dead letter, rejected).
    pub error_rate: f64,
    /// Since the engine started.
    pub finished_total: u64,
    pub webhooks_accepted: u64,
    pub webhooks_refused: u64,
}

/// One published status of a running engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineStatus {
    pub state: EngineState,
    pub pid: u32,
    pub updated_at: Timestamp,
    pub started_at: Timestamp,
    /// Where webhooks are served.
    pub webhook_listen: String,
    pub last_poll_at: Option<Timestamp>,
    pub next_poll_at: Option<Timestamp>,
    pub last_poll_error: Option<String>,
    pub metrics: MetricsSnapshot,
    /// The contract in force: its version line or a short hash of its text.
    pub contract_version: String,
    /// Reconciliation and duplicates at a glance (older engines published none).
    #[serde(default)]
    pub reconcile: ReconcileSummary,
    /// What went wrong with the engine's own tasks (why it is degraded).
    #[serde(default)]
    pub problems: Vec<String>,
    /// Each outside system's health (why it is degraded, when one fails).
    #[serde(default)]
    pub systems: Vec<crate::engine::operator::health::SystemHealth>,
    /// Long work under way: a reconciliation's step and how far it is.
    #[serde(default)]
    pub work: Option<crate::engine::operator::progress::Step>,
    /// `[retry] attempts`: a retrying event shows "attempt 2 of 3" (older engines
    /// published none).
    #[serde(default)]
    pub retry_attempts: Option<u32>,
    /// `[hris] kind`: whether there are export files to show (older engines published none).
    #[serde(default)]
    pub hris_kind: Option<crate::model::connections::HrisKind>,
    /// The csv kind's outbox, where each export's rejected rows are written.
    #[serde(default)]
    pub export_outbox: Option<std::path::PathBuf>,
    /// In shadow mode: planning, writing nothing (older engines published none).
    #[serde(default)]
    pub shadow: bool,
    /// Engines heard from within a lease time, this one included (older engines
    /// published none).
    #[serde(default)]
    pub live_engines: Option<u64>,
}

/// The latest reconciliation, the next one, and what waits for an operator.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReconcileSummary {
    /// The newest complete run: when it finished, its findings, the critical ones.
    pub last_complete_at: Option<Timestamp>,
    pub drift_total: u64,
    pub critical: u64,
    /// The newest run failed: why (a failed run reports nothing as drift).
    pub last_failure: Option<String>,
    pub running: bool,
    pub next_at: Option<Timestamp>,
    /// Suspected duplicate groups waiting for a decision (open or flagged).
    pub open_duplicates: u64,
}

impl ReconcileSummary {
    pub fn read(store: &Store) -> Result<ReconcileSummary, StoreError> {
        use crate::model::{DriftCategory, RunOutcome};
        let latest = store.latest_complete_run()?;
        let newest = store.reconcile_runs(1)?.into_iter().next();
        let duplicates = store.duplicate_counts()?;
        Ok(ReconcileSummary {
            last_complete_at: latest.as_ref().and_then(|r| r.finished_at),
            drift_total: latest.as_ref().map_or(0, |r| r.total()),
            critical: latest
                .as_ref()
                .map_or(0, |r| r.count(DriftCategory::TerminatedButActive)),
            last_failure: newest
                .as_ref()
                .filter(|r| r.outcome == RunOutcome::Failed)
                .and_then(|r| r.error.clone()),
            running: newest.as_ref().is_some_and(|r| r.outcome == RunOutcome::Running),
            next_at: store.reconcile_control()?.next,
            open_duplicates: duplicates.open + duplicates.flagged,
        })
    }
}

impl EngineStatus {
    /// The latest status a running engine published, if any (stale or not: see `is_stale`).
    pub fn read(store: &Store) -> Result<Option<EngineStatus>, StoreError> {
        Ok(store
            .published_status()?
            .and_then(|published| serde_json::from_str(&published.json).ok()))
    }

    pub fn publish(&self, store: &Store) -> Result<(), StoreError> {
        let text = serde_json::to_string(self).expect("a status serialises");
        store.transaction(|tx| tx.publish_status(self.updated_at, &text))
    }

    /// True when the engine has not published for a while (stopped or hung).
    pub fn is_stale(&self, now: Timestamp) -> bool {
        now.duration_since(self.updated_at) > STATUS_STALE_AFTER
    }
}

/// Whether an operator has asked the engine to pause.
pub fn pause_requested(store: &Store) -> Result<bool, StoreError> {
    Ok(store.pause_requested()? == Some(true))
}
