//! The four roles the engine works against, whatever system fills them: the HRIS
//! as an *employee source* and a *training target*, the LMS as a *learner
//! target*, the LRS as a *completion source*. Each connector kind implements the
//! roles it can fill; `[hris] kind`, `[lms] kind` and `[lrs] kind` choose which.
//! The engine names these traits and the records they carry, never a client.
//!
//! Records keep the shapes the protocols already agree on: an employee is a map
//! of HRIS field names, a learner a SCIM resource, a completion an xAPI statement.

use std::fmt;
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Map, Value};

pub use super::csv_completions::{ReportFiles, ShapeOf};
pub use super::hris::{ChangedSince, HrisChange, TrainingType};
pub use super::lrs::{StatementPage, stored_at};
pub use super::scim::ScimUser;
pub use super::scim_groups::GroupMembers;
pub use super::scim_profile::ScimProfile;
use super::{ConnectorError, HrisClient, LrsClient, ReadBackoff, ScimClient};
use crate::model::connections::{HrisConnection, LmsConnection, LrsConnection, LrsKind};

/// One employee as the HRIS holds it: its field names and values.
pub type EmployeeRecord = Map<String, Value>;

/// Where employees come from: the whole directory, what changed, one of them.
#[async_trait::async_trait]
pub trait EmployeeSource: Send + Sync + fmt::Debug {
    /// Every employee, terminated ones included, with these fields (and the id),
    /// each handed to `each` as it is read. Returns how many there were.
    async fn each_employee(
        &self,
        fields: &[&str],
        each: &mut (dyn FnMut(EmployeeRecord) + Send),
    ) -> Result<usize, ConnectorError>;

    /// The employees changed since `since`, oldest change first.
    async fn changed_since(&self, since: Timestamp) -> Result<ChangedSince, ConnectorError>;

    /// One employee with these fields, or `None` when there is no such id;
    /// asked again after a transient failure, with the engine's read backoff.
    async fn employee(&self, id: &str, fields: &[&str]) -> Result<Option<EmployeeRecord>, ConnectorError>;
}

impl dyn EmployeeSource + '_ {
    /// The whole directory as a list.
    pub async fn all_employees(&self, fields: &[&str]) -> Result<Vec<EmployeeRecord>, ConnectorError> {
        let mut employees = Vec::new();
        self.each_employee(fields, &mut |employee| employees.push(employee))
            .await?;
        Ok(employees)
    }
}

/// Where learners are kept: found, created, replaced (a deactivation is a
/// replacement with `active` false), enrolled in groups, and listed.
#[async_trait::async_trait]
pub trait LearnerTarget: Send + Sync + fmt::Debug {
    /// What the target supports, so requests take forms it accepts.
    fn profile(&self) -> &ScimProfile;
    async fn user(&self, id: &str) -> Result<Option<ScimUser>, ConnectorError>;
    async fn user_by_external_id(&self, external_id: &str) -> Result<Option<ScimUser>, ConnectorError>;
    /// `None` when the target cannot look learners up by employee number.
    async fn user_by_employee_number(&self, number: &str) -> Result<Option<ScimUser>, ConnectorError>;
    async fn user_by_user_name(&self, user_name: &str) -> Result<Option<ScimUser>, ConnectorError>;
    async fn create_user(&self, body: &Value) -> Result<ScimUser, ConnectorError>;
    async fn replace_user(
        &self,
        id: &str,
        body: &Value,
        etag: Option<&str>,
    ) -> Result<ScimUser, ConnectorError>;
    /// Every learner, each handed to `each` as it is read. Returns how many.
    async fn each_user(&self, each: &mut (dyn FnMut(ScimUser) + Send)) -> Result<usize, ConnectorError>;
    async fn group_id(&self, display_name: &str) -> Result<Option<String>, ConnectorError>;
    async fn create_group(&self, display_name: &str) -> Result<String, ConnectorError>;
    async fn add_members(&self, group_id: &str, user_ids: &[String]) -> Result<(), ConnectorError>;
    /// Takes learners out of a group; one not in it changes nothing.
    async fn remove_members(&self, group_id: &str, user_ids: &[String]) -> Result<(), ConnectorError>;
    async fn all_groups(&self) -> Result<Vec<GroupMembers>, ConnectorError>;
    /// Called by the apply worker after each batch of writes: a target that keeps
    /// what it is given and sends it on later (a file feed) does so now. Nothing
    /// for a target every write reaches at once (SCIM).
    async fn flush(&self) -> Result<(), ConnectorError> {
        Ok(())
    }
}

