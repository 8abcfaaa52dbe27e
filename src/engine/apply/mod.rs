//! Applying one HRIS change to the LMS: map it through the contract, find the
//! learner, plan, write only the difference, enrol. Returns an `Outcome`; the
//! worker commits outcomes to the journal in groups.

pub mod credentials;
pub mod enrol;
pub mod learner_lookup;
pub mod link;
pub mod manager_waits;
pub mod outcome;
pub mod plan;
pub mod reports;
pub mod resolve;
pub mod safety;
pub mod shadow;
pub mod supersede;
pub mod trace;
pub mod worker;
pub mod writeback;

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use parking_lot::Mutex;
use serde_json::{Map, Value};

use crate::config::RetryPolicy;
use crate::connectors::roles::{EmployeeSource, LearnerTarget, ScimUser};
use crate::contract::Contract;
use crate::contract::OnExit;
use crate::contract::identity::identity_keys;
use crate::contract::map::{MappedEmployee, change_conditions, map_employee};
use crate::contract::reports::{Counted, reports_to_in};
use crate::contract::triggers::groups_to_leave;
use crate::engine::apply::enrol::Enroller;
use crate::engine::apply::learner_lookup::{Created, Preload, user_name_of};
use crate::engine::apply::outcome::{Failure, Membership, Outcome, Written};
use crate::engine::apply::plan::{Changes, ManagerRef, Plan, plan};
use crate::engine::apply::reports::ReportsTo;
use crate::engine::apply::shadow::PlannedWrite;
use crate::engine::apply::supersede::Newest;
use crate::engine::intake::duplicates::{self, Sighting, Verdict};
use crate::engine::intake::initial_load::hris_fields;
use crate::engine::intake::poll::READ_LATER;
use crate::model::{AuditAction, Direction, Event, FieldReason, RecordStamp, WriteRecord};
use crate::store::{AppliedRecords, Enrolments, ReportsTo as _, Store, StoreError};

/// How long a change waits for its manager's own change at most before looking
/// again: the turn that journals the manager's change wakes it sooner.
const MANAGER_WAIT: jiff::SignedDuration = jiff::SignedDuration::from_secs(2);
/// A manager's change due within this long (a retry, say) is worth waiting for.
const MANAGER_DUE_WITHIN: jiff::SignedDuration = jiff::SignedDuration::from_secs(120);

/// A fault-injection point for tests: called with every HRIS → LMS event before
/// it is applied (a test makes it panic for one employee). Unset, it costs a load.
pub static FAULT_HOOK: std::sync::OnceLock<fn(&Event)> = std::sync::OnceLock::new();

/// Everything applying needs; shared by the worker's tasks.
pub struct Applier {
    pub store: Store,
    pub contract: Arc<parking_lot::RwLock<Arc<Contract>>>,
    pub learners: Arc<dyn LearnerTarget>,
    /// The HRIS, for a change the poll journaled without its record.
    pub employees: Arc<dyn EmployeeSource>,
    pub retry: RetryPolicy,
    pub enroller: Enroller,
    /// Learner ids by employee id; a learner's id never changes, so this is never stale.
    pub(super) learner_ids: Mutex<HashMap<String, String>>,
    /// The initial load's snapshot, consulted only by its own first attempts.
    pub(super) preload: Mutex<Option<Preload>>,
    /// While on, plans are recorded (the event `shadowed`), never carried out.
    pub shadow: shadow::Shadow,
}

impl Applier {
    /// `contract` is the one in force, shared with whatever else reads it.
    pub fn new(
        store: Store,
        contract: Arc<parking_lot::RwLock<Arc<Contract>>>,
        (learners, employees): (Arc<dyn LearnerTarget>, Arc<dyn EmployeeSource>),
        retry: RetryPolicy,
        enroller: Enroller,
    ) -> Applier {
        Applier {
            store,
            contract,
            learners,
            employees,
            retry,
            enroller,
            learner_ids: Mutex::new(HashMap::new()),
            preload: Mutex::new(None),
            shadow: shadow::Shadow::default(),
        }
    }

    /// In shadow mode while `shadow` is on.
    pub fn with_shadow(mut self, shadow: shadow::Shadow) -> Applier {
        self.shadow = shadow;
        self
    }

