//! `hrsync trace`: one employee through the pipeline, read only, each step with
//! what decided it. It asks the same code the apply path does (the mapping, the
//! learner lookup, the plan), against the HRIS and the LMS as they are now, and
//! reads the journal and the last reconciliation for what holds the employee up.

use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::config::Config;
use crate::connectors::ConnectorError;
use crate::contract::Contract;

use crate::contract::explain::{FieldExplained, explain_fields};
use crate::contract::map::{EmploymentState, listed, map_employee};
use crate::engine::apply::Applier;
use crate::engine::apply::enrol::Enroller;
use crate::engine::apply::learner_lookup::{FoundBy, user_name_of};
use crate::engine::apply::outcome::Failure;
use crate::engine::apply::plan::{ManagerRef, Plan, plan};
use crate::engine::apply::shadow::changes_json;
use crate::engine::intake::initial_load::hris_fields;
use crate::model::{AuditAction, Direction, EventId, EventStatus, NewAuditEntry, NewEvent, Source};
use crate::store::{DriftItems, EventFilter, ReconcileRuns, ReportsTo as _, Store, StoreError};

/// How many of the employee's events a trace lists, newest first.
const EVENTS_SHOWN: usize = 20;

/// A step's outcome and what decided it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decided {
    pub outcome: String,
    pub by: String,
}

impl Decided {
    fn new(outcome: impl Into<String>, by: impl Into<String>) -> Decided {
        Decided {
            outcome: outcome.into(),
            by: by.into(),
        }
    }
}

/// The learner the LMS holds for the employee, and how it was found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LearnerFound {
    pub id: String,
    pub user_name: Option<String>,
    pub active: bool,
    pub found_by: FoundBy,
}

/// One of the employee's journaled events.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TracedEvent {
    pub id: i64,
    pub direction: Direction,
    pub kind: String,
    pub source: String,
    pub status: EventStatus,
    pub received_at: Timestamp,
    /// Why it waits or was held, or its last error.
    pub note: Option<String>,
}

/// A finding of the last complete reconciliation about the employee.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TracedDrift {
    pub run_id: i64,
    pub category: String,
    pub field: String,
    pub hris_value: Option<String>,
    pub lms_value: Option<String>,
    pub state: String,
}

/// One employee, step by step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trace {
    pub employee_id: String,
    /// The HRIS record now; `None` when the HRIS has no such employee.
    pub hris: Option<Map<String, Value>>,
    /// Active, on leave or terminated, by the lifecycle's status field.
    pub lifecycle: Option<Decided>,
    /// In or out of scope, naming the inclusion rule that decided it.
    pub scope: Option<Decided>,
    /// How many employees name them as their manager (`reports`), when a
    /// trigger's condition reads it: the count the sync reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reports: Option<u32>,
    /// Each contract field: the HRIS value, the rule applied, the LMS value.
    pub fields: Vec<FieldExplained>,
    pub learner: Option<LearnerFound>,
    /// What applying a change now would write.
    pub plan: Decided,
    /// The fields the plan writes: before and after.
    pub changes: Option<Value>,
    /// The groups the plan enrols the learner in.
    pub enrol: Vec<String>,
    /// The groups it takes the learner out of: an `on_exit = "remove"` trigger
    /// no longer gives them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leave: Vec<String>,
    /// The open event that keeps the employee's changes from applying, if any.
    pub blocked_by: Option<TracedEvent>,
    /// The employee's events, newest first.
    pub events: Vec<TracedEvent>,
    /// The last complete reconciliation's findings about them.
    pub drift: Vec<TracedDrift>,
    /// The one-line answer: the block if there is one, else the plan.
    pub verdict: String,
}

