//! The control plane, one typed row: what operators ask the engine (pause, a
//! contract, a reconciliation now) and what the engine publishes (its status,
//! the contract in force, when reconciliation runs next).

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError, StoreTx, from_micros, to_micros};

/// Operators' reconciliation requests and the schedule, as the engine sees them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconcileControl {
    /// When an operator last asked for a run now.
    pub requested: Option<Timestamp>,
    /// The request the engine last took up, so one request starts one run.
    pub taken: Option<Timestamp>,
    /// The scheduled instant the engine last handled (ran, or found a run under way).
    pub last_scheduled: Option<Timestamp>,
    /// When the schedule runs next, published for consoles and the metrics.
    pub next: Option<Timestamp>,
}

/// The engine's latest published status: when, and the status as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedStatus {
    pub at: Timestamp,
    pub json: String,
}

fn time(micros: Option<i64>) -> Option<Timestamp> {
    micros.map(from_micros)
}

impl StoreTx<'_> {
    fn set_control(&self, column: &'static str, value: &dyn rusqlite::ToSql) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(&format!("UPDATE control SET {column} = ?1 WHERE id = 1"))?
            .execute([value])?;
        Ok(())
    }

    /// An operator asks the engine to pause (`true`) or resume (`false`).
    pub fn request_pause(&self, paused: bool) -> Result<(), StoreError> {
        self.set_control("pause_requested", &paused)
    }

    /// An operator hands the engine a checked contract text to switch to.
    pub fn request_contract(&self, text: &str) -> Result<(), StoreError> {
        self.set_control("contract_requested", &text)
    }

    /// An operator asks for a reconciliation run now.
    pub fn request_reconcile(&self, at: Timestamp) -> Result<(), StoreError> {
        self.set_control("reconcile_requested", &to_micros(at))
    }

    /// The engine took up the request made at `requested`.
    pub fn reconcile_request_taken(&self, requested: Timestamp) -> Result<(), StoreError> {
        self.set_control("reconcile_taken", &to_micros(requested))
    }

    /// The engine handled the scheduled instant `at`.
    pub fn reconcile_scheduled(&self, at: Timestamp) -> Result<(), StoreError> {
        self.set_control("reconcile_last_scheduled", &to_micros(at))
    }

    /// When the schedule runs next.
    pub fn set_reconcile_next(&self, at: Timestamp) -> Result<(), StoreError> {
        self.set_control("reconcile_next", &to_micros(at))
    }

    /// The contract text the engine runs by now.
    pub fn set_contract_in_force(&self, text: &str) -> Result<(), StoreError> {
        self.set_control("contract_in_force", &text)
    }

    /// The engine's status as JSON, published at `at`.
    pub fn publish_status(&self, at: Timestamp, json: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE control SET status_at = ?1, status = ?2 WHERE id = 1")?
            .execute(params![to_micros(at), json])?;
        Ok(())
    }
}

impl Store {
    fn control<T: rusqlite::types::FromSql>(&self, column: &'static str) -> Result<Option<T>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&format!("SELECT {column} FROM control WHERE id = 1"))?;
        Ok(stmt
            .query_row([], |r| r.get::<_, Option<T>>(0))
            .optional()?
            .flatten())
    }

    /// Whether an operator asked to pause (`None`: nobody has paused or resumed yet).
    pub fn pause_requested(&self) -> Result<Option<bool>, StoreError> {
        self.control("pause_requested")
    }

    /// The contract text an operator last handed the engine.
    pub fn contract_requested(&self) -> Result<Option<String>, StoreError> {
        self.control("contract_requested")
    }

    /// The contract text the engine last said it runs by.
    pub fn contract_in_force(&self) -> Result<Option<String>, StoreError> {
        self.control("contract_in_force")
    }

    pub fn reconcile_control(&self) -> Result<ReconcileControl, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT reconcile_requested, reconcile_taken, reconcile_last_scheduled, reconcile_next \
             FROM control WHERE id = 1",
        )?;
        Ok(stmt
            .query_row([], |r| {
                Ok(ReconcileControl {
                    requested: time(r.get(0)?),
                    taken: time(r.get(1)?),
                    last_scheduled: time(r.get(2)?),
                    next: time(r.get(3)?),
                })
            })
            .optional()?
            .unwrap_or_default())
    }

    /// The engine's latest published status, if it ever published one.
    pub fn published_status(&self) -> Result<Option<PublishedStatus>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached("SELECT status_at, status FROM control WHERE id = 1")?;
        let row: Option<(Option<i64>, Option<String>)> =
            stmt.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        Ok(match row {
            Some((Some(at), Some(json))) => Some(PublishedStatus {
                at: from_micros(at),
                json,
            }),
            _ => None,
        })
    }
}
