//! What runs found (drift items: paged, filtered, counted) and what operators
//! made of it: an item's state, and the accepted differences that later runs
//! leave out (`store/reconcile.rs`) while their values stay. Written once over
//! `Sql`; any store through the `DriftItems` trait, SQLite's `StoreTx` and
//! `Store` under the names callers had.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use super::page::containing;
use super::sql::{Param, Row, Sql, Transact, clock};
use super::{Store, StoreError, StoreTx, from_micros, to_micros};
use crate::model::{DriftCategory, DriftState};

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

const ITEM_COLUMNS: &str =
    "id, run_id, category, employee_id, learner_id, field, hris_value, lms_value, state, note, detail";

/// A run's items (?1) in a category (?2, all when NULL) containing a text (?3, a
/// LIKE pattern, in any case as SQLite's `LIKE` matches). The casts say the
/// parameters' type where PostgreSQL would not work it out from `IS NULL`.
fn items_matching(sql: &dyn Sql) -> String {
    let like = sql.dialect().like_any_case();
    format!(
        "run_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR category = ?2) AND (CAST(?3 AS TEXT) IS NULL \
         OR employee_id {like} ?3 ESCAPE '\\' OR learner_id {like} ?3 ESCAPE '\\' \
         OR field {like} ?3 ESCAPE '\\' OR hris_value {like} ?3 ESCAPE '\\' \
         OR lms_value {like} ?3 ESCAPE '\\')"
    )
}

fn item_from_row(row: &dyn Row) -> Result<DriftItem, StoreError> {
    let id = row.int(0)?.unwrap_or_default();
    let category = row.text(2)?.unwrap_or_default();
    let state = row.text(8)?.unwrap_or_default();
    let detail = row.text(10)?.unwrap_or_default();
    let corrupt = |column, value: &str| StoreError::Corrupt {
        row: id,
        column,
        reason: format!("unknown value {value:?}"),
    };
    Ok(DriftItem {
        id,
        run_id: row.int(1)?.unwrap_or_default(),
        category: DriftCategory::parse(&category).ok_or_else(|| corrupt("category", &category))?,
        employee_id: row.text(3)?.unwrap_or_default(),
        learner_id: row.text(4)?,
        field: row.text(5)?.unwrap_or_default(),
        hris_value: row.text(6)?,
        lms_value: row.text(7)?,
        state: DriftState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        note: row.text(9)?,
        detail: serde_json::from_str(&detail).unwrap_or(Value::Null),
    })
}

/// A run's items of one category (all when `None`) whose employee, learner,
/// field or values contain `text` (the console's `/` filter), by category and
/// id, from row `offset` on, at most `limit`.
pub fn drift_items_matching(
    sql: &dyn Sql,
    run_id: i64,
    category: Option<DriftCategory>,
    text: Option<&str>,
    offset: usize,
    limit: usize,
) -> Result<Vec<DriftItem>, StoreError> {
    let pattern = text.map(containing);
    sql.query_all(
        &format!(
            "SELECT {ITEM_COLUMNS} FROM drift_items WHERE {} ORDER BY category, id LIMIT ?4 OFFSET ?5",
            items_matching(sql)
        ),
        &[
            Param::from(run_id),
            Param::from(category.map(|c| c.as_str())),
            Param::from(pattern.as_deref()),
            Param::from(limit as i64),
            Param::from(offset as i64),
        ],
        item_from_row,
    )
}

/// How many items [`drift_items_matching`] pages through.
pub fn drift_items_count(
    sql: &dyn Sql,
    run_id: i64,
    category: Option<DriftCategory>,
    text: Option<&str>,
) -> Result<usize, StoreError> {
    let pattern = text.map(containing);
    let n = sql.query_opt(
        &format!("SELECT COUNT(*) FROM drift_items WHERE {}", items_matching(sql)),
        &[
            Param::from(run_id),
            Param::from(category.map(|c| c.as_str())),
            Param::from(pattern.as_deref()),
        ],
        |row| row.int(0),
    )?;
    Ok(n.flatten().unwrap_or_default().max(0) as usize)
}

pub fn drift_item(sql: &dyn Sql, id: i64) -> Result<Option<DriftItem>, StoreError> {
    sql.query_opt(
        &format!("SELECT {ITEM_COLUMNS} FROM drift_items WHERE id = ?1"),
        &[Param::from(id)],
        item_from_row,
    )
}

pub fn set_drift_state(
    sql: &dyn Sql,
    id: i64,
    state: DriftState,
    note: Option<&str>,
) -> Result<(), StoreError> {
    sql.execute(
        "UPDATE drift_items SET state = ?2, note = ?3 WHERE id = ?1",
        &[Param::from(id), Param::from(state.as_str()), Param::from(note)],
    )?;
    Ok(())
}

