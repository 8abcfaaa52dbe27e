//! The completion write-back: 100,000 completions stored in the sandbox LRS,
//! read, journaled and written to the sandbox HRIS as training records (and
//! certification rows) through the whole engine. The sandbox runs as its own
//! process, so the peak memory reported is the engine's alone.
//! Run: `cargo bench --bench writeback` (HRSYNC_BENCH_COMPLETIONS to change the size,
//! HRSYNC_BENCH_CONCURRENCY for `[apply] concurrency`, HRSYNC_BENCH_SANDBOX for another
//! hrsync binary to run the sandbox with).

mod common;
mod cpu;

use std::time::{Duration, Instant};

use common::{SandboxProcess, engine_config, settle};
use serde_json::{Value, json};

fn main() {
    let completions: usize = std::env::var("HRSYNC_BENCH_COMPLETIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let binary =
        std::env::var("HRSYNC_BENCH_SANDBOX").unwrap_or_else(|_| env!("CARGO_BIN_EXE_hrsync").into());
    let sandbox = SandboxProcess::start(&binary, 2000, 5);
    let credentials = &sandbox.credentials;

    common::runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (mut config, contract) = engine_config(credentials, dir.path());
        if let Ok(n) = std::env::var("HRSYNC_BENCH_CONCURRENCY") {
            config.apply.concurrency = n.parse().expect("a number");
        }
        if let Some(lrs) = config.lrs.as_mut() {
            lrs.poll_interval = Duration::from_millis(200);
        }
        let engine = hrsync::engine::start(&config, contract).await.unwrap();
        // The initial load of the 2,000 employees first, untimed.
        settle(&engine.store).await;
        let before = engine.store.counts().unwrap();

        let http = reqwest::Client::new();
        let admin = credentials["admin_url"].as_str().unwrap();
        let generating = Instant::now();
        let answer: Value = http
            .post(format!("{admin}/completions"))
            .json(&json!({ "count": completions, "from": "hris" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(answer.is_object(), "{answer}");
        let generated = generating.elapsed();
        let newest: Value = http
            .get(format!("{}/statements?limit=1", credentials["xapi_url"].as_str().unwrap()))
            .basic_auth(credentials["xapi_user"].as_str().unwrap(), credentials["xapi_password"].as_str())
            .header("X-Experience-API-Version", "1.0.3")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let newest = hrsync::connectors::stored_at(&newest["statements"][0]).expect("a newest statement");

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
        let after = engine.store.counts().unwrap();
        let finished = (after.applied + after.unchanged) - (before.applied + before.unchanged);
        let snapshot = engine.metrics.snapshot();
        println!(
            "write-back of {completions} generated statements (stored in {:.1} s): {finished} completions read in \
             {:.1} s and applied in {elapsed:.1} s in all = {:.0} completions/s; {} dead letters, {} rejected; \
             receipt→HRIS p50 {:.0} ms p99 {:.0} ms (last 60 s); engine peak RSS {:.0} MB",
            generated.as_secs_f64(),
            read.as_secs_f64(),
            finished as f64 / elapsed,
            after.dead_letters - before.dead_letters,
            after.rejected - before.rejected,
            snapshot.p50_ms,
            snapshot.p99_ms,
            common::rss_mb("VmHWM:")
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
    });
}
