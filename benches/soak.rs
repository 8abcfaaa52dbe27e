//! The soak: the real `hrsync run` against `hrsync sandbox`, each its own
//! process. First, how fast signed deliveries are answered while 20,000 idle
//! connections are held. Then HRSYNC_SOAK_MINUTES (default 30) of HRIS churn
//! with faults injected in a one-minute cycle and the engine killed with
//! SIGKILL every few minutes (HRSYNC_SOAK_KILL_EVERY_S, default 180, ±25 %),
//! started again at once. At the end the churn stops, the engine catches up,
//! and the report says what was journaled and applied, what was lost and what
//! applied twice (both must be 0: the exit status says so) and the engine's
//! memory. Run: `cargo bench --bench soak` (`-- idle` or `-- churn` for one
//! phase; HRSYNC_SOAK_EMPLOYEES, default 2,000).

#[path = "soak/checks.rs"]
mod checks;
#[path = "soak/churn.rs"]
mod churn;
mod common;
#[path = "soak/idle_phase.rs"]
mod idle_phase;
#[path = "soak/outcome.rs"]
mod outcome;
#[path = "soak/world.rs"]
mod world;

use std::process::ExitCode;
use std::time::{Duration, Instant};

fn setting(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} is a number")))
        .unwrap_or(default)
}

fn main() -> ExitCode {
    let minutes = setting("HRSYNC_SOAK_MINUTES", 30.0);
    let kill_every = Duration::from_secs_f64(setting("HRSYNC_SOAK_KILL_EVERY_S", 180.0));
    let employees = setting("HRSYNC_SOAK_EMPLOYEES", 2000.0) as usize;
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a == "idle" || a == "churn")
        .collect();
    let phase = |name: &str| only.is_empty() || only.iter().any(|o| o == name);

    let world = world::World::start(employees);
    let passed = common::runtime().block_on(async {
        let engine = world.spawn_engine().await;
        assert!(
            world.settled_within(Duration::from_secs(300)).await,
            "the initial load did not settle"
        );
        // The engine's memory at the start: loaded, before any flood or churn.
        let loaded = (Instant::now(), engine.mb("VmRSS:"));
        if phase("idle") {
            idle_phase::run(&world, &engine).await;
        }
        if !phase("churn") {
            return true;
        }
        let length = Duration::from_secs_f64(minutes * 60.0);
        let churned = churn::run(&world, engine, loaded, length, kill_every).await;
        outcome::finish(&world, churned, minutes).await
    });
    if passed {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "the soak failed; the store and the log are kept in {}",
        world.dir.keep().display()
    );
    ExitCode::FAILURE
}
