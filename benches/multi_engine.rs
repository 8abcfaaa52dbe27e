//! Several engines on one PostgreSQL (issue 28): events finished per second by
//! one engine and by two sharing a database, each an `hrsync run` process with
//! the sandbox in its own, and the failover time when the engine holding the
//! duties is killed mid-churn. Where the CPU went (each engine, the sandbox,
//! the PostgreSQL server) is printed beside the figures. Run: `cargo bench
//! --bench multi_engine`; HRSYNC_BENCH_EMPLOYEES (default 8,000) sizes the
//! initial load, HRSYNC_BENCH_RUNS (default 1) repeats the load figures,
//! HRSYNC_BENCH_FAILOVER_EMPLOYEES (default 2,000) sizes the failover's world,
//! HRSYNC_BENCH_LOAD_LEASE_SECONDS sets `[store] lease_seconds` for the load
//! figures (default the engine's 15), HRSYNC_BENCH_ONLY=load or =failover runs
//! one part.
//!
//! Why 8,000: a pass takes about 40 s in a release build at today's rate on
//! PostgreSQL (about 200 events/s). (20,000 once ran the tests' cluster out of
//! lock space: the load held a lock per employee; it holds one now.)

#[allow(dead_code)]
#[path = "../tests/it/common/postgres.rs"]
mod cluster;
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::SandboxProcess;
use common::engines::{EngineProcess, Shared, free_port};
use common::figure::{Figure, report};
use common::postgres_server::PostgresServer;
use hrsync::engine::intake::initial_load::DONE_CURSOR;
use hrsync::store::{Engines, Store, StoreCounts};
use serde_json::json;

const BINARY: &str = env!("CARGO_BIN_EXE_hrsync");
const SEED: u64 = 3;
const POLL: Duration = Duration::from_millis(50);

fn main() {
    let employees = env_number("HRSYNC_BENCH_EMPLOYEES", 8_000);
    let runs = env_number("HRSYNC_BENCH_RUNS", 1);
    let small = env_number("HRSYNC_BENCH_FAILOVER_EMPLOYEES", 2_000);
    let only = std::env::var("HRSYNC_BENCH_ONLY").unwrap_or_default();
    // The initial load's journal must be written within the lease (see above).
    let load_lease = std::env::var("HRSYNC_BENCH_LOAD_LEASE_SECONDS").ok().map(|s| {
        s.parse::<f64>()
            .expect("HRSYNC_BENCH_LOAD_LEASE_SECONDS is a number of seconds")
    });
    let mut figures = Vec::new();
    for run in (1..=runs).filter(|_| only != "failover") {
        println!("run {run} of {runs}: initial load of {employees} employees");
        let one = load(employees, 1, load_lease);
        let two = load(employees, 2, load_lease);
        figures.push(Figure::new(
            "multi_engine: 1 engine, events/s",
            one.rate(),
            "events/s",
        ));
        figures.push(Figure::new(
            "multi_engine: 1 engine, apply phase",
            one.apply_rate(),
            "events/s",
        ));
        figures.push(
            Figure::new("multi_engine: 2 engines, events/s", two.rate(), "events/s")
                .against(2.0 * one.rate()),
        );
        figures.push(
            Figure::new(
                "multi_engine: 2 engines, apply phase",
                two.apply_rate(),
                "events/s",
            )
            .against(2.0 * one.apply_rate()),
        );
    }
    for lease in [None, Some(3.0)].into_iter().filter(|_| only != "load") {
        let took = failover(small, lease);
        let lease_s = lease.unwrap_or(15.0);
        figures.push(
            Figure::new(format!("multi_engine: failover, lease {lease_s} s"), took, "s").against(lease_s),
        );
    }
    report(&figures);
}

fn env_number(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {text:?}")),
        Err(_) => default,
    }
}

