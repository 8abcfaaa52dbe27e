//! The one seam between a console and an engine: store reads out, operator
//! commands in. In one process it also wakes the engine at once; attached to a
//! headless `hrsync run`, the same commands travel through the store's control table.

mod drift;
mod preview;

use std::sync::Arc;

use tokio::sync::Notify;

use super::control;
use super::metrics::Metrics;
pub use super::status::EngineStatus;
use super::status::pause_requested;
pub use crate::contract::ContractProblem;
use crate::engine::RunningEngine;
use crate::engine::operator::{self, ActionError};
use crate::model::files::ExportFile;
use crate::model::{AuditAction, AuditEntry, Event, EventId, NewAuditEntry};
use crate::store::{
    AuditFilter, ChangeWatch, EventDetail, EventFilter, FileTotals, Store, StoreCounts, StoreError, Toward,
};

// What a console needs of the engine's and the contract's types, named here so
// that the console imports nothing of the engine but this module.
pub use super::health::SystemState;
pub use super::status::EngineState;
pub use crate::connectors::inbox::rejects_path;
pub use crate::contract::impact::{
    Affected, DEFAULT_EXAMPLES, Enrolment, Example, FieldImpact, Impact, SafetyMark, Shown,
};
pub use crate::contract::{
    Contract, EmptyRule, FieldType, LeaveAction, OnExit, Owner, TriggerWhen, parse as check_contract,
};
pub use crate::engine::apply::credentials::CredentialStatus;
pub use crate::engine::apply::resolve::Resolved;
pub use crate::engine::apply::trace::{Trace, Tracer};
pub use crate::engine::operator::preview::{Population, PulledBy};
pub use crate::engine::parallel::{DayState, Standing};
pub use crate::model::connections::HrisKind;
pub use preview::ContractPreview;

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Action(#[from] ActionError),
    #[error(transparent)]
    Shadow(#[from] crate::engine::apply::shadow::ShadowError),
    #[error("{0}")]
    NoTracer(String),
    #[error("tracing employee {employee}: {message}")]
    Trace { employee: String, message: String },
    /// A contract preview that could not be made (no HRIS to pull, a pull that failed).
    #[error("{0}")]
    Preview(String),
    #[error(transparent)]
    Parallel(#[from] crate::engine::parallel::ParallelError),
}

/// An operator applying a contract whose deactivations exceed `[safety]`, having
/// typed the confirmation asked for: recorded in the contract's audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyOverride {
    pub deactivations: u64,
    pub allowed: u64,
    /// What the operator typed to confirm.
    pub typed: String,
}

/// Why a console attached by `--db` alone cannot trace.
const NO_TRACER: &str = "this console cannot trace: it has no connections to the HRIS and the LMS \
     (run it with the engine, or attach with --config and the configuration's secrets)";

/// What became of a contract an operator asked to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractVerdict {
    /// Checked and handed to the engine, which switches within about a second.
    Applied { version: String },
    /// Refused with every problem; the running contract stays.
    Refused(Vec<ContractProblem>),
}

/// A console's view of, and say over, one engine. Cheap to clone.
#[derive(Clone)]
pub struct EngineHandle {
    store: Store,
    operator: String,
    wake: Option<Arc<Notify>>,
    metrics: Option<Arc<Metrics>>,
    /// The contract the engine started with, for when no operator has applied one yet.
    started_contract: Option<String>,
    /// What traces an employee (`T`), or why this console cannot.
    tracer: Result<Tracer, String>,
    /// The HRIS a contract preview maps (none: previews are refused).
    population: Option<Population>,
    /// `[parallel]`: the business days and the bar the Cutover pane counts against.
    parallel: crate::config::ParallelConfig,
}

impl EngineHandle {
    /// A handle on an engine in this process.
    pub fn in_process(engine: &RunningEngine, contract_text: Option<String>) -> EngineHandle {
        EngineHandle {
            store: engine.store.clone(),
            operator: operator::operator_name(),
            wake: Some(engine.wake.clone()),
            metrics: Some(engine.metrics.clone()),
            started_contract: contract_text,
            tracer: Tracer::of_engine(engine.applier.clone())
                .ok_or_else(|| "this console cannot trace: it runs outside the engine's runtime".into()),
            population: Some(engine.preview.clone()),
            parallel: Default::default(),
        }
    }

