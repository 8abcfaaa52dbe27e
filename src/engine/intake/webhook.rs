//! The webhook receiver: checks a BambooHR-style delivery's signature, timestamp
//! and freshness (the headers before the body is read), journals each employee
//! change durably (group commit), and only then answers 200. Every refusal is
//! counted. It serves nothing else: metrics and health are on the admin listener.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use parking_lot::Mutex;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::config::SafetyThreshold;
use crate::connectors::Notifier;
use crate::contract::Contract;
use crate::engine::apply::supersede;
use crate::engine::intake::journal_writer::{Intake, JournalWriter};
use crate::engine::operator::metrics::{Metrics, WebhookResult};
use crate::model::{Direction, FieldReason, NewEvent, Secret, Source, hris_change_key};
use crate::store::Appended;

pub const TIMESTAMP_HEADER: &str = "X-BambooHR-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-BambooHR-Signature";
/// Deliveries larger than this are refused (413).
pub const MAX_BODY: usize = 1024 * 1024;
/// A delivery's timestamp may be this far from our clock, either way.
pub const MAX_SKEW_S: i64 = 300;

/// What the receiver checks deliveries against, and what it needs to hold mass deactivations.
pub struct WebhookConfig {
    pub secret: Secret,
    pub contract: Arc<parking_lot::RwLock<Arc<Contract>>>,
    pub safety: SafetyThreshold,
    pub notifier: Notifier,
}

struct Receiver {
    config: WebhookConfig,
    journal: JournalWriter,
    metrics: Arc<Metrics>,
    /// Signatures of journaled deliveries still inside the skew window.
    seen: Mutex<Seen>,
}

/// Signatures of deliveries with their timestamps. Those outside the skew
/// window are swept out when the map has doubled since the last sweep, so a
/// steady stream of fresh deliveries costs each one a constant share of a sweep,
/// not a walk of every signature still in the window.
#[derive(Default)]
struct Seen {
    at: HashMap<String, i64>,
    sweep_at: usize,
}

impl Seen {
    fn remove(&mut self, signature: &str) {
        self.at.remove(signature);
    }
}

pub fn router(config: WebhookConfig, journal: JournalWriter, metrics: Arc<Metrics>) -> Router {
    let receiver = Arc::new(Receiver {
        config,
        journal,
        metrics,
        seen: Mutex::new(Seen::default()),
    });
    // Only deliveries here: metrics and health are on the admin listener.
    Router::new()
        .route("/webhooks/hris", post(receive))
        .with_state(receiver)
}

fn refuse(receiver: &Receiver, result: WebhookResult, status: StatusCode, why: &str) -> Response {
    receiver.metrics.webhook(result);
    tracing::warn!(result = result.as_str(), why, "webhook refused");
    (status, axum::Json(json!({ "error": why }))).into_response()
}

