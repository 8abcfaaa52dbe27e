//! The HRIS's current employees as a nightly export, with headers in human
//! form, and on demand the broken exports a file source must survive:
//! truncated, stale and malformed.

use std::borrow::Cow;
use std::path::Path;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::draft::Draft;
use super::{BadRow, CHUNK, ExportError, Written, encoded, encoder};
use crate::sandbox::Shared;
use crate::sandbox::hris::employee::{FieldValue, HrisEmployee};

/// Header → BambooHR field name: every field the shipped contract reads, so a
/// file source's `[hris.columns]` can be generated from it.
pub const EXPORT_COLUMNS: &[(&str, &str)] = &[
    ("Employee ID", "id"),
    ("Employee Number", "employeeNumber"),
    ("First Name", "firstName"),
    ("Last Name", "lastName"),
    ("Preferred Name", "preferredName"),
    ("Work Email", "workEmail"),
    ("Hire Date", "hireDate"),
    ("Manager ID", "supervisorEId"),
    ("Department", "department"),
    ("Division", "division"),
    ("Location", "location"),
    ("Job Title", "jobTitle"),
    ("Worker Type", "employmentHistoryStatus"),
    ("Employment Status", "employmentStatus"),
    ("Termination Date", "terminationDate"),
    ("Cost Center", "costCenter"),
];

/// Columns a real export carries that no contract field reads: "Legal Name"
/// ("Last, First": a quoted comma in every row) after the id, and "Notes" last
/// (a quoted line break, comma and quotes in some rows; a contract would
/// refuse a line break in any field it reads).
pub const UNMAPPED_COLUMNS: &[&str] = &["Legal Name", "Notes"];

/// How far the export's time lies back for a stale export.
const STALE_BY: SignedDuration = SignedDuration::from_hours(48);

/// What `POST /_sandbox/export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportKind {
    /// Every current employee.
    Full,
    /// Only the first 10 % of the rows: an export cut short, yet a valid file.
    Truncated,
    /// A full export whose name and mtime are two days old: a late copy.
    Stale,
    /// A full export with three bad rows: one short of a field, one repeating
    /// another's Employee ID, one whose Work Email is not an email.
    Malformed,
}

/// Writes `kind` of the HRIS's current employees (those the directory lists)
/// into `dir` as `hris-YYYYMMDD-HHMMSS.csv`.
pub fn write_hris_export(
    shared: &Shared,
    dir: &Path,
    kind: ExportKind,
    now: Timestamp,
) -> Result<Written, ExportError> {
    let at = if kind == ExportKind::Stale {
        now - STALE_BY
    } else {
        now
    };
    // The rows are those present when the export began, as a full pull's are.
    let (end, current) = {
        let hris = shared.hris.lock();
        let current = hris.employees.iter().filter(|e| e.is_active()).count();
        (hris.employees.len(), current)
    };
    let take = match kind {
        ExportKind::Truncated => current.div_ceil(10),
        _ => current,
    };
    let damage = match kind {
        ExportKind::Malformed if current < 3 => return Err(ExportError::TooFewForMalformed(current)),
        ExportKind::Malformed => Some(DamagePlan::for_rows(current)),
        _ => None,
    };
    let io = ExportError::io(dir);
    let mut writer = RowWriter {
        draft: Draft::create(dir, "hris").map_err(io)?,
        rows: 0,
        bad_rows: Vec::new(),
    };
    writer.header().map_err(ExportError::io(dir))?;
    let (mut next, mut taken) = (0, 0);
    while next < end && taken < take {
        let stop = (next + CHUNK).min(end);
        let mut chunk = encoder();
        {
            let hris = shared.hris.lock();
            let current = hris.employees[next..stop].iter().filter(|e| e.is_active());
            for employee in current.take(take - taken) {
                let damage = damage.as_ref().and_then(|plan| plan.at(taken));
                writer
                    .employee(&mut chunk, employee, damage)
                    .map_err(ExportError::io(dir))?;
                taken += 1;
            }
        }
        let bytes = encoded(chunk).map_err(ExportError::io(dir))?;
        writer.draft.append(&bytes).map_err(ExportError::io(dir))?;
        next = stop;
    }
    let RowWriter {
        draft,
        rows,
        bad_rows,
    } = writer;
    let path = draft.publish("hris", at).map_err(ExportError::io(dir))?;
    Ok(Written { path, rows, bad_rows })
}

/// Which rows a malformed export damages, by their place among the rows.
struct DamagePlan {
    missing_field: usize,
    bad_email: usize,
    duplicated: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Damage {
    /// The row loses its Department: one field short, the rest shifted left.
    MissingField,
    /// The Work Email's `@` becomes " at ".
    BadEmail,
    /// The row is followed by a second one with the same Employee ID (another
    /// Employee Number and title), as a rehire's two records come out.
    Duplicated,
}

impl DamagePlan {
    /// A quarter, a half and three quarters into the file: three different rows.
    fn for_rows(rows: usize) -> DamagePlan {
        DamagePlan {
            missing_field: rows / 4,
            bad_email: rows / 2,
            duplicated: rows * 3 / 4,
        }
    }

