//! SCIM list answers (RFC 7644 §3.4.2–3.4.3): `GET /Users`, `GET /Groups` and
//! `POST /.search`, filtered and paged, as a ListResponse.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::{SCIM_JSON, ScimError};
use super::filter::{self, Filter};
use super::quirks;
use super::render::Projection;
use super::routes::{Authorized, LIST_RESPONSE, MAX_RESULTS, base, json_body, kind_of, method_not_allowed};
use super::validate::ResourceKind;
use crate::sandbox::Shared;
use crate::sandbox::faults::ScimQuirk;

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

pub(super) fn query_params(query: Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn list_response(shared: &Shared, kinds: &[ResourceKind], query: &ListQuery) -> Response {
    let quirks = shared.faults.scim_quirks();
    // A server that cannot filter on the extension answers as if nothing matched.
    let unfiltered = quirks.has(ScimQuirk::NoEnterpriseFilter)
        && query.filter.as_ref().is_some_and(quirks::names_enterprise);
    // A broken pager starts from the first resource whatever was asked, and says so.
    let first = if quirks.has(ScimQuirk::BrokenPaging) {
        1
    } else {
        query.start
    };
    let mut total = 0;
    let mut found = Vec::new();
    if !unfiltered {
        let lms = shared.lms.read();
        for &kind in kinds {
            // Later kinds continue the page where the earlier ones left off.
            let start = first.saturating_sub(total).max(1);
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
        quirks::shown(resource, base(shared), &query.projection, quirks).write(&mut body);
    }
    let tail = format!(
        "],\"itemsPerPage\":{},\"schemas\":[\"{LIST_RESPONSE}\"],\"startIndex\":{},\"totalResults\":{total}}}",
        found.len(),
        first
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
    let mut query = ListQuery::parse(&query_params(query))?;
    query.projection = quirks::read_projection(query.projection, shared.faults.scim_quirks());
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
