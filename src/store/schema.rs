//! The store's tables and indexes, and the migration that brings an older file up
//! to date (`PRAGMA user_version` counts the steps applied).

use rusqlite::Connection;

use super::StoreError;

/// Each step runs once, in order; a file is at version N after step N.
const MIGRATIONS: &[&str] = &[
    r#"
-- The primary key is an INTEGER rowid that only grows: every insert lands on the
-- right edge of the table's B-tree. CEILINGS.md: 100 rows/commit reach ~190,000/s
-- with a time-ordered key and ~5x fewer with a random one, so the (often random)
-- idempotency key gets its own UNIQUE index and never orders the table.
-- AUTOINCREMENT: an id the console or the audit log names is never reused.
CREATE TABLE events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key  TEXT NOT NULL UNIQUE CHECK (idempotency_key <> ''),
    source           TEXT NOT NULL,
    direction        TEXT NOT NULL,
    employee_id      TEXT NOT NULL CHECK (employee_id <> ''),
    kind             TEXT NOT NULL,
    occurred_at      INTEGER NOT NULL,
    received_at      INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    status           TEXT NOT NULL,
    -- 1 for the oldest open event of its (direction, employee): the only one that may apply.
    is_head          INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    last_error       TEXT,
    last_http_status INTEGER,
    reasons          TEXT,
    note             TEXT,
    payload          TEXT NOT NULL,
    mapped           TEXT
);
-- What may apply now: only heads, in due order. Small, because finished events leave it.
CREATE INDEX events_ready ON events (next_attempt_at, id)
    WHERE is_head = 1 AND status IN ('pending', 'retrying');
-- An employee's open events, to find the next head when one finishes.
CREATE INDEX events_open ON events (direction, employee_id, id)
    WHERE status IN ('pending', 'retrying', 'dead_letter', 'rejected', 'held');
CREATE INDEX events_status ON events (status, id);
CREATE INDEX events_employee ON events (employee_id, id);

CREATE TABLE writes (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL REFERENCES events (id),
    at          INTEGER NOT NULL,
    sent_from   TEXT NOT NULL,
    sent_to     TEXT NOT NULL,
    target_id   TEXT,
    before      TEXT NOT NULL,
    after       TEXT NOT NULL,
    http_status INTEGER
);
CREATE INDEX writes_event ON writes (event_id);

-- Every failed attempt, so the detail view shows the history, not just the last error.
CREATE TABLE failures (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL REFERENCES events (id),
    at          INTEGER NOT NULL,
    error       TEXT NOT NULL,
    http_status INTEGER
);
CREATE INDEX failures_event ON failures (event_id);

-- Kept in step by every transition so counts stay cheap at a million events.
CREATE TABLE status_counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;

CREATE TABLE cursors (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE audit (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    employee_id TEXT,
    subject     TEXT NOT NULL,
    before      TEXT NOT NULL,
    after       TEXT NOT NULL,
    reason      TEXT,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_employee ON audit (employee_id, seq);
-- The chain's last link, written with each entry: deleting the newest entries shows.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
"#,
    r#"
-- The learning paths each employee was enrolled in, so a retried or repeated change
-- does not PATCH the group again. Enrolments are never undone by the engine.
CREATE TABLE enrolments (
    employee_id TEXT NOT NULL,
    group_name  TEXT NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (employee_id, group_name)
) WITHOUT ROWID;
"#,
    r#"
-- Learners whose manager had no learner when they were written (a terminated
-- manager, say): when that manager gets one, the waiting learners' last change
-- is journaled again so their manager reference is filled in.
CREATE TABLE manager_waits (
    employee_id TEXT PRIMARY KEY,
    manager_id  TEXT NOT NULL,
    event_id    INTEGER NOT NULL,
    at          INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX manager_waits_manager ON manager_waits (manager_id);
"#,
    r#"
-- The credentials the write-back has seen: the latest award of each credential
-- per employee, with its expiry and whether the HRIS holds it, for the
-- credentials view and `hrsync credentials expiring` (read by expiry, paged).
CREATE TABLE credentials (
    employee_id TEXT NOT NULL,
    name        TEXT NOT NULL,
    number      TEXT,
    issued      TEXT NOT NULL,
    expires     TEXT NOT NULL,
    in_hris     INTEGER NOT NULL DEFAULT 0,
    event_id    INTEGER NOT NULL,
    PRIMARY KEY (employee_id, name)
) WITHOUT ROWID;
CREATE INDEX credentials_expires ON credentials (expires, employee_id);
CREATE INDEX credentials_event ON credentials (event_id);
"#,
    r#"
-- When the engine started applying the event, cleared by every transition. Set at
-- the next start means the last attempt was cut off (the process stopped between
-- the write and its journal entry): the audit says so if the target already holds
-- the values.
ALTER TABLE events ADD COLUMN started_at INTEGER;
"#,
];

/// Brings the file's schema up to the newest version, in one transaction.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    // Read the version inside the write transaction: two processes opening at once migrate once.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::NewerSchema { found, known });
    }
    if found == known {
        return Ok(());
    }
    for step in &MIGRATIONS[found as usize..] {
        tx.execute_batch(step)?;
    }
    tx.pragma_update(None, "user_version", known)?;
    tx.commit()?;
    Ok(())
}