    fn at(&self, row: usize) -> Option<Damage> {
        [
            (self.missing_field, Damage::MissingField),
            (self.bad_email, Damage::BadEmail),
            (self.duplicated, Damage::Duplicated),
        ]
        .into_iter()
        .find_map(|(at, damage)| (at == row).then_some(damage))
    }
}

struct RowWriter {
    draft: Draft,
    rows: usize,
    bad_rows: Vec<BadRow>,
}

impl RowWriter {
    fn header(&mut self) -> std::io::Result<()> {
        let mut header: Vec<&str> = EXPORT_COLUMNS.iter().map(|(header, _)| *header).collect();
        header.insert(1, UNMAPPED_COLUMNS[0]);
        header.push(UNMAPPED_COLUMNS[1]);
        let mut chunk = encoder();
        chunk.write_record(&header)?;
        self.draft.append(&encoded(chunk)?)
    }

    /// Encodes one employee's row into `chunk`, damaged as asked, noting the
    /// damaged row's line.
    fn employee(
        &mut self,
        chunk: &mut csv::Writer<Vec<u8>>,
        employee: &HrisEmployee,
        damage: Option<Damage>,
    ) -> std::io::Result<()> {
        let mut row = row(employee);
        let problem = match damage {
            None => {
                chunk.write_record(row.iter().map(|field| field.as_bytes()))?;
                self.rows += 1;
                return Ok(());
            }
            Some(Damage::MissingField) => {
                row.remove(column("Department"));
                "missing field"
            }
            Some(Damage::BadEmail) => {
                let email = &mut row[column("Work Email")];
                *email = Cow::Owned(email.replace('@', " at "));
                "Work Email is not an email"
            }
            Some(Damage::Duplicated) => {
                chunk.write_record(row.iter().map(|field| field.as_bytes()))?;
                self.rows += 1;
                row[column("Employee Number")] = Cow::Owned(format!("{}-R", employee.employee_number));
                row[column("Job Title")] = Cow::Borrowed("Consultant");
                "duplicate Employee ID"
            }
        };
        chunk.flush()?;
        self.bad_rows.push(BadRow {
            line: self.draft.next_line() + super::draft::count_newlines(chunk.get_ref()),
            employee_id: employee.id_string(),
            problem,
        });
        chunk.write_record(row.iter().map(|field| field.as_bytes()))?;
        self.rows += 1;
        Ok(())
    }
}

/// Where a header sits in a row: the mapped columns, with Legal Name second
/// and Notes last.
fn column(header: &str) -> usize {
    let mapped = EXPORT_COLUMNS.iter().position(|(name, _)| *name == header);
    match mapped {
        Some(0) => 0,
        Some(at) => at + 1,
        None => panic!("{header} is not an export column"),
    }
}

/// One employee's fields in the file's column order, values as the HRIS API
/// serves them (an absent one empty).
fn row(employee: &HrisEmployee) -> Vec<Cow<'_, str>> {
    let mut row: Vec<Cow<'_, str>> = EXPORT_COLUMNS
        .iter()
        .map(|(_, field)| match employee.field(field) {
            Some(FieldValue::Text(text)) => Cow::Borrowed(text),
            Some(FieldValue::Owned(text)) => Cow::Owned(text),
            Some(FieldValue::Null) | None => Cow::Borrowed(""),
        })
        .collect();
    row.insert(
        1,
        Cow::Owned(format!("{}, {}", employee.last_name, employee.first_name)),
    );
    row.push(notes(employee));
    row
}

/// A free-text note on one employee in ten, written over two lines.
fn notes(employee: &HrisEmployee) -> Cow<'static, str> {
    if employee.id % 10 != 3 {
        return Cow::Borrowed("");
    }
    Cow::Owned(format!(
        "Desk {}, floor {}\n\"hot desk\" since {}",
        employee.id % 40,
        employee.id % 6,
        employee.hire_date.year()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_found_where_the_row_puts_it() {
        assert_eq!(column("Employee ID"), 0);
        assert_eq!(column("Employee Number"), 2);
        assert_eq!(column("Cost Center"), EXPORT_COLUMNS.len());
    }

    #[test]
    fn the_damaged_rows_are_three_different_ones_from_three_rows_up() {
        for rows in 3..50 {
            let plan = DamagePlan::for_rows(rows);
            let damaged: Vec<_> = (0..rows).filter_map(|row| plan.at(row)).collect();
            assert_eq!(damaged.len(), 3, "{rows} rows");
        }
    }
}