    /// Shadow mode was left: plans are carried out from now on, made against the
    /// LMS as it is then, not the initial load's snapshot. Answers whether it was on.
    pub fn leave_shadow(&self) -> bool {
        let was_on = self.shadow.turn_off();
        if was_on {
            self.preload.lock().take();
        }
        was_on
    }

    pub fn set_preload(&self, preload: Preload) {
        let mut ids = self.learner_ids.lock();
        for (employee, user) in preload.iter() {
            ids.insert(employee.clone(), user.id.clone());
        }
        *self.preload.lock() = Some(preload);
    }

    pub fn contract(&self) -> Arc<Contract> {
        self.contract.read().clone()
    }

    /// Applies one HRIS → LMS event; never panics, never loses the event.
    pub async fn apply(&self, event: &Event) -> Outcome {
        self.attempt(event).await.outcome
    }

    /// Applies one HRIS → LMS event, and says what the attempt learned besides.
    pub async fn attempt(&self, event: &Event) -> Attempt {
        let mut learned = Learned::default();
        let outcome = match self.try_apply(event, &mut learned).await {
            Ok(outcome) => outcome,
            Err(failure) => Outcome::failed(failure),
        };
        Attempt {
            outcome,
            sighting: learned.sighting,
            record: learned.record,
            reports_to: learned.reports_to,
        }
    }

