//! The one retry policy for reads: `[retry] read_attempts` and `read_delay_ms`
//! become the backoff every connector asks a page of a full pull again by.

use crate::config::RetryPolicy;
use crate::connectors::ReadBackoff;

/// Attempts in all become retries after the first; the delay doubles, with jitter.
pub fn read_backoff(retry: &RetryPolicy) -> ReadBackoff {
    ReadBackoff::new()
        .with_min_delay(retry.read_delay)
        .with_max_times(retry.read_attempts.saturating_sub(1) as usize)
        .with_jitter()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use backon::BackoffBuilder;

    use super::*;

    #[test]
    fn four_attempts_wait_three_times_from_the_configured_delay() {
        let retry = RetryPolicy::default();
        let waits: Vec<Duration> = read_backoff(&retry).build().collect();
        assert_eq!(waits.len(), 3);
        assert!(waits[0] >= Duration::from_millis(200), "{waits:?}");
        let once = RetryPolicy {
            read_attempts: 1,
            ..RetryPolicy::default()
        };
        assert_eq!(read_backoff(&once).build().count(), 0);
    }
}
