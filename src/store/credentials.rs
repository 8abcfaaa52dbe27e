//! The credentials ledger: the latest award of each credential per employee,
//! kept in step with the journal (written when a completion is journaled,
//! marked as held by the HRIS when its write-back is applied), read by expiry.
//! Written once over `Sql`, so the same statements run on SQLite and
//! PostgreSQL: `CredentialLedger` offers them on either store, each one
//! transaction; inside a `StoreTx` the same functions run on the wider
//! transaction.

use serde::Serialize;

use super::duplicates::required;
use super::sql::{Param, Sql, Transact};
use super::{StoreError, StoreTx};
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

/// When the kept award of this credential expires (YYYY-MM-DD), if one is kept.
pub fn credential_expires(
    sql: &dyn Sql,
    employee_id: &str,
    name: &str,
) -> Result<Option<String>, StoreError> {
    let found = sql.query_opt(
        "SELECT expires FROM credentials WHERE employee_id = ?1 AND name = ?2",
        &[Param::from(employee_id), Param::from(name)],
        |row| row.text(0),
    )?;
    Ok(found.flatten())
}

/// Keeps this award of the credential, replacing any kept before (not yet in the HRIS).
pub fn record_credential(sql: &dyn Sql, c: &NewCredential<'_>) -> Result<(), StoreError> {
    sql.execute(
        "INSERT INTO credentials (employee_id, name, number, issued, expires, in_hris, event_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6) \
         ON CONFLICT (employee_id, name) DO UPDATE SET number = excluded.number, \
         issued = excluded.issued, expires = excluded.expires, in_hris = 0, event_id = excluded.event_id",
        &[
            Param::from(c.employee_id),
            Param::from(c.name),
            Param::from(c.number),
            Param::from(c.issued),
            Param::from(c.expires),
            Param::from(c.event_id.0),
        ],
    )?;
    Ok(())
}

/// The completion of this event is in the HRIS now: so is its credential.
pub fn credential_in_hris(sql: &dyn Sql, event: EventId) -> Result<(), StoreError> {
    sql.execute(
        "UPDATE credentials SET in_hris = 1 WHERE event_id = ?1",
        &[Param::from(event.0)],
    )?;
    Ok(())
}

/// The band totals, with days given as YYYY-MM-DD (`today` and today + 30/60/90).
pub fn credential_totals(
    sql: &dyn Sql,
    today: &str,
    d30: &str,
    d60: &str,
    d90: &str,
) -> Result<CredentialTotals, StoreError> {
    let statement = format!(
        "SELECT COUNT(*) FILTER (WHERE expires < ?1), \
         COUNT(*) FILTER (WHERE expires >= ?1 AND expires <= ?2), \
         COUNT(*) FILTER (WHERE expires > ?2 AND expires <= ?3), \
         COUNT(*) FILTER (WHERE expires > ?3 AND expires <= ?4), \
         COUNT(*) FILTER (WHERE in_hris = 0) FROM credentials{} WHERE expires <= ?4",
        sql.dialect().indexed_by(" INDEXED BY credentials_expires")
    );
    let params = [today, d30, d60, d90].map(Param::from);
    let totals = sql.query_opt(&statement, &params, |row| {
        let n = |column| Ok::<_, StoreError>(row.int(column)?.unwrap_or_default().max(0) as u64);
        Ok(CredentialTotals {
            expired: n(0)?,
            within_30: n(1)?,
            within_60: n(2)?,
            within_90: n(3)?,
            missing_in_hris: n(4)?,
        })
    })?;
    Ok(totals.unwrap_or_default())
}

/// Credentials expiring on or before `until` (YYYY-MM-DD), soonest first, after
/// the `(expires, employee_id)` of the last row shown, at most `limit`, each with
/// the department the HRIS last sent for its employee.
pub fn credentials_expiring(
    sql: &dyn Sql,
    until: &str,
    after: Option<(&str, &str)>,
    limit: usize,
) -> Result<Vec<CredentialRow>, StoreError> {
    let dialect = sql.dialect();
    let department = dialect.json_text("e.payload", &["fields", "department"]);
    let statement = format!(
        "SELECT c.employee_id, c.name, c.number, c.issued, c.expires, c.in_hris, c.event_id, \
         (SELECT {department} FROM events e WHERE e.id IN ({ids}) AND e.direction = 'hris_to_lms' \
          AND {department} IS NOT NULL ORDER BY e.id DESC LIMIT 1) \
         FROM credentials c WHERE c.expires <= ?1 AND (c.expires, c.employee_id) > (?2, ?3) \
         ORDER BY c.expires, c.employee_id, c.name LIMIT ?4",
        ids = super::journal::employee_event_ids(dialect, "c.employee_id")
    );
    let (after_expires, after_employee) = after.unwrap_or(("", ""));
    let params = [
        Param::from(until),
        Param::from(after_expires),
        Param::from(after_employee),
        Param::from(limit as i64),
    ];
    sql.query_all(&statement, &params, |row| {
        let text = |column| required(row.text(column)?, "credentials", column);
        Ok(CredentialRow {
            employee_id: text(0)?,
            name: text(1)?,
            number: row.text(2)?,
            issued: text(3)?,
            expires: text(4)?,
            in_hris: row.int(5)? != Some(0),
            event_id: EventId(required(row.int(6)?, "credentials", 6)?),
            department: row.text(7)?,
        })
    })
}

/// The ledger's calls on any store, SQLite or PostgreSQL, each one transaction.
/// On SQLite, `StoreTx` and `Store` offer the same calls under the same names,
/// inside a wider transaction and on a reader.
pub trait CredentialLedger: Transact {
    fn credential_expires(&self, employee_id: &str, name: &str) -> Result<Option<String>, StoreError> {
        self.read(|sql| credential_expires(sql, employee_id, name))
    }

    fn record_credential(&self, c: &NewCredential<'_>) -> Result<(), StoreError> {
        self.write_retrying(|sql| record_credential(sql, c))
    }

    fn credential_in_hris(&self, event: EventId) -> Result<(), StoreError> {
        self.write_retrying(|sql| credential_in_hris(sql, event))
    }

    fn credential_totals(
        &self,
        today: &str,
        d30: &str,
        d60: &str,
        d90: &str,
    ) -> Result<CredentialTotals, StoreError> {
        self.read(|sql| credential_totals(sql, today, d30, d60, d90))
    }

    fn credentials_expiring(
        &self,
        until: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<CredentialRow>, StoreError> {
        self.read(|sql| credentials_expiring(sql, until, after, limit))
    }
}

impl<T: Transact> CredentialLedger for T {}

impl StoreTx<'_> {
    /// When the kept award of this credential expires (YYYY-MM-DD), if one is kept.
    pub fn credential_expires(&self, employee_id: &str, name: &str) -> Result<Option<String>, StoreError> {
        credential_expires(self.sql(), employee_id, name)
    }

    /// Keeps this award of the credential, replacing any kept before (not yet in the HRIS).
    pub fn record_credential(&self, c: &NewCredential<'_>) -> Result<(), StoreError> {
        record_credential(self.sql(), c)
    }

    /// The completion of this event is in the HRIS now: so is its credential.
    pub fn credential_in_hris(&self, event: EventId) -> Result<(), StoreError> {
        credential_in_hris(self.sql(), event)
    }
}
