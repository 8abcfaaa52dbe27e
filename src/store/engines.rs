//! The engines sharing a store: each says it is alive (`heartbeat`) every few
//! seconds, and `hrsync status` (later) lists them with the duties each holds.
//! An engine's id is what it holds leases as. Written once over `Sql`.

use std::time::Duration;

use jiff::Timestamp;

use super::lease::micros;
use super::sql::{Param, Row, Sql, Transact};
use super::{StoreError, from_micros};

/// One engine as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineRecord {
    /// Unique per engine run: what its leases name as their holder.
    pub id: String,
    pub host: String,
    pub pid: i64,
    pub started_at: Timestamp,
    pub heartbeat_at: Timestamp,
    /// Whether its last heartbeat is within the window asked for, by the database's clock.
    pub live: bool,
    /// The duties whose current lease it holds, by name.
    pub duties: Vec<String>,
}

/// The engine `id` is alive now; the first heartbeat registers it.
pub fn heartbeat(sql: &dyn Sql, id: &str, host: &str, pid: u32) -> Result<(), StoreError> {
    let statement = format!(
        "WITH clock AS (SELECT {now} AS now) \
         INSERT INTO engines (engine_id, host, pid, started_at, heartbeat_at) \
         SELECT ?1, ?2, CAST(?3 AS BIGINT), now, now FROM clock WHERE true \
         ON CONFLICT (engine_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        now = sql.dialect().now_micros()
    );
    sql.execute(
        &statement,
        &[Param::from(id), Param::from(host), Param::from(i64::from(pid))],
    )?;
    Ok(())
}

/// Every engine that ever said it was alive, by id; live ones are
/// those heard from within `window`.
pub fn engines(sql: &dyn Sql, window: Duration) -> Result<Vec<EngineRecord>, StoreError> {
    let now = sql.dialect().now_micros();
    let held = sql.query_all(
        &format!("SELECT holder, duty FROM leases WHERE expires_at > {now} ORDER BY duty"),
        &[],
        |row| Ok((text(row, 0)?, text(row, 1)?)),
    )?;
    sql.query_all(
        &format!(
            "SELECT engine_id, host, pid, started_at, heartbeat_at, {now} - heartbeat_at \
             FROM engines ORDER BY engine_id"
        ),
        &[],
        |row| {
            let id = text(row, 0)?;
            Ok(EngineRecord {
                host: text(row, 1)?,
                pid: int(row, 2)?,
                started_at: from_micros(int(row, 3)?),
                heartbeat_at: from_micros(int(row, 4)?),
                live: int(row, 5)? <= micros(window),
                duties: held
                    .iter()
                    .filter(|(holder, _)| *holder == id)
                    .map(|(_, duty)| duty.clone())
                    .collect(),
                id,
            })
        },
    )
}

fn int(row: &dyn Row, column: usize) -> Result<i64, StoreError> {
    row.int(column)?.ok_or(StoreError::Corrupt {
        row: 0,
        column: "engines",
        reason: format!("column {column} is null"),
    })
}

fn text(row: &dyn Row, column: usize) -> Result<String, StoreError> {
    row.text(column)?.ok_or(StoreError::Corrupt {
        row: 0,
        column: "engines",
        reason: format!("column {column} is null"),
    })
}

/// The registry calls on any store, SQLite or PostgreSQL.
pub trait Engines: Transact {
    fn heartbeat(&self, id: &str, host: &str, pid: u32) -> Result<(), StoreError> {
        self.write_retrying(|sql| heartbeat(sql, id, host, pid))
    }

    fn engines(&self, window: Duration) -> Result<Vec<EngineRecord>, StoreError> {
        self.read(|sql| engines(sql, window))
    }
}

impl<T: Transact> Engines for T {}
