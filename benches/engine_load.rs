//! The initial load: 100,000 employees from the sandbox HRIS into the sandbox LMS
//! over HTTP, through the whole engine (journal, apply, enrol, audit). The sandbox
//! runs as its own process (`hrsync sandbox`), so the peak memory reported is the
//! engine's alone. Run: `cargo bench --bench engine_load` (HRSYNC_BENCH_EMPLOYEES
//! to change the size).

mod common;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hrsync::cli::sandbox_config_from;
use serde_json::Value;

fn main() {
    let employees: usize = std::env::var("HRSYNC_BENCH_EMPLOYEES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let mut sandbox = Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .args(["sandbox", "--employees", &employees.to_string(), "--seed", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the hrsync binary starts a sandbox");
    let mut first_line = String::new();
    std::io::BufReader::new(sandbox.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    let credentials: Value = serde_json::from_str(&first_line).expect("the sandbox prints its credentials");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let contract_path = dir.path().join("contract.toml");
        std::fs::write(&contract_path, include_str!("../assets/contract.toml")).unwrap();
        let config = sandbox_config_from(&credentials, &dir.path().join("hrsync.db"), &contract_path);
        let contract = hrsync::contract::parse(include_str!("../assets/contract.toml")).unwrap();
        let started = Instant::now();
        let engine = hrsync::engine::start(&config, contract).await.unwrap();
        let journaled = started.elapsed();
        // Done when nothing is due: future-dated hires wait for their day, not for us.
        loop {
            let horizon = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(5);
            if engine.store.ready(horizon, 1).unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let elapsed = started.elapsed();
        let c = engine.store.counts().unwrap();
        let snapshot = engine.metrics.snapshot();
        println!(
            "initial load of {employees} employees: {:.1} s in all ({:.1} s pulling both sides and journaling), \
             {:.0} employees/s; {} learners created/updated, {} unchanged, {} rejected, {} held as suspected duplicates, {} dead letters, {} waiting for a later date; \
             receipt→LMS p50 {:.1} ms p99 {:.1} ms; engine peak RSS {:.0} MB",
            elapsed.as_secs_f64(),
            journaled.as_secs_f64(),
            employees as f64 / elapsed.as_secs_f64(),
            c.applied,
            c.unchanged,
            c.rejected,
            c.held,
            c.dead_letters,
            c.pending,
            snapshot.p50_ms,
            snapshot.p99_ms,
            common::rss_mb("VmHWM:")
        );
        // One reconciliation of everything just loaded: both full pulls, the join, the store.
        let reconciler = hrsync::engine::reconcile::Reconciler {
            store: engine.store.clone(),
            contract: engine.contract.clone(),
            hris: hrsync::connectors::HrisClient::new(&config.hris.api_base, config.hris.api_key.clone(), hrsync::engine::read_retry::read_backoff(&Default::default())).unwrap(),
            scim: hrsync::connectors::ScimClient::new(&config.lms.scim_url, config.lms.token.clone(), hrsync::engine::read_retry::read_backoff(&Default::default())).unwrap(),
            lrs: None,
            notifier: hrsync::connectors::Notifier::new(None),
        };
        // The peak from here on is the run's (on top of what the load left resident).
        let resident = common::rss_mb("VmRSS:");
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let started = Instant::now();
        let result = reconciler.run("bench").await.unwrap();
        let run = result.run();
        println!(
            "reconciliation of {} employees against {} learners: {:.1} s, {} findings ({:?}), {} open duplicate groups; engine RSS {resident:.0} MB before the run, peak during it {:.0} MB",
            run.employees,
            run.learners,
            started.elapsed().as_secs_f64(),
            run.total(),
            run.counts.iter().filter(|(_, n)| **n > 0).collect::<Vec<_>>(),
            engine.store.duplicate_counts().unwrap().open,
            common::rss_mb("VmHWM:")
        );
        engine.shutdown().await;
    });
    let _ = sandbox.kill();
    let _ = sandbox.wait();
}
