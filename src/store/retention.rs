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

use super::sql::{Dialect, Param, Sql, Transact, clock};
use super::{StoreError, cursors, from_micros, to_micros};

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
    let dialect = sql.dialect();
    if let Some(lock) = dialect.transaction_lock() {
        sql.query(lock, &[Param::from("hrsync compaction")], &mut |_| Ok(()))?;
    }
    let mark = cursors::cursor(sql, MARK)?;
    let (from_at, from_id) = mark.as_deref().and_then(parse_mark).unwrap_or((i64::MIN, 0));
    let chosen = sql.query_all(
        &format!(
            "SELECT updated_at, id FROM events{} \
             WHERE status IN {FINISHED} AND (updated_at, id) > (?1, ?2) AND updated_at < ?3 \
             ORDER BY updated_at, id LIMIT ?4",
            dialect.indexed_by(" INDEXED BY events_finished")
        ),
        &[
            Param::from(from_at),
            Param::from(from_id),
            Param::from(to_micros(cutoff)),
            Param::from(limit as i64 + 1),
        ],
        |row| Ok((row.int_of(0, "events.updated_at")?, row.int_of(1, "events.id")?)),
    )?;
    let more = chosen.len() > limit;
    let Some(&(last_at, last_id)) = chosen[..chosen.len().min(limit)].last() else {
        return Ok(Compacted::default());
    };
    let compacted = now.to_string();
    let batch = Batch {
        dialect,
        params: [
            Param::from(from_at),
            Param::from(from_id),
            Param::from(last_at),
            Param::from(last_id),
            Param::from(compacted.as_str()),
        ],
    };
    let (events, writes) = if dialect.reclaims_room() {
        batch.slim(sql, "events", "writes")?
    } else {
        batch.slim_moved_out(sql)?
    };
    cursors::set_cursor(sql, MARK, &format!("{last_at}:{last_id}"))?;
    Ok(Compacted { events, writes, more })
}

/// One transaction's events to compact: finished ones from after the mark (`?1`,
/// `?2`) to the last chosen (`?3`, `?4`), not compacted yet; `?5` stamps them.
struct Batch<'a> {
    dialect: Dialect,
    params: [Param<'a>; 5],
}

impl Batch<'_> {
    /// The batch's rows of a table shaped as `events`.
    fn rows(&self) -> String {
        format!(
            "status IN {FINISHED} AND (updated_at, id) > (?1, ?2) AND (updated_at, id) <= (?3, ?4) \
             AND {} IS NULL",
            self.dialect.json_at("payload", &["compacted"])
        )
    }

    /// Shrinks the batch's payloads in `events` to the marker (the department kept,
    /// the mapped payload gone) and empties the bodies of their writes in `writes`;
    /// answers the events and writes changed.
    fn slim(&self, sql: &dyn Sql, events: &str, writes: &str) -> Result<(u64, u64), StoreError> {
        let rows = self.rows();
        let changed_writes = sql.execute(
            &format!(
                "UPDATE {writes} SET before = '{{}}', after = '{{}}' \
                 WHERE event_id IN (SELECT id FROM {events} WHERE {rows})"
            ),
            &self.params[..4],
        )?;
        let json = self.dialect;
        let marker = json.json_object(&[
            ("compacted", "CAST(?5 AS TEXT)"),
            (
                "fields",
                &json.json_object(&[("department", &json.json_at("payload", &["fields", "department"]))]),
            ),
        ]);
        let changed_events = sql.execute(
            &format!("UPDATE {events} SET mapped = NULL, payload = {marker} WHERE {rows}"),
            &self.params,
        )?;
        Ok((changed_events, changed_writes))
    }

    /// `slim` for SQLite, where shrinking a row in place leaves its page as big as
    /// before: the rows are taken out, made slim and put back, so SQLite merges the
    /// pages it empties and they can be given back. Writes and failures point at
    /// their event: foreign keys are checked at the commit, when all are back.
    fn slim_moved_out(&self, sql: &dyn Sql) -> Result<(u64, u64), StoreError> {
        for statement in [
            "PRAGMA defer_foreign_keys = ON",
            "CREATE TEMP TABLE IF NOT EXISTS compact_events AS SELECT * FROM main.events WHERE 0",
            "CREATE TEMP TABLE IF NOT EXISTS compact_writes AS SELECT * FROM main.writes WHERE 0",
            "DELETE FROM temp.compact_events",
            "DELETE FROM temp.compact_writes",
        ] {
            sql.execute(statement, &[])?;
        }
        sql.execute(
            &format!(
                "INSERT INTO temp.compact_events SELECT * FROM main.events{} WHERE {}",
                self.dialect.indexed_by(" INDEXED BY events_finished"),
                self.rows()
            ),
            &self.params[..4],
        )?;
        sql.execute(
            "INSERT INTO temp.compact_writes SELECT * FROM main.writes \
             WHERE event_id IN (SELECT id FROM temp.compact_events)",
            &[],
        )?;
        let changed = self.slim(sql, "temp.compact_events", "temp.compact_writes")?;
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
        self.write_retrying(|sql| compact(sql, from_micros(clock(sql)?), cutoff, limit))
    }

    fn compacted_through(&self) -> Result<Option<Timestamp>, StoreError> {
        self.read(compacted_through)
    }

    /// See `release_free_pages`.
    fn release_free_pages(&self, pages: u32) -> Result<u64, StoreError> {
        self.write_retrying(|sql| release_free_pages(sql, pages))
    }
}

impl<T: Transact> Retention for T {}
