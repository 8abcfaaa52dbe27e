//! The xAPI HTTP resources: `/about` and `/statements` (POST, PUT, GET), behind
//! HTTP Basic and the `X-Experience-API-Version` header as a strict LRS is.

use std::sync::Arc;

use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::query::{self, StatementRequest};
use super::statements::{self, ValidStatement};
use super::store::{SinceOn, StoreError};
use super::{VERSION_HEADER, authority};
use crate::sandbox::Shared;
use crate::sandbox::faults::{System, error_answer};

fn error(status: StatusCode, detail: impl std::fmt::Display) -> Response {
    error_answer(System::Xapi, status, &detail.to_string(), None)
}

/// A request with the LRS's credentials and a 1.0.x version header.
pub struct LrsClient;

impl FromRequestParts<Arc<Shared>> for LrsClient {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> Result<Self, Response> {
        let credentials = &shared.credentials;
        let expected = format!("{}:{}", credentials.xapi_user, credentials.xapi_password);
        let authorized = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Basic "))
            .and_then(|encoded| STANDARD.decode(encoded.trim()).ok())
            .is_some_and(|decoded| decoded == expected.as_bytes());
        if !authorized {
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                "HTTP Basic credentials are missing or wrong",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"xAPI\""),
            );
            return Err(response);
        }
        match parts.headers.get(VERSION_HEADER).map(|v| v.to_str()) {
            Some(Ok(version)) if statements::is_supported_version(version) => Ok(LrsClient),
            Some(_) => Err(error(
                StatusCode::BAD_REQUEST,
                "X-Experience-API-Version must be 1.0.x; this LRS speaks 1.0.3",
            )),
            None => Err(error(
                StatusCode::BAD_REQUEST,
                "X-Experience-API-Version header is required",
            )),
        }
    }
}

/// `GET /xAPI/about`: open to all, as clients call it before they authenticate.
pub async fn about() -> Response {
    axum::Json(json!({"version": ["1.0.3"], "extensions": {}})).into_response()
}

pub async fn not_found(_client: LrsClient) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "the sandbox LRS serves /about and /statements only",
    )
}

/// Validates a POST body: one statement or an array, with no id twice. The
/// error is the detail of a 400.
fn validate_body(body: &[u8]) -> Result<Vec<ValidStatement>, String> {
    let parsed: Value = serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
    let batch = match parsed {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| statements::validate(item, &format!("statements[{i}]")))
            .collect::<Result<Vec<_>, _>>(),
        single => statements::validate(single, "statement").map(|s| vec![s]),
    }?;
    let mut ids: Vec<&str> = batch.iter().map(|s| s.id.as_str()).collect();
    ids.sort_unstable();
    if let Some(pair) = ids.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(format!("statement id {} appears twice in the batch", pair[0]));
    }
    Ok(batch)
}

fn store(shared: &Shared, batch: Vec<ValidStatement>) -> Result<Vec<String>, StoreError> {
    let authority = authority(&shared.credentials);
    shared.lrs.write().store(batch, &authority, Timestamp::now())
}

/// `POST /xAPI/statements`: the ids of the statements, in order.
pub async fn post_statements(
    _client: LrsClient,
    State(shared): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Response {
    let batch = match validate_body(&body) {
        Ok(batch) => batch,
        Err(detail) => return error(StatusCode::BAD_REQUEST, detail),
    };
    match store(&shared, batch) {
        Ok(ids) => axum::Json(ids).into_response(),
        Err(conflict) => error(StatusCode::CONFLICT, conflict),
    }
}

/// `PUT /xAPI/statements?statementId=`: one statement under a given id.
pub async fn put_statement(
    _client: LrsClient,
    State(shared): State<Arc<Shared>>,
    RawQuery(raw_query): RawQuery,
    body: axum::body::Bytes,
) -> Response {
    let bad = |detail: String| error(StatusCode::BAD_REQUEST, detail);
    let mut statement_id = None;
    for (name, value) in url::form_urlencoded::parse(raw_query.unwrap_or_default().as_bytes()) {
        match &*name {
            "statementId" => statement_id = Some(value.to_ascii_lowercase()),
            other => return bad(format!("{other} is not a PUT statements parameter")),
        }
    }
    let Some(statement_id) = statement_id.filter(|id| statements::is_uuid(id)) else {
        return bad("statementId must be given as a UUID".into());
    };
    let mut statement: Value = match serde_json::from_slice(&body) {
        Ok(Value::Object(statement)) => Value::Object(statement),
        Ok(_) => return bad("body must be one statement object".into()),
        Err(e) => return bad(format!("body is not JSON: {e}")),
    };
    match statement
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
    {
        Some(id) if id != statement_id => {
            return bad(format!(
                "statement.id {id} differs from statementId {statement_id}"
            ));
        }
        _ => statement["id"] = Value::String(statement_id),
    }
    let valid = match statements::validate(statement, "statement") {
        Ok(valid) => valid,
        Err(detail) => return bad(detail),
    };
    match store(&shared, vec![valid]) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(conflict) => error(StatusCode::CONFLICT, conflict),
    }
}

/// `GET /xAPI/statements`: one statement by id, or a page of a query.
pub async fn get_statements(
    _client: LrsClient,
    State(shared): State<Arc<Shared>>,
    RawQuery(raw_query): RawQuery,
) -> Response {
    let request = match query::parse(raw_query.as_deref()) {
        Ok(request) => request,
        Err(detail) => return error(StatusCode::BAD_REQUEST, detail),
    };
    let lrs = shared.lrs.read();
    let consistent_through = lrs.consistent_through(Timestamp::now());
    let (query, after) = match request {
        StatementRequest::One(id) => {
            let Some(json) = lrs.get(&id) else {
                return error(StatusCode::NOT_FOUND, format!("no statement has id {id}"));
            };
            return json_response(json.to_string(), consistent_through);
        }
        StatementRequest::Query(mut query) => {
            // Pin the end so every page of this answer walks the same set.
            if query.until.is_none() {
                query.until = Some(consistent_through);
            }
            (query, None)
        }
        StatementRequest::More(query, after) => (query, Some(after)),
    };
    let since_on = if shared.faults.since_on_timestamp() {
        SinceOn::Timestamp
    } else {
        SinceOn::Stored
    };
    let page = lrs.page(&query, after, since_on);
    let more = page
        .continue_after
        .map(|after| query::more_irl(&query, after))
        .unwrap_or_default();
    let mut body = String::with_capacity(page.statements.iter().map(|s| s.len() + 1).sum::<usize>() + 64);
    body.push_str("{\"statements\":[");
    for (i, statement) in page.statements.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(statement);
    }
    body.push_str("],\"more\":");
    body.push_str(&Value::String(more).to_string());
    body.push('}');
    drop(lrs);
    json_response(body, consistent_through)
}

fn json_response(body: String, consistent_through: Timestamp) -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("{consistent_through:.6}")) {
        response
            .headers_mut()
            .insert("X-Experience-API-Consistent-Through", value);
    }
    response
}
