//! Webhook intake: 64 senders keep the engine's webhook listener busy with signed
//! BambooHR-style deliveries for a fixed time, once with 1 change per delivery and
//! once with 100. It reports the events journaled per second, the time to the 200
//! (p50/p99/p99.9), and checks that every accepted change is journaled exactly once,
//! also when deliveries come again re-signed.
//!
//! The ceiling is measured just before each run, in the same process, with the same
//! client, senders and deliveries: a listener that reads each body and answers 200
//! with no other work. The engine's apply worker is paused, so intake is measured
//! alone. Run: `cargo bench --bench webhook_intake` (HRSYNC_BENCH_SECONDS, default
//! 10, for the length of each run).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::figure::{Figure, report};
use common::{SandboxProcess, engine_config, settle};
use hrsync::sandbox::hris::webhooks::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};

const SENDERS: usize = 64;
/// Deliveries kept from each engine run and sent again, re-signed.
const AGAIN: usize = 500;

/// One signed delivery.
#[derive(Clone)]
struct Delivery {
    body: Vec<u8>,
}

/// Changes to employees no one else touches: every change is new to the journal.
/// Written as text, not built as a `serde_json::Value`: the senders share the two
/// cores with the engine, so the cheaper they are, the more the engine is measured.
fn delivery(first: u64, changes: usize) -> Delivery {
    use std::io::Write;
    let now = jiff::Timestamp::now();
    let mut body = Vec::with_capacity(changes * 480 + 16);
    body.extend_from_slice(b"{\"employees\":[");
    for n in first..first + changes as u64 {
        if n != first {
            body.push(b',');
        }
        write!(
            body,
            "{{\"id\":\"B{n}\",\"action\":\"Updated\",\"timestamp\":\"{now}\",\"changedFields\":[\"jobTitle\"],\
             \"fields\":{{\"id\":\"B{n}\",\"employeeNumber\":\"EB{n:08}\",\"firstName\":\"Bench\",\
             \"lastName\":\"Sender{n}\",\"workEmail\":\"bench.{n}@acme.example\",\"jobTitle\":\"Analyst\",\
             \"department\":\"Finance\",\"division\":\"Corporate\",\"location\":\"London\",\
             \"employmentHistoryStatus\":\"Full-Time\",\"employmentStatus\":\"Active\",\"hireDate\":\"2020-01-06\"}}}}"
        )
        .unwrap();
    }
    body.extend_from_slice(b"]}");
    Delivery { body }
}

#[derive(Default)]
struct Drive {
    /// Deliveries answered 2xx, and not.
    ok: u64,
    refused: u64,
    latencies_us: Vec<u32>,
    secs: f64,
    kept: Vec<Delivery>,
}

impl Drive {
    fn per_second(&self) -> f64 {
        self.ok as f64 / self.secs
    }

    fn percentile_ms(&mut self, p: f64) -> f64 {
        self.latencies_us.sort_unstable();
        let Some(last) = self.latencies_us.len().checked_sub(1) else {
            return f64::NAN;
        };
        self.latencies_us[((last as f64) * p).round() as usize] as f64 / 1000.0
    }
}

async fn post(client: &reqwest::Client, url: &str, secret: &str, delivery: &Delivery) -> bool {
    let stamp = jiff::Timestamp::now().as_second().to_string();
    let signature = sign(secret.as_bytes(), &delivery.body, &stamp);
    client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, &stamp)
        .header(SIGNATURE_HEADER, signature)
        .body(delivery.body.clone())
        .send()
        .await
        .is_ok_and(|answer| answer.status().is_success())
}

