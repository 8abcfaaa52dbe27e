//! The completion write-back: 100,000 completions stored in the sandbox LRS,
//! read, journaled and written to the sandbox HRIS as training records (and
//! certification rows) through the whole engine. The sandbox runs as its own
//! process, so the peak memory reported is the engine's alone.
//!
//! Each figure is reported through the harness (`common::figure`); the rate
//! beside its ceiling, measured just before with the same concurrency
//! (`common::bare`): the same HRIS writes (training records, credential rows)
//! from a bare reqwest client, to a sandbox process of the same size and seed
//! of its own holding as many completions (the records it writes would
//! otherwise be found by the engine's, which writes only what is missing).
//! Run: `cargo bench --bench writeback` (HRSYNC_BENCH_COMPLETIONS to change the size,
//! HRSYNC_BENCH_CONCURRENCY for `[apply] concurrency`, HRSYNC_BENCH_SANDBOX for another
//! hrsync binary to run the sandbox with).

mod common;
mod cpu;

use std::time::{Duration, Instant};

use common::figure::{Figure, report};
use common::{SandboxProcess, bare, engine_config, settle};
use serde_json::{Value, json};

/// Employees in the sandbox, and its seed.
const EMPLOYEES: usize = 2000;
const SEED: u64 = 5;

fn main() {
    let completions = common::env_number("HRSYNC_BENCH_COMPLETIONS", 100_000);
    let binary =
        std::env::var("HRSYNC_BENCH_SANDBOX").unwrap_or_else(|_| env!("CARGO_BIN_EXE_hrsync").into());
    let ceiling = common::ceiling_in_child(|| {
        let sandbox = SandboxProcess::start(&binary, EMPLOYEES, SEED);
        let dir = tempfile::tempdir().unwrap();
        let (mut config, contract) = engine_config(&sandbox.credentials, dir.path());
        common::set_concurrency(&mut config);
        common::runtime().block_on(async {
            store_completions(&sandbox.credentials, completions).await;
            let admin = sandbox.credentials["admin_url"].as_str().unwrap();
            let before = bare::tally(admin).await;
            let bare = bare::writeback(&config, &contract, config.apply.concurrency).await;
            let requests = bare::per_unit(&before, &bare::tally(admin).await, bare.completions);
            println!(
                "ceiling: the same HRIS writes from a bare client at concurrency {}: {} writes for {} completions \
                 in {:.1} s = {:.0} completions/s; requests per completion (with the reads that found what \
                 to write, untimed): {requests}",
                config.apply.concurrency,
                bare.writes,
                bare.completions,
                bare.secs,
                bare.completions as f64 / bare.secs,
            );
            bare.completions as f64 / bare.secs
        })
    });
    let runtime = common::runtime();
    let sandbox = SandboxProcess::start(&binary, EMPLOYEES, SEED);
    let credentials = &sandbox.credentials;

    let figures = runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (mut config, contract) = engine_config(credentials, dir.path());
        common::set_concurrency(&mut config);
        if let Some(lrs) = config.lrs.as_mut() {
            lrs.poll_interval = Duration::from_millis(200);
        }
        let engine = hrsync::engine::start(&config, contract).await.unwrap();
        // The initial load of the 2,000 employees first, untimed.
        settle(&engine.store).await;
        let before = engine.store.counts().unwrap();

        let (generated, newest) = store_completions(credentials, completions).await;
        let admin = credentials["admin_url"].as_str().unwrap();
        let requests_before = bare::tally(admin).await;

        let sandbox_pid = sandbox.pid().to_string();
        let cpu_before = (cpu::cpu_seconds("self"), cpu::cpu_seconds(&sandbox_pid));
        let host_before = (cpu::stolen_seconds(), cpu::waiting_seconds());
        let started = Instant::now();
        loop {
            let cursor = engine
                .store
                .cursor(hrsync::engine::intake::completions::LRS_CURSOR)
                .unwrap()
                .and_then(|c| c.parse::<jiff::Timestamp>().ok());
            if cursor >= Some(newest) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let read = started.elapsed();
        settle(&engine.store).await;
        let elapsed = started.elapsed().as_secs_f64();
        let engine_cpu = cpu::cpu_seconds("self") - cpu_before.0;
        let sandbox_cpu = cpu::cpu_seconds(&sandbox_pid) - cpu_before.1;
        let stolen = cpu::stolen_seconds() - host_before.0;
        let waiting = cpu::waiting_seconds() - host_before.1;
        let requests = bare::tally(admin).await;
        let after = engine.store.counts().unwrap();
        let finished = (after.applied + after.unchanged) - (before.applied + before.unchanged);
        let snapshot = engine.metrics.snapshot();
        let peak_mb = common::rss_mb("VmHWM:");
        println!(
            "write-back of {completions} generated statements (stored in {:.1} s): {finished} completions read in \
             {:.1} s and applied in {elapsed:.1} s in all = {:.0} completions/s; {} dead letters, {} rejected; \
             receipt→HRIS p50 {:.0} ms p99 {:.0} ms (last 60 s); engine peak RSS {peak_mb:.0} MB",
            generated.as_secs_f64(),
            read.as_secs_f64(),
            finished as f64 / elapsed,
            after.dead_letters - before.dead_letters,
            after.rejected - before.rejected,
            snapshot.p50_ms,
            snapshot.p99_ms,
        );
        println!(
            "  requests per completion: {}",
            bare::per_unit(&requests_before, &requests, finished as usize)
        );
        let per_thousand = |cpu: f64| cpu / (finished as f64 / 1000.0);
        println!(
            "CPU per 1,000 completions: engine {:.3} s, sandbox {:.3} s, both {:.3} s \
             (engine {engine_cpu:.1} s, sandbox {sandbox_cpu:.1} s in all; concurrency {}); \
             the host took {stolen:.1} s of CPU away, tasks waited {waiting:.1} s for a core",
            per_thousand(engine_cpu),
            per_thousand(sandbox_cpu),
            per_thousand(engine_cpu + sandbox_cpu),
            config.apply.concurrency,
        );
        engine.shutdown().await;
        vec![
            Figure::new("writeback: completions", finished as f64 / elapsed, "compl/s").against(ceiling),
            Figure::new("writeback: engine peak RSS", peak_mb, "MB"),
            Figure::new("writeback: engine CPU per 1,000", per_thousand(engine_cpu), "s"),
            Figure::new("writeback: sandbox CPU per 1,000", per_thousand(sandbox_cpu), "s"),
        ]
    });
    report(&figures);
}

/// Has the sandbox LRS store `count` completions of its HRIS's employees;
/// answers how long that took and when the newest was stored.
async fn store_completions(credentials: &Value, count: usize) -> (Duration, jiff::Timestamp) {
    let http = reqwest::Client::new();
    let admin = credentials["admin_url"].as_str().unwrap();
    let generating = Instant::now();
    let answer: Value = http
        .post(format!("{admin}/completions"))
        .json(&json!({ "count": count, "from": "hris" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer.is_object(), "{answer}");
    let generated = generating.elapsed();
    let newest: Value = http
        .get(format!(
            "{}/statements?limit=1",
            credentials["xapi_url"].as_str().unwrap()
        ))
        .basic_auth(
            credentials["xapi_user"].as_str().unwrap(),
            credentials["xapi_password"].as_str(),
        )
        .header("X-Experience-API-Version", "1.0.3")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let newest = hrsync::connectors::stored_at(&newest["statements"][0]).expect("a newest statement");
    (generated, newest)
}