    /// A handle on the store of an engine running elsewhere (`hrsync run`); a
    /// store opened read-only (`Store::open_read_only`) makes a console that looks
    /// only, which works on a copy kept as evidence and can change nothing.
    pub fn attach(store: Store, contract_text: Option<String>) -> EngineHandle {
        let mut handle = EngineHandle::on_store(store);
        handle.started_contract = contract_text;
        handle
    }

    /// Appends its operator actions to the audit log as HMACs with `key` (attached;
    /// a handle on an engine in this process shares the engine's keyed store).
    pub fn with_audit_key(self, key: crate::store::AuditKey) -> EngineHandle {
        self.store.set_audit_key(key);
        self
    }

    /// A handle on an open store with no engine in this process (attach mode, tests).
    pub fn on_store(store: Store) -> EngineHandle {
        EngineHandle {
            store,
            operator: operator::operator_name(),
            wake: None,
            metrics: None,
            started_contract: None,
            tracer: Err(NO_TRACER.into()),
            population: None,
            parallel: Default::default(),
        }
    }

    /// Acts as `name` in the audit log.
    pub fn with_operator(mut self, name: impl Into<String>) -> EngineHandle {
        self.operator = name.into();
        self
    }

    /// Previews contracts against this HRIS (attached: a fresh pull each time,
    /// as no reconciliation in this process keeps one).
    pub fn with_population(mut self, population: Population) -> EngineHandle {
        self.population = Some(population);
        self
    }

    /// Counts the parallel run's business days and bar as `[parallel]` says
    /// (holidays, `required_days`); without it, weekends and 5 days.
    pub fn with_parallel(mut self, parallel: crate::config::ParallelConfig) -> EngineHandle {
        self.parallel = parallel;
        self
    }

    pub fn with_contract_text(mut self, text: Option<String>) -> EngineHandle {
        self.started_contract = text;
        self
    }

    /// Traces with `tracer`, or says why it cannot (`Err`).
    pub fn with_tracer(mut self, tracer: Result<Tracer, String>) -> EngineHandle {
        self.tracer = tracer;
        self
    }

    /// Attached with a configuration: traces against the systems it names, its
    /// connections made now, with the contract in force. When they cannot be
    /// made, `T` says why; the console works on without it.
    pub async fn connect_tracer(self, config: &crate::config::Config) -> EngineHandle {
        let contract = self
            .contract_text()
            .map_err(|e| e.to_string())
            .and_then(|text| text.ok_or_else(|| "no contract is known (attach with --contract)".to_string()))
            .and_then(|text| {
                crate::contract::parse(&text).map_err(|_| "the contract in force does not check".to_string())
            });
        let tracer = match contract {
            Ok(contract) => Tracer::connect(config, self.store.clone(), contract)
                .await
                .map_err(|e| format!("connecting: {e}")),
            Err(why) => Err(why),
        };
        self.with_tracer(tracer.map_err(|why| format!("this console cannot trace: {why}")))
    }

    pub fn operator(&self) -> &str {
        &self.operator
    }

    /// Where the store is: its file, or its PostgreSQL URL.
    pub fn store_location(&self) -> String {
        self.store.location()
    }

    pub fn is_in_process(&self) -> bool {
        self.wake.is_some()
    }

    /// Notices any commit to the store, by this process or another.
    pub fn watch(&self) -> Result<ChangeWatch, HandleError> {
        Ok(ChangeWatch::new(&self.store)?)
    }

    // --- reads ---

    pub fn events(
        &self,
        filter: &EventFilter,
        from: Option<EventId>,
        toward: Toward,
        limit: usize,
    ) -> Result<Vec<Event>, HandleError> {
        Ok(self.store.events_window(filter, from, toward, limit)?)
    }

    pub fn event(&self, id: EventId) -> Result<Option<EventDetail>, HandleError> {
        Ok(self.store.event(id)?)
    }

