//! The control plane, one typed row: what operators ask the engine (pause, a
//! contract, a reconciliation now) and what the engine publishes (its status,
//! the contract in force, when reconciliation runs next). Written once over
//! `Sql`, so the same statements run on SQLite and PostgreSQL.

use jiff::Timestamp;

use super::sql::{Param, Row, Sql, Transact};
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

fn time(row: &dyn Row, column: usize) -> Result<Option<Timestamp>, StoreError> {
    Ok(row.int(column)?.map(from_micros))
}

fn set(sql: &dyn Sql, column: &'static str, value: Param<'_>) -> Result<(), StoreError> {
    sql.execute(
        &format!("UPDATE control SET {column} = ?1 WHERE id = 1"),
        &[value],
    )?;
    Ok(())
}

/// One column of the row, null when unset (or when the row is missing).
fn get<T>(
    sql: &dyn Sql,
    column: &'static str,
    read: impl Fn(&dyn Row) -> Result<Option<T>, StoreError>,
) -> Result<Option<T>, StoreError> {
    let found = sql.query_opt(&format!("SELECT {column} FROM control WHERE id = 1"), &[], read)?;
    Ok(found.flatten())
}

/// An operator asks the engine to pause (`true`) or resume (`false`).
pub fn request_pause(sql: &dyn Sql, paused: bool) -> Result<(), StoreError> {
    set(sql, "pause_requested", Param::from(i64::from(paused)))
}

/// An operator hands the engine a checked contract text to switch to.
pub fn request_contract(sql: &dyn Sql, text: &str) -> Result<(), StoreError> {
    set(sql, "contract_requested", Param::from(text))
}

/// An operator asks for a reconciliation run now.
pub fn request_reconcile(sql: &dyn Sql, at: Timestamp) -> Result<(), StoreError> {
    set(sql, "reconcile_requested", Param::from(to_micros(at)))
}

/// The engine took up the request made at `requested`.
pub fn reconcile_request_taken(sql: &dyn Sql, requested: Timestamp) -> Result<(), StoreError> {
    set(sql, "reconcile_taken", Param::from(to_micros(requested)))
}

/// The engine handled the scheduled instant `at`.
pub fn reconcile_scheduled(sql: &dyn Sql, at: Timestamp) -> Result<(), StoreError> {
    set(sql, "reconcile_last_scheduled", Param::from(to_micros(at)))
}

/// When the schedule runs next.
pub fn set_reconcile_next(sql: &dyn Sql, at: Timestamp) -> Result<(), StoreError> {
    set(sql, "reconcile_next", Param::from(to_micros(at)))
}

/// The contract text the engine runs by now.
pub fn set_contract_in_force(sql: &dyn Sql, text: &str) -> Result<(), StoreError> {
    set(sql, "contract_in_force", Param::from(text))
}

/// The engine's status as JSON, published at `at`.
pub fn publish_status(sql: &dyn Sql, at: Timestamp, json: &str) -> Result<(), StoreError> {
    sql.execute(
        "UPDATE control SET status_at = ?1, status = ?2 WHERE id = 1",
        &[Param::from(to_micros(at)), Param::from(json)],
    )?;
    Ok(())
}

/// Whether an operator asked to pause (`None`: nobody has paused or resumed yet).
pub fn pause_requested(sql: &dyn Sql) -> Result<Option<bool>, StoreError> {
    get(sql, "pause_requested", |row| Ok(row.int(0)?.map(|n| n != 0)))
}

/// The contract text an operator last handed the engine.
pub fn contract_requested(sql: &dyn Sql) -> Result<Option<String>, StoreError> {
    get(sql, "contract_requested", |row| row.text(0))
}

/// The contract text the engine last said it runs by.
pub fn contract_in_force(sql: &dyn Sql) -> Result<Option<String>, StoreError> {
    get(sql, "contract_in_force", |row| row.text(0))
}

pub fn reconcile_control(sql: &dyn Sql) -> Result<ReconcileControl, StoreError> {
    let found = sql.query_opt(
        "SELECT reconcile_requested, reconcile_taken, reconcile_last_scheduled, reconcile_next \
         FROM control WHERE id = 1",
        &[],
        |row| {
            Ok(ReconcileControl {
                requested: time(row, 0)?,
                taken: time(row, 1)?,
                last_scheduled: time(row, 2)?,
                next: time(row, 3)?,
            })
        },
    )?;
    Ok(found.unwrap_or_default())
}

