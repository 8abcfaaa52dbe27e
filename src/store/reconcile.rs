//! Reconciliation runs and their items, the accepted differences that are not
//! reported again, and the HRIS admin's queue of flags.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::Value;

use super::page::containing;
use super::{Store, StoreError, StoreTx, from_micros, to_micros};
use crate::model::{DriftCategory, DriftState, RunOutcome};

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

/// A stored finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftItem {
    pub id: i64,
    pub run_id: i64,
    pub category: DriftCategory,
    pub employee_id: String,
    pub learner_id: Option<String>,
    pub field: String,
    pub hris_value: Option<String>,
    pub lms_value: Option<String>,
    pub state: DriftState,
    pub note: Option<String>,
    pub detail: Value,
}

/// An entry of the HRIS admin's queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flag {
    pub id: i64,
    pub at: Timestamp,
    pub actor: String,
    /// "drift" or "duplicate".
    pub kind: String,
    pub employee_id: Option<String>,
    pub subject: String,
    pub note: String,
    pub detail: Value,
}

const RUN_COLUMNS: &str = "id, trigger, started_at, finished_at, outcome, error, employees, learners, \
                           completions, accepted, counts";
/// A run's items (?1) in a category (?2, all when NULL) containing a text (?3, a LIKE pattern).
const ITEMS_MATCHING: &str = "run_id = ?1 AND (?2 IS NULL OR category = ?2) AND (?3 IS NULL \
    OR employee_id LIKE ?3 ESCAPE '\\' OR learner_id LIKE ?3 ESCAPE '\\' OR field LIKE ?3 ESCAPE '\\' \
    OR hris_value LIKE ?3 ESCAPE '\\' OR lms_value LIKE ?3 ESCAPE '\\')";

const ITEM_COLUMNS: &str =
    "id, run_id, category, employee_id, learner_id, field, hris_value, lms_value, state, note, detail";

fn run_from_row(row: &Row<'_>) -> Result<ReconcileRun, StoreError> {
    let id: i64 = row.get(0)?;
    let outcome: String = row.get(4)?;
    let counts: String = row.get(10)?;
    Ok(ReconcileRun {
        id,
        trigger: row.get(1)?,
        started_at: from_micros(row.get(2)?),
        finished_at: row.get::<_, Option<i64>>(3)?.map(from_micros),
        outcome: RunOutcome::parse(&outcome).ok_or_else(|| StoreError::Corrupt {
            row: id,
            column: "outcome",
            reason: format!("unknown value {outcome:?}"),
        })?,
        error: row.get(5)?,
        employees: row.get::<_, i64>(6)? as u64,
        learners: row.get::<_, i64>(7)? as u64,
        completions: row.get::<_, i64>(8)? as u64,
        accepted: row.get::<_, i64>(9)? as u64,
        counts: serde_json::from_str(&counts).unwrap_or_default(),
    })
}

fn item_from_row(row: &Row<'_>) -> Result<DriftItem, StoreError> {
    let id: i64 = row.get(0)?;
    let category: String = row.get(2)?;
    let state: String = row.get(8)?;
    let detail: String = row.get(10)?;
    let corrupt = |column, value: &str| StoreError::Corrupt {
        row: id,
        column,
        reason: format!("unknown value {value:?}"),
    };
    Ok(DriftItem {
        id,
        run_id: row.get(1)?,
        category: DriftCategory::parse(&category).ok_or_else(|| corrupt("category", &category))?,
        employee_id: row.get(3)?,
        learner_id: row.get(4)?,
        field: row.get(5)?,
        hris_value: row.get(6)?,
        lms_value: row.get(7)?,
        state: DriftState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        note: row.get(9)?,
        detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
    })
}

impl Store {
    /// Starts a run unless another is under way (its heartbeat younger than
    /// `stale_after`): then returns that one instead. One run at a time, across
    /// processes (the engine's schedule, `hrsync reconcile`, the console).
    pub fn begin_run(
        &self,
        trigger: &str,
        stale_after: Duration,
    ) -> Result<Result<i64, ReconcileRun>, StoreError> {
        self.transaction(|tx| {
            let now = to_micros(tx.now);
            let stale = now - stale_after.as_micros() as i64;
            let sql = format!("SELECT {RUN_COLUMNS} FROM reconcile_runs WHERE outcome = 'running' ORDER BY id");
            let running: Vec<ReconcileRun> = {
                let mut stmt = tx.conn.prepare_cached(&sql)?;
                let mut rows = stmt.query([])?;
                let mut found = Vec::new();
                while let Some(row) = rows.next()? {
                    found.push(run_from_row(row)?);
                }
                found
            };
            for run in running {
                let beat: i64 = tx
                    .conn
                    .query_row("SELECT beat_at FROM reconcile_runs WHERE id = ?1", [run.id], |r| r.get(0))?;
                if beat >= stale {
                    return Ok(Err(run));
                }
                // Its process stopped mid-run: it will never finish.
                tx.conn.execute(
                    "UPDATE reconcile_runs SET outcome = 'failed', finished_at = ?2, \
                     error = 'stopped before it finished (the process ended)' WHERE id = ?1",
                    params![run.id, now],
                )?;
            }
            let id = tx.conn.query_row(
                "INSERT INTO reconcile_runs (trigger, started_at, beat_at, outcome) VALUES (?1, ?2, ?2, 'running') \
                 RETURNING id",
                params![trigger, now],
                |r| r.get(0),
            )?;
            Ok(Ok(id))
        })
    }

