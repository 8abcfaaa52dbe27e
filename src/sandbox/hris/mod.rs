//! The simulated HRIS, shaped like BambooHR: Basic auth with the API key, the
//! directory and custom report, per-employee reads, `changed?since`, training
//! records and the certifications table, and signed webhooks.

pub mod employee;
pub mod state;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;

use super::Shared;

/// Routes under `/api/gateway.php/{company}/v1/`.
pub fn router() -> Router<Arc<Shared>> {
    Router::new()
}
