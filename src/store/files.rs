//! HRIS export files and the last export taken, kept so the next one can be
//! compared with it (engine/intake/files.rs decides; the store only keeps).
//! Written once over `Sql`, so the same statements run on SQLite and
//! PostgreSQL: any store through the `ExportFiles` trait (each call one
//! transaction), SQLite's `StoreTx` and `Store` under the names callers had.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::sql::{Param, Row, Sql, Transact};
use super::{Store, StoreError, StoreTx, Toward, from_micros, to_micros};
use crate::model::files::{ExportFile, FileCounts, FileState, STALE};

/// How many export files are in each state, for the console's pane and tab.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileTotals {
    pub taken: u64,
    /// Refused, stale ones included.
    pub refused: u64,
    /// Refused as older than the last export taken.
    pub stale: u64,
    /// Waiting whole for an operator.
    pub held: u64,
    /// Let through by an operator, not taken yet.
    pub confirmed: u64,
}

impl FileTotals {
    pub fn all(&self) -> u64 {
        self.taken + self.refused + self.held + self.confirmed
    }
}

const FILE_COLUMNS: &str = "id, name, sha256, size, modified, decided_at, state, reason, \
     rows, rejected, inserted, updated, missing, unchanged";

fn file_of(r: &dyn Row) -> Result<ExportFile, StoreError> {
    let state = r.text(6)?.unwrap_or_default();
    let count = |i: usize| -> Result<u64, StoreError> { Ok(r.int(i)?.unwrap_or_default().max(0) as u64) };
    let time = |i: usize| -> Result<_, StoreError> { Ok(from_micros(r.int(i)?.unwrap_or_default())) };
    Ok(ExportFile {
        id: r.int(0)?.unwrap_or_default(),
        name: r.text(1)?.unwrap_or_default(),
        sha256: r.text(2)?.unwrap_or_default(),
        size: count(3)?,
        modified: time(4)?,
        decided_at: time(5)?,
        state: FileState::parse(&state).unwrap_or(FileState::Refused),
        reason: r.text(7)?,
        counts: FileCounts {
            rows: count(8)?,
            rejected: count(9)?,
            inserted: count(10)?,
            updated: count(11)?,
            missing: count(12)?,
            unchanged: count(13)?,
        },
    })
}

/// Records what became of a file (by name and content); returns its id.
pub fn record_file(sql: &dyn Sql, file: &ExportFile) -> Result<i64, StoreError> {
    let c = &file.counts;
    let id = sql.query_opt(
        "INSERT INTO export_files (name, sha256, size, modified, decided_at, state, reason, \
         rows, rejected, inserted, updated, missing, unchanged) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
         ON CONFLICT (name, sha256) DO UPDATE SET decided_at = excluded.decided_at, \
         state = excluded.state, reason = excluded.reason, rows = excluded.rows, \
         rejected = excluded.rejected, inserted = excluded.inserted, updated = excluded.updated, \
         missing = excluded.missing, unchanged = excluded.unchanged RETURNING id",
        &[
            Param::from(file.name.as_str()),
            Param::from(file.sha256.as_str()),
            Param::from(file.size as i64),
            Param::from(to_micros(file.modified)),
            Param::from(to_micros(file.decided_at)),
            Param::from(file.state.as_str()),
            Param::from(file.reason.as_deref()),
            Param::from(c.rows as i64),
            Param::from(c.rejected as i64),
            Param::from(c.inserted as i64),
            Param::from(c.updated as i64),
            Param::from(c.missing as i64),
            Param::from(c.unchanged as i64),
        ],
        |row| row.int(0),
    )?;
    Ok(id.flatten().unwrap_or_default())
}

/// An employee's record as the newest export taken has it.
pub fn put_exported(
    sql: &dyn Sql,
    employee_id: &str,
    digest: &str,
    record: &Map<String, Value>,
    file: i64,
) -> Result<(), StoreError> {
    let record = serde_json::to_string(record).expect("a JSON map serialises");
    sql.execute(
        "INSERT INTO exported_employees (employee_id, digest, record, file_id) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (employee_id) DO UPDATE SET digest = excluded.digest, \
         record = excluded.record, file_id = excluded.file_id",
        &[
            Param::from(employee_id),
            Param::from(digest),
            Param::from(record.as_str()),
            Param::from(file),
        ],
    )?;
    Ok(())
}

/// An employee the newest export taken no longer lists.
pub fn remove_exported(sql: &dyn Sql, employee_id: &str) -> Result<(), StoreError> {
    sql.execute(
        "DELETE FROM exported_employees WHERE employee_id = ?1",
        &[Param::from(employee_id)],
    )?;
    Ok(())
}