/// `SENDERS` tasks post deliveries of `changes` changes to `url` for `length`.
async fn drive(url: &str, secret: &str, changes: usize, length: Duration, next: &Arc<AtomicU64>) -> Drive {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(SENDERS)
        .build()
        .unwrap();
    let started = Instant::now();
    let deadline = started + length;
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (client, url, secret, next) =
                (client.clone(), url.to_string(), secret.to_string(), next.clone());
            tokio::spawn(async move {
                let mut mine = Drive::default();
                while Instant::now() < deadline {
                    let delivery = delivery(next.fetch_add(changes as u64, Ordering::Relaxed), changes);
                    let sent = Instant::now();
                    if post(&client, &url, &secret, &delivery).await {
                        mine.ok += 1;
                        mine.latencies_us
                            .push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        if mine.kept.len() < AGAIN / SENDERS + 1 {
                            mine.kept.push(delivery);
                        }
                    } else {
                        mine.refused += 1;
                    }
                }
                mine
            })
        })
        .collect();
    let mut all = Drive::default();
    for sender in senders {
        let mine = sender.await.unwrap();
        all.ok += mine.ok;
        all.refused += mine.refused;
        all.latencies_us.extend(mine.latencies_us);
        all.kept.extend(mine.kept);
    }
    all.secs = started.elapsed().as_secs_f64();
    all
}

/// The ceiling: a listener that reads the body and answers 200, nothing else.
async fn bare_listener() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/hris", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/webhooks/hris",
        axum::routing::post(|body: axum::body::Bytes| async move {
            std::hint::black_box(body.len());
            "{}"
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn webhook_events(db: &std::path::Path) -> u64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("SELECT count(*) FROM events WHERE source = 'webhook'", [], |r| {
        r.get(0)
    })
    .unwrap()
}

fn main() {
    let seconds: u64 = std::env::var("HRSYNC_BENCH_SECONDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    let length = Duration::from_secs(seconds);
    let sandbox = SandboxProcess::start(env!("CARGO_BIN_EXE_hrsync"), 200, 3);
    common::runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (config, contract) = engine_config(&sandbox.credentials, dir.path());
        let engine = hrsync::engine::start(&config, contract).await.unwrap();
        settle(&engine.store).await;
        // Intake alone: what is journaled waits (as an operator's pause, which the
        // engine takes up from the store).
        engine.store.transaction(|tx| tx.request_pause(true)).unwrap();
        engine.paused.store(true, Ordering::SeqCst);
        let secret = config.webhook.secret.expose().to_string();
        let url = format!("http://{}/webhooks/hris", engine.webhook_addr);
        let bare = bare_listener().await;
        let db = dir.path().join("hrsync.db");
        let next = Arc::new(AtomicU64::new(1));
        let mut figures = Vec::new();
        for changes in [1, 100] {
            let mut ceiling = drive(&bare, &secret, changes, length, &next).await;
            let before = webhook_events(&db);
            let mut run = drive(&url, &secret, changes, length, &next).await;
            let journaled = webhook_events(&db) - before;
            assert_eq!(run.refused, 0, "the engine refused deliveries");
            assert_eq!(
                journaled,
                run.ok * changes as u64,
                "every accepted change journaled once"
            );
            // The same deliveries again, re-signed as a sender's retry would be: all
            // answered 200, none journaled twice.
            let client = reqwest::Client::new();
            for delivery in &run.kept {
                assert!(
                    post(&client, &url, &secret, delivery).await,
                    "a redelivery was refused"
                );
            }
            assert_eq!(
                webhook_events(&db) - before,
                journaled,
                "a redelivery was journaled again"
            );
            let name = format!("webhook intake, {changes} per delivery");
            let rate = |d: &Drive| d.per_second() * changes as f64;
            figures.push(
                Figure::new(format!("{name}: events/s"), rate(&run), "events/s").against(rate(&ceiling)),
            );
            for (label, p) in [("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999)] {
                figures.push(Figure::new(
                    format!("{name}: {label} to 200"),
                    run.percentile_ms(p),
                    "ms",
                ));
                figures.push(Figure::new(
                    format!("{name}: {label} bare listener"),
                    ceiling.percentile_ms(p),
                    "ms",
                ));
            }
            eprintln!(
                "{name}: {} deliveries in {:.1} s, {} kept and sent again",
                run.ok,
                run.secs,
                run.kept.len()
            );
        }
        report(&figures);
        engine.shutdown().await;
    });
}
