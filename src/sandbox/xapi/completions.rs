//! The completion generator: learners finishing courses over time.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::sandbox::Shared;

pub async fn run(_shared: Arc<Shared>, _per_sec: f64, cancel: CancellationToken) {
    cancel.cancelled().await;
}
