//! Reconciliation runs: one at a time, kept alive by beats, finished with their
//! findings as drift items (`store/drift.rs`) less the accepted ones. Written
//! once over `Sql`, so the same statements run on SQLite and PostgreSQL: any
//! store through the `ReconcileRuns` trait (each call one transaction, by the
//! database's clock), SQLite's `StoreTx` and `Store` under the names callers had.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use super::sql::{Param, Row, Sql, Transact, clock};
use super::{Store, StoreError, StoreTx, from_micros, to_micros};
use crate::model::{DriftCategory, RunOutcome};

/// One difference a run found, before it is stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub category: DriftCategory,
    pub employee_id: String,
    pub learner_id: Option<String>,
    /// The contract field for field drift, the group for wrong groups, the
    /// statement id for a completion; "" otherwise.
    pub field: String,
    pub hris_value: Option<String>,
    pub lms_value: Option<String>,
    /// What a fix needs (the HRIS record, the statement), and more to show.
    pub detail: Value,
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReconcileRun {
    pub id: i64,
    /// "schedule", "operator" or "console".
    pub trigger: String,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub outcome: RunOutcome,
    pub error: Option<String>,
    pub employees: u64,
    pub learners: u64,
    pub completions: u64,
    /// Findings left out because an operator accepted them.
    pub accepted: u64,
    /// Items per category (every category present, zero included, once complete).
    pub counts: BTreeMap<String, u64>,
}

