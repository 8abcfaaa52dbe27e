//! The webhook receiver over real HTTP: unsigned, badly signed, stale, replayed,
//! malformed and oversized deliveries are refused with the right status and
//! counted, nothing of them journaled; a change delivered twice applies once; a
//! delivery that would deactivate more learners than the threshold allows is held.

use crate::common;

use common::{Options, start};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

fn sign(secret: &str, body: &[u8], stamp: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    mac.update(stamp.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

struct Post<'a> {
    body: Vec<u8>,
    stamp: String,
    signature: Option<String>,
    url: &'a str,
}

impl Post<'_> {
    async fn send(&self, http: &reqwest::Client) -> (u16, Value) {
        let mut request = http
            .post(self.url)
            .header("content-type", "application/json")
            .header("X-BambooHR-Timestamp", &self.stamp)
            .body(self.body.clone());
        if let Some(signature) = &self.signature {
            request = request.header("X-BambooHR-Signature", signature);
        }
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16();
        (status, answer.json().await.unwrap_or(Value::Null))
    }

    /// Sends the headers alone, declaring the body's length, and answers the
    /// status: a receiver that refuses a body by its declared length must answer
    /// before a byte of it is sent. (A client still writing a body it was refused
    /// sees a broken pipe, not the answer, whenever the receiver closes first.)
    async fn declared_only(&self) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (host, path) = (self.url.strip_prefix("http://").unwrap())
            .split_once('/')
            .unwrap();
        let mut head = format!(
            "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nX-BambooHR-Timestamp: {}\r\n",
            self.body.len(),
            self.stamp
        );
        if let Some(signature) = &self.signature {
            head.push_str(&format!("X-BambooHR-Signature: {signature}\r\n"));
        }
        head.push_str("\r\n");
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
            stream.write_all(head.as_bytes()).await.unwrap();
            let mut answer = Vec::new();
            let mut chunk = [0u8; 1024];
            while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "the connection closed before an answer: {answer:?}");
                answer.extend_from_slice(&chunk[..n]);
            }
            answer
        };
        let answer = tokio::time::timeout(std::time::Duration::from_secs(30), exchange)
            .await
            .expect("the receiver answers before the body is sent");
        let status_line = String::from_utf8_lossy(&answer);
        let status = status_line.split_whitespace().nth(1).unwrap_or_default();
        status
            .parse()
            .unwrap_or_else(|_| panic!("an HTTP status in {status_line:?}"))
    }
}