async fn receive(State(receiver): State<Arc<Receiver>>, request: axum::extract::Request) -> Response {
    let receiver = receiver.as_ref();
    let now = Timestamp::now().as_second();
    // Who sent it and when, before a byte of the body is read: an unsigned or
    // stale sender never gets to hold a megabyte of our memory.
    let (stamp, signature) = match signed_and_fresh(request.headers(), now) {
        Ok(pair) => pair,
        Err((result, why)) => return refuse(receiver, result, StatusCode::UNAUTHORIZED, why),
    };
    let (stamp, signature) = (stamp.to_string(), signature.to_string());
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = match declared {
        Some(length) if length > MAX_BODY as u64 => Err(true),
        _ => axum::body::to_bytes(request.into_body(), MAX_BODY)
            .await
            .map_err(|error| {
                std::error::Error::source(&error).is_some_and(|e| e.is::<http_body_util::LengthLimitError>())
                    || error.to_string().contains("length limit")
            }),
    };
    let body = match body {
        Ok(body) => body,
        Err(true) => {
            let why = format!("the delivery is larger than {MAX_BODY} bytes");
            let mut response = refuse(
                receiver,
                WebhookResult::TooLarge,
                StatusCode::PAYLOAD_TOO_LARGE,
                &why,
            );
            // The rest of the body was never read: the connection cannot carry another
            // request, and a sender that reused it would see its next delivery fail.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            return response;
        }
        Err(false) => {
            let why = "cannot read the delivery's body";
            return refuse(receiver, WebhookResult::Malformed, StatusCode::BAD_REQUEST, why);
        }
    };
    let (timestamp, signature) = match signature_matches(&receiver.config.secret, &stamp, &signature, &body) {
        Ok(timestamp) => (timestamp, signature.to_ascii_lowercase()),
        Err((result, why)) => return refuse(receiver, result, StatusCode::UNAUTHORIZED, why),
    };
    // Taken in the same step as the check: of concurrent copies of one delivery,
    // exactly one goes on; the others are replays.
    if !reserve(&receiver.seen, &signature, timestamp, now) {
        let why = "this delivery was received before (replay)";
        return refuse(receiver, WebhookResult::Replayed, StatusCode::UNAUTHORIZED, why);
    }
    let contract = receiver.config.contract.read().clone();
    let mut batch = match intake(&contract, &body, timestamp) {
        Ok(batch) => batch,
        Err(why) => {
            receiver.seen.lock().remove(&signature);
            return refuse(receiver, WebhookResult::Malformed, StatusCode::BAD_REQUEST, &why);
        }
    };
    // A change only to fields the contract does not map (our own write-back of a
    // training record, say) has nothing for the LMS: acknowledged, not journaled,
    // so a write-back never loops back as an LMS update.
    let before = batch.len();
    batch.retain(|change| concerns_the_lms(&contract, &change.event.payload));
    let ignored = (before - batch.len()) as u64;
    for change in &mut batch {
        change.deactivates = crate::engine::apply::safety::may_deactivate(&contract, &change.event);
    }
    let rejected = batch.iter().filter(|i| i.rejected.is_some()).count() as u64;
    let journaled = match receiver.journal.journal(batch, receiver.config.safety).await {
        Ok(journaled) => journaled,
        Err(error) => {
            // Not journaled, so not remembered: the HRIS's retry of this delivery is welcome.
            receiver.seen.lock().remove(&signature);
            let why = format!("not journaled, try again: {error}");
            return refuse(
                receiver,
                WebhookResult::Unavailable,
                StatusCode::SERVICE_UNAVAILABLE,
                &why,
            );
        }
    };
    if journaled.held > 0 {
        tell_held(&receiver.config.notifier, journaled.held, "one webhook delivery");
    }
    let appended = journaled.appended;
    let duplicates = appended
        .iter()
        .filter(|a| matches!(a, Appended::Duplicate(_)))
        .count() as u64;
    let new = appended.len() as u64 - duplicates;
    receiver.metrics.webhook(WebhookResult::Accepted);
    receiver.metrics.webhook_changes("new", new - rejected.min(new));
    receiver.metrics.webhook_changes("duplicate", duplicates);
    receiver.metrics.webhook_changes("rejected", rejected);
    receiver.metrics.webhook_changes("ignored", ignored);
    axum::Json(json!({
        "journaled": new,
        "duplicates": duplicates,
        "rejected": rejected,
        "ignored": ignored,
    }))
    .into_response()
}

/// Whether a change may matter to the LMS: it lists no `changedFields` (so
/// anything may have changed), or at least one of them is a contract field.
pub fn concerns_the_lms(contract: &crate::contract::Contract, change: &Value) -> bool {
    let Some(changed) = change.get("changedFields").and_then(Value::as_array) else {
        return true;
    };
    if changed.is_empty() {
        return true;
    }
    changed
        .iter()
        .filter_map(Value::as_str)
        .any(|name| contract.fields.iter().any(|f| f.reads().any(|read| read == name)))
}

/// Checks freshness then signature; returns the delivery's timestamp and signature.
#[cfg(test)]
fn check(
    secret: &Secret,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(i64, String), (WebhookResult, &'static str)> {
    let (stamp, signature) = signed_and_fresh(headers, now)?;
    let timestamp = signature_matches(secret, stamp, signature, body)?;
    Ok((timestamp, signature.to_ascii_lowercase()))
}

/// The signature and timestamp headers are there and the timestamp is within
/// the skew window; answers the timestamp's text and the signature.
fn signed_and_fresh(headers: &HeaderMap, now: i64) -> Result<(&str, &str), (WebhookResult, &'static str)> {
    let header_text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let Some(signature) = header_text(SIGNATURE_HEADER).filter(|s| !s.is_empty()) else {
        return Err((
            WebhookResult::Unsigned,
            "the delivery is not signed (X-BambooHR-Signature)",
        ));
    };
    let Some(stamp) = header_text(TIMESTAMP_HEADER) else {
        return Err((
            WebhookResult::StaleTimestamp,
            "the delivery has no X-BambooHR-Timestamp",
        ));
    };
    let Ok(timestamp) = stamp.parse::<i64>() else {
        return Err((
            WebhookResult::StaleTimestamp,
            "X-BambooHR-Timestamp is not Unix seconds",
        ));
    };
    if (now - timestamp).abs() > MAX_SKEW_S {
        return Err((
            WebhookResult::StaleTimestamp,
            "the timestamp is more than 5 minutes from now",
        ));
    }
    Ok((stamp, signature))
}

/// The HMAC-SHA256 of body and timestamp is the signature; answers the timestamp.
fn signature_matches(
    secret: &Secret,
    stamp: &str,
    signature: &str,
    body: &[u8],
) -> Result<i64, (WebhookResult, &'static str)> {
    let Ok(expected) = hex::decode(signature) else {
        return Err((WebhookResult::BadSignature, "the signature is not hex"));
    };
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body);
    mac.update(stamp.as_bytes());
    // verify_slice compares in constant time.
    if mac.verify_slice(&expected).is_err() {
        return Err((
            WebhookResult::BadSignature,
            "the signature does not match the body and timestamp",
        ));
    }
    Ok(stamp.parse().unwrap_or_default())
}

