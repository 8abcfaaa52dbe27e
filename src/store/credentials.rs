//! The credentials ledger: the latest award of each credential per employee,
//! kept in step with the journal (written when a completion is journaled,
//! marked as held by the HRIS when its write-back is applied), read by expiry.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Store, StoreError, StoreTx};
use crate::model::EventId;

/// A credential as the journal has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CredentialRow {
    pub employee_id: String,
    pub name: String,
    pub number: Option<String>,
    /// YYYY-MM-DD.
    pub issued: String,
    /// YYYY-MM-DD.
    pub expires: String,
    /// The HRIS holds it (written by us, or found there already).
    pub in_hris: bool,
    pub event_id: EventId,
    /// The employee's department as the HRIS last sent it.
    pub department: Option<String>,
}

/// A credential awarded by a journaled completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCredential<'a> {
    pub employee_id: &'a str,
    pub name: &'a str,
    pub number: Option<&'a str>,
    pub issued: &'a str,
    pub expires: &'a str,
    pub event_id: EventId,
}

impl StoreTx<'_> {
    /// When the kept award of this credential expires (YYYY-MM-DD), if one is kept.
    pub fn credential_expires(&self, employee_id: &str, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT expires FROM credentials WHERE employee_id = ?1 AND name = ?2")?
            .query_row(params![employee_id, name], |r| r.get(0))
            .optional()?)
    }

    /// Keeps this award of the credential, replacing any kept before (not yet in the HRIS).
    pub fn record_credential(&self, c: &NewCredential<'_>) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO credentials (employee_id, name, number, issued, expires, in_hris, event_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6) \
                 ON CONFLICT (employee_id, name) DO UPDATE SET number = excluded.number, \
                 issued = excluded.issued, expires = excluded.expires, in_hris = 0, event_id = excluded.event_id",
            )?
            .execute(params![c.employee_id, c.name, c.number, c.issued, c.expires, c.event_id.0])?;
        Ok(())
    }

    /// The completion of this event is in the HRIS now: so is its credential.
    pub fn credential_in_hris(&self, event: EventId) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE credentials SET in_hris = 1 WHERE event_id = ?1")?
            .execute([event.0])?;
        Ok(())
    }
}

/// How many credentials fall in each band, and how many of those the HRIS lacks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CredentialTotals {
    pub expired: u64,
    pub within_30: u64,
    pub within_60: u64,
    pub within_90: u64,
    /// Expired or expiring within 90 days, and not in the HRIS.
    pub missing_in_hris: u64,
}

impl Store {
    /// The band totals, with days given as YYYY-MM-DD (`today` and today + 30/60/90).
    pub fn credential_totals(
        &self,
        today: &str,
        d30: &str,
        d60: &str,
        d90: &str,
    ) -> Result<CredentialTotals, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT COALESCE(SUM(expires < ?1), 0), COALESCE(SUM(expires >= ?1 AND expires <= ?2), 0), \
             COALESCE(SUM(expires > ?2 AND expires <= ?3), 0), COALESCE(SUM(expires > ?3 AND expires <= ?4), 0), \
             COALESCE(SUM(in_hris = 0), 0) FROM credentials INDEXED BY credentials_expires WHERE expires <= ?4",
        )?;
        let totals = stmt.query_row(params![today, d30, d60, d90], |r| {
            Ok(CredentialTotals {
                expired: r.get::<_, i64>(0)? as u64,
                within_30: r.get::<_, i64>(1)? as u64,
                within_60: r.get::<_, i64>(2)? as u64,
                within_90: r.get::<_, i64>(3)? as u64,
                missing_in_hris: r.get::<_, i64>(4)? as u64,
            })
        })?;
        Ok(totals)
    }

    /// Credentials expiring on or before `until` (YYYY-MM-DD), soonest first, after
    /// the `(expires, employee_id)` of the last row shown, at most `limit`.
    pub fn credentials_expiring(
        &self,
        until: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<CredentialRow>, StoreError> {
        let conn = self.reader()?;
        let (after_expires, after_employee) = after.unwrap_or(("", ""));
        let mut stmt = conn.prepare_cached(
            "SELECT c.employee_id, c.name, c.number, c.issued, c.expires, c.in_hris, c.event_id, \
             (SELECT json_extract(e.payload, '$.fields.department') FROM events e INDEXED BY events_employee \
              WHERE e.employee_id = c.employee_id AND e.direction = 'hris_to_lms' \
              AND json_extract(e.payload, '$.fields.department') IS NOT NULL ORDER BY e.id DESC LIMIT 1) \
             FROM credentials c WHERE c.expires <= ?1 AND (c.expires, c.employee_id) > (?2, ?3) \
             ORDER BY c.expires, c.employee_id, c.name LIMIT ?4",
        )?;
        let rows = stmt.query_map(params![until, after_expires, after_employee, limit as i64], |r| {
            Ok(CredentialRow {
                employee_id: r.get(0)?,
                name: r.get(1)?,
                number: r.get(2)?,
                issued: r.get(3)?,
                expires: r.get(4)?,
                in_hris: r.get::<_, i64>(5)? != 0,
                event_id: EventId(r.get(6)?),
                department: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
