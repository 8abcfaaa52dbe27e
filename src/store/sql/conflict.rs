//! Transactions PostgreSQL gives up because they met another engine's at the
//! same moment: how to tell them (`is_conflict`) and how long to wait before
//! `Transact::write_retrying` runs one again.

use postgres::error::SqlState;

use crate::store::StoreError;

/// How many times `Transact::write_retrying` runs its work again at most.
pub const CONFLICT_RETRIES: usize = 6;

/// The waits between runs of work given up for a conflict: from 10 ms, doubling
/// to at most 250 ms, each with its own random jitter so engines that met fall apart.
pub(super) fn backoff() -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::new()
        .with_min_delay(std::time::Duration::from_millis(10))
        .with_max_delay(std::time::Duration::from_millis(250))
        .with_max_times(CONFLICT_RETRIES)
        .with_jitter()
}

/// Whether the database gave up the transaction because it met another one at
/// the same moment, so running it again from the start may succeed: PostgreSQL's
/// serialization failure (SQLSTATE 40001) or a deadlock it broke (40P01).
pub fn is_conflict(error: &StoreError) -> bool {
    match error {
        StoreError::Postgres(error) => matches!(
            error.code(),
            Some(code) if *code == SqlState::T_R_SERIALIZATION_FAILURE || *code == SqlState::T_R_DEADLOCK_DETECTED
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use backon::BackoffBuilder;

    use super::*;

    #[test]
    fn a_conflict_is_waited_for_a_bounded_number_of_short_times() {
        let waits: Vec<Duration> = backoff().build().collect();
        assert_eq!(waits.len(), CONFLICT_RETRIES);
        assert!(
            waits.iter().all(|wait| *wait <= Duration::from_millis(500)),
            "{waits:?}"
        );
        assert!(waits[0] >= Duration::from_millis(10), "{waits:?}");
    }

    #[test]
    fn only_postgres_conflicts_count() {
        let busy = StoreError::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        ));
        assert!(!is_conflict(&busy));
    }
}