    async fn try_apply(&self, event: &Event, learned: &mut Learned) -> Result<Outcome, Failure> {
        if let Some(hook) = FAULT_HOOK.get() {
            hook(event);
        }
        let contract = self.contract();
        let today = Timestamp::now().to_zoned(contract.time_zone.clone()).date();
        if event.kind == "Link" {
            if self.shadow.is_on() {
                let learner = event.payload["learner"].as_str().map(str::to_string);
                let mut after = Map::new();
                after.insert("externalId".into(), Value::String(event.employee_id.clone()));
                let planned = PlannedWrite::new("link", learner, &Map::new(), &after, Vec::new());
                return Ok(Outcome::Shadowed {
                    planned,
                    mapped: None,
                });
            }
            return crate::engine::apply::link::apply_link(self.learners.as_ref(), event).await;
        }
        let read_now;
        let (record, gone) = match event.payload.get("fields").and_then(Value::as_object) {
            Some(record) => (Some(record), false),
            // The poll could not read the employee: read them now (a failure is
            // retried by policy like any other).
            None if event.payload.get(READ_LATER).is_some() => {
                match self
                    .employees
                    .employee(&event.employee_id, &hris_fields(&contract))
                    .await?
                {
                    Some(record) => {
                        read_now = record;
                        (Some(&read_now), false)
                    }
                    None => (None, true),
                }
            }
            None => (None, false),
        };
        // A record older than the one the learner holds writes nothing (supersede.rs).
        let current;
        let record = match self.newest_record(&contract, event, record).await? {
            Newest::This(stamp) => {
                learned.record = Some(stamp);
                record
            }
            Newest::Current(stamp, record) => {
                learned.record = Some(stamp);
                current = record;
                Some(&current)
            }
            Newest::Superseded(why) => return Ok(Outcome::Superseded { why }),
        };
        let reads_reports = contract.reads_reports();
        let keeps_reports = contract.lifecycle.manager_field.is_some();
        let reports_to = |manager: Option<&str>| ReportsTo {
            manager: manager.map(str::to_string),
            read: reads_reports,
        };
        let Some(record) = record else {
            if keeps_reports && is_gone(event, gone) {
                learned.reports_to = Some(reports_to(None));
            }
            let learner = self.find_learner(event, None).await?;
            return self.without_fields(event, learner, gone).await;
        };
        // Whom the record makes them a report of, read as the reconciliation
        // reads it (a record held or refused below counts there too).
        if keeps_reports {
            learned.reports_to = Some(reports_to(reports_to_in(&contract, record).as_deref()));
        }
        // A newcomer to a suspected duplicate group is held before anything is written.
        let keys = identity_keys(&contract, record);
        if !keys.employee_id.is_empty() {
            match duplicates::check(&self.store, keys)? {
                Verdict::Clear(seen) => learned.sighting = Some(seen),
                Verdict::Hold { why, sighting: seen } => {
                    learned.sighting = Some(seen);
                    return Ok(Outcome::Held { why });
                }
            }
        }
        // `reports` is a fact about other records: the count the store keeps.
        let counted = Counted {
            record,
            reports: reads_reports
                .then(|| self.store.reports_of(&event.employee_id))
                .transpose()?,
        };
        let mut mapped = match map_employee(&contract, &counted) {
            Ok(mapped) => mapped,
            Err(reasons) => return Ok(Outcome::Rejected(reasons)),
        };
        let learner = self.find_learner(event, user_name_of(&mapped)).await?;
        let resource = learner.as_ref().map(|u| &u.resource);
        self.decide_beyond_record(&contract, &mut mapped, &counted, &event.employee_id, resource)?;
        let manager = match &mapped.manager_id {
            Some(manager_id) if mapped.should_be_active(&contract) => self.manager_ref(manager_id).await?,
            _ => ManagerRef::None,
        };
        // A manager who will not be synced by any open change may still get a
        // learner later (a rehire, a conversion into scope): remember to link then.
        let awaits_manager = match manager {
            ManagerRef::NotSynced { coming: false } => mapped.manager_id.as_deref().map(str::to_string),
            _ => None,
        };
        let decided = plan(
            &contract,
            &mapped,
            learner.as_ref().map(|u| &u.resource),
            &manager,
            today,
        );
        let leave = self.groups_to_leave(&contract, &mapped, &event.employee_id, today)?;
        if self.shadow.is_on()
            && let Some(planned) =
                self.planned_in_shadow(&event.employee_id, &decided, learner.as_ref(), &leave)?
        {
            return Ok(Outcome::Shadowed {
                planned,
                mapped: Some(mapped.to_json()),
            });
        }
        let planned = match (decided, learner) {
            (
                Plan::Create {
                    document,
                    changes,
                    enrol,
                },
                None,
            ) => match self.create(event, &document).await? {
                Created::New(user) => Planned::Created(user, changes, enrol),
                Created::Taken(holder) => {
                    match self.adoption(
                        &contract,
                        event,
                        &mapped,
                        &document,
                        holder,
                        &mut learned.sighting,
                    ) {
                        Ok(user) => {
                            let again = plan(&contract, &mapped, Some(&user.resource), &manager, today);
                            Planned::Adopt(user, again)
                        }
                        Err(why) => return Ok(Outcome::Held { why }),
                    }
                }
            },
            (decided, learner) => Planned::Decided(decided, learner),
        };
        let mapped_json = Some(mapped.to_json());
        let applied =
            |write: WriteRecord, audit_action: AuditAction, enrolled: Vec<Membership>| Outcome::Applied {
                write,
                audit_action,
                enrolled,
                mapped: mapped_json.clone(),
                awaits_manager: awaits_manager.clone(),
            };
        Ok(match planned {
            Planned::Created(created, changes, enrol) => {
                // A create has no before: nothing was there. (An object of nulls, one
                // per field, said so at ~250 B in each of the write and the audit entry.)
                let write = write_record(&created.id, Value::Null, changes.after, 201);
                self.enrolled_after(
                    event,
                    &created.id,
                    (enrol, &leave),
                    Some((write, AuditAction::LearnerCreate)),
                    applied,
                )
                .await
            }
            Planned::Adopt(user, again) => {
                // Linked first, so the learner's externalId says whose it is.
                let (document, changes, enrol) = match again {
                    Plan::Update {
                        document,
                        changes,
                        enrol,
                        ..
                    } => (Some(document), changes, enrol),
                    Plan::Nothing { enrol, .. } => (None, Changes::default(), enrol),
                    other => return Ok(self.outcome_of_plan(other)),
                };
                let learner_id = match document {
                    Some(document) => {
                        let updated = self
                            .learners
                            .replace_user(&user.id, &document, user.etag.as_deref())
                            .await?;
                        updated.id
                    }
                    None => user.id.clone(),
                };
                self.learner_ids
                    .lock()
                    .insert(event.employee_id.clone(), learner_id.clone());
                let write = write_record(&learner_id, Value::Object(changes.before), changes.after, 200);
                self.enrolled_after(
                    event,
                    &learner_id,
                    (enrol, &leave),
                    Some((write, AuditAction::LearnerAdopt)),
                    applied,
                )
                .await
            }
            Planned::Decided(Plan::Nothing { why, enrol }, learner) => match &learner {
                Some(user) => {
                    let (enrolled, failed) = self.enrol(&event.employee_id, &user.id, enrol, &leave).await;
                    match failed {
                        Some(failure) => Outcome::Failed {
                            failure,
                            written: Some(Box::new(Written {
                                write: None,
                                enrolled,
                            })),
                        },
                        None => Outcome::Unchanged {
                            enrolled,
                            mapped: mapped_json,
                            held: true,
                            why,
                            awaits_manager,
                        },
                    }
                }
                None => Outcome::Unchanged {
                    enrolled: Vec::new(),
                    mapped: mapped_json,
                    held: false,
                    why,
                    awaits_manager,
                },
            },
            Planned::Decided(
                Plan::Update {
                    document,
                    changes,
                    enrol,
                    deactivates,
                },
                Some(user),
            ) => {
                let updated = self
                    .learners
                    .replace_user(&user.id, &document, user.etag.as_deref())
                    .await?;
                let action = update_action(&changes, deactivates);
                let write = write_record(&updated.id, Value::Object(changes.before), changes.after, 200);
                self.enrolled_after(
                    event,
                    &updated.id,
                    (enrol, &leave),
                    Some((write, action)),
                    applied,
                )
                .await
            }
            Planned::Decided(other, _) => self.outcome_of_plan(other),
        })
    }