impl dyn LearnerTarget + '_ {
    /// Every learner as a list.
    pub async fn all_users(&self) -> Result<Vec<ScimUser>, ConnectorError> {
        let mut users = Vec::new();
        self.each_user(&mut |user| users.push(user)).await?;
        Ok(users)
    }
}

/// Where completions come from, as xAPI statements in the order they were stored.
#[async_trait::async_trait]
pub trait CompletionSource: Send + Sync + fmt::Debug {
    /// The first page of statements stored since `since` (all when `None`).
    async fn stored_since(
        &self,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<StatementPage, ConnectorError>;
    /// The page a `more` link names.
    async fn more(&self, more: &str) -> Result<StatementPage, ConnectorError>;
    /// Every statement of these pages' `files` is journaled: a source of files
    /// moves them away now, never before (a crash in between reads them again,
    /// and their statements are duplicates by their idempotency keys).
    async fn journaled(&self, files: &[String]) -> Result<(), ConnectorError> {
        let _ = files;
        Ok(())
    }
}

impl dyn CompletionSource + '_ {
    /// Hands every statement stored (oldest first) to `each`, page by page, so a
    /// caller that keeps only some never holds them all.
    pub async fn each_stored(&self, mut each: impl FnMut(Value) + Send) -> Result<(), ConnectorError> {
        let mut page = self.stored_since(None, 500).await?;
        loop {
            page.statements.drain(..).for_each(&mut each);
            match page.more.take() {
                Some(more) => page = self.more(&more).await?,
                None => return Ok(()),
            }
        }
    }
}

/// Where training is written back: what an employee has, and what is added.
#[async_trait::async_trait]
pub trait TrainingTarget: Send + Sync + fmt::Debug {
    async fn training_types(&self) -> Result<Vec<TrainingType>, ConnectorError>;
    /// The employee's training records, `None` when there is no such employee;
    /// asked again after a transient failure.
    async fn training_records(&self, employee_id: &str) -> Result<Option<Vec<Value>>, ConnectorError>;
    async fn add_training_record(&self, employee_id: &str, record: &Value) -> Result<Value, ConnectorError>;
    async fn table_rows(&self, employee_id: &str, table: &str) -> Result<Option<Vec<Value>>, ConnectorError>;
    async fn add_table_row(
        &self,
        employee_id: &str,
        table: &str,
        row: &Value,
    ) -> Result<Value, ConnectorError>;
}

/// The HRIS's roles for an API kind; a file kind's employees are the engine's own
/// record of the last export it took, so it has no client here.
#[derive(Clone, Debug)]
pub struct HrisRoles {
    pub employees: Arc<dyn EmployeeSource>,
    pub training: Arc<dyn TrainingTarget>,
}

/// Builds the HRIS's roles for `[hris]`; `None` for a file kind.
pub fn connect_hris(hris: &HrisConnection, reads: ReadBackoff) -> Result<Option<HrisRoles>, ConnectorError> {
    match hris.kind {
        crate::model::connections::HrisKind::BambooHr => {
            let client = Arc::new(HrisClient::new(&hris.api_base, hris.api_key.clone(), reads)?);
            Ok(Some(HrisRoles {
                employees: client.clone(),
                training: client,
            }))
        }
        crate::model::connections::HrisKind::Csv => Ok(None),
    }
}

/// Builds the learner target for `[lms]`, reading what it says it supports.
pub async fn connect_lms(
    lms: &LmsConnection,
    reads: ReadBackoff,
) -> Result<Arc<dyn LearnerTarget>, ConnectorError> {
    let scim = ScimClient::new(&lms.scim_url, lms.token.clone(), reads)?;
    // The request forms follow what the LMS says it supports, and the quirks named.
    let profile = scim.discover(&lms.quirks).await;
    for difference in profile.differences() {
        tracing::warn!(lms = %lms.scim_url, "{difference}");
    }
    Ok(Arc::new(scim.with_profile(profile)))
}

/// Builds the completion source for `[lrs]`; a report's columns are read through
/// `shape` at each read (the contract's, which an operator may change).
pub fn connect_lrs(
    lrs: &LrsConnection,
    reads: ReadBackoff,
    shape: ShapeOf,
) -> Result<Arc<dyn CompletionSource>, ConnectorError> {
    if lrs.kind == LrsKind::Csv {
        let reports = lrs.reports.clone().ok_or_else(|| {
            ConnectorError::permanent("[lrs] kind = \"csv\" needs an inbox for the reports".to_string())
        })?;
        return Ok(Arc::new(ReportFiles::new(reports, shape)));
    }
    Ok(Arc::new(LrsClient::new(
        &lrs.url,
        lrs.user.clone(),
        lrs.password.clone(),
        reads,
    )?))
}

