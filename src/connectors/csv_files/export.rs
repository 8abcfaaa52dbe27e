//! The HRIS's nightly export (Workday, ADP and the like): a full snapshot, one
//! employee a row. Two streaming passes over the text, without holding rows: the
//! first finds ids on more than one line, the second hands each good row over.

use std::collections::HashMap;

use csv::{ByteRecord, StringRecord};
use serde_json::{Map, Value};

use super::rejects::RowReject;
use super::text::{Columns, Table, csv_error, read_header};
use super::{FileError, ReadSummary};

/// The reason's "field" when a reason concerns the whole row.
const WHOLE_ROW: &str = "(row)";

/// How to read one HRIS's export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSpec {
    /// File column → contract HRIS field name (`[hris.columns]`), in config order.
    pub columns: Vec<(String, String)>,
    /// The HRIS field holding the employee id (after mapping), e.g. "id".
    pub id_field: String,
    /// `None`: the commonest of `,` `;` TAB `|` in the header line.
    pub delimiter: Option<u8>,
    /// A WHATWG label; `None`: the byte-order mark's (UTF-8, UTF-16 LE/BE), else
    /// UTF-8 when the bytes are valid UTF-8, else windows-1252.
    pub encoding: Option<String>,
}

/// One good row. Cells are trimmed: exports pad, and no HRIS field's meaning
/// rests on edge whitespace.
pub struct ExportRow<'r> {
    /// The 1-based physical line the record starts on.
    pub line: u64,
    record: &'r StringRecord,
    /// (HRIS field, column) for each mapped column the header has.
    fields: &'r [(&'r str, usize)],
    id_column: usize,
}

impl ExportRow<'_> {
    /// The field's value; `None` when it is empty or its column is missing.
    pub fn get(&self, field: &str) -> Option<&str> {
        let (_, column) = self.fields.iter().find(|(name, _)| *name == field)?;
        Some(self.record.get(*column)?.trim()).filter(|value| !value.is_empty())
    }

    /// The employee id (never empty: rows without one are rejected).
    pub fn id(&self) -> &str {
        self.record.get(self.id_column).unwrap_or_default().trim()
    }

    /// The mapped fields as an HRIS record; an empty cell is `null`, a column the
    /// header lacks is absent.
    pub fn to_record(&self) -> Map<String, Value> {
        self.fields
            .iter()
            .map(|(field, column)| {
                let value = self.record.get(*column).unwrap_or_default().trim();
                let value = if value.is_empty() {
                    Value::Null
                } else {
                    Value::String(value.to_string())
                };
                (field.to_string(), value)
            })
            .collect()
    }
}

/// Streams the file: `each` gets every good row in file order, once. A row with
/// the wrong number of fields, no id, or an id another row also has is rejected
/// (every row sharing the id: which one is right is for a person to say).
pub fn read_export(
    bytes: &[u8],
    spec: &ExportSpec,
    mut each: impl FnMut(ExportRow<'_>),
) -> Result<ReadSummary, FileError> {
    let table = Table::open(bytes, spec.encoding.as_deref(), spec.delimiter)?;
    let mut reader = table.reader();
    let header = read_header(&mut reader)?;
    let columns = Columns::locate(&header, spec.columns.iter().map(|(column, _)| column.as_str()))?;
    let id_at = spec
        .columns
        .iter()
        .position(|(_, field)| *field == spec.id_field)
        .ok_or_else(|| FileError::Unmapped {
            field: spec.id_field.clone(),
        })?;
    let id_column =
        columns.found[id_at].ok_or_else(|| columns.missing(&spec.columns[id_at].0, &spec.id_field))?;
    let fields: Vec<(&str, usize)> = spec
        .columns
        .iter()
        .zip(&columns.found)
        .filter_map(|((_, field), found)| Some((field.as_str(), (*found)?)))
        .collect();
    let missing_columns = spec
        .columns
        .iter()
        .zip(&columns.found)
        .filter(|(_, found)| found.is_none())
        .map(|((column, _), _)| column.clone())
        .collect();
    let shape = Shape {
        width: columns.width,
        id_column,
    };
    let repeated = repeated_ids(&table, shape)?;

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
        let line = table.line_of(record.position());
        let id = record.get(id_column).unwrap_or_default().trim();
        if id.is_empty() && is_blank(record.iter()) {
            continue;
        }
        summary.rows += 1;
        let id_or_none = Some(id).filter(|id| !id.is_empty());
        if record.len() != shape.width {
            let reason = format!("has {} fields where the header has {}", record.len(), shape.width);
            summary
                .rejects
                .push(RowReject::new(line, id_or_none, WHOLE_ROW, reason));
        } else if id.is_empty() {
            summary.rejects.push(RowReject::new(
                line,
                None,
                &spec.id_field,
                "the employee id is empty",
            ));
        } else if let Some(lines) = repeated.get(id.as_bytes()) {
            let reason = format!("employee id {id} appears on lines {}", listed(lines));
            summary
                .rejects
                .push(RowReject::new(line, Some(id), &spec.id_field, reason));
        } else {
            summary.accepted += 1;
            each(ExportRow {
                line,
                record: &record,
                fields: &fields,
                id_column,
            });
        }
    }
    Ok(summary)
}

/// What makes a row well formed.
#[derive(Clone, Copy)]
struct Shape {
    width: usize,
    id_column: usize,
}

/// The first pass: each id found on more than one well-formed row, with its lines.
/// Only ids are kept, as bytes (text was checked once, when decoded).
fn repeated_ids(table: &Table<'_>, shape: Shape) -> Result<HashMap<Box<[u8]>, Vec<u64>>, FileError> {
    let mut reader = table.reader();
    let mut record = ByteRecord::new();
    reader.read_byte_record(&mut record).map_err(csv_error)?; // the header
    let mut first_line: HashMap<Box<[u8]>, u64> = HashMap::new();
    let mut repeated: HashMap<Box<[u8]>, Vec<u64>> = HashMap::new();
    while reader.read_byte_record(&mut record).map_err(csv_error)? {
        // Trimmed as the second pass trims it (Unicode spaces too).
        let id = String::from_utf8_lossy(record.get(shape.id_column).unwrap_or_default());
        let id = id.trim().as_bytes();
        if record.len() != shape.width || id.is_empty() {
            continue;
        }
        let line = table.line_of(record.position());
        match first_line.get(id) {
            None => {
                first_line.insert(id.into(), line);
            }
            Some(&first) => repeated
                .entry(id.into())
                .or_insert_with(|| vec![first])
                .push(line),
        }
    }
    Ok(repeated)
}

/// True when every cell is empty or spaces: a spreadsheet's `,,,,` tail line.
fn is_blank<'c>(mut cells: impl Iterator<Item = &'c str>) -> bool {
    cells.all(|cell| cell.trim().is_empty())
}

/// "10 and 57", "10, 57 and 90".
fn listed(lines: &[u64]) -> String {
    let text: Vec<String> = lines.iter().map(u64::to_string).collect();
    match text.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => text.join(""),
    }
}

#[cfg(test)]
#[path = "export_tests.rs"]
mod tests;
