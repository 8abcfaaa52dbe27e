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
//! most one short batch.

use jiff::Timestamp;
use rusqlite::params;

use super::{Store, StoreError, from_micros, to_micros};

/// The statuses whose events are over: nothing reads their payload again.
/// (Shadowed events are planned afresh from theirs when shadow mode is left.)
const FINISHED: &str = "('applied', 'unchanged', 'skipped', 'flagged')";

/// The `cursors` row holding how far compaction has gone: `micros:id` of the
/// last event it compacted, in (updated_at, id) order.
const MARK: &str = "compaction";

/// What one call of `Store::compact` did.
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

impl Store {
    /// Compacts at most `limit` events that finished before `cutoff`, oldest
    /// first, in one transaction. Call it again while `more` says so.
    pub fn compact(&self, cutoff: Timestamp, limit: usize) -> Result<Compacted, StoreError> {
        self.transaction(|tx| {
            let mark = super::cursors::cursor(&tx.sql(), MARK)?;
            let (from_at, from_id) = mark.as_deref().and_then(parse_mark).unwrap_or((i64::MIN, 0));
            let chosen: Vec<(i64, i64)> = tx
                .conn
                .prepare_cached(&format!(
                    "SELECT id, updated_at FROM events INDEXED BY events_finished \
                     WHERE status IN {FINISHED} AND (updated_at, id) > (?1, ?2) AND updated_at < ?3 \
                     ORDER BY updated_at, id LIMIT ?4"
                ))?
                .query_map(
                    params![from_at, from_id, to_micros(cutoff), limit as i64 + 1],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?
                .collect::<Result<_, _>>()?;
            let more = chosen.len() > limit;
            let chosen = &chosen[..chosen.len().min(limit)];
            let Some(&(last_id, last_at)) = chosen.last() else {
                return Ok(Compacted::default());
            };
            // Shrinking a row in place leaves its page as big as before: each row
            // is taken out and put back slim instead, so SQLite merges the pages it
            // empties and they can be given back. Writes point at their event:
            // foreign keys are checked at the commit, when both are back.
            tx.conn.pragma_update(None, "defer_foreign_keys", true)?;
            let ids = serde_json::to_string(&chosen.iter().map(|&(id, _)| id).collect::<Vec<_>>())
                .expect("a list of numbers");
            tx.conn.execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS compact_events AS SELECT * FROM main.events WHERE 0;\
                 CREATE TEMP TABLE IF NOT EXISTS compact_writes AS SELECT * FROM main.writes WHERE 0;\
                 DELETE FROM temp.compact_events; DELETE FROM temp.compact_writes;",
            )?;
            let events = tx
                .conn
                .prepare_cached(
                    "INSERT INTO temp.compact_events SELECT * FROM main.events \
                     WHERE id IN (SELECT value FROM json_each(?1)) AND json_extract(payload, '$.compacted') IS NULL",
                )?
                .execute([&ids])? as u64;
            tx.conn
                .prepare_cached(
                    "UPDATE temp.compact_events SET mapped = NULL, payload = json_object('compacted', ?1, \
                     'fields', json_object('department', json_extract(payload, '$.fields.department')))",
                )?
                .execute([tx.now().to_string()])?;
            let writes = tx
                .conn
                .prepare_cached(
                    "INSERT INTO temp.compact_writes SELECT * FROM main.writes \
                     WHERE event_id IN (SELECT id FROM temp.compact_events)",
                )?
                .execute([])? as u64;
            tx.conn.execute_batch(
                "UPDATE temp.compact_writes SET before = '{}', after = '{}';\
                 DELETE FROM main.writes WHERE id IN (SELECT id FROM temp.compact_writes);\
                 DELETE FROM main.events WHERE id IN (SELECT id FROM temp.compact_events);\
                 INSERT INTO main.events SELECT * FROM temp.compact_events;\
                 INSERT INTO main.writes SELECT * FROM temp.compact_writes;\
                 DELETE FROM temp.compact_events; DELETE FROM temp.compact_writes;",
            )?;
            tx.set_cursor(MARK, &format!("{last_at}:{last_id}"))?;
            Ok(Compacted { events, writes, more })
        })
    }

    /// Where compaction has got to: the finish time of the last event it compacted.
    pub fn compacted_through(&self) -> Result<Option<Timestamp>, StoreError> {
        Ok(self
            .cursor(MARK)?
            .as_deref()
            .and_then(parse_mark)
            .map(|(at, _)| from_micros(at)))
    }

    /// Gives up to `pages` free pages back to the file system, on a store created
    /// with incremental auto-vacuum (every store this hrsync creates). On an older
    /// file SQLite reuses the free pages for new rows instead, so it stops growing.
    /// Returns the free pages left.
    pub fn release_free_pages(&self, pages: u32) -> Result<u64, StoreError> {
        self.transaction(|tx| {
            let incremental: i64 = tx.conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
            if incremental == 2 {
                tx.conn
                    .prepare(&format!("PRAGMA incremental_vacuum({pages})"))?
                    .query_map([], |_| Ok(()))?
                    .for_each(drop);
            }
            Ok(tx.conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?)
        })
    }
}
