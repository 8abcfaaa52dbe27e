//! Fault injection: per system a rate limit, a share of 5xx answers, added
//! latency and dropped connections; for webhooks bad and repeated deliveries;
//! the one-shot "next full pull is empty"; and the known deviations of real
//! SCIM servers and LRSs. Set by `--faults FILE` and `POST /_sandbox/faults`,
//! both with the JSON of [`Faults`].

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

pub use super::quirks::{ScimQuirk, ScimQuirks};

/// The whole fault set. Every part is optional; `{}` means no faults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    pub hris: SystemFaults,
    pub scim: SystemFaults,
    /// Also read as `lrs`, the name the LRS's deviations go by.
    #[serde(alias = "lrs")]
    pub xapi: SystemFaults,
    pub webhooks: WebhookFaults,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SystemFaults {
    /// Requests per second served; beyond it the answer is 429 with
    /// `Retry-After` (BambooHR too since 2026-09-16: its 503 now means an outage).
    pub rate_limit_per_sec: Option<u32>,
    /// The `Retry-After` seconds sent with a throttled answer.
    pub retry_after_s: u64,
    /// Share (0..=1) of requests answered with a 5xx.
    pub error_ratio: f64,
    /// Added to every request before it is answered.
    pub latency_ms: u64,
    /// Share (0..=1) of requests whose connection is closed without an answer.
    pub drop_ratio: f64,
    /// HRIS only: the next full pull (custom report, directory) is empty.
    pub empty_next_full_pull: bool,
    /// HRIS only: every one-employee read (`GET employees/{id}`) answers 502,
    /// while lists and "changed since" work: one bad endpoint behind a gateway.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub failing_employee_reads: bool,
    /// SCIM only: the real servers' deviations the LMS imitates.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quirks: Vec<ScimQuirk>,
    /// xAPI only: `since` is compared with a statement's `timestamp`, not its
    /// `stored`, as some real LRSs do.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub since_on_timestamp: bool,
}

