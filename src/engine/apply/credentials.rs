//! The credentials the write-back has seen, with their expiry and whether the
//! HRIS holds them, read from the journal (the LMS → HRIS events) through the
//! contract; and the same completions as rows for a CSV export.

use jiff::civil::Date;
use serde::Serialize;

use crate::contract::Contract;
use crate::contract::writeback::{Completion, StatementMapping, map_statement};
use crate::model::{Direction, EventId, EventStatus};
use crate::store::csv_cells::CsvCells;
use crate::store::{CredentialLedger, CredentialRow, EventFilter, NewCredential, Store, StoreError, StoreTx};

/// Which award of a credential is kept: the one expiring last (a tie goes to the
/// newer award). Dates are YYYY-MM-DD, so their text orders as the dates do.
pub fn keeps_new_award(kept_expires: Option<&str>, new_expires: &str) -> bool {
    kept_expires.is_none_or(|kept| new_expires >= kept)
}

/// Records the credential a journaled completion awarded, if `keeps_new_award` says so.
pub fn record_award(tx: &StoreTx<'_>, award: &NewCredential<'_>) -> Result<(), StoreError> {
    let kept = tx.credential_expires(award.employee_id, award.name)?;
    if keeps_new_award(kept.as_deref(), award.expires) {
        tx.record_credential(award)?;
    }
    Ok(())
}

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
    /// `expired`, `30`, `60` or `90`: the band it falls in (`later` beyond).
    pub band: &'static str,
    pub in_hris: bool,
    pub event_id: EventId,
}

impl CredentialStatus {
    pub fn from_row(row: CredentialRow, today: Date) -> Option<CredentialStatus> {
        let issued: Date = row.issued.parse().ok()?;
        let expires: Date = row.expires.parse().ok()?;
        let days_left = (expires - today).get_days();
        Some(CredentialStatus {
            employee_id: row.employee_id,
            department: row.department,
            name: row.name,
            number: row.number,
            issued,
            expires,
            days_left,
            band: band(days_left),
            in_hris: row.in_hris,
            event_id: row.event_id,
        })
    }
}

/// The 30 / 60 / 90-day band a credential falls in.
pub fn band(days_left: i32) -> &'static str {
    match days_left {
        ..0 => "expired",
        0..=30 => "30",
        31..=60 => "60",
        61..=90 => "90",
        _ => "later",
    }
}

/// Credentials expiring within `days` of `today` (expired ones included), the
/// latest award of each credential per employee, soonest first.
pub fn expiring(store: &Store, today: Date, days: i32) -> Result<Vec<CredentialStatus>, StoreError> {
    let until = (today + jiff::Span::new().days(i64::from(days))).to_string();
    let mut found = Vec::new();
    let mut after: Option<(String, String)> = None;
    loop {
        let page = store.credentials_expiring(
            &until,
            after.as_ref().map(|(e, id)| (e.as_str(), id.as_str())),
            PAGE,
        )?;
        let Some(last) = page.last() else { break };
        after = Some((last.expires.clone(), last.employee_id.clone()));
        let full = page.len() == PAGE;
        found.extend(
            page.into_iter()
                .filter_map(|row| CredentialStatus::from_row(row, today)),
        );
        if !full {
            break;
        }
    }
    Ok(found)
}

/// The first `limit` credentials expiring within 90 days (expired included),
/// soonest first, and the band totals, for the console's credentials view.
pub fn overview(
    store: &Store,
    today: Date,
    limit: usize,
) -> Result<(Vec<CredentialStatus>, crate::store::CredentialTotals), StoreError> {
    let day = |n: i64| (today + jiff::Span::new().days(n)).to_string();
    let totals = store.credential_totals(&today.to_string(), &day(30), &day(60), &day(90))?;
    let rows = store
        .credentials_expiring(&day(90), None, limit)?
        .into_iter()
        .filter_map(|row| CredentialStatus::from_row(row, today))
        .collect();
    Ok((rows, totals))
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

/// Writes the completions on or after `since` as CSV (RFC 4180, UTF-8), each cell
/// as `cells` says; `looked_at(n, total)` after each completion looked at (a progress bar).
pub fn export_completions(
    store: &Store,
    contract: &Contract,
    since: Date,
    cells: CsvCells,
    out: impl std::io::Write,
    looked_at: &dyn Fn(u64, u64),
) -> Result<usize, ExportError> {
    let mut writer = csv::Writer::from_writer(out);
    cells.write_record(&mut writer, COMPLETIONS_CSV_HEADER)?;
    let number = |n: Option<f64>| n.map(|n| n.to_string()).unwrap_or_default();
    let mut rows = 0;
    let all = journaled_completions(store, contract)?;
    let total = all.len() as u64;
    for (n, journaled) in all.into_iter().enumerate() {
        looked_at(n as u64 + 1, total);
        let c = &journaled.completion;
        if c.completed < since {
            continue;
        }
        let credential = c.credential.as_ref();
        cells.write_record(
            &mut writer,
            [
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
            ],
        )?;
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

#[cfg(test)]
mod tests {
    use super::keeps_new_award;

    #[test]
    fn the_award_expiring_last_is_kept_and_a_tie_goes_to_the_newer() {
        assert!(keeps_new_award(None, "2026-01-01"));
        assert!(keeps_new_award(Some("2025-06-30"), "2026-01-01"));
        assert!(keeps_new_award(Some("2026-01-01"), "2026-01-01"));
        assert!(!keeps_new_award(Some("2027-01-01"), "2026-01-01"));
    }
}