#[async_trait::async_trait]
impl EmployeeSource for HrisClient {
    async fn each_employee(
        &self,
        fields: &[&str],
        each: &mut (dyn FnMut(EmployeeRecord) + Send),
    ) -> Result<usize, ConnectorError> {
        self.full_pull_each(fields, each).await
    }

    async fn changed_since(&self, since: Timestamp) -> Result<ChangedSince, ConnectorError> {
        HrisClient::changed_since(self, since).await
    }

    async fn employee(&self, id: &str, fields: &[&str]) -> Result<Option<EmployeeRecord>, ConnectorError> {
        self.employee_retried(id, fields).await
    }
}

#[async_trait::async_trait]
impl TrainingTarget for HrisClient {
    async fn training_types(&self) -> Result<Vec<TrainingType>, ConnectorError> {
        HrisClient::training_types(self).await
    }

    async fn training_records(&self, employee_id: &str) -> Result<Option<Vec<Value>>, ConnectorError> {
        self.training_records_retried(employee_id).await
    }

    async fn add_training_record(&self, employee_id: &str, record: &Value) -> Result<Value, ConnectorError> {
        HrisClient::add_training_record(self, employee_id, record).await
    }

    async fn table_rows(&self, employee_id: &str, table: &str) -> Result<Option<Vec<Value>>, ConnectorError> {
        HrisClient::table_rows(self, employee_id, table).await
    }

    async fn add_table_row(
        &self,
        employee_id: &str,
        table: &str,
        row: &Value,
    ) -> Result<Value, ConnectorError> {
        HrisClient::add_table_row(self, employee_id, table, row).await
    }
}

#[async_trait::async_trait]
impl LearnerTarget for ScimClient {
    fn profile(&self) -> &ScimProfile {
        ScimClient::profile(self)
    }

    async fn user(&self, id: &str) -> Result<Option<ScimUser>, ConnectorError> {
        ScimClient::user(self, id).await
    }

    async fn user_by_external_id(&self, external_id: &str) -> Result<Option<ScimUser>, ConnectorError> {
        ScimClient::user_by_external_id(self, external_id).await
    }

    async fn user_by_employee_number(&self, number: &str) -> Result<Option<ScimUser>, ConnectorError> {
        ScimClient::user_by_employee_number(self, number).await
    }

    async fn user_by_user_name(&self, user_name: &str) -> Result<Option<ScimUser>, ConnectorError> {
        ScimClient::user_by_user_name(self, user_name).await
    }

    async fn create_user(&self, body: &Value) -> Result<ScimUser, ConnectorError> {
        ScimClient::create_user(self, body).await
    }

    async fn replace_user(
        &self,
        id: &str,
        body: &Value,
        etag: Option<&str>,
    ) -> Result<ScimUser, ConnectorError> {
        ScimClient::replace_user(self, id, body, etag).await
    }

    async fn each_user(&self, each: &mut (dyn FnMut(ScimUser) + Send)) -> Result<usize, ConnectorError> {
        ScimClient::each_user(self, each).await
    }

    async fn group_id(&self, display_name: &str) -> Result<Option<String>, ConnectorError> {
        ScimClient::group_id(self, display_name).await
    }

    async fn create_group(&self, display_name: &str) -> Result<String, ConnectorError> {
        ScimClient::create_group(self, display_name).await
    }

    async fn add_members(&self, group_id: &str, user_ids: &[String]) -> Result<(), ConnectorError> {
        ScimClient::add_members(self, group_id, user_ids).await
    }

    async fn remove_members(&self, group_id: &str, user_ids: &[String]) -> Result<(), ConnectorError> {
        ScimClient::remove_members(self, group_id, user_ids).await
    }

    async fn all_groups(&self) -> Result<Vec<GroupMembers>, ConnectorError> {
        ScimClient::all_groups(self).await
    }
}

#[async_trait::async_trait]
impl CompletionSource for LrsClient {
    async fn stored_since(
        &self,
        since: Option<Timestamp>,
        limit: usize,
    ) -> Result<StatementPage, ConnectorError> {
        LrsClient::stored_since(self, since, limit).await
    }

    async fn more(&self, more: &str) -> Result<StatementPage, ConnectorError> {
        LrsClient::more(self, more).await
    }
}
