//! Nightly-style flat files, as Workday or ADP drop them on an SFTP server: the
//! HRIS's current employees and the LMS's completion report, each a CSV with a
//! BOM and CRLF, published under its final name only when whole, then marked done.

mod completions;
mod draft;
mod hris;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::Shared;

pub use completions::{REPORT_COLUMNS, write_completions_report};
pub use hris::{EXPORT_COLUMNS, ExportKind, UNMAPPED_COLUMNS, write_hris_export};

/// How often `--export-dir` writes when `--export-every` is not given: nightly.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(86_400);

/// Employees or statements encoded per lock hold, so a million-row export
/// never stops the HRIS or LRS from answering for long.
const CHUNK: usize = 2_000;

/// One file written: where, and how many data rows it holds.
#[derive(Clone, Debug, Serialize)]
pub struct Written {
    pub path: PathBuf,
    pub rows: usize,
    /// The rows a malformed export damaged on purpose (empty otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bad_rows: Vec<BadRow>,
}

/// A row damaged on purpose, as the product's rejects file should name it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct BadRow {
    /// The row's first physical line in the file (the header is line 1).
    pub line: u64,
    pub employee_id: String,
    pub problem: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("writing an export in {dir}: {source}")]
    Io { dir: PathBuf, source: std::io::Error },
    #[error("a malformed export damages three different rows, and the HRIS has {0} current employees")]
    TooFewForMalformed(usize),
}

impl ExportError {
    fn io(dir: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
        move |source| ExportError::Io {
            dir: dir.to_path_buf(),
            source,
        }
    }
}

/// What the nightly run writes: a full HRIS export and the completion report.
pub fn write_nightly(shared: &Shared, dir: &Path, now: Timestamp) -> Result<[Written; 2], ExportError> {
    let employees = write_hris_export(shared, dir, ExportKind::Full, now)?;
    let completions = write_completions_report(shared, dir, now)?;
    Ok([employees, completions])
}

/// Writes the nightly files now and then every `every` until `cancel` fires.
pub async fn run(shared: Arc<Shared>, dir: PathBuf, every: Duration, cancel: CancellationToken) {
    loop {
        let (shared, dir) = (shared.clone(), dir.clone());
        let work = tokio::task::spawn_blocking(move || write_nightly(&shared, &dir, Timestamp::now()));
        match work.await {
            Ok(Ok([employees, completions])) => tracing::info!(
                employees = %employees.path.display(),
                employee_rows = employees.rows,
                completions = %completions.path.display(),
                completion_rows = completions.rows,
                "nightly export written"
            ),
            Ok(Err(error)) => tracing::warn!(%error, "the nightly export failed"),
            Err(error) => tracing::error!(%error, "the nightly export task failed"),
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// A CSV encoder for one chunk of rows: CRLF line ends, any field count (a
/// malformed export writes a short row on purpose).
fn encoder() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .flexible(true)
        .has_headers(false)
        .from_writer(Vec::new())
}

/// The bytes a chunk encoder holds.
fn encoded(encoder: csv::Writer<Vec<u8>>) -> std::io::Result<Vec<u8>> {
    encoder.into_inner().map_err(|error| error.into_error())
}
