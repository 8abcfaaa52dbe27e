//! The simulated LMS: SCIM 2.0 (RFC 7643/7644) Users with the enterprise
//! extension and Groups as learning paths, served under `/scim/v2`.

mod error;
pub mod filter;
mod patch;
mod render;
mod routes;
pub mod schemas;
mod store;
mod validate;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use super::Shared;

pub use error::ScimError;
pub use store::LmsState;
pub use validate::ResourceKind;

/// The largest request body the LMS reads; beyond it the answer is 413.
pub const BODY_LIMIT: usize = 1 << 20;

pub fn router() -> Router<Arc<Shared>> {
    let only_get = |handler| get(handler).fallback(routes::not_allowed);
    Router::new()
        .route(
            "/ServiceProviderConfig",
            only_get(routes::service_provider_config),
        )
        .route("/Schemas", get(routes::schema_list).fallback(routes::not_allowed))
        .route(
            "/Schemas/{id}",
            get(routes::schema_one).fallback(routes::not_allowed),
        )
        .route(
            "/ResourceTypes",
            get(routes::resource_type_list).fallback(routes::not_allowed),
        )
        .route(
            "/ResourceTypes/{id}",
            get(routes::resource_type_one).fallback(routes::not_allowed),
        )
        .route("/.search", post(routes::search_all).fallback(routes::not_allowed))
        .route(
            "/{resource}",
            get(routes::list)
                .post(routes::create)
                .fallback(routes::not_allowed),
        )
        .route(
            "/{resource}/{id}",
            get(routes::read)
                .put(routes::replace)
                .patch(routes::modify)
                .delete(routes::delete)
                .post(routes::search_in)
                .fallback(routes::not_allowed),
        )
        .fallback(routes::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}
