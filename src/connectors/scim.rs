//! The LMS client, SCIM 2.0 (RFC 7644): find a learner by externalId,
//! employeeNumber or userName, create, replace with If-Match, and read every
//! learner in checked pages. Requests take the forms the server's profile allows.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use backon::Retryable;
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use serde_json::Value;

use super::hris::encode_segment;
use super::scim_paging::{ListAnswer, Pager};
use super::scim_profile::ScimProfile;
use super::{ConnectorError, checked, http_client, json_of, unanswered};
use crate::model::{ENTERPRISE_SCHEMA as ENTERPRISE, ScimQuirk, Secret};

pub(super) const SCIM_JSON: &str = "application/scim+json";
/// Pages of a list asked for at once (the one being read and those after it).
pub const PAGES_IN_FLIGHT: usize = 3;

#[derive(Clone)]
pub struct ScimClient {
    http: reqwest::Client,
    /// `…/scim/v2`, without a trailing slash.
    base: String,
    token: Secret,
    profile: Arc<ScimProfile>,
    /// Set when the server broke on an `attributes` parameter the profile allowed.
    attributes_refused: Arc<AtomicBool>,
    /// How a page of a full pull is asked again (the engine's `[retry]`).
    reads: super::ReadBackoff,
}

impl fmt::Debug for ScimClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScimClient")
            .field("base", &self.base)
            .field("token", &self.token)
            .field("profile", &self.profile)
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
    pub(super) fn from_resource(
        mut resource: Value,
        etag_header: Option<String>,
    ) -> Result<ScimUser, ConnectorError> {
        // Some servers answer booleans as strings; everything after reads booleans.
        if let Some(active) = resource.get_mut("active")
            && let Some(word) = active.as_str()
        {
            if word.eq_ignore_ascii_case("true") {
                *active = Value::Bool(true);
            } else if word.eq_ignore_ascii_case("false") {
                *active = Value::Bool(false);
            }
        }
        let id = resource["id"]
            .as_str()
            .ok_or_else(|| ConnectorError::permanent("the LMS answered a user without an id".into()))?
            .to_string();
        let etag = etag_header.or_else(|| resource["meta"]["version"].as_str().map(str::to_string));
        Ok(ScimUser { id, etag, resource })
    }
}

impl ScimClient {
    pub fn new(
        scim_base: &str,
        token: Secret,
        reads: super::ReadBackoff,
    ) -> Result<ScimClient, ConnectorError> {
        url::Url::parse(scim_base).map_err(|error| {
            ConnectorError::permanent(format!("the SCIM URL {scim_base} is not a URL: {error}"))
        })?;
        Ok(ScimClient {
            http: http_client()?,
            base: scim_base.trim_end_matches('/').to_string(),
            token,
            profile: Arc::new(ScimProfile::default()),
            attributes_refused: Arc::new(AtomicBool::new(false)),
            reads,
        })
    }

    /// The same client, choosing its requests by `profile` (see `discover`).
    pub fn with_profile(mut self, profile: ScimProfile) -> ScimClient {
        self.profile = Arc::new(profile);
        self
    }

    pub fn profile(&self) -> &ScimProfile {
        &self.profile
    }

    pub(super) fn attributes_refused(&self) -> bool {
        self.attributes_refused.load(Ordering::Relaxed)
    }

