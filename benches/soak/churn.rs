//! The soak's running part, three loops side by side until the deadline: HRIS
//! churn (every change the sandbox makes recorded with the time it was asked
//! for), a fault cycle repeated every minute, and the engine killed with
//! SIGKILL every few minutes (with jitter, so kills land in every phase of the
//! cycle) and started again at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::world::{Engine, World};

/// Each round asks for five of these, rotating, four rounds a second: as many
/// hires and rehires as terminations, so the workforce does not run out.
const KINDS: [&str; 10] = [
    "hire",
    "promotion",
    "transfer",
    "name_change",
    "email_change",
    "leave",
    "return",
    "termination",
    "rehire",
    "conversion",
];

/// One HRIS change: the employee, and a time no later than the change's own.
pub struct Change {
    pub asked_at: Timestamp,
    pub employee_id: String,
}

/// One run of the engine process, from its start to its kill (or the end).
pub struct Life {
    pub pid: u32,
    pub started_mb: f64,
    pub ended_mb: f64,
    pub peak_mb: f64,
    pub seconds: f64,
}

pub struct Churned {
    pub changes: Vec<Change>,
    /// The engine's runs that ended in a kill.
    pub lives: Vec<Life>,
    /// The last engine, still running.
    pub running: Running,
    /// Times the engine ended without being killed (each one started again).
    pub unexpected_exits: usize,
    /// Fault phases entered, by name.
    pub faults: Vec<(&'static str, usize)>,
}

/// Runs for `length`; `born` is when `engine` was loaded, and its memory then.
pub async fn run(
    world: &World,
    engine: Engine,
    born: (Instant, f64),
    length: Duration,
    kill_every: Duration,
) -> Churned {
    let until = Instant::now() + length;
    let made = AtomicUsize::new(0);
    let running = Running { engine, born };
    let (changes, faults, (running, lives, unexpected_exits)) = tokio::join!(
        churn(world, until, &made),
        fault_cycle(world, until),
        kills(world, running, until, kill_every, &made),
    );
    Churned {
        changes,
        lives,
        running,
        unexpected_exits,
        faults,
    }
}

async fn churn(world: &World, until: Instant, made: &AtomicUsize) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut round = 0;
    while Instant::now() < until {
        tick.tick().await;
        let kinds: Vec<&str> = (0..5).map(|i| KINDS[(round * 3 + i) % KINDS.len()]).collect();
        round += 1;
        let asked_at = Timestamp::now();
        for employee_id in world.churn(&kinds).await {
            changes.push(Change {
                asked_at,
                employee_id,
            });
        }
        made.store(changes.len(), Ordering::Relaxed);
    }
    changes
}

/// Faults present all the time: spoiled and repeated webhooks (the poll must
/// bring in what a refused delivery carried), a few dropped HRIS connections.
fn background() -> Value {
    json!({
        "hris": { "drop_ratio": 0.01 },
        "webhooks": { "duplicate_ratio": 0.05, "malformed_ratio": 0.01,
                      "unsigned_ratio": 0.01, "bad_signature_ratio": 0.01 },
    })
}

/// The fault phase at `second` of each minute, and what it adds to the background.
fn phase(second: u64) -> (&'static str, Value) {
    match second {
        8..18 => (
            "LMS 5xx burst (half the SCIM requests)",
            json!({ "scim": { "error_ratio": 0.5 } }),
        ),
        26..36 => (
            "slow answers (SCIM +400 ms, HRIS +300 ms)",
            json!({ "scim": { "latency_ms": 400 }, "hris": { "latency_ms": 300, "drop_ratio": 0.01 } }),
        ),
        44..56 => (
            "outage (SCIM drops every connection, HRIS answers 5xx)",
            json!({ "scim": { "drop_ratio": 1.0 }, "hris": { "error_ratio": 1.0 } }),
        ),
        _ => ("calm", json!({})),
    }
}

async fn fault_cycle(world: &World, until: Instant) -> Vec<(&'static str, usize)> {
    let started = Instant::now();
    let mut entered: Vec<(&'static str, usize)> = Vec::new();
    let mut current = "";
    while Instant::now() < until {
        let (name, extra) = phase(started.elapsed().as_secs() % 60);
        if name != current {
            let mut faults = background();
            for (system, set) in extra.as_object().unwrap() {
                faults[system] = set.clone();
            }
            world.set_faults(&faults).await;
            current = name;
            match entered.iter_mut().find(|(n, _)| *n == name) {
                Some((_, times)) => *times += 1,
                None => entered.push((name, 1)),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    world.set_faults(&json!({})).await;
    entered
}

/// The engine now running, since when, and its memory then.
pub struct Running {
    pub engine: Engine,
    born: (Instant, f64),
}

impl Running {
    async fn start(world: &World) -> Running {
        let engine = world.spawn_engine().await;
        let born = (Instant::now(), engine.mb("VmRSS:"));
        Running { engine, born }
    }

    /// Its run so far, measured now.
    pub fn life(&self) -> Life {
        Life {
            pid: self.engine.pid(),
            started_mb: self.born.1,
            ended_mb: self.engine.mb("VmRSS:"),
            peak_mb: self.engine.mb("VmHWM:"),
            seconds: self.born.0.elapsed().as_secs_f64(),
        }
    }
}

async fn kills(
    world: &World,
    mut running: Running,
    until: Instant,
    every: Duration,
    made: &AtomicUsize,
) -> (Running, Vec<Life>, usize) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(22);
    let mut lives = Vec::new();
    let mut unexpected = 0;
    let soak_started = Instant::now();
    let mut next_progress = soak_started + Duration::from_secs(60);
    let mut next_kill = Instant::now() + every.mul_f64(rng.random_range(0.75..1.25));
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = Instant::now();
        if now >= next_progress {
            next_progress += Duration::from_secs(60);
            let c = world.store.counts().unwrap();
            eprintln!(
                "[soak {:.0} min] {} HRIS changes; journal {} events ({} applied, {} unchanged, {} retrying, \
                 {} dead); engine RSS {:.0} MB; {} kills",
                soak_started.elapsed().as_secs_f64() / 60.0,
                made.load(Ordering::Relaxed),
                c.total,
                c.applied,
                c.unchanged,
                c.retrying,
                c.dead_letters,
                running.engine.mb("VmRSS:"),
                lives.len(),
            );
        }
        if running.engine.exited() {
            unexpected += 1;
            eprintln!("the engine ended by itself; started again");
            running = Running::start(world).await;
            continue;
        }
        if now >= until {
            return (running, lives, unexpected);
        }
        if now >= next_kill {
            lives.push(running.life());
            running.engine.kill();
            running = Running::start(world).await;
            next_kill = Instant::now() + every.mul_f64(rng.random_range(0.75..1.25));
        }
    }
}
