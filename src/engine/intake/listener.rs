//! The engine's HTTP listeners, hardened for the internet: hyper's header read
//! timeout (which also closes a kept-alive connection left idle), a request
//! timeout that bounds a slow body, a cap on open connections and one per
//! client address. Idle or half-sent connections are closed, and a flood from
//! one address cannot starve the others: signed deliveries keep being answered.
//! At the cap, the connection idle longest (not serving a request) is closed to
//! make room, so idle connections from many addresses cannot lock a delivery
//! out either.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

pub use crate::config::ListenerLimits;

/// Open connections per client address.
#[derive(Default)]
struct PerAddress {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in the per-address count, given back on drop.
struct AddressSlot {
    counts: Arc<PerAddress>,
    address: IpAddr,
}

impl PerAddress {
    fn take(self: &Arc<Self>, address: IpAddr, most: usize) -> Option<AddressSlot> {
        let mut open = self.open.lock();
        let count = open.entry(address).or_default();
        if *count >= most {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            counts: self.clone(),
            address,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.counts.open.lock();
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// The connections not serving a request (new, or kept alive between requests),
/// longest idle first, each with the signal that closes it.
#[derive(Default)]
struct Idle {
    next: AtomicU64,
    waiting: Mutex<BTreeMap<u64, Arc<Notify>>>,
}

impl Idle {
    /// A connection becomes idle; its place in the line.
    fn enter(&self, close: &Arc<Notify>) -> u64 {
        let place = self.next.fetch_add(1, Ordering::Relaxed);
        self.waiting.lock().insert(place, close.clone());
        place
    }

    /// It serves a request, or has ended.
    fn leave(&self, place: u64) {
        self.waiting.lock().remove(&place);
    }

    /// Closes the connection idle longest; false when none is idle.
    fn close_oldest(&self) -> bool {
        match self.waiting.lock().pop_first() {
            Some((_, close)) => {
                close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Says at most once a minute that connections are being turned away.
struct Refusals {
    last: Mutex<Option<Instant>>,
    what: &'static str,
}

impl Refusals {
    fn note(&self, why: &str, peer: SocketAddr) {
        let mut last = self.last.lock();
        if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            *last = Some(Instant::now());
            tracing::warn!(listener = self.what, %peer, "{why}: new connections are closed at once (said once a minute)");
        }
    }
}

/// How long a new connection waits for the room an unused one makes at the cap.
const ROOM_WITHIN: Duration = Duration::from_millis(100);

/// Serves `router` on `listener` within `limits` until `cancel`; requests in
/// progress then finish (for up to `request_timeout`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ListenerLimits,
    what: &'static str,
    cancel: CancellationToken,
) {
    let router = router.layer(tower_http::timeout::TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        limits.request_timeout,
    ));
    // HTTP/1.1 only, as HRIS webhooks come: an HTTP/2-sniffing server waits for
    // a client's first bytes with no timeout at all, which is what idle
    // connections exploit. Here the header timeout runs from the accept.
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = Arc::new(PerAddress::default());
    let idle = Arc::new(Idle::default());
    let refusals = Refusals {
        last: Mutex::new(None),
        what,
    };
    loop {
        let (stream, peer) = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(listener = what, %error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(slot) = per_address.take(peer.ip(), limits.per_address) else {
            refusals.note(
                &format!(
                    "{} connections are open from {} already",
                    limits.per_address,
                    peer.ip()
                ),
                peer,
            );
            continue;
        };
        let permit = match open.clone().try_acquire_owned() {
            Ok(permit) => permit,
            // At the cap: the connection idle longest makes room.
            Err(_) if idle.close_oldest() => {
                match tokio::time::timeout(ROOM_WITHIN, open.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    _ => continue,
                }
            }
            Err(_) => {
                let why = format!(
                    "the cap of {} open connections is reached",
                    limits.max_connections
                );
                refusals.note(&why, peer);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let close = Arc::new(Notify::new());
        let place = Arc::new(AtomicU64::new(idle.enter(&close)));
        let (busy, done) = (
            (idle.clone(), place.clone()),
            (idle.clone(), place.clone(), close.clone()),
        );
        let service = tower::ServiceBuilder::new()
            .map_request(move |request| {
                busy.0.leave(busy.1.load(Ordering::Relaxed));
                request
            })
            .map_response(move |response| {
                done.1.store(done.0.enter(&done.2), Ordering::Relaxed);
                response
            })
            .service(router.clone());
        let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        let idle = idle.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = connection => {}
                // Dropping the connection closes it.
                _ = close.notified() => {}
            }
            idle.leave(place.load(Ordering::Relaxed));
            drop((permit, slot));
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(limits.request_timeout) => {}
    }
}
