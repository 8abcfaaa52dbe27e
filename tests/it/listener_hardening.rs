//! The webhook listener under hostile connections, the real binary over
//! loopback: 20,000 idle connections from three addresses cost bounded memory
//! and signed deliveries from another keep being answered; a half-sent request
//! is closed; an unsigned delivery is refused before its body is read; metrics
//! and health are on the admin listener only. How fast the deliveries are
//! answered meanwhile is measured in `benches/soak.rs`, not asserted here.

use crate::common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{Options, start_for_binary};
use hmac::{Hmac, Mac};
use idle::{Closed, IdleConnections};
use sha2::Sha256;

/// The holders of idle connections, shared with the soak bench.
#[path = "../../benches/common/idle.rs"]
mod idle;

const IDLE: usize = 20_000;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn signed_delivery(secret: &str, n: usize) -> (Vec<u8>, String, String) {
    // Each its own body: the same signature twice is a replay.
    let body = format!(r#"{{"employees": [], "delivery": {n}}}"#).into_bytes();
    let stamp = jiff::Timestamp::now().as_second().to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&body);
    mac.update(stamp.as_bytes());
    (body, stamp, hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_connections_cost_bounded_memory_and_signed_deliveries_go_on() {
    let world = start_for_binary(Options {
        employees: 20,
        ..Options::default()
    })
    .await;
    let config = world.dir.path().join("hrsync.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "secret_env = \"T_WEBHOOK_SECRET\"\n",
            "secret_env = \"T_WEBHOOK_SECRET\"\nheader_timeout_s = 1\nrequest_timeout_s = 2\nmax_per_address = 100\n",
        ),
    )
    .unwrap();
    let mut engine = world.spawn_binary();
    let webhook: SocketAddr = world.config.webhook.listen;
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(webhook).is_err() {
        assert!(engine.try_wait().unwrap().is_none(), "the engine exited");
        assert!(Instant::now() < deadline, "the engine did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = rss_kib(engine.id());

    // 20,000 idle connections, more than one process may open here, from three
    // addresses (the cap per address closes most of them at once).
    let sources: Vec<Ipv4Addr> = (10..13).map(|n| Ipv4Addr::new(127, 0, 0, n)).collect();
    let mut idle =
        tokio::task::spawn_blocking(move || IdleConnections::open(webhook, &sources, IDLE, Closed::Stay))
            .await
            .unwrap();
    assert_eq!(idle.held(), IDLE, "every idle connection was made");

    // Signed deliveries from another address are answered meanwhile.
    let secret = world.sandbox.credentials().webhook_secret.clone();
    let client = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = format!("http://{webhook}/webhooks/hris");
    let mut slowest = Duration::ZERO;
    for n in 0..20 {
        let (body, stamp, signature) = signed_delivery(&secret, n);
        let started = Instant::now();
        let answer = client
            .post(&url)
            .header("X-BambooHR-Timestamp", stamp)
            .header("X-BambooHR-Signature", signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("a signed delivery is answered during the flood");
        slowest = slowest.max(started.elapsed());
        assert_eq!(answer.status(), 200);
    }
    eprintln!("slowest signed delivery during {IDLE} idle connections: {slowest:?}");
    let during = rss_kib(engine.id());
    assert!(
        during < before + 64 * 1024,
        "memory stays bounded: {before} KiB before, {during} KiB with the idle connections"
    );

    // The idle connections the engine kept are closed once the header timeout passes.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let open = tokio::task::block_in_place(|| idle.still_open());
        if open == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} idle connections are still open"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(idle);

    // A half-sent request is closed after the header timeout.
    let mut half = TcpStream::connect(webhook).unwrap();
    half.write_all(b"POST /webhooks/hris HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    half.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = half.read_to_end(&mut rest);
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "a half-sent request is cut off"
    );

    // Unsigned, announcing a megabyte: refused before the body is sent.
    let mut unsigned = TcpStream::connect(webhook).unwrap();
    unsigned
        .write_all(
            b"POST /webhooks/hris HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              X-BambooHR-Timestamp: 1\r\nContent-Length: 1000000\r\n\r\n",
        )
        .unwrap();
    unsigned.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answer = [0u8; 12];
    unsigned
        .read_exact(&mut answer)
        .expect("answered without the body");
    assert_eq!(&answer, b"HTTP/1.1 401");

    // Metrics are not on the webhook port.
    let metrics = reqwest::get(format!("http://{webhook}/metrics")).await.unwrap();
    assert_eq!(metrics.status(), 404);

    let _ = engine.kill();
    let _ = engine.wait();
}

/// Idle connections from many addresses fill the cap on open connections; the
/// one idle longest is closed to make room, so a delivery is never locked out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_from_many_addresses_make_room_for_a_delivery() {
    let world = start_for_binary(Options {
        employees: 20,
        ..Options::default()
    })
    .await;
    let config = world.dir.path().join("hrsync.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "secret_env = \"T_WEBHOOK_SECRET\"\n",
            "secret_env = \"T_WEBHOOK_SECRET\"\nmax_connections = 200\nmax_per_address = 50\n",
        ),
    )
    .unwrap();
    let mut engine = world.spawn_binary();
    let webhook: SocketAddr = world.config.webhook.listen;
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(webhook).is_err() {
        assert!(engine.try_wait().unwrap().is_none(), "the engine exited");
        assert!(Instant::now() < deadline, "the engine did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // 20 addresses × 50: five times the cap, none of them over its own limit.
    let sources: Vec<Ipv4Addr> = (20..40).map(|n| Ipv4Addr::new(127, 0, 0, n)).collect();
    let _idle =
        tokio::task::spawn_blocking(move || IdleConnections::open(webhook, &sources, 1000, Closed::Reopen))
            .await
            .unwrap();
    let secret = world.sandbox.credentials().webhook_secret.clone();
    let client = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = format!("http://{webhook}/webhooks/hris");
    for n in 0..20 {
        let (body, stamp, signature) = signed_delivery(&secret, n);
        let answer = client
            .post(&url)
            .header("X-BambooHR-Timestamp", stamp)
            .header("X-BambooHR-Signature", signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("a signed delivery is answered while idle connections fill the cap");
        assert_eq!(answer.status(), 200);
    }
    let _ = engine.kill();
    let _ = engine.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_are_on_the_admin_listener() {
    let world = common::start(Options {
        employees: 20,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let admin = world.engine().admin_addr;
    let health = reqwest::get(format!("http://{admin}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let ready: serde_json::Value = reqwest::get(format!("http://{admin}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["ready"], true, "{ready}");
    let lms = ready["systems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["system"] == "lms");
    assert_eq!(
        lms.map(|s| s["state"].clone()),
        Some(serde_json::json!("up")),
        "{ready}"
    );
    let metrics = reqwest::get(format!("http://{admin}/metrics")).await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics.text().await.unwrap().contains("hrsync_"));
}
