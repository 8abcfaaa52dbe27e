//! The simulated HRIS, shaped like BambooHR: Basic auth with the API key, the
//! directory and custom report, per-employee reads, `changed?since`, training
//! records and the `customCertifications` table, and signed webhooks.

pub mod employee;
mod reads;
pub mod state;
mod training;
pub mod webhooks;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;

use super::Shared;
use super::faults::{System, error_answer};

/// Routes under `/api/gateway.php/{company}/v1/`.
pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/employees/directory", get(reads::directory))
        .route("/employees/changed", get(reads::changed))
        .route("/employees/{id}", get(reads::employee))
        .route("/reports/custom", axum::routing::post(reads::custom_report))
        .route("/training/type", get(training::types))
        .route(
            "/training/record/employee/{id}",
            get(training::records).post(training::add_record),
        )
        .route(
            "/employees/{id}/tables/{table}",
            get(training::table_rows).post(training::add_table_row),
        )
        .fallback(no_such_endpoint)
}

/// An HRIS error answer; BambooHR also names the problem in a header.
pub(crate) fn hris_error(status: StatusCode, detail: &str) -> Response {
    let mut response = error_answer(System::Hris, status, detail, None);
    if let Ok(value) = HeaderValue::from_str(detail) {
        response.headers_mut().insert("X-BambooHR-Error-Message", value);
    }
    response
}

/// A refused request: its status and what was wrong, answered as [`hris_error`].
pub(crate) struct Refusal {
    status: StatusCode,
    detail: String,
}

impl Refusal {
    pub(crate) fn bad_request(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            detail: detail.into(),
        }
    }

    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            detail: detail.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        hris_error(self.status, &self.detail)
    }
}

async fn no_such_endpoint(_: Authorized) -> Response {
    hris_error(StatusCode::NOT_FOUND, "no such endpoint")
}

/// Proof that a request names our company (404 otherwise, as for an unknown
/// subdomain) and carries the API key as its Basic user name (401 otherwise).
/// Every handler takes it, so no route can forget the check.
pub(crate) struct Authorized;

impl FromRequestParts<Arc<Shared>> for Authorized {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> Result<Self, Response> {
        let credentials = &shared.credentials;
        let company = Path::<HashMap<String, String>>::from_request_parts(parts, shared)
            .await
            .ok()
            .and_then(|Path(mut params)| params.remove("company"));
        if company.as_ref() != Some(&credentials.hris_company) {
            return Err(hris_error(StatusCode::NOT_FOUND, "no such company"));
        }
        let api_key = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(basic_user_name);
        if api_key.as_deref() != Some(credentials.hris_api_key.as_str()) {
            let mut response = hris_error(StatusCode::UNAUTHORIZED, "missing or wrong API key");
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"BambooHR\""),
            );
            return Err(response);
        }
        Ok(Authorized)
    }
}

/// The user name of a `Basic` Authorization header (BambooHR's API key).
fn basic_user_name(authorization: &str) -> Option<String> {
    let (scheme, encoded) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let user = decoded.split_once(':').map_or(decoded.as_str(), |(user, _)| user);
    Some(user.to_string())
}

#[cfg(test)]
mod tests {
    use super::basic_user_name;

    #[test]
    fn basic_user_name_takes_the_part_before_the_colon() {
        // "key:x" and "key" alone, as curl -u sends them.
        assert_eq!(basic_user_name("Basic a2V5Ong=").as_deref(), Some("key"));
        assert_eq!(basic_user_name("basic a2V5").as_deref(), Some("key"));
        assert_eq!(basic_user_name("Bearer a2V5Ong="), None);
        assert_eq!(basic_user_name("Basic !!!"), None);
    }
}