/// The engine's latest published status, if it ever published one.
pub fn published_status(sql: &dyn Sql) -> Result<Option<PublishedStatus>, StoreError> {
    let found = sql.query_opt("SELECT status_at, status FROM control WHERE id = 1", &[], |row| {
        Ok(match (row.int(0)?, row.text(1)?) {
            (Some(at), Some(json)) => Some(PublishedStatus {
                at: from_micros(at),
                json,
            }),
            _ => None,
        })
    })?;
    Ok(found.flatten())
}

/// The control calls on any store, SQLite or PostgreSQL, each one transaction.
/// On SQLite, `StoreTx` and `Store` offer the same calls under the same names,
/// inside a wider transaction and on a reader.
pub trait ControlPlane: Transact {
    fn request_pause(&self, paused: bool) -> Result<(), StoreError> {
        self.write_retrying(|sql| request_pause(sql, paused))
    }

    fn request_contract(&self, text: &str) -> Result<(), StoreError> {
        self.write_retrying(|sql| request_contract(sql, text))
    }

    fn request_reconcile(&self, at: Timestamp) -> Result<(), StoreError> {
        self.write_retrying(|sql| request_reconcile(sql, at))
    }

    fn reconcile_request_taken(&self, requested: Timestamp) -> Result<(), StoreError> {
        self.write_retrying(|sql| reconcile_request_taken(sql, requested))
    }

    fn reconcile_scheduled(&self, at: Timestamp) -> Result<(), StoreError> {
        self.write_retrying(|sql| reconcile_scheduled(sql, at))
    }

    fn set_reconcile_next(&self, at: Timestamp) -> Result<(), StoreError> {
        self.write_retrying(|sql| set_reconcile_next(sql, at))
    }

    fn set_contract_in_force(&self, text: &str) -> Result<(), StoreError> {
        self.write_retrying(|sql| set_contract_in_force(sql, text))
    }

    fn publish_status(&self, at: Timestamp, json: &str) -> Result<(), StoreError> {
        self.write_retrying(|sql| publish_status(sql, at, json))
    }

    fn pause_requested(&self) -> Result<Option<bool>, StoreError> {
        self.read(pause_requested)
    }

    fn contract_requested(&self) -> Result<Option<String>, StoreError> {
        self.read(contract_requested)
    }

    fn contract_in_force(&self) -> Result<Option<String>, StoreError> {
        self.read(contract_in_force)
    }

    fn reconcile_control(&self) -> Result<ReconcileControl, StoreError> {
        self.read(reconcile_control)
    }

    fn published_status(&self) -> Result<Option<PublishedStatus>, StoreError> {
        self.read(published_status)
    }
}

impl<T: Transact> ControlPlane for T {}

impl StoreTx<'_> {
    pub fn request_pause(&self, paused: bool) -> Result<(), StoreError> {
        request_pause(self.sql(), paused)
    }

    pub fn request_contract(&self, text: &str) -> Result<(), StoreError> {
        request_contract(self.sql(), text)
    }

    pub fn request_reconcile(&self, at: Timestamp) -> Result<(), StoreError> {
        request_reconcile(self.sql(), at)
    }

    pub fn reconcile_request_taken(&self, requested: Timestamp) -> Result<(), StoreError> {
        reconcile_request_taken(self.sql(), requested)
    }

    pub fn reconcile_scheduled(&self, at: Timestamp) -> Result<(), StoreError> {
        reconcile_scheduled(self.sql(), at)
    }

    pub fn set_reconcile_next(&self, at: Timestamp) -> Result<(), StoreError> {
        set_reconcile_next(self.sql(), at)
    }

    pub fn set_contract_in_force(&self, text: &str) -> Result<(), StoreError> {
        set_contract_in_force(self.sql(), text)
    }

    pub fn publish_status(&self, at: Timestamp, json: &str) -> Result<(), StoreError> {
        publish_status(self.sql(), at, json)
    }
}

/// The reads on SQLite's `Store` without importing `ControlPlane`, as callers had them.
impl Store {
    pub fn pause_requested(&self) -> Result<Option<bool>, StoreError> {
        ControlPlane::pause_requested(self)
    }

    pub fn contract_requested(&self) -> Result<Option<String>, StoreError> {
        ControlPlane::contract_requested(self)
    }

    pub fn contract_in_force(&self) -> Result<Option<String>, StoreError> {
        ControlPlane::contract_in_force(self)
    }

    pub fn reconcile_control(&self) -> Result<ReconcileControl, StoreError> {
        ControlPlane::reconcile_control(self)
    }

    pub fn published_status(&self) -> Result<Option<PublishedStatus>, StoreError> {
        ControlPlane::published_status(self)
    }
}