impl Default for SystemFaults {
    fn default() -> Self {
        Self {
            rate_limit_per_sec: None,
            retry_after_s: 1,
            error_ratio: 0.0,
            latency_ms: 0,
            drop_ratio: 0.0,
            empty_next_full_pull: false,
            failing_employee_reads: false,
            quirks: Vec::new(),
            since_on_timestamp: false,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookFaults {
    pub malformed_ratio: f64,
    pub unsigned_ratio: f64,
    pub bad_signature_ratio: f64,
    pub duplicate_ratio: f64,
}

impl Faults {
    /// Checks every ratio is within 0..=1 and each system-specific fault is
    /// set on its system, naming the first field that is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let systems = [("hris", &self.hris), ("scim", &self.scim), ("xapi", &self.xapi)];
        for (name, system) in systems {
            for (field, ratio) in [
                ("error_ratio", system.error_ratio),
                ("drop_ratio", system.drop_ratio),
            ] {
                check_ratio(&format!("{name}.{field}"), ratio)?;
            }
            if system.rate_limit_per_sec == Some(0) {
                return Err(format!("{name}.rate_limit_per_sec must be at least 1"));
            }
            if name != "scim" && !system.quirks.is_empty() {
                return Err(format!(
                    "{name}.quirks: quirks are SCIM servers' deviations; set them under scim"
                ));
            }
            if name != "hris" && system.failing_employee_reads {
                return Err(format!(
                    "{name}.failing_employee_reads is an HRIS behaviour; set it under hris"
                ));
            }
            if name != "xapi" && system.since_on_timestamp {
                return Err(format!(
                    "{name}.since_on_timestamp is an LRS behaviour; set it under xapi (or lrs)"
                ));
            }
        }
        let w = &self.webhooks;
        for (field, ratio) in [
            ("malformed_ratio", w.malformed_ratio),
            ("unsigned_ratio", w.unsigned_ratio),
            ("bad_signature_ratio", w.bad_signature_ratio),
            ("duplicate_ratio", w.duplicate_ratio),
        ] {
            check_ratio(&format!("webhooks.{field}"), ratio)?;
        }
        if w.malformed_ratio + w.unsigned_ratio + w.bad_signature_ratio > 1.0 {
            return Err("webhooks: malformed + unsigned + bad_signature ratios exceed 1".into());
        }
        Ok(())
    }
}

fn check_ratio(name: &str, ratio: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&ratio) {
        Ok(())
    } else {
        Err(format!("{name} must be between 0 and 1, got {ratio}"))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum System {
    Hris,
    Scim,
    Xapi,
}

/// What happens to one request.
pub enum Verdict {
    Serve,
    DropConnection,
    Answer(Response),
}

/// What happens to one webhook delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookFault {
    None,
    Malformed,
    Unsigned,
    BadSignature,
}

pub struct FaultState {
    inner: Mutex<Inner>,
}

struct Inner {
    faults: Faults,
    rng: SmallRng,
    /// Per system: the second being counted and the requests in it.
    windows: [(u64, u32); 3],
}

impl FaultState {
    pub fn new(faults: Faults, seed: u64) -> Self {
        Self {
            inner: Mutex::new(Inner {
                faults,
                rng: SmallRng::seed_from_u64(seed),
                windows: [(0, 0); 3],
            }),
        }
    }

    pub fn get(&self) -> Faults {
        self.inner.lock().faults.clone()
    }

    /// Replaces the faults. `Shared::set_faults` also carries out what
    /// takes effect once (deleting the groups for `no_groups`).
    pub fn set(&self, faults: Faults) {
        self.inner.lock().faults = faults;
    }

    /// The SCIM quirks in force now.
    pub fn scim_quirks(&self) -> ScimQuirks {
        self.inner.lock().faults.scim.quirks.iter().collect()
    }

    /// Whether the LRS compares `since` with `timestamp` rather than `stored`.
    pub fn since_on_timestamp(&self) -> bool {
        self.inner.lock().faults.xapi.since_on_timestamp
    }

    /// Whether one-employee reads fail now.
    pub fn failing_employee_reads(&self) -> bool {
        self.inner.lock().faults.hris.failing_employee_reads
    }

    /// True once after `empty_next_full_pull` was set, then it clears itself.
    pub fn take_empty_full_pull(&self) -> bool {
        std::mem::take(&mut self.inner.lock().faults.hris.empty_next_full_pull)
    }

    /// Decides the fate of one request to `system`, and how long it waits first.
    pub fn judge(&self, system: System) -> (Duration, Verdict) {
        let mut inner = self.inner.lock();
        let inner = &mut *inner;
        let faults = match system {
            System::Hris => &inner.faults.hris,
            System::Scim => &inner.faults.scim,
            System::Xapi => &inner.faults.xapi,
        };
        let latency = Duration::from_millis(faults.latency_ms);
        if let Some(limit) = faults.rate_limit_per_sec {
            let second = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let window = &mut inner.windows[system as usize];
            if window.0 != second {
                *window = (second, 0);
            }
            window.1 += 1;
            if window.1 > limit {
                let answer = error_answer(
                    system,
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate limit exceeded",
                    Some(faults.retry_after_s),
                );
                return (latency, Verdict::Answer(answer));
            }
        }
        if faults.drop_ratio > 0.0 && inner.rng.random_bool(faults.drop_ratio) {
            return (latency, Verdict::DropConnection);
        }
        if faults.error_ratio > 0.0 && inner.rng.random_bool(faults.error_ratio) {
            let status = [
                StatusCode::INTERNAL_SERVER_ERROR,
                StatusCode::BAD_GATEWAY,
                StatusCode::SERVICE_UNAVAILABLE,
            ][inner.rng.random_range(0..3)];
            return (
                latency,
                Verdict::Answer(error_answer(system, status, "injected server error", None)),
            );
        }
        (latency, Verdict::Serve)
    }

    /// Decides how one webhook delivery goes wrong, and whether it is sent twice.
    pub fn webhook(&self) -> (WebhookFault, bool) {
        let mut inner = self.inner.lock();
        let w = inner.faults.webhooks.clone();
        let roll: f64 = inner.rng.random();
        let fault = if roll < w.malformed_ratio {
            WebhookFault::Malformed
        } else if roll < w.malformed_ratio + w.unsigned_ratio {
            WebhookFault::Unsigned
        } else if roll < w.malformed_ratio + w.unsigned_ratio + w.bad_signature_ratio {
            WebhookFault::BadSignature
        } else {
            WebhookFault::None
        };
        let duplicate = w.duplicate_ratio > 0.0 && inner.rng.random_bool(w.duplicate_ratio);
        (fault, duplicate)
    }
}

/// An error answer in the shape the system's clients expect.
pub fn error_answer(
    system: System,
    status: StatusCode,
    detail: &str,
    retry_after_s: Option<u64>,
) -> Response {
    let body = match system {
        System::Scim => serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": status.as_u16().to_string(),
            "detail": detail,
        }),
        System::Hris | System::Xapi => serde_json::json!({ "error": detail, "status": status.as_u16() }),
    };
    let mut response = (status, axum::Json(body)).into_response();
    if system == System::Scim {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/scim+json"),
        );
    }
    if let Some(seconds) = retry_after_s {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_ratios_are_named() {
        let mut faults = Faults::default();
        faults.scim.error_ratio = 1.5;
        assert_eq!(
            faults.validate().unwrap_err(),
            "scim.error_ratio must be between 0 and 1, got 1.5"
        );
        let unknown = serde_json::from_str::<Faults>(r#"{"scim": {"eror_ratio": 0.1}}"#).unwrap_err();
        assert!(unknown.to_string().contains("eror_ratio"), "{unknown}");
    }

    #[test]
    fn system_specific_faults_are_refused_elsewhere_and_lrs_means_xapi() {
        let faults: Faults = serde_json::from_str(
            r#"{"scim": {"quirks": ["no_etag", "broken_paging"]}, "lrs": {"since_on_timestamp": true}}"#,
        )
        .unwrap();
        assert_eq!(faults.scim.quirks, [ScimQuirk::NoEtag, ScimQuirk::BrokenPaging]);
        assert!(faults.xapi.since_on_timestamp);
        assert_eq!(faults.validate(), Ok(()));

        let unknown = serde_json::from_str::<Faults>(r#"{"scim": {"quirks": ["no_etags"]}}"#).unwrap_err();
        let message = unknown.to_string();
        assert!(
            message.contains("\"no_etags\"") && message.contains("duplicate_is_400"),
            "{message}"
        );

        let misplaced: Faults = serde_json::from_str(r#"{"hris": {"quirks": ["no_etag"]}}"#).unwrap();
        assert!(misplaced.validate().unwrap_err().starts_with("hris.quirks"));
        let misplaced: Faults = serde_json::from_str(r#"{"scim": {"since_on_timestamp": true}}"#).unwrap();
        assert!(
            misplaced
                .validate()
                .unwrap_err()
                .starts_with("scim.since_on_timestamp")
        );
    }

    #[test]
    fn no_faults_serialise_without_the_system_specific_fields() {
        let json = serde_json::to_value(Faults::default()).unwrap();
        assert!(json["scim"].get("quirks").is_none() && json["xapi"].get("since_on_timestamp").is_none());
        assert_eq!(serde_json::from_value::<Faults>(json).unwrap(), Faults::default());
    }

    #[test]
    fn rate_limit_throttles_beyond_the_limit_with_retry_after() {
        let mut faults = Faults::default();
        faults.hris.rate_limit_per_sec = Some(3);
        faults.hris.retry_after_s = 7;
        let state = FaultState::new(faults, 1);
        let mut served = 0;
        for _ in 0..10 {
            match state.judge(System::Hris).1 {
                Verdict::Serve => served += 1,
                Verdict::Answer(response) => {
                    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
                    assert_eq!(response.headers()[header::RETRY_AFTER], "7");
                }
                Verdict::DropConnection => panic!("no drops were asked for"),
            }
        }
        // Ten calls span at most two one-second windows of three each.
        assert!((3..=6).contains(&served), "{served} served");
    }

    #[test]
    fn empty_full_pull_fires_once() {
        let mut faults = Faults::default();
        faults.hris.empty_next_full_pull = true;
        let state = FaultState::new(faults, 1);
        assert!(state.take_empty_full_pull());
        assert!(!state.take_empty_full_pull());
    }
}
