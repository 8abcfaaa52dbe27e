//! Several engines on one PostgreSQL store and one sandbox (issue 28): a World
//! whose store is a fresh database on the tests' cluster, a second engine in this
//! process with its own webhook listener (the sandbox sends webhooks to the
//! first), or engines as `hrsync run` processes, each with its own configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use hrsync::config::PostgresStore;
use hrsync::engine::{self, RunningEngine};
use hrsync::store::{Engines, Leases};

use super::postgres::{TestDatabase, database};
use super::{CONTRACT, Options, World, start, start_for_binary};

/// The variable the binary reads the store's password from (`[store] password_env`).
pub const STORE_PASSWORD_ENV: &str = "T_STORE_PASSWORD";

/// The duties a running engine holds once its initial load is journaled.
pub const EVERY_DUTY: [&str; 3] = ["lrs reader", "poller", "reconciliation schedule"];

/// `[store] url` on the test's database, its password as from `password_env`.
pub fn postgres_store(database: &TestDatabase) -> PostgresStore {
    PostgresStore {
        url: database.url.clone(),
        password_env: Some(STORE_PASSWORD_ENV.into()),
        password: Some(database.password.clone()),
    }
}

/// The store a configuration names, as the test reads it (another handle: the
/// engines' own are theirs).
pub fn open_store(config: &hrsync::config::Config) -> hrsync::store::Store {
    match &config.store_url {
        None => hrsync::store::Store::open(&config.store_path).unwrap(),
        Some(postgres) => hrsync::store::Store::open_postgres(&postgres.url, postgres.password.as_ref())
            .expect("the PostgreSQL store opens"),
    }
}

/// Two engines in this process on one PostgreSQL database and one sandbox.
pub struct TwoEngines {
    /// The first engine, which the sandbox sends its webhooks to.
    pub world: World,
    pub second: RunningEngine,
    /// Last: the database outlives the engines using it.
    _database: TestDatabase,
}

impl TwoEngines {
    /// Stops both cleanly.
    pub async fn stop(self) {
        let TwoEngines {
            mut world,
            second,
            _database,
        } = self;
        second.shutdown().await;
        world.stop().await;
    }
}

/// [`database`], off the runtime: its blocking client may not run on an async thread.
async fn fresh_database() -> Option<TestDatabase> {
    tokio::task::spawn_blocking(database).await.unwrap()
}

/// A World on a fresh PostgreSQL database with a second engine on it, or `None`
/// when PostgreSQL is not installed here (the test skips; under CI it fails).
pub async fn start_two(options: Options) -> Option<TwoEngines> {
    let database = fresh_database().await?;
    let world = start(Options {
        store_url: Some(postgres_store(&database)),
        ..options
    })
    .await;
    let second = world.start_another().await;
    Some(TwoEngines {
        world,
        second,
        _database: database,
    })
}

/// Waits until `done` holds, looking every 50 ms; panics after `limit` saying `what`.
pub async fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl World {
    /// Another engine on this world's store and sandbox, on the shipped contract,
    /// with its own webhook listener on a free port (the sandbox keeps sending
    /// to the first).
    pub async fn start_another(&self) -> RunningEngine {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut config = self.config.clone();
        config.webhook.listen = listener.local_addr().unwrap();
        let contract = hrsync::contract::parse(CONTRACT).unwrap();
        engine::start_with_listener(&config, contract, listener)
            .await
            .expect("a second engine starts on the same store")
    }

    /// The once-only duties held now (by a live lease), each with its holder's id.
    pub fn duty_holders(&self) -> Vec<(String, String)> {
        let now = jiff::Timestamp::now();
        let holders = self.store().lease_holders().unwrap();
        (holders.into_iter())
            .filter(|lease| lease.expires_at > now)
            .map(|lease| (lease.duty, lease.holder))
            .collect()
    }

    /// The engines heard from within `lease`, by id, with the duties each holds.
    pub fn live_engines(&self, lease: Duration) -> Vec<(String, Vec<String>)> {
        let engines = self.store().engines(lease).unwrap();
        (engines.into_iter())
            .filter(|e| e.live)
            .map(|e| (e.id, e.duties))
            .collect()
    }
}

/// How many events an engine applied since it started, read from its `/metrics`
/// text (`hrsync_events_finished_total{status="applied"}`).
pub fn applied_in(metrics: &str) -> u64 {
    (metrics.lines())
        .find(|line| line.starts_with("hrsync_events_finished_total{status=\"applied\"}"))
        .and_then(|line| line.rsplit(' ').next())
        .map_or(0, |n| n.parse::<f64>().expect("a counter's value") as u64)
}

/// The sandbox and a configuration for `hrsync run` on a fresh PostgreSQL
/// database, or `None` when PostgreSQL is not installed here. Start engines with
/// [`World::spawn_engine`].
pub async fn start_for_binaries(options: Options) -> Option<(World, TestDatabase)> {
    let database = fresh_database().await?;
    let world = start_for_binary(Options {
        store_url: Some(postgres_store(&database)),
        ..options
    })
    .await;
    Some((world, database))
}

/// An `hrsync run` process, killed (SIGKILL) and reaped when dropped.
pub struct EngineProcess {
    pub child: Child,
    /// Where its `/metrics` are served.
    pub admin: SocketAddr,
    pub pid: u32,
}

impl EngineProcess {
    /// Events it applied so far (its `/metrics`).
    pub async fn applied(&self, http: &reqwest::Client) -> u64 {
        let text = (http.get(format!("http://{}/metrics", self.admin)))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        applied_in(&text)
    }

    /// SIGKILL, reaped.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
    }

    /// SIGTERM; answers how it ended.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl World {
    /// Starts `hrsync run` as engine `name` on this world's configuration, with
    /// its own `/metrics` port; the webhook listener the sandbox sends to when
    /// `webhooks`, another free port otherwise (`<name>.toml`, `<name>.log`).
    pub fn spawn_engine(&self, name: &str, webhooks: bool) -> EngineProcess {
        let text = std::fs::read_to_string(self.dir.path().join("hrsync.toml")).unwrap();
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut text = text.replace(
            "[admin]\nlisten = \"127.0.0.1:0\"",
            &format!("[admin]\nlisten = \"{admin}\""),
        );
        if !webhooks {
            let ours = format!("listen = \"{}\"", self.config.webhook.listen);
            assert!(text.contains(&ours), "the webhook listener in {text}");
            text = text.replace(&ours, &format!("listen = \"127.0.0.1:{}\"", free_port()));
        }
        let config: PathBuf = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(&config, text).unwrap();
        let child = self.spawn_binary_on(name, &[]);
        EngineProcess {
            pid: child.id(),
            child,
            admin,
        }
    }
}
