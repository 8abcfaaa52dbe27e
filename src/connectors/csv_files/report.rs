//! An LMS completion report: one completed course a row (employee, course, when,
//! score, pass/fail, the credential earned). Good rows take the same write-back
//! path as xAPI statements, exactly once each by [`row_key`].

use csv::StringRecord;
use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use sha2::{Digest, Sha256};

use super::rejects::RowReject;
use super::text::{Columns, Table, csv_error, read_header};
use super::{FileError, ReadSummary};

pub use crate::model::files::REPORT_FIELDS;
use crate::model::files::REPORT_REQUIRED as REQUIRED;
const FIELD_LIST: &str = "employee_id, course_id, completed_at, score, passed, \
                          credential_name, credential_number, credential_expires";
const PASS_WORDS: [&str; 5] = ["pass", "passed", "true", "yes", "1"];
const FAIL_WORDS: [&str; 5] = ["fail", "failed", "false", "no", "0"];
/// Words that say the course was finished but not how it went: a completed course
/// can be failed, so these are no outcome at all.
const NO_OUTCOME_WORDS: [&str; 2] = ["completed", "complete"];

/// How to read one LMS's completion report (columns mapped in the contract's
/// write-back section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSpec {
    /// (header, field), the field one of [`REPORT_FIELDS`].
    pub columns: Vec<(String, String)>,
}

/// One completion, as the report says it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRow {
    /// The 1-based line the row starts on.
    pub line: u64,
    pub employee_id: String,
    pub course_id: String,
    pub completed_at: Timestamp,
    pub score: Option<f64>,
    pub passed: Option<bool>,
    /// (name, number, expiry date).
    pub credential: Option<(String, Option<String>, Option<Date>)>,
}

/// The row's idempotency key for exactly-once write-back:
/// `csv:<completed_at µs>:<employee>:<course>:<digest>`. It holds nothing of the
/// file (name, line, column order), so the same report dropped twice, re-exported
/// in another order or overlapping yesterday's gives the same keys. The digest
/// (SHA-256 of every field, each length-prefixed, first 16 hex digits) makes a row
/// that says something else about the same completion (a corrected score) a new
/// key, and keeps keys apart when an id holds a `:`.
pub fn row_key(row: &ReportRow) -> String {
    let mut digest = Sha256::new();
    let mut part = |text: &str| {
        digest.update((text.len() as u64).to_be_bytes());
        digest.update(text.as_bytes());
    };
    let at = row.completed_at.as_microsecond();
    part(&row.employee_id);
    part(&row.course_id);
    part(&at.to_string());
    part(&row.score.map(|score| score.to_string()).unwrap_or_default());
    part(match row.passed {
        Some(true) => "pass",
        Some(false) => "fail",
        None => "",
    });
    if let Some((name, number, expires)) = &row.credential {
        part(name);
        part(number.as_deref().unwrap_or_default());
        part(&expires.map(|date| date.to_string()).unwrap_or_default());
    }
    let digest = hex::encode(&digest.finalize()[..8]);
    format!("csv:{at:017}:{}:{}:{digest}", row.employee_id, row.course_id)
}

/// Streams the report: `each` gets every good row in file order. A row with a
/// value that does not parse is rejected with every reason at once.
pub fn read_report(
    bytes: &[u8],
    spec: &ReportSpec,
    mut each: impl FnMut(ReportRow),
) -> Result<ReadSummary, FileError> {
    let table = Table::open(bytes, None, None)?;
    let mut reader = table.reader();
    let header = read_header(&mut reader)?;
    if let Some((_, field)) = spec
        .columns
        .iter()
        .find(|(_, field)| !REPORT_FIELDS.contains(&field.as_str()))
    {
        return Err(FileError::UnknownField {
            field: field.clone(),
            expected: FIELD_LIST,
        });
    }
    let columns = Columns::locate(&header, spec.columns.iter().map(|(column, _)| column.as_str()))?;
    let mut at: [Option<usize>; REPORT_FIELDS.len()] = [None; REPORT_FIELDS.len()];
    let mut missing_columns = Vec::new();
    for (n, field) in REPORT_FIELDS.iter().enumerate() {
        let Some(mapped) = spec.columns.iter().position(|(_, f)| f == field) else {
            if n < REQUIRED {
                return Err(FileError::Unmapped {
                    field: field.to_string(),
                });
            }
            continue;
        };
        match columns.found[mapped] {
            Some(index) => at[n] = Some(index),
            None if n < REQUIRED => return Err(columns.missing(&spec.columns[mapped].0, field)),
            None => missing_columns.push(spec.columns[mapped].0.clone()),
        }
    }

    let mut summary = ReadSummary {
        rows: 0,
        accepted: 0,
        rejects: Vec::new(),
        unknown_columns: columns.unknown,
        missing_columns,
        delimiter: table.delimiter,
        encoding: table.encoding.name(),
    };
    let mut record = StringRecord::new();
    while reader.read_record(&mut record).map_err(csv_error)? {
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        summary.rows += 1;
        let line = table.line_of(record.position());
        let cell = |n: usize| at[n].and_then(|index| record.get(index)).map_or("", str::trim);
        if record.len() != columns.width {
            let reason = format!(
                "has {} fields where the header has {}",
                record.len(),
                columns.width
            );
            summary
                .rejects
                .push(RowReject::new(line, Some(cell(0)), "(row)", reason));
            continue;
        }
        match parse_row(line, &cell) {
            Ok(row) => {
                summary.accepted += 1;
                each(row);
            }
            Err(reasons) => summary.rejects.push(RowReject {
                line,
                id: Some(cell(0)).filter(|id| !id.is_empty()).map(str::to_string),
                reasons,
            }),
        }
    }
    Ok(summary)
}

