//! Sandbox benchmarks: how fast the world is generated, and how many SCIM
//! requests per second the simulated LMS serves, so the sandbox is never what
//! limits the engine's benchmarks. Run: `cargo bench --bench sandbox [-- generate|scim]`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hrsync::model::ENTERPRISE_SCHEMA;
use hrsync::sandbox::world::{WorkforceSpec, generate};
use hrsync::sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

/// Loopback HTTP ceiling on this machine kind (measured), requests/s.
const HTTP_CEILING: f64 = 65_000.0;
const CONCURRENCY: usize = 64;
const SCIM_USERS: usize = 10_000;

fn main() {
    let wanted: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    if wanted.is_empty() {
        // Each benchmark in a fresh process: the million-employee generation
        // leaves a heap that would slow the HTTP benchmark after it, and peak
        // memory is then per benchmark.
        let me = std::env::current_exe().expect("the benchmark knows its own path");
        for name in ["generate", "scim"] {
            let status = std::process::Command::new(&me)
                .arg(name)
                .status()
                .expect("the benchmark runs");
            assert!(status.success(), "benchmark {name} failed");
        }
        return;
    }
    for name in wanted {
        match name.as_str() {
            "generate" => bench_generate(),
            "scim" => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(bench_scim());
            }
            other => panic!("no benchmark named {other}; there are generate and scim"),
        }
    }
}

fn bench_generate() {
    let employees: usize = std::env::var("HRSYNC_BENCH_EMPLOYEES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let spec = WorkforceSpec {
        employees,
        seed: 1,
        today: jiff::civil::date(2026, 11, 21),
        generated_at: jiff::Timestamp::now(),
    };
    let before = common::rss_mb("VmHWM:");
    let started = Instant::now();
    let workforce = generate(&spec);
    let seconds = started.elapsed().as_secs_f64();
    let peak = common::rss_mb("VmHWM:");
    println!(
        "generate: {employees} employees in {seconds:.2} s ({:.0} employees/s), peak RSS {peak:.0} MB (was {before:.0} MB before), {} planted duplicates",
        employees as f64 / seconds,
        workforce.planted_duplicates.len()
    );
}

async fn bench_scim() {
    let sandbox = Sandbox::start(SandboxConfig {
        employees: 10,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let creds = sandbox.credentials().clone();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let users = format!("{}/Users", creds.scim_url);

    // Seed the LMS with learners, concurrently.
    let mut ids: Vec<(usize, String)> = futures::future::join_all((0..CONCURRENCY).map(|worker| {
        let (client, users, token) = (client.clone(), users.clone(), creds.scim_token.clone());
        async move {
            let mut ids = Vec::new();
            for n in (worker..SCIM_USERS).step_by(CONCURRENCY) {
                let answer: Value = client
                    .post(&users)
                    .bearer_auth(&token)
                    .json(&learner(n, "Engineering"))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                ids.push((
                    n,
                    answer["id"]
                        .as_str()
                        .expect("created users have an id")
                        .to_string(),
                ));
            }
            ids
        }
    }))
    .await
    .into_iter()
    .flatten()
    .collect();
    assert_eq!(ids.len(), SCIM_USERS);
    // Index by learner number, so a PUT goes to the learner it describes.
    ids.sort_unstable();
    let ids: Arc<Vec<String>> = Arc::new(ids.into_iter().map(|(_, id)| id).collect());

    for kind in ["GET by filter", "PUT"] {
        let done = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(5);
        let started = Instant::now();
        let workers = (0..CONCURRENCY).map(|worker| {
            let (client, users, token) = (client.clone(), users.clone(), creds.scim_token.clone());
            let (done, failed, ids) = (done.clone(), failed.clone(), ids.clone());
            async move {
                let mut n = worker;
                while Instant::now() < deadline {
                    n = (n + 7919) % SCIM_USERS;
                    let request = if kind == "PUT" {
                        let department = if n % 2 == 0 { "Sales" } else { "Engineering" };
                        client
                            .put(format!("{users}/{}", ids[n]))
                            .json(&learner(n, department))
                    } else {
                        client
                            .get(&users)
                            .query(&[("filter", format!("externalId eq \"{n}\""))])
                    };
                    match request.bearer_auth(&token).send().await {
                        Ok(answer) if answer.status().is_success() => {
                            let _ = answer.bytes().await;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        });
        futures::future::join_all(workers.map(tokio::spawn)).await;
        let per_sec = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
        println!(
            "scim {kind}: {per_sec:.0} requests/s at {CONCURRENCY} keep-alive connections ({:.0}% of the {HTTP_CEILING:.0}/s loopback ceiling), {} failed",
            100.0 * per_sec / HTTP_CEILING,
            failed.load(Ordering::Relaxed)
        );
    }
    sandbox.shutdown().await;
}

fn learner(n: usize, department: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_SCHEMA],
        "userName": format!("learner{n}@acme.example"),
        "externalId": n.to_string(),
        "name": {"givenName": "Bench", "familyName": format!("Learner {n}")},
        "emails": [{"value": format!("learner{n}@acme.example"), "type": "work", "primary": true}],
        "active": true,
        ENTERPRISE_SCHEMA: {
            "employeeNumber": format!("E{n:07}"),
            "department": department,
            "costCenter": "CC-1101"
        }
    })
}
