//! The SCIM HTTP endpoints: bearer auth, discovery, and CRUD + search on
//! `/Users` and `/Groups`, with ETags and If-Match.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::{SCIM_JSON, ScimError};
use super::filter::{self, Filter};
use super::patch;
use super::render::Projection;
use super::shown::Found;
use super::validate::{ResourceKind, prepare};
use crate::sandbox::Shared;

/// The most resources one page carries, whatever `count` asks.
pub const MAX_RESULTS: usize = 1000;
pub(super) const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Proof that the request carried the sandbox's SCIM bearer token.
pub struct Authorized;

impl FromRequestParts<Arc<Shared>> for Authorized {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> Result<Self, ScimError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        if token == Some(shared.credentials.scim_token.as_str()) {
            Ok(Authorized)
        } else {
            Err(ScimError::new(
                StatusCode::UNAUTHORIZED,
                None,
                "a valid bearer token is required",
            ))
        }
    }
}

pub(super) fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    if let Some(version) = body["meta"]["version"]
        .as_str()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        response.headers_mut().insert(header::ETAG, version);
    }
    response
}

/// One resource as the answer's body, with its version as the ETag.
fn resource_json(status: StatusCode, base: &str, found: &Found, projection: &Projection) -> Response {
    let shown = found.shown(base, projection);
    let mut body = Vec::with_capacity(1024);
    shown.write(&mut body);
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    if let Some(version) = shown.version().and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert(header::ETAG, version);
    }
    response
}

fn kind_of(resource: &str) -> Result<ResourceKind, ScimError> {
    match resource {
        "Users" => Ok(ResourceKind::User),
        "Groups" => Ok(ResourceKind::Group),
        other => Err(ScimError::not_found(format!("endpoint /{other}"))),
    }
}

/// A JSON request body, sent as `application/scim+json` or `application/json`.
fn json_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Value, ScimError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ScimError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            "the request body exceeds 1 MiB",
        ),
        status => ScimError::new(status, None, rejection.body_text()),
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case(SCIM_JSON) && !media.eq_ignore_ascii_case("application/json") {
        return Err(ScimError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            "send application/scim+json or application/json",
        ));
    }
    serde_json::from_slice(&body).map_err(|e| ScimError::bad("invalidSyntax", format!("bad JSON: {e}")))
}

fn if_match(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
}

pub(super) fn base(shared: &Shared) -> &str {
    &shared.credentials.scim_url
}

/// The query parameters of a list request, names in any letter case.
struct ListQuery {
    filter: Option<Filter>,
    start: usize,
    count: usize,
    projection: Projection,
}

impl ListQuery {
    fn parse(params: &[(String, String)]) -> Result<ListQuery, ScimError> {
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        ListQuery::from_parts(
            param("filter"),
            param("startIndex").map(Value::from),
            param("count").map(Value::from),
            Projection::parse(param("attributes"), param("excludedAttributes"))?,
        )
    }

    fn from_parts(
        filter: Option<&str>,
        start: Option<Value>,
        count: Option<Value>,
        projection: Projection,
    ) -> Result<ListQuery, ScimError> {
        let number = |name: &str, v: Option<Value>| -> Result<Option<i64>, ScimError> {
            match v {
                None => Some(None),
                Some(Value::Number(n)) => n.as_i64().map(Some),
                Some(Value::String(s)) => s.trim().parse().ok().map(Some),
                Some(_) => None,
            }
            .ok_or_else(|| ScimError::invalid_value(format!("{name} must be an integer")))
        };
        // RFC 7644 §3.4.2.4: startIndex below 1 means 1, a negative count means 0.
        let start = number("startIndex", start)?.unwrap_or(1).max(1) as usize;
        let count = number("count", count)?.map_or(MAX_RESULTS, |c| c.clamp(0, MAX_RESULTS as i64) as usize);
        Ok(ListQuery {
            filter: filter.map(filter::parse).transpose()?,
            start,
            count,
            projection,
        })
    }
}

fn query_params(query: Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn list_response(shared: &Shared, kinds: &[ResourceKind], query: &ListQuery) -> Response {
    let mut total = 0;
    let mut found = Vec::new();
    {
        let lms = shared.lms.read();
        for &kind in kinds {
            // Later kinds continue the page where the earlier ones left off.
            let start = query.start.saturating_sub(total).max(1);
            let (matched, page) = lms.search(kind, query.filter.as_ref(), start, query.count - found.len());
            total += matched;
            found.extend(page);
        }
    }
    // Keys in the order a sorted JSON map gives, as before.
    let mut body = Vec::with_capacity(256 + 1024 * found.len());
    body.extend_from_slice(b"{\"Resources\":[");
    for (i, resource) in found.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        resource.shown(base(shared), &query.projection).write(&mut body);
    }
    let tail = format!(
        "],\"itemsPerPage\":{},\"schemas\":[\"{LIST_RESPONSE}\"],\"startIndex\":{},\"totalResults\":{total}}}",
        found.len(),
        query.start
    );
    body.extend_from_slice(tail.as_bytes());
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response
}

