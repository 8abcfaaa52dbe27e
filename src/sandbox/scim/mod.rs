//! The simulated LMS: SCIM 2.0 (RFC 7643/7644) Users with the enterprise
//! extension and Groups as learning paths, served under `/scim/v2`.

mod attr_path;
mod clock;
mod discovery;
mod error;
pub mod filter;
mod listing;
mod matching;
mod patch;
mod patch_request;
mod queries;
mod quirks;
mod render;
mod routes;
pub mod schemas;
mod shown;
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
    let only_get = |handler| get(handler).fallback(discovery::not_allowed);
    Router::new()
        .route(
            "/ServiceProviderConfig",
            only_get(discovery::service_provider_config),
        )
        .route(
            "/Schemas",
            get(discovery::schema_list).fallback(discovery::not_allowed),
        )
        .route(
            "/Schemas/{id}",
            get(discovery::schema_one).fallback(discovery::not_allowed),
        )
        .route(
            "/ResourceTypes",
            get(discovery::resource_type_list).fallback(discovery::not_allowed),
        )
        .route(
            "/ResourceTypes/{id}",
            get(discovery::resource_type_one).fallback(discovery::not_allowed),
        )
        .route(
            "/.search",
            post(listing::search_all).fallback(discovery::not_allowed),
        )
        .route(
            "/{resource}",
            get(listing::list)
                .post(routes::create)
                .fallback(discovery::not_allowed),
        )
        .route(
            "/{resource}/{id}",
            get(routes::read)
                .put(routes::replace)
                .patch(routes::modify)
                .delete(routes::delete)
                .post(listing::search_in)
                .fallback(discovery::not_allowed),
        )
        .fallback(discovery::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}
