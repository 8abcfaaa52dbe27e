//! The audit log: append-only entries, each chained to the one before by a SHA-256
//! hash over its canonical form, so an edited, removed or reordered entry shows up
//! in `verify_audit`. Also the console's filtered, keyset-paginated pages.

use std::fmt;

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::page::PageQuery;
use super::queries::json;
use super::{Store, StoreError, StoreTx, from_micros, to_micros};
use crate::model::{AuditEntry, NewAuditEntry};

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub(super) const AUDIT_COLUMNS: &str =
    "seq, at, actor, action, employee_id, subject, before, after, reason, prev_hash, hash";

/// A chain that checks out from the first entry to the last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub entries: u64,
    pub last_hash: String,
}

/// Where the chain breaks, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditBreak {
    pub seq: u64,
    pub reason: String,
}

impl fmt::Display for AuditBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "audit log broken at entry {}: {}", self.seq, self.reason)
    }
}

impl std::error::Error for AuditBreak {}

/// What the audit pane filters on; `None` means any. `text` matches subject, reason,
/// before and after (ASCII case-insensitive).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub employee_id: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub text: Option<String>,
}

/// An entry's columns as stored; the hash is computed over these exact texts.
struct StoredEntry {
    seq: i64,
    at: i64,
    actor: String,
    action: String,
    employee_id: Option<String>,
    subject: String,
    before: String,
    after: String,
    reason: Option<String>,
    prev_hash: String,
}

impl StoredEntry {
    /// SHA-256 over a JSON array of the fields in a fixed order: JSON escaping keeps
    /// every field's boundaries unambiguous, and before/after enter as stored text.
    fn hash(&self) -> String {
        let canonical = serde_json::json!([
            self.seq,
            self.at,
            self.actor,
            self.action,
            self.employee_id,
            self.subject,
            self.before,
            self.after,
            self.reason,
            self.prev_hash,
        ]);
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }

    fn from_row(row: &Row<'_>) -> rusqlite::Result<(StoredEntry, String)> {
        let entry = StoredEntry {
            seq: row.get(0)?,
            at: row.get(1)?,
            actor: row.get(2)?,
            action: row.get(3)?,
            employee_id: row.get(4)?,
            subject: row.get(5)?,
            before: row.get(6)?,
            after: row.get(7)?,
            reason: row.get(8)?,
            prev_hash: row.get(9)?,
        };
        Ok((entry, row.get(10)?))
    }
}

pub(super) fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: row.get::<_, i64>(0)? as u64,
        at: from_micros(row.get(1)?),
        actor: row.get(2)?,
        action: row.get(3)?,
        employee_id: row.get(4)?,
        subject: row.get(5)?,
        before: json(row, 6)?,
        after: json(row, 7)?,
        reason: row.get(8)?,
        prev_hash: row.get(9)?,
        hash: row.get(10)?,
    })
}

fn head(conn: &Connection) -> Result<Option<(i64, String)>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT seq, hash FROM audit_head WHERE id = 1")?;
    Ok(stmt.query_row([], |r| Ok((r.get(0)?, r.get(1)?))).optional()?)
}

impl StoreTx<'_> {
    /// Appends an entry to the chain, committed with whatever else this transaction does.
    pub fn audit(&self, entry: NewAuditEntry) -> Result<AuditEntry, StoreError> {
        let (last_seq, prev_hash) = head(self.conn)?.unwrap_or((0, GENESIS_HASH.to_string()));
        let stored = StoredEntry {
            seq: last_seq + 1,
            at: to_micros(self.now),
            actor: entry.actor,
            action: entry.action,
            employee_id: entry.employee_id,
            subject: entry.subject,
            before: entry.before.to_string(),
            after: entry.after.to_string(),
            reason: entry.reason,
            prev_hash,
        };
        let hash = stored.hash();
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO audit ({AUDIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ))?
            .execute(params![
                stored.seq,
                stored.at,
                stored.actor,
                stored.action,
                stored.employee_id,
                stored.subject,
                stored.before,
                stored.after,
                stored.reason,
                stored.prev_hash,
                hash,
            ])?;
        self.conn
            .prepare_cached(
                "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            )?
            .execute(params![stored.seq, hash])?;
        Ok(AuditEntry {
            seq: stored.seq as u64,
            at: self.now,
            actor: stored.actor,
            action: stored.action,
            employee_id: stored.employee_id,
            subject: stored.subject,
            before: entry.before,
            after: entry.after,
            reason: stored.reason,
            prev_hash: stored.prev_hash,
            hash,
        })
    }
}

impl Store {
    /// Appends one entry on its own; use `transaction` to tie it to a journal change.
    pub fn audit(&self, entry: NewAuditEntry) -> Result<AuditEntry, StoreError> {
        self.transaction(|tx| tx.audit(entry))
    }

    /// Walks the whole chain. The outer error is a failure to read; the inner one is
    /// the first entry that was edited, removed or moved.
    pub fn verify_audit(&self) -> Result<Result<AuditReport, AuditBreak>, StoreError> {
        let conn = self.reader()?;
        // One read transaction: the chain and its head are seen at the same moment.
        conn.execute_batch("BEGIN")?;
        let verdict = verify(&conn);
        conn.execute_batch("COMMIT")?;
        verdict
    }

    /// A page of the audit log, newest first, older than `before_seq` (None: the newest).
    pub fn audit_page(
        &self,
        filter: &AuditFilter,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut page = PageQuery::below("seq", before_seq.map(|s| s as i64), limit);
        page.equal("employee_id", filter.employee_id.as_deref());
        page.equal("actor", filter.actor.as_deref());
        page.equal("action", filter.action.as_deref());
        page.contains_text(&["subject", "reason", "before", "after"], filter.text.as_deref());
        page.run(&*self.reader()?, AUDIT_COLUMNS, "audit", entry_from_row)
    }
}

fn verify(conn: &Connection) -> Result<Result<AuditReport, AuditBreak>, StoreError> {
    let broken = |seq: i64, reason: String| {
        Ok(Err(AuditBreak {
            seq: seq as u64,
            reason,
        }))
    };
    let mut stmt = conn.prepare(&format!("SELECT {AUDIT_COLUMNS} FROM audit ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    let (mut last_seq, mut last_hash) = (0_i64, GENESIS_HASH.to_string());
    while let Some(row) = rows.next()? {
        let (entry, hash) = StoredEntry::from_row(row)?;
        let expected = last_seq + 1;
        if entry.seq != expected {
            return broken(
                expected,
                format!("entry {expected} is missing (the next one is {})", entry.seq),
            );
        }
        if entry.prev_hash != last_hash {
            return broken(
                entry.seq,
                "does not link to the entry before it (removed or reordered)".into(),
            );
        }
        if entry.hash() != hash {
            return broken(entry.seq, "its contents do not match its hash (edited)".into());
        }
        (last_seq, last_hash) = (entry.seq, hash);
    }
    match head(conn)? {
        None if last_seq == 0 => {}
        Some((seq, hash)) if seq == last_seq && hash == last_hash => {}
        Some((seq, _)) if seq > last_seq => {
            return broken(
                last_seq + 1,
                format!("entries {} to {seq} were removed", last_seq + 1),
            );
        }
        _ => {
            return broken(
                last_seq,
                "the chain's recorded end does not match its last entry".into(),
            );
        }
    }
    Ok(Ok(AuditReport {
        entries: last_seq as u64,
        last_hash,
    }))
}
