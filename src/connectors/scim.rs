//! The LMS client, SCIM 2.0 (RFC 7644): find a learner by externalId or
//! employeeNumber, create, replace with If-Match, read every learner in pages,
//! and add learners to a group (a learning path) with PATCH.

use backon::Retryable;
use std::fmt;

use serde::Deserialize;
use serde_json::{Value, json};

use super::hris::encode_segment;
use super::{ConnectorError, checked, http_client, json_of, unanswered};
use crate::model::Secret;

const SCIM_JSON: &str = "application/scim+json";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Learners asked for per page when reading them all.
const PAGE: usize = 1000;
/// Members added per PATCH, so one request stays a reasonable size.
const MEMBERS_PER_PATCH: usize = 500;

#[derive(Clone)]
pub struct ScimClient {
    http: reqwest::Client,
    /// `…/scim/v2`, without a trailing slash.
    base: String,
    token: Secret,
}

impl fmt::Debug for ScimClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScimClient")
            .field("base", &self.base)
            .field("token", &self.token)
            .finish()
    }
}

/// A learner as the LMS holds it: its id, its version for If-Match, the resource.
#[derive(Clone, Debug)]
pub struct ScimUser {
    pub id: String,
    pub etag: Option<String>,
    pub resource: Value,
}

impl ScimUser {
    fn from_resource(resource: Value, etag_header: Option<String>) -> Result<ScimUser, ConnectorError> {
        let id = resource["id"]
            .as_str()
            .ok_or_else(|| ConnectorError::permanent("the LMS answered a user without an id".into()))?
            .to_string();
        let etag = etag_header.or_else(|| resource["meta"]["version"].as_str().map(str::to_string));
        Ok(ScimUser { id, etag, resource })
    }
}

#[derive(Deserialize)]
struct ListAnswer {
    #[serde(rename = "totalResults", default)]
    total_results: usize,
    #[serde(rename = "Resources", default)]
    resources: Vec<Value>,
}

