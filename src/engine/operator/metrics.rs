//! The engine's counters and its receipt → acknowledgement latency: served as
//! Prometheus text at `GET /metrics` (prometheus-client), and summarised over the
//! last minute for the console's header (`snapshot`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::engine::operator::status::MetricsSnapshot;
use crate::model::EventStatus;
use crate::store::StoreCounts;

/// The header's figures cover this much of the recent past.
const WINDOW: Duration = Duration::from_secs(60);
/// Finished events kept for the window at most (beyond ~3,000/s the oldest go first).
const WINDOW_CAP: usize = 200_000;
/// Latency buckets in seconds: 1 ms to 10 min (retries are 60 s apart by default).
const LATENCY_BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 180.0, 600.0,
];

/// Why a webhook delivery was answered as it was; a label on `hrsync_webhooks_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookResult {
    Accepted,
    Unsigned,
    BadSignature,
    StaleTimestamp,
    Replayed,
    Malformed,
    TooLarge,
    Unavailable,
}

impl WebhookResult {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookResult::Accepted => "accepted",
            WebhookResult::Unsigned => "unsigned",
            WebhookResult::BadSignature => "bad_signature",
            WebhookResult::StaleTimestamp => "stale_timestamp",
            WebhookResult::Replayed => "replayed",
            WebhookResult::Malformed => "malformed",
            WebhookResult::TooLarge => "too_large",
            WebhookResult::Unavailable => "unavailable",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

/// One finished event in the window.
struct Finished {
    at: Instant,
    /// Receipt → acknowledgement, for events written or found equal.
    latency: Option<Duration>,
    failed: bool,
}

pub struct Metrics {
    registry: Registry,
    webhooks: Family<ResultLabel, Counter>,
    webhook_changes: Family<ResultLabel, Counter>,
    events: Family<StatusLabel, Counter>,
    latency: Histogram,
    queue: Family<StatusLabel, Gauge>,
    reconcile: Family<ResultLabel, Gauge>,
    window: Mutex<VecDeque<Finished>>,
    started: Instant,
    finished_total: AtomicU64,
    webhooks_accepted: AtomicU64,
    webhooks_refused: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("hrsync");
        let webhooks = Family::<ResultLabel, Counter>::default();
        registry.register(
            "webhooks",
            "Webhook deliveries by how they were answered",
            webhooks.clone(),
        );
        let webhook_changes = Family::<ResultLabel, Counter>::default();
        registry.register(
            "webhook_changes",
            "Employee changes in accepted deliveries: new, duplicate (acknowledged, not applied again) or rejected",
            webhook_changes.clone(),
        );
        let events = Family::<StatusLabel, Counter>::default();
        registry.register(
            "events_finished",
            "Events by the status an attempt left them in",
            events.clone(),
        );
        let latency = Histogram::new(LATENCY_BUCKETS);
        registry.register(
            "apply_latency_seconds",
            "Receipt of a change to the target's acknowledgement",
            latency.clone(),
        );
        let queue = Family::<StatusLabel, Gauge>::default();
        registry.register("journal_events", "Events in the journal by status", queue.clone());
        let reconcile = Family::<ResultLabel, Gauge>::default();
        registry.register(
            "reconcile",
            "The latest reconciliation: drift items, critical items, open duplicate groups, \
             last complete and next run (Unix seconds)",
            reconcile.clone(),
        );
        Metrics {
            registry,
            webhooks,
            webhook_changes,
            events,
            latency,
            queue,
            reconcile,
            window: Mutex::new(VecDeque::new()),
            started: Instant::now(),
            finished_total: AtomicU64::new(0),
            webhooks_accepted: AtomicU64::new(0),
            webhooks_refused: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// Counts one attempt's outcome; `received_at` is when the change reached hrsync.
    pub fn event_finished(&self, status: EventStatus, received_at: Timestamp) {
        self.events
            .get_or_create(&StatusLabel {
                status: status.as_str().to_string(),
            })
            .inc();
        // Failed attempts count too: measuring successes only made the p99 fall
        // in an outage, when nothing but the quick failures finished.
        let finished = !matches!(status, EventStatus::Pending | EventStatus::Held);
        let latency = finished.then(|| {
            let waited = Timestamp::now().duration_since(received_at);
            Duration::try_from(waited).unwrap_or_default()
        });
        if let Some(latency) = latency {
            self.latency.observe(latency.as_secs_f64());
        }
        let failed = matches!(
            status,
            EventStatus::Retrying | EventStatus::DeadLetter | EventStatus::Rejected
        );
        self.finished_total.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut window = self.window.lock();
        window.push_back(Finished {
            at: now,
            latency,
            failed,
        });
        if window.len() > WINDOW_CAP {
            window.pop_front();
        }
    }

    pub fn webhook(&self, result: WebhookResult) {
        self.webhooks
            .get_or_create(&ResultLabel {
                result: result.as_str().to_string(),
            })
            .inc();
        let counter = if result == WebhookResult::Accepted {
            &self.webhooks_accepted
        } else {
            &self.webhooks_refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts the changes of an accepted delivery: `"new"`, `"duplicate"` or `"rejected"`.
    pub fn webhook_changes(&self, result: &str, count: u64) {
        if count > 0 {
            self.webhook_changes
                .get_or_create(&ResultLabel {
                    result: result.to_string(),
                })
                .inc_by(count);
        }
    }

    /// Sets the journal gauges (queue depth, dead letters, held) from the store's counts.
    pub fn set_journal(&self, counts: &StoreCounts) {
        let gauges = [
            (EventStatus::Pending, counts.pending),
            (EventStatus::Retrying, counts.retrying),
            (EventStatus::DeadLetter, counts.dead_letters),
            (EventStatus::Rejected, counts.rejected),
            (EventStatus::Held, counts.held),
            (EventStatus::Applied, counts.applied),
            (EventStatus::Unchanged, counts.unchanged),
        ];
        for (status, n) in gauges {
            self.queue
                .get_or_create(&StatusLabel {
                    status: status.as_str().to_string(),
                })
                .set(n as i64);
        }
    }

    /// Sets the reconciliation gauges (`hrsync_reconcile{result="..."}`).
    pub fn set_reconcile(&self, summary: &crate::engine::operator::status::ReconcileSummary) {
        let seconds = |t: Option<Timestamp>| t.map_or(0, |t| t.as_second());
        let gauges = [
            ("drift_items", summary.drift_total as i64),
            ("critical_items", summary.critical as i64),
            ("open_duplicate_groups", summary.open_duplicates as i64),
            ("last_complete_run_seconds", seconds(summary.last_complete_at)),
            ("next_run_seconds", seconds(summary.next_at)),
        ];
        for (name, value) in gauges {
            self.reconcile
                .get_or_create(&ResultLabel { result: name.into() })
                .set(value);
        }
    }

    /// The last minute in figures.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let now = Instant::now();
        let mut latencies = Vec::new();
        let (mut finished, mut failed) = (0u64, 0u64);
        {
            let mut window = self.window.lock();
            while window.front().is_some_and(|f| now.duration_since(f.at) > WINDOW) {
                window.pop_front();
            }
            for entry in window.iter() {
                finished += 1;
                failed += u64::from(entry.failed);
                latencies.extend(entry.latency);
            }
        }
        latencies.sort_unstable();
        let span = now
            .duration_since(self.started)
            .min(WINDOW)
            .as_secs_f64()
            .max(1.0);
        MetricsSnapshot {
            events_per_sec: finished as f64 / span,
            p50_ms: percentile_ms(&latencies, 0.50),
            p99_ms: percentile_ms(&latencies, 0.99),
            error_rate: if finished == 0 {
                0.0
            } else {
                failed as f64 / finished as f64
            },
            finished_total: self.finished_total.load(Ordering::Relaxed),
            webhooks_accepted: self.webhooks_accepted.load(Ordering::Relaxed),
            webhooks_refused: self.webhooks_refused.load(Ordering::Relaxed),
        }
    }

    /// Everything, in the Prometheus / OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String does not fail");
        text
    }
}

/// Nearest-rank percentile of sorted latencies, in milliseconds (0 when there are none).
fn percentile_ms(sorted: &[Duration], quantile: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((quantile * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&sorted, 0.50), 50.0);
        assert_eq!(percentile_ms(&sorted, 0.99), 99.0);
        assert_eq!(percentile_ms(&[], 0.99), 0.0);
    }

    #[test]
    fn snapshot_counts_failures_and_latency_of_acknowledged_events_only() {
        let metrics = Metrics::default();
        let received = Timestamp::now() - jiff::SignedDuration::from_millis(40);
        metrics.event_finished(EventStatus::Applied, received);
        metrics.event_finished(EventStatus::DeadLetter, Timestamp::now());
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot.finished_total, 2);
        assert_eq!(snapshot.error_rate, 0.5);
        assert!(snapshot.p99_ms >= 40.0, "{snapshot:?}");
    }

    #[test]
    fn prometheus_text_names_the_counters() {
        let metrics = Metrics::default();
        metrics.webhook(WebhookResult::BadSignature);
        metrics.event_finished(EventStatus::Applied, Timestamp::now());
        let text = metrics.render();
        assert!(
            text.contains(r#"hrsync_webhooks_total{result="bad_signature"} 1"#),
            "{text}"
        );
        assert!(text.contains("hrsync_apply_latency_seconds_count 1"), "{text}");
    }
}