    /// What a plan that writes nothing now comes to.
    fn outcome_of_plan(&self, plan: Plan) -> Outcome {
        match plan {
            Plan::WaitUntil { at, why } => Outcome::Deferred {
                until: at,
                why,
                waits_for: None,
            },
            Plan::WaitForManager { manager_id } => Outcome::Deferred {
                until: Timestamp::now() + MANAGER_WAIT,
                why: format!("waiting for the manager {manager_id} to be synced first"),
                waits_for: Some(manager_id),
            },
            Plan::Reject(reasons) => Outcome::Rejected(reasons),
            Plan::Nothing { why, .. } => Outcome::Unchanged {
                enrolled: Vec::new(),
                mapped: None,
                held: false,
                why,
                awaits_manager: None,
            },
            Plan::Create { .. } | Plan::Update { .. } => Outcome::failed(Failure::permanent(
                "the learner changed while it was being written; the event is tried again",
            )),
        }
    }

    /// Enrols after the learner's own write; a failed enrolment keeps that write
    /// (and the groups that did go) with the failure.
    async fn enrolled_after(
        &self,
        event: &Event,
        learner_id: &str,
        (groups, leave): (Vec<String>, &[String]),
        write: Option<(WriteRecord, AuditAction)>,
        applied: impl FnOnce(WriteRecord, AuditAction, Vec<Membership>) -> Outcome,
    ) -> Outcome {
        let (enrolled, failed) = self.enrol(&event.employee_id, learner_id, groups, leave).await;
        match (failed, write) {
            (None, Some((write, action))) => applied(write, action, enrolled),
            (failed, write) => Outcome::Failed {
                failure: failed.unwrap_or_else(|| Failure::permanent("nothing was written")),
                written: Some(Box::new(Written { write, enrolled })),
            },
        }
    }

    /// A change that carries no record: the HRIS deleted the employee, or a full
    /// pull no longer lists them. Deactivate.
    async fn without_fields(
        &self,
        event: &Event,
        learner: Option<ScimUser>,
        gone: bool,
    ) -> Result<Outcome, Failure> {
        if !is_gone(event, gone) {
            return Ok(Outcome::Rejected(vec![FieldReason {
                field: "fields".into(),
                reason: format!("a \"{}\" change must carry the employee's fields", event.kind),
            }]));
        }
        let Some(user) = learner.filter(|u| u.resource.get("active") != Some(&Value::Bool(false))) else {
            return Ok(Outcome::Unchanged {
                enrolled: Vec::new(),
                mapped: None,
                held: false,
                why: "gone from the HRIS, and no active learner",
                awaits_manager: None,
            });
        };
        let mut before = Map::new();
        before.insert("active".into(), Value::Bool(true));
        let mut after = Map::new();
        after.insert("active".into(), Value::Bool(false));
        if self.shadow.is_on() {
            let planned = PlannedWrite::new("deactivate", Some(user.id), &before, &after, Vec::new());
            return Ok(Outcome::Shadowed {
                planned,
                mapped: None,
            });
        }
        let mut document = user.resource.clone();
        if let Some(object) = document.as_object_mut() {
            object.remove("meta");
        }
        document["active"] = Value::Bool(false);
        let updated = self
            .learners
            .replace_user(&user.id, &document, user.etag.as_deref())
            .await?;
        Ok(Outcome::Applied {
            write: write_record(&updated.id, Value::Object(before), after, 200),
            audit_action: AuditAction::LearnerDeactivate,
            enrolled: Vec::new(),
            mapped: None,
            awaits_manager: None,
        })
    }

