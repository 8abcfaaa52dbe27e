//! The CSV formats of flat-file mode, as pure functions over bytes: the HRIS's
//! nightly export, the rejects written beside it, the LMS user feed (and the
//! LMS's own user export), and the LMS's completion report. Moving the files
//! (folder, SFTP) and deciding what the rows mean is left to the callers.

mod export;
mod feed;
mod rejects;
mod report;
mod text;

pub use export::{ExportRow, ExportSpec, read_export};
pub use feed::{ACTIVE, FeedLearner, FeedSpec, GROUPS, read_feed, write_feed};
pub use rejects::{RowReject, rejects_csv};
pub use report::{REPORT_FIELDS, ReportRow, ReportSpec, read_report, row_key};

/// What reading a file (an export or a report) found, beside the rows themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadSummary {
    /// Data records seen (rows of nothing but empty cells are not records).
    pub rows: u64,
    pub accepted: u64,
    pub rejects: Vec<RowReject>,
    /// Header columns no mapping names, each once.
    pub unknown_columns: Vec<String>,
    /// Mapped columns the header lacks that the file may do without (one it
    /// must have, as an export's id, refuses the file).
    pub missing_columns: Vec<String>,
    pub delimiter: u8,
    pub encoding: &'static str,
}

/// Why a whole file was refused. Row problems are not errors: they are
/// [`RowReject`]s and the good rows still go through.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The same error with the file's name, added by whoever fetched the bytes.
    #[error("{file}: {source}")]
    In { file: String, source: Box<FileError> },
    #[error("the file is empty: it has no header line")]
    NoHeader,
    #[error("unknown encoding {label:?}: use a label such as utf-8, utf-16le or windows-1252")]
    UnknownEncoding { label: String },
    #[error("line {line}: the bytes are not valid {encoding}")]
    Undecodable { encoding: &'static str, line: u64 },
    #[error("no column is mapped to the field {field:?}, which this file must have")]
    Unmapped { field: String },
    #[error("{field:?} is not a field of this file (expected one of: {expected})")]
    UnknownField { field: String, expected: &'static str },
    #[error("line 1: the header has no column {column:?} (for the field {field:?}); it has: {header}")]
    MissingColumn {
        column: String,
        field: String,
        header: String,
    },
    #[error("line 1: the column {column:?} appears twice in the header (columns {first} and {second})")]
    DuplicateColumn {
        column: String,
        first: usize,
        second: usize,
    },
    #[error("line {line}, column {column:?}: {value:?} is not {expected}")]
    BadValue {
        line: u64,
        column: String,
        value: String,
        expected: String,
    },
    #[error("line {line}: {message}")]
    Csv { line: u64, message: String },
}

impl FileError {
    /// This error, naming the file it was found in.
    pub fn in_file(self, file: impl Into<String>) -> FileError {
        FileError::In {
            file: file.into(),
            source: Box::new(self),
        }
    }
}
