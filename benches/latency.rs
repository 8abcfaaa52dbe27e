//! Steady-state latency: while the sandbox HRIS changes 200 employees a second
//! and posts each change to the engine as a BambooHR-style webhook, how long
//! from the engine's receipt of a change to the LMS's acknowledgement, p50 and
//! p99, read from the engine's own window of the last minute (the figures the
//! console's header shows).
//!
//! The ceiling, measured just before in the same run with the same rate: the
//! sandbox LMS's own round trip for what an update costs at least, a SCIM
//! lookup by `externalId` and a PUT of the learner found, from one client.
//!
//! Run: `cargo bench --bench latency` (HRSYNC_BENCH_SECONDS, default 75: the
//! first 15 s let the initial load's events leave the one-minute window;
//! HRSYNC_BENCH_RATE, default 200 changes/s).

mod common;

use std::time::{Duration, Instant};

use common::figure::{Figure, report};
use common::{SandboxProcess, engine_config, settle};
use hrsync::sandbox::Credentials;
use serde_json::{Value, json};

/// What the churn asks for, in turn: updates, as ordinary churn mostly is, and
/// leaves with as many returns (a promotion would run out of people to promote).
const KINDS: [&str; 6] = [
    "transfer",
    "name_change",
    "leave",
    "email_change",
    "transfer",
    "return",
];

/// How often the churn is asked for a batch of changes.
const TICK: Duration = Duration::from_millis(50);

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// Nearest-rank percentile of sorted `samples`, in milliseconds.
fn percentile_ms(samples: &mut [Duration], quantile: f64) -> f64 {
    samples.sort_unstable();
    let Some(last) = samples.len().checked_sub(1) else {
        return f64::NAN;
    };
    samples[((last as f64) * quantile).round() as usize].as_secs_f64() * 1000.0
}

/// Every `TICK`, the work of `per_tick` items, each started on time and timed
/// from its start: a late answer does not slow the rate.
async fn paced<F, Fut>(length: Duration, per_tick: u64, work: F) -> Vec<Duration>
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = Vec<Duration>> + Send + 'static,
{
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let until = Instant::now() + length;
    let mut running = Vec::new();
    let mut round = 0;
    while Instant::now() < until {
        tick.tick().await;
        running.push(tokio::spawn(work(round * per_tick)));
        round += 1;
    }
    let mut times = Vec::new();
    for task in running {
        times.extend(task.await.expect("a paced task ends"));
    }
    times
}

/// The ceiling: a SCIM lookup by externalId and a PUT of the learner, as an
/// update costs the engine at least, at the same rate.
async fn ceiling(credentials: &Credentials, length: Duration, per_tick: u64) -> Vec<Duration> {
    let http = reqwest::Client::new();
    let listed: Value = http
        .get(format!("{}/Users?count=200", credentials.scim_url))
        .bearer_auth(&credentials.scim_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let learners: Vec<Value> = listed["Resources"].as_array().cloned().unwrap_or_default();
    assert!(
        !learners.is_empty(),
        "the LMS has learners after the initial load"
    );
    let learners = std::sync::Arc::new(learners);
    paced(length, per_tick, |first| {
        let (http, learners, scim, token) = (
            http.clone(),
            learners.clone(),
            credentials.scim_url.clone(),
            credentials.scim_token.clone(),
        );
        async move {
            let mut times = Vec::new();
            for n in first..first + per_tick {
                let learner = &learners[n as usize % learners.len()];
                let (id, external) = (
                    learner["id"].as_str().unwrap(),
                    learner["externalId"].as_str().unwrap(),
                );
                let started = Instant::now();
                let found = http
                    .get(format!("{scim}/Users"))
                    .query(&[("filter", format!("externalId eq \"{external}\""))])
                    .bearer_auth(&token)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                let put = http
                    .put(format!("{scim}/Users/{id}"))
                    .bearer_auth(&token)
                    .json(learner)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                assert!(found && put, "the sandbox LMS answered the ceiling's requests");
                times.push(started.elapsed());
            }
            times
        }
    })
    .await
}

/// Asks the sandbox for `per_tick` changes every tick for `length`; the count made.
async fn churn(credentials: &Credentials, length: Duration, per_tick: u64) -> usize {
    let http = reqwest::Client::new();
    let made = paced(length, per_tick, |first| {
        let (http, admin) = (http.clone(), credentials.admin_url.clone());
        async move {
            let changes: Vec<Value> = (first..first + per_tick)
                .map(|n| json!({ "kind": KINDS[n as usize % KINDS.len()] }))
                .collect();
            let answer: Value = http
                .post(format!("{admin}/churn"))
                .json(&json!({ "changes": changes }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            // One zero-length time per change made, to count them.
            let applied = answer["applied"].as_array().map_or(0, Vec::len);
            assert_eq!(
                applied, per_tick as usize,
                "the sandbox made every change asked: {answer}"
            );
            vec![Duration::ZERO; applied]
        }
    })
    .await;
    made.len()
}

fn main() {
    let seconds = env_number("HRSYNC_BENCH_SECONDS", 75).max(61);
    let rate = env_number("HRSYNC_BENCH_RATE", 200).max(20);
    let per_tick = (rate * TICK.as_millis() as u64 / 1000).max(1);
    common::runtime().block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let webhook = format!("http://{}/webhooks/hris", listener.local_addr().unwrap());
        let sandbox = SandboxProcess::start_with(
            env!("CARGO_BIN_EXE_hrsync"),
            2_000,
            11,
            &["--webhook-url", &webhook],
        );
        let credentials: Credentials = serde_json::from_value(sandbox.credentials.clone()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (config, contract) = engine_config(&sandbox.credentials, dir.path());
        let engine = hrsync::engine::start_with_listener(&config, contract, listener)
            .await
            .unwrap();
        settle(&engine.store).await;

        let mut bare = ceiling(&credentials, Duration::from_secs(15), per_tick).await;
        // The churn is asked for from a thread and runtime of its own: the
        // engine's tasks share this runtime, and their store calls block its
        // threads, which would delay the ticks and lower the rate asked.
        let asking = credentials.clone();
        let made = tokio::task::spawn_blocking(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(churn(&asking, Duration::from_secs(seconds), per_tick))
        })
        .await
        .unwrap();
        let window = engine.metrics.snapshot();
        settle(&engine.store).await;
        eprintln!(
            "{made} HRIS changes in {seconds} s ({:.0}/s asked {rate}/s); the engine's last minute: \
             {:.0} events/s, error rate {:.3}",
            made as f64 / seconds as f64,
            window.events_per_sec,
            window.error_rate
        );
        report(&[
            Figure::new(
                "changes/s made by the HRIS",
                made as f64 / seconds as f64,
                "changes/s",
            ),
            Figure::new("receipt → LMS ack, p50", window.p50_ms, "ms").against(percentile_ms(&mut bare, 0.5)),
            Figure::new("receipt → LMS ack, p99", window.p99_ms, "ms")
                .against(percentile_ms(&mut bare, 0.99)),
        ]);
        engine.shutdown().await;
    });
}
