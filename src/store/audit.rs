//! The audit log: append-only entries, each chained to the one before by an HMAC
//! under the store's audit key (or, written without one, a plain SHA-256) over its
//! canonical form; `verify_audit_with` finds an edited, removed, reordered or
//! rechained entry. Written once over `Sql` (`AuditTx` appends, `AuditLog` on any
//! store), so several engines on PostgreSQL keep one chain. Also the console's
//! filtered, keyset-paginated pages (`console_queries.rs`, by `entry_of`).

use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

use super::audit_key::{AuditCheckpoint, AuditKey, AuditSeal, link};
use super::csv_cells::CsvCells;
use super::export::AuditFormat;
use super::page::PageQuery;
use super::sql::{Bytes, Dialect, Param, Row as SqlRow, Sql, Transact, clock};
use super::{Store, StoreError, StoreTx, from_micros, to_micros};
use crate::model::{AuditEntry, NewAuditEntry};

/// The `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub(super) const AUDIT_COLUMNS: &str =
    "seq, at, actor, action, employee_id, subject, before, after, reason, prev_hash, hash, key_id";

/// A chain that checks out from the first entry to the last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub entries: u64,
    pub last_hash: String,
    pub last_key_id: Option<String>,
    pub last_at: Option<Timestamp>,
    /// Entries chained by plain SHA-256: written before audit keys, or with none set.
    /// They show accidental damage only; anyone who can write the store can redo them.
    pub legacy_entries: u64,
    /// Entries chained by HMAC, per key, in the order the keys were first used.
    pub keys: Vec<KeyUse>,
    /// Where the legacy entries end, as the first writer with a key sealed it.
    pub seal: Option<AuditSeal>,
    /// The checkpoint's entry, when verified against one.
    pub checkpoint_seq: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyUse {
    pub key_id: String,
    pub entries: u64,
}

impl AuditReport {
    /// The head of this chain that verified, to keep outside the store, taken now.
    fn checkpoint(self) -> AuditCheckpoint {
        AuditCheckpoint {
            seq: self.entries,
            hash: self.last_hash,
            key_id: self.last_key_id,
            entry_at: self.last_at,
            taken_at: Timestamp::now(),
        }
    }
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
/// before, after, employee, action and actor (ASCII case-insensitive).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub employee_id: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub text: Option<String>,
}

impl AuditFilter {
    /// The page of the log this filter keeps, for any direction.
    pub(super) fn page_query(&self, dialect: Dialect) -> PageQuery {
        let mut page = PageQuery::new(dialect);
        page.equal("employee_id", self.employee_id.as_deref());
        page.equal("actor", self.actor.as_deref());
        page.equal("action", self.action.as_deref());
        let searched = [
            "subject",
            "reason",
            "before",
            "after",
            "employee_id",
            "action",
            "actor",
        ];
        page.contains_text(&searched, self.text.as_deref());
        page
    }
}

/// A link as stored: the 32 bytes its hex names (half the size), or none when it
/// is not lowercase hex that reads back the same (then its text is stored, so
/// reading gives back exactly what was hashed). Entries written before keep their text.
fn link_bytes(hex_text: &str) -> Option<Vec<u8>> {
    hex::decode(hex_text)
        .ok()
        .filter(|bytes| hex::encode(bytes) == hex_text)
}

/// The parameter a link is stored as: `bytes` (its `link_bytes`), else its text.
fn link_param<'a>(hex_text: &'a str, bytes: &'a Option<Vec<u8>>) -> Param<'a> {
    match bytes {
        Some(bytes) => Param::Bytes(Some(bytes)),
        None => Param::Text(Some(hex_text)),
    }
}

/// A link as the chain uses it, hex text, from either stored form.
fn link_hex(cell: Bytes) -> String {
    match cell {
        Bytes::Blob(bytes) => hex::encode(bytes),
        Bytes::Text(text) => text,
    }
}