impl ReconcileRun {
    pub fn count(&self, category: DriftCategory) -> u64 {
        self.counts.get(category.as_str()).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

const RUN_COLUMNS: &str = "id, trigger, started_at, finished_at, outcome, error, employees, learners, \
                           completions, accepted, counts";

fn count(row: &dyn Row, column: usize) -> Result<u64, StoreError> {
    Ok(row.int(column)?.unwrap_or_default().max(0) as u64)
}

fn run_from_row(row: &dyn Row) -> Result<ReconcileRun, StoreError> {
    let id = row.int(0)?.unwrap_or_default();
    let outcome = row.text(4)?.unwrap_or_default();
    let counts = row.text(10)?.unwrap_or_default();
    Ok(ReconcileRun {
        id,
        trigger: row.text(1)?.unwrap_or_default(),
        started_at: from_micros(row.int(2)?.unwrap_or_default()),
        finished_at: row.int(3)?.map(from_micros),
        outcome: RunOutcome::parse(&outcome).ok_or_else(|| StoreError::Corrupt {
            row: id,
            column: "outcome",
            reason: format!("unknown value {outcome:?}"),
        })?,
        error: row.text(5)?,
        employees: count(row, 6)?,
        learners: count(row, 7)?,
        completions: count(row, 8)?,
        accepted: count(row, 9)?,
        counts: serde_json::from_str(&counts).unwrap_or_default(),
    })
}

/// Starts a run unless another is under way (its heartbeat younger than
/// `stale_after`): then returns that one instead. One run at a time across
/// processes and engines (the engine's schedule, `hrsync reconcile`, the
/// console): on PostgreSQL the transaction holds a lock by name first, so two
/// engines asking at once take turns and the second finds the first's run.
pub fn begin_run(
    sql: &dyn Sql,
    now: Timestamp,
    trigger: &str,
    stale_after: Duration,
) -> Result<Result<i64, ReconcileRun>, StoreError> {
    if let Some(lock) = sql.dialect().transaction_lock() {
        sql.query(lock, &[Param::from("hrsync reconcile run")], &mut |_| Ok(()))?;
    }
    let now = to_micros(now);
    let stale = now - stale_after.as_micros() as i64;
    let running = sql.query_all(
        &format!("SELECT {RUN_COLUMNS}, beat_at FROM reconcile_runs WHERE outcome = 'running' ORDER BY id"),
        &[],
        |row| Ok((run_from_row(row)?, row.int(11)?.unwrap_or_default())),
    )?;
    for (run, beat) in running {
        if beat >= stale {
            return Ok(Err(run));
        }
        // Its process stopped mid-run: it will never finish.
        sql.execute(
            "UPDATE reconcile_runs SET outcome = 'failed', finished_at = ?2, \
             error = 'stopped before it finished (the process ended)' WHERE id = ?1",
            &[Param::from(run.id), Param::from(now)],
        )?;
    }
    let id = sql.query_opt(
        "INSERT INTO reconcile_runs (trigger, started_at, beat_at, outcome) VALUES (?1, ?2, ?2, 'running') \
         RETURNING id",
        &[Param::from(trigger), Param::from(now)],
        |row| row.int(0),
    )?;
    Ok(Ok(id.flatten().unwrap_or_default()))
}

/// The run is still alive (long pulls call this between steps).
pub fn beat_run(sql: &dyn Sql, now: Timestamp, id: i64) -> Result<(), StoreError> {
    sql.execute(
        "UPDATE reconcile_runs SET beat_at = ?2 WHERE id = ?1",
        &[Param::from(id), Param::from(to_micros(now))],
    )?;
    Ok(())
}

/// The run could not finish: it says why and reports nothing as drift.
pub fn fail_run(sql: &dyn Sql, now: Timestamp, id: i64, error: &str) -> Result<ReconcileRun, StoreError> {
    sql.execute(
        "UPDATE reconcile_runs SET outcome = 'failed', finished_at = ?2, error = ?3 WHERE id = ?1",
        &[Param::from(id), Param::from(to_micros(now)), Param::from(error)],
    )?;
    written_run(sql, id)
}

/// Stores a finished run's findings, leaving out those accepted with the same
/// values (and not expired); returns the run with its counts.
pub fn finish_run(
    sql: &dyn Sql,
    now: Timestamp,
    id: i64,
    totals: (u64, u64, u64),
    findings: &[Finding],
) -> Result<ReconcileRun, StoreError> {
    let now = to_micros(now);
    let mut counts: BTreeMap<String, u64> = DriftCategory::ALL
        .iter()
        .map(|c| (c.as_str().to_string(), 0))
        .collect();
    let mut accepted = 0u64;
    let mut is_accepted = sql.prepare(
        "SELECT 1 FROM drift_accepted WHERE category = ?1 AND employee_id = ?2 AND field = ?3 \
         AND hris_value IS NOT DISTINCT FROM ?4 AND lms_value IS NOT DISTINCT FROM ?5 \
         AND (expires_at IS NULL OR expires_at > ?6)",
    )?;
    let mut insert = sql.prepare(
        "INSERT INTO drift_items (run_id, category, employee_id, learner_id, field, hris_value, lms_value, detail) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for f in findings {
        let category = f.category.as_str();
        let known = is_accepted.query_opt(
            &[
                Param::from(category),
                Param::from(f.employee_id.as_str()),
                Param::from(f.field.as_str()),
                Param::from(f.hris_value.as_deref()),
                Param::from(f.lms_value.as_deref()),
                Param::from(now),
            ],
            |_| Ok(()),
        )?;
        if known.is_some() {
            accepted += 1;
            continue;
        }
        let detail = f.detail.to_string();
        insert.execute(&[
            Param::from(id),
            Param::from(category),
            Param::from(f.employee_id.as_str()),
            Param::from(f.learner_id.as_deref()),
            Param::from(f.field.as_str()),
            Param::from(f.hris_value.as_deref()),
            Param::from(f.lms_value.as_deref()),
            Param::from(detail.as_str()),
        ])?;
        *counts.entry(category.to_string()).or_default() += 1;
    }
    let counts = serde_json::to_string(&counts).unwrap_or_default();
    sql.execute(
        "UPDATE reconcile_runs SET outcome = 'complete', finished_at = ?2, employees = ?3, learners = ?4, \
         completions = ?5, accepted = ?6, counts = ?7 WHERE id = ?1",
        &[
            Param::from(id),
            Param::from(now),
            Param::from(totals.0 as i64),
            Param::from(totals.1 as i64),
            Param::from(totals.2 as i64),
            Param::from(accepted as i64),
            Param::from(counts.as_str()),
        ],
    )?;
    written_run(sql, id)
}

/// A run just written, read back in the same transaction.
fn written_run(sql: &dyn Sql, id: i64) -> Result<ReconcileRun, StoreError> {
    reconcile_run(sql, id)?.ok_or(StoreError::Corrupt {
        row: id,
        column: "reconcile_runs",
        reason: "the run just written is missing".into(),
    })
}

/// Newest first, at most `limit`.
pub fn reconcile_runs(sql: &dyn Sql, limit: usize) -> Result<Vec<ReconcileRun>, StoreError> {
    sql.query_all(
        &format!("SELECT {RUN_COLUMNS} FROM reconcile_runs ORDER BY id DESC LIMIT ?1"),
        &[Param::from(limit as i64)],
        run_from_row,
    )
}

pub fn reconcile_run(sql: &dyn Sql, id: i64) -> Result<Option<ReconcileRun>, StoreError> {
    sql.query_opt(
        &format!("SELECT {RUN_COLUMNS} FROM reconcile_runs WHERE id = ?1"),
        &[Param::from(id)],
        run_from_row,
    )
}

/// The newest complete run, the one the Drift pane and the metrics show.
pub fn latest_complete_run(sql: &dyn Sql) -> Result<Option<ReconcileRun>, StoreError> {
    sql.query_opt(
        &format!(
            "SELECT {RUN_COLUMNS} FROM reconcile_runs WHERE outcome = 'complete' ORDER BY id DESC LIMIT 1"
        ),
        &[],
        run_from_row,
    )
}

/// The reconciliation runs' calls on any store, SQLite or PostgreSQL, each one
/// transaction stamped by the database's clock. Inside a wider SQLite
/// transaction, `StoreTx::finish_run` writes the same rows.
pub trait ReconcileRuns: Transact {
    /// See [`begin_run`].
    fn begin_run(
        &self,
        trigger: &str,
        stale_after: Duration,
    ) -> Result<Result<i64, ReconcileRun>, StoreError> {
        self.write_retrying(|sql| begin_run(sql, from_micros(clock(sql)?), trigger, stale_after))
    }

    fn beat_run(&self, id: i64) -> Result<(), StoreError> {
        self.write_retrying(|sql| beat_run(sql, from_micros(clock(sql)?), id))
    }

    fn fail_run(&self, id: i64, error: &str) -> Result<ReconcileRun, StoreError> {
        self.write_retrying(|sql| fail_run(sql, from_micros(clock(sql)?), id, error))
    }

    fn finish_run(
        &self,
        id: i64,
        totals: (u64, u64, u64),
        findings: &[Finding],
    ) -> Result<ReconcileRun, StoreError> {
        self.write_retrying(|sql| finish_run(sql, from_micros(clock(sql)?), id, totals, findings))
    }

    fn reconcile_runs(&self, limit: usize) -> Result<Vec<ReconcileRun>, StoreError> {
        self.read(|sql| reconcile_runs(sql, limit))
    }

    fn reconcile_run(&self, id: i64) -> Result<Option<ReconcileRun>, StoreError> {
        self.read(|sql| reconcile_run(sql, id))
    }

    fn latest_complete_run(&self) -> Result<Option<ReconcileRun>, StoreError> {
        self.read(latest_complete_run)
    }
}

impl<T: Transact> ReconcileRuns for T {}

/// The calls on SQLite's `Store` without importing `ReconcileRuns`, as callers had them.
impl Store {
    pub fn begin_run(
        &self,
        trigger: &str,
        stale_after: Duration,
    ) -> Result<Result<i64, ReconcileRun>, StoreError> {
        ReconcileRuns::begin_run(self, trigger, stale_after)
    }

    pub fn beat_run(&self, id: i64) -> Result<(), StoreError> {
        ReconcileRuns::beat_run(self, id)
    }

    pub fn fail_run(&self, id: i64, error: &str) -> Result<ReconcileRun, StoreError> {
        ReconcileRuns::fail_run(self, id, error)
    }

    pub fn reconcile_runs(&self, limit: usize) -> Result<Vec<ReconcileRun>, StoreError> {
        ReconcileRuns::reconcile_runs(self, limit)
    }

    pub fn reconcile_run(&self, id: i64) -> Result<Option<ReconcileRun>, StoreError> {
        ReconcileRuns::reconcile_run(self, id)
    }

    pub fn latest_complete_run(&self) -> Result<Option<ReconcileRun>, StoreError> {
        ReconcileRuns::latest_complete_run(self)
    }
}

impl StoreTx<'_> {
    pub fn finish_run(
        &self,
        id: i64,
        totals: (u64, u64, u64),
        findings: &[Finding],
    ) -> Result<ReconcileRun, StoreError> {
        finish_run(self.sql(), self.now, id, totals, findings)
    }
}
