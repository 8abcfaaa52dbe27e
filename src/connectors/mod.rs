// TEMPORARY STUB for type-checking; replaced by the real connectors.
#![allow(unused, clippy::all)]
use crate::model::Secret;
use serde_json::{Map, Value};
use std::time::Duration;
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("x")]
    Transient {
        status: Option<u16>,
        retry_after: Option<Duration>,
        message: String,
    },
    #[error("y")]
    Permanent { status: Option<u16>, message: String },
}
impl ConnectorError {
    pub fn is_transient(&self) -> bool {
        todo!()
    }
    pub fn status(&self) -> Option<u16> {
        todo!()
    }
    pub fn retry_after(&self) -> Option<Duration> {
        todo!()
    }
}
#[derive(Clone)]
pub struct HrisClient;
pub struct ChangedSince {
    pub latest: jiff::Timestamp,
    pub changes: Vec<HrisChange>,
}
pub struct HrisChange {
    pub employee_id: String,
    pub action: String,
    pub last_changed: jiff::Timestamp,
}
impl HrisClient {
    pub fn new(api_base: &str, api_key: Secret) -> Result<HrisClient, ConnectorError> {
        todo!()
    }
    pub async fn full_pull(&self, fields: &[&str]) -> Result<Vec<Map<String, Value>>, ConnectorError> {
        todo!()
    }
    pub async fn changed_since(&self, since: jiff::Timestamp) -> Result<ChangedSince, ConnectorError> {
        todo!()
    }
    pub async fn employee(
        &self,
        id: &str,
        fields: &[&str],
    ) -> Result<Option<Map<String, Value>>, ConnectorError> {
        todo!()
    }
}
#[derive(Clone, Debug)]
pub struct ScimUser {
    pub id: String,
    pub etag: Option<String>,
    pub resource: Value,
}
#[derive(Clone)]
pub struct ScimClient;
impl ScimClient {
    pub fn new(scim_base: &str, token: Secret) -> Result<ScimClient, ConnectorError> {
        todo!()
    }
    pub async fn user_by_external_id(&self, external_id: &str) -> Result<Option<ScimUser>, ConnectorError> {
        todo!()
    }
    pub async fn user_by_employee_number(&self, number: &str) -> Result<Option<ScimUser>, ConnectorError> {
        todo!()
    }
    pub async fn create_user(&self, body: &Value) -> Result<ScimUser, ConnectorError> {
        todo!()
    }
    pub async fn replace_user(
        &self,
        id: &str,
        body: &Value,
        etag: Option<&str>,
    ) -> Result<ScimUser, ConnectorError> {
        todo!()
    }
    pub async fn group_id(&self, display_name: &str) -> Result<Option<String>, ConnectorError> {
        todo!()
    }
    pub async fn add_members(&self, group_id: &str, user_ids: &[String]) -> Result<(), ConnectorError> {
        todo!()
    }
    pub async fn all_users(&self) -> Result<Vec<ScimUser>, ConnectorError> {
        todo!()
    }
}
#[derive(Clone)]
pub struct Notifier;
impl Notifier {
    pub fn new(u: Option<url::Url>) -> Notifier {
        todo!()
    }
    pub async fn send(&self, text: &str) -> Result<(), ConnectorError> {
        todo!()
    }
}