/// The link in column `idx` of a row read through `Sql`.
fn link_at(row: &dyn SqlRow, idx: usize, column: &'static str) -> Result<String, StoreError> {
    let cell = row.bytes(idx)?.ok_or_else(|| StoreError::Corrupt {
        row: row.int(0).ok().flatten().unwrap_or_default(),
        column,
        reason: "no link".into(),
    })?;
    Ok(link_hex(cell))
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
    /// The key the link is an HMAC with; none: a legacy SHA-256 link.
    key_id: Option<String>,
}

impl StoredEntry {
    /// The link over a JSON array of the fields in a fixed order: JSON escaping keeps
    /// every field's boundaries unambiguous, and before/after enter as stored text. A
    /// keyed entry's array ends with its key id; a legacy entry's is the array from
    /// before keys existed, so entries written then still verify.
    fn hash(&self, key: Option<&AuditKey>) -> String {
        debug_assert_eq!(key.map(AuditKey::id), self.key_id.as_deref());
        let mut canonical = serde_json::json!([
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
        if let (Some(id), Some(fields)) = (&self.key_id, canonical.as_array_mut()) {
            fields.push(id.as_str().into());
        }
        link(key, canonical.to_string().as_bytes())
    }

    /// An entry read through `Sql` (`AUDIT_COLUMNS`), with its stored hash.
    fn from_row(row: &dyn SqlRow) -> Result<(StoredEntry, String), StoreError> {
        let text = |idx| Ok::<_, StoreError>(row.text(idx)?.unwrap_or_default());
        let entry = StoredEntry {
            seq: row.int(0)?.unwrap_or_default(),
            at: row.int(1)?.unwrap_or_default(),
            actor: text(2)?,
            action: text(3)?,
            employee_id: row.text(4)?,
            subject: text(5)?,
            before: text(6)?,
            after: text(7)?,
            reason: row.text(8)?,
            prev_hash: link_at(row, 9, "prev_hash")?,
            key_id: row.text(11)?,
        };
        Ok((entry, link_at(row, 10, "hash")?))
    }
}

/// An entry read through `Sql` (`AUDIT_COLUMNS`), as the API gives it.
pub(super) fn entry_of(row: &dyn SqlRow) -> Result<AuditEntry, StoreError> {
    let (stored, hash) = StoredEntry::from_row(row)?;
    let json = |text: &str, column| {
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
            row: stored.seq,
            column,
            reason: e.to_string(),
        })
    };
    Ok(AuditEntry {
        seq: stored.seq as u64,
        at: from_micros(stored.at),
        before: json(&stored.before, "before")?,
        after: json(&stored.after, "after")?,
        actor: stored.actor,
        action: stored.action,
        employee_id: stored.employee_id,
        subject: stored.subject,
        reason: stored.reason,
        prev_hash: stored.prev_hash,
        hash,
        key_id: stored.key_id,
    })
}

/// The chain's last link (seq, hash); with `lock`, held to the commit against
/// other writers (`Dialect::for_update`). None on an SQLite log never written.
fn head(sql: &dyn Sql, lock: bool) -> Result<Option<(i64, String)>, StoreError> {
    let for_update = if lock { sql.dialect().for_update() } else { "" };
    let statement = format!("SELECT seq, hash FROM audit_head WHERE id = 1{for_update}");
    sql.query_opt(&statement, &[], |row| {
        Ok((
            row.int(0)?.unwrap_or_default(),
            link_at(row, 1, "audit_head.hash")?,
        ))
    })
}

fn seal(sql: &dyn Sql) -> Result<Option<AuditSeal>, StoreError> {
    sql.query_opt(
        "SELECT legacy_entries, legacy_hash, key_id, at, mac FROM audit_seal WHERE id = 1",
        &[],
        |row| {
            Ok(AuditSeal {
                legacy_entries: row.int(0)?.unwrap_or_default() as u64,
                legacy_hash: row.text(1)?.unwrap_or_default(),
                key_id: row.text(2)?.unwrap_or_default(),
                at: from_micros(row.int(3)?.unwrap_or_default()),
                mac: row.text(4)?.unwrap_or_default(),
            })
        },
    )
}

