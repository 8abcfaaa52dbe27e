//! Flat files: what became of each HRIS export the engine looked at, and how a
//! completion report's columns are read.

use jiff::Timestamp;
use serde::Serialize;

named_enum!(
    /// What became of an export file.
    FileState {
        /// Compared with the one before and journaled.
        Taken => "taken",
        /// Not taken, for the reason recorded (stale, unreadable): it never will be.
        Refused => "refused",
        /// Many fewer rows than the one before: waits whole for an operator.
        Held => "held",
        /// An operator let a held file through: it is taken at the next look.
        Confirmed => "confirmed",
    }
);

/// The word a stale file's refusal starts with (`stale: exported … but …`).
pub const STALE: &str = "stale";

/// How an export compared with the one taken before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FileCounts {
    /// Data rows in the file.
    pub rows: u64,
    /// Rows refused (malformed, duplicate id, failing the contract).
    pub rejected: u64,
    pub inserted: u64,
    pub updated: u64,
    /// Employees of the last export absent from this one: deactivated, never deleted.
    pub missing: u64,
    pub unchanged: u64,
}

/// One export file as the store records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportFile {
    pub id: i64,
    pub name: String,
    /// SHA-256 of the content, hex: the same name with the same content is one file.
    pub sha256: String,
    pub size: u64,
    /// The file's own time: when the HRIS exported it.
    pub modified: Timestamp,
    /// When the engine last decided about it.
    pub decided_at: Timestamp,
    pub state: FileState,
    /// Why it was refused or held (or who confirmed it, and why).
    pub reason: Option<String>,
    pub counts: FileCounts,
}

impl ExportFile {
    /// Refused as older than the last export taken (a late copy of an old one).
    pub fn is_stale(&self) -> bool {
        self.state == FileState::Refused
            && self
                .reason
                .as_deref()
                .and_then(|r| r.strip_prefix(STALE))
                .is_some_and(|rest| rest.starts_with(':'))
    }
}

/// The fields a completion report's column can map to (the contract's
/// `[writeback.report_columns]`); the first [`REPORT_REQUIRED`] every report must have.
pub const REPORT_FIELDS: [&str; 8] = [
    "employee_id",
    "course_id",
    "completed_at",
    "score",
    "passed",
    "credential_name",
    "credential_number",
    "credential_expires",
];
/// How many of [`REPORT_FIELDS`], from the first, a report must map.
pub const REPORT_REQUIRED: usize = 3;

/// How a completion report's rows become xAPI-shaped statements, as the contract
/// says: the column of each field, and where the write-back looks for what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportShape {
    /// (header, field), the field one of [`REPORT_FIELDS`].
    pub columns: Vec<(String, String)>,
    /// The actor account's home page the write-back expects, if it checks one.
    pub account_home_page: Option<String>,
    /// The extension a credential is carried in.
    pub credential_extension: String,
}