/// Remembers the delivery's signature unless it is remembered already (a replay:
/// answers false). Older deliveries are refused as stale anyway, so they need not
/// be remembered.
fn reserve(seen: &Mutex<Seen>, signature: &str, timestamp: i64, now: i64) -> bool {
    let mut seen = seen.lock();
    if seen.at.len() >= seen.sweep_at {
        seen.at.retain(|_, at| (now - *at).abs() <= MAX_SKEW_S);
        seen.sweep_at = (2 * seen.at.len()).max(4096);
    }
    if seen.at.contains_key(signature) {
        return false;
    }
    seen.at.insert(signature.to_string(), timestamp);
    true
}

/// The delivery's changes as journal entries; an unusable change is journaled as rejected.
fn intake(contract: &Contract, body: &[u8], delivery_time: i64) -> Result<Vec<Intake>, String> {
    let mut parsed: Value =
        serde_json::from_slice(body).map_err(|e| format!("the delivery is not JSON: {e}"))?;
    let Some(employees) = parsed.get_mut("employees").and_then(Value::as_array_mut) else {
        return Err("the delivery has no \"employees\" list".into());
    };
    let delivered_at = Timestamp::from_second(delivery_time).unwrap_or_else(|_| Timestamp::now());
    // Each change becomes its event's payload as it is: moved, not copied.
    Ok(std::mem::take(employees)
        .into_iter()
        .enumerate()
        .map(|(index, change)| one_change(contract, change, index, delivery_time, delivered_at))
        .collect())
}

/// An employee id as a change may give it: a string, or a whole number in
/// range (never a float: `1.5e300` would be journaled as one id and written as
/// another).
fn id_text(value: &Value) -> Result<String, &'static str> {
    match value {
        Value::String(s) => Ok(s.trim().to_string()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Ok(n.to_string()),
        Value::Number(_) => Err("an employee id must be a string or a whole number"),
        _ => Err("an employee id must be a string or a whole number"),
    }
}

fn one_change(
    contract: &Contract,
    change: Value,
    index: usize,
    delivery_time: i64,
    delivered_at: Timestamp,
) -> Intake {
    let mut reasons = Vec::new();
    let id = match change.get("id").map(id_text) {
        Some(Ok(id)) => id,
        Some(Err(why)) => {
            reasons.push(FieldReason {
                field: "id".into(),
                reason: why.into(),
            });
            String::new()
        }
        None => String::new(),
    };
    let action = change
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("Updated")
        .to_string();
    let changed_at = change
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<Timestamp>().ok());
    if id.is_empty() && reasons.is_empty() {
        reasons.push(FieldReason {
            field: "id".into(),
            reason: "the change names no employee id".into(),
        });
    }
    // The record's own id must be the change's: otherwise the journal would name
    // one employee and the write go to another.
    let key_field = &contract.key_field().hris;
    if let Some(inner) = change.get("fields").and_then(|f| f.get(key_field.as_str())) {
        match id_text(inner) {
            Ok(inner) if inner == id || id.is_empty() => {}
            Ok(_) => reasons.push(FieldReason {
                field: format!("fields.{key_field}"),
                reason: "the record's employee id is not the change's id".into(),
            }),
            Err(why) => reasons.push(FieldReason {
                field: format!("fields.{key_field}"),
                reason: why.into(),
            }),
        }
    }
    if !action.eq_ignore_ascii_case("deleted") && !change.get("fields").is_some_and(Value::is_object) {
        reasons.push(FieldReason {
            field: "fields".into(),
            reason: format!("a \"{action}\" change must carry the employee's fields"),
        });
    }
    let key = match (&reasons[..], changed_at) {
        ([], Some(at)) => {
            let record = change.get("fields").and_then(Value::as_object);
            hris_change_key(&id, &supersede::stamp(contract, record, at))
        }
        // Without its own time the change gets a key from the delivery, still unique per change.
        _ => format!("webhook:{delivery_time:012}:{index}:{id}"),
    };
    Intake {
        event: NewEvent {
            idempotency_key: key,
            source: Source::Webhook,
            direction: Direction::HrisToLms,
            employee_id: if id.is_empty() { "(none)".into() } else { id },
            kind: action,
            occurred_at: changed_at.unwrap_or(delivered_at),
            payload: change,
        },
        rejected: (!reasons.is_empty()).then_some(reasons),
        deactivates: false,
    }
}

