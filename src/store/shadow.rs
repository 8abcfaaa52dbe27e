//! Shadow mode as the store keeps it: when the store first ran in shadow mode,
//! and who took it out, when and why. The store only keeps it; the engine
//! (`engine::apply::shadow`) decides what it means for a start.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

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

fn read(conn: &rusqlite::Connection) -> Result<ShadowMode, StoreError> {
    let row = conn
        .prepare_cached("SELECT entered_at, left_at, left_by, left_reason FROM shadow_mode WHERE id = 1")?
        .query_row([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })
        .optional()?;
    Ok(match row {
        None => ShadowMode::default(),
        Some((entered, left_at, by, reason)) => ShadowMode {
            entered_at: Some(from_micros(entered)),
            left: left_at.map(|at| LeftShadow {
                at: from_micros(at),
                by: by.unwrap_or_default(),
                reason: reason.unwrap_or_default(),
            }),
        },
    })
}

impl StoreTx<'_> {
    pub fn shadow_mode(&self) -> Result<ShadowMode, StoreError> {
        read(self.conn)
    }

    /// Records that the store runs in shadow mode, the first time it does.
    pub fn enter_shadow(&self) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO shadow_mode (id, entered_at) VALUES (1, ?1)")?
            .execute([to_micros(self.now())])?;
        Ok(())
    }

    /// Records who took the store out of shadow mode and why (once: a second
    /// call keeps the first).
    pub fn record_left_shadow(&self, by: &str, reason: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE shadow_mode SET left_at = ?1, left_by = ?2, left_reason = ?3 \
                 WHERE id = 1 AND left_at IS NULL",
            )?
            .execute(params![to_micros(self.now()), by, reason])?;
        Ok(())
    }
}

impl Store {
    pub fn shadow_mode(&self) -> Result<ShadowMode, StoreError> {
        let conn = self.reader()?;
        read(&conn)
    }
}