/// A fresh database on the bench's throwaway cluster, and the store on it.
fn database() -> (cluster::TestDatabase, Store) {
    let db = cluster::database().expect("this bench needs PostgreSQL (initdb and postgres)");
    let store = Store::open_postgres(&db.url, Some(&db.password)).expect("the bench's database opens");
    (db, store)
}

/// Transactions committed and rolled back in the database so far, by the
/// server's statistics (which may lag by up to a second).
fn transactions(db: &cluster::TestDatabase) -> (i64, i64) {
    let mut config: postgres::Config = db.url.parse().expect("the database URL parses");
    let mut client = config
        .password(db.password.expose())
        .connect(postgres::NoTls)
        .expect("the bench reaches its database");
    let row = client
        .query_one(
            "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .expect("the server's statistics answer");
    (row.get(0), row.get(1))
}

/// A sandbox of `employees` posting its webhooks to `webhook_port`.
fn sandbox(employees: usize, webhook_port: u16) -> SandboxProcess {
    let url = format!("http://127.0.0.1:{webhook_port}/webhooks/hris");
    SandboxProcess::start_with(BINARY, employees, SEED, &["--webhook-url", &url])
}

/// One initial load by `engines` engines started together.
struct Pass {
    finished: u64,
    took: Duration,
    journaled: Duration,
}

impl Pass {
    fn rate(&self) -> f64 {
        self.finished as f64 / self.took.as_secs_f64()
    }

    fn apply_rate(&self) -> f64 {
        self.finished as f64 / (self.took - self.journaled).as_secs_f64()
    }
}

fn finished(c: &StoreCounts) -> u64 {
    c.total - c.pending - c.retrying
}

/// Nothing due in the journal (future-dated hires wait for their day).
fn settled(store: &Store) -> bool {
    let horizon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(5);
    store.ready(horizon, 1).unwrap().is_empty()
}

fn load(employees: usize, engines: usize, lease_seconds: Option<f64>) -> Pass {
    let (db, store) = database();
    let webhook_port = free_port();
    let sandbox = sandbox(employees, webhook_port);
    let dir = tempfile::tempdir().unwrap();
    let shared = Shared {
        binary: BINARY,
        credentials: &sandbox.credentials,
        store_url: &db.url,
        password: &db.password,
        lease_seconds,
        dir: dir.path(),
    };
    let postgres = PostgresServer::of(&db.url);
    let cpu_before = (common::cpu_s(&sandbox.pid().to_string()), postgres.cpu_s());
    let transactions_before = transactions(&db);
    let started = Instant::now();
    let mut running: Vec<EngineProcess> = (1..=engines)
        .map(|n| {
            let port = if n == 1 { webhook_port } else { free_port() };
            EngineProcess::start(&shared, &format!("engine {n}"), port)
        })
        .collect();
    let deadline = started + Duration::from_secs(600 + employees as u64 / 20);
    let mut journaled = None;
    loop {
        running.iter_mut().for_each(EngineProcess::assert_running);
        if journaled.is_none() && store.cursor(DONE_CURSOR).unwrap().is_some() {
            journaled = Some(started.elapsed());
        }
        if journaled.is_some() && settled(&store) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{engines} engine(s) did not finish the initial load: {:?}",
            store.counts().unwrap()
        );
        std::thread::sleep(POLL);
    }
    let took = started.elapsed();
    let engine_cpu: Vec<f64> = running
        .iter()
        .map(|e| common::cpu_s(&e.pid().to_string()))
        .collect();
    let sandbox_cpu = common::cpu_s(&sandbox.pid().to_string()) - cpu_before.0;
    let postgres_cpu = postgres.cpu_s() - cpu_before.1;
    let counts = store.counts().unwrap();
    let (commits, rollbacks) = transactions(&db);
    let (commits, rollbacks) = (commits - transactions_before.0, rollbacks - transactions_before.1);
    let pass = Pass {
        finished: finished(&counts),
        took,
        journaled: journaled.unwrap_or_default(),
    };
    println!(
        "{engines} engine(s): {} events finished in {:.1} s ({:.1} s journaling), {:.0}/s, apply phase {:.0}/s; \
         journal: {} applied, {} unchanged, {} rejected, {} held, {} dead letters, {} waiting for a later date",
        pass.finished,
        took.as_secs_f64(),
        pass.journaled.as_secs_f64(),
        pass.rate(),
        pass.apply_rate(),
        counts.applied,
        counts.unchanged,
        counts.rejected,
        counts.held,
        counts.dead_letters,
        counts.pending,
    );
    let wall = took.as_secs_f64();
    let total: f64 = engine_cpu.iter().sum::<f64>() + sandbox_cpu + postgres_cpu;
    for (engine, cpu) in running.iter().zip(&engine_cpu) {
        let by_status = engine.finished();
        let problems = engine.log_problems();
        println!(
            "  {}: CPU {cpu:.1} s; finished by it {by_status:?}; {} warnings/errors in its log{}",
            engine.name,
            problems.len(),
            problems
                .iter()
                .take(5)
                .map(|line| format!("\n    {line}"))
                .collect::<String>()
        );
    }
    println!(
        "  CPU: engines {:.1} s, sandbox {sandbox_cpu:.1} s, PostgreSQL {postgres_cpu:.1} s; \
         {total:.1} s of the {:.1} s two cores had ({:.0} %); PostgreSQL: {commits} transactions \
         committed ({:.1} an event, {:.0}/s), {rollbacks} rolled back",
        engine_cpu.iter().sum::<f64>(),
        2.0 * wall,
        100.0 * total / (2.0 * wall),
        commits as f64 / pass.finished.max(1) as f64,
        commits as f64 / wall,
    );
    pass
}

