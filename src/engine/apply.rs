//! Applying one HRIS change to the LMS: map it through the contract, find the
//! learner, plan, write only the difference, enrol. Returns an `Outcome`; the
//! worker commits outcomes to the journal in groups.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use parking_lot::Mutex;
use serde_json::{Map, Value};

use super::duplicates::{self, Sighting, Verdict};
use super::enrol::Enroller;
use super::plan::{ManagerRef, Plan, plan};
use crate::config::RetryPolicy;
use crate::connectors::{ConnectorError, ScimClient, ScimUser};
use crate::contract::Contract;
use crate::contract::identity::identity_keys;
use crate::contract::map::map_employee;
use crate::model::{Direction, Event, FieldReason, Source, WriteRecord};
use crate::store::{Store, StoreError};

/// How long a change waits for its manager's own change before looking again.
const MANAGER_WAIT: jiff::SignedDuration = jiff::SignedDuration::from_secs(2);
/// A manager's change due within this long (a retry, say) is worth waiting for.
const MANAGER_DUE_WITHIN: jiff::SignedDuration = jiff::SignedDuration::from_secs(120);

/// What applying one event came to; the worker journals it.
#[derive(Debug)]
pub enum Outcome {
    Applied {
        write: WriteRecord,
        audit_action: &'static str,
        enrolled: Vec<String>,
        mapped: Option<Value>,
        /// The manager (HRIS id) this learner should point at once they have a
        /// learner; the worker remembers it so the link is made then.
        awaits_manager: Option<String>,
    },
    Unchanged {
        enrolled: Vec<String>,
        mapped: Option<Value>,
        why: &'static str,
        awaits_manager: Option<String>,
    },
    Deferred {
        until: Timestamp,
        why: String,
    },
    Failed(Failure),
    Rejected(Vec<FieldReason>),
    /// Held for an operator (a suspected duplicate newcomer), with the reason.
    Held {
        why: String,
    },
}

/// A failed attempt, as the journal and the retry policy see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub message: String,
    pub status: Option<u16>,
    /// Worth another attempt (connection, timeout, 429, 5xx, a busy journal).
    pub transient: bool,
    pub retry_after: Option<std::time::Duration>,
}

impl Failure {
    pub fn permanent(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            status: None,
            transient: false,
            retry_after: None,
        }
    }
}

