//! HRIS export files and the last export taken, kept so the next one can be
//! compared with it (engine/intake/files.rs decides; the store only keeps).

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};
use serde_json::{Map, Value};

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

fn file_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<ExportFile> {
    let state: String = r.get(6)?;
    let count = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
    Ok(ExportFile {
        id: r.get(0)?,
        name: r.get(1)?,
        sha256: r.get(2)?,
        size: count(3)?,
        modified: from_micros(r.get(4)?),
        decided_at: from_micros(r.get(5)?),
        state: FileState::parse(&state).unwrap_or(FileState::Refused),
        reason: r.get(7)?,
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

impl StoreTx<'_> {
    /// Records what became of a file (by name and content); returns its id.
    pub fn record_file(&self, file: &ExportFile) -> Result<i64, StoreError> {
        let c = &file.counts;
        self.conn
            .prepare_cached(
                "INSERT INTO export_files (name, sha256, size, modified, decided_at, state, reason, \
                 rows, rejected, inserted, updated, missing, unchanged) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
                 ON CONFLICT (name, sha256) DO UPDATE SET decided_at = excluded.decided_at, \
                 state = excluded.state, reason = excluded.reason, rows = excluded.rows, \
                 rejected = excluded.rejected, inserted = excluded.inserted, updated = excluded.updated, \
                 missing = excluded.missing, unchanged = excluded.unchanged",
            )?
            .execute(params![
                file.name,
                file.sha256,
                file.size as i64,
                to_micros(file.modified),
                to_micros(file.decided_at),
                file.state.as_str(),
                file.reason,
                c.rows as i64,
                c.rejected as i64,
                c.inserted as i64,
                c.updated as i64,
                c.missing as i64,
                c.unchanged as i64,
            ])?;
        Ok(self.conn.query_row(
            "SELECT id FROM export_files WHERE name = ?1 AND sha256 = ?2",
            params![file.name, file.sha256],
            |r| r.get(0),
        )?)
    }

    /// An employee's record as the newest export taken has it.
    pub fn put_exported(
        &self,
        employee_id: &str,
        digest: &str,
        record: &Map<String, Value>,
        file: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO exported_employees (employee_id, digest, record, file_id) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (employee_id) DO UPDATE SET digest = excluded.digest, \
                 record = excluded.record, file_id = excluded.file_id",
            )?
            .execute(params![employee_id, digest, serde_json::to_string(record).expect("a JSON map serialises"), file])?;
        Ok(())
    }

    /// An employee the newest export taken no longer lists.
    pub fn remove_exported(&self, employee_id: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM exported_employees WHERE employee_id = ?1")?
            .execute([employee_id])?;
        Ok(())
    }
}

impl Store {
    /// What became of this file (name and content), if it was seen before.
    pub fn export_file(&self, name: &str, sha256: &str) -> Result<Option<ExportFile>, StoreError> {
        let conn = self.reader()?;
        let sql = format!("SELECT {FILE_COLUMNS} FROM export_files WHERE name = ?1 AND sha256 = ?2");
        Ok(conn
            .prepare_cached(&sql)?
            .query_row(params![name, sha256], file_of)
            .optional()?)
    }

    /// The export taken with the newest file time: the one the next is compared with.
    pub fn last_taken_file(&self) -> Result<Option<ExportFile>, StoreError> {
        let conn = self.reader()?;
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM export_files WHERE state = 'taken' ORDER BY modified DESC, id DESC LIMIT 1"
        );
        Ok(conn.prepare_cached(&sql)?.query_row([], file_of).optional()?)
    }

    /// The files seen, newest decision first.
    pub fn export_files(&self, limit: usize) -> Result<Vec<ExportFile>, StoreError> {
        let conn = self.reader()?;
        let sql =
            format!("SELECT {FILE_COLUMNS} FROM export_files ORDER BY decided_at DESC, id DESC LIMIT ?1");
        let mut stmt = conn.prepare_cached(&sql)?;
        let files = stmt
            .query_map([limit as i64], file_of)?
            .collect::<Result<_, _>>()?;
        Ok(files)
    }

    /// A page of the files seen, newest (the highest id) first, from the id `from`
    /// toward older or newer ones: the console pages its list by id, which keeps
    /// a file where it is when its state changes (held, confirmed, taken).
    pub fn export_files_window(
        &self,
        from: Option<i64>,
        toward: Toward,
        limit: usize,
    ) -> Result<Vec<ExportFile>, StoreError> {
        let conn = self.reader()?;
        let sql = match toward {
            Toward::Older => {
                format!("SELECT {FILE_COLUMNS} FROM export_files WHERE id < ?1 ORDER BY id DESC LIMIT ?2")
            }
            Toward::Newer => {
                format!("SELECT {FILE_COLUMNS} FROM export_files WHERE id > ?1 ORDER BY id ASC LIMIT ?2")
            }
        };
        let key = match toward {
            Toward::Older => from.unwrap_or(i64::MAX),
            Toward::Newer => from.unwrap_or(i64::MIN),
        };
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut files: Vec<ExportFile> = stmt
            .query_map(params![key, limit as i64], file_of)?
            .collect::<Result<_, _>>()?;
        if toward == Toward::Newer {
            files.reverse();
        }
        Ok(files)
    }

    /// How many files are in each state (one a night: a scan is cheap).
    pub fn export_file_totals(&self) -> Result<FileTotals, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT COALESCE(SUM(state = 'taken'), 0), COALESCE(SUM(state = 'refused'), 0), \
             COALESCE(SUM(state = 'refused' AND reason LIKE ?1 || ':%'), 0), \
             COALESCE(SUM(state = 'held'), 0), COALESCE(SUM(state = 'confirmed'), 0) FROM export_files",
        )?;
        let count = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<u64> {
            Ok(r.get::<_, i64>(i)?.max(0) as u64)
        };
        Ok(stmt.query_row([STALE], |r| {
            Ok(FileTotals {
                taken: count(r, 0)?,
                refused: count(r, 1)?,
                stale: count(r, 2)?,
                held: count(r, 3)?,
                confirmed: count(r, 4)?,
            })
        })?)
    }

    /// One file by id.
    pub fn export_file_by_id(&self, id: i64) -> Result<Option<ExportFile>, StoreError> {
        let conn = self.reader()?;
        let sql = format!("SELECT {FILE_COLUMNS} FROM export_files WHERE id = ?1");
        Ok(conn.prepare_cached(&sql)?.query_row([id], file_of).optional()?)
    }

    /// Each employee of the newest export taken, with the digest of its record.
    pub fn exported_digests(&self) -> Result<HashMap<String, String>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached("SELECT employee_id, digest FROM exported_employees")?;
        let digests = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(digests)
    }

    /// One employee's record in the newest export taken.
    pub fn exported_employee(&self, employee_id: &str) -> Result<Option<Map<String, Value>>, StoreError> {
        let conn = self.reader()?;
        let text: Option<String> = conn
            .prepare_cached("SELECT record FROM exported_employees WHERE employee_id = ?1")?
            .query_row([employee_id], |r| r.get(0))
            .optional()?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// Every employee's record in the newest export taken.
    pub fn exported_employees(&self) -> Result<Vec<Map<String, Value>>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached("SELECT record FROM exported_employees ORDER BY employee_id")?;
        let records = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .filter_map(|t| t.ok().and_then(|t| serde_json::from_str(&t).ok()))
            .collect();
        Ok(records)
    }
}