/// The failover time: with two engines and churn going, the one holding the
/// duties is killed (SIGKILL); how long until the other holds every duty it held.
fn failover(employees: usize, lease_seconds: Option<f64>) -> f64 {
    let (db, store) = database();
    let webhook_port = free_port();
    let sandbox = sandbox(employees, webhook_port);
    let dir = tempfile::tempdir().unwrap();
    let shared = Shared {
        binary: BINARY,
        credentials: &sandbox.credentials,
        store_url: &db.url,
        password: &db.password,
        lease_seconds,
        dir: dir.path(),
    };
    let lease = Duration::from_secs_f64(lease_seconds.unwrap_or(15.0));
    let limit = Duration::from_secs(300);
    // The duty holder starts first and does the initial load; the survivor takes the webhooks.
    let mut holder = EngineProcess::start(&shared, "duty holder", free_port());
    until("the initial load finished", limit, || {
        holder.assert_running();
        store.cursor(DONE_CURSOR).unwrap().is_some() && settled(&store)
    });
    let mut survivor = EngineProcess::start(&shared, "survivor", webhook_port);
    let duties_of = |pid: u32| -> Vec<String> {
        let engines = store.engines(lease).unwrap();
        let engine = engines.iter().find(|e| e.pid == i64::from(pid) && e.live);
        engine.map(|e| e.duties.clone()).unwrap_or_default()
    };
    until("the survivor is live", limit, || {
        survivor.assert_running();
        store
            .engines(lease)
            .unwrap()
            .iter()
            .any(|e| e.pid == i64::from(survivor.pid()) && e.live)
    });
    let churn = Churn::start(&sandbox);
    let before = store.counts().unwrap().total;
    until("churn journaled", limit, || {
        store.counts().unwrap().total >= before + 100
    });
    until("the first engine holds the poller", limit, || {
        duties_of(holder.pid()).iter().any(|d| d == "poller")
    });
    let duties = duties_of(holder.pid());
    let applied_by_holder = holder.finished().get("applied").copied().unwrap_or_default();

    holder.kill();
    let killed = Instant::now();
    until("the survivor holds every duty", 3 * lease + limit, || {
        survivor.assert_running();
        let held = duties_of(survivor.pid());
        duties.iter().all(|d| held.contains(d))
    });
    let took = killed.elapsed();
    let after = store.counts().unwrap().total;
    until("churn journaled after the takeover", limit, || {
        store.counts().unwrap().total >= after + 100
    });
    let churned = churn.stop();
    until("every webhook delivered and the journal settled", limit, || {
        sandbox_state(&sandbox)["hris"]["webhooks_queued"] == 0 && settled(&store)
    });

    let counts = store.counts().unwrap();
    let applied_by_survivor = survivor.finished().get("applied").copied().unwrap_or_default();
    let audit = match store.verify_audit().unwrap() {
        Ok(report) => format!("intact ({} entries)", report.entries),
        Err(broken) => format!("BROKEN: {broken:?}"),
    };
    let problems = survivor.log_problems();
    println!(
        "failover with lease {:.0} s: the survivor held {duties:?} {:.2} s after the SIGKILL; \
         journal {} events: {} applied ({} by the killed engine before the kill, {} by the survivor), \
         {} unchanged, {} retrying, {} dead letters, {} waiting for a later date; audit {audit}; \
         churn {churned}; LMS {}; the survivor logged {} warnings/errors{}",
        lease.as_secs_f64(),
        took.as_secs_f64(),
        counts.total,
        counts.applied,
        applied_by_holder,
        applied_by_survivor,
        counts.unchanged,
        counts.retrying,
        counts.dead_letters,
        counts.pending,
        sandbox_state(&sandbox)["lms"],
        problems.len(),
        problems
            .iter()
            .take(5)
            .map(|line| format!("\n    {line}"))
            .collect::<String>()
    );
    took.as_secs_f64()
}