/// How many entries the log holds (of one employee, if named).
pub(super) fn entries(sql: &dyn Sql, employee_id: Option<&str>) -> Result<u64, StoreError> {
    // Cast: PostgreSQL types a parameter by its use, and `IS NULL` says none.
    let count = sql.query_opt(
        "SELECT count(*) FROM audit WHERE CAST(?1 AS TEXT) IS NULL OR employee_id = ?1",
        &[Param::from(employee_id)],
        |row| row.int(0),
    )?;
    Ok(count.flatten().unwrap_or_default() as u64)
}

/// The audit log inside one write transaction, on either backend: entries are
/// stamped `now` and chained with `key` (none: plain SHA-256).
pub struct AuditTx<'a> {
    pub(super) sql: &'a dyn Sql,
    pub(super) now: Timestamp,
    pub(super) key: Option<&'a AuditKey>,
}

impl AuditTx<'_> {
    /// Appends entries to the chain in order, committed with whatever else this
    /// transaction does. The head is taken first and held to the commit where
    /// engines share the store (`FOR UPDATE`; SQLite's one writer already holds
    /// it): appends from several engines take turns on one chain, and the head
    /// is held to the commit, so append last in a transaction that also takes
    /// employees' turns (`JournalTx::hold_turns` first, as the engine does).
    /// Four statements for one entry, one more for each further one.
    pub fn append(&self, entries: Vec<NewAuditEntry>) -> Result<Vec<AuditEntry>, StoreError> {
        let sql = self.sql;
        let (mut last_seq, mut last_hash) = head(sql, true)?.unwrap_or((0, GENESIS_HASH.to_string()));
        // Once a writer with a key has sealed the log, an entry without one would
        // break the chain for good: refuse it, and with it the change it records.
        match self.key {
            Some(key) => {
                self.seal_at(key, last_seq, &last_hash)?;
            }
            None => {
                if let Some(seal) = seal(sql)? {
                    return Err(StoreError::AuditKeyMissing { key_id: seal.key_id });
                }
            }
        }
        let mut insert = sql.prepare(&format!(
            "INSERT INTO audit ({AUDIT_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ))?;
        let mut appended = Vec::with_capacity(entries.len());
        for entry in entries {
            let stored = StoredEntry {
                seq: last_seq + 1,
                at: to_micros(self.now),
                actor: entry.actor,
                action: entry.action.as_str().to_string(),
                employee_id: entry.employee_id,
                subject: entry.subject,
                before: entry.before.to_string(),
                after: entry.after.to_string(),
                reason: entry.reason,
                prev_hash: last_hash,
                key_id: self.key.map(|k| k.id().to_string()),
            };
            let hash = stored.hash(self.key);
            let (prev_bytes, hash_bytes) = (link_bytes(&stored.prev_hash), link_bytes(&hash));
            insert.execute(&[
                Param::from(stored.seq),
                Param::from(stored.at),
                Param::from(stored.actor.as_str()),
                Param::from(stored.action.as_str()),
                Param::from(stored.employee_id.as_deref()),
                Param::from(stored.subject.as_str()),
                Param::from(stored.before.as_str()),
                Param::from(stored.after.as_str()),
                Param::from(stored.reason.as_deref()),
                link_param(&stored.prev_hash, &prev_bytes),
                link_param(&hash, &hash_bytes),
                Param::from(stored.key_id.as_deref()),
            ])?;
            (last_seq, last_hash) = (stored.seq, hash.clone());
            appended.push(AuditEntry {
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
                key_id: stored.key_id,
            });
        }
        if !appended.is_empty() {
            let bytes = link_bytes(&last_hash);
            sql.execute(
                "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                &[Param::from(last_seq), link_param(&last_hash, &bytes)],
            )?;
        }
        Ok(appended)
    }

    /// Seals the entries written so far with this transaction's key, unless there
    /// is none or the log is sealed already; the seal when this call made it.
    pub fn seal(&self) -> Result<Option<AuditSeal>, StoreError> {
        let Some(key) = self.key else {
            return Ok(None);
        };
        let (seq, hash) = head(self.sql, true)?.unwrap_or((0, GENESIS_HASH.to_string()));
        self.seal_at(key, seq, &hash)
    }

    /// Seals the entries up to the head (`seq`, `hash`, held by this transaction)
    /// under `key`, unless the log is sealed already. A keyed newest entry and no
    /// seal means the seal was removed: sealing now would bless whatever was done
    /// to the log, so that is left for `verify` to report.
    fn seal_at(&self, key: &AuditKey, seq: i64, hash: &str) -> Result<Option<AuditSeal>, StoreError> {
        let sql = self.sql;
        if (sql.query_opt("SELECT 1 FROM audit_seal WHERE id = 1", &[], |_| Ok(()))?).is_some() {
            return Ok(None);
        }
        let newest_keyed = sql.query_opt(
            "SELECT key_id FROM audit WHERE seq = ?1",
            &[Param::from(seq)],
            |row| row.text(0),
        )?;
        if matches!(newest_keyed, Some(Some(_))) {
            return Ok(None);
        }
        let mut sealed = AuditSeal {
            legacy_entries: seq as u64,
            legacy_hash: hash.to_string(),
            key_id: key.id().to_string(),
            at: self.now,
            mac: String::new(),
        };
        sealed.mac = key.mac(sealed.canonical().as_bytes());
        sql.execute(
            "INSERT INTO audit_seal (id, legacy_entries, legacy_hash, key_id, at, mac) \
             VALUES (1, ?1, ?2, ?3, ?4, ?5)",
            &[
                Param::from(seq),
                Param::from(sealed.legacy_hash.as_str()),
                Param::from(sealed.key_id.as_str()),
                Param::from(to_micros(sealed.at)),
                Param::from(sealed.mac.as_str()),
            ],
        )?;
        Ok(Some(sealed))
    }
}

impl StoreTx<'_> {
    /// The audit log's calls (`AuditTx`) inside this transaction, with the store's key.
    pub fn audit_log(&self) -> AuditTx<'_> {
        AuditTx {
            sql: self.sql,
            now: self.now,
            key: self.audit_key.as_deref(),
        }
    }

    /// Appends an entry to the chain, committed with whatever else this transaction does.
    pub fn audit(&self, entry: NewAuditEntry) -> Result<AuditEntry, StoreError> {
        let appended = self.audit_log().append(vec![entry])?;
        Ok(appended.into_iter().next().expect("one entry in, one out"))
    }

    /// Appends an entry to the chain just before this transaction commits, with
    /// the others kept so, in the order given: the chain's head (locked to the
    /// commit where engines share the store, `AuditTx::append`) is held only for
    /// that, not from here on. For a transaction that does much besides, such as
    /// a worker's turn, whose other engines' turns would wait on the head.
    pub fn audit_at_commit(&self, entry: NewAuditEntry) {
        self.audits.borrow_mut().push(entry);
    }
}