impl From<ConnectorError> for Failure {
    fn from(error: ConnectorError) -> Failure {
        Failure {
            message: error.to_string(),
            status: error.status(),
            transient: error.is_transient(),
            retry_after: error.retry_after(),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Failure {
        Failure {
            message: format!("reading the journal: {error}"),
            status: None,
            transient: true,
            retry_after: None,
        }
    }
}

/// The learners the initial load read in one full pull, so it need not ask per employee.
#[derive(Default)]
pub struct Preload {
    by_external_id: HashMap<String, ScimUser>,
}

impl Preload {
    pub fn new(users: Vec<ScimUser>) -> Preload {
        let by_external_id = users
            .into_iter()
            .filter_map(|u| {
                let key = u.resource.get("externalId")?.as_str()?.to_string();
                Some((key, u))
            })
            .collect();
        Preload { by_external_id }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &ScimUser)> {
        self.by_external_id.iter()
    }

    pub fn get(&self, employee_id: &str) -> Option<&ScimUser> {
        self.by_external_id.get(employee_id)
    }

    /// Learners not marked inactive.
    pub fn active_count(&self) -> usize {
        self.by_external_id
            .values()
            .filter(|u| u.resource.get("active") != Some(&Value::Bool(false)))
            .count()
    }

    pub fn len(&self) -> usize {
        self.by_external_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_external_id.is_empty()
    }
}

/// Everything applying needs; shared by the worker's tasks.
pub struct Applier {
    pub store: Store,
    pub contract: Arc<parking_lot::RwLock<Arc<Contract>>>,
    pub scim: ScimClient,
    pub retry: RetryPolicy,
    pub enroller: Enroller,
    /// Learner ids by employee id; a learner's id never changes, so this is never stale.
    learner_ids: Mutex<HashMap<String, String>>,
    /// The initial load's snapshot, consulted only by its own first attempts.
    preload: Mutex<Option<Arc<Preload>>>,
}

impl Applier {
    pub fn new(
        store: Store,
        contract: Arc<Contract>,
        scim: ScimClient,
        retry: RetryPolicy,
        enroller: Enroller,
    ) -> Applier {
        Applier {
            store,
            contract: Arc::new(parking_lot::RwLock::new(contract)),
            scim,
            retry,
            enroller,
            learner_ids: Mutex::new(HashMap::new()),
            preload: Mutex::new(None),
        }
    }

    pub fn set_preload(&self, preload: Preload) {
        let mut ids = self.learner_ids.lock();
        for (employee, user) in &preload.by_external_id {
            ids.insert(employee.clone(), user.id.clone());
        }
        *self.preload.lock() = Some(Arc::new(preload));
    }

    pub fn contract(&self) -> Arc<Contract> {
        self.contract.read().clone()
    }

    /// Applies one HRIS → LMS event; never panics, never loses the event.
    pub async fn apply(&self, event: &Event) -> Outcome {
        self.apply_sighted(event).await.0
    }

    /// Applies one HRIS → LMS event, and says who the employee turned out to be
    /// (for the duplicate detection the worker records with the outcome).
    pub async fn apply_sighted(&self, event: &Event) -> (Outcome, Option<Sighting>) {
        let mut sighting = None;
        let outcome = match self.try_apply(event, &mut sighting).await {
            Ok(outcome) => outcome,
            Err(failure) => Outcome::Failed(failure),
        };
        (outcome, sighting)
    }

    async fn try_apply(&self, event: &Event, sighting: &mut Option<Sighting>) -> Result<Outcome, Failure> {
        let contract = self.contract();
        let today = Timestamp::now().to_zoned(contract.time_zone.clone()).date();
        if event.kind == "Link" {
            return super::link::apply_link(&self.scim, event).await;
        }
        let Some(record) = event.payload.get("fields").and_then(Value::as_object) else {
            let learner = self.find_learner(event).await?;
            return self.without_fields(event, learner).await;
        };
        // A newcomer to a suspected duplicate group is held before anything is written.
        let keys = identity_keys(&contract, record);
        if !keys.employee_id.is_empty() {
            match duplicates::check(&self.store, keys)? {
                Verdict::Clear(seen) => *sighting = Some(seen),
                Verdict::Hold { why, sighting: seen } => {
                    *sighting = Some(seen);
                    return Ok(Outcome::Held { why });
                }
            }
        }
        let learner = self.find_learner(event).await?;
        let mapped = match map_employee(&contract, record) {
            Ok(mapped) => mapped,
            Err(reasons) => return Ok(Outcome::Rejected(reasons)),
        };
        let manager = match &mapped.manager_id {
            Some(manager_id) if mapped.should_be_active(&contract) => self.manager_ref(manager_id).await?,
            _ => ManagerRef::None,
        };
        let mapped_json = Some(mapped.to_json());
        // A manager who will not be synced by any open change may still get a
        // learner later (a rehire, a conversion into scope): remember to link then.
        let awaits_manager = match manager {
            ManagerRef::NotSynced { coming: false } => mapped.manager_id.clone(),
            _ => None,
        };
        let decision = plan(
            &contract,
            &mapped,
            learner.as_ref().map(|u| &u.resource),
            &manager,
            today,
        );
        Ok(match decision {
            Plan::Nothing { why, enrol } => {
                let enrolled = match &learner {
                    Some(user) => self.enrol(&event.employee_id, &user.id, enrol).await?,
                    None => Vec::new(),
                };
                Outcome::Unchanged {
                    enrolled,
                    mapped: mapped_json,
                    why,
                    awaits_manager,
                }
            }
            Plan::Create {
                document,
                changes,
                enrol,
            } => {
                let created = self.scim.create_user(&document).await?;
                self.learner_ids
                    .lock()
                    .insert(event.employee_id.clone(), created.id.clone());
                let enrolled = self.enrol(&event.employee_id, &created.id, enrol).await?;
                Outcome::Applied {
                    write: write_record(&created.id, changes.before, changes.after, 201),
                    audit_action: "learner.create",
                    enrolled,
                    mapped: mapped_json,
                    awaits_manager: awaits_manager.clone(),
                }
            }
            Plan::Update {
                document,
                changes,
                enrol,
                deactivates,
            } => {
                let user = learner.expect("an update has a learner");
                let updated = self
                    .scim
                    .replace_user(&user.id, &document, user.etag.as_deref())
                    .await?;
                let enrolled = self.enrol(&event.employee_id, &updated.id, enrol).await?;
                let reactivates = changes.after.get("active") == Some(&Value::Bool(true))
                    && !changes.before.is_empty()
                    && changes.before.get("active") == Some(&Value::Bool(false));
                Outcome::Applied {
                    write: write_record(&updated.id, changes.before, changes.after, 200),
                    audit_action: if deactivates {
                        "learner.deactivate"
                    } else if reactivates {
                        "learner.reactivate"
                    } else {
                        "learner.update"
                    },
                    enrolled,
                    mapped: mapped_json,
                    awaits_manager: awaits_manager.clone(),
                }
            }
            Plan::WaitUntil { at, why } => Outcome::Deferred { until: at, why },
            Plan::WaitForManager { manager_id } => Outcome::Deferred {
                until: Timestamp::now() + MANAGER_WAIT,
                why: format!("waiting for the manager {manager_id} to be synced first"),
            },
            Plan::Reject(reasons) => Outcome::Rejected(reasons),
        })
    }

    /// A change that carries no record: the HRIS deleted the employee, or a full
    /// pull no longer lists them. Deactivate.
    async fn without_fields(&self, event: &Event, learner: Option<ScimUser>) -> Result<Outcome, Failure> {
        if !event.kind.eq_ignore_ascii_case("deleted") && !event.kind.eq_ignore_ascii_case("missing") {
            return Ok(Outcome::Rejected(vec![FieldReason {
                field: "fields".into(),
                reason: format!("a \"{}\" change must carry the employee's fields", event.kind),
            }]));
        }
        let Some(user) = learner.filter(|u| u.resource.get("active") != Some(&Value::Bool(false))) else {
            return Ok(Outcome::Unchanged {
                enrolled: Vec::new(),
                mapped: None,
                why: "gone from the HRIS, and no active learner",
                awaits_manager: None,
            });
        };
        let mut document = user.resource.clone();
        if let Some(object) = document.as_object_mut() {
            object.remove("meta");
        }
        document["active"] = Value::Bool(false);
        let updated = self
            .scim
            .replace_user(&user.id, &document, user.etag.as_deref())
            .await?;
        let mut before = Map::new();
        before.insert("active".into(), Value::Bool(true));
        let mut after = Map::new();
        after.insert("active".into(), Value::Bool(false));
        Ok(Outcome::Applied {
            write: write_record(&updated.id, before, after, 200),
            audit_action: "learner.deactivate",
            enrolled: Vec::new(),
            mapped: None,
            awaits_manager: None,
        })
    }

    async fn find_learner(&self, event: &Event) -> Result<Option<ScimUser>, Failure> {
        if event.source == Source::InitialLoad && event.attempts == 0 {
            let preload = self.preload.lock().clone();
            if let Some(preload) = preload {
                return Ok(preload.get(&event.employee_id).cloned());
            }
        }
        if let Some(user) = self.scim.user_by_external_id(&event.employee_id).await? {
            return Ok(Some(user));
        }
        // A learner made before hrsync (by hand, by the old process) may lack the externalId.
        let number = event
            .payload
            .pointer("/fields/employeeNumber")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty());
        match number {
            Some(number) => Ok(self.scim.user_by_employee_number(number).await?),
            None => Ok(None),
        }
    }

    async fn manager_ref(&self, manager_id: &str) -> Result<ManagerRef, Failure> {
        if let Some(id) = self.learner_ids.lock().get(manager_id) {
            return Ok(ManagerRef::Learner(id.clone()));
        }
        if let Some(user) = self.scim.user_by_external_id(manager_id).await? {
            self.learner_ids
                .lock()
                .insert(manager_id.to_string(), user.id.clone());
            return Ok(ManagerRef::Learner(user.id));
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

    /// Enrols the learner in the groups it is not yet recorded in; returns those.
    async fn enrol(
        &self,
        employee_id: &str,
        learner_id: &str,
        groups: Vec<String>,
    ) -> Result<Vec<String>, Failure> {
        if groups.is_empty() {
            return Ok(groups);
        }
        let known = self.store.enrolments(employee_id)?;
        let missing: Vec<String> = groups.into_iter().filter(|g| !known.contains(g)).collect();
        for group in &missing {
            self.enroller.enrol(group, learner_id).await?;
        }
        Ok(missing)
    }
}

fn write_record(
    target_id: &str,
    before: Map<String, Value>,
    after: Map<String, Value>,
    status: u16,
) -> WriteRecord {
    WriteRecord {
        sent_from: "hris".into(),
        sent_to: "lms".into(),
        target_id: Some(target_id.to_string()),
        before: Value::Object(before),
        after: Value::Object(after),
        http_status: Some(status),
    }
}