/// Remembers an accepted difference: later runs leave it out while its values
/// stay. Accepted again, the newer acceptance replaces the older.
pub fn accept_drift(
    sql: &dyn Sql,
    now: Timestamp,
    item: &DriftItem,
    reason: &str,
    expires_at: Option<Timestamp>,
    actor: &str,
) -> Result<(), StoreError> {
    sql.execute(
        "INSERT INTO drift_accepted (category, employee_id, field, hris_value, lms_value, \
         reason, expires_at, actor, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
         ON CONFLICT (category, employee_id, field) DO UPDATE SET hris_value = excluded.hris_value, \
         lms_value = excluded.lms_value, reason = excluded.reason, expires_at = excluded.expires_at, \
         actor = excluded.actor, at = excluded.at",
        &[
            Param::from(item.category.as_str()),
            Param::from(item.employee_id.as_str()),
            Param::from(item.field.as_str()),
            Param::from(item.hris_value.as_deref()),
            Param::from(item.lms_value.as_deref()),
            Param::from(reason),
            Param::from(expires_at.map(to_micros)),
            Param::from(actor),
            Param::from(to_micros(now)),
        ],
    )?;
    set_drift_state(sql, item.id, DriftState::Accepted, Some(reason))
}

/// The drift items' calls on any store, SQLite or PostgreSQL, each one
/// transaction. Inside a wider SQLite transaction, `StoreTx` offers the writes
/// under the same names.
pub trait DriftItems: Transact {
    /// A run's items of one category from row `offset` on, at most `limit`: for paging.
    fn drift_items_page(
        &self,
        run_id: i64,
        category: Option<DriftCategory>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DriftItem>, StoreError> {
        self.read(|sql| drift_items_matching(sql, run_id, category, None, offset, limit))
    }

    fn drift_items_matching(
        &self,
        run_id: i64,
        category: Option<DriftCategory>,
        text: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DriftItem>, StoreError> {
        self.read(|sql| drift_items_matching(sql, run_id, category, text, offset, limit))
    }

    fn drift_items_count(
        &self,
        run_id: i64,
        category: Option<DriftCategory>,
        text: Option<&str>,
    ) -> Result<usize, StoreError> {
        self.read(|sql| drift_items_count(sql, run_id, category, text))
    }

    fn drift_item(&self, id: i64) -> Result<Option<DriftItem>, StoreError> {
        self.read(|sql| drift_item(sql, id))
    }

    fn set_drift_state(&self, id: i64, state: DriftState, note: Option<&str>) -> Result<(), StoreError> {
        self.write_retrying(|sql| set_drift_state(sql, id, state, note))
    }

    fn accept_drift(
        &self,
        item: &DriftItem,
        reason: &str,
        expires_at: Option<Timestamp>,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.write_retrying(|sql| {
            accept_drift(sql, from_micros(clock(sql)?), item, reason, expires_at, actor)
        })
    }
}

impl<T: Transact> DriftItems for T {}

/// The reads on SQLite's `Store` without importing `DriftItems`, as callers had them.
impl Store {
    pub fn drift_items_page(
        &self,
        run_id: i64,
        category: Option<DriftCategory>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DriftItem>, StoreError> {
        DriftItems::drift_items_page(self, run_id, category, offset, limit)
    }

    pub fn drift_items_matching(
        &self,
        run_id: i64,
        category: Option<DriftCategory>,
        text: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DriftItem>, StoreError> {
        DriftItems::drift_items_matching(self, run_id, category, text, offset, limit)
    }

    pub fn drift_items_count(
        &self,
        run_id: i64,
        category: Option<DriftCategory>,
        text: Option<&str>,
    ) -> Result<usize, StoreError> {
        DriftItems::drift_items_count(self, run_id, category, text)
    }

    pub fn drift_item(&self, id: i64) -> Result<Option<DriftItem>, StoreError> {
        DriftItems::drift_item(self, id)
    }
}

/// The writes inside SQLite's wider transaction, stamped with its clock.
impl StoreTx<'_> {
    pub fn drift_item(&self, id: i64) -> Result<Option<DriftItem>, StoreError> {
        drift_item(self.sql(), id)
    }

    pub fn set_drift_state(&self, id: i64, state: DriftState, note: Option<&str>) -> Result<(), StoreError> {
        set_drift_state(self.sql(), id, state, note)
    }

    pub fn accept_drift(
        &self,
        item: &DriftItem,
        reason: &str,
        expires_at: Option<Timestamp>,
        actor: &str,
    ) -> Result<(), StoreError> {
        accept_drift(self.sql(), self.now, item, reason, expires_at, actor)
    }
}
