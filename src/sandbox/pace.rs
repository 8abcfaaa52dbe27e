//! Steady generation: the churn and completion generators both do N things a
//! second, spread over 100 ms ticks, until they are cancelled.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

const TICK: Duration = Duration::from_millis(100);

/// Calls `step(n)` every tick with how many things are owed at `per_sec`
/// (fractions carry over), until `cancel` fires.
pub async fn at_rate(per_sec: f64, cancel: CancellationToken, mut step: impl FnMut(usize)) {
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut owed = 0.0;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        owed += per_sec * TICK.as_secs_f64();
        let due = owed.floor();
        owed -= due;
        if due >= 1.0 {
            step(due as usize);
        }
    }
}