/// One row's values, or every reason it cannot be taken; `cell(n)` is the
/// trimmed cell of `REPORT_FIELDS[n]`, empty when unmapped.
fn parse_row<'c>(line: u64, cell: &impl Fn(usize) -> &'c str) -> Result<ReportRow, Vec<(String, String)>> {
    let mut reasons = Vec::new();
    let mut refuse = |n: usize, reason: String| reasons.push((REPORT_FIELDS[n].to_string(), reason));
    let employee_id = cell(0);
    if employee_id.is_empty() {
        refuse(0, "the employee id is empty".into());
    }
    let course_id = cell(1);
    if course_id.is_empty() {
        refuse(1, "the course id is empty".into());
    }
    let completed_at = parse_time(cell(2));
    if completed_at.is_none() {
        refuse(
            2,
            format!(
                "{:?} is not a date (YYYY-MM-DD), a UTC time (YYYY-MM-DD HH:MM:SS) or an RFC 3339 time",
                cell(2)
            ),
        );
    }
    let score = optional(cell(3), parse_score).unwrap_or_else(|bad| {
        refuse(3, format!("{bad:?} is not a number"));
        None
    });
    let passed = optional(cell(4), parse_passed)
        .map(Option::flatten)
        .unwrap_or_else(|bad| {
            refuse(
                4,
                format!(
                    "{bad:?} is not a pass/fail word ({}, {}, or {} for no outcome)",
                    PASS_WORDS.join("/"),
                    FAIL_WORDS.join("/"),
                    NO_OUTCOME_WORDS.join("/")
                ),
            );
            None
        });
    let number = Some(cell(6)).filter(|number| !number.is_empty());
    let expires = optional(cell(7), parse_date).unwrap_or_else(|bad| {
        refuse(7, format!("{bad:?} is not a date (YYYY-MM-DD)"));
        None
    });
    let credential = match cell(5) {
        "" if number.is_some() || expires.is_some() => {
            refuse(5, "a credential number or expiry needs a credential name".into());
            None
        }
        "" => None,
        name => Some((name.to_string(), number.map(str::to_string), expires)),
    };
    match completed_at {
        Some(completed_at) if reasons.is_empty() => Ok(ReportRow {
            line,
            employee_id: employee_id.to_string(),
            course_id: course_id.to_string(),
            completed_at,
            score,
            passed,
            credential,
        }),
        _ => Err(reasons),
    }
}

/// `None` for an empty cell, else the parsed value or the cell back as the error.
fn optional<T>(cell: &str, parse: fn(&str) -> Option<T>) -> Result<Option<T>, &str> {
    if cell.is_empty() {
        return Ok(None);
    }
    parse(cell).map(Some).ok_or(cell)
}

/// RFC 3339, or a date or date and time taken as UTC.
fn parse_time(text: &str) -> Option<Timestamp> {
    if let Ok(at) = text.parse::<Timestamp>() {
        return Some(at);
    }
    let civil = match text.parse::<DateTime>() {
        Ok(civil) => civil,
        Err(_) => text
            .parse::<Date>()
            .ok()?
            .to_datetime(jiff::civil::Time::midnight()),
    };
    civil.to_zoned(TimeZone::UTC).ok().map(|zoned| zoned.timestamp())
}

/// A date, or the UTC date of a time.
fn parse_date(text: &str) -> Option<Date> {
    text.parse::<Date>()
        .ok()
        .or_else(|| parse_time(text).map(|at| at.to_zoned(TimeZone::UTC).date()))
}

/// "85", "85.5", "85,5" (a decimal comma, as `;`-separated exports write) or "85%".
fn parse_score(text: &str) -> Option<f64> {
    let number = text.strip_suffix('%').unwrap_or(text).trim();
    let number = if number.contains('.') {
        number.to_string()
    } else {
        number.replace(',', ".")
    };
    number.parse::<f64>().ok().filter(|score| score.is_finite())
}

/// `Some(outcome)`, `Some(None)` for a word that says nothing of the outcome, or
/// `None` for a word that is not known.
fn parse_passed(text: &str) -> Option<Option<bool>> {
    let word = text.to_lowercase();
    if PASS_WORDS.contains(&word.as_str()) {
        Some(Some(true))
    } else if FAIL_WORDS.contains(&word.as_str()) {
        Some(Some(false))
    } else if NO_OUTCOME_WORDS.contains(&word.as_str()) {
        Some(None)
    } else {
        None
    }
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