/// The audit log on any store, SQLite or PostgreSQL.
pub trait AuditLog: Transact {
    /// Runs `work` on the audit log in one write transaction, by the database's
    /// clock, chaining with `key` (none: plain SHA-256); one the database gave up
    /// for another engine's runs again (`write_retrying`). The key is given here:
    /// `Store` keeps one for its own appends (`set_audit_key`), a bare `PgStore` none.
    fn audit_log<T: Send>(
        &self,
        key: Option<&AuditKey>,
        work: impl Fn(&AuditTx<'_>) -> Result<T, StoreError> + Send + Sync,
    ) -> Result<T, StoreError> {
        self.write_retrying(|sql| {
            let tx = AuditTx {
                sql,
                now: from_micros(clock(sql)?),
                key,
            };
            work(&tx)
        })
    }

    /// Walks the whole chain on one view of the store (`verify`).
    fn verify_audit_log(
        &self,
        keys: &[AuditKey],
        checkpoint: Option<&AuditCheckpoint>,
    ) -> Result<Result<AuditReport, AuditBreak>, StoreError> {
        self.read(|sql| verify(sql, keys, checkpoint, &|_| {}))
    }

    /// The head of a chain that verifies, to keep outside the store
    /// (`hrsync audit checkpoint`).
    fn audit_log_checkpoint(
        &self,
        keys: &[AuditKey],
    ) -> Result<Result<AuditCheckpoint, AuditBreak>, StoreError> {
        Ok(self.verify_audit_log(keys, None)?.map(AuditReport::checkpoint))
    }

    /// How many entries the log holds (of one employee, if named).
    fn audit_log_entries(&self, employee_id: Option<&str>) -> Result<u64, StoreError> {
        self.read(|sql| entries(sql, employee_id))
    }

    /// Writes the log, oldest first (of one employee, if named), to `out` in
    /// `format` (`Store::export_audit`); how many entries went out.
    fn export_audit_log(
        &self,
        format: AuditFormat,
        cells: CsvCells,
        employee_id: Option<&str>,
        out: impl std::io::Write + Send,
    ) -> Result<u64, StoreError> {
        self.read(|sql| super::export::export(sql, (format, cells, employee_id), out, &|_| {}))
    }

    /// The seal of the legacy entries, if a writer with a key has made one.
    fn audit_log_seal(&self) -> Result<Option<AuditSeal>, StoreError> {
        self.read(seal)
    }
}

impl<T: Transact> AuditLog for T {}

impl Store {
    /// Appends one entry on its own; use `transaction` to tie it to a journal change.
    pub fn audit(&self, entry: NewAuditEntry) -> Result<AuditEntry, StoreError> {
        self.transaction(|tx| tx.audit(entry.clone()))
    }

