//! The LMS user feed, for LMSs that import users from CSV (Docebo, Cornerstone,
//! Moodle's upload): a full snapshot of the desired learners, deactivated ones
//! included. `read_feed` reads it back, and reads the LMS's own user export with
//! the same spec, which is what reconciliation compares with.
//!
//! Cells are written as they are, not formula-guarded: the reader is the LMS's
//! importer, not a spreadsheet, and importers keep a leading `'` as part of the
//! value, so a guard would rename a learner called "-Dash" to "'-Dash" in the LMS
//! and every reconciliation would then see drift. The rejects, which people open,
//! are guarded.

use std::borrow::Cow;
use std::collections::BTreeMap;

use csv::StringRecord;

use super::FileError;
use super::text::{Columns, Table, csv_error, read_header};

/// The attribute written as the active word.
pub const ACTIVE: &str = "active";
/// The attribute written as the group names, joined by the separator.
pub const GROUPS: &str = "groups";

/// The feed's columns and words (`[lms.columns]` and its options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedSpec {
    /// (header, learner attribute), in file order; the first is the sort key.
    pub columns: Vec<(String, String)>,
    /// The cell for an active and an inactive learner, e.g. ("1", "0").
    pub active_words: (String, String),
    /// Joins group names in the groups column, e.g. "|".
    pub group_separator: String,
}

impl FeedSpec {
    /// These columns, with the default words ("1", "0") and separator "|".
    pub fn new(columns: Vec<(String, String)>) -> FeedSpec {
        FeedSpec {
            columns,
            active_words: ("1".into(), "0".into()),
            group_separator: "|".into(),
        }
    }
}

/// One learner as the feed holds it. An empty value and a missing one are the
/// same in a feed (both an empty cell), so `values` holds non-empty ones only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedLearner {
    /// Attribute → value, for every column but `active` and `groups`.
    pub values: BTreeMap<String, String>,
    /// True when the feed has no active column.
    pub active: bool,
    /// In the order given. A name containing the separator cannot be written
    /// (the importer would split it): the configuration check refuses such names.
    pub groups: Vec<String>,
}

/// The feed: the header, then one row per learner, sorted by the first column
/// (ties keep the given order): UTF-8 without a BOM (which naive importers
/// take into the first header name), CRLF line ends as RFC 4180 says.
pub fn write_feed(spec: &FeedSpec, learners: &[FeedLearner]) -> Vec<u8> {
    let mut rows: Vec<Vec<Cow<'_, str>>> = learners.iter().map(|learner| cells(spec, learner)).collect();
    rows.sort_by(|a, b| a.first().cmp(&b.first()));
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let memory = "writing CSV to memory cannot fail";
    writer
        .write_record(spec.columns.iter().map(|(header, _)| header))
        .expect(memory);
    for row in &rows {
        writer
            .write_record(row.iter().map(|cell| cell.as_bytes()))
            .expect(memory);
    }
    writer.into_inner().expect(memory)
}

fn cells<'l>(spec: &'l FeedSpec, learner: &'l FeedLearner) -> Vec<Cow<'l, str>> {
    let cell = |attribute: &str| -> Cow<'l, str> {
        match attribute {
            ACTIVE if learner.active => Cow::Borrowed(&spec.active_words.0),
            ACTIVE => Cow::Borrowed(&spec.active_words.1),
            GROUPS => Cow::Owned(learner.groups.join(&spec.group_separator)),
            _ => Cow::Borrowed(learner.values.get(attribute).map_or("", String::as_str)),
        }
    };
    spec.columns
        .iter()
        .map(|(_, attribute)| cell(attribute))
        .collect()
}

/// The learners of a feed, or of the LMS's own user export, in file order. Every
/// spec column must be in the header (others are ignored); encoding and delimiter
/// are detected. A row of the wrong length or an unknown active word refuses the
/// file: a partial list would read as learners gone missing.
pub fn read_feed(bytes: &[u8], spec: &FeedSpec) -> Result<Vec<FeedLearner>, FileError> {
    let table = Table::open(bytes, None, None)?;
    let mut reader = table.reader();
    let header = read_header(&mut reader)?;
    let columns = Columns::locate(&header, spec.columns.iter().map(|(column, _)| column.as_str()))?;
    let mut at = Vec::with_capacity(spec.columns.len());
    for ((column, attribute), found) in spec.columns.iter().zip(&columns.found) {
        at.push((
            column.as_str(),
            attribute.as_str(),
            found.ok_or_else(|| columns.missing(column, attribute))?,
        ));
    }
    let mut learners = Vec::new();
    let mut record = StringRecord::new();
    while reader.read_record(&mut record).map_err(csv_error)? {
        if record.iter().all(str::is_empty) {
            continue;
        }
        let line = table.line_of(record.position());
        if record.len() != columns.width {
            return Err(FileError::Csv {
                line,
                message: format!(
                    "has {} fields where the header has {}",
                    record.len(),
                    columns.width
                ),
            });
        }
        let mut learner = FeedLearner {
            values: BTreeMap::new(),
            active: true,
            groups: Vec::new(),
        };
        for &(column, attribute, index) in &at {
            let cell = &record[index];
            match attribute {
                ACTIVE => {
                    learner.active = active(spec, cell).ok_or_else(|| FileError::BadValue {
                        line,
                        column: column.to_string(),
                        value: cell.to_string(),
                        expected: format!("{:?} or {:?}", spec.active_words.0, spec.active_words.1),
                    })?
                }
                GROUPS => {
                    learner.groups = cell
                        .split(spec.group_separator.as_str())
                        .filter(|group| !group.is_empty())
                        .map(str::to_string)
                        .collect();
                }
                _ if cell.is_empty() => {}
                _ => {
                    learner.values.insert(attribute.to_string(), cell.to_string());
                }
            }
        }
        learners.push(learner);
    }
    Ok(learners)
}

/// The active word read back: trimmed and without regard to case, since an
/// LMS's own export may write "Active" where the feed wrote "active".
fn active(spec: &FeedSpec, cell: &str) -> Option<bool> {
    let cell = cell.trim().to_lowercase();
    let is = |word: &str| cell == word.trim().to_lowercase();
    if is(&spec.active_words.0) {
        Some(true)
    } else if is(&spec.active_words.1) {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
#[path = "feed_tests.rs"]
mod tests;