fn now() -> String {
    jiff::Timestamp::now().as_second().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_deliveries_are_refused_and_counted_and_a_repeated_change_applies_once() {
    let world = start(Options {
        employees: 120,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let secret = world.sandbox.credentials().webhook_secret.clone();
    let url = format!("http://{}/webhooks/hris", world.engine().webhook_addr);
    let before = world.store().counts().unwrap().total;

    let employee = world
        .hris()
        .await
        .into_values()
        .find(common::in_scope_and_employed)
        .unwrap();
    let id = employee["id"].as_str().unwrap().to_string();
    let mut fields = employee.as_object().unwrap().clone();
    fields.insert("jobTitle".into(), json!("Chief Webhook Officer"));
    let change = |at: &str| json!({"employees": [{"id": id, "action": "Updated", "timestamp": at, "fields": fields, "changedFields": ["jobTitle"]}]});
    let body = serde_json::to_vec(&change("2030-01-01T00:00:00Z")).unwrap();
    let stamp = now();
    let good = Post {
        signature: Some(sign(&secret, &body, &stamp)),
        body: body.clone(),
        stamp: stamp.clone(),
        url: &url,
    };

    let unsigned = Post {
        signature: None,
        ..good.clone_like()
    };
    assert_eq!(unsigned.send(&world.http).await.0, 401);
    let wrong = Post {
        signature: Some(sign("not-the-secret", &body, &stamp)),
        ..good.clone_like()
    };
    assert_eq!(wrong.send(&world.http).await.0, 401);
    let old_stamp = (jiff::Timestamp::now().as_second() - 600).to_string();
    let stale = Post {
        signature: Some(sign(&secret, &body, &old_stamp)),
        stamp: old_stamp,
        ..good.clone_like()
    };
    assert_eq!(stale.send(&world.http).await.0, 401);
    let broken = b"{\"employees\": [".to_vec();
    let malformed = Post {
        signature: Some(sign(&secret, &broken, &stamp)),
        body: broken,
        ..good.clone_like()
    };
    assert_eq!(malformed.send(&world.http).await.0, 400);
    let huge = vec![b' '; 2 * 1024 * 1024];
    let too_large = Post {
        signature: Some(sign(&secret, &huge, &stamp)),
        body: huge,
        ..good.clone_like()
    };
    assert_eq!(too_large.declared_only().await, 413);
    assert_eq!(
        world.store().counts().unwrap().total,
        before,
        "nothing refused was journaled"
    );

    let (status, answer) = good.send(&world.http).await;
    assert_eq!((status, answer["journaled"].as_u64()), (200, Some(1)), "{answer}");
    // The very same delivery again is a replay.
    assert_eq!(good.send(&world.http).await.0, 401);
    // The same change in a new delivery (the vendor re-sent it) is acknowledged, not journaled again.
    let stamp2 = (jiff::Timestamp::now().as_second() + 1).to_string();
    let again = Post {
        signature: Some(sign(&secret, &body, &stamp2)),
        stamp: stamp2,
        ..good.clone_like()
    };
    let (status, answer) = again.send(&world.http).await;
    assert_eq!(
        (status, answer["duplicates"].as_u64()),
        (200, Some(1)),
        "{answer}"
    );
    world.settle().await;
    let counts = world.store().counts().unwrap();
    assert_eq!(counts.total, before + 1);
    assert_eq!(counts.duplicates, 1, "{counts:?}");
    let learner = world.learners().await.remove(&id).unwrap();
    assert_eq!(learner["title"], "Chief Webhook Officer");

    let metrics = world
        .http
        .get(format!("http://{}/metrics", world.engine().admin_addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (result, n) in [
        ("unsigned", 1),
        ("bad_signature", 1),
        ("stale_timestamp", 1),
        ("malformed", 1),
        ("too_large", 1),
        ("replayed", 1),
    ] {
        let line = format!("hrsync_webhooks_total{{result=\"{result}\"}} {n}");
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
    assert!(
        metrics.contains("hrsync_apply_latency_seconds_count"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_of_mass_terminations_is_held_for_an_operator() {
    let world = start(Options {
        employees: 300,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let secret = world.sandbox.credentials().webhook_secret.clone();
    let url = format!("http://{}/webhooks/hris", world.engine().webhook_addr);
    let active: Vec<Value> = world
        .hris()
        .await
        .into_values()
        .filter(common::in_scope_and_employed)
        .collect();
    assert!(active.len() > 60);
    let at = jiff::Timestamp::now().to_string();
    let terminations: Vec<Value> = active[..60]
        .iter()
        .map(|e| {
            let mut fields = e.as_object().unwrap().clone();
            fields.insert("employmentStatus".into(), json!("Terminated"));
            fields.insert("status".into(), json!("Inactive"));
            json!({"id": e["id"], "action": "Updated", "timestamp": at, "fields": fields, "changedFields": ["employmentStatus"]})
        })
        .collect();
    // Suspected duplicates are held from the start; the deactivations come on top.
    let held_before = world.store().counts().unwrap().held;
    let body = serde_json::to_vec(&json!({ "employees": terminations })).unwrap();
    let stamp = now();
    let post = Post {
        signature: Some(sign(&secret, &body, &stamp)),
        body,
        stamp,
        url: &url,
    };
    assert_eq!(post.send(&world.http).await.0, 200);
    world.settle().await;
    let counts = world.store().counts().unwrap();
    assert_eq!(counts.held, held_before + 60, "{counts:?}");
    let learners = world.learners().await;
    for e in &active[..60] {
        assert_eq!(
            learners[e["id"].as_str().unwrap()]["active"],
            true,
            "nobody is deactivated before confirmation"
        );
    }
    let held = hrsync::engine::operator::all_held(world.store()).unwrap();
    hrsync::engine::operator::confirm_held(world.store(), "on-call", &held).unwrap();
    world.engine().wake.notify_one();
    world.settle().await;
    let learners = world.learners().await;
    for e in &active[..60] {
        assert_eq!(
            learners[e["id"].as_str().unwrap()]["active"],
            false,
            "confirmed deactivations apply"
        );
    }
}

impl<'a> Post<'a> {
    fn clone_like(&self) -> Post<'a> {
        Post {
            body: self.body.clone(),
            stamp: self.stamp.clone(),
            signature: self.signature.clone(),
            url: self.url,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_that_is_not_the_records_own_or_not_a_whole_number_is_refused() {
    let world = start(Options {
        employees: 60,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let secret = world.sandbox.credentials().webhook_secret.clone();
    let url = format!("http://{}/webhooks/hris", world.engine().webhook_addr);
    let employee = world
        .hris()
        .await
        .into_values()
        .find(common::in_scope_and_employed)
        .unwrap();
    let mut fields = employee.as_object().unwrap().clone();
    fields.insert("jobTitle".into(), json!("Impostor"));
    let body = serde_json::to_vec(&json!({"employees": [
        {"id": "999999", "action": "Updated", "timestamp": "2030-01-02T00:00:00Z", "fields": fields},
        {"id": 1.5e300, "action": "Updated", "timestamp": "2030-01-02T00:00:00Z", "fields": {"id": "1"}},
    ]}))
    .unwrap();
    let stamp = now();
    let post = Post {
        signature: Some(sign(&secret, &body, &stamp)),
        body,
        stamp,
        url: &url,
    };
    let (status, answer) = post.send(&world.http).await;
    assert_eq!(status, 200, "{answer}");
    world.settle().await;
    let refused = world
        .store()
        .events_page(
            &hrsync::store::EventFilter {
                status: Some(hrsync::model::EventStatus::Rejected),
                ..Default::default()
            },
            None,
            10,
        )
        .unwrap();
    let reasons: Vec<String> = refused.iter().filter_map(|e| e.last_error.clone()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("not the change's id")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("whole number")), "{reasons:?}");
    let learner = world
        .learners()
        .await
        .remove(employee["id"].as_str().unwrap())
        .unwrap();
    assert_ne!(
        learner["title"], "Impostor",
        "nothing was written for the mismatched change"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_concurrent_copies_of_one_delivery_exactly_one_is_taken() {
    let world = start(Options {
        employees: 40,
        ..Options::default()
    })
    .await;
    world.settle().await;
    let secret = world.sandbox.credentials().webhook_secret.clone();
    let url = format!("http://{}/webhooks/hris", world.engine().webhook_addr);
    let employee = world
        .hris()
        .await
        .into_values()
        .find(common::in_scope_and_employed)
        .unwrap();
    let mut fields = employee.as_object().unwrap().clone();
    fields.insert("jobTitle".into(), json!("Concurrent Copy"));
    let body = serde_json::to_vec(&json!({"employees": [
        {"id": employee["id"], "action": "Updated", "timestamp": "2030-02-02T00:00:00Z", "fields": fields}
    ]}))
    .unwrap();
    let stamp = now();
    let signature = sign(&secret, &body, &stamp);
    let before = world.store().counts().unwrap().total;
    let sends = (0..20).map(|_| {
        let (http, url, body, stamp, signature) = (
            world.http.clone(),
            url.clone(),
            body.clone(),
            stamp.clone(),
            signature.clone(),
        );
        tokio::spawn(async move {
            http.post(url)
                .header("content-type", "application/json")
                .header("X-BambooHR-Timestamp", stamp)
                .header("X-BambooHR-Signature", signature)
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    });
    let mut statuses = Vec::new();
    for send in sends.collect::<Vec<_>>() {
        statuses.push(send.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|&&s| s == 401).count(), 19, "{statuses:?}");
    assert_eq!(world.store().counts().unwrap().total, before + 1);
}
