//! Retention: what a finished event carries beyond its journal row is dropped
//! once it is older than `[store] keep_days`. Its row stays (id, idempotency key,
//! source, employee, kind, status, times, note, last error), so a redelivery is
//! still known and the history still reads; its payload shrinks to a marker that
//! keeps the department (the Credentials pane names it), its mapped payload goes,
//! and its writes keep their target, time and HTTP status but not their bodies.
//! The audit log is never trimmed.
//!
//! Compaction walks the finished events in the order they finished, from a mark
//! it keeps in `cursors`, a batch per transaction, so the engine's writes wait at
//! most one short batch. Written once over `Sql`: on PostgreSQL the rows are
//! updated in place and autovacuum takes back the room; SQLite's rows are taken
//! out and put back slim so their pages merge, and `release_free_pages` gives the
//! freed pages back (`Dialect::reclaims_room` says which).

use jiff::Timestamp;
use serde_json::{Value, json};

use super::sql::{Param, Sql, Transact, clock};
use super::{Store, StoreError, cursors, from_micros, to_micros};

/// The statuses whose events are over: nothing reads their payload again.
/// (Shadowed events are planned afresh from theirs when shadow mode is left.)
/// The `events_finished` index holds exactly these.
const FINISHED: &str = "('applied', 'unchanged', 'skipped', 'flagged')";

/// The `cursors` row holding how far compaction has gone: `micros:id` of the
/// last event it compacted, in (updated_at, id) order.
const MARK: &str = "compaction";

/// What one call of `compact` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compacted {
    /// Events whose payloads were dropped.
    pub events: u64,
    /// Their writes whose bodies were dropped.
    pub writes: u64,
    /// Whether events finished before the cutoff are left for another call.
    pub more: bool,
}

fn parse_mark(text: &str) -> Option<(i64, i64)> {
    let (at, id) = text.split_once(':')?;
    Some((at.parse().ok()?, id.parse().ok()?))
}

/// Compacts at most `limit` events that finished before `cutoff`, oldest first,
/// their markers stamped `now`. Engines sharing the store take turns: each goes
/// on from where the last one left the mark.
pub fn compact(
    sql: &dyn Sql,
    now: Timestamp,
    cutoff: Timestamp,
    limit: usize,
) -> Result<Compacted, StoreError> {
    if let Some(lock) = sql.dialect().transaction_lock() {
        sql.query(lock, &[Param::from("hrsync compaction")], &mut |_| Ok(()))?;
    }
    let mark = cursors::cursor(sql, MARK)?;
    let (from_at, from_id) = mark.as_deref().and_then(parse_mark).unwrap_or((i64::MIN, 0));
    let chosen = sql.query_all(
        &format!(
            "SELECT id, updated_at FROM events{} \
             WHERE status IN {FINISHED} AND (updated_at, id) > (?1, ?2) AND updated_at < ?3 \
             ORDER BY updated_at, id LIMIT ?4",
            sql.dialect().indexed_by(" INDEXED BY events_finished")
        ),
        &[
            Param::from(from_at),
            Param::from(from_id),
            Param::from(to_micros(cutoff)),
            Param::from(limit as i64 + 1),
        ],
        |row| Ok((row.int_of(0, "events.id")?, row.int_of(1, "events.updated_at")?)),
    )?;
    let more = chosen.len() > limit;
    let chosen = &chosen[..chosen.len().min(limit)];
    let Some(&(last_id, last_at)) = chosen.last() else {
        return Ok(Compacted::default());
    };
    let slim = slim_payloads(sql, chosen.iter().map(|&(id, _)| id), now)?;
    let (events, writes) = if sql.dialect().reclaims_room() {
        slim_rows(sql, "events", "writes", &slim)?
    } else {
        slim_rows_moved_out(sql, &slim)?
    };
    cursors::set_cursor(sql, MARK, &format!("{last_at}:{last_id}"))?;
    Ok(Compacted { events, writes, more })
}

/// The marker each event's payload shrinks to (the department kept), for those
/// not compacted yet.
fn slim_payloads(
    sql: &dyn Sql,
    ids: impl Iterator<Item = i64>,
    now: Timestamp,
) -> Result<Vec<(i64, String)>, StoreError> {
    let mut payload = sql.prepare("SELECT payload FROM events WHERE id = ?1")?;
    let compacted = now.to_string();
    let mut slim = Vec::new();
    for id in ids {
        let Some(text) = payload.query_opt(&[Param::from(id)], |row| row.text_of(0, "events.payload"))?
        else {
            continue;
        };
        let kept: Value = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            row: id,
            column: "events.payload",
            reason: e.to_string(),
        })?;
        if kept.get("compacted").is_some() {
            continue;
        }
        let department = kept.pointer("/fields/department").cloned().unwrap_or(Value::Null);
        let marker = json!({ "compacted": compacted, "fields": { "department": department } });
        slim.push((id, marker.to_string()));
    }
    Ok(slim)
}