    /// A request failed with `attributes` and worked without: never send it again.
    pub(super) fn refuse_attributes(&self, error: &ConnectorError) {
        if !self.attributes_refused.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                lms = %self.base,
                %error,
                "the LMS fails requests that carry `attributes`; hrsync sends none from now on \
                 (name `ignores_attributes_param` in [lms] quirks to skip the first failure)"
            );
        }
    }

    /// The server, for messages.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub(super) fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/{path}", self.base))
            .bearer_auth(self.token.expose())
            .header(reqwest::header::ACCEPT, SCIM_JSON)
    }

    pub(super) async fn send(
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

    /// `None` too when the server cannot filter on the enterprise extension
    /// (`no_enterprise_filter`): it would answer nothing anyway.
    pub async fn user_by_employee_number(&self, number: &str) -> Result<Option<ScimUser>, ConnectorError> {
        if self.profile.has(ScimQuirk::NoEnterpriseFilter) {
            return Ok(None);
        }
        let what = format!("LMS learner with employeeNumber {number} (GET Users)");
        self.one_user(
            &what,
            format!("{ENTERPRISE}:employeeNumber eq {}", quoted(number)),
        )
        .await
    }

    pub async fn user_by_user_name(&self, user_name: &str) -> Result<Option<ScimUser>, ConnectorError> {
        let what = format!("LMS learner with userName {user_name} (GET Users)");
        self.one_user(&what, format!("userName eq {}", quoted(user_name)))
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
        if let Some(etag) = etag.filter(|_| self.profile.sends_if_match()) {
            request = request.header(reqwest::header::IF_MATCH, etag);
        }
        let response = self.send(&what, request).await?;
        let etag = etag_of(&response);
        ScimUser::from_resource(json_of(&what, response).await?, etag)
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
        let mut listed = 0;
        let page_size = self.profile.page_size();
        self.each_page("Users", "learners", page_size, |resource| {
            listed += 1;
            each(ScimUser::from_resource(resource, None)?);
            Ok(())
        })
        .await?;
        Ok(listed)
    }

    /// Reads every resource of `resource` in checked pages of `page_size`,
    /// handing each (new) resource to `each` as it is parsed, in the server's
    /// order. Once the first answer tells how many there are, up to
    /// `PAGES_IN_FLIGHT` pages are asked for at once, so the server renders the
    /// next pages while this side parses and packs the last one.
    pub(super) async fn each_page(
        &self,
        resource: &str,
        listed: &'static str,
        page_size: usize,
        mut each: impl FnMut(Value) -> Result<(), ConnectorError>,
    ) -> Result<(), ConnectorError> {
        let mut pager = Pager::new(listed, &self.base);
        let mut in_flight = FuturesOrdered::new();
        in_flight.push_back(self.page(resource, listed, 1, page_size));
        // The pages in flight start at `start`, `start + stride`, … up to `next`.
        let (mut start, mut next, mut stride) = (1usize, 1 + page_size, page_size);
        while let Some(bytes) = in_flight.next().await {
            let (asked, bytes) = bytes?;
            let page = pager.read(&asked, start, &bytes, &mut each)?;
            start += page.got;
            if page.got == 0 || start > page.total {
                return Ok(());
            }
            if page.got < stride {
                // The server answers fewer than asked: the pages asked ahead start
                // in the wrong places, so they are dropped and asked again.
                in_flight.clear();
                (next, stride) = (start, page.got);
            }
            while in_flight.len() < PAGES_IN_FLIGHT && next <= page.total {
                in_flight.push_back(self.page(resource, listed, next, stride));
                next += stride;
            }
        }
        Ok(())
    }

    /// One page of a list from `start`, its body read whole (asked again after a
    /// transient failure, a cut-off body too), with what it was for messages.
    async fn page(
        &self,
        resource: &str,
        listed: &'static str,
        start: usize,
        count: usize,
    ) -> Result<(String, Vec<u8>), ConnectorError> {
        let what = format!("LMS {listed} from {start} (GET {resource})");
        let page = || async {
            let request = self
                .request(reqwest::Method::GET, resource)
                .query(&[("startIndex", start.to_string()), ("count", count.to_string())]);
            let response = self.send(&what, request).await?;
            (response.bytes().await)
                .map(Vec::from)
                .map_err(|error| unanswered(&what, error))
        };
        // One busy answer must not cost a whole pull: a page is asked again a
        // few times (as long as the LMS says, within reason) before the pull fails.
        let bytes = page
            .retry(self.reads)
            .when(ConnectorError::is_transient)
            .adjust(super::retry_after_within)
            .await?;
        Ok((what, bytes))
    }
}

pub(super) fn etag_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(reqwest::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A string as a SCIM filter literal (a JSON string, RFC 7644 §3.4.2.2).
pub(super) fn quoted(value: &str) -> String {
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
        let client = ScimClient::new(
            "http://127.0.0.1:1/scim/v2",
            Secret::new("t-999"),
            crate::connectors::ReadBackoff::new(),
        )
        .unwrap();
        assert!(!format!("{client:?}").contains("t-999"));
    }
}