    /// The run is still alive (long pulls call this between steps).
    pub fn beat_run(&self, id: i64) -> Result<(), StoreError> {
        self.transaction(|tx| {
            tx.conn.execute(
                "UPDATE reconcile_runs SET beat_at = ?2 WHERE id = ?1",
                params![id, to_micros(tx.now)],
            )?;
            Ok(())
        })
    }

    /// The run could not finish: it says why and reports nothing as drift.
    pub fn fail_run(&self, id: i64, error: &str) -> Result<ReconcileRun, StoreError> {
        self.transaction(|tx| {
            tx.conn.execute(
                "UPDATE reconcile_runs SET outcome = 'failed', finished_at = ?2, error = ?3 WHERE id = ?1",
                params![id, to_micros(tx.now), error],
            )?;
            tx.written_run(id)
        })
    }

    /// Newest first, at most `limit`.
    pub fn reconcile_runs(&self, limit: usize) -> Result<Vec<ReconcileRun>, StoreError> {
        let conn = self.reader()?;
        let sql = format!("SELECT {RUN_COLUMNS} FROM reconcile_runs ORDER BY id DESC LIMIT ?1");
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query([limit as i64])?;
        let mut runs = Vec::new();
        while let Some(row) = rows.next()? {
            runs.push(run_from_row(row)?);
        }
        Ok(runs)
    }

    pub fn reconcile_run(&self, id: i64) -> Result<Option<ReconcileRun>, StoreError> {
        let conn = self.reader()?;
        let sql = format!("SELECT {RUN_COLUMNS} FROM reconcile_runs WHERE id = ?1");
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query([id])?;
        rows.next()?.map(run_from_row).transpose()
    }