/// Polls `done` until it holds; panics naming `what` after `limit`.
fn until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(POLL);
    }
}

fn sandbox_state(sandbox: &SandboxProcess) -> serde_json::Value {
    let url = format!("{}/state", sandbox.credentials["admin_url"].as_str().unwrap());
    reqwest::blocking::get(&url)
        .and_then(|r| r.json())
        .unwrap_or_else(|e| panic!("the sandbox's state at {url}: {e}"))
}

/// HRIS changes (promotions, transfers, name changes: nothing the safety threshold
/// holds) asked of the sandbox's admin API, five every 100 ms, until stopped.
struct Churn {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(usize, Option<String>)>,
}

impl Churn {
    fn start(sandbox: &SandboxProcess) -> Churn {
        let url = format!("{}/churn", sandbox.credentials["admin_url"].as_str().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let client = reqwest::blocking::Client::new();
            // One kind a request: a kind with nobody left to change (409) stops only its own.
            let kinds = ["promotion", "transfer", "name_change", "transfer", "name_change"];
            let (mut made, mut refused) = (0, None);
            for kind in kinds.iter().cycle() {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                let changes = json!({ "changes": [{ "kind": kind, "count": 5 }] });
                let answer: serde_json::Value = client
                    .post(&url)
                    .json(&changes)
                    .send()
                    .and_then(|r| r.json())
                    .unwrap_or_else(|e| panic!("churn at {url}: {e}"));
                made += answer["applied"].as_array().map_or(0, Vec::len);
                if let Some(error) = answer["error"].as_str() {
                    refused = Some(error.to_string());
                }
                // The pace of the churn, not a wait for something.
                std::thread::sleep(Duration::from_millis(100));
            }
            (made, refused)
        });
        Churn { stop, thread }
    }

    /// Stops it; says how many changes it made and the last refusal, if any.
    fn stop(self) -> String {
        self.stop.store(true, Ordering::Relaxed);
        let (made, refused) = self.thread.join().expect("the churn thread ends");
        match refused {
            Some(error) => format!("{made} changes (the sandbox last refused: {error})"),
            None => format!("{made} changes"),
        }
    }
}
