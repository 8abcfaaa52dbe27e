//! Streams the audit log out as JSON Lines or RFC 4180 CSV, oldest entry first,
//! optionally for one employee, without holding the log in memory. CSV cells are
//! guarded against spreadsheet formulas unless the caller asks for them raw.

use std::io::Write;

use super::audit::{AUDIT_COLUMNS, entry_of};
use super::sql::{Param, Sql, Transact};
use super::{Store, StoreError};
use crate::model::AuditEntry;
use crate::store::csv_cells::CsvCells;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditFormat {
    /// One JSON object per line, fields as in `AuditEntry`.
    Jsonl,
    /// A header row, then one row per entry; before/after as compact JSON text.
    Csv,
}

/// The CSV columns, in the order they are written; a stable contract for spreadsheets.
pub const AUDIT_CSV_HEADER: [&str; 11] = [
    "seq",
    "at",
    "actor",
    "action",
    "employee_id",
    "subject",
    "before",
    "after",
    "reason",
    "prev_hash",
    "hash",
];

impl Store {
    /// Writes the log to `out` and returns how many entries went out. `cells` says
    /// how CSV cells are written (JSON Lines is never changed).
    pub fn export_audit(
        &self,
        format: AuditFormat,
        cells: CsvCells,
        employee_id: Option<&str>,
        out: impl Write + Send,
    ) -> Result<u64, StoreError> {
        self.export_audit_counted(format, cells, employee_id, out, &|_| {})
    }

    /// As `export_audit`, telling `written` how many entries are out after each one
    /// (for a progress bar; `audit_entries` is the total).
    pub fn export_audit_counted(
        &self,
        format: AuditFormat,
        cells: CsvCells,
        employee_id: Option<&str>,
        out: impl Write + Send,
        written_so_far: &(dyn Fn(u64) + Sync),
    ) -> Result<u64, StoreError> {
        self.read(|sql| export(sql, (format, cells, employee_id), out, written_so_far))
    }

    /// How many entries the log holds (of one employee, if named).
    pub fn audit_entries(&self, employee_id: Option<&str>) -> Result<u64, StoreError> {
        self.read(|sql| super::audit::entries(sql, employee_id))
    }
}

/// Writes the log (`format`, `cells`, of one employee if named) to `out`, telling
/// `written_so_far` after each entry; how many went out.
pub(super) fn export(
    sql: &dyn Sql,
    (format, cells, employee_id): (AuditFormat, CsvCells, Option<&str>),
    out: impl Write,
    written_so_far: &(dyn Fn(u64) + Sync),
) -> Result<u64, StoreError> {
    // Two texts, not an OR: one employee's entries are read by its index.
    // (The cast: PostgreSQL types a parameter by its use, and `IS NULL` says none.)
    let filter = if employee_id.is_some() {
        "WHERE employee_id = ?1"
    } else {
        "WHERE CAST(?1 AS TEXT) IS NULL"
    };
    let statement = format!("SELECT {AUDIT_COLUMNS} FROM audit {filter} ORDER BY seq");
    let mut sink = Sink::new(format, cells, out)?;
    let mut written = 0;
    sql.query(&statement, &[Param::from(employee_id)], &mut |row| {
        sink.write(&entry_of(row)?)?;
        written += 1;
        written_so_far(written);
        Ok(())
    })?;
    sink.finish()?;
    Ok(written)
}

enum Sink<W: Write> {
    Jsonl(std::io::BufWriter<W>),
    // Boxed: the CSV writer carries its buffer inline.
    Csv(Box<csv::Writer<W>>, CsvCells),
}

fn export_error(e: impl Into<std::io::Error>) -> StoreError {
    StoreError::Export(e.into())
}

/// A CSV write failure, its I/O kind kept: a closed pipe must read as one.
fn csv_export_error(e: csv::Error) -> StoreError {
    let kind = match e.kind() {
        csv::ErrorKind::Io(io) => io.kind(),
        _ => std::io::ErrorKind::Other,
    };
    StoreError::Export(std::io::Error::new(kind, e))
}

impl<W: Write> Sink<W> {
    fn new(format: AuditFormat, cells: CsvCells, out: W) -> Result<Sink<W>, StoreError> {
        Ok(match format {
            AuditFormat::Jsonl => Sink::Jsonl(std::io::BufWriter::new(out)),
            AuditFormat::Csv => {
                let mut csv = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(out);
                cells
                    .write_record(&mut csv, AUDIT_CSV_HEADER)
                    .map_err(csv_export_error)?;
                Sink::Csv(Box::new(csv), cells)
            }
        })
    }

    fn write(&mut self, entry: &AuditEntry) -> Result<(), StoreError> {
        match self {
            Sink::Jsonl(out) => {
                serde_json::to_writer(&mut *out, entry).map_err(export_error)?;
                out.write_all(b"\n").map_err(export_error)
            }
            Sink::Csv(out, cells) => cells
                .write_record(
                    out,
                    [
                        entry.seq.to_string(),
                        entry.at.to_string(),
                        entry.actor.clone(),
                        entry.action.clone(),
                        entry.employee_id.clone().unwrap_or_default(),
                        entry.subject.clone(),
                        entry.before.to_string(),
                        entry.after.to_string(),
                        entry.reason.clone().unwrap_or_default(),
                        entry.prev_hash.clone(),
                        entry.hash.clone(),
                    ],
                )
                .map_err(csv_export_error),
        }
    }

    fn finish(self) -> Result<(), StoreError> {
        match self {
            Sink::Jsonl(mut out) => out.flush().map_err(export_error),
            Sink::Csv(mut out, _) => out.flush().map_err(export_error),
        }
    }
}
