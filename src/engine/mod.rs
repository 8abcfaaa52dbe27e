//! The engine, grouped by what happens: `intake` (webhooks, poller, initial
//! load, completions, all journaled first), `apply` (the worker carrying each
//! journaled change out, with retries and dead letters), `reconcile`, and
//! `operator` (what operators see and ask for). It knows nothing of the console;
//! the console reaches it through `operator::handle`.

pub mod apply;
pub mod connect;
pub mod duties;
pub mod feed;
pub mod intake;
pub mod operator;
pub mod parallel;
pub mod read_retry;
pub mod reconcile;
pub mod retention;
pub mod supervise;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::connectors::{ConnectorError, Notifier};
use crate::contract::Contract;
use crate::store::{AuditKey, Store, StoreError};
use apply::Applier;
use apply::enrol::Enroller;
use intake::initial_load::LoadSummary;
use intake::journal_writer::JournalWriter;
use operator::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Locked(#[from] crate::store::LockError),
    #[error("opening the store {path}: {source}")]
    Store { path: String, source: StoreError },
    #[error("[audit] key_env: {0}")]
    AuditKey(#[from] crate::store::AuditKeyError),
    #[error("connecting: {0}")]
    Connector(#[from] ConnectorError),
    #[error(transparent)]
    InitialLoad(#[from] intake::initial_load::LoadError),
    #[error(transparent)]
    Shadow(#[from] apply::shadow::ShadowError),
    #[error("the lease on the {duty} duty was lost while the engine started (another engine took it)")]
    DutyLost { duty: &'static str },
    #[error("listening for webhooks on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A started engine: its background tasks, and what the console and CLI read.
pub struct RunningEngine {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// Where webhooks (POST /webhooks/hris) are served.
    pub webhook_addr: SocketAddr,
    /// Where GET /metrics, /healthz and /readyz are served.
    pub admin_addr: SocketAddr,
    /// What the initial load did, if this start ran one.
    pub initial_load: Option<LoadSummary>,
    /// How far applying the initial load has come (nothing once it is applied).
    pub loading: Arc<operator::progress::Progress>,
    pub paused: Arc<AtomicBool>,
    pub wake: Arc<Notify>,
    /// The contract in force; an operator's change swaps it (see `control`).
    pub contract: Arc<parking_lot::RwLock<Arc<Contract>>>,
    /// What applies each change; a console in this process traces with its lookups.
    pub applier: Arc<Applier>,
    /// What a console's contract preview maps: the HRIS, and the list the last
    /// reconciliation pulled from it.
    pub preview: operator::preview::Population,
    /// This engine's id in the store, and the once-only duties it holds now.
    pub duties: duties::Duties,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    /// This engine's hold on its SQLite store: one engine per file. Released on
    /// drop. None on PostgreSQL, which engines share by design.
    _lock: Option<crate::store::EngineLock>,
}

impl RunningEngine {
    /// Stops cleanly: no new work starts; what is in flight finishes and is journaled;
    /// what was not started stays journaled for the next start.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Opens the configured store for writing: the PostgreSQL database at `[store]
/// url` if there is one, else the SQLite file at `[store] path`.
pub(crate) fn open_store(config: &Config) -> Result<Store, StoreError> {
    match &config.store_url {
        Some(postgres) => Store::open_postgres(&postgres.url, postgres.password.as_ref()),
        None => Store::open(&config.store_path),
    }
}

/// Opens the configured store (`open_store`) with the audit key every append is
/// an HMAC with, and says in the log what guards the audit chain.
pub(crate) fn open_keyed(config: &Config, key: Option<AuditKey>) -> Result<Store, StoreError> {
    with_audit_key(open_store(config)?, key)
}

fn with_audit_key(store: Store, key: Option<AuditKey>) -> Result<Store, StoreError> {
    let Some(key) = key else {
        // A log a keyed writer has sealed must not go on without the key.
        if let Some(seal) = store.audit_seal()? {
            return Err(StoreError::AuditKeyMissing { key_id: seal.key_id });
        }
        tracing::warn!(
            "no [audit] key_env: the audit chain is plain SHA-256, which shows accidental damage \
             but not a rewrite by someone who can write the store (docs/security.md)"
        );
        return Ok(store);
    };
    let id = key.id().to_string();
    store.set_audit_key(key);
    match store.seal_audit()? {
        Some(seal) => tracing::warn!(
            key_id = %id,
            legacy_entries = seal.legacy_entries,
            "audit log sealed: the entries before it keep their plain SHA-256 links, every new one \
             is an HMAC. This happens once, on the first start with a key; seen again, it means \
             the log was rewritten"
        ),
        None => match store.audit_seal()? {
            Some(seal) => tracing::info!(
                key_id = %id,
                legacy_entries = seal.legacy_entries,
                sealed_with = %seal.key_id,
                sealed_at = %seal.at,
                "audit entries are HMACs with this key"
            ),
            None => tracing::error!(
                key_id = %id,
                "the audit log has keyed entries but no seal: it was tampered with \
                 (`hrsync audit verify` says where)"
            ),
        },
    }
    Ok(store)
}

/// Ends what an earlier run on this SQLite store left held when it stopped
/// without letting go: its leases and its claims on events. The lock file keeps
/// any other engine off the store, so a current one can only be a crashed run's;
/// the duties start at once and its attempts apply again, as cut off. (On
/// PostgreSQL, where engines share the store, they are waited out instead.)
fn end_crashed_runs(store: &Store) {
    match crate::store::Leases::end_leases_of_crashed_runs(store) {
        Ok(0) => {}
        Ok(ended) => tracing::info!(
            ended,
            "the leases of an earlier run that stopped without letting them go are ended"
        ),
        Err(error) => {
            tracing::warn!(%error, "cannot end the leases of an earlier run; its duties wait for them to expire")
        }
    }
    match crate::store::Journal::end_claims_of_crashed_runs(store) {
        Ok(0) => {}
        Ok(ended) => tracing::info!(
            ended,
            "the claims of an earlier run on events it was applying are ended"
        ),
        Err(error) => {
            tracing::warn!(%error, "cannot end an earlier run's claims on events; they wait for them to expire")
        }
    }
}

/// Starts the engine on a configuration and a checked contract.
pub async fn start(config: &Config, contract: Contract) -> Result<RunningEngine, StartError> {
    let listener = tokio::net::TcpListener::bind(config.webhook.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.webhook.listen,
            source,
        })?;
    start_with_listener(config, contract, listener).await
}

/// Starts the engine with its webhook listener already bound (so its address can be
/// handed to the HRIS before the initial load; deliveries wait in the backlog).
pub async fn start_with_listener(
    config: &Config,
    contract: Contract,
    listener: tokio::net::TcpListener,
) -> Result<RunningEngine, StartError> {
    // Before anything else: a second engine on an SQLite store must not start at
    // all. Engines share a PostgreSQL store by design.
    let lock = match config.store_url {
        Some(_) => None,
        None => Some(crate::store::EngineLock::acquire(&config.store_path)?),
    };
    let audit_key = config.audit.key.clone().map(AuditKey::new).transpose()?;
    let opening = config.clone();
    let store = tokio::task::spawn_blocking(move || open_keyed(&opening, audit_key))
        .await
        .expect("opening the store does not panic")
        .map_err(|source| StartError::Store {
            path: config.store_location(),
            source,
        })?;
    if lock.is_some() {
        end_crashed_runs(&store);
    }
    // Before anything is read or written: the mode asked for must be the store's.
    apply::shadow::check_start(&store, config.shadow)?;
    let contract = Arc::new(contract);
    // The contract in force, which an operator's change swaps for every reader.
    let in_force = Arc::new(parking_lot::RwLock::new(contract.clone()));
    let connections = connect::connect_in_force(config, &store, &in_force).await?;
    let learners = connections.learners.clone();
    let preview = operator::preview::Population {
        source: connections.employees.clone(),
        latest: connections.latest_pull.clone(),
        max_age: config.preview.max_age,
        safety: config.safety,
    };
    let notifier = Notifier::new(config.notify_url.clone());
    let metrics = Arc::new(Metrics::default());
    let cancel = CancellationToken::new();
    let wake = Arc::new(Notify::new());
    // An operator's pause outlives a restart: they paused for a reason.
    let paused = Arc::new(AtomicBool::new(
        operator::status::pause_requested(&store).unwrap_or(false),
    ));
    let mut tasks = Vec::new();
    // A start that fails half-way stops what it started.
    let stop_on_error = cancel.clone().drop_guard();

    let trouble = supervise::TaskTrouble::default();
    let duties = duties::Duties::new(store.clone(), duties::EngineId::new(), config.lease_time);
    tasks.push(supervise::supervise(
        "heartbeat",
        trouble.clone(),
        cancel.clone(),
        {
            let (duties, cancel) = (duties.clone(), cancel.clone());
            move || Some(duties.clone().heartbeat(cancel.child_token()))
        },
    ));
    let health = operator::health::Health::default();
    // Long work under way (a reconciliation), for the status and the console's header.
    let work = Arc::new(operator::progress::Progress::default());
    let watch = |name: &'static str, task: JoinHandle<()>| {
        supervise::supervise(
            name,
            trouble.clone(),
            cancel.clone(),
            supervise::once(async move {
                if let Err(error) = task.await
                    && error.is_panic()
                {
                    std::panic::resume_unwind(error.into_panic());
                }
            }),
        )
    };
    let (enroller, task) = Enroller::spawn(learners.clone(), config.lms.create_groups, cancel.child_token());
    tasks.push(watch("enrolment", task));
    let shadow = apply::shadow::Shadow::new(config.shadow);
    let applier = Arc::new(
        Applier::new(
            store.clone(),
            in_force,
            (learners.clone(), connections.employees.clone()),
            config.retry,
            enroller,
        )
        .with_shadow(shadow.clone()),
    );

    // An HRIS that sends files has no initial load: its first export is one.
    let loaded = match &config.hris.files {
        None => {
            // Another engine may be loading: this one waits, and then finds it done.
            let duty = duties::INITIAL_LOAD;
            let held = duties
                .acquire(duty, &cancel)
                .await
                .ok_or(StartError::DutyLost { duty })?;
            let load = intake::initial_load::run_if_needed(
                &store,
                &contract,
                connections.employees.as_ref(),
                learners.as_ref(),
                config.safety,
                Some(held.lease()),
            );
            let lost = held.lost();
            let loaded = tokio::select! {
                loaded = load => loaded.map_err(StartError::from),
                _ = lost.cancelled() => Err(StartError::DutyLost { duty }),
            };
            held.release().await;
            loaded?
        }
        Some(_) => None,
    };
    let initial_load = loaded.map(|(summary, preload)| {
        tracing::info!(?summary, "initial load journaled");
        applier.set_preload(preload);
        summary
    });
    if let Some(summary) = initial_load.filter(|s| s.held > 0) {
        intake::webhook::tell_held(&notifier, summary.held, "the initial load");
    }

    let loading = Arc::new(operator::progress::Progress::default());
    if let Some(summary) = initial_load.filter(|s| s.employees > 0) {
        loading.begin("initial load", Some(summary.employees as u64));
        // Not supervised: it ends by itself once the load is applied.
        tasks.push(tokio::spawn(track_initial_load(
            store.clone(),
            loading.clone(),
            cancel.child_token(),
        )));
    }

    let (journal, task) = JournalWriter::spawn(store.clone(), wake.clone(), cancel.child_token());
    tasks.push(watch("journal writer", task));
    tasks.push(watch(
        "checkpoint",
        tokio::spawn(checkpoints(store.clone(), cancel.child_token())),
    ));
    let webhook_addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: config.webhook.listen,
        source,
    })?;
    let router = intake::webhook::router(
        intake::webhook::WebhookConfig {
            secret: config.webhook.secret.clone(),
            contract: applier.contract.clone(),
            safety: config.safety,
            notifier: notifier.clone(),
        },
        journal,
        metrics.clone(),
    );
    let limits = config.webhook.limits;
    tasks.push(watch(
        "webhook listener",
        tokio::spawn(intake::listener::serve(
            listener,
            router,
            limits,
            "webhooks",
            cancel.child_token(),
        )),
    ));
    let admin_listener = tokio::net::TcpListener::bind(config.admin_listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.admin_listen,
            source,
        })?;
    let admin_addr = admin_listener.local_addr().map_err(|source| StartError::Listen {
        addr: config.admin_listen,
        source,
    })?;
    tasks.push(watch(
        "admin listener",
        tokio::spawn(intake::listener::serve(
            admin_listener,
            operator::admin::router(store.clone(), metrics.clone(), health.clone()),
            limits,
            "admin",
            cancel.child_token(),
        )),
    ));

    let reconciler = reconcile::Reconciler {
        store: store.clone(),
        contract: applier.contract.clone(),
        connections: connections.clone(),
        notifier: notifier.clone(),
        progress: work.clone(),
    };
    let scheduler = reconcile::schedule::Scheduler {
        reconciler,
        schedule: config.reconcile.clone(),
        wake: wake.clone(),
    };
    tasks.push(duties::supervise_duty(
        "reconciliation schedule",
        duties::RECONCILIATION,
        &duties,
        trouble.clone(),
        cancel.clone(),
        move |_lease, lost| scheduler.clone().run(lost),
    ));

    // Flow 2: completions from the LRS written back to the HRIS, when configured.
    let writeback = match (
        &config.lrs,
        &connections.completions,
        &connections.training,
        applier.contract().writeback.is_some(),
    ) {
        (Some(lrs), Some(completions), Some(training), true) => {
            let source = intake::completions::CompletionsSource {
                health: health.clone(),
                overlap: lrs.overlap,
                store: store.clone(),
                contract: applier.contract.clone(),
                lrs: completions.clone(),
                interval: lrs.poll_interval,
                wake: wake.clone(),
            };
            tasks.push(duties::supervise_duty(
                "completions source",
                duties::LRS_READER,
                &duties,
                trouble.clone(),
                cancel.clone(),
                move |lease, lost| source.clone().run(lease, lost),
            ));
            Some(Arc::new(apply::writeback::WriteBack {
                training: training.clone(),
                contract: applier.contract.clone(),
                shadow: shadow.clone(),
            }))
        }
        _ => None,
    };
    let worker = apply::worker::Worker {
        applier: applier.clone(),
        writeback,
        concurrency: config.apply.concurrency,
        metrics: metrics.clone(),
        wake: wake.clone(),
        paused: paused.clone(),
        trouble: trouble.clone(),
        health: health.clone(),
        engine: duties.engine().id.clone(),
        claim_time: config.lease_time,
    };
    tasks.push(supervise::supervise(
        "retention",
        trouble.clone(),
        cancel.clone(),
        {
            let (store, keep, cancel) = (store.clone(), config.keep_finished, cancel.clone());
            move || Some(retention::run(store.clone(), keep, cancel.child_token()))
        },
    ));
    tasks.push(supervise::supervise(
        "apply worker",
        trouble.clone(),
        cancel.clone(),
        {
            let cancel = cancel.clone();
            move || Some(worker.clone().run(cancel.child_token()))
        },
    ));
    if let Some(feed) = &connections.feed {
        let (writer, health) = (feed.writer.clone(), health.clone());
        tasks.push(supervise::supervise(
            "learner feed writer",
            trouble.clone(),
            cancel.clone(),
            {
                let cancel = cancel.clone();
                move || Some(writer.clone().run(health.clone(), cancel.child_token()))
            },
        ));
    }
    let poll_info = Arc::new(parking_lot::Mutex::new(intake::poll::PollInfo::default()));
    match &config.hris.files {
        None => {
            let poller = intake::poll::Poller {
                store: store.clone(),
                contract: applier.contract.clone(),
                employees: connections.employees.clone(),
                interval: config.poll_interval,
                threshold: config.safety,
                notifier: notifier.clone(),
                wake: wake.clone(),
                info: poll_info.clone(),
                health: health.clone(),
            };
            tasks.push(duties::supervise_duty(
                "poller",
                duties::POLLER,
                &duties,
                trouble.clone(),
                cancel.clone(),
                move |lease, lost| poller.clone().run(lease, lost),
            ));
        }
        Some(feed) => {
            let intake = intake::files::FileIntake {
                store: store.clone(),
                contract: applier.contract.clone(),
                feed: feed.clone(),
                threshold: config.safety,
                notifier: notifier.clone(),
                wake: wake.clone(),
                health: health.clone(),
            };
            tasks.push(duties::supervise_duty(
                "file intake",
                duties::FILE_INTAKE,
                &duties,
                trouble.clone(),
                cancel.clone(),
                move |_lease, lost| intake.clone().run(lost),
            ));
        }
    }
    // The parallel run: legacy files dropped in `[parallel] inbox` compared for their day.
    if let Some(arrivals) = &config.parallel.inbox {
        let legacy = parallel::inbox::LegacyInbox {
            store: store.clone(),
            contract: applier.contract.clone(),
            connections: connections.clone(),
            parallel: config.parallel.clone(),
            arrivals: arrivals.clone(),
            shadow: config.shadow,
        };
        tasks.push(supervise::supervise(
            "legacy inbox",
            trouble.clone(),
            cancel.clone(),
            {
                let cancel = cancel.clone();
                move || Some(legacy.clone().run(cancel.child_token()))
            },
        ));
    }
    let contract_text = std::fs::read_to_string(&config.contract_path).unwrap_or_default();
    let version = operator::control::contract_version(&applier.contract(), &contract_text);
    if !contract_text.is_empty()
        && let Err(error) = store.transaction(|tx| tx.set_contract_in_force(&contract_text))
    {
        tracing::warn!(%error, "cannot publish the contract for attached consoles");
    }
    let control = operator::control::Control {
        store: store.clone(),
        metrics: metrics.clone(),
        paused: paused.clone(),
        contract: applier.contract.clone(),
        poll: poll_info,
        webhook_listen: webhook_addr.to_string(),
        wake: wake.clone(),
        contract_path: Some(config.contract_path.clone()),
        trouble: trouble.clone(),
        health: health.clone(),
        work: vec![work, loading.clone()],
        retry_attempts: config.retry.attempts,
        hris_kind: config.hris.kind,
        export_outbox: config.hris.files.as_ref().map(|feed| feed.outbox.clone()),
        shadow: shadow.clone(),
        lease_time: config.lease_time,
    };
    let alerts = operator::alerts::Alerts {
        notifier: notifier.clone(),
        health: health.clone(),
        store: store.clone(),
        update_every: config.alerts.update_every,
        silence_after: config.alerts.silence_after,
    };
    tasks.push(supervise::supervise("alerts", trouble.clone(), cancel.clone(), {
        let cancel = cancel.clone();
        move || Some(alerts.clone().run(cancel.child_token()))
    }));
    tasks.push(supervise::supervise(
        "status and control",
        trouble.clone(),
        cancel.clone(),
        {
            let cancel = cancel.clone();
            move || Some(control.clone().run(version.clone(), cancel.child_token()))
        },
    ));
    stop_on_error.disarm();
    Ok(RunningEngine {
        store,
        metrics,
        webhook_addr,
        admin_addr,
        initial_load,
        loading,
        paused,
        wake,
        contract: applier.contract.clone(),
        applier,
        preview,
        duties,
        cancel,
        tasks,
        _lock: lock,
    })
}

/// How often the checkpointer copies the write-ahead log into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Checkpoints the journal beside the writer, so commits stay short under load.
/// Counts the initial load down as its events are applied: what is still pending
/// or retrying is what is left of it (a change arriving meanwhile counts too). It
/// is over when nothing is left that the engine itself will apply soon: what
/// remains waits for an operator (behind a held or dead event, or a manager not
/// synced) or for a day to come (a future hire's learner is made on their day).
/// Soon is `LOAD_HORIZON`: a retry's wait is minutes, a hire's day can be hours
/// off at any time of day (tomorrow starts within 24 hours, always).
/// How far ahead an event still counts as the initial load's work to come.
const LOAD_HORIZON: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

async fn track_initial_load(
    store: Store,
    loading: Arc<operator::progress::Progress>,
    cancel: CancellationToken,
) {
    let total = loading.now().and_then(|step| step.total).unwrap_or(0);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
        let store = store.clone();
        let read = tokio::task::spawn_blocking(move || -> Result<(u64, bool), crate::store::StoreError> {
            let counts = store.counts()?;
            let horizon = jiff::Timestamp::now() + LOAD_HORIZON;
            Ok((
                counts.pending + counts.retrying,
                store.ready(horizon, 1)?.is_empty(),
            ))
        });
        let Ok(Ok((outstanding, stalled))) = read.await else {
            continue;
        };
        let left = outstanding.min(total);
        loading.set(total - left);
        if left == 0 || stalled {
            loading.end();
            return;
        }
    }
}

async fn checkpoints(store: Store, cancel: CancellationToken) {
    // Every 100 ms: a full disk must not write a warning ten times a second.
    let mut failing = supervise::RepeatedWarning::default();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(CHECKPOINT_EVERY) => {}
        }
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.checkpoint()).await {
            Ok(Ok(_)) => failing.clear("the journal checkpoints again"),
            Ok(Err(error)) => failing.warn("cannot checkpoint the journal", &error.to_string()),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_audit_key;
    use crate::model::{NewAuditEntry, Secret};
    use crate::store::{AuditKey, Store, StoreError};

    fn entry() -> NewAuditEntry {
        NewAuditEntry {
            actor: "engine".into(),
            action: crate::model::AuditAction::LearnerUpdate,
            employee_id: Some("E1".into()),
            subject: "learner u-1".into(),
            before: serde_json::json!({}),
            after: serde_json::json!({ "title": "Manager" }),
            reason: None,
        }
    }

    #[test]
    fn the_configured_key_seals_the_log_and_then_is_required() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let legacy = with_audit_key(Store::open(&path).unwrap(), None).unwrap();
        legacy.audit(entry()).unwrap();
        drop(legacy);

        let key = AuditKey::new(Secret::new("k".repeat(32))).unwrap();
        let keyed = with_audit_key(Store::open(&path).unwrap(), Some(key.clone())).unwrap();
        let seal = keyed.audit_seal().unwrap().expect("sealed at start");
        assert_eq!((seal.legacy_entries, seal.key_id.as_str()), (1, key.id()));
        assert_eq!(keyed.audit(entry()).unwrap().key_id.as_deref(), Some(key.id()));
        drop(keyed);

        // Started without the key, the engine would break the chain: it does not start.
        match with_audit_key(Store::open(&path).unwrap(), None) {
            Err(StoreError::AuditKeyMissing { key_id }) => assert_eq!(key_id, key.id()),
            other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
        }
    }
}