/// Puts the slim payloads in `events` (the mapped payload goes) and empties the
/// bodies of their writes in `writes`; answers the events and writes changed.
fn slim_rows(
    sql: &dyn Sql,
    events: &str,
    writes: &str,
    slim: &[(i64, String)],
) -> Result<(u64, u64), StoreError> {
    let mut event = sql.prepare(&format!(
        "UPDATE {events} SET mapped = NULL, payload = ?2 WHERE id = ?1"
    ))?;
    let mut write = sql.prepare(&format!(
        "UPDATE {writes} SET before = '{{}}', after = '{{}}' WHERE event_id = ?1"
    ))?;
    let (mut changed_events, mut changed_writes) = (0, 0);
    for (id, payload) in slim {
        changed_events += event.execute(&[Param::from(*id), Param::from(payload.as_str())])?;
        changed_writes += write.execute(&[Param::from(*id)])?;
    }
    Ok((changed_events, changed_writes))
}

/// `slim_rows` for SQLite, where shrinking a row in place leaves its page as big
/// as before: each row is taken out, made slim and put back, so SQLite merges the
/// pages it empties and they can be given back. Writes and failures point at their
/// event: foreign keys are checked at the commit, when all are back.
fn slim_rows_moved_out(sql: &dyn Sql, slim: &[(i64, String)]) -> Result<(u64, u64), StoreError> {
    for statement in [
        "PRAGMA defer_foreign_keys = ON",
        "CREATE TEMP TABLE IF NOT EXISTS compact_events AS SELECT * FROM main.events WHERE 0",
        "CREATE TEMP TABLE IF NOT EXISTS compact_writes AS SELECT * FROM main.writes WHERE 0",
        "DELETE FROM temp.compact_events",
        "DELETE FROM temp.compact_writes",
    ] {
        sql.execute(statement, &[])?;
    }
    let mut event = sql.prepare("INSERT INTO temp.compact_events SELECT * FROM main.events WHERE id = ?1")?;
    let mut writes =
        sql.prepare("INSERT INTO temp.compact_writes SELECT * FROM main.writes WHERE event_id = ?1")?;
    for (id, _) in slim {
        event.execute(&[Param::from(*id)])?;
        writes.execute(&[Param::from(*id)])?;
    }
    let changed = slim_rows(sql, "temp.compact_events", "temp.compact_writes", slim)?;
    for statement in [
        "DELETE FROM main.writes WHERE id IN (SELECT id FROM temp.compact_writes)",
        "DELETE FROM main.events WHERE id IN (SELECT id FROM temp.compact_events)",
        "INSERT INTO main.events SELECT * FROM temp.compact_events",
        "INSERT INTO main.writes SELECT * FROM temp.compact_writes",
        "DELETE FROM temp.compact_events",
        "DELETE FROM temp.compact_writes",
    ] {
        sql.execute(statement, &[])?;
    }
    Ok(changed)
}

/// Where compaction has got to: the finish time of the last event it compacted.
pub fn compacted_through(sql: &dyn Sql) -> Result<Option<Timestamp>, StoreError> {
    let mark = cursors::cursor(sql, MARK)?;
    Ok(mark
        .as_deref()
        .and_then(parse_mark)
        .map(|(at, _)| from_micros(at)))
}

/// Gives up to `pages` free pages back to the file system; returns the free pages
/// left. On SQLite only, on a store created with incremental auto-vacuum (every
/// store this hrsync creates; on an older file SQLite reuses the free pages for
/// new rows instead, so it stops growing). PostgreSQL's autovacuum needs no help: none.
pub fn release_free_pages(sql: &dyn Sql, pages: u32) -> Result<u64, StoreError> {
    if sql.dialect().reclaims_room() {
        return Ok(0);
    }
    let auto_vacuum = sql
        .query_opt("PRAGMA auto_vacuum", &[], |row| row.int(0))?
        .flatten();
    if auto_vacuum == Some(2) {
        sql.query(&format!("PRAGMA incremental_vacuum({pages})"), &[], &mut |_| {
            Ok(())
        })?;
    }
    let free = sql
        .query_opt("PRAGMA freelist_count", &[], |row| row.int(0))?
        .flatten();
    Ok(free.unwrap_or_default() as u64)
}

/// Retention on any store, SQLite or PostgreSQL, each call one transaction.
pub trait Retention: Transact {
    /// Compacts at most `limit` events that finished before `cutoff`, oldest
    /// first, by the database's clock. Call it again while `more` says so.
    fn compact(&self, cutoff: Timestamp, limit: usize) -> Result<Compacted, StoreError> {
        self.write(|sql| compact(sql, from_micros(clock(sql)?), cutoff, limit))
    }

    fn compacted_through(&self) -> Result<Option<Timestamp>, StoreError> {
        self.read(compacted_through)
    }

    /// See `release_free_pages`.
    fn release_free_pages(&self, pages: u32) -> Result<u64, StoreError> {
        self.write(|sql| release_free_pages(sql, pages))
    }
}

impl<T: Transact> Retention for T {}

/// The calls on SQLite's `Store` without importing `Retention`, as callers had them.
impl Store {
    pub fn compact(&self, cutoff: Timestamp, limit: usize) -> Result<Compacted, StoreError> {
        Retention::compact(self, cutoff, limit)
    }

    pub fn compacted_through(&self) -> Result<Option<Timestamp>, StoreError> {
        Retention::compacted_through(self)
    }

    pub fn release_free_pages(&self, pages: u32) -> Result<u64, StoreError> {
        Retention::release_free_pages(self, pages)
    }
}