    /// This store, every append (from every clone of it) an HMAC with `key`.
    pub fn with_audit_key(self, key: AuditKey) -> Store {
        self.set_audit_key(key);
        self
    }

    /// From now on every append, from every clone of this store, is an HMAC with
    /// `key`. Nothing is written until the first append (or `seal_audit`).
    pub fn set_audit_key(&self, key: AuditKey) {
        *self.inner.audit_key.write() = Some(std::sync::Arc::new(key));
    }

    /// Seals the entries written so far with the store's key, as the first keyed
    /// append would; returns the seal when this call made it.
    pub fn seal_audit(&self) -> Result<Option<AuditSeal>, StoreError> {
        self.transaction(|tx| tx.audit_log().seal())
    }

    /// The id of the key appends use (none: plain SHA-256).
    pub fn audit_key_id(&self) -> Option<String> {
        self.inner.audit_key.read().as_ref().map(|k| k.id().to_string())
    }

    /// The seal of the legacy entries, if a writer with a key has made one.
    pub fn audit_seal(&self) -> Result<Option<AuditSeal>, StoreError> {
        self.read(seal)
    }

    /// Walks the whole chain with the store's own key (if it has one).
    pub fn verify_audit(&self) -> Result<Result<AuditReport, AuditBreak>, StoreError> {
        let own: Vec<AuditKey> = self
            .inner
            .audit_key
            .read()
            .iter()
            .map(|k| (**k).clone())
            .collect();
        self.verify_audit_with(&own, None)
    }

    /// Walks the whole chain, checking each keyed entry with the key its id names, and
    /// with a checkpoint, that the entry it names is still there, unchanged. The outer
    /// error is a failure to read; the inner one is the first thing found wrong.
    pub fn verify_audit_with(
        &self,
        keys: &[AuditKey],
        checkpoint: Option<&AuditCheckpoint>,
    ) -> Result<Result<AuditReport, AuditBreak>, StoreError> {
        self.verify_audit_counted(keys, checkpoint, &|_| {})
    }

    /// As `verify_audit_with`, telling `checked` how many entries are checked after
    /// each one (for a progress bar; `audit_entries` is the total).
    pub fn verify_audit_counted(
        &self,
        keys: &[AuditKey],
        checkpoint: Option<&AuditCheckpoint>,
        checked: &(dyn Fn(u64) + Sync),
    ) -> Result<Result<AuditReport, AuditBreak>, StoreError> {
        // One read transaction: the chain, its head and its seal are seen at one moment.
        self.read(|sql| verify(sql, keys, checkpoint, checked))
    }

