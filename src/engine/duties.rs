//! The duties that must run once across engines (the poller, the initial load,
//! the LRS reader, the reconciliation schedule) run only while this engine holds
//! their lease: taken before the duty starts, renewed every third of the lease
//! time, the duty cancelled when a renewal is refused or its deadline nears, and
//! let go once the duty has stopped. Beside them, a heartbeat says the engine is alive.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use super::supervise::RepeatedWarning;
use crate::store::{Engines, Lease, Leases, Store};

/// The poller's duty ("changed since" the cursor).
pub const POLLER: &str = "poller";
/// The first full pull of an empty store.
pub const INITIAL_LOAD: &str = "initial load";
/// The completions source reading the LRS.
pub const LRS_READER: &str = "lrs reader";
/// The daily reconciliation and the requests for one.
pub const RECONCILIATION: &str = "reconciliation schedule";
/// The CSV exports taken from the HRIS's inbox (the poller's place in files mode).
pub const FILE_INTAKE: &str = "file intake";

/// This engine run's name in the store: what its leases name as holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineId {
    pub id: String,
    pub host: String,
    pub pid: u32,
}

impl EngineId {
    /// Host, pid and a random part: a restarted engine on the same pid is another holder.
    pub fn new() -> EngineId {
        let host = crate::store::host_name();
        let pid = std::process::id();
        let random: u32 = rand::random();
        EngineId {
            id: format!("{host}:{pid}:{random:08x}"),
            host,
            pid,
        }
    }
}

impl Default for EngineId {
    fn default() -> Self {
        EngineId::new()
    }
}

/// The lease calls of one engine, and the duties it holds now.
#[derive(Clone)]
pub struct Duties {
    store: Store,
    engine: Arc<EngineId>,
    /// `[store] lease_seconds`.
    ttl: Duration,
    /// The duties held now, with their tokens: what this engine believes, which
    /// never outlasts what the store grants.
    held: Arc<Mutex<BTreeMap<String, i64>>>,
}

/// A duty held: its lease (the fence for the duty's writes) and the token that
/// is cancelled when the lease is lost or the engine stops.
pub struct Held {
    lease: Lease,
    lost: CancellationToken,
    stop: CancellationToken,
    keeper: tokio::task::JoinHandle<Option<Lease>>,
    duties: Duties,
}

impl Duties {
    pub fn new(store: Store, engine: EngineId, ttl: Duration) -> Duties {
        Duties {
            store,
            engine: Arc::new(engine),
            ttl,
            held: Arc::default(),
        }
    }

    pub fn engine(&self) -> &EngineId {
        &self.engine
    }

    /// The duties this engine holds now, by name.
    pub fn held(&self) -> Vec<String> {
        self.held.lock().keys().cloned().collect()
    }

    /// How often a lease is renewed, a heartbeat sent, a taken lease asked for again.
    fn beat(&self) -> Duration {
        self.ttl / 3
    }

