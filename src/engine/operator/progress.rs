//! How far long work has come (a reconciliation, an initial load), shared by
//! the task doing it and whoever shows it: a CLI progress bar, the engine's
//! status and from it the console's header.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// The work under way, if any; cheap to advance from many threads.
#[derive(Debug, Default)]
pub struct Progress {
    /// What is being done and how much of it there is (`None`: not known yet).
    step: parking_lot::Mutex<Option<(&'static str, Option<u64>)>>,
    done: AtomicU64,
}

/// One look at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub what: String,
    pub done: u64,
    pub total: Option<u64>,
}

impl Step {
    /// Percent done, when the total is known.
    pub fn percent(&self) -> Option<u64> {
        self.total
            .filter(|&t| t > 0)
            .map(|t| (self.done.min(t) * 100) / t)
    }
}

impl Progress {
    /// A new step starts, nothing of it done.
    pub fn begin(&self, what: &'static str, total: Option<u64>) {
        self.done.store(0, Ordering::Relaxed);
        *self.step.lock() = Some((what, total));
    }

    pub fn set(&self, done: u64) {
        self.done.store(done, Ordering::Relaxed);
    }

    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// The work is over (done or given up).
    pub fn end(&self) {
        *self.step.lock() = None;
    }

    pub fn now(&self) -> Option<Step> {
        let (what, total) = (*self.step.lock())?;
        Some(Step {
            what: what.to_string(),
            done: self.done.load(Ordering::Relaxed),
            total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_counts_from_zero_and_ends() {
        let progress = Progress::default();
        assert_eq!(progress.now(), None);
        progress.begin("reading", None);
        progress.add(5);
        progress.begin("comparing", Some(8));
        progress.add(2);
        let step = progress.now().unwrap();
        assert_eq!(
            (step.what.as_str(), step.done, step.percent()),
            ("comparing", 2, Some(25))
        );
        progress.end();
        assert_eq!(progress.now(), None);
    }
}
