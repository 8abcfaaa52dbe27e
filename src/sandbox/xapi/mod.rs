//! The simulated LRS: xAPI 1.0.3 statements about course completions.

pub mod completions;

use std::sync::Arc;

use axum::Router;

use super::Shared;

#[derive(Default)]
pub struct LrsState {}

impl LrsState {
    pub fn new() -> Self {
        Self {}
    }

    pub fn statement_count(&self) -> usize {
        0
    }
}

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
}

/// Admin routes for completions, merged under `/_sandbox`.
pub fn admin_router() -> Router<Arc<Shared>> {
    Router::new()
}