impl ScimClient {
    pub fn new(scim_base: &str, token: Secret) -> Result<ScimClient, ConnectorError> {
        url::Url::parse(scim_base).map_err(|error| {
            ConnectorError::permanent(format!("the SCIM URL {scim_base} is not a URL: {error}"))
        })?;
        Ok(ScimClient {
            http: http_client()?,
            base: scim_base.trim_end_matches('/').to_string(),
            token,
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/{path}", self.base))
            .bearer_auth(self.token.expose())
            .header(reqwest::header::ACCEPT, SCIM_JSON)
    }

    async fn send(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ConnectorError> {
        let response = request.send().await.map_err(|error| unanswered(what, error))?;
        checked(what, response).await
    }

    async fn one_user(&self, what: &str, filter: String) -> Result<Option<ScimUser>, ConnectorError> {
        let request = self
            .request(reqwest::Method::GET, "Users")
            .query(&[("filter", filter.as_str()), ("count", "2")]);
        let answer: ListAnswer = json_of(what, self.send(what, request).await?).await?;
        if answer.resources.len() > 1 {
            return Err(ConnectorError::permanent(format!(
                "{what}: the LMS holds {} learners that match; resolve the duplicate first",
                answer.total_results.max(answer.resources.len())
            )));
        }
        answer
            .resources
            .into_iter()
            .next()
            .map(|resource| ScimUser::from_resource(resource, None))
            .transpose()
    }

    /// One learner by its SCIM id; `None` when the LMS answers 404.
    pub async fn user(&self, id: &str) -> Result<Option<ScimUser>, ConnectorError> {
        let what = format!("LMS learner {id} (GET Users/{{id}})");
        let response = self
            .request(reqwest::Method::GET, &format!("Users/{}", encode_segment(id)))
            .send()
            .await
            .map_err(|error| unanswered(&what, error))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = checked(&what, response).await?;
        let etag = etag_of(&response);
        ScimUser::from_resource(json_of(&what, response).await?, etag).map(Some)
    }

    pub async fn user_by_external_id(&self, external_id: &str) -> Result<Option<ScimUser>, ConnectorError> {
        let what = format!("LMS learner with externalId {external_id} (GET Users)");
        self.one_user(&what, format!("externalId eq {}", quoted(external_id)))
            .await
    }

    pub async fn user_by_employee_number(&self, number: &str) -> Result<Option<ScimUser>, ConnectorError> {
        let what = format!("LMS learner with employeeNumber {number} (GET Users)");
        self.one_user(
            &what,
            format!("{ENTERPRISE}:employeeNumber eq {}", quoted(number)),
        )
        .await
    }

    pub async fn create_user(&self, body: &Value) -> Result<ScimUser, ConnectorError> {
        let what = format!(
            "creating LMS learner {} (POST Users)",
            body["externalId"].as_str().unwrap_or("?")
        );
        let request = self
            .request(reqwest::Method::POST, "Users")
            .header(reqwest::header::CONTENT_TYPE, SCIM_JSON)
            .body(body.to_string());
        let response = self.send(&what, request).await?;
        let etag = etag_of(&response);
        ScimUser::from_resource(json_of(&what, response).await?, etag)
    }

    /// PUT the whole learner; with an ETag the LMS refuses (412, transient) if
    /// someone changed it since we read it, and the retry reads it again.
    pub async fn replace_user(
        &self,
        id: &str,
        body: &Value,
        etag: Option<&str>,
    ) -> Result<ScimUser, ConnectorError> {
        let what = format!("replacing LMS learner {id} (PUT Users/{{id}})");
        let mut request = self
            .request(reqwest::Method::PUT, &format!("Users/{}", encode_segment(id)))
            .header(reqwest::header::CONTENT_TYPE, SCIM_JSON)
            .body(body.to_string());
        if let Some(etag) = etag {
            request = request.header(reqwest::header::IF_MATCH, etag);
        }
        let response = self.send(&what, request).await?;
        let etag = etag_of(&response);
        ScimUser::from_resource(json_of(&what, response).await?, etag)
    }

    /// The id of the group with this displayName, if the LMS has one.
    pub async fn group_id(&self, display_name: &str) -> Result<Option<String>, ConnectorError> {
        let what = format!("LMS group {display_name:?} (GET Groups)");
        let filter = format!("displayName eq {}", quoted(display_name));
        let request = self
            .request(reqwest::Method::GET, "Groups")
            .query(&[("filter", filter.as_str()), ("attributes", "id,displayName")]);
        let answer: ListAnswer = json_of(&what, self.send(&what, request).await?).await?;
        Ok(answer
            .resources
            .iter()
            .find_map(|g| g["id"].as_str().map(str::to_string)))
    }

    /// Adds learners to a group; adding one already in it changes nothing.
    pub async fn add_members(&self, group_id: &str, user_ids: &[String]) -> Result<(), ConnectorError> {
        for chunk in user_ids.chunks(MEMBERS_PER_PATCH) {
            let what = format!(
                "adding {} learner(s) to LMS group {group_id} (PATCH Groups/{{id}})",
                chunk.len()
            );
            let members: Vec<Value> = chunk.iter().map(|id| json!({ "value": id })).collect();
            let body = json!({
                "schemas": [PATCH_OP],
                "Operations": [{ "op": "add", "path": "members", "value": members }],
            });
            let request = self
                .request(
                    reqwest::Method::PATCH,
                    &format!("Groups/{}", encode_segment(group_id)),
                )
                .query(&[("attributes", "id")])
                .header(reqwest::header::CONTENT_TYPE, SCIM_JSON)
                .body(body.to_string());
            self.send(&what, request).await?;
        }
        Ok(())
    }

    /// Every learner in the LMS, read page by page.
    pub async fn all_users(&self) -> Result<Vec<ScimUser>, ConnectorError> {
        let mut users = Vec::new();
        self.each_user(|user| users.push(user)).await?;
        Ok(users)
    }

    /// Hands every learner to `each`, page by page, so a caller that keeps them in
    /// another form never holds the whole list as JSON.
    pub async fn each_user(&self, mut each: impl FnMut(ScimUser)) -> Result<usize, ConnectorError> {
        let mut start = 1usize;
        loop {
            let what = format!("LMS learners from {start} (GET Users)");
            let page = || async {
                let request = self
                    .request(reqwest::Method::GET, "Users")
                    .query(&[("startIndex", start.to_string()), ("count", PAGE.to_string())]);
                json_of::<ListAnswer>(&what, self.send(&what, request).await?).await
            };
            // One busy answer must not cost a whole pull: a page is asked again a
            // few times (as long as the LMS says, within reason) before the pull fails.
            let answer = page
                .retry(super::page_retries())
                .when(ConnectorError::is_transient)
                .adjust(super::retry_after_within)
                .await?;
            let got = answer.resources.len();
            for resource in answer.resources {
                each(ScimUser::from_resource(resource, None)?);
            }
            start += got;
            if got == 0 || start > answer.total_results {
                return Ok(start - 1);
            }
        }
    }
}

fn etag_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A string as a SCIM filter literal (a JSON string, RFC 7644 §3.4.2.2).
fn quoted(value: &str) -> String {
    Value::String(value.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_literals_escape_quotes() {
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn the_token_never_shows_in_debug() {
        let client = ScimClient::new("http://127.0.0.1:1/scim/v2", Secret::new("t-999")).unwrap();
        assert!(!format!("{client:?}").contains("t-999"));
    }
}