    /// The newest complete run, the one the Drift pane and the metrics show.
    pub fn latest_complete_run(&self) -> Result<Option<ReconcileRun>, StoreError> {
        let conn = self.reader()?;
        let id: Option<i64> = conn
            .query_row(
                "SELECT id FROM reconcile_runs WHERE outcome = 'complete' ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        drop(conn);
        match id {
            Some(id) => self.reconcile_run(id),
            None => Ok(None),
        }
    }

    /// A run's items of one category from row `offset` on, at most `limit`: for paging.
    pub fn drift_items_page(
        &self,
        run_id: i64,
        category: Option<DriftCategory>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DriftItem>, StoreError> {
        self.drift_items_matching(run_id, category, None, offset, limit)
    }

    /// As [`Store::drift_items_page`], keeping the items whose employee, learner,
    /// field or values contain `text` (the console's `/` filter).
    pub fn drift_items_matching(
        &self,
        run_id: i64,
        category: Option<DriftCategory>,
        text: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DriftItem>, StoreError> {
        let conn = self.reader()?;
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM drift_items WHERE {ITEMS_MATCHING} \
             ORDER BY category, id LIMIT ?4 OFFSET ?5"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![
            run_id,
            category.map(|c| c.as_str()),
            text.map(containing),
            limit as i64,
            offset as i64
        ])?;
        let mut items = Vec::new();
        while let Some(row) = rows.next()? {
            items.push(item_from_row(row)?);
        }
        Ok(items)
    }

    /// How many items [`Store::drift_items_matching`] pages through.
    pub fn drift_items_count(
        &self,
        run_id: i64,
        category: Option<DriftCategory>,
        text: Option<&str>,
    ) -> Result<usize, StoreError> {
        let conn = self.reader()?;
        let sql = format!("SELECT COUNT(*) FROM drift_items WHERE {ITEMS_MATCHING}");
        let n: i64 = conn.prepare_cached(&sql)?.query_row(
            params![run_id, category.map(|c| c.as_str()), text.map(containing)],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as usize)
    }

    pub fn drift_item(&self, id: i64) -> Result<Option<DriftItem>, StoreError> {
        let conn = self.reader()?;
        let sql = format!("SELECT {ITEM_COLUMNS} FROM drift_items WHERE id = ?1");
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query([id])?;
        rows.next()?.map(item_from_row).transpose()
    }

    /// The HRIS admin's queue, oldest first, after `after_id`, at most `limit`.
    pub fn flags(&self, after_id: i64, limit: usize) -> Result<Vec<Flag>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, at, actor, kind, employee_id, subject, note, detail FROM flags WHERE id > ?1 \
             ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after_id, limit as i64], |r| {
            let detail: String = r.get(7)?;
            Ok(Flag {
                id: r.get(0)?,
                at: from_micros(r.get(1)?),
                actor: r.get(2)?,
                kind: r.get(3)?,
                employee_id: r.get(4)?,
                subject: r.get(5)?,
                note: r.get(6)?,
                detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl StoreTx<'_> {
    /// Stores a finished run's findings, leaving out those accepted with the same
    /// values (and not expired); returns the run with its counts.
    pub fn finish_run(
        &self,
        id: i64,
        totals: (u64, u64, u64),
        findings: &[Finding],
    ) -> Result<ReconcileRun, StoreError> {
        let now = to_micros(self.now);
        let mut counts: BTreeMap<String, u64> = DriftCategory::ALL
            .iter()
            .map(|c| (c.as_str().to_string(), 0))
            .collect();
        let mut accepted = 0u64;
        let mut is_accepted = self.conn.prepare_cached(
            "SELECT 1 FROM drift_accepted WHERE category = ?1 AND employee_id = ?2 AND field = ?3 \
             AND hris_value IS ?4 AND lms_value IS ?5 AND (expires_at IS NULL OR expires_at > ?6)",
        )?;
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO drift_items (run_id, category, employee_id, learner_id, field, hris_value, lms_value, detail) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for f in findings {
            let category = f.category.as_str();
            let known = is_accepted
                .query_row(
                    params![category, f.employee_id, f.field, f.hris_value, f.lms_value, now],
                    |_| Ok(()),
                )
                .optional()?;
            if known.is_some() {
                accepted += 1;
                continue;
            }
            insert.execute(params![
                id,
                category,
                f.employee_id,
                f.learner_id,
                f.field,
                f.hris_value,
                f.lms_value,
                f.detail.to_string()
            ])?;
            *counts.entry(category.to_string()).or_default() += 1;
        }
        self.conn.execute(
            "UPDATE reconcile_runs SET outcome = 'complete', finished_at = ?2, employees = ?3, learners = ?4, \
             completions = ?5, accepted = ?6, counts = ?7 WHERE id = ?1",
            params![
                id,
                now,
                totals.0 as i64,
                totals.1 as i64,
                totals.2 as i64,
                accepted as i64,
                serde_json::to_string(&counts).unwrap_or_default()
            ],
        )?;
        self.written_run(id)
    }

    /// A run just written, read back in the same transaction.
    fn written_run(&self, id: i64) -> Result<ReconcileRun, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM reconcile_runs WHERE id = ?1");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query([id])?;
        let row = rows.next()?.ok_or(StoreError::Corrupt {
            row: id,
            column: "reconcile_runs",
            reason: "the run just written is missing".into(),
        })?;
        run_from_row(row)
    }

    pub fn drift_item(&self, id: i64) -> Result<Option<DriftItem>, StoreError> {
        let sql = format!("SELECT {ITEM_COLUMNS} FROM drift_items WHERE id = ?1");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query([id])?;
        rows.next()?.map(item_from_row).transpose()
    }

    pub fn set_drift_state(&self, id: i64, state: DriftState, note: Option<&str>) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE drift_items SET state = ?2, note = ?3 WHERE id = ?1")?
            .execute(params![id, state.as_str(), note])?;
        Ok(())
    }

    /// Remembers an accepted difference: later runs leave it out while its values stay.
    pub fn accept_drift(
        &self,
        item: &DriftItem,
        reason: &str,
        expires_at: Option<Timestamp>,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO drift_accepted (category, employee_id, field, hris_value, lms_value, \
                 reason, expires_at, actor, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                item.category.as_str(),
                item.employee_id,
                item.field,
                item.hris_value,
                item.lms_value,
                reason,
                expires_at.map(to_micros),
                actor,
                to_micros(self.now)
            ])?;
        self.set_drift_state(item.id, DriftState::Accepted, Some(reason))
    }

    /// Adds an entry to the HRIS admin's queue; returns its id.
    pub fn add_flag(
        &self,
        kind: &str,
        employee_id: Option<&str>,
        subject: &str,
        note: &str,
        detail: &Value,
        actor: &str,
    ) -> Result<i64, StoreError> {
        Ok(self.conn.prepare_cached(
            "INSERT INTO flags (at, actor, kind, employee_id, subject, note, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             RETURNING id",
        )?
        .query_row(
            params![to_micros(self.now), actor, kind, employee_id, subject, note, detail.to_string()],
            |r| r.get(0),
        )?)
    }
}