pub async fn list(
    _: Authorized,
    State(shared): State<Arc<Shared>>,
    Path(resource): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ScimError> {
    let kind = kind_of(&resource)?;
    let query = ListQuery::parse(&query_params(query))?;
    Ok(list_response(&shared, &[kind], &query))
}

fn search_query(body: &Value) -> Result<ListQuery, ScimError> {
    let filter = match filter::get_ci(body, "filter") {
        None | Some(Value::Null) => None,
        Some(Value::String(f)) => Some(f.as_str()),
        Some(_) => return Err(ScimError::invalid_filter("filter must be a string")),
    };
    ListQuery::from_parts(
        filter,
        filter::get_ci(body, "startIndex").cloned(),
        filter::get_ci(body, "count").cloned(),
        Projection::from_search(body)?,
    )
}

/// `POST /.search` over every resource type.
pub async fn search_all(
    _: Authorized,
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let query = search_query(&json_body(&headers, body)?)?;
    Ok(list_response(
        &shared,
        &[ResourceKind::User, ResourceKind::Group],
        &query,
    ))
}

pub async fn create(
    _: Authorized,
    State(shared): State<Arc<Shared>>,
    Path(resource): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let kind = kind_of(&resource)?;
    let projection = projection_of(query)?;
    let body = json_body(&headers, body)?;
    let created = shared.lms.write().create(kind, body)?;
    let location = format!("{}/{}/{}", base(&shared), kind.endpoint(), created.id());
    let mut response = resource_json(StatusCode::CREATED, base(&shared), &created, &projection);
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

fn projection_of(query: Option<String>) -> Result<Projection, ScimError> {
    let params = query_params(query);
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    Projection::parse(param("attributes"), param("excludedAttributes"))
}

pub async fn read(
    _: Authorized,
    State(shared): State<Arc<Shared>>,
    Path((resource, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let kind = kind_of(&resource)?;
    let projection = projection_of(query)?;
    let found = shared.lms.read().find(kind, &id);
    let found = found.ok_or_else(|| ScimError::not_found(format!("{} {id}", kind.name())))?;
    let version = found.version();
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == version || t.trim() == "*"));
    if unchanged {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(etag) = HeaderValue::from_str(version) {
            response.headers_mut().insert(header::ETAG, etag);
        }
        return Ok(response);
    }
    Ok(resource_json(StatusCode::OK, base(&shared), &found, &projection))
}

pub async fn replace(
    _: Authorized,
    State(shared): State<Arc<Shared>>,
    Path((resource, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let kind = kind_of(&resource)?;
    let projection = projection_of(query)?;
    // Validate before the write lock: every PUT waits on whoever holds it.
    let object = prepare(kind, json_body(&headers, body)?)?;
    let (replaced, previous) = shared
        .lms
        .write()
        .replace_prepared(kind, &id, object, if_match(&headers))?;
    drop(previous);
    Ok(resource_json(
        StatusCode::OK,
        base(&shared),
        &replaced,
        &projection,
    ))
}

pub async fn modify(
    _: Authorized,
    State(shared): State<Arc<Shared>>,
    Path((resource, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let kind = kind_of(&resource)?;
    let projection = projection_of(query)?;
    let operations = patch::parse_request(&json_body(&headers, body)?)?;
    let patched = shared.lms.write().patch(
        kind,
        &id,
        &operations,
        if_match(&headers),
        projection.shows("members"),
    )?;
    Ok(resource_json(
        StatusCode::OK,
        base(&shared),
        &patched,
        &projection,
    ))
}

pub async fn delete(
    _: Authorized,
    State(shared): State<Arc<Shared>>,
    Path((resource, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let kind = kind_of(&resource)?;
    shared.lms.write().delete(kind, &id, if_match(&headers))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /Users/.search`: the only POST under a resource path.
pub async fn search_in(
    _: Authorized,
    State(shared): State<Arc<Shared>>,
    Path((resource, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let kind = kind_of(&resource)?;
    if id != ".search" {
        return Err(method_not_allowed());
    }
    let query = search_query(&json_body(&headers, body)?)?;
    Ok(list_response(&shared, &[kind], &query))
}

pub(super) fn method_not_allowed() -> ScimError {
    ScimError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        "this endpoint does not take that method",
    )
}
