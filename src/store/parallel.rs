//! The parallel run as the store keeps it: each day's comparison with the legacy
//! process, and the operators' explanations. The engine (`engine::parallel`)
//! decides what they mean for the streak. Written once over `Sql`, so the same
//! statements run on SQLite and PostgreSQL.

use jiff::Timestamp;
use jiff::civil::Date;

use super::sql::{Param, Row, Sql, Transact, clock};
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

/// A column of `parallel_days` that holds a count.
fn count(row: &dyn Row, column: usize, name: &'static str) -> Result<u64, StoreError> {
    Ok(row.int_of(column, name)? as u64)
}

fn corrupt(column: &'static str, reason: String) -> StoreError {
    StoreError::Corrupt {
        row: 0,
        column,
        reason,
    }
}

fn day_of(row: &dyn Row) -> Result<ParallelDay, StoreError> {
    let day = row.text_of(0, "parallel_days.day")?;
    let differences = row.text_of(8, "parallel_days.differences")?;
    Ok(ParallelDay {
        day: day
            .parse()
            .map_err(|e: jiff::Error| corrupt("parallel_days.day", format!("{day:?}: {e}")))?,
        file: row.text_of(1, "parallel_days.file")?,
        compared_at: from_micros(row.int_of(2, "parallel_days.compared_at")?),
        shadow: row.int_of(3, "parallel_days.shadow")? != 0,
        legacy_learners: count(row, 4, "parallel_days.legacy_learners")?,
        hrsync_learners: count(row, 5, "parallel_days.hrsync_learners")?,
        matching: count(row, 6, "parallel_days.matching")?,
        legacy_without_id: count(row, 7, "parallel_days.legacy_without_id")?,
        differences: serde_json::from_str(&differences)
            .map_err(|e| corrupt("parallel_days.differences", e.to_string()))?,
    })
}

/// Every compared day, oldest first.
pub fn parallel_days(sql: &dyn Sql) -> Result<Vec<ParallelDay>, StoreError> {
    sql.query_all(
        "SELECT day, file, compared_at, shadow, legacy_learners, hrsync_learners, matching, \
         legacy_without_id, differences FROM parallel_days ORDER BY day",
        &[],
        day_of,
    )
}

/// Every explanation, oldest first.
pub fn parallel_explanations(sql: &dyn Sql) -> Result<Vec<Explanation>, StoreError> {
    sql.query_all(
        "SELECT employee_id, field, legacy, hrsync, reason, by, at FROM parallel_explanations ORDER BY id",
        &[],
        |row| {
            Ok(Explanation {
                employee_id: row.text_of(0, "parallel_explanations.employee_id")?,
                field: row.text_of(1, "parallel_explanations.field")?,
                legacy: row.text(2)?,
                hrsync: row.text(3)?,
                reason: row.text_of(4, "parallel_explanations.reason")?,
                by: row.text_of(5, "parallel_explanations.by")?,
                at: from_micros(row.int_of(6, "parallel_explanations.at")?).to_string(),
            })
        },
    )
}

/// Keeps one day's comparison, replacing an earlier one of the same day (made by
/// any engine).
pub fn record_parallel_day(sql: &dyn Sql, day: &ParallelDay) -> Result<(), StoreError> {
    let differences = serde_json::to_string(&day.differences).expect("differences serialise");
    let date = day.day.to_string();
    sql.execute(
        "INSERT INTO parallel_days (day, file, compared_at, shadow, legacy_learners, \
         hrsync_learners, matching, legacy_without_id, differences) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
         ON CONFLICT (day) DO UPDATE SET file = excluded.file, compared_at = excluded.compared_at, \
         shadow = excluded.shadow, legacy_learners = excluded.legacy_learners, \
         hrsync_learners = excluded.hrsync_learners, matching = excluded.matching, \
         legacy_without_id = excluded.legacy_without_id, differences = excluded.differences",
        &[
            Param::from(date.as_str()),
            Param::from(day.file.as_str()),
            Param::from(to_micros(day.compared_at)),
            Param::from(i64::from(day.shadow)),
            Param::from(day.legacy_learners as i64),
            Param::from(day.hrsync_learners as i64),
            Param::from(day.matching as i64),
            Param::from(day.legacy_without_id as i64),
            Param::from(differences.as_str()),
        ],
    )?;
    Ok(())
}

/// Keeps an operator's explanation of one difference, stamped `at`.
pub fn add_parallel_explanation(
    sql: &dyn Sql,
    at: Timestamp,
    difference: &Difference,
    reason: &str,
    by: &str,
) -> Result<Explanation, StoreError> {
    sql.execute(
        "INSERT INTO parallel_explanations (employee_id, field, legacy, hrsync, reason, by, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[
            Param::from(difference.employee_id.as_str()),
            Param::from(difference.field.as_str()),
            Param::from(difference.legacy.as_deref()),
            Param::from(difference.hrsync.as_deref()),
            Param::from(reason),
            Param::from(by),
            Param::from(to_micros(at)),
        ],
    )?;
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

/// The parallel run's calls on any store, SQLite or PostgreSQL, each one
/// transaction; an explanation is stamped by the database's clock. Inside a wider
/// SQLite transaction, `StoreTx` offers the writes under the same names.
pub trait ParallelRun: Transact {
    fn record_parallel_day(&self, day: &ParallelDay) -> Result<(), StoreError> {
        self.write_retrying(|sql| record_parallel_day(sql, day))
    }

    fn add_parallel_explanation(
        &self,
        difference: &Difference,
        reason: &str,
        by: &str,
    ) -> Result<Explanation, StoreError> {
        self.write_retrying(|sql| {
            add_parallel_explanation(sql, from_micros(clock(sql)?), difference, reason, by)
        })
    }

    fn parallel_days(&self) -> Result<Vec<ParallelDay>, StoreError> {
        self.read(parallel_days)
    }

    fn parallel_explanations(&self) -> Result<Vec<Explanation>, StoreError> {
        self.read(parallel_explanations)
    }
}

impl<T: Transact> ParallelRun for T {}

impl StoreTx<'_> {
    /// Keeps one day's comparison, replacing an earlier one of the same day.
    pub fn record_parallel_day(&self, day: &ParallelDay) -> Result<(), StoreError> {
        record_parallel_day(self.sql(), day)
    }

    /// Keeps an operator's explanation of one difference, stamped now.
    pub fn add_parallel_explanation(
        &self,
        difference: &Difference,
        reason: &str,
        by: &str,
    ) -> Result<Explanation, StoreError> {
        add_parallel_explanation(self.sql(), self.now(), difference, reason, by)
    }

    pub fn parallel_days(&self) -> Result<Vec<ParallelDay>, StoreError> {
        parallel_days(self.sql())
    }
}

/// The reads on SQLite's `Store` without importing `ParallelRun`, as callers had them.
impl Store {
    /// Every compared day, oldest first.
    pub fn parallel_days(&self) -> Result<Vec<ParallelDay>, StoreError> {
        ParallelRun::parallel_days(self)
    }

    /// Every explanation, oldest first.
    pub fn parallel_explanations(&self) -> Result<Vec<Explanation>, StoreError> {
        ParallelRun::parallel_explanations(self)
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
