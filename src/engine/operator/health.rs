//! Each outside system's health as the engine meets it: up, degraded or down,
//! since when, the last error and the error rate over the last minutes. Fed by
//! the outcomes the engine sees anyway (applies, polls, LRS reads, messages to
//! the ops channel), so an outage shows by name instead of as a growing queue.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// Failures in a row that make a system down; successes in a row that make it up.
const DOWN_AFTER: u32 = 3;
const UP_AFTER: u32 = 3;
/// The window the error rate is taken over.
const WINDOW: SignedDuration = SignedDuration::from_mins(5);
/// Outcomes kept per system inside the window, at most.
const KEPT: usize = 2000;
/// An error rate above this (with enough outcomes) makes a system degraded.
const DEGRADED_RATE: f64 = 0.2;

named_enum!(
    /// An outside system the engine talks to.
    #[derive(PartialOrd, Ord)]
    System {
        Hris => "hris",
        Lms => "lms",
        Lrs => "lrs",
        Ops => "ops",
    }
);

impl System {
    /// As the header shows it.
    pub fn label(self) -> &'static str {
        match self {
            System::Hris => "HRIS",
            System::Lms => "LMS",
            System::Lrs => "LRS",
            System::Ops => "ops channel",
        }
    }
}

named_enum!(
    /// How a system is doing.
    SystemState {
        Up => "up",
        /// Answering, but failing more than one request in five.
        Degraded => "degraded",
        /// Failing every request lately.
        Down => "down",
    }
);

/// One system's health, as the status publishes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemHealth {
    pub system: System,
    pub state: SystemState,
    /// When it entered this state.
    pub since: Timestamp,
    pub last_error: Option<String>,
    pub last_ok: Option<Timestamp>,
    /// Share of failed requests over the last five minutes.
    pub error_rate: f64,
}

#[derive(Default)]
struct Tracker {
    outcomes: VecDeque<(Timestamp, bool)>,
    failures_in_a_row: u32,
    successes_in_a_row: u32,
    state: Option<(SystemState, Timestamp)>,
    last_error: Option<String>,
    last_ok: Option<Timestamp>,
}

impl Tracker {
    fn record(&mut self, at: Timestamp, ok: bool) {
        self.outcomes.push_back((at, ok));
        while self.outcomes.len() > KEPT || self.outcomes.front().is_some_and(|(t, _)| *t < at - WINDOW) {
            self.outcomes.pop_front();
        }
        let rate = self.error_rate();
        let state = if self.failures_in_a_row >= DOWN_AFTER {
            SystemState::Down
        } else if self.successes_in_a_row >= UP_AFTER || rate <= DEGRADED_RATE || self.outcomes.len() < 5 {
            SystemState::Up
        } else {
            SystemState::Degraded
        };
        if self.state.is_none_or(|(was, _)| was != state) {
            self.state = Some((state, at));
        }
    }

    fn error_rate(&self) -> f64 {
        if self.outcomes.is_empty() {
            return 0.0;
        }
        let failed = self.outcomes.iter().filter(|(_, ok)| !ok).count();
        failed as f64 / self.outcomes.len() as f64
    }
}

/// The engine's view of every outside system; cheap to clone and share.
#[derive(Clone, Default)]
pub struct Health {
    systems: Arc<Mutex<HashMap<System, Tracker>>>,
}

impl Health {
    /// The system answered as it should.
    pub fn ok(&self, system: System) {
        let now = Timestamp::now();
        let mut systems = self.systems.lock();
        let tracker = systems.entry(system).or_default();
        tracker.failures_in_a_row = 0;
        tracker.successes_in_a_row += 1;
        tracker.last_ok = Some(now);
        tracker.record(now, true);
    }

    /// The system failed (unreachable, 5xx, 429, refused our credentials).
    pub fn failed(&self, system: System, error: &str) {
        let now = Timestamp::now();
        let mut systems = self.systems.lock();
        let tracker = systems.entry(system).or_default();
        tracker.failures_in_a_row += 1;
        tracker.successes_in_a_row = 0;
        tracker.last_error = Some(error.chars().take(300).collect());
        tracker.record(now, false);
    }

    /// Every system heard from so far, in a fixed order.
    pub fn snapshot(&self) -> Vec<SystemHealth> {
        let systems = self.systems.lock();
        let mut all: Vec<SystemHealth> = systems
            .iter()
            .filter_map(|(system, t)| {
                let (state, since) = t.state?;
                Some(SystemHealth {
                    system: *system,
                    state,
                    since,
                    last_error: t.last_error.clone(),
                    last_ok: t.last_ok,
                    error_rate: t.error_rate(),
                })
            })
            .collect();
        all.sort_by_key(|h| h.system);
        all
    }

    /// Whether any system is failing now.
    pub fn any_failing(&self) -> bool {
        self.snapshot().iter().any(|h| h.state != SystemState::Up)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_failures_in_a_row_are_down_and_one_success_is_up_again() {
        let health = Health::default();
        health.ok(System::Lms);
        assert_eq!(health.snapshot()[0].state, SystemState::Up);
        for _ in 0..3 {
            health.failed(System::Lms, "HTTP 503");
        }
        let lms = &health.snapshot()[0];
        assert_eq!(
            (lms.state, lms.last_error.as_deref()),
            (SystemState::Down, Some("HTTP 503"))
        );
        assert!(health.any_failing());
        health.ok(System::Lms);
        health.ok(System::Lms);
        // Answering again, but three of five failed lately: degraded.
        assert_eq!(health.snapshot()[0].state, SystemState::Degraded);
        health.ok(System::Lms);
        assert_eq!(
            health.snapshot()[0].state,
            SystemState::Up,
            "three good answers in a row"
        );
        // Flapping: never three in a row either way, and a high error rate.
        for _ in 0..5 {
            health.failed(System::Lms, "HTTP 502");
            health.ok(System::Lms);
        }
        assert_eq!(health.snapshot()[0].state, SystemState::Degraded);
    }
}
