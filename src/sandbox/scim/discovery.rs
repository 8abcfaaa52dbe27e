//! SCIM discovery (RFC 7644 §4): ServiceProviderConfig, Schemas and
//! ResourceTypes, plus the SCIM-shaped 404 and 405 answers.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::error::ScimError;
use super::routes::{Authorized, LIST_RESPONSE, MAX_RESULTS, base, method_not_allowed, scim_json};
use super::schemas;
use crate::sandbox::Shared;
use crate::sandbox::faults::ScimQuirk;

/// The server's features; a quirk that drops one the spec flags clears its
/// flag. Filtering stays claimed: real servers claim it, then fail it.
pub async fn service_provider_config(_: Authorized, State(shared): State<Arc<Shared>>) -> Response {
    let mut config = schemas::service_provider_config(base(&shared), MAX_RESULTS);
    if shared.faults.scim_quirks().has(ScimQuirk::NoEtag) {
        config["etag"]["supported"] = false.into();
    }
    scim_json(StatusCode::OK, &config)
}

fn discovery_list(items: Vec<Value>) -> Response {
    let body = json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": items.len(),
        "itemsPerPage": items.len(),
        "startIndex": 1,
        "Resources": items,
    });
    scim_json(StatusCode::OK, &body)
}

pub async fn schema_list(_: Authorized, State(shared): State<Arc<Shared>>) -> Response {
    discovery_list(
        schemas::ALL_SCHEMAS
            .iter()
            .filter_map(|s| schemas::schema_json(base(&shared), s))
            .collect(),
    )
}

pub async fn schema_one(
    _: Authorized,
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let schema = schemas::schema_json(base(&shared), &id)
        .ok_or_else(|| ScimError::not_found(format!("schema {id}")))?;
    Ok(scim_json(StatusCode::OK, &schema))
}

pub async fn resource_type_list(_: Authorized, State(shared): State<Arc<Shared>>) -> Response {
    discovery_list(
        ["User", "Group"]
            .iter()
            .filter_map(|n| schemas::resource_type_json(base(&shared), n))
            .collect(),
    )
}

pub async fn resource_type_one(
    _: Authorized,
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let found = schemas::resource_type_json(base(&shared), &id)
        .ok_or_else(|| ScimError::not_found(format!("resource type {id}")))?;
    Ok(scim_json(StatusCode::OK, &found))
}

pub async fn not_allowed(_: Authorized) -> ScimError {
    method_not_allowed()
}

pub async fn not_found(_: Authorized) -> ScimError {
    ScimError::not_found("endpoint")
}
