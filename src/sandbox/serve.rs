//! The sandbox's HTTP server: hyper under axum, with our own accept loop so an
//! injected fault can close a connection without answering, as a failing load
//! balancer does.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::Shared;
use super::faults::{System, Verdict};

/// Returned by the service to make hyper close the connection unanswered.
#[derive(Debug)]
struct DroppedByFault;

impl std::fmt::Display for DroppedByFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DroppedByFault {}

/// Which simulated system a path belongs to (admin paths belong to none).
fn system_of(path: &str) -> Option<System> {
    if path.starts_with("/api/gateway.php/") {
        Some(System::Hris)
    } else if path.starts_with("/scim/v2") {
        Some(System::Scim)
    } else if path.starts_with("/xAPI") {
        Some(System::Xapi)
    } else {
        None
    }
}

/// Serves `app` on `listener` until `cancel` fires, then lets open requests
/// finish for up to a second.
pub async fn serve(listener: TcpListener, app: Router, shared: Arc<Shared>, cancel: CancellationToken) {
    let builder = Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(%error, "sandbox accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let shared = shared.clone();
        let service =
            hyper::service::service_fn(move |request| handle(request, peer, app.clone(), shared.clone()));
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
}

async fn handle(
    mut request: hyper::Request<Incoming>,
    peer: SocketAddr,
    app: Router,
    shared: Arc<Shared>,
) -> Result<axum::response::Response, DroppedByFault> {
    request.extensions_mut().insert(ConnectInfo(peer));
    if let Some(system) = system_of(request.uri().path()) {
        shared.requests.count(system, request.method());
        let (latency, verdict) = shared.faults.judge(system);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        match verdict {
            Verdict::Serve => {}
            Verdict::DropConnection => return Err(DroppedByFault),
            Verdict::Answer(response) => return Ok(response),
        }
    }
    let response: Result<_, Infallible> = app.oneshot(request.map(axum::body::Body::new)).await;
    Ok(response.unwrap_or_else(|never| match never {}))
}