/// Tells the ops channel, without holding up the answer, that deactivations wait for an operator.
pub fn tell_held(notifier: &Notifier, held: usize, what: &str) {
    let text = format!(
        ":octagonal_sign: hrsync: {what} would deactivate {held} learners, beyond the safety threshold; \
         they are held. `hrsync held list` shows them, `hrsync held confirm --all` applies them."
    );
    tracing::warn!(
        held,
        "{what} would deactivate beyond the safety threshold; the deactivations are held"
    );
    let notifier = notifier.clone();
    tokio::spawn(async move {
        if let Err(error) = notifier.send(&text).await {
            tracing::warn!(%error, "cannot tell the ops channel about held deactivations");
        }
    });
}

#[cfg(test)]
#[path = "webhook_fuzz.rs"]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(secret: &str, body: &[u8], stamp: &str) -> HeaderMap {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        mac.update(stamp.as_bytes());
        let mut headers = HeaderMap::new();
        headers.insert(TIMESTAMP_HEADER, stamp.parse().unwrap());
        headers.insert(
            SIGNATURE_HEADER,
            hex::encode(mac.finalize().into_bytes()).parse().unwrap(),
        );
        headers
    }

    #[test]
    fn replays_are_refused_and_the_window_is_swept_as_it_doubles() {
        let seen = Mutex::new(Seen::default());
        let now = 1_800_000_000;
        assert!(reserve(&seen, "a", now, now));
        assert!(!reserve(&seen, "a", now, now + 10), "a replay inside the window");
        // 10,000 fresh deliveries: the map is swept when it reaches 4,096, then
        // only when it has doubled, and nothing inside the window is forgotten.
        for i in 0..10_000 {
            assert!(reserve(&seen, &format!("s{i}"), now, now));
        }
        assert_eq!(seen.lock().sweep_at, 8192 * 2);
        assert!(!reserve(&seen, "s0", now, now));
        assert!(!reserve(&seen, "a", now, now));
        // Past the window, the next sweep forgets them all.
        let later = now + MAX_SKEW_S + 1;
        for i in 0..6_385 {
            assert!(reserve(&seen, &format!("t{i}"), later, later));
        }
        let seen = seen.lock();
        assert_eq!(seen.at.len(), 6_385, "only the fresh signatures are left");
        // The sweep came at 16,384, when 6,383 of them were in: twice that is next.
        assert_eq!(seen.sweep_at, 2 * 6_383);
    }

    #[test]
    fn signature_and_freshness_are_checked() {
        let secret = Secret::new("s3cret");
        let body = br#"{"employees":[]}"#;
        let now = 1_800_000_000;
        let good = signed("s3cret", body, &now.to_string());
        assert!(check(&secret, &good, body, now).is_ok());
        assert_eq!(
            check(&secret, &good, b"{}", now).unwrap_err().0,
            WebhookResult::BadSignature
        );
        assert_eq!(
            check(&secret, &HeaderMap::new(), body, now).unwrap_err().0,
            WebhookResult::Unsigned
        );
        let wrong_key = signed("other", body, &now.to_string());
        assert_eq!(
            check(&secret, &wrong_key, body, now).unwrap_err().0,
            WebhookResult::BadSignature
        );
        let old = signed("s3cret", body, &(now - 301).to_string());
        assert_eq!(
            check(&secret, &old, body, now).unwrap_err().0,
            WebhookResult::StaleTimestamp
        );
    }

    #[test]
    fn a_change_without_an_id_is_journaled_as_rejected_and_the_rest_as_sent() {
        let body = br#"{"employees":[{"id":"7","action":"Updated","timestamp":"2026-01-02T03:04:05Z","fields":{"id":"7"}},{"action":"Updated","fields":{}}]}"#;
        let contract = crate::contract::parse(include_str!("../../../assets/contract.toml")).unwrap();
        let batch = intake(&contract, body, 1_800_000_000).unwrap();
        assert_eq!(batch.len(), 2);
        assert!(batch[0].rejected.is_none());
        let record = serde_json::json!({"id": "7"});
        assert_eq!(
            batch[0].event.idempotency_key,
            hris_change_key(
                "7",
                &supersede::stamp(
                    &contract,
                    record.as_object(),
                    "2026-01-02T03:04:05Z".parse().unwrap()
                )
            )
        );
        assert_eq!(batch[1].rejected.as_ref().unwrap()[0].field, "id");
        let contract = crate::contract::parse(include_str!("../../../assets/contract.toml")).unwrap();
        assert!(intake(&contract, b"{\"employees\": 3}", 0).is_err());
        assert!(intake(&contract, b"not json", 0).is_err());
    }
}
