//! Shadow mode as the store keeps it: when the store first ran in shadow mode,
//! and who took it out, when and why. The store only keeps it; the engine
//! (`engine::apply::shadow`) decides what it means for a start. Written once over
//! `Sql`, so the same statements run on SQLite and PostgreSQL.

use jiff::Timestamp;

use super::sql::{Param, Sql, Transact, clock};
use super::{Store, StoreError, StoreTx, from_micros, to_micros};

/// Who took the store out of shadow mode, when and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftShadow {
    pub at: Timestamp,
    pub by: String,
    pub reason: String,
}

/// The store's shadow mode: never entered, in it since `entered_at`, or left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShadowMode {
    pub entered_at: Option<Timestamp>,
    pub left: Option<LeftShadow>,
}

impl ShadowMode {
    /// In shadow mode now: entered and not left.
    pub fn is_on(&self) -> bool {
        self.entered_at.is_some() && self.left.is_none()
    }
}

/// The store's shadow mode as this transaction sees it.
pub fn shadow_mode(sql: &dyn Sql) -> Result<ShadowMode, StoreError> {
    let found = sql.query_opt(
        "SELECT entered_at, left_at, left_by, left_reason FROM shadow_mode WHERE id = 1",
        &[],
        |row| {
            let left = match row.int(1)? {
                Some(at) => Some(LeftShadow {
                    at: from_micros(at),
                    by: row.text(2)?.unwrap_or_default(),
                    reason: row.text(3)?.unwrap_or_default(),
                }),
                None => None,
            };
            Ok(ShadowMode {
                entered_at: row.int(0)?.map(from_micros),
                left,
            })
        },
    )?;
    Ok(found.unwrap_or_default())
}

/// Records that the store runs in shadow mode since `at`, the first time it does
/// (by whichever engine comes first).
pub fn enter_shadow(sql: &dyn Sql, at: Timestamp) -> Result<(), StoreError> {
    sql.execute(
        "INSERT INTO shadow_mode (id, entered_at) VALUES (1, ?1) ON CONFLICT (id) DO NOTHING",
        &[Param::from(to_micros(at))],
    )?;
    Ok(())
}

/// Records who took the store out of shadow mode at `at` and why (once: a second
/// call, from any engine, keeps the first).
pub fn record_left_shadow(sql: &dyn Sql, at: Timestamp, by: &str, reason: &str) -> Result<(), StoreError> {
    sql.execute(
        "UPDATE shadow_mode SET left_at = ?1, left_by = ?2, left_reason = ?3 \
         WHERE id = 1 AND left_at IS NULL",
        &[Param::from(to_micros(at)), Param::from(by), Param::from(reason)],
    )?;
    Ok(())
}

/// The shadow-mode calls on any store, SQLite or PostgreSQL, each one transaction
/// stamped by the database's clock. Inside a wider SQLite transaction, `StoreTx`
/// offers the same calls under the same names.
pub trait Shadow: Transact {
    fn shadow_mode(&self) -> Result<ShadowMode, StoreError> {
        self.read(shadow_mode)
    }

    fn enter_shadow(&self) -> Result<(), StoreError> {
        self.write_retrying(|sql| enter_shadow(sql, from_micros(clock(sql)?)))
    }

    fn record_left_shadow(&self, by: &str, reason: &str) -> Result<(), StoreError> {
        self.write_retrying(|sql| record_left_shadow(sql, from_micros(clock(sql)?), by, reason))
    }
}

impl<T: Transact> Shadow for T {}

impl StoreTx<'_> {
    pub fn shadow_mode(&self) -> Result<ShadowMode, StoreError> {
        shadow_mode(self.sql())
    }

    /// Records that the store runs in shadow mode, the first time it does.
    pub fn enter_shadow(&self) -> Result<(), StoreError> {
        enter_shadow(self.sql(), self.now())
    }

    /// Records who took the store out of shadow mode and why (once: a second
    /// call keeps the first).
    pub fn record_left_shadow(&self, by: &str, reason: &str) -> Result<(), StoreError> {
        record_left_shadow(self.sql(), self.now(), by, reason)
    }
}

/// The read on SQLite's `Store` without importing `Shadow`, as callers had it.
impl Store {
    pub fn shadow_mode(&self) -> Result<ShadowMode, StoreError> {
        Shadow::shadow_mode(self)
    }
}
