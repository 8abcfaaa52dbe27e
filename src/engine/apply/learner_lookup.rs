//! Finding an employee's learner: the initial load's snapshot (each learner
//! handed out once), then live lookups by externalId, employeeNumber or
//! userName; and a create that meets a taken userName, which adopts the
//! learner holding it or holds the change as a learner-side duplicate.

use std::collections::HashMap;

use serde_json::Value;

use crate::connectors::ConnectorError;
use crate::connectors::roles::ScimUser;
use crate::contract::map::MappedEmployee;
use crate::contract::{AdoptBy, Contract};
use crate::engine::apply::Applier;
use crate::engine::apply::outcome::Failure;
use crate::engine::intake::duplicates::{self, HOLD_NOTE, Sighting};
use crate::model::{Event, ScimQuirk, Source};

/// The key a learner was found by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FoundBy {
    /// Its externalId is the employee id: linked by hrsync (or the LMS's import).
    ExternalId,
    /// Made before hrsync: its enterprise employeeNumber is the employee's.
    EmployeeNumber,
    /// An LMS that cannot filter on employeeNumber: the mapped userName, unlinked.
    UserName,
}

impl FoundBy {
    pub fn as_str(self) -> &'static str {
        match self {
            FoundBy::ExternalId => "externalId",
            FoundBy::EmployeeNumber => "employeeNumber",
            FoundBy::UserName => "userName",
        }
    }
}

/// The learners the initial load read in one full pull, so it need not ask per
/// employee. Each is handed out once: a later attempt asks the LMS.
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

impl Applier {
    /// The learner of the event's employee: by externalId, then (for one made
    /// before hrsync) by employeeNumber, or by userName where the LMS cannot filter
    /// on the enterprise extension. Only an initial-load event's first try reads
    /// the load's snapshot, once; every other attempt asks the LMS as it is now.
    pub(super) async fn find_learner(
        &self,
        event: &Event,
        user_name: Option<&str>,
    ) -> Result<Option<ScimUser>, Failure> {
        if event.source == Source::InitialLoad && event.attempts == 0 && event.last_error.is_none() {
            let mut preload = self.preload.lock();
            if let Some(preload) = preload.as_mut() {
                return Ok(preload.by_external_id.remove(&event.employee_id));
            }
        }
        let number = event
            .payload
            .pointer("/fields/employeeNumber")
            .and_then(Value::as_str);
        let found = self
            .look_up_learner(&event.employee_id, number, user_name)
            .await?;
        Ok(found.map(|(user, _)| user))
    }

    /// The employee's learner as the LMS holds it now, and the key it was found by.
    pub(super) async fn look_up_learner(
        &self,
        employee_id: &str,
        employee_number: Option<&str>,
        user_name: Option<&str>,
    ) -> Result<Option<(ScimUser, FoundBy)>, Failure> {
        if let Some(user) = self.learners.user_by_external_id(employee_id).await? {
            return Ok(Some((user, FoundBy::ExternalId)));
        }
        if self.learners.profile().has(ScimQuirk::NoEnterpriseFilter) {
            // Only a learner without an externalId can be this employee's.
            let found = match user_name {
                Some(user_name) => self.learners.user_by_user_name(user_name).await?,
                None => None,
            };
            return Ok(found
                .filter(|u| u.resource["externalId"].as_str().is_none_or(str::is_empty))
                .map(|user| (user, FoundBy::UserName)));
        }
        match employee_number.filter(|n| !n.is_empty()) {
            Some(number) => Ok(self
                .learners
                .user_by_employee_number(number)
                .await?
                .map(|user| (user, FoundBy::EmployeeNumber))),
            None => Ok(None),
        }
    }

    /// POSTs the learner; a userName the LMS says is taken answers the learner holding it.
    pub(super) async fn create(&self, event: &Event, document: &Value) -> Result<Created, Failure> {
        match self.learners.create_user(document).await {
            Ok(user) => {
                self.learner_ids
                    .lock()
                    .insert(event.employee_id.clone(), user.id.clone());
                Ok(Created::New(user))
            }
            Err(error) if self.is_taken(&error) => {
                let holder = match document["userName"].as_str() {
                    Some(user_name) => self.learners.user_by_user_name(user_name).await?,
                    None => None,
                };
                match holder {
                    Some(user) => Ok(Created::Taken(user)),
                    None => Err(error.into()),
                }
            }
            Err(error) => Err(error.into()),
        }
    }

    /// A 409, or a 400 from a server that answers taken names so (or says so).
    pub(super) fn is_taken(&self, error: &ConnectorError) -> bool {
        match error.status() {
            Some(409) => true,
            Some(400) => {
                let text = error.to_string().to_ascii_lowercase();
                self.learners.profile().has(ScimQuirk::DuplicateIs400)
                    || ["taken", "already", "exists", "unique", "duplicate"]
                        .iter()
                        .any(|word| text.contains(word))
            }
            _ => false,
        }
    }

    /// Whether the learner holding the mapped userName may be taken over: it has
    /// no externalId or this employee's, and the contract allows it. Otherwise
    /// the clash is a learner-side duplicate for an operator: `Err` says why the
    /// event is held.
    pub(super) fn adoption(
        &self,
        contract: &Contract,
        event: &Event,
        mapped: &MappedEmployee,
        document: &Value,
        holder: ScimUser,
        sighting: &mut Option<Sighting>,
    ) -> Result<ScimUser, String> {
        let owner = holder.resource["externalId"].as_str().filter(|id| !id.is_empty());
        let ours = owner.is_none_or(|owner| owner == event.employee_id);
        if ours && contract.lifecycle.adopt_by == AdoptBy::UserName {
            return Ok(holder);
        }
        let user_name = document["userName"].as_str().unwrap_or_default();
        let why = match owner {
            Some(owner) if owner != event.employee_id => format!(
                "{HOLD_NOTE}: the LMS learner {} already holds userName {user_name:?} and belongs to employee {owner}",
                holder.id
            ),
            _ => format!(
                "{HOLD_NOTE}: the LMS learner {} already holds userName {user_name:?}, and the contract's \
                 adopt_by = \"none\" forbids taking it over",
                holder.id
            ),
        };
        if let Some(seen) = sighting {
            seen.groups
                .push(duplicates::user_name_clash(mapped, user_name, &holder));
        }
        Err(why)
    }
}

/// What a POST came to.
pub(super) enum Created {
    New(ScimUser),
    /// The userName is taken; this learner holds it.
    Taken(ScimUser),
}

/// The userName the contract maps the employee to, if it maps one.
pub(super) fn user_name_of<'m>(mapped: &'m MappedEmployee<'_>) -> Option<&'m str> {
    mapped
        .lms
        .iter()
        .find(|v| v.path.schema.is_none() && v.path.attribute.eq_ignore_ascii_case("userName"))
        .and_then(|v| v.value.as_str())
}
