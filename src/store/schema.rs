//! The store's tables and indexes, the migration that brings an older file up to
//! date (`PRAGMA user_version` counts the steps applied), and the check a read-only
//! open makes instead of migrating. PostgreSQL has its own list of steps
//! (`POSTGRES_MIGRATIONS`, counted in `hrsync_schema`); a table on both backends
//! shares its step's text where both databases read it alike.

use rusqlite::Connection;

use super::StoreError;

/// Each step runs once, in order; a file is at version N after step N.
const MIGRATIONS: &[&str] = &[
    r#"
-- The primary key is an INTEGER rowid that only grows: every insert lands on the
-- right edge of the table's B-tree. Measured here: 100 rows/commit reach ~190,000/s
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
    r#"
-- Who each HRIS employee is, for duplicate detection on ingest: normalised keys,
-- what an operator compares, and when the engine first saw them (the first seen
-- of a suspected group syncs; the newcomers are held).
CREATE TABLE people (
    employee_id TEXT PRIMARY KEY,
    email_key   TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    first_seen  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    display     TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX people_email ON people (email_key) WHERE email_key <> '';
CREATE INDEX people_name ON people (name_key) WHERE name_key <> '';

-- Suspected duplicates, on the HRIS side (employees) or the LMS side (learners),
-- one group per shared key. Never merged: an operator decides, and the decision
-- holds while the members stay the same (`members_key`).
CREATE TABLE duplicate_groups (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    side        TEXT NOT NULL,
    basis       TEXT NOT NULL,
    match_key   TEXT NOT NULL,
    members_key TEXT NOT NULL,
    state       TEXT NOT NULL,
    found_at    INTEGER NOT NULL,
    seen_at     INTEGER NOT NULL,
    decided_at  INTEGER,
    decided_by  TEXT,
    note        TEXT,
    UNIQUE (side, basis, match_key)
);
CREATE INDEX duplicate_groups_state ON duplicate_groups (state, id);
CREATE TABLE duplicate_members (
    group_id    INTEGER NOT NULL REFERENCES duplicate_groups (id),
    member_id   TEXT NOT NULL,
    employee_id TEXT,
    learner_id  TEXT,
    first_seen  INTEGER NOT NULL,
    fields      TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
) WITHOUT ROWID;
CREATE INDEX duplicate_members_employee ON duplicate_members (employee_id);

-- Reconciliation runs with their counts, and an item per finding.
CREATE TABLE reconcile_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    trigger     TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    beat_at     INTEGER NOT NULL,
    finished_at INTEGER,
    outcome     TEXT NOT NULL,
    error       TEXT,
    employees   INTEGER NOT NULL DEFAULT 0,
    learners    INTEGER NOT NULL DEFAULT 0,
    completions INTEGER NOT NULL DEFAULT 0,
    accepted    INTEGER NOT NULL DEFAULT 0,
    counts      TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE drift_items (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES reconcile_runs (id),
    category    TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    learner_id  TEXT,
    field       TEXT NOT NULL,
    hris_value  TEXT,
    lms_value   TEXT,
    state       TEXT NOT NULL DEFAULT 'open',
    note        TEXT,
    detail      TEXT NOT NULL
);
CREATE INDEX drift_items_run ON drift_items (run_id, category, id);
-- Accepted differences: not reported again while the values stay as accepted.
CREATE TABLE drift_accepted (
    category    TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    field       TEXT NOT NULL,
    hris_value  TEXT,
    lms_value   TEXT,
    reason      TEXT NOT NULL,
    expires_at  INTEGER,
    actor       TEXT NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (category, employee_id, field)
) WITHOUT ROWID;

-- The HRIS admin's queue: drift and duplicates an operator handed over, with a note.
CREATE TABLE flags (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    employee_id TEXT,
    subject     TEXT NOT NULL,
    note        TEXT NOT NULL,
    detail      TEXT NOT NULL
);
"#,
    r#"
-- Which audit key made each entry's hash an HMAC; NULL for a plain SHA-256 link
-- (entries written before audit keys, or by a store without one).
ALTER TABLE audit ADD COLUMN key_id TEXT;
-- Made once, by the first writer with a key: entries 1 to legacy_entries have no
-- key and every later one has, under that key's HMAC, so entries cannot be
-- rechained as keyless ones, nor the keyless ones rewritten, without the key.
CREATE TABLE audit_seal (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    legacy_entries INTEGER NOT NULL,
    legacy_hash    TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    at             INTEGER NOT NULL,
    mac            TEXT NOT NULL
);
"#,
    r#"
-- The control plane, one row: what operators ask the engine (pause, a contract,
-- a reconciliation) and what the engine publishes (its status, the contract in
-- force, when reconciliation runs next). Times are microseconds since the epoch.
CREATE TABLE control (
    id                       INTEGER PRIMARY KEY CHECK (id = 1),
    contract_in_force        TEXT,
    contract_requested       TEXT,
    -- NULL until an operator first pauses or resumes.
    pause_requested          INTEGER CHECK (pause_requested IN (0, 1)),
    reconcile_requested      INTEGER,
    reconcile_taken          INTEGER,
    reconcile_last_scheduled INTEGER,
    reconcile_next           INTEGER,
    status_at                INTEGER,
    status                   TEXT
);
INSERT INTO control (id) VALUES (1);
-- Moved from the name/value cursors they were kept in before; their times were
-- RFC 3339 text, to the microsecond (SQLite's own parsing keeps only milliseconds).
CREATE TEMP VIEW cursor_micros AS SELECT name, unixepoch(value) * 1000000 + CAST(substr(
    CASE WHEN instr(value, '.') > 0
        THEN substr(value, instr(value, '.') + 1, length(value) - instr(value, '.') - 1) ELSE '' END
    || '000000', 1, 6) AS INTEGER) AS micros FROM cursors;
UPDATE control SET
    contract_in_force = (SELECT value FROM cursors WHERE name = 'engine.contract'),
    contract_requested = (SELECT value FROM cursors WHERE name = 'control.contract'),
    pause_requested = (SELECT value = 'true' FROM cursors WHERE name = 'control.paused'),
    reconcile_requested = (SELECT micros FROM cursor_micros WHERE name = 'reconcile.requested'),
    reconcile_taken = (SELECT micros FROM cursor_micros WHERE name = 'reconcile.request_taken'),
    reconcile_last_scheduled = (SELECT micros FROM cursor_micros WHERE name = 'reconcile.last_scheduled'),
    reconcile_next = (SELECT micros FROM cursor_micros WHERE name = 'reconcile.next'),
    status_at = (SELECT updated_at FROM cursors WHERE name = 'engine.status'),
    status = (SELECT value FROM cursors WHERE name = 'engine.status');
DROP VIEW cursor_micros;
DELETE FROM cursors WHERE name IN ('engine.contract', 'control.contract', 'control.paused',
    'reconcile.requested', 'reconcile.request_taken', 'reconcile.last_scheduled',
    'reconcile.next', 'engine.status');
"#,
    r#"
-- The newest HRIS record applied to each employee's learner: the time it is as of
-- (microseconds), a digest of what the contract reads of it, and the event that
-- carried it. A change carrying an older record is superseded, not applied
-- (engine/apply/supersede.rs). Empty after an upgrade: it fills as changes apply.
CREATE TABLE IF NOT EXISTS applied_records (
    employee_id TEXT PRIMARY KEY,
    record_at   INTEGER NOT NULL,
    digest      TEXT NOT NULL,
    event_id    INTEGER NOT NULL
) WITHOUT ROWID;
"#,
    r#"
-- Blocked events: open, waiting behind an earlier open event of their employee.
-- Few at any time, even when a million are pending (each its employee's head), so
-- the console's Blocked view and its count read only these.
CREATE INDEX IF NOT EXISTS events_blocked ON events (id) WHERE is_head = 0 AND status IN ('pending', 'retrying');
"#,
    r#"
-- HRIS export files (the csv kind): each one looked at, by name and content, and
-- what became of it; times in microseconds.
CREATE TABLE IF NOT EXISTS export_files (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    modified   INTEGER NOT NULL,
    decided_at INTEGER NOT NULL,
    state      TEXT NOT NULL,
    reason     TEXT,
    rows       INTEGER NOT NULL DEFAULT 0,
    rejected   INTEGER NOT NULL DEFAULT 0,
    inserted   INTEGER NOT NULL DEFAULT 0,
    updated    INTEGER NOT NULL DEFAULT 0,
    missing    INTEGER NOT NULL DEFAULT 0,
    unchanged  INTEGER NOT NULL DEFAULT 0,
    UNIQUE (name, sha256)
);
-- The newest export taken, one row per employee: the next export is compared
-- with it, and it is the HRIS's directory for reconciliation.
CREATE TABLE IF NOT EXISTS exported_employees (
    employee_id TEXT PRIMARY KEY,
    digest      TEXT NOT NULL,
    record      TEXT NOT NULL,
    file_id     INTEGER NOT NULL
) WITHOUT ROWID;
"#,
    r#"
-- The LMS as a CSV user feed: the learners hrsync wants it to hold, kept here
-- because the feed is written whole from them and must survive a restart.
-- The resource is the SCIM document the engine wrote; the columns beside it
-- are what learners are looked up by.
CREATE TABLE IF NOT EXISTS feed_learners (
    id              TEXT PRIMARY KEY,
    external_id     TEXT,
    user_name       TEXT NOT NULL COLLATE NOCASE UNIQUE,
    employee_number TEXT,
    resource        TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS feed_learners_external_id ON feed_learners (external_id);
CREATE INDEX IF NOT EXISTS feed_learners_employee_number ON feed_learners (employee_number);
CREATE TABLE IF NOT EXISTS feed_groups (
    name TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feed_members (
    group_name TEXT NOT NULL REFERENCES feed_groups (name),
    learner_id TEXT NOT NULL REFERENCES feed_learners (id),
    PRIMARY KEY (group_name, learner_id)
) WITHOUT ROWID;
-- One row: how many changes the learners have had, and up to which the file and
-- the upload hold them, so a restart writes only when something is owed.
CREATE TABLE IF NOT EXISTS feed_outbox (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    changes    INTEGER NOT NULL DEFAULT 0,
    written    INTEGER NOT NULL DEFAULT 0,
    written_at INTEGER,
    uploaded   INTEGER NOT NULL DEFAULT 0
);
INSERT OR IGNORE INTO feed_outbox (id) VALUES (1);
"#,
    r#"
-- Shadow mode, one row: when the store first ran in shadow mode, and who took it
-- out of shadow mode, when and why. Once left, a start in shadow mode is refused.
CREATE TABLE IF NOT EXISTS shadow_mode (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    entered_at  INTEGER NOT NULL,
    left_at     INTEGER,
    left_by     TEXT,
    left_reason TEXT
);
"#,
    r#"
-- The parallel run against the legacy process: each day's comparison (a later
-- comparison of the same day replaces it) and the operators' explanations of
-- differences, each valid while both values stay the same.
CREATE TABLE IF NOT EXISTS parallel_days (
    day               TEXT PRIMARY KEY,
    file              TEXT NOT NULL,
    compared_at       INTEGER NOT NULL,
    shadow            INTEGER NOT NULL,
    legacy_learners   INTEGER NOT NULL,
    hrsync_learners   INTEGER NOT NULL,
    matching          INTEGER NOT NULL,
    legacy_without_id INTEGER NOT NULL,
    differences       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS parallel_explanations (
    id          INTEGER PRIMARY KEY,
    employee_id TEXT NOT NULL,
    field       TEXT NOT NULL,
    legacy      TEXT,
    hrsync      TEXT,
    reason      TEXT NOT NULL,
    by          TEXT NOT NULL,
    at          INTEGER NOT NULL
);
"#,
    r#"
-- Retention (`Store::compact`): finished events in the order they finished.
CREATE INDEX IF NOT EXISTS events_finished ON events (updated_at, id)
    WHERE status IN ('applied', 'unchanged', 'skipped', 'flagged');
"#,
    LEASES,
    ENGINES,
    r#"
-- Whom each employee counts as a report of, by the last record applied (kept
-- under a contract that names a manager field): the count a "became a manager"
-- trigger reads, one index lookup per manager. Fills as changes apply.
CREATE TABLE IF NOT EXISTS reports_to (
    employee_id TEXT PRIMARY KEY,
    manager_id  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS reports_to_manager ON reports_to (manager_id);
"#,
    CLAIMS,
    HISTORY,
    WAITS,
];

/// A claim on an event being applied (`store/journal.rs`): the engine applying it
/// and until when (microseconds), a lease with a deadline. Cleared by every
/// transition; past `claim_until` another engine may take the event. SQLite has no
/// `ADD COLUMN IF NOT EXISTS`: `migrate` skips the step where the columns are there.
const CLAIMS: &str = r#"
ALTER TABLE events ADD COLUMN claimed_by TEXT;
ALTER TABLE events ADD COLUMN claim_until INTEGER;
"#;

/// Duties that must run once across engines, each held by a lease (`store/lease.rs`).
/// The token only grows: it is how a write tells a current holder from a stale one.
const LEASES: &str = r#"
CREATE TABLE IF NOT EXISTS leases (
    duty        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    token       BIGINT NOT NULL CHECK (token > 0),
    acquired_at BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
"#;

/// The engines sharing the store, each with its last heartbeat (`store/engines.rs`).
const ENGINES: &str = r#"
CREATE TABLE IF NOT EXISTS engines (
    engine_id    TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          BIGINT NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);
"#;

/// How far each source has been read (`store/cursors.rs`).
const CURSORS: &str = r#"
CREATE TABLE IF NOT EXISTS cursors (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
"#;

/// The control plane, one row (`store/control.rs`), as SQLite's: what operators
/// ask the engine and what the engine publishes. Times are microseconds.
const CONTROL: &str = r#"
CREATE TABLE IF NOT EXISTS control (
    id                       BIGINT PRIMARY KEY CHECK (id = 1),
    contract_in_force        TEXT,
    contract_requested       TEXT,
    pause_requested          BIGINT CHECK (pause_requested IN (0, 1)),
    reconcile_requested      BIGINT,
    reconcile_taken          BIGINT,
    reconcile_last_scheduled BIGINT,
    reconcile_next           BIGINT,
    status_at                BIGINT,
    status                   TEXT
);
INSERT INTO control (id) VALUES (1) ON CONFLICT (id) DO NOTHING;
"#;

/// The journal on PostgreSQL (`store/journal.rs`, `store/transitions.rs`): the
/// events with their claims, their writes and failed attempts, and the counters
/// kept in step with every transition, as SQLite's tables (step 1 and the added
/// columns) with an identity for the ids SQLite's AUTOINCREMENT gives.
const JOURNAL: &str = r#"
CREATE TABLE IF NOT EXISTS events (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key  TEXT NOT NULL UNIQUE CHECK (idempotency_key <> ''),
    source           TEXT NOT NULL,
    direction        TEXT NOT NULL,
    employee_id      TEXT NOT NULL CHECK (employee_id <> ''),
    kind             TEXT NOT NULL,
    occurred_at      BIGINT NOT NULL,
    received_at      BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    status           TEXT NOT NULL,
    is_head          BIGINT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT,
    last_error       TEXT,
    last_http_status BIGINT,
    reasons          TEXT,
    note             TEXT,
    payload          TEXT NOT NULL,
    mapped           TEXT,
    started_at       BIGINT,
    claimed_by       TEXT,
    claim_until      BIGINT
);
CREATE INDEX IF NOT EXISTS events_ready ON events (next_attempt_at, id)
    WHERE is_head = 1 AND status IN ('pending', 'retrying');
CREATE INDEX IF NOT EXISTS events_open ON events (direction, employee_id, id)
    WHERE status IN ('pending', 'retrying', 'dead_letter', 'rejected', 'held');
CREATE INDEX IF NOT EXISTS events_status ON events (status, id);
CREATE INDEX IF NOT EXISTS events_employee ON events (employee_id, id);
CREATE INDEX IF NOT EXISTS events_blocked ON events (id) WHERE is_head = 0 AND status IN ('pending', 'retrying');
CREATE INDEX IF NOT EXISTS events_finished ON events (updated_at, id)
    WHERE status IN ('applied', 'unchanged', 'skipped', 'flagged');

CREATE TABLE IF NOT EXISTS writes (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    BIGINT NOT NULL REFERENCES events (id),
    at          BIGINT NOT NULL,
    sent_from   TEXT NOT NULL,
    sent_to     TEXT NOT NULL,
    target_id   TEXT,
    before      TEXT NOT NULL,
    after       TEXT NOT NULL,
    http_status BIGINT
);
CREATE INDEX IF NOT EXISTS writes_event ON writes (event_id);

CREATE TABLE IF NOT EXISTS failures (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    BIGINT NOT NULL REFERENCES events (id),
    at          BIGINT NOT NULL,
    error       TEXT NOT NULL,
    http_status BIGINT
);
CREATE INDEX IF NOT EXISTS failures_event ON failures (event_id);

CREATE TABLE IF NOT EXISTS status_counts (name TEXT PRIMARY KEY, n BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n BIGINT NOT NULL);
"#;

/// The audit log on PostgreSQL (`store/audit.rs`), as SQLite's with its key ids
/// and seal. The links are 32 bytes (SQLite keeps older rows' text too). The head
/// row is there from the start, at the genesis link: every append takes it `FOR
/// UPDATE`, so engines appending at once take turns on one chain.
const AUDIT: &str = r#"
CREATE TABLE IF NOT EXISTS audit (
    seq         BIGINT PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    employee_id TEXT,
    subject     TEXT NOT NULL,
    before      TEXT NOT NULL,
    after       TEXT NOT NULL,
    reason      TEXT,
    prev_hash   BYTEA NOT NULL,
    hash        BYTEA NOT NULL,
    key_id      TEXT
);
CREATE INDEX IF NOT EXISTS audit_employee ON audit (employee_id, seq);
CREATE TABLE IF NOT EXISTS audit_head (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('0', 64), 'hex'))
    ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS audit_seal (
    id             BIGINT PRIMARY KEY CHECK (id = 1),
    legacy_entries BIGINT NOT NULL,
    legacy_hash    TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    at             BIGINT NOT NULL,
    mac            TEXT NOT NULL
);
"#;

/// The people directory, suspected duplicate groups and their members
/// (`store/duplicates.rs`), enrolments and manager waits (`store/enrolments.rs`)
/// and the credentials ledger (`store/credentials.rs`) on PostgreSQL, as SQLite's
/// tables. Text that is ordered or paged by (ids, names, expiry days) is `COLLATE
/// "C"`: by bytes, as SQLite orders it, whatever the database's locale.
const PEOPLE: &str = r#"
CREATE TABLE IF NOT EXISTS enrolments (
    employee_id TEXT COLLATE "C" NOT NULL,
    group_name  TEXT COLLATE "C" NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (employee_id, group_name)
);

CREATE TABLE IF NOT EXISTS manager_waits (
    employee_id TEXT COLLATE "C" PRIMARY KEY,
    manager_id  TEXT NOT NULL,
    event_id    BIGINT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS manager_waits_manager ON manager_waits (manager_id);

CREATE TABLE IF NOT EXISTS credentials (
    employee_id TEXT COLLATE "C" NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    number      TEXT,
    issued      TEXT NOT NULL,
    expires     TEXT COLLATE "C" NOT NULL,
    in_hris     BIGINT NOT NULL DEFAULT 0,
    event_id    BIGINT NOT NULL,
    PRIMARY KEY (employee_id, name)
);
CREATE INDEX IF NOT EXISTS credentials_expires ON credentials (expires, employee_id);
CREATE INDEX IF NOT EXISTS credentials_event ON credentials (event_id);

CREATE TABLE IF NOT EXISTS people (
    employee_id TEXT COLLATE "C" PRIMARY KEY,
    email_key   TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    first_seen  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    display     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS people_email ON people (email_key) WHERE email_key <> '';
CREATE INDEX IF NOT EXISTS people_name ON people (name_key) WHERE name_key <> '';

CREATE TABLE IF NOT EXISTS duplicate_groups (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    side        TEXT NOT NULL,
    basis       TEXT NOT NULL,
    match_key   TEXT NOT NULL,
    members_key TEXT NOT NULL,
    state       TEXT NOT NULL,
    found_at    BIGINT NOT NULL,
    seen_at     BIGINT NOT NULL,
    decided_at  BIGINT,
    decided_by  TEXT,
    note        TEXT,
    UNIQUE (side, basis, match_key)
);
CREATE INDEX IF NOT EXISTS duplicate_groups_state ON duplicate_groups (state, id);
CREATE TABLE IF NOT EXISTS duplicate_members (
    group_id    BIGINT NOT NULL REFERENCES duplicate_groups (id),
    member_id   TEXT COLLATE "C" NOT NULL,
    employee_id TEXT,
    learner_id  TEXT,
    first_seen  BIGINT NOT NULL,
    fields      TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX IF NOT EXISTS duplicate_members_employee ON duplicate_members (employee_id);
"#;

/// Shadow mode, the parallel run and the applied records on PostgreSQL
/// (`store/shadow.rs`, `store/parallel.rs`, `store/applied.rs`), as SQLite's,
/// with an identity for the explanations' ids. Retention needs no table of its
/// own: it walks `events_finished` (JOURNAL) and keeps its mark in `cursors`.
const ADOPTION: &str = r#"
CREATE TABLE IF NOT EXISTS applied_records (
    employee_id TEXT PRIMARY KEY,
    record_at   BIGINT NOT NULL,
    digest      TEXT NOT NULL,
    event_id    BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS shadow_mode (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    entered_at  BIGINT NOT NULL,
    left_at     BIGINT,
    left_by     TEXT,
    left_reason TEXT
);
CREATE TABLE IF NOT EXISTS parallel_days (
    day               TEXT PRIMARY KEY,
    file              TEXT NOT NULL,
    compared_at       BIGINT NOT NULL,
    shadow            BIGINT NOT NULL,
    legacy_learners   BIGINT NOT NULL,
    hrsync_learners   BIGINT NOT NULL,
    matching          BIGINT NOT NULL,
    legacy_without_id BIGINT NOT NULL,
    differences       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS parallel_explanations (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    employee_id TEXT NOT NULL,
    field       TEXT NOT NULL,
    legacy      TEXT,
    hrsync      TEXT,
    reason      TEXT NOT NULL,
    by          TEXT NOT NULL,
    at          BIGINT NOT NULL
);
"#;

/// Reconciliation runs and their items, accepted differences and flags
/// (`store/reconcile.rs`), the HRIS export files and the last export taken
/// (`store/files.rs`), and the LMS feed's learners, groups and outbox
/// (`store/feed.rs`) on PostgreSQL, as SQLite's tables with identities for the
/// ids SQLite gives. Text that lists are ordered by is `COLLATE "C"`: the
/// byte order SQLite sorts in, whatever the database's locale. A userName is
/// one learner's in any case, as SQLite's `COLLATE NOCASE` keeps it: a
/// case-insensitive ICU collation makes `=` and `UNIQUE` ignore case.
const RUNS_FILES_FEED: &str = r#"
CREATE TABLE IF NOT EXISTS reconcile_runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger     TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    beat_at     BIGINT NOT NULL,
    finished_at BIGINT,
    outcome     TEXT NOT NULL,
    error       TEXT,
    employees   BIGINT NOT NULL DEFAULT 0,
    learners    BIGINT NOT NULL DEFAULT 0,
    completions BIGINT NOT NULL DEFAULT 0,
    accepted    BIGINT NOT NULL DEFAULT 0,
    counts      TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS drift_items (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      BIGINT NOT NULL REFERENCES reconcile_runs (id),
    category    TEXT COLLATE "C" NOT NULL,
    employee_id TEXT NOT NULL,
    learner_id  TEXT,
    field       TEXT NOT NULL,
    hris_value  TEXT,
    lms_value   TEXT,
    state       TEXT NOT NULL DEFAULT 'open',
    note        TEXT,
    detail      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS drift_items_run ON drift_items (run_id, category, id);
CREATE TABLE IF NOT EXISTS drift_accepted (
    category    TEXT NOT NULL,
    employee_id TEXT NOT NULL,
    field       TEXT NOT NULL,
    hris_value  TEXT,
    lms_value   TEXT,
    reason      TEXT NOT NULL,
    expires_at  BIGINT,
    actor       TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (category, employee_id, field)
);
CREATE TABLE IF NOT EXISTS flags (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    employee_id TEXT,
    subject     TEXT NOT NULL,
    note        TEXT NOT NULL,
    detail      TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS export_files (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    size       BIGINT NOT NULL,
    modified   BIGINT NOT NULL,
    decided_at BIGINT NOT NULL,
    state      TEXT NOT NULL,
    reason     TEXT,
    rows       BIGINT NOT NULL DEFAULT 0,
    rejected   BIGINT NOT NULL DEFAULT 0,
    inserted   BIGINT NOT NULL DEFAULT 0,
    updated    BIGINT NOT NULL DEFAULT 0,
    missing    BIGINT NOT NULL DEFAULT 0,
    unchanged  BIGINT NOT NULL DEFAULT 0,
    UNIQUE (name, sha256)
);
CREATE TABLE IF NOT EXISTS exported_employees (
    employee_id TEXT COLLATE "C" PRIMARY KEY,
    digest      TEXT NOT NULL,
    record      TEXT NOT NULL,
    file_id     BIGINT NOT NULL
);

CREATE COLLATION IF NOT EXISTS hrsync_any_case
    (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE IF NOT EXISTS feed_learners (
    id              TEXT COLLATE "C" PRIMARY KEY,
    external_id     TEXT,
    user_name       TEXT COLLATE hrsync_any_case NOT NULL UNIQUE,
    employee_number TEXT,
    resource        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feed_learners_external_id ON feed_learners (external_id);
CREATE INDEX IF NOT EXISTS feed_learners_employee_number ON feed_learners (employee_number);
CREATE TABLE IF NOT EXISTS feed_groups (
    name TEXT COLLATE "C" PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS feed_members (
    group_name TEXT COLLATE "C" NOT NULL REFERENCES feed_groups (name),
    learner_id TEXT COLLATE "C" NOT NULL REFERENCES feed_learners (id),
    PRIMARY KEY (group_name, learner_id)
);
CREATE TABLE IF NOT EXISTS feed_outbox (
    id         BIGINT PRIMARY KEY CHECK (id = 1),
    changes    BIGINT NOT NULL DEFAULT 0,
    written    BIGINT NOT NULL DEFAULT 0,
    written_at BIGINT,
    uploaded   BIGINT NOT NULL DEFAULT 0
);
INSERT INTO feed_outbox (id) VALUES (1) ON CONFLICT (id) DO NOTHING;
"#;

/// Who reports to whom (`store/reports.rs`), as SQLite's `reports_to`.
const REPORTS: &str = r#"
CREATE TABLE IF NOT EXISTS reports_to (
    employee_id TEXT PRIMARY KEY,
    manager_id  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_to_manager ON reports_to (manager_id);
"#;

/// An employee's history without a page of a big index per event journaled:
/// `events_employee` held every event, so with a million journaled each new one
/// wrote a page of it in its own place (intake with 1,000,000 finished events
/// journaled ran at 0.81-0.82 of an empty store's; without the index, 0.89-0.91).
/// Open events are in `events_open` already; finished ones join `events_history`
/// when they finish. `store::journal::employee_event_ids` reads both.
const HISTORY: &str = r#"
DROP INDEX IF EXISTS events_employee;
CREATE INDEX IF NOT EXISTS events_history ON events (employee_id, id)
    WHERE status NOT IN ('pending', 'retrying', 'dead_letter', 'rejected', 'held');
"#;

/// The manager an event was deferred for (`JournalTx::defer_for_manager`): the
/// turn that journals that manager's change makes the event due again at once
/// (`JournalTx::wake_waiting_for`), where it was in the queue. Every transition
/// clears it. Before, such an event waited two seconds behind everything then
/// queued: in an initial load, behind its own reports, who waited for it in turn.
const WAITS: &str = r#"
ALTER TABLE events ADD COLUMN waits_for TEXT;
CREATE INDEX IF NOT EXISTS events_waiting ON events (waits_for) WHERE waits_for IS NOT NULL;
"#;

/// PostgreSQL's steps, in order; a database is at version N after step N. Tables
/// join as their store functions move onto `Sql` (docs/architecture.md).
const POSTGRES_MIGRATIONS: &[&str] = &[
    LEASES,
    ENGINES,
    CURSORS,
    CONTROL,
    JOURNAL,
    AUDIT,
    PEOPLE,
    ADOPTION,
    RUNS_FILES_FEED,
    REPORTS,
    HISTORY,
    WAITS,
];

/// Brings a PostgreSQL database's schema up to date, in one transaction. A lock
/// held to the commit makes engines that start together migrate once (an advisory
/// lock of the transaction: poolers that hand out connections per transaction keep it).
pub(super) fn migrate_postgres(client: &mut postgres::Client) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    tx.batch_execute(
        "SELECT pg_advisory_xact_lock(hashtext('hrsync schema'));
         CREATE TABLE IF NOT EXISTS hrsync_schema (
             id      INTEGER PRIMARY KEY CHECK (id = 1),
             version BIGINT NOT NULL
         );",
    )?;
    let found: i64 = tx
        .query_opt("SELECT version FROM hrsync_schema WHERE id = 1", &[])?
        .map(|row| row.get(0))
        .unwrap_or(0);
    let known = POSTGRES_MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::NewerSchema { found, known });
    }
    for step in &POSTGRES_MIGRATIONS[found as usize..] {
        tx.batch_execute(step)?;
    }
    tx.execute(
        "INSERT INTO hrsync_schema (id, version) VALUES (1, $1)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version",
        &[&known],
    )?;
    tx.commit()?;
    Ok(())
}

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
        if *step == CLAIMS && has_column(&tx, "events", "claim_until")? {
            continue;
        }
        // Its index is made in the same transaction as the column.
        if *step == WAITS && has_column(&tx, "events", "waits_for")? {
            continue;
        }
        tx.execute_batch(step)?;
    }
    tx.pragma_update(None, "user_version", known)?;
    tx.commit()?;
    Ok(())
}

/// Whether `table` has the column `column` already.
fn has_column(conn: &Connection, table: &str, column: &str) -> Result<bool, StoreError> {
    let found: i64 = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = ?2",
        [table, column],
        |row| row.get(0),
    )?;
    Ok(found > 0)
}

/// For a read-only open, which cannot migrate: an error unless the file is at
/// exactly this hrsync's version.
pub(super) fn check_current(conn: &Connection) -> Result<(), StoreError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let known = MIGRATIONS.len() as i64;
    match found.cmp(&known) {
        std::cmp::Ordering::Equal => Ok(()),
        _ if found == 0 => Err(StoreError::NoSchema),
        std::cmp::Ordering::Greater => Err(StoreError::NewerSchema { found, known }),
        std::cmp::Ordering::Less => Err(StoreError::OlderSchema { found, known }),
    }
}