    /// The head of a chain that verifies, to keep outside the store.
    pub fn audit_checkpoint(
        &self,
        keys: &[AuditKey],
    ) -> Result<Result<AuditCheckpoint, AuditBreak>, StoreError> {
        Ok(self.verify_audit_with(keys, None)?.map(AuditReport::checkpoint))
    }
}

/// What the walk has seen so far.
struct Walk {
    last_seq: u64,
    last_hash: String,
    last_key_id: Option<String>,
    last_at: Option<Timestamp>,
    legacy: u64,
    /// The hash of the last legacy entry (the genesis hash before any).
    legacy_hash: String,
    keys: Vec<KeyUse>,
}

impl Walk {
    /// Checks the next entry read and takes it in; the break it shows, if any.
    fn step(
        &mut self,
        entry: StoredEntry,
        hash: String,
        keys: &[AuditKey],
        checkpoint: Option<&AuditCheckpoint>,
        checked: &(dyn Fn(u64) + Sync),
    ) -> Result<(), AuditBreak> {
        let expected = self.last_seq + 1;
        if entry.seq != expected as i64 {
            return Err(AuditBreak::at(
                expected,
                format!("entry {expected} is missing (the next one is {})", entry.seq),
            ));
        }
        let seq = expected;
        checked(seq);
        if entry.prev_hash != self.last_hash {
            return Err(AuditBreak::at(
                seq,
                "does not link to the entry before it (removed or reordered)".into(),
            ));
        }
        let entry_key = match &entry.key_id {
            None if !self.keys.is_empty() => {
                return Err(AuditBreak::at(
                    seq,
                    "has no key id but follows keyed entries (rechained without the key)".into(),
                ));
            }
            None => None,
            Some(id) => match key_of(keys, id) {
                Some(k) => Some(k),
                None => return Err(AuditBreak::at(seq, not_given(id))),
            },
        };
        if entry.hash(entry_key) != hash {
            let reason = match &entry.key_id {
                Some(id) => format!(
                    "its contents do not match its HMAC under key {id} (edited, or rechained without the key)"
                ),
                None => "its contents do not match its hash (edited)".into(),
            };
            return Err(AuditBreak::at(seq, reason));
        }
        if let Some(cp) = checkpoint
            && cp.seq == seq
            && cp.hash != hash
        {
            return Err(AuditBreak::at(
                seq,
                format!(
                    "its hash is not the one checkpointed at {}: the log was rewritten up to entry {seq}",
                    cp.taken_at
                ),
            ));
        }
        match &entry.key_id {
            None => (self.legacy, self.legacy_hash) = (self.legacy + 1, hash.clone()),
            Some(id) => match self.keys.iter_mut().find(|k| &k.key_id == id) {
                Some(used) => used.entries += 1,
                None => self.keys.push(KeyUse {
                    key_id: id.clone(),
                    entries: 1,
                }),
            },
        }
        (self.last_seq, self.last_hash) = (seq, hash);
        (self.last_key_id, self.last_at) = (entry.key_id, Some(from_micros(entry.at)));
        Ok(())
    }
}

impl AuditBreak {
    fn at(seq: u64, reason: String) -> AuditBreak {
        AuditBreak { seq, reason }
    }
}

/// The key of this id among those given.
fn key_of<'k>(keys: &'k [AuditKey], id: &str) -> Option<&'k AuditKey> {
    keys.iter().find(|k| k.id() == id)
}

fn not_given(id: &str) -> String {
    format!(
        "written with audit key {id}, which was not given \
         (--key-env, or [audit] key_env / previous_key_envs)"
    )
}

