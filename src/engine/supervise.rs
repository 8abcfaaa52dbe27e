//! Every background task of the engine runs under watch: one that panics or
//! ends before the engine stops is logged, makes the engine `degraded` (status
//! and console say so, and why), and is started again after a backoff where a
//! fresh copy is safe. Nothing is spawned and forgotten.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The longest wait before a failed task is started again.
const LONGEST_BACKOFF: Duration = Duration::from_secs(60);
/// Problems kept for the status (the newest).
const KEPT: usize = 20;

/// What went wrong with the engine's own tasks; any makes it degraded.
#[derive(Clone, Default)]
pub struct TaskTrouble(Arc<Mutex<Vec<String>>>);

impl TaskTrouble {
    pub fn report(&self, what: String) {
        tracing::error!(problem = %what, "an engine task failed; the engine is degraded");
        let mut kept = self.0.lock();
        if kept.len() == KEPT {
            kept.remove(0);
        }
        kept.push(what);
    }

    /// The problems so far, oldest first.
    pub fn current(&self) -> Vec<String> {
        self.0.lock().clone()
    }
}

/// A warning that would repeat every tick while a fault lasts (a full disk, say)
/// is said when it starts, when it changes, and once a minute with a count;
/// its end is said too.
#[derive(Default)]
pub struct RepeatedWarning {
    current: Option<(String, std::time::Instant)>,
    suppressed: u64,
}

impl RepeatedWarning {
    pub fn warn(&mut self, what: &str, error: &str) {
        let due = match &self.current {
            Some((said, at)) => said != error || at.elapsed() >= Duration::from_secs(60),
            None => true,
        };
        if due {
            tracing::warn!(error, repeated = self.suppressed, "{what}");
            self.current = Some((error.to_string(), std::time::Instant::now()));
            self.suppressed = 0;
        } else {
            self.suppressed += 1;
        }
    }

    /// The fault is over: says so once.
    pub fn clear(&mut self, what: &str) {
        if self.current.take().is_some() {
            tracing::info!("{what}");
            self.suppressed = 0;
        }
    }
}

/// What a panic said, as text.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".into())
}

/// Runs the task `make` gives, watching it; `make` is asked again after a
/// failure (a restartable task gives a fresh copy each time, a one-shot task
/// `None` after the first). Returns when `cancel` fires and the task is done.
pub fn supervise<F, Fut>(
    name: &'static str,
    trouble: TaskTrouble,
    cancel: CancellationToken,
    mut make: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Option<Fut> + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        let mut backoff = Duration::from_secs(1);
        while let Some(task) = make() {
            let ended = tokio::spawn(task).await;
            if cancel.is_cancelled() {
                return;
            }
            let why = match ended {
                Ok(()) => "ended before the engine stopped".to_string(),
                Err(error) if error.is_panic() => {
                    format!("panicked: {}", panic_message(&*error.into_panic()))
                }
                Err(_) => "was cancelled".to_string(),
            };
            trouble.report(format!("the {name} task {why}"));
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(LONGEST_BACKOFF);
        }
    })
}

/// A task that is run once: a failure is reported, not restarted (its channels
/// or listener went with it).
pub fn once<Fut>(task: Fut) -> impl FnMut() -> Option<Fut>
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut task = Some(task);
    move || task.take()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_task_is_reported_and_started_again() {
        let trouble = TaskTrouble::default();
        let cancel = CancellationToken::new();
        let starts = Arc::new(Mutex::new(0));
        let counted = starts.clone();
        let handle = supervise("test", trouble.clone(), cancel.clone(), move || {
            let counted = counted.clone();
            Some(async move {
                *counted.lock() += 1;
                panic!("boom");
            })
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while *starts.lock() < 2 {
            assert!(std::time::Instant::now() < deadline, "not started again");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        cancel.cancel();
        handle.await.unwrap();
        assert!(*starts.lock() >= 2, "started again after the backoff");
        let problems = trouble.current();
        assert!(
            problems[0].contains("the test task panicked: boom"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_repeated_warning_is_said_once_until_it_changes() {
        let mut warning = RepeatedWarning::default();
        warning.warn("cannot checkpoint", "disk full");
        warning.warn("cannot checkpoint", "disk full");
        warning.warn("cannot checkpoint", "disk full");
        assert_eq!(warning.suppressed, 2);
        warning.warn("cannot checkpoint", "I/O error");
        assert_eq!(warning.suppressed, 0, "a new error is said at once");
        warning.clear("checkpoints work again");
        assert!(warning.current.is_none());
    }

    #[tokio::test]
    async fn a_task_ended_by_the_stop_is_no_problem() {
        let trouble = TaskTrouble::default();
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        let handle = supervise(
            "quiet",
            trouble.clone(),
            cancel.clone(),
            once(async move {
                stop.cancelled().await;
            }),
        );
        cancel.cancel();
        handle.await.unwrap();
        assert!(trouble.current().is_empty());
    }
}
