//! How long signed deliveries wait while 20,000 idle connections are held
//! against the webhook listener (its default limits): first with none, then
//! from 3 addresses (the cap per address turns most away), then from 20 (more
//! than the cap on all connections lets in). Each delivery is one real change
//! of an employee on a fresh connection from another address, journaled and
//! applied as any other; the holders re-open what the server closes.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::common::idle::{Closed, IdleConnections};
use crate::world::{Engine, World};

const IDLE: usize = 20_000;
const DELIVERIES: usize = 200;
/// What the issue asks of a signed delivery during the flood.
const AIM: Duration = Duration::from_millis(100);

pub async fn run(world: &World, engine: &Engine) {
    let employees = employees(world).await;
    let sender = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        // A fresh connection each time: a sender must get past the caps to be answered.
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut sent = 0;
    let baseline = deliver(world, &sender, &employees, &mut sent).await;
    println!(
        "signed deliveries, no idle connections: {} (engine RSS {:.0} MB)",
        baseline.line(),
        engine.mb("VmRSS:")
    );
    for addresses in [3, 20] {
        let sources: Vec<Ipv4Addr> = (0..addresses).map(|n| Ipv4Addr::new(127, 0, 0, 10 + n)).collect();
        let before = engine.mb("VmRSS:");
        let opening = Instant::now();
        let target = world.webhook;
        let mut idle = tokio::task::spawn_blocking(move || {
            IdleConnections::open(target, &sources, IDLE, Closed::Reopen)
        })
        .await
        .unwrap();
        let opened = opening.elapsed();
        let during = deliver(world, &sender, &employees, &mut sent).await;
        let rss = engine.mb("VmRSS:");
        let open = tokio::task::block_in_place(|| idle.still_open());
        println!(
            "signed deliveries, {IDLE} idle connections from {addresses} addresses ({} made in {:.1} s, \
             {open} open at the end): {}; engine RSS {before:.0} MB before, {rss:.0} MB during",
            idle.held(),
            opened.as_secs_f64(),
            during.line(),
        );
    }
}

/// Latencies of one series of deliveries, and those not answered 200.
struct Series {
    latencies: Vec<Duration>,
    failed: Vec<String>,
}

impl Series {
    fn line(&self) -> String {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let at = |q: f64| {
            let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len().max(1)) - 1;
            sorted.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
        };
        let within = sorted.iter().filter(|d| **d <= AIM).count();
        format!(
            "{} answered 200, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {within} within {} ms; {} not answered{}",
            sorted.len(),
            at(0.5),
            at(0.99),
            at(1.0),
            AIM.as_millis(),
            self.failed.len(),
            self.failed
                .first()
                .map_or(String::new(), |first| format!(" (first: {first})")),
        )
    }
}

async fn deliver(world: &World, sender: &reqwest::Client, employees: &[Value], sent: &mut usize) -> Series {
    let url = format!("http://{}/webhooks/hris", world.webhook);
    let secret = world.credentials.webhook_secret.as_bytes();
    let mut series = Series {
        latencies: Vec::new(),
        failed: Vec::new(),
    };
    for _ in 0..DELIVERIES {
        let employee = &employees[*sent % employees.len()];
        *sent += 1;
        // The employee as the HRIS holds them, "changed" now: journaled, then
        // found unchanged in the LMS.
        let body = json!({ "employees": [{
            "id": employee["id"],
            "action": "Updated",
            "timestamp": jiff::Timestamp::now().to_string(),
            "fields": employee,
            "changedFields": [],
        }]})
        .to_string();
        let stamp = jiff::Timestamp::now().as_second().to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(body.as_bytes());
        mac.update(stamp.as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());
        let started = Instant::now();
        let answer = sender
            .post(&url)
            .header("X-BambooHR-Timestamp", stamp)
            .header("X-BambooHR-Signature", signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        match answer {
            Ok(answer) if answer.status() == 200 => series.latencies.push(started.elapsed()),
            Ok(answer) => series.failed.push(format!("answered {}", answer.status())),
            Err(error) => series.failed.push(format!("{error:?}")),
        }
    }
    series
}

/// Active employees as the HRIS holds them, with the fields a webhook carries.
async fn employees(world: &World) -> Vec<Value> {
    let c = &world.credentials;
    let fields = [
        "id",
        "employeeNumber",
        "workEmail",
        "firstName",
        "lastName",
        "preferredName",
        "displayName",
        "hireDate",
        "supervisorEId",
        "department",
        "division",
        "location",
        "jobTitle",
        "employmentHistoryStatus",
        "status",
        "employmentStatus",
        "terminationDate",
        "costCenter",
    ];
    let report: Value = world
        .http
        .post(format!("{}/reports/custom?format=JSON", c.hris_api()))
        .basic_auth(&c.hris_api_key, Some("x"))
        .json(&json!({ "fields": fields }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    report["employees"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["employmentStatus"] == "Active")
        .take(DELIVERIES)
        .cloned()
        .collect()
}