    async fn manager_ref(&self, manager_id: &str) -> Result<ManagerRef<'static>, Failure> {
        if let Some(id) = self.learner_ids.lock().get(manager_id) {
            return Ok(ManagerRef::Learner(id.clone().into()));
        }
        if let Some(user) = self.learners.user_by_external_id(manager_id).await? {
            self.learner_ids
                .lock()
                .insert(manager_id.to_string(), user.id.clone());
            return Ok(ManagerRef::Learner(user.id.into()));
        }
        // Wait only for a manager whose own change the engine is about to apply. One
        // waiting for an operator or for a later date would keep this one waiting with
        // it; instead it goes ahead and is linked when the manager's learner is made.
        let soon = Timestamp::now() + MANAGER_DUE_WITHIN;
        let coming = self
            .store
            .has_change_due(Direction::HrisToLms, manager_id, soon)?;
        Ok(ManagerRef::NotSynced { coming })
    }

    /// Enrols the learner in the groups it is not yet recorded in, and takes it
    /// out of those it is to `leave`; answers the changes made, and the failure
    /// that stopped the rest.
    async fn enrol(
        &self,
        employee_id: &str,
        learner_id: &str,
        groups: Vec<String>,
        leave: &[String],
    ) -> (Vec<Membership>, Option<Failure>) {
        let groups = match self.groups_to_enrol(employee_id, &groups) {
            Ok(groups) => groups,
            Err(error) => return (Vec::new(), Some(error.into())),
        };
        let mut enrolled = Vec::new();
        for group in groups {
            if let Err(failure) = self.enroller.enrol(&group, learner_id).await {
                return (enrolled, Some(failure));
            }
            enrolled.push(Membership::Joined(group));
        }
        for group in leave {
            if let Err(failure) = self.enroller.leave(group, learner_id).await {
                return (enrolled, Some(failure));
            }
            enrolled.push(Membership::Left(group.clone()));
        }
        (enrolled, None)
    }
}

impl Applier {
    /// The HRIS record of the employee's last applied change (what `before.<field>`
    /// reads); `None` for someone never applied, or whose change carried no record.
    /// Decides the trigger conditions the record alone does not
    /// (`map::change_conditions`): with the record last applied for the
    /// employee and the learner the LMS holds. The sync and `trace` both ask here.
    fn decide_beyond_record<R: crate::contract::map::FieldSource + ?Sized>(
        &self,
        contract: &Contract,
        mapped: &mut MappedEmployee<'_>,
        record: &R,
        employee_id: &str,
        learner: Option<&Value>,
    ) -> Result<(), StoreError> {
        let beyond =
            |t: &crate::contract::Trigger| t.condition.as_ref().is_some_and(|c| c.reads_beyond_record());
        if contract.triggers.iter().any(beyond) {
            let before = self.previous_record(employee_id)?;
            change_conditions(contract, mapped, record, before.as_ref(), learner);
        }
        Ok(())
    }

    fn previous_record(&self, employee_id: &str) -> Result<Option<Map<String, Value>>, StoreError> {
        let Some(applied) = self.store.applied_record(employee_id)? else {
            return Ok(None);
        };
        Ok(self.store.event(applied.event_id)?.and_then(|detail| {
            detail
                .event
                .payload
                .get("fields")
                .and_then(Value::as_object)
                .cloned()
        }))
    }

    /// The groups the employee's learner is recorded in that an `on_exit =
    /// "remove"` trigger no longer gives it (`triggers::groups_to_leave`).
    fn groups_to_leave(
        &self,
        contract: &Contract,
        mapped: &MappedEmployee<'_>,
        employee_id: &str,
        today: jiff::civil::Date,
    ) -> Result<Vec<String>, StoreError> {
        if !contract.triggers.iter().any(|t| t.on_exit == OnExit::Remove) {
            return Ok(Vec::new());
        }
        let recorded = self.store.enrolments(employee_id)?;
        Ok(groups_to_leave(
            contract,
            mapped,
            today,
            recorded.iter().map(String::as_str),
        ))
    }