impl Trace {
    /// The trace as text, a line per step: what `hrsync trace` prints and the
    /// console's trace shows. `text` makes each value from outside safe where
    /// it is shown (before it is padded into its column).
    pub fn lines(&self, text: impl Fn(&str) -> String) -> Vec<String> {
        let mut lines = vec![format!("employee {}", text(&self.employee_id))];
        match &self.hris {
            None => lines.push("  HRIS        no such employee now".into()),
            Some(record) => lines.push(format!("  HRIS        {} fields", record.len())),
        }
        if let Some(lifecycle) = &self.lifecycle {
            lines.push(format!(
                "  lifecycle   {}: {}",
                lifecycle.outcome,
                text(&lifecycle.by)
            ));
        }
        if let Some(scope) = &self.scope {
            lines.push(format!("  scope       {}: {}", scope.outcome, text(&scope.by)));
        }
        if let Some(reports) = self.reports {
            lines.push(format!(
                "  reports     {reports} (employees naming them as their manager)"
            ));
        }
        if !self.fields.is_empty() {
            lines.push("  fields".into());
            for field in &self.fields {
                let lms = match &field.lms_value {
                    Some(value) => value.to_string(),
                    None => "(not written)".into(),
                };
                lines.push(format!(
                    "    {:<18} {:<24} {} → {}{}",
                    text(&field.field),
                    text(&field.rule),
                    text(field.hris_value.as_deref().unwrap_or("(empty)")),
                    text(&lms),
                    field
                        .problem
                        .as_deref()
                        .map(|p| format!("  ✗ {}", text(p)))
                        .unwrap_or_default()
                ));
            }
        }
        match &self.learner {
            Some(learner) => lines.push(format!(
                "  learner     {} ({}), {}, found by {}",
                text(&learner.id),
                text(learner.user_name.as_deref().unwrap_or("no userName")),
                if learner.active { "active" } else { "inactive" },
                learner.found_by.as_str()
            )),
            None => lines.push("  learner     none found".into()),
        }
        lines.push(format!(
            "  plan        {}: {}",
            self.plan.outcome,
            text(&self.plan.by)
        ));
        if let Some(changes) = &self.changes {
            for (field, after) in changes["after"].as_object().into_iter().flatten() {
                lines.push(format!(
                    "    {:<18} {} → {}",
                    text(field),
                    text(
                        &changes["before"]
                            .get(field)
                            .map(|v| v.to_string())
                            .unwrap_or("(none)".into())
                    ),
                    text(&after.to_string())
                ));
            }
        }
        if !self.enrol.is_empty() {
            lines.push(format!("  enrol       {}", text(&self.enrol.join(", "))));
        }
        if !self.leave.is_empty() {
            lines.push(format!("  leave       {}", text(&self.leave.join(", "))));
        }
        lines.push(format!("  events      {} (newest first)", self.events.len()));
        for event in &self.events {
            lines.push(format!(
                "    {:>8} {} {:<12} {:<12} {}{}",
                event.id,
                event.received_at.strftime("%Y-%m-%d %H:%M:%S"),
                text(&event.kind),
                event.status.as_str(),
                event.source,
                event
                    .note
                    .as_deref()
                    .map(|n| format!("  {}", text(n)))
                    .unwrap_or_default()
            ));
        }
        if self.drift.is_empty() {
            lines.push("  drift       none in the last reconciliation".into());
        }
        for item in &self.drift {
            lines.push(format!(
                "  drift       run {}: {} {} (HRIS {}, LMS {}) {}",
                item.run_id,
                item.category,
                text(&item.field),
                text(item.hris_value.as_deref().unwrap_or("-")),
                text(item.lms_value.as_deref().unwrap_or("-")),
                item.state
            ));
        }
        lines.push(format!("verdict: {}", text(&self.verdict)));
        lines
    }
}

/// What traces employees: an applier's lookups (the running engine's, or one
/// made for tracing alone), and the runtime its connections live on. Cheap to clone.
#[derive(Clone)]
pub struct Tracer {
    applier: Arc<Applier>,
    runtime: tokio::runtime::Handle,
    /// Stops the idle enroller of an applier made for tracing, with the last clone.
    _enroller: Option<Arc<DropGuard>>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tracer")
    }
}

impl Tracer {
    /// Traces with the applier of an engine running in this process, on the
    /// runtime it runs on (`None` outside one).
    pub fn of_engine(applier: Arc<Applier>) -> Option<Tracer> {
        Some(Tracer {
            applier,
            runtime: tokio::runtime::Handle::try_current().ok()?,
            _enroller: None,
        })
    }

