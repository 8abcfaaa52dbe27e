//! The SCIM HTTP endpoints: bearer auth, and CRUD on `/Users` and `/Groups`
//! with ETags and If-Match, bent by the SCIM quirks in force.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::{SCIM_JSON, ScimError};
use super::listing::query_params;
use super::patch;
use super::quirks;
use super::render::Projection;
use super::shown::Found;
use super::validate::{ResourceKind, prepare};
use crate::sandbox::Shared;
use crate::sandbox::faults::{ScimQuirk, ScimQuirks};

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

pub(super) fn kind_of(resource: &str) -> Result<ResourceKind, ScimError> {
    match resource {
        "Users" => Ok(ResourceKind::User),
        "Groups" => Ok(ResourceKind::Group),
        other => Err(ScimError::not_found(format!("endpoint /{other}"))),
    }
}

/// A JSON request body, sent as `application/scim+json` or `application/json`.
pub(super) fn json_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, ScimError> {
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

fn if_match(headers: &HeaderMap, quirks: ScimQuirks) -> Option<&str> {
    let header = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok());
    quirks::if_match(header, quirks)
}

pub(super) fn base(shared: &Shared) -> &str {
    &shared.credentials.scim_url
}

/// One resource as the answer's body, with its version as the ETag.
fn resource_json(
    status: StatusCode,
    base: &str,
    found: &Found,
    projection: &Projection,
    quirks: ScimQuirks,
) -> Response {
    let shown = quirks::shown(found, base, projection, quirks);
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

pub async fn create(
    _: Authorized,
    State(shared): State<Arc<Shared>>,
    Path(resource): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ScimError> {
    let kind = kind_of(&resource)?;
    let quirks = shared.faults.scim_quirks();
    let projection = projection_of(&query_params(query))?;
    let mut body = json_body(&headers, body)?;
    quirks::accept_string_booleans(&mut body, quirks);
    let created = shared
        .lms
        .write()
        .create(kind, body)
        .map_err(|e| quirks::refusal(e, quirks))?;
    let location = format!("{}/{}/{}", base(&shared), kind.endpoint(), created.id());
    let mut response = resource_json(StatusCode::CREATED, base(&shared), &created, &projection, quirks);
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

fn projection_of(params: &[(String, String)]) -> Result<Projection, ScimError> {
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
    let quirks = shared.faults.scim_quirks();
    let projection = quirks::read_projection(projection_of(&query_params(query))?, quirks);
    let found = shared.lms.read().find(kind, &id);
    let found = found.ok_or_else(|| ScimError::not_found(format!("{} {id}", kind.name())))?;
    let version = found.version();
    let unchanged = !quirks.has(ScimQuirk::NoEtag)
        && headers
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
    Ok(resource_json(
        StatusCode::OK,
        base(&shared),
        &found,
        &projection,
        quirks,
    ))
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
    let quirks = shared.faults.scim_quirks();
    let projection = projection_of(&query_params(query))?;
    let mut body = json_body(&headers, body)?;
    quirks::accept_string_booleans(&mut body, quirks);
    // Validate before the write lock: every PUT waits on whoever holds it.
    let object = prepare(kind, body)?;
    let (replaced, previous) = shared
        .lms
        .write()
        .replace_prepared(kind, &id, object, if_match(&headers, quirks))
        .map_err(|e| quirks::refusal(e, quirks))?;
    drop(previous);
    Ok(resource_json(
        StatusCode::OK,
        base(&shared),
        &replaced,
        &projection,
        quirks,
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
    let quirks = shared.faults.scim_quirks();
    let params = query_params(query);
    let projection = projection_of(&params)?;
    quirks::check_patch_query(&params, quirks)?;
    let operations = patch::parse_request(&json_body(&headers, body)?)?;
    let patched = shared
        .lms
        .write()
        .patch(
            kind,
            &id,
            &operations,
            if_match(&headers, quirks),
            projection.shows("members"),
        )
        .map_err(|e| quirks::refusal(e, quirks))?;
    Ok(resource_json(
        StatusCode::OK,
        base(&shared),
        &patched,
        &projection,
        quirks,
    ))
}

pub async fn delete(
    _: Authorized,
    State(shared): State<Arc<Shared>>,
    Path((resource, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let kind = kind_of(&resource)?;
    let quirks = shared.faults.scim_quirks();
    shared.lms.write().delete(kind, &id, if_match(&headers, quirks))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) fn method_not_allowed() -> ScimError {
    ScimError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        "this endpoint does not take that method",
    )
}