    /// The groups of `groups` the employee's learner is not recorded in yet.
    fn groups_to_enrol(&self, employee_id: &str, groups: &[String]) -> Result<Vec<String>, StoreError> {
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let known = self.store.enrolments(employee_id)?;
        Ok(groups.iter().filter(|g| !known.contains(g)).cloned().collect())
    }

    /// Shadow mode: what `plan` would write, or `None` when it writes nothing
    /// (then the event comes to what it always does: waits, a refusal, unchanged).
    fn planned_in_shadow(
        &self,
        employee_id: &str,
        plan: &Plan,
        learner: Option<&ScimUser>,
        leave: &[String],
    ) -> Result<Option<PlannedWrite>, Failure> {
        let target = learner.map(|user| user.id.clone());
        Ok(match plan {
            Plan::Create { changes, enrol, .. } => Some(PlannedWrite::new(
                "create",
                None,
                &changes.before,
                &changes.after,
                self.groups_to_enrol(employee_id, enrol)?,
            )),
            Plan::Update {
                changes,
                enrol,
                deactivates,
                ..
            } => Some(
                PlannedWrite::new(
                    match update_action(changes, *deactivates) {
                        AuditAction::LearnerDeactivate => "deactivate",
                        AuditAction::LearnerReactivate => "reactivate",
                        _ => "update",
                    },
                    target,
                    &changes.before,
                    &changes.after,
                    self.groups_to_enrol(employee_id, enrol)?,
                )
                .leaving(leave),
            ),
            Plan::Nothing { enrol, .. } if learner.is_some() => {
                let groups = self.groups_to_enrol(employee_id, enrol)?;
                let action = if groups.is_empty() { "unenrol" } else { "enrol" };
                (!groups.is_empty() || !leave.is_empty()).then(|| {
                    PlannedWrite::new(action, target, &Map::new(), &Map::new(), groups).leaving(leave)
                })
            }
            _ => None,
        })
    }
}

/// Whether a change without a record says the employee is gone: the HRIS could
/// not find them (`gone`), deleted them, or a full pull no longer lists them.
fn is_gone(event: &Event, gone: bool) -> bool {
    gone || event.kind.eq_ignore_ascii_case("deleted") || event.kind.eq_ignore_ascii_case("missing")
}

/// How an update of a learner is audited: a deactivation, a reactivation, or an update.
fn update_action(changes: &Changes, deactivates: bool) -> AuditAction {
    let reactivates = changes.after.get("active") == Some(&Value::Bool(true))
        && !changes.before.is_empty()
        && changes.before.get("active") == Some(&Value::Bool(false));
    if deactivates {
        AuditAction::LearnerDeactivate
    } else if reactivates {
        AuditAction::LearnerReactivate
    } else {
        AuditAction::LearnerUpdate
    }
}

/// What one attempt came to, and what it learned on the way.
pub struct Attempt {
    pub outcome: Outcome,
    /// Who the employee turned out to be, for the duplicate detection.
    pub sighting: Option<Sighting>,
    /// The record the attempt went by; it is the employee's newest once applied.
    pub record: Option<RecordStamp>,
    /// Whom that record makes the employee a report of, when the contract
    /// names a manager field (`None`: not learned).
    pub reports_to: Option<ReportsTo>,
}

#[derive(Default)]
struct Learned {
    sighting: Option<Sighting>,
    record: Option<RecordStamp>,
    reports_to: Option<ReportsTo>,
}

/// The learner's own write that reached the LMS, before enrolment.
enum Planned {
    Created(ScimUser, Changes, Vec<String>),
    /// A learner the LMS held under the mapped userName, taken over, and the
    /// plan against it.
    Adopt(ScimUser, Plan),
    Decided(Plan, Option<ScimUser>),
}

fn write_record(target_id: &str, before: Value, after: Map<String, Value>, status: u16) -> WriteRecord {
    WriteRecord {
        sent_from: "hris".into(),
        sent_to: "lms".into(),
        target_id: Some(target_id.to_string()),
        before,
        after: Value::Object(after),
        http_status: Some(status),
    }
}