    /// Traces against the systems `config` names, reading the journal and the
    /// reconciliations of `store`, with `contract` as the contract in force.
    /// Its applier enrols no one: its enroller idles until the last clone goes.
    pub async fn connect(
        config: &Config,
        store: Store,
        contract: Contract,
    ) -> Result<Tracer, ConnectorError> {
        let connections = crate::engine::connect::connect(config, &store).await?;
        let cancel = CancellationToken::new();
        let (enroller, _idle) = Enroller::spawn(connections.learners.clone(), false, cancel.child_token());
        let applier = Applier::new(
            store,
            Arc::new(parking_lot::RwLock::new(Arc::new(contract))),
            (connections.learners.clone(), connections.employees.clone()),
            config.retry,
            enroller,
        );
        Ok(Tracer {
            applier: Arc::new(applier),
            runtime: tokio::runtime::Handle::current(),
            _enroller: Some(Arc::new(cancel.drop_guard())),
        })
    }

    /// Traces one employee (see [`Applier::trace`]).
    pub async fn trace(&self, employee_id: &str) -> Result<Trace, Failure> {
        self.applier.trace(employee_id).await
    }

    /// [`Tracer::trace`] from synchronous code, even a thread of the runtime:
    /// the trace runs on a thread of its own, which this one waits for (a few
    /// HTTP reads). On a current-thread runtime, call it off that runtime's thread.
    pub fn trace_blocking(&self, employee_id: &str) -> Result<Trace, Failure> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| self.runtime.block_on(self.trace(employee_id)))
                .join()
                .unwrap_or_else(|_| Err(Failure::permanent("the trace panicked")))
        })
    }
}

