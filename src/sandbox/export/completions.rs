//! The LMS's completion report: one row per completed or passed xAPI statement
//! the LRS holds, as an LMS without an xAPI feed exports it.

use std::path::Path;

use jiff::Timestamp;
use serde_json::Value;

use super::draft::Draft;
use super::{CHUNK, ExportError, Written, encoded, encoder};
use crate::sandbox::Shared;
use crate::sandbox::xapi::CREDENTIAL_EXTENSION;
use crate::sandbox::xapi::completions::{VERB_COMPLETED, VERB_PASSED};

/// The report's headers, in file order.
pub const REPORT_COLUMNS: &[&str] = &[
    "Employee ID",
    "Course ID",
    "Completed At",
    "Score",
    "Result",
    "Credential",
    "Credential Number",
    "Credential Expires",
];

/// Writes every completion and pass in the LRS to `dir` as
/// `completions-YYYYMMDD-HHMMSS.csv`. Course ID is the course IRI; Completed At
/// the statement's timestamp; Score the raw score (empty when unscored);
/// Result "Completed" or "Passed". A statement whose actor has no account (so
/// no employee id) is left out.
pub fn write_completions_report(shared: &Shared, dir: &Path, now: Timestamp) -> Result<Written, ExportError> {
    let end = shared.lrs.read().statement_count();
    let mut draft = Draft::create(dir, "completions").map_err(ExportError::io(dir))?;
    let mut header = encoder();
    header
        .write_record(REPORT_COLUMNS)
        .map_err(|error| ExportError::io(dir)(error.into()))?;
    let header = encoded(header).map_err(ExportError::io(dir))?;
    draft.append(&header).map_err(ExportError::io(dir))?;
    let mut rows = 0;
    for start in (0..end).step_by(CHUNK) {
        let mut chunk = encoder();
        {
            let lrs = shared.lrs.read();
            let completions = lrs
                .stored_range(start..(start + CHUNK).min(end))
                .filter(|(verb, _)| *verb == VERB_COMPLETED || *verb == VERB_PASSED);
            for (verb, json) in completions {
                let Some(row) = report_row(verb, json) else {
                    continue;
                };
                chunk
                    .write_record(&row)
                    .map_err(|error| ExportError::io(dir)(error.into()))?;
                rows += 1;
            }
        }
        let bytes = encoded(chunk).map_err(ExportError::io(dir))?;
        draft.append(&bytes).map_err(ExportError::io(dir))?;
    }
    let path = draft.publish("completions", now).map_err(ExportError::io(dir))?;
    Ok(Written {
        path,
        rows,
        bad_rows: Vec::new(),
    })
}

/// One statement's report row, or `None` when it names no employee.
fn report_row(verb: &str, json: &str) -> Option<[String; 8]> {
    let statement: Value = serde_json::from_str(json).ok()?;
    let text = |pointer: &str| {
        statement
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let employee_id = text("/actor/account/name");
    if employee_id.is_empty() {
        return None;
    }
    let score = statement
        .pointer("/result/score/raw")
        .map(Value::to_string)
        .unwrap_or_default();
    let result = if verb == VERB_PASSED {
        "Passed"
    } else {
        "Completed"
    };
    let credential = ["/result/extensions", "/context/extensions"]
        .iter()
        .find_map(|at| statement.pointer(at)?.get(CREDENTIAL_EXTENSION));
    let credential_text = |key: &str| {
        credential
            .and_then(|c| c.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Some([
        employee_id,
        text("/object/id"),
        text("/timestamp"),
        score,
        result.to_string(),
        credential_text("name"),
        credential_text("number"),
        credential_text("expires"),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pass_with_a_credential_in_the_context_fills_every_column() {
        let statement = json!({
            "actor": {"account": {"homePage": "https://hris.acme.example", "name": "42"}},
            "verb": {"id": VERB_PASSED},
            "object": {"id": "https://lms.example.com/courses/first-aid"},
            "result": {"score": {"raw": 88}},
            "context": {"extensions": {CREDENTIAL_EXTENSION: {
                "name": "First Aid", "number": "FA-000123", "expires": "2027-01-31"}}},
            "timestamp": "2026-01-31T09:00:00.000Z",
        });
        let row = report_row(VERB_PASSED, &statement.to_string()).unwrap();
        assert_eq!(
            row,
            [
                "42",
                "https://lms.example.com/courses/first-aid",
                "2026-01-31T09:00:00.000Z",
                "88",
                "Passed",
                "First Aid",
                "FA-000123",
                "2027-01-31"
            ]
        );
    }

    #[test]
    fn a_statement_about_an_mbox_names_no_employee_and_makes_no_row() {
        let statement = json!({"actor": {"mbox": "mailto:a@example.com"}, "verb": {"id": VERB_COMPLETED}});
        assert!(report_row(VERB_COMPLETED, &statement.to_string()).is_none());
    }
}
