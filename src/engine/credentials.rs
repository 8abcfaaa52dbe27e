//! The credentials the write-back has seen, with their expiry and whether the
//! HRIS holds them, read from the journal (the LMS → HRIS events) through the
//! contract; and the same completions as rows for a CSV export.

use jiff::civil::Date;
use serde::Serialize;

use crate::contract::Contract;
use crate::contract::writeback::{Completion, StatementMapping, map_statement};
use crate::model::{Direction, EventId, EventStatus};
use crate::store::{EventFilter, Store, StoreError};

/// Events read per page while walking the journal.
const PAGE: usize = 1000;

/// One completion as the journal holds it.
#[derive(Debug, Clone)]
pub struct JournaledCompletion {
    pub event_id: EventId,
    pub status: EventStatus,
    pub completion: Completion,
}

impl JournaledCompletion {
    /// The HRIS holds it: written by us, or found there already.
    pub fn in_hris(&self) -> bool {
        matches!(self.status, EventStatus::Applied | EventStatus::Unchanged)
    }
}

/// Every completion in the journal the contract maps, oldest first.
pub fn journaled_completions(
    store: &Store,
    contract: &Contract,
) -> Result<Vec<JournaledCompletion>, StoreError> {
    let Some(writeback) = contract.writeback.as_ref() else {
        return Ok(Vec::new());
    };
    let filter = EventFilter {
        direction: Some(Direction::LmsToHris),
        ..Default::default()
    };
    let mut found = Vec::new();
    let mut before = None;
    loop {
        let page = store.events_page(&filter, before, PAGE)?;
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        for summary in page {
            let Some(detail) = store.event(summary.id)? else {
                continue;
            };
            if let Ok(StatementMapping::Completion(completion)) =
                map_statement(contract, writeback, &detail.event.payload)
            {
                found.push(JournaledCompletion {
                    event_id: summary.id,
                    status: summary.status,
                    completion: *completion,
                });
            }
        }
    }
    found.reverse();
    Ok(found)
}

/// A credential and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CredentialStatus {
    pub employee_id: String,
    pub department: Option<String>,
    pub name: String,
    pub number: Option<String>,
    pub issued: Date,
    pub expires: Date,
    /// Negative once expired.
    pub days_left: i32,
    /// `expired`, `30`, `60` or `90`: the band it falls in.
    pub band: &'static str,
    pub in_hris: bool,
    pub event_id: EventId,
}

/// Credentials expiring within `days` of `today` (expired ones included), the
/// latest award of each credential per employee, soonest first.
pub fn expiring(
    store: &Store,
    contract: &Contract,
    today: Date,
    days: i32,
) -> Result<Vec<CredentialStatus>, StoreError> {
    let mut latest: std::collections::BTreeMap<(String, String), JournaledCompletion> = Default::default();
    for journaled in journaled_completions(store, contract)? {
        let Some(credential) = &journaled.completion.credential else {
            continue;
        };
        if credential.expires.is_none() {
            continue;
        }
        let key = (journaled.completion.employee_id.clone(), credential.name.clone());
        let newer = latest.get(&key).is_none_or(|held| {
            held.completion.credential.as_ref().and_then(|c| c.expires) <= credential.expires
        });
        if newer {
            latest.insert(key, journaled);
        }
    }
    let mut statuses = Vec::new();
    for ((employee_id, _), journaled) in latest {
        let credential = journaled
            .completion
            .credential
            .as_ref()
            .expect("kept only with one");
        let expires = credential.expires.expect("kept only with an expiry");
        let days_left = (expires - today).get_days();
        if days_left > days {
            continue;
        }
        let band = match days_left {
            ..0 => "expired",
            0..=30 => "30",
            31..=60 => "60",
            _ => "90",
        };
        statuses.push(CredentialStatus {
            department: department_of(store, &employee_id)?,
            employee_id,
            name: credential.name.clone(),
            number: credential.number.clone(),
            issued: credential.issued,
            expires,
            days_left,
            band,
            in_hris: journaled.in_hris(),
            event_id: journaled.event_id,
        });
    }
    statuses.sort_by(|a, b| (a.expires, &a.employee_id).cmp(&(b.expires, &b.employee_id)));
    Ok(statuses)
}

/// The employee's department as the HRIS last sent it.
fn department_of(store: &Store, employee_id: &str) -> Result<Option<String>, StoreError> {
    let filter = EventFilter {
        direction: Some(Direction::HrisToLms),
        employee_id: Some(employee_id.to_string()),
        ..Default::default()
    };
    for summary in store.events_page(&filter, None, 5)? {
        if let Some(detail) = store.event(summary.id)?
            && let Some(department) = detail
                .event
                .payload
                .pointer("/fields/department")
                .and_then(|d| d.as_str())
        {
            return Ok(Some(department.to_string()));
        }
    }
    Ok(None)
}

/// The columns of `hrsync export completions`, in their fixed order.
pub const COMPLETIONS_CSV_HEADER: [&str; 17] = [
    "employee_id",
    "completed",
    "course_iri",
    "course_name",
    "training_type",
    "verb",
    "success",
    "score_raw",
    "score_scaled",
    "hours",
    "credits",
    "credential_name",
    "credential_number",
    "credential_issued",
    "credential_expires",
    "statement_id",
    "in_hris",
];

/// Writes the completions on or after `since` as CSV (RFC 4180, UTF-8).
pub fn export_completions(
    store: &Store,
    contract: &Contract,
    since: Date,
    out: impl std::io::Write,
) -> Result<usize, ExportError> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(COMPLETIONS_CSV_HEADER)?;
    let number = |n: Option<f64>| n.map(|n| n.to_string()).unwrap_or_default();
    let mut rows = 0;
    for journaled in journaled_completions(store, contract)? {
        let c = &journaled.completion;
        if c.completed < since {
            continue;
        }
        let credential = c.credential.as_ref();
        writer.write_record([
            c.employee_id.clone(),
            c.completed.to_string(),
            c.course_iri.clone(),
            c.course_name.clone().unwrap_or_default(),
            c.training_type.to_string(),
            c.verb.clone(),
            c.success.map(|s| s.to_string()).unwrap_or_default(),
            number(c.score_raw),
            number(c.score_scaled),
            number(c.hours),
            number(c.credits),
            credential.map(|k| k.name.clone()).unwrap_or_default(),
            credential.and_then(|k| k.number.clone()).unwrap_or_default(),
            credential.map(|k| k.issued.to_string()).unwrap_or_default(),
            credential
                .and_then(|k| k.expires)
                .map(|e| e.to_string())
                .unwrap_or_default(),
            c.statement_id.clone(),
            journaled.in_hris().to_string(),
        ])?;
        rows += 1;
    }
    writer.flush().map_err(csv::Error::from)?;
    Ok(rows)
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the CSV: {0}")]
    Csv(#[from] csv::Error),
}
