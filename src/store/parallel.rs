//! The parallel run as the store keeps it: each day's comparison with the legacy
//! process, and the operators' explanations. The engine (`engine::parallel`)
//! decides what they mean for the streak.

use jiff::Timestamp;
use jiff::civil::Date;
use rusqlite::params;

use super::{Store, StoreError, StoreTx, from_micros, to_micros};
use crate::model::parallel::{Difference, Explanation};

/// One day's comparison of the legacy file with hrsync's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParallelDay {
    pub day: Date,
    /// The legacy file compared, as given.
    pub file: String,
    pub compared_at: Timestamp,
    /// Whether hrsync's side was the desired state (shadow mode) or the LMS.
    pub shadow: bool,
    pub legacy_learners: u64,
    pub hrsync_learners: u64,
    pub matching: u64,
    pub legacy_without_id: u64,
    pub differences: Vec<Difference>,
}

fn bad(what: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, what.to_string().into())
}

fn days(conn: &rusqlite::Connection) -> Result<Vec<ParallelDay>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT day, file, compared_at, shadow, legacy_learners, hrsync_learners, matching, \
         legacy_without_id, differences FROM parallel_days ORDER BY day",
    )?;
    let rows = statement.query_map([], |r| {
        Ok(ParallelDay {
            day: r.get::<_, String>(0)?.parse().map_err(bad)?,
            file: r.get(1)?,
            compared_at: from_micros(r.get(2)?),
            shadow: r.get(3)?,
            legacy_learners: r.get::<_, i64>(4)? as u64,
            hrsync_learners: r.get::<_, i64>(5)? as u64,
            matching: r.get::<_, i64>(6)? as u64,
            legacy_without_id: r.get::<_, i64>(7)? as u64,
            differences: serde_json::from_str(&r.get::<_, String>(8)?).map_err(bad)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn explanations(conn: &rusqlite::Connection) -> Result<Vec<Explanation>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT employee_id, field, legacy, hrsync, reason, by, at FROM parallel_explanations ORDER BY id",
    )?;
    let rows = statement.query_map([], |r| {
        Ok(Explanation {
            employee_id: r.get(0)?,
            field: r.get(1)?,
            legacy: r.get(2)?,
            hrsync: r.get(3)?,
            reason: r.get(4)?,
            by: r.get(5)?,
            at: from_micros(r.get(6)?).to_string(),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl StoreTx<'_> {
    /// Keeps one day's comparison, replacing an earlier one of the same day.
    pub fn record_parallel_day(&self, day: &ParallelDay) -> Result<(), StoreError> {
        let differences = serde_json::to_string(&day.differences).expect("differences serialise");
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO parallel_days (day, file, compared_at, shadow, legacy_learners, \
                 hrsync_learners, matching, legacy_without_id, differences) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                day.day.to_string(),
                day.file,
                to_micros(day.compared_at),
                day.shadow,
                day.legacy_learners as i64,
                day.hrsync_learners as i64,
                day.matching as i64,
                day.legacy_without_id as i64,
                differences,
            ])?;
        Ok(())
    }

    /// Keeps an operator's explanation of one difference, stamped now.
    pub fn add_parallel_explanation(
        &self,
        difference: &Difference,
        reason: &str,
        by: &str,
    ) -> Result<Explanation, StoreError> {
        let at = self.now();
        self.conn
            .prepare_cached(
                "INSERT INTO parallel_explanations (employee_id, field, legacy, hrsync, reason, by, at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                difference.employee_id,
                difference.field,
                difference.legacy,
                difference.hrsync,
                reason,
                by,
                to_micros(at),
            ])?;
        Ok(Explanation {
            employee_id: difference.employee_id.clone(),
            field: difference.field.clone(),
            legacy: difference.legacy.clone(),
            hrsync: difference.hrsync.clone(),
            reason: reason.to_string(),
            by: by.to_string(),
            at: at.to_string(),
        })
    }

    pub fn parallel_days(&self) -> Result<Vec<ParallelDay>, StoreError> {
        days(self.conn)
    }
}

impl Store {
    /// Every compared day, oldest first.
    pub fn parallel_days(&self) -> Result<Vec<ParallelDay>, StoreError> {
        let conn = self.reader()?;
        days(&conn)
    }

    /// Every explanation, oldest first.
    pub fn parallel_explanations(&self) -> Result<Vec<Explanation>, StoreError> {
        let conn = self.reader()?;
        explanations(&conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_and_an_explanation_come_back_as_kept_and_a_day_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("hrsync.db")).unwrap();
        let difference = Difference {
            employee_id: "7".into(),
            field: "department".into(),
            legacy: Some("Sales".into()),
            hrsync: None,
        };
        let day = ParallelDay {
            day: jiff::civil::date(2026, 12, 7),
            file: "legacy-2026-12-07.csv".into(),
            compared_at: Timestamp::from_second(1_800_000_000).unwrap(),
            shadow: true,
            legacy_learners: 3,
            hrsync_learners: 2,
            matching: 1,
            legacy_without_id: 0,
            differences: vec![difference.clone()],
        };
        store.transaction(|tx| tx.record_parallel_day(&day)).unwrap();
        let again = ParallelDay {
            matching: 2,
            ..day.clone()
        };
        store.transaction(|tx| tx.record_parallel_day(&again)).unwrap();
        assert_eq!(store.parallel_days().unwrap(), [again]);
        let kept = store
            .transaction(|tx| tx.add_parallel_explanation(&difference, "legacy kept contractors", "ana"))
            .unwrap();
        assert_eq!(
            store.parallel_explanations().unwrap(),
            std::slice::from_ref(&kept)
        );
        assert!(difference.explained_by(&kept));
    }
}