    pub fn audit(
        &self,
        filter: &AuditFilter,
        from: Option<u64>,
        toward: Toward,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, HandleError> {
        Ok(self.store.audit_window(filter, from, toward, limit)?)
    }

    pub fn counts(&self) -> Result<StoreCounts, HandleError> {
        Ok(self.store.counts()?)
    }

    pub fn held_counts(&self) -> Result<crate::store::HeldCounts, HandleError> {
        Ok(self.store.held_counts()?)
    }

    /// Credentials expiring within 90 days (and expired), soonest first, with the band totals.
    pub fn credentials(
        &self,
        today: jiff::civil::Date,
        limit: usize,
    ) -> Result<(Vec<CredentialStatus>, crate::store::CredentialTotals), HandleError> {
        Ok(crate::engine::apply::credentials::overview(
            &self.store,
            today,
            limit,
        )?)
    }

    /// A page of the HRIS export files seen, newest first (see `Store::export_files_window`).
    pub fn export_files(
        &self,
        from: Option<i64>,
        toward: Toward,
        limit: usize,
    ) -> Result<Vec<ExportFile>, HandleError> {
        Ok(self.store.export_files_window(from, toward, limit)?)
    }

    pub fn export_file_totals(&self) -> Result<FileTotals, HandleError> {
        Ok(self.store.export_file_totals()?)
    }

    /// The engine's latest published status; in process, with this instant's metrics.
    pub fn status(&self) -> Result<Option<EngineStatus>, HandleError> {
        let mut status = EngineStatus::read(&self.store)?;
        if let (Some(status), Some(metrics)) = (status.as_mut(), &self.metrics) {
            status.metrics = metrics.snapshot();
        }
        Ok(status)
    }

    pub fn pause_requested(&self) -> Result<bool, HandleError> {
        Ok(pause_requested(&self.store)?)
    }

    /// The contract text in force: the last one applied, else the one the engine
    /// started with (given to this handle, or published by the engine in the store).
    pub fn contract_text(&self) -> Result<Option<String>, HandleError> {
        if let Some(applied) = self.store.contract_requested()? {
            return Ok(Some(applied));
        }
        if let Some(started) = &self.started_contract {
            return Ok(Some(started.clone()));
        }
        Ok(self.store.contract_in_force()?)
    }

    /// One employee through the pipeline, as `hrsync trace` shows it: reads the
    /// HRIS and the LMS as they are now (a few HTTP reads) and the journal; writes
    /// nothing. It blocks until done: the console calls it off its UI loop.
    pub fn trace(&self, employee_id: &str) -> Result<Trace, HandleError> {
        let tracer = self
            .tracer
            .as_ref()
            .map_err(|why| HandleError::NoTracer(why.clone()))?;
        tracer
            .trace_blocking(employee_id)
            .map_err(|failure| HandleError::Trace {
                employee: employee_id.to_string(),
                message: failure.message,
            })
    }

    /// How the parallel run stands: the days compared, the explanations, the
    /// business days with the streak and the bar (today in the contract's time zone).
    pub fn parallel_standing(&self) -> Result<crate::engine::parallel::Standing, HandleError> {
        let zone = (self.contract_text().ok().flatten())
            .and_then(|text| crate::contract::parse(&text).ok())
            .map_or(jiff::tz::TimeZone::UTC, |contract| contract.time_zone);
        let today = jiff::Timestamp::now().to_zoned(zone).date();
        Ok(crate::engine::parallel::standing(
            &self.store,
            &self.parallel,
            today,
        )?)
    }

    // --- commands ---

    /// Explains the latest difference for this employee and field (audited as
    /// `parallel.explain`), as `hrsync parallel explain` does.
    pub fn explain_difference(
        &self,
        employee_id: &str,
        field: &str,
        reason: &str,
    ) -> Result<crate::model::parallel::Explanation, HandleError> {
        let (_, explanation) =
            crate::engine::parallel::explain(&self.store, &self.operator, employee_id, field, reason)?;
        Ok(explanation)
    }

    /// Retrying events now, or dead letters, rejected or held events again.
    pub fn retry(&self, ids: &[EventId]) -> Result<Vec<Event>, HandleError> {
        let done = operator::retry(&self.store, &self.operator, ids)?;
        self.poke();
        Ok(done)
    }

    /// Every dead letter, tried again now.
    pub fn retry_all(&self) -> Result<Vec<Event>, HandleError> {
        let done = operator::retry_all_dead_letters(&self.store, &self.operator)?;
        self.poke();
        Ok(done)
    }

    /// Every retrying event and dead letter, tried again now (a system is back).
    pub fn retry_all_failing(&self) -> Result<Vec<Event>, HandleError> {
        let done = operator::retry_all_failing(&self.store, &self.operator)?;
        self.poke();
        Ok(done)
    }

    pub fn skip(&self, id: EventId, reason: &str) -> Result<Event, HandleError> {
        Ok(operator::skip(&self.store, &self.operator, id, reason)?)
    }

    pub fn flag(&self, id: EventId, reason: &str) -> Result<Event, HandleError> {
        Ok(operator::flag(&self.store, &self.operator, id, reason)?)
    }

    pub fn confirm_held(&self, ids: &[EventId]) -> Result<Vec<Event>, HandleError> {
        let done = operator::confirm_held(&self.store, &self.operator, ids)?;
        self.poke();
        Ok(done)
    }

    /// Leaves shadow mode (audited); answers how many shadowed events are applied afresh.
    pub fn leave_shadow(&self, reason: &str) -> Result<usize, HandleError> {
        let requeued = crate::engine::apply::shadow::leave(&self.store, &self.operator, reason)?;
        self.poke();
        Ok(requeued.len())
    }

    pub fn reject_held(&self, ids: &[EventId], reason: &str) -> Result<Vec<Event>, HandleError> {
        Ok(operator::reject_held(&self.store, &self.operator, ids, reason)?)
    }

    /// Lets an export file held whole through (audited): the engine takes it at
    /// its next look at the inbox.
    pub fn confirm_file(&self, id: i64, reason: &str) -> Result<ExportFile, HandleError> {
        if reason.trim().is_empty() {
            return Err(ActionError::NoReason("confirm an export file").into());
        }
        let file = crate::engine::intake::files::confirm_held(&self.store, id, &self.operator, reason)
            .map_err(ActionError::Refused)?;
        self.poke();
        Ok(file)
    }

    /// Asks the engine to pause (or resume); audited, taken up within about a second.
    pub fn set_paused(&self, paused: bool) -> Result<(), HandleError> {
        let entry = NewAuditEntry {
            actor: self.operator.clone(),
            action: if paused {
                AuditAction::EnginePause
            } else {
                AuditAction::EngineResume
            },
            employee_id: None,
            subject: "engine".to_string(),
            before: serde_json::json!({ "paused": !paused }),
            after: serde_json::json!({ "paused": paused }),
            reason: None,
        };
        self.store.transaction(|tx| {
            tx.request_pause(paused)?;
            tx.audit(entry)?;
            Ok(())
        })?;
        self.poke();
        Ok(())
    }

    /// Checks `text` as a contract; when it passes, hands it to the engine and audits it.
    pub fn apply_contract(&self, text: &str) -> Result<ContractVerdict, HandleError> {
        self.apply_contract_overriding(text, None)
    }

    /// [`EngineHandle::apply_contract`], for a contract whose previewed
    /// deactivations exceed `[safety]`: the audit entry records that the operator
    /// overrode it, by how much, and what they typed to confirm.
    pub fn apply_contract_overriding(
        &self,
        text: &str,
        overriding: Option<SafetyOverride>,
    ) -> Result<ContractVerdict, HandleError> {
        let contract = match crate::contract::parse(text) {
            Ok(contract) => contract,
            Err(problems) => return Ok(ContractVerdict::Refused(problems)),
        };
        let version = control::contract_version(&contract, text);
        let before = self.contract_text()?.map(|old| {
            crate::contract::parse(&old).map_or_else(
                |_| "unreadable".to_string(),
                |c| control::contract_version(&c, &old),
            )
        });
        let mut after = serde_json::json!({ "version": version });
        let reason = overriding.map(|o| {
            after["safety_overridden"] = serde_json::json!({
                "by": self.operator,
                "deactivations": o.deactivations,
                "allowed": o.allowed,
                "typed": o.typed,
            });
            format!(
                "[safety] overridden by {}: {} deactivations previewed, {} allowed",
                self.operator, o.deactivations, o.allowed
            )
        });
        let entry = NewAuditEntry {
            actor: self.operator.clone(),
            action: AuditAction::ContractApply,
            employee_id: None,
            subject: "contract".to_string(),
            before: serde_json::json!({ "version": before }),
            after,
            reason,
        };
        self.store.transaction(|tx| {
            tx.request_contract(text)?;
            tx.audit(entry)?;
            Ok(())
        })?;
        self.poke();
        Ok(ContractVerdict::Applied { version })
    }

    /// In process, the engine starts on a command now instead of at its next tick.
    fn poke(&self) {
        if let Some(wake) = &self.wake {
            wake.notify_one();
        }
    }
}

//END
