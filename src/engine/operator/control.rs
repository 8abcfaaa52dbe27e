//! The engine's side of the status/control seam (see `status`): once a second it
//! publishes its status to the store and takes up what operators asked for there
//! (pause or resume, a new contract), wherever their console runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use parking_lot::{Mutex, RwLock};
use tokio_util::sync::CancellationToken;

use crate::contract::Contract;
use crate::engine::intake::poll::PollInfo;
use crate::engine::operator::metrics::Metrics;
use crate::engine::operator::status::{EngineState, EngineStatus, pause_requested};
use crate::store::{ControlPlane, Store};

/// How often the status is published and the control table is read.
pub const TICK: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Control {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub paused: Arc<AtomicBool>,
    pub contract: Arc<RwLock<Arc<Contract>>>,
    pub poll: Arc<Mutex<PollInfo>>,
    pub webhook_listen: String,
    pub wake: Arc<tokio::sync::Notify>,
    /// Where an applied contract is saved, so the next start uses it too.
    pub contract_path: Option<std::path::PathBuf>,
    /// What went wrong with the engine's own tasks: the engine is degraded while any.
    pub trouble: crate::engine::supervise::TaskTrouble,
    /// Each outside system's health; the engine is degraded while one fails.
    pub health: crate::engine::operator::health::Health,
    /// Long work under way (a reconciliation, the initial load), published with the status.
    pub work: Vec<Arc<crate::engine::operator::progress::Progress>>,
    /// `[retry] attempts`, published so a console shows "attempt n of max".
    pub retry_attempts: u32,
    /// `[hris] kind`, and the csv kind's outbox: a console shows the export files.
    pub hris_kind: crate::model::connections::HrisKind,
    pub export_outbox: Option<std::path::PathBuf>,
    /// Whether the engine is in shadow mode, published with the status.
    pub shadow: crate::engine::apply::shadow::Shadow,
    /// `[store] lease_seconds`: an engine heard from within it is live.
    pub lease_time: std::time::Duration,
}

/// A short, stable name for a contract text: its version and the start of its hash.
pub fn contract_version(contract: &Contract, text: &str) -> String {
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(text.as_bytes()));
    format!("v{} ({})", contract.version, &hash[..8])
}

impl Control {
    /// Runs until `cancel`, then publishes `draining` once.
    pub async fn run(self, mut contract_version: String, cancel: CancellationToken) {
        let started_at = Timestamp::now();
        // A request left from before this start is not taken up: the file may have changed since.
        let mut applied_contract: Option<String> = self.store.contract_requested().ok().flatten();
        let mut ticker = tokio::time::interval(TICK);
        loop {
            let stopping = tokio::select! {
                _ = cancel.cancelled() => true,
                _ = ticker.tick() => false,
            };
            if !stopping {
                self.take_up_requests(&mut applied_contract, &mut contract_version)
                    .await;
            }
            let state = if stopping {
                EngineState::Draining
            } else if self.paused.load(Ordering::Relaxed) {
                EngineState::Paused
            } else if !self.trouble.current().is_empty() || self.health.any_failing() {
                EngineState::Degraded
            } else {
                EngineState::Running
            };
            self.publish(state, started_at, &contract_version).await;
            if stopping {
                return;
            }
        }
    }

    async fn take_up_requests(&self, applied: &mut Option<String>, version: &mut String) {
        let store = self.store.clone();
        let read = tokio::task::spawn_blocking(move || {
            Ok::<_, crate::store::StoreError>((pause_requested(&store)?, store.contract_requested()?))
        })
        .await;
        let Ok(Ok((pause, contract_text))) = read else {
            tracing::warn!("cannot read the control table");
            return;
        };
        let was_paused = self.paused.swap(pause, Ordering::Relaxed);
        if was_paused && !pause {
            self.wake.notify_one();
        }
        if was_paused != pause {
            tracing::info!(paused = pause, "an operator paused or resumed the engine");
        }
        let Some(text) = contract_text.filter(|t| applied.as_deref() != Some(t.as_str())) else {
            return;
        };
        // The console checked it before asking; check again, the store is not a trusted channel.
        match crate::contract::parse(&text) {
            Ok(contract) => {
                *version = contract_version(&contract, &text);
                *self.contract.write() = Arc::new(contract);
                tracing::info!(version = %version, "switched to the contract an operator applied");
                if let Err(error) = self.store.transaction(|tx| tx.set_contract_in_force(&text)) {
                    tracing::warn!(%error, "cannot publish the contract in force for attached consoles");
                }
                if let Some(path) = &self.contract_path
                    && let Err(error) = save_contract(path, &text)
                {
                    tracing::error!(%error, path = %path.display(), "cannot save the applied contract; it is in force until the engine stops");
                }
                self.wake.notify_one();
            }
            Err(problems) => {
                tracing::error!(
                    problems = problems.len(),
                    "refused a contract from the control table; the old one stays"
                );
            }
        }
        *applied = Some(text);
    }

    async fn publish(&self, state: EngineState, started_at: Timestamp, contract_version: &str) {
        let poll = self.poll.lock().clone();
        let status = EngineStatus {
            state,
            pid: std::process::id(),
            updated_at: Timestamp::now(),
            started_at,
            webhook_listen: self.webhook_listen.clone(),
            last_poll_at: poll.last_at,
            next_poll_at: poll.next_at,
            last_poll_error: poll.last_error,
            metrics: self.metrics.snapshot(),
            contract_version: contract_version.to_string(),
            reconcile: Default::default(),
            problems: self.trouble.current(),
            systems: self.health.snapshot(),
            work: self.work.iter().find_map(|work| work.now()),
            retry_attempts: Some(self.retry_attempts),
            hris_kind: Some(self.hris_kind),
            export_outbox: self.export_outbox.clone(),
            shadow: self.shadow.is_on(),
            live_engines: None,
        };
        let (store, lease_time) = (self.store.clone(), self.lease_time);
        let written = tokio::task::spawn_blocking(move || {
            let mut status = status;
            status.reconcile = crate::engine::operator::status::ReconcileSummary::read(&store)?;
            let engines = crate::store::Engines::engines(&store, lease_time)?;
            status.live_engines = Some(engines.iter().filter(|e| e.live).count() as u64);
            status.publish(&store)?;
            Ok::<_, crate::store::StoreError>((store.counts()?, status.reconcile))
        })
        .await;
        match written {
            Ok(Ok((counts, reconcile))) => {
                self.metrics.set_journal(&counts);
                self.metrics.set_reconcile(&reconcile);
            }
            _ => tracing::warn!("cannot publish the engine's status"),
        }
    }
}

/// Replaces the contract file atomically, keeping the previous one beside it as `.previous`.
fn save_contract(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let fresh = path.with_extension("toml.new");
    std::fs::write(&fresh, text)?;
    if path.exists() {
        std::fs::copy(path, path.with_extension("toml.previous"))?;
    }
    std::fs::rename(&fresh, path)
}
