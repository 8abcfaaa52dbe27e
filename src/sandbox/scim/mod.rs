//! The simulated LMS: SCIM 2.0 (RFC 7643/7644) Users with the enterprise
//! extension and Groups as learning paths.

use std::sync::Arc;

use axum::Router;
use rand::Rng;

use super::Shared;
use super::world::catalog::LearningPath;

pub struct LmsState {}

impl LmsState {
    pub fn new(_paths: &[LearningPath]) -> Self {
        Self {}
    }

    /// Counts for `/_sandbox/state`.
    pub fn counts(&self) -> serde_json::Value {
        serde_json::json!({"users": 0, "active_users": 0, "groups": 0})
    }

    /// The externalId of a random active learner, if there is one.
    pub fn sample_active_learner(&self, _rng: &mut impl Rng) -> Option<String> {
        None
    }
}

pub fn router() -> Router<Arc<Shared>> {
    Router::new()
}
