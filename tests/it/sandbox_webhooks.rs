//! HRIS webhooks as a receiver sees them: signed over body and timestamp,
//! shaped like BambooHR's, retried on failure, spoiled when faults say so.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use hrsync::sandbox::faults::Faults;
use hrsync::sandbox::hris::employee::FIELDS;
use hrsync::sandbox::{Sandbox, SandboxConfig};
use parking_lot::Mutex;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

/// What the receiver saw of one delivery.
#[derive(Clone)]
struct Delivery {
    headers: HeaderMap,
    body: Bytes,
}

impl Delivery {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a well-formed delivery is JSON")
    }
}

#[derive(Default)]
struct Inbox {
    deliveries: Mutex<Vec<Delivery>>,
    /// Statuses to answer first, in order; 200 after them.
    answers: Mutex<VecDeque<StatusCode>>,
}

/// A webhook receiver on 127.0.0.1:0 that stops when dropped.
struct Receiver {
    url: url::Url,
    inbox: Arc<Inbox>,
    stop: CancellationToken,
}

impl Receiver {
    async fn start(first_answers: &[StatusCode]) -> Receiver {
        let inbox = Arc::new(Inbox::default());
        inbox.answers.lock().extend(first_answers);
        let app = axum::Router::new()
            .route("/hooks", axum::routing::post(receive))
            .with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stopped.cancelled_owned())
                .await;
        });
        Receiver { url, inbox, stop }
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.inbox.deliveries.lock().clone()
    }

    /// Waits until at least `count` deliveries arrived (10 s at most).
    async fn wait_for(&self, count: usize) -> Vec<Delivery> {
        for _ in 0..500 {
            let deliveries = self.deliveries();
            if deliveries.len() >= count {
                return deliveries;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{} deliveries arrived, {count} expected", self.deliveries().len());
    }

    /// Waits for `count` deliveries, then until the sandbox has nothing left
    /// on its way (every change delivered or given up), and sees no more came.
    async fn exactly(&self, count: usize, sandbox: &Sandbox) -> Vec<Delivery> {
        self.wait_for(count).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while sandbox.shared().hris.lock().webhooks_queued > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "deliveries still on their way"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let deliveries = self.deliveries();
        assert_eq!(deliveries.len(), count, "no more deliveries than expected");
        deliveries
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    inbox.deliveries.lock().push(Delivery { headers, body });
    inbox.answers.lock().pop_front().unwrap_or(StatusCode::OK)
}

async fn sandbox(receiver: &Receiver, faults: Faults) -> Sandbox {
    let config = SandboxConfig {
        employees: 40,
        webhook_url: Some(receiver.url.clone()),
        faults,
        ..SandboxConfig::default()
    };
    Sandbox::start(config).await.expect("sandbox starts")
}

async fn churn(sandbox: &Sandbox, changes: Value) -> Vec<String> {
    let url = format!("{}/churn", sandbox.credentials().admin_url);
    let response = reqwest::Client::new()
        .post(url)
        .json(&json!({ "changes": changes }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let applied: Value = response.json().await.unwrap();
    applied["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["employee_id"].as_str().unwrap().to_string())
        .collect()
}

fn signature_is_valid(sandbox: &Sandbox, delivery: &Delivery) -> bool {
    let (Some(signature), Some(timestamp)) = (
        delivery.header("x-bamboohr-signature"),
        delivery.header("x-bamboohr-timestamp"),
    ) else {
        return false;
    };
    let secret = sandbox.credentials().webhook_secret.as_bytes();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(&delivery.body);
    mac.update(timestamp.as_bytes());
    let Ok(signature) = hex::decode(signature) else {
        return false;
    };
    mac.verify_slice(&signature).is_ok()
}

/// Every employee entry across `deliveries`, in delivery order.
fn entries(deliveries: &[Delivery]) -> Vec<Value> {
    deliveries
        .iter()
        .flat_map(|d| d.json()["employees"].as_array().unwrap().clone())
        .collect()
}

#[tokio::test]
async fn churn_is_delivered_signed_and_shaped_like_bamboohr() {
    let receiver = Receiver::start(&[]).await;
    let sandbox = sandbox(&receiver, Faults::default()).await;
    let changes = json!([{"kind": "termination"}, {"kind": "transfer"}, {"kind": "hire"}]);
    let ids = churn(&sandbox, changes).await;

    let mut deliveries = receiver.wait_for(1).await;
    while entries(&deliveries).len() < 3 {
        deliveries = receiver.wait_for(deliveries.len() + 1).await;
    }
    for delivery in &deliveries {
        assert!(
            signature_is_valid(&sandbox, delivery),
            "signed with the webhook secret"
        );
        let timestamp: i64 = delivery.header("x-bamboohr-timestamp").unwrap().parse().unwrap();
        assert!((timestamp - jiff::Timestamp::now().as_second()).abs() < 60);
        assert_eq!(delivery.header("content-type"), Some("application/json"));
    }
    let entries = entries(&deliveries);
    let seen: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(seen, ids, "in the order they happened");
    let expected = [
        (
            "Updated",
            json!(["status", "employmentStatus", "terminationDate"]),
        ),
        ("Updated", json!(["location", "costCenter"])),
        ("Inserted", json!([])),
    ];
    for (entry, (action, changed)) in entries.iter().zip(expected) {
        assert_eq!(entry["action"], action, "{entry}");
        assert_eq!(entry["changedFields"], changed, "{entry}");
        entry["timestamp"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap();
        let fields = entry["fields"].as_object().unwrap();
        assert_eq!(fields.len(), FIELDS.len());
        assert_eq!(fields["id"], entry["id"]);
    }
    assert_eq!(entries[0]["fields"]["employmentStatus"], "Terminated");
}

#[tokio::test]
async fn a_failing_receiver_gets_retries() {
    let errors = [StatusCode::INTERNAL_SERVER_ERROR, StatusCode::SERVICE_UNAVAILABLE];
    let receiver = Receiver::start(&errors).await;
    let sandbox = sandbox(&receiver, Faults::default()).await;
    churn(&sandbox, json!([{"kind": "leave"}])).await;
    let deliveries = receiver.exactly(3, &sandbox).await;
    for retry in &deliveries[1..] {
        assert_eq!(
            retry.body, deliveries[0].body,
            "a retry resends the same delivery"
        );
        assert!(signature_is_valid(&sandbox, retry));
    }
}

#[tokio::test]
async fn each_webhook_fault_produces_exactly_that() {
    let receiver = Receiver::start(&[]).await;
    let ratios = [
        "malformed_ratio",
        "unsigned_ratio",
        "bad_signature_ratio",
        "duplicate_ratio",
    ];
    for ratio in ratios {
        receiver.inbox.deliveries.lock().clear();
        let faults: Faults = serde_json::from_value(json!({"webhooks": {ratio: 1.0}})).unwrap();
        let sandbox = sandbox(&receiver, faults).await;
        churn(&sandbox, json!([{"kind": "email_change"}])).await;
        let deliveries = receiver
            .exactly(if ratio == "duplicate_ratio" { 2 } else { 1 }, &sandbox)
            .await;
        let first = &deliveries[0];
        match ratio {
            "malformed_ratio" => {
                assert!(serde_json::from_slice::<Value>(&first.body).is_err());
                assert!(signature_is_valid(&sandbox, first), "malformed, yet signed");
            }
            "unsigned_ratio" => {
                assert_eq!(first.header("x-bamboohr-signature"), None);
                assert!(first.header("x-bamboohr-timestamp").is_some());
                assert_eq!(entries(&deliveries).len(), 1);
            }
            "bad_signature_ratio" => {
                assert!(first.header("x-bamboohr-signature").is_some());
                assert!(!signature_is_valid(&sandbox, first));
                assert_eq!(entries(&deliveries).len(), 1);
            }
            _ => {
                let second = &deliveries[1];
                assert_eq!(first.body, second.body);
                for header in ["x-bamboohr-signature", "x-bamboohr-timestamp"] {
                    assert_eq!(first.header(header), second.header(header), "{header}");
                }
                assert!(signature_is_valid(&sandbox, first));
            }
        }
        sandbox.shutdown().await;
    }
}

#[tokio::test]
async fn a_training_record_sends_a_webhook() {
    let receiver = Receiver::start(&[]).await;
    let sandbox = sandbox(&receiver, Faults::default()).await;
    let credentials = sandbox.credentials();
    let id = sandbox.shared().hris.lock().employees[5].id;
    let response = reqwest::Client::new()
        .post(format!(
            "{}/training/record/employee/{id}",
            credentials.hris_api()
        ))
        .basic_auth(&credentials.hris_api_key, Some("x"))
        .json(&json!({"completed": "2026-06-01", "type": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let deliveries = receiver.exactly(1, &sandbox).await;
    assert!(signature_is_valid(&sandbox, &deliveries[0]));
    let entries = entries(&deliveries);
    assert_eq!(entries[0]["id"], id.to_string());
    assert_eq!(entries[0]["action"], "Updated");
    assert_eq!(entries[0]["changedFields"], json!(["trainingRecords"]));
}
