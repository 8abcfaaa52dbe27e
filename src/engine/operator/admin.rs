//! The admin listener (`[admin] listen`, loopback by default): Prometheus text at
//! `GET /metrics`, liveness at `GET /healthz`, readiness at `GET /readyz`. Kept
//! off the internet-facing webhook port, so a flood of scrapes cannot slow
//! deliveries and nothing about the engine is shown to the world.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::engine::operator::health::Health;
use crate::engine::operator::metrics::Metrics;
use crate::store::Store;

struct Admin {
    store: Store,
    metrics: Arc<Metrics>,
    health: Health,
}

pub fn router(store: Store, metrics: Arc<Metrics>, health: Health) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(|| async { (StatusCode::OK, "ok\n") }))
        .route("/readyz", get(ready))
        .with_state(Arc::new(Admin {
            store,
            metrics,
            health,
        }))
}

async fn metrics_text(State(admin): State<Arc<Admin>>) -> Response {
    let store = admin.store.clone();
    if let Ok(Ok(counts)) = tokio::task::spawn_blocking(move || store.counts()).await {
        admin.metrics.set_journal(&counts);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        admin.metrics.render(),
    )
        .into_response()
}

/// Ready when the store takes a write: an engine that cannot journal must not be
/// sent deliveries (a load balancer reads this). Each outside system's health
/// is shown too; a failing one does not make the engine unready (deliveries are
/// still journaled and wait for it).
async fn ready(State(admin): State<Arc<Admin>>) -> Response {
    let store = admin.store.clone();
    let writable = tokio::task::spawn_blocking(move || store.transaction(|_| Ok(())))
        .await
        .map_err(|e| e.to_string())
        .and_then(|done| done.map_err(|e| e.to_string()));
    let systems = admin.health.snapshot();
    match writable {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(json!({ "ready": true, "store": "writable", "systems": systems })),
        )
            .into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "ready": false, "store": why, "systems": systems })),
        )
            .into_response(),
    }
}
