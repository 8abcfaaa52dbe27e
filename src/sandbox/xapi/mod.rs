//! The simulated LRS: xAPI 1.0.3 statements about course completions, served
//! under `/xAPI` with Basic auth, version checks, filters and `more` paging.

mod admin;
pub mod completions;
pub mod query;
mod routes;
pub mod statements;
mod store;

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

pub use store::{LrsState, StoreError};

use super::{Credentials, Shared};

/// `account.homePage` of every actor the generator makes; `account.name` is
/// the HRIS employee id.
pub const ACCOUNT_HOMEPAGE: &str = "https://hris.acme.example";
/// The extension key of a credential `{"name", "number", "issued", "expires"}`
/// (dates as YYYY-MM-DD), found in `result.extensions` or `context.extensions`.
pub const CREDENTIAL_EXTENSION: &str = "https://hrsync.dev/xapi/extensions/credential";
pub const VERSION_HEADER: &str = "X-Experience-API-Version";
/// The xAPI version this LRS speaks and stamps on every answer.
pub const XAPI_VERSION: &str = "1.0.3";

/// The authority stamped on stored statements: the Basic-auth client.
fn authority(credentials: &Credentials) -> Value {
    json!({
        "objectType": "Agent",
        "name": "hrsync sandbox LRS",
        "account": {"homePage": credentials.xapi_url, "name": credentials.xapi_user},
    })
}

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/statements",
            get(routes::get_statements)
                .post(routes::post_statements)
                .put(routes::put_statement),
        )
        .route("/about", get(routes::about))
        .fallback(routes::not_found)
        .layer(axum::middleware::map_response(stamp_version))
}

async fn stamp_version(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(VERSION_HEADER, HeaderValue::from_static(XAPI_VERSION));
    response
}

/// Admin routes for completions, merged under `/_sandbox`.
pub fn admin_router() -> Router<Arc<Shared>> {
    admin::router()
}