    /// Waits until this engine holds `duty` (while another engine holds it, asks
    /// again every third of the lease time); `None` if the engine stops first.
    pub async fn acquire(&self, duty: &'static str, cancel: &CancellationToken) -> Option<Held> {
        let mut failing = RepeatedWarning::default();
        let mut said_waiting = false;
        loop {
            let (store, holder, ttl) = (self.store.clone(), self.engine.id.clone(), self.ttl);
            let asked = tokio::task::spawn_blocking(move || {
                let lease = store.acquire_lease(duty, &holder, ttl)?;
                // Held by another engine: when its lease ends, by the store's record.
                let ends = match lease {
                    Some(_) => None,
                    None => (store.lease_holders()?.into_iter())
                        .find(|held| held.duty == duty)
                        .map(|held| held.expires_at),
                };
                Ok::<_, crate::store::StoreError>((lease, ends))
            })
            .await;
            let mut wait = self.beat();
            match asked {
                Ok(Ok((Some(lease), _))) => {
                    failing.clear("leases can be taken again");
                    tracing::info!(duty, token = lease.token, "this engine holds the duty");
                    return Some(self.keep(lease, cancel));
                }
                Ok(Ok((None, ends))) => {
                    wait = self.until_free(ends);
                    if !said_waiting {
                        said_waiting = true;
                        tracing::info!(
                            duty,
                            "another engine holds the duty; waiting for its lease to end"
                        );
                    }
                }
                Ok(Err(error)) => failing.warn("cannot take a duty's lease", &error.to_string()),
                Err(_) => return None,
            }
            tokio::select! {
                _ = cancel.cancelled() => return None,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// How long to wait before asking again for a duty another engine holds: until
    /// its lease ends, so a dead holder's duty is taken within the lease time (not
    /// up to a beat later, as the failover test asks); at most
    /// a beat, and at least a thirtieth of the lease time, so a clock that
    /// disagrees with the database's does not make it ask in a tight loop.
    fn until_free(&self, ends: Option<jiff::Timestamp>) -> Duration {
        let left = ends.map_or(self.beat(), |ends| {
            let left = Duration::try_from(ends.duration_since(jiff::Timestamp::now())).unwrap_or_default();
            left + Duration::from_millis(10)
        });
        left.clamp(self.ttl / 30, self.beat())
    }

    /// Starts renewing `lease` in the background.
    fn keep(&self, lease: Lease, cancel: &CancellationToken) -> Held {
        let lost = cancel.child_token();
        let stop = CancellationToken::new();
        self.held.lock().insert(lease.duty.clone(), lease.token);
        let keeper = tokio::spawn(keep(self.clone(), lease.clone(), lost.clone(), stop.clone()));
        Held {
            lease,
            lost,
            stop,
            keeper,
            duties: self.clone(),
        }
    }

    fn forget(&self, lease: &Lease) {
        let mut held = self.held.lock();
        if held.get(lease.duty.as_str()) == Some(&lease.token) {
            held.remove(lease.duty.as_str());
        }
    }

    /// Runs the duty `work` makes, each time this engine holds the lease, until
    /// the engine stops: `work` gets the lease (its fence) and a token cancelled
    /// when the lease is lost. A duty that ends by itself, or panics, ends this
    /// too (its supervisor reports it and starts it again), after the lease is let go.
    pub async fn run<F, Fut>(self, duty: &'static str, cancel: CancellationToken, mut work: F)
    where
        F: FnMut(Lease, CancellationToken) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        while let Some(held) = self.acquire(duty, &cancel).await {
            let ended = tokio::spawn(work(held.lease().clone(), held.lost())).await;
            let lost = held.lost().is_cancelled();
            // Only once the duty has stopped: nobody else starts it while ours runs.
            held.release().await;
            if cancel.is_cancelled() {
                return;
            }
            match ended {
                Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                _ if lost => {
                    tracing::warn!(duty, "the duty stopped: its lease was lost; asking for it again")
                }
                _ => return,
            }
        }
    }

    /// Says every third of the lease time that this engine is alive, until `cancel`.
    pub async fn heartbeat(self, cancel: CancellationToken) {
        let mut failing = RepeatedWarning::default();
        loop {
            let (store, engine) = (self.store.clone(), self.engine.clone());
            match tokio::task::spawn_blocking(move || store.heartbeat(&engine.id, &engine.host, engine.pid))
                .await
            {
                Ok(Ok(())) => failing.clear("heartbeats are written again"),
                Ok(Err(error)) => failing.warn("cannot write the engine's heartbeat", &error.to_string()),
                Err(_) => return,
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(self.beat()) => {}
            }
        }
    }
}

/// The time before the lease's own deadline at which the duty is stopped: its
/// cancellation is cooperative, so it gets a sixth of the lease time to wind down
/// before another engine may take it.
fn stop_at(lease: &Lease, ttl: Duration) -> tokio::time::Instant {
    let margin = ttl / 6;
    let at = lease.held_until.checked_sub(margin).unwrap_or(lease.held_until);
    tokio::time::Instant::from_std(at)
}

/// Renews the lease every third of the lease time until `stop`; cancels `lost`
/// (the duty stops) when a renewal is refused or none succeeded in time.
/// Returns the lease if it is still held.
async fn keep(
    duties: Duties,
    mut lease: Lease,
    lost: CancellationToken,
    stop: CancellationToken,
) -> Option<Lease> {
    let mut failing = RepeatedWarning::default();
    let mut next = Instant::now() + duties.beat();
    loop {
        let deadline = stop_at(&lease, duties.ttl);
        tokio::select! {
            _ = stop.cancelled() => return Some(lease),
            _ = tokio::time::sleep_until(deadline) => return give_up(&duties, &lease, &lost, "no renewal succeeded in time"),
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(next)) => {}
        }
        next = Instant::now() + duties.beat();
        let (store, asked, ttl) = (duties.store.clone(), lease.clone(), duties.ttl);
        let renewal = tokio::task::spawn_blocking(move || store.renew_lease(&asked, ttl));
        tokio::select! {
            renewed = renewal => match renewed {
                Ok(Ok(Some(renewed))) => {
                    failing.clear("the lease is renewed again");
                    lease = renewed;
                }
                Ok(Ok(None)) => return give_up(&duties, &lease, &lost, "another engine holds it now"),
                Ok(Err(error)) => failing.warn("cannot renew a duty's lease", &error.to_string()),
                Err(_) => return give_up(&duties, &lease, &lost, "the renewal failed"),
            },
            _ = tokio::time::sleep_until(deadline) => return give_up(&duties, &lease, &lost, "no renewal succeeded in time"),
        }
    }
}

fn give_up(duties: &Duties, lease: &Lease, lost: &CancellationToken, why: &str) -> Option<Lease> {
    tracing::warn!(duty = %lease.duty, token = lease.token, why, "the duty's lease is lost; stopping the duty");
    duties.forget(lease);
    lost.cancel();
    None
}

impl Held {
    /// The fence for the duty's writes (`Lease::check`).
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// Cancelled when the lease is lost or the engine stops: the duty's own token.
    pub fn lost(&self) -> CancellationToken {
        self.lost.clone()
    }

    /// Stops renewing and lets the duty go, if it is still this engine's.
    pub async fn release(self) {
        self.stop.cancel();
        let kept = self.keeper.await.ok().flatten();
        self.duties.forget(&self.lease);
        let Some(lease) = kept else { return };
        let store = self.duties.store.clone();
        let duty = lease.duty.clone();
        match tokio::task::spawn_blocking(move || store.release_lease(&lease)).await {
            Ok(Ok(_)) => tracing::info!(duty, "the duty's lease is let go"),
            Ok(Err(error)) => {
                tracing::warn!(duty, %error, "cannot let the duty's lease go; it ends by itself")
            }
            Err(_) => {}
        }
    }
}

/// Runs a once-only duty under watch (`supervise`) and under its lease: `work`
/// makes the duty's task each time the lease is taken.
pub fn supervise_duty<F, Fut>(
    name: &'static str,
    duty: &'static str,
    duties: &Duties,
    trouble: super::supervise::TaskTrouble,
    cancel: CancellationToken,
    work: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut(Lease, CancellationToken) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let duties = duties.clone();
    super::supervise::supervise(name, trouble, cancel.clone(), move || {
        Some(duties.clone().run(duty, cancel.child_token(), work.clone()))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;

    /// A duty that counts its starts and says when it stopped.
    struct TestDuty {
        starts: Arc<AtomicUsize>,
        stopped: Arc<AtomicBool>,
    }

    fn test_duty() -> (
        TestDuty,
        impl FnMut(Lease, CancellationToken) -> futures::future::BoxFuture<'static, ()> + Clone,
    ) {
        let duty = TestDuty {
            starts: Arc::default(),
            stopped: Arc::default(),
        };
        let (starts, stopped) = (duty.starts.clone(), duty.stopped.clone());
        let work = move |_lease: Lease, lost: CancellationToken| {
            let (starts, stopped) = (starts.clone(), stopped.clone());
            let run: futures::future::BoxFuture<'static, ()> = Box::pin(async move {
                stopped.store(false, Ordering::SeqCst);
                starts.fetch_add(1, Ordering::SeqCst);
                lost.cancelled().await;
                stopped.store(true, Ordering::SeqCst);
            });
            run
        };
        (duty, work)
    }

    async fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + limit;
        while !done() {
            assert!(Instant::now() < deadline, "{what}: not by the deadline");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn raw(store: &Store) -> rusqlite::Connection {
        rusqlite::Connection::open(store.path().expect("an SQLite store")).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_duty_whose_renewals_fail_stops_before_its_lease_ends_and_is_taken_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s.db")).unwrap();
        let ttl = Duration::from_millis(1500);
        let duties = Duties::new(store.clone(), EngineId::new(), ttl);
        let cancel = CancellationToken::new();
        let (duty, work) = test_duty();
        let running = tokio::spawn(duties.clone().run(POLLER, cancel.clone(), work));
        until("the duty starts", Duration::from_secs(10), || {
            duty.starts.load(Ordering::SeqCst) == 1
        })
        .await;
        let first = store.lease_holders().unwrap()[0].token;

        // Renewals fail from now on: the table is out of the engine's reach.
        raw(&store)
            .execute_batch("ALTER TABLE leases RENAME TO leases_away")
            .unwrap();
        let expired = || -> bool {
            raw(&store)
                .query_row(
                    "SELECT expires_at <= CAST(unixepoch('now', 'subsec') * 1000000 AS INTEGER) \
                     FROM leases_away WHERE duty = ?1",
                    [POLLER],
                    |row| row.get(0),
                )
                .unwrap()
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // Read before the store's clock: the duty had stopped by the time another could start it.
            let stopped = duty.stopped.load(Ordering::SeqCst);
            if expired() {
                assert!(stopped, "the lease ended while the duty still ran");
                break;
            }
            assert!(Instant::now() < deadline, "the lease never ended");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(duties.held().is_empty(), "{:?}", duties.held());

        // The store is back: the duty is taken again, with a greater token.
        raw(&store)
            .execute_batch("ALTER TABLE leases_away RENAME TO leases")
            .unwrap();
        until("the duty starts again", Duration::from_secs(10), || {
            duty.starts.load(Ordering::SeqCst) == 2
        })
        .await;
        assert!(store.lease_holders().unwrap()[0].token > first);
        assert_eq!(duties.held(), vec![POLLER.to_string()]);

        cancel.cancel();
        running.await.unwrap();
        assert!(duty.stopped.load(Ordering::SeqCst));
        assert!(duties.held().is_empty());
        let after = store.lease_holders().unwrap();
        assert!(
            after[0].expires_at <= jiff::Timestamp::now(),
            "let go on stop: {after:?}"
        );
    }

    /// A dead holder's duty is taken as its lease ends, not up to a beat later:
    /// failover within the lease time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_duty_another_holds_is_taken_as_its_lease_ends() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s.db")).unwrap();
        // A beat of a second; the other's lease ends half-way between two.
        let ttl = Duration::from_secs(3);
        let other = Duration::from_millis(1500);
        let asked = Instant::now();
        (store.acquire_lease(POLLER, "a dead engine", other).unwrap()).expect("free at first");
        let duties = Duties::new(store.clone(), EngineId::new(), ttl);
        let cancel = CancellationToken::new();
        let (duty, work) = test_duty();
        let running = tokio::spawn(duties.clone().run(POLLER, cancel.clone(), work));
        until("the duty starts", Duration::from_secs(10), || {
            duty.starts.load(Ordering::SeqCst) == 1
        })
        .await;
        let took = asked.elapsed();
        assert!(
            took >= other && took < other + Duration::from_millis(400),
            "taken {took:?} after the other's lease of {other:?} began"
        );
        cancel.cancel();
        running.await.unwrap();
    }

    #[tokio::test]
    async fn a_duty_another_holder_took_is_stopped_at_the_next_renewal_and_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s.db")).unwrap();
        let ttl = Duration::from_millis(1200);
        let duties = Duties::new(store.clone(), EngineId::new(), ttl);
        let cancel = CancellationToken::new();
        let (duty, work) = test_duty();
        let running = tokio::spawn(duties.clone().run(LRS_READER, cancel.clone(), work));
        until("the duty starts", Duration::from_secs(10), || {
            duty.starts.load(Ordering::SeqCst) == 1
        })
        .await;
        // Another engine takes it over, with a higher token, for two seconds.
        raw(&store)
            .execute(
                "UPDATE leases SET holder = 'intruder', token = token + 1, \
                 expires_at = CAST(unixepoch('now', 'subsec') * 1000000 AS INTEGER) + 2000000",
                [],
            )
            .unwrap();
        let taken = Instant::now();
        until("the duty stops", Duration::from_secs(10), || {
            duty.stopped.load(Ordering::SeqCst)
        })
        .await;
        assert!(taken.elapsed() < ttl, "stopped at the next renewal, not later");
        assert_eq!(
            duty.starts.load(Ordering::SeqCst),
            1,
            "not started while the other holds it"
        );
        until(
            "the duty is taken again once free",
            Duration::from_secs(10),
            || duty.starts.load(Ordering::SeqCst) == 2,
        )
        .await;
        assert!(
            taken.elapsed() >= Duration::from_millis(1900),
            "{:?}",
            taken.elapsed()
        );
        cancel.cancel();
        running.await.unwrap();
    }
}