/// What became of this file (name and content), if it was seen before.
pub fn export_file(sql: &dyn Sql, name: &str, sha256: &str) -> Result<Option<ExportFile>, StoreError> {
    sql.query_opt(
        &format!("SELECT {FILE_COLUMNS} FROM export_files WHERE name = ?1 AND sha256 = ?2"),
        &[Param::from(name), Param::from(sha256)],
        file_of,
    )
}

/// The export taken with the newest file time: the one the next is compared with.
pub fn last_taken_file(sql: &dyn Sql) -> Result<Option<ExportFile>, StoreError> {
    sql.query_opt(
        &format!(
            "SELECT {FILE_COLUMNS} FROM export_files WHERE state = 'taken' ORDER BY modified DESC, id DESC LIMIT 1"
        ),
        &[],
        file_of,
    )
}

/// The files seen, newest decision first.
pub fn export_files(sql: &dyn Sql, limit: usize) -> Result<Vec<ExportFile>, StoreError> {
    sql.query_all(
        &format!("SELECT {FILE_COLUMNS} FROM export_files ORDER BY decided_at DESC, id DESC LIMIT ?1"),
        &[Param::from(limit as i64)],
        file_of,
    )
}

/// A page of the files seen, newest (the highest id) first, from the id `from`
/// toward older or newer ones: the console pages its list by id, which keeps
/// a file where it is when its state changes (held, confirmed, taken).
pub fn export_files_window(
    sql: &dyn Sql,
    from: Option<i64>,
    toward: Toward,
    limit: usize,
) -> Result<Vec<ExportFile>, StoreError> {
    let (statement, key) = match toward {
        Toward::Older => (
            format!("SELECT {FILE_COLUMNS} FROM export_files WHERE id < ?1 ORDER BY id DESC LIMIT ?2"),
            from.unwrap_or(i64::MAX),
        ),
        Toward::Newer => (
            format!("SELECT {FILE_COLUMNS} FROM export_files WHERE id > ?1 ORDER BY id ASC LIMIT ?2"),
            from.unwrap_or(i64::MIN),
        ),
    };
    let mut files = sql.query_all(
        &statement,
        &[Param::from(key), Param::from(limit as i64)],
        file_of,
    )?;
    if toward == Toward::Newer {
        files.reverse();
    }
    Ok(files)
}

/// How many files are in each state (one a night: a scan is cheap).
pub fn export_file_totals(sql: &dyn Sql) -> Result<FileTotals, StoreError> {
    let totals = sql.query_opt(
        "SELECT COALESCE(SUM(CASE WHEN state = 'taken' THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN state = 'refused' THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN state = 'refused' AND reason LIKE ?1 || ':%' THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN state = 'held' THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN state = 'confirmed' THEN 1 ELSE 0 END), 0) FROM export_files",
        &[Param::from(STALE)],
        |r| {
            let count =
                |i: usize| -> Result<u64, StoreError> { Ok(r.int(i)?.unwrap_or_default().max(0) as u64) };
            Ok(FileTotals {
                taken: count(0)?,
                refused: count(1)?,
                stale: count(2)?,
                held: count(3)?,
                confirmed: count(4)?,
            })
        },
    )?;
    Ok(totals.unwrap_or_default())
}

/// One file by id.
pub fn export_file_by_id(sql: &dyn Sql, id: i64) -> Result<Option<ExportFile>, StoreError> {
    sql.query_opt(
        &format!("SELECT {FILE_COLUMNS} FROM export_files WHERE id = ?1"),
        &[Param::from(id)],
        file_of,
    )
}

/// Each employee of the newest export taken, with the digest of its record.
pub fn exported_digests(sql: &dyn Sql) -> Result<HashMap<String, String>, StoreError> {
    let mut digests = HashMap::new();
    sql.query(
        "SELECT employee_id, digest FROM exported_employees",
        &[],
        &mut |r| {
            digests.insert(r.text(0)?.unwrap_or_default(), r.text(1)?.unwrap_or_default());
            Ok(())
        },
    )?;
    Ok(digests)
}

/// One employee's record in the newest export taken.
pub fn exported_employee(sql: &dyn Sql, employee_id: &str) -> Result<Option<Map<String, Value>>, StoreError> {
    let text = sql.query_opt(
        "SELECT record FROM exported_employees WHERE employee_id = ?1",
        &[Param::from(employee_id)],
        |r| r.text(0),
    )?;
    Ok(text.flatten().and_then(|t| serde_json::from_str(&t).ok()))
}

/// Every employee's record in the newest export taken, by employee id.
pub fn exported_employees(sql: &dyn Sql) -> Result<Vec<Map<String, Value>>, StoreError> {
    let texts = sql.query_all(
        "SELECT record FROM exported_employees ORDER BY employee_id",
        &[],
        |r| r.text(0),
    )?;
    Ok(texts
        .into_iter()
        .filter_map(|t| t.and_then(|t| serde_json::from_str(&t).ok()))
        .collect())
}

