//! What the benchmarks share: memory readings, and a sandbox in its own process
//! with an engine configured to talk to it. Each bench uses part of it.
#![allow(dead_code)]

pub mod bare;
pub mod engines;
pub mod figure;
pub mod idle;
pub mod postgres_server;

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hrsync::cli::sandbox_config_from;
use hrsync::config::Config;
use hrsync::contract::Contract;
use serde_json::Value;

/// A memory figure of this process from /proc/self/status (`VmRSS:` now,
/// `VmHWM:` the peak), in MB; NaN where the file does not say.
pub fn rss_mb(field: &str) -> f64 {
    process_mb("self", field)
}

/// The same for another process (`pid`), e.g. an engine started as a child.
pub fn process_mb(pid: &str, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// User and system CPU seconds of a process so far (`/proc/PID/stat`, 100
/// ticks a second); NaN once it is gone.
pub fn cpu_s(pid: &str) -> f64 {
    stat_ticks(pid, &[11, 12])
}

/// The CPU seconds of a process's children that ended and were waited for
/// (`cutime` and `cstime`): e.g. PostgreSQL's backends of closed connections.
pub fn reaped_cpu_s(pid: &str) -> f64 {
    stat_ticks(pid, &[13, 14])
}

/// The sum of `fields` (counted after the process's name) of `/proc/PID/stat`, in seconds.
fn stat_ticks(pid: &str, fields: &[usize]) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let values: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: &usize| {
        values
            .get(*i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    fields.iter().map(ticks).sum::<f64>() / 100.0
}

/// `hrsync sandbox` in its own process, so the peak memory a bench reports is the
/// engine's alone. Killed when dropped.
pub struct SandboxProcess {
    child: Child,
    /// The credentials line the sandbox printed first.
    pub credentials: Value,
}

impl SandboxProcess {
    /// Starts `binary sandbox --employees N --seed S` and reads its credentials.
    pub fn start(binary: &str, employees: usize, seed: u64) -> Self {
        Self::start_with(binary, employees, seed, &[])
    }

    /// The same with more arguments, e.g. `--webhook-url URL`.
    pub fn start_with(binary: &str, employees: usize, seed: u64, more: &[&str]) -> Self {
        let mut child = Command::new(binary)
            .args([
                "sandbox",
                "--employees",
                &employees.to_string(),
                "--seed",
                &seed.to_string(),
            ])
            .args(more)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the hrsync binary starts a sandbox");
        let mut first_line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first_line)
            .unwrap();
        let credentials = serde_json::from_str(&first_line).expect("the sandbox prints its credentials");
        Self { child, credentials }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A configuration for a store in `dir` talking to the sandbox, and the shipped
/// contract (also written to `dir`, where the configuration names it).
pub fn engine_config(credentials: &Value, dir: &Path) -> (Config, Contract) {
    let contract_path = dir.join("contract.toml");
    std::fs::write(&contract_path, include_str!("../../assets/contract.toml")).unwrap();
    let config = sandbox_config_from(credentials, &dir.join("hrsync.db"), &contract_path);
    let contract = hrsync::contract::parse(include_str!("../../assets/contract.toml")).unwrap();
    (config, contract)
}

/// Set in the child process that measures a bench's ceiling.
const CEILING_CHILD: &str = "HRSYNC_BENCH_CEILING_CHILD";

/// Measures a ceiling in a child process (this bench again, with the same
/// arguments and environment), so nothing the bare client held counts in this
/// process's peak memory; answers what `measure` answered there, and passes on
/// what it printed. In that child: runs `measure`, prints its answer and exits.
pub fn ceiling_in_child(measure: impl FnOnce() -> f64) -> f64 {
    if std::env::var_os(CEILING_CHILD).is_some() {
        let ceiling = measure();
        println!("{CEILING_CHILD} {ceiling}");
        std::process::exit(0);
    }
    let output = Command::new(std::env::current_exe().expect("the bench's own path"))
        .args(std::env::args_os().skip(1))
        .env(CEILING_CHILD, "1")
        .stderr(Stdio::inherit())
        .output()
        .expect("the ceiling's process starts");
    let said = String::from_utf8_lossy(&output.stdout);
    let mut ceiling = None;
    for line in said.lines() {
        match line.strip_prefix(CEILING_CHILD) {
            Some(answer) => ceiling = answer.trim().parse::<f64>().ok(),
            None => println!("{line}"),
        }
    }
    assert!(
        output.status.success(),
        "the ceiling's process failed ({})",
        output.status
    );
    ceiling.expect("the ceiling's process answered its ceiling")
}

/// `[apply] concurrency`, or HRSYNC_BENCH_CONCURRENCY when set.
pub fn set_concurrency(config: &mut Config) {
    if let Ok(n) = std::env::var("HRSYNC_BENCH_CONCURRENCY") {
        config.apply.concurrency = n
            .parse()
            .expect("HRSYNC_BENCH_CONCURRENCY is a number of employees applied at once");
    }
}

/// A number from the environment variable `name`, or `default` when unset.
pub fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name).map_or(default, |n| {
        n.parse()
            .unwrap_or_else(|_| panic!("{name} is a number, not {n:?}"))
    })
}

/// A multi-threaded tokio runtime with I/O and timers, for a bench's async part.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Waits until nothing is due in the journal (future-dated hires wait for their day).
pub async fn settle(store: &hrsync::store::Store) {
    loop {
        let horizon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(5);
        if store.ready(horizon, 1).unwrap().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The store file's used pages, in bytes (its free pages left out).
pub fn used_bytes(conn: &rusqlite::Connection) -> f64 {
    let pragma = |name: &str| -> f64 { conn.pragma_query_value(None, name, |r| r.get(0)).unwrap() };
    (pragma("page_count") - pragma("freelist_count")) * pragma("page_size")
}

/// Compacts every finished event, as `[store] keep_days = 0` would, `batch` at a
/// time; answers the events compacted. The pages it frees stay in the file.
pub fn compact_all(store: &hrsync::store::Store, batch: usize) -> u64 {
    use hrsync::store::Retention;
    let cutoff = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1);
    let mut compacted = 0;
    loop {
        let step = store.compact(cutoff, batch).unwrap();
        compacted += step.events;
        if !step.more {
            break;
        }
    }
    compacted
}