impl Applier {
    /// Traces one employee; reads only, writes nothing anywhere.
    pub async fn trace(&self, employee_id: &str) -> Result<Trace, Failure> {
        let contract = self.contract();
        let today = Timestamp::now().to_zoned(contract.time_zone.clone()).date();
        let record = self
            .employees
            .employee(employee_id, &hris_fields(&contract))
            .await?;
        let (events, blocked_by) = self.traced_events(employee_id)?;
        let drift = self.traced_drift(employee_id)?;
        let mut trace = Trace {
            employee_id: employee_id.to_string(),
            hris: record.clone(),
            lifecycle: None,
            scope: None,
            reports: None,
            fields: Vec::new(),
            learner: None,
            plan: Decided::new("nothing", ""),
            changes: None,
            enrol: Vec::new(),
            leave: Vec::new(),
            blocked_by,
            events,
            drift,
            verdict: String::new(),
        };
        let number = record
            .as_ref()
            .and_then(|r| r.get("employeeNumber"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let Some(record) = record else {
            let found = self.look_up_learner(employee_id, None, None).await?;
            trace.learner = found.map(learner_found);
            trace.plan = match &trace.learner {
                Some(l) if l.active => {
                    Decided::new("deactivate", "gone from the HRIS: the learner is deactivated")
                }
                Some(_) => Decided::new(
                    "nothing",
                    "gone from the HRIS, and the learner is already inactive",
                ),
                None => Decided::new("nothing", "gone from the HRIS, and no learner"),
            };
            trace.verdict = verdict(&trace);
            return Ok(trace);
        };
        trace.fields = explain_fields(&contract, &record);
        // `reports` as the sync reads it: the count the store keeps.
        let counted = crate::contract::reports::Counted {
            record: &record,
            reports: contract
                .reads_reports()
                .then(|| self.store.reports_of(employee_id))
                .transpose()?,
        };
        trace.reports = counted.reports;
        let mapped = match map_employee(&contract, &counted) {
            Ok(mapped) => mapped,
            Err(reasons) => {
                let why = crate::model::FieldReason::summary(&reasons);
                trace.plan = Decided::new("reject", format!("the record cannot be placed: {why}"));
                trace.verdict = verdict(&trace);
                return Ok(trace);
            }
        };
        let lifecycle = &contract.lifecycle;
        let status = mapped.values.get(&lifecycle.status_field).unwrap_or("");
        trace.lifecycle = Some(Decided::new(
            match mapped.state {
                EmploymentState::Active => "active",
                EmploymentState::OnLeave => "on leave",
                EmploymentState::Terminated => "terminated",
            },
            format!("{} is \"{status}\" (lifecycle)", lifecycle.status_field),
        ));
        trace.scope = Some(match mapped.out_of_scope_by.map(|at| &contract.inclusion[at]) {
            None if contract.inclusion.is_empty() => {
                Decided::new("in scope", "the contract has no inclusion rules")
            }
            None => Decided::new(
                "in scope",
                format!(
                    "every inclusion rule holds: {}",
                    contract
                        .inclusion
                        .iter()
                        .map(|r| format!("{} (line {})", r.describe(), r.line))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            ),
            Some(rule) if !listed(rule, &mapped.values) => Decided::new(
                "out of scope",
                format!(
                    "inclusion rule at line {}: {} is \"{}\", not any of {}",
                    rule.line,
                    rule.field,
                    mapped.values.get(&rule.field).unwrap_or(""),
                    rule.any_of.join(", ")
                ),
            ),
            Some(rule) => Decided::new(
                "out of scope",
                format!(
                    "inclusion rule at line {}: `{}` does not hold{}",
                    rule.line,
                    rule.when.as_ref().map_or("", |w| w.source()),
                    mapped
                        .in_scope_from
                        .map(|from| format!(" (it does from {from})"))
                        .unwrap_or_default()
                ),
            ),
        });
        let found = self
            .look_up_learner(employee_id, number.as_deref(), user_name_of(&mapped))
            .await?;
        // The triggers the sync decides with the learner and the last record applied, as it does.
        let mut mapped = mapped;
        let learner = found.as_ref().map(|(u, _)| &u.resource);
        self.decide_beyond_record(&contract, &mut mapped, &counted, employee_id, learner)?;
        let manager = match &mapped.manager_id {
            Some(manager_id) if mapped.should_be_active(&contract) => self.manager_ref(manager_id).await?,
            _ => ManagerRef::None,
        };
        let decided = plan(
            &contract,
            &mapped,
            found.as_ref().map(|(u, _)| &u.resource),
            &manager,
            today,
        );
        if found.is_some() {
            trace.leave = self.groups_to_leave(&contract, &mapped, employee_id, today)?;
        }
        trace.learner = found.map(learner_found);
        let (outcome, by) = match decided {
            Plan::Nothing { why, enrol } => {
                trace.enrol = enrol;
                ("nothing", why.to_string())
            }
            Plan::Create { changes, enrol, .. } => {
                trace.changes = Some(changes_json(&changes.before, &changes.after));
                trace.enrol = enrol;
                (
                    "create",
                    "no learner found by externalId or employeeNumber, and the employee should have one"
                        .into(),
                )
            }
            Plan::Update {
                changes,
                enrol,
                deactivates,
                ..
            } => {
                let fields = changes.after.keys().cloned().collect::<Vec<_>>().join(", ");
                trace.changes = Some(changes_json(&changes.before, &changes.after));
                trace.enrol = enrol;
                if deactivates {
                    ("deactivate", "the learner is active and should not be".into())
                } else {
                    ("update", format!("the LMS differs in {fields}"))
                }
            }
            Plan::WaitUntil { why, .. } => ("wait", why),
            Plan::WaitForManager { manager_id } => (
                "wait for manager",
                format!("the manager {manager_id}'s own change is journaled and not applied yet"),
            ),
            Plan::Reject(reasons) => ("reject", crate::model::FieldReason::summary(&reasons)),
        };
        trace.plan = Decided::new(outcome, by);
        trace.verdict = verdict(&trace);
        Ok(trace)
    }

    /// The employee's events, newest first, and the oldest open one that keeps the
    /// rest waiting (held, dead, rejected, or due later).
    fn traced_events(&self, employee_id: &str) -> Result<(Vec<TracedEvent>, Option<TracedEvent>), Failure> {
        let filter = EventFilter {
            employee_id: Some(employee_id.to_string()),
            ..Default::default()
        };
        let mut events = Vec::new();
        for summary in self.store.events_page(&filter, None, EVENTS_SHOWN)? {
            let note = match self.store.event(summary.id)? {
                Some(detail) => detail.event.note.or(detail.event.last_error),
                None => summary.last_error,
            };
            events.push(TracedEvent {
                id: summary.id.0,
                direction: summary.direction,
                kind: summary.kind,
                source: summary.source.as_str().to_string(),
                status: summary.status,
                received_at: summary.received_at,
                note,
            });
        }
        let blocking = events
            .iter()
            .rev()
            .find(|e| {
                matches!(
                    e.status,
                    EventStatus::Held | EventStatus::DeadLetter | EventStatus::Rejected
                ) || (matches!(e.status, EventStatus::Pending | EventStatus::Retrying)
                    && e.note.as_deref().is_some_and(|n| n.starts_with("waiting behind")))
            })
            .cloned();
        Ok((events, blocking))
    }

    fn traced_drift(&self, employee_id: &str) -> Result<Vec<TracedDrift>, Failure> {
        let Some(run) = self.store.latest_complete_run()? else {
            return Ok(Vec::new());
        };
        let items = self
            .store
            .drift_items_matching(run.id, None, Some(employee_id), 0, 200)?;
        Ok(items
            .into_iter()
            .filter(|item| item.employee_id == employee_id)
            .map(|item| TracedDrift {
                run_id: item.run_id,
                category: item.category.as_str().to_string(),
                field: item.field,
                hris_value: item.hris_value,
                lms_value: item.lms_value,
                state: item.state.as_str().to_string(),
            })
            .collect())
    }
}

fn learner_found((user, found_by): (crate::connectors::roles::ScimUser, FoundBy)) -> LearnerFound {
    LearnerFound {
        user_name: user.resource["userName"].as_str().map(str::to_string),
        active: user.resource["active"].as_bool().unwrap_or(true),
        id: user.id,
        found_by,
    }
}

fn verdict(trace: &Trace) -> String {
    match &trace.blocked_by {
        Some(event) => format!(
            "blocked by event {} ({}): {}",
            event.id,
            event.status.as_str(),
            event.note.as_deref().unwrap_or("no note")
        ),
        None => format!("{}: {}", trace.plan.outcome, trace.plan.by),
    }
}

/// `trace --apply`: journals the employee's HRIS record as it is now, as an
/// operator's change the engine applies like any other, and audits who asked.
pub fn journal_traced(
    store: &Store,
    actor: &str,
    trace: &Trace,
    reason: &str,
) -> Result<EventId, StoreError> {
    let record = trace.hris.clone().map(Value::Object).unwrap_or(Value::Null);
    store.transaction(|tx| {
        let at = tx.now();
        let event = NewEvent {
            idempotency_key: format!("trace:{}:{:017}", trace.employee_id, at.as_microsecond()),
            source: Source::Operator,
            direction: Direction::HrisToLms,
            employee_id: trace.employee_id.clone(),
            kind: if trace.hris.is_some() {
                "Updated"
            } else {
                "Deleted"
            }
            .into(),
            occurred_at: at,
            payload: match &trace.hris {
                Some(_) => {
                    serde_json::json!({ "id": trace.employee_id, "action": "Updated", "fields": record })
                }
                None => serde_json::json!({ "id": trace.employee_id, "action": "Deleted" }),
            },
        };
        let id = tx.append(std::slice::from_ref(&event))?[0].id();
        tx.audit(NewAuditEntry {
            actor: actor.to_string(),
            action: AuditAction::TraceApply,
            employee_id: Some(trace.employee_id.clone()),
            subject: format!("event {}", id.0),
            before: serde_json::json!({ "plan": trace.plan, "verdict": trace.verdict }),
            after: serde_json::json!({ "event": id.0, "record": record }),
            reason: Some(reason.to_string()),
        })?;
        Ok(id)
    })
}