/// The export files' calls on any store, SQLite or PostgreSQL, each one
/// transaction. Inside a wider SQLite transaction, `StoreTx` offers the writes
/// under the same names.
pub trait ExportFiles: Transact {
    fn record_file(&self, file: &ExportFile) -> Result<i64, StoreError> {
        self.write_retrying(|sql| record_file(sql, file))
    }

    fn put_exported(
        &self,
        employee_id: &str,
        digest: &str,
        record: &Map<String, Value>,
        file: i64,
    ) -> Result<(), StoreError> {
        self.write_retrying(|sql| put_exported(sql, employee_id, digest, record, file))
    }

    fn remove_exported(&self, employee_id: &str) -> Result<(), StoreError> {
        self.write_retrying(|sql| remove_exported(sql, employee_id))
    }

    fn export_file(&self, name: &str, sha256: &str) -> Result<Option<ExportFile>, StoreError> {
        self.read(|sql| export_file(sql, name, sha256))
    }

    fn last_taken_file(&self) -> Result<Option<ExportFile>, StoreError> {
        self.read(last_taken_file)
    }

    fn export_files(&self, limit: usize) -> Result<Vec<ExportFile>, StoreError> {
        self.read(|sql| export_files(sql, limit))
    }

    fn export_files_window(
        &self,
        from: Option<i64>,
        toward: Toward,
        limit: usize,
    ) -> Result<Vec<ExportFile>, StoreError> {
        self.read(|sql| export_files_window(sql, from, toward, limit))
    }

    fn export_file_totals(&self) -> Result<FileTotals, StoreError> {
        self.read(export_file_totals)
    }

    fn export_file_by_id(&self, id: i64) -> Result<Option<ExportFile>, StoreError> {
        self.read(|sql| export_file_by_id(sql, id))
    }

    fn exported_digests(&self) -> Result<HashMap<String, String>, StoreError> {
        self.read(exported_digests)
    }

    fn exported_employee(&self, employee_id: &str) -> Result<Option<Map<String, Value>>, StoreError> {
        self.read(|sql| exported_employee(sql, employee_id))
    }

    fn exported_employees(&self) -> Result<Vec<Map<String, Value>>, StoreError> {
        self.read(exported_employees)
    }
}

impl<T: Transact> ExportFiles for T {}

impl StoreTx<'_> {
    /// Records what became of a file (by name and content); returns its id.
    pub fn record_file(&self, file: &ExportFile) -> Result<i64, StoreError> {
        record_file(self.sql(), file)
    }

    /// An employee's record as the newest export taken has it.
    pub fn put_exported(
        &self,
        employee_id: &str,
        digest: &str,
        record: &Map<String, Value>,
        file: i64,
    ) -> Result<(), StoreError> {
        put_exported(self.sql(), employee_id, digest, record, file)
    }

    /// An employee the newest export taken no longer lists.
    pub fn remove_exported(&self, employee_id: &str) -> Result<(), StoreError> {
        remove_exported(self.sql(), employee_id)
    }
}

/// The reads on SQLite's `Store` without importing `ExportFiles`, as callers had them.
impl Store {
    pub fn export_file(&self, name: &str, sha256: &str) -> Result<Option<ExportFile>, StoreError> {
        ExportFiles::export_file(self, name, sha256)
    }

    pub fn last_taken_file(&self) -> Result<Option<ExportFile>, StoreError> {
        ExportFiles::last_taken_file(self)
    }

    pub fn export_files(&self, limit: usize) -> Result<Vec<ExportFile>, StoreError> {
        ExportFiles::export_files(self, limit)
    }

    pub fn export_files_window(
        &self,
        from: Option<i64>,
        toward: Toward,
        limit: usize,
    ) -> Result<Vec<ExportFile>, StoreError> {
        ExportFiles::export_files_window(self, from, toward, limit)
    }

    pub fn export_file_totals(&self) -> Result<FileTotals, StoreError> {
        ExportFiles::export_file_totals(self)
    }

    pub fn export_file_by_id(&self, id: i64) -> Result<Option<ExportFile>, StoreError> {
        ExportFiles::export_file_by_id(self, id)
    }

    pub fn exported_digests(&self) -> Result<HashMap<String, String>, StoreError> {
        ExportFiles::exported_digests(self)
    }

    pub fn exported_employee(&self, employee_id: &str) -> Result<Option<Map<String, Value>>, StoreError> {
        ExportFiles::exported_employee(self, employee_id)
    }

    pub fn exported_employees(&self) -> Result<Vec<Map<String, Value>>, StoreError> {
        ExportFiles::exported_employees(self)
    }
}
