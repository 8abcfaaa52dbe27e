//! Webhook delivery: HRIS changes POSTed in order, in batches, to the
//! configured URL, signed as BambooHR signs them (HMAC-SHA256 over body and
//! timestamp), retried a few times, and spoiled on purpose when faults say so.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::state::{ChangeAction, EmployeeChange};
use crate::sandbox::Shared;
use crate::sandbox::faults::WebhookFault;

/// Changes sent in one delivery at most.
pub const MAX_BATCH: usize = 100;
/// Waits before each retry of a failed delivery; then it is given up.
pub const RETRY_BACKOFF: [Duration; 3] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];
pub const TIMESTAMP_HEADER: &str = "X-BambooHR-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-BambooHR-Signature";

#[derive(Serialize)]
struct Payload<'a> {
    employees: Vec<PayloadEmployee<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PayloadEmployee<'a> {
    id: String,
    action: ChangeAction,
    timestamp: String,
    fields: &'a serde_json::Map<String, serde_json::Value>,
    changed_fields: &'a [&'static str],
}

/// One delivery, ready to send (and to send again unchanged).
struct Delivery {
    body: Vec<u8>,
    timestamp: String,
    signature: Option<String>,
}

/// Lowercase hex HMAC-SHA256 of `body` followed by `timestamp`.
pub fn sign(secret: &[u8], body: &[u8], timestamp: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    mac.update(timestamp.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Posts every change from `rx` to `url` until `cancel` fires or the
/// channel closes.
pub async fn deliver(
    mut rx: mpsc::UnboundedReceiver<EmployeeChange>,
    url: url::Url,
    shared: Arc<Shared>,
    cancel: CancellationToken,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(2))
        .user_agent("BambooHR-Webhooks (hrsync sandbox)")
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "webhook client cannot be built; no webhooks will be sent");
            return;
        }
    };
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let received = tokio::select! {
            _ = cancel.cancelled() => return,
            count = rx.recv_many(&mut batch, MAX_BATCH) => count,
        };
        if received == 0 {
            return;
        }
        let delivery = prepare(&batch, &shared);
        batch.clear();
        let (fault, duplicate) = shared.faults.webhook();
        let delivery = spoil(delivery, fault, &shared.credentials.webhook_secret);
        let times = if duplicate { 2 } else { 1 };
        for _ in 0..times {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = send_with_retries(&client, &url, &delivery) => {}
            }
        }
        // Delivered or given up: either way no longer on its way.
        let mut hris = shared.hris.lock();
        hris.webhooks_queued = hris.webhooks_queued.saturating_sub(received as u64);
    }
}

fn prepare(batch: &[EmployeeChange], shared: &Shared) -> Delivery {
    let payload = Payload {
        employees: batch
            .iter()
            .map(|change| PayloadEmployee {
                id: change.employee_id.to_string(),
                action: change.action,
                timestamp: change.at.to_string(),
                fields: &change.fields,
                changed_fields: &change.changed_fields,
            })
            .collect(),
    };
    let body = serde_json::to_vec(&payload).unwrap_or_default();
    let timestamp = Timestamp::now().as_second().to_string();
    let signature = sign(shared.credentials.webhook_secret.as_bytes(), &body, &timestamp);
    Delivery {
        body,
        timestamp,
        signature: Some(signature),
    }
}

/// Applies an injected fault to a delivery.
fn spoil(mut delivery: Delivery, fault: WebhookFault, secret: &str) -> Delivery {
    match fault {
        WebhookFault::None => {}
        WebhookFault::Malformed => {
            // Cut off halfway, as a proxy that drops the connection would:
            // never valid JSON, yet signed as sent.
            delivery.body.truncate(delivery.body.len() / 2);
            delivery.signature = Some(sign(secret.as_bytes(), &delivery.body, &delivery.timestamp));
        }
        WebhookFault::Unsigned => delivery.signature = None,
        WebhookFault::BadSignature => {
            let wrong_key = format!("not-{secret}");
            delivery.signature = Some(sign(wrong_key.as_bytes(), &delivery.body, &delivery.timestamp));
        }
    }
    delivery
}

async fn send_with_retries(client: &reqwest::Client, url: &url::Url, delivery: &Delivery) {
    let mut waits = RETRY_BACKOFF.iter();
    loop {
        let problem = match send(client, url, delivery).await {
            Ok(status) if status.is_success() => return,
            Ok(status) => format!("answered {status}"),
            Err(error) => format!("failed: {error}"),
        };
        match waits.next() {
            Some(wait) => {
                tracing::debug!(%url, %problem, retry_in = ?wait, "webhook delivery failed");
                tokio::time::sleep(*wait).await;
            }
            None => {
                tracing::warn!(%url, %problem, attempts = RETRY_BACKOFF.len() + 1, "webhook delivery given up");
                return;
            }
        }
    }
}

async fn send(
    client: &reqwest::Client,
    url: &url::Url,
    delivery: &Delivery,
) -> Result<reqwest::StatusCode, reqwest::Error> {
    let mut request = client
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, &delivery.timestamp)
        .body(delivery.body.clone());
    if let Some(signature) = &delivery.signature {
        request = request.header(SIGNATURE_HEADER, signature);
    }
    Ok(request.send().await?.status())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hex_hmac_over_body_then_timestamp() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let signature = sign(b"Jefe", b"what do ya want ", "for nothing?");
        assert_eq!(
            signature,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn spoiled_deliveries_differ_as_named() {
        let fresh = || Delivery {
            body: br#"{"employees":[]}"#.to_vec(),
            timestamp: "1700000000".into(),
            signature: Some(sign(b"secret", br#"{"employees":[]}"#, "1700000000")),
        };
        let malformed = spoil(fresh(), WebhookFault::Malformed, "secret");
        assert!(serde_json::from_slice::<serde_json::Value>(&malformed.body).is_err());
        assert_eq!(
            malformed.signature.as_deref(),
            Some(sign(b"secret", &malformed.body, "1700000000").as_str())
        );
        assert_eq!(spoil(fresh(), WebhookFault::Unsigned, "secret").signature, None);
        assert_ne!(
            spoil(fresh(), WebhookFault::BadSignature, "secret").signature,
            fresh().signature
        );
    }
}