fn verify(
    sql: &dyn Sql,
    keys: &[AuditKey],
    checkpoint: Option<&AuditCheckpoint>,
    checked: &(dyn Fn(u64) + Sync),
) -> Result<Result<AuditReport, AuditBreak>, StoreError> {
    let broken = |seq: u64, reason: String| Ok(Err(AuditBreak { seq, reason }));
    let key = |id: &str| key_of(keys, id);
    let mut walk = Walk {
        last_seq: 0,
        last_hash: GENESIS_HASH.to_string(),
        last_key_id: None,
        last_at: None,
        legacy: 0,
        legacy_hash: GENESIS_HASH.to_string(),
        keys: Vec::new(),
    };
    // After a break the rest of the rows are passed over, not checked.
    let mut found = None;
    let statement = format!("SELECT {AUDIT_COLUMNS} FROM audit ORDER BY seq");
    sql.query(&statement, &[], &mut |row| {
        if found.is_none() {
            let (entry, hash) = StoredEntry::from_row(row)?;
            found = walk.step(entry, hash, keys, checkpoint, checked).err();
        }
        Ok(())
    })?;
    if let Some(found) = found {
        return Ok(Err(found));
    }
    let last_seq = walk.last_seq;
    match head(sql, false)? {
        None if last_seq == 0 => {}
        Some((seq, hash)) if seq as u64 == last_seq && hash == walk.last_hash => {}
        Some((seq, _)) if seq as u64 > last_seq => {
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
    let seal = seal(sql)?;
    match &seal {
        Some(seal) => {
            let Some(seal_key) = key(&seal.key_id) else {
                return broken(
                    seal.legacy_entries,
                    format!(
                        "the seal of the entries before keys was {}",
                        not_given(&seal.key_id)
                    ),
                );
            };
            let sealed = format!("sealed with key {} at {}", seal.key_id, seal.at);
            if seal_key.mac(seal.canonical().as_bytes()) != seal.mac {
                return broken(
                    seal.legacy_entries,
                    format!("the seal of the entries before keys does not match its HMAC (edited; {sealed})"),
                );
            }
            if walk.legacy > seal.legacy_entries {
                return broken(
                    seal.legacy_entries + 1,
                    format!(
                        "has no key id, but the log was {sealed} after entry {}: \
                         rechained without the key",
                        seal.legacy_entries
                    ),
                );
            }
            if walk.legacy < seal.legacy_entries {
                return broken(
                    walk.legacy + 1,
                    format!(
                        "entries 1 to {} had no key when the log was {sealed}, but the log \
                         holds {} such entries: removed",
                        seal.legacy_entries, walk.legacy
                    ),
                );
            }
            if walk.legacy_hash != seal.legacy_hash {
                return broken(
                    seal.legacy_entries,
                    format!("its hash is not the one {sealed}: the entries before keys were rewritten"),
                );
            }
        }
        None if !walk.keys.is_empty() => {
            return broken(
                walk.legacy + 1,
                "keyed entries start here, but the seal of the entries before them is gone (removed)".into(),
            );
        }
        // A key in hand and nothing keyed: either no writer has used a key on this
        // store yet, or the keyed entries were rechained without it and the seal dropped.
        None if !keys.is_empty() && walk.legacy > 0 => {
            return broken(
                1,
                format!(
                    "none of the {} entries has a key id and no writer with a key has sealed them: \
                     either no engine has run with [audit] key_env on this store yet (start it, \
                     and verify again), or the log was rechained without the key",
                    walk.legacy
                ),
            );
        }
        None => {}
    }
    if let Some(cp) = checkpoint
        && cp.seq > last_seq
    {
        let reason = if last_seq == 0 {
            format!(
                "the log is empty, but the checkpoint taken at {} names entry {}: it was emptied",
                cp.taken_at, cp.seq
            )
        } else {
            format!(
                "the log ends at entry {last_seq}, but the checkpoint taken at {} names entry {}: \
                 entries {} to {} were removed",
                cp.taken_at,
                cp.seq,
                last_seq + 1,
                cp.seq
            )
        };
        return broken(cp.seq, reason);
    }
    Ok(Ok(AuditReport {
        entries: last_seq,
        last_hash: walk.last_hash,
        last_key_id: walk.last_key_id,
        last_at: walk.last_at,
        legacy_entries: walk.legacy,
        keys: walk.keys,
        seal,
        checkpoint_seq: checkpoint.map(|cp| cp.seq),
    }))
}
