//! Duties that must run once across engines (the poller, the initial load, the
//! LRS reader, the reconciliation schedule, audit checkpoints) are each held by a
//! lease row with a fencing token: taken when free or expired, renewed only with
//! the current token, and the token grows on every takeover, so a write checked
//! against it (`Lease::check`) refuses a holder that lost the duty. Written once
//! over `Sql`: the same statements run on SQLite and PostgreSQL.

use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::sql::{Param, Row, Sql, Transact};
use super::{StoreError, from_micros};

/// A duty this engine holds, as the database granted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub duty: String,
    pub holder: String,
    /// Greater than every token the duty was held with before.
    pub token: i64,
    /// The database's deadline, by its clock.
    pub expires_at: Timestamp,
    /// This engine's own deadline, by its monotonic clock: the lease's time counted
    /// from before it was asked for, so it passes no later than `expires_at`. The
    /// holder stops the duty by then unless a renewal moved it.
    pub held_until: Instant,
}

/// Who holds (or last held) a duty, as `hrsync status` will list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    pub duty: String,
    pub holder: String,
    pub token: i64,
    pub acquired_at: Timestamp,
    pub expires_at: Timestamp,
}

pub(super) fn micros(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX / 2)
}

fn time(row: &dyn Row, column: usize, name: &'static str) -> Result<Timestamp, StoreError> {
    row.int(column)?.map(from_micros).ok_or(StoreError::Corrupt {
        row: 0,
        column: name,
        reason: "a lease time is null".into(),
    })
}

fn token(row: &dyn Row, column: usize) -> Result<i64, StoreError> {
    row.int(column)?.ok_or(StoreError::Corrupt {
        row: 0,
        column: "token",
        reason: "a lease token is null".into(),
    })
}

/// Takes `duty` for `holder` if nobody holds it or its lease expired; `None` if
/// another lease is current (this holder's own included: it renews instead).
pub fn acquire(sql: &dyn Sql, duty: &str, holder: &str, ttl: Duration) -> Result<Option<Lease>, StoreError> {
    let asked = Instant::now();
    // One statement: two engines asking at once are serialised on the row, and
    // the second sees the first's lease, current, and changes nothing.
    let statement = format!(
        "WITH clock AS (SELECT {now} AS now) \
         INSERT INTO leases (duty, holder, token, acquired_at, expires_at) \
         SELECT ?1, ?2, 1, now, now + ?3 FROM clock WHERE true \
         ON CONFLICT (duty) DO UPDATE SET holder = excluded.holder, token = leases.token + 1, \
             acquired_at = excluded.acquired_at, expires_at = excluded.expires_at \
         WHERE leases.expires_at <= excluded.acquired_at \
         RETURNING token, expires_at",
        now = sql.dialect().now_micros()
    );
    let params = [Param::from(duty), Param::from(holder), Param::from(micros(ttl))];
    sql.query_opt(&statement, &params, |row| {
        Ok(Lease {
            duty: duty.to_string(),
            holder: holder.to_string(),
            token: token(row, 0)?,
            expires_at: time(row, 1, "expires_at")?,
            held_until: asked + ttl,
        })
    })
}

/// Moves the lease's deadline to `ttl` from now, if it is still current: the same
/// token, not expired. `None`: the duty is lost, and the holder must stop it.
pub fn renew(sql: &dyn Sql, lease: &Lease, ttl: Duration) -> Result<Option<Lease>, StoreError> {
    let asked = Instant::now();
    let statement = format!(
        "WITH clock AS (SELECT {now} AS now) \
         UPDATE leases SET expires_at = (SELECT now FROM clock) + ?4 \
         WHERE duty = ?1 AND holder = ?2 AND token = ?3 AND expires_at > (SELECT now FROM clock) \
         RETURNING expires_at",
        now = sql.dialect().now_micros()
    );
    let params = [
        Param::from(lease.duty.as_str()),
        Param::from(lease.holder.as_str()),
        Param::from(lease.token),
        Param::from(micros(ttl)),
    ];
    sql.query_opt(&statement, &params, |row| {
        Ok(Lease {
            expires_at: time(row, 0, "expires_at")?,
            held_until: asked + ttl,
            ..lease.clone()
        })
    })
}

/// Lets the duty go now, so another engine need not wait out the lease. False if
/// it was no longer this lease's to let go.
pub fn release(sql: &dyn Sql, lease: &Lease) -> Result<bool, StoreError> {
    let statement = format!(
        "WITH clock AS (SELECT {now} AS now) \
         UPDATE leases SET expires_at = (SELECT now FROM clock) \
         WHERE duty = ?1 AND holder = ?2 AND token = ?3 AND expires_at > (SELECT now FROM clock)",
        now = sql.dialect().now_micros()
    );
    let params = [
        Param::from(lease.duty.as_str()),
        Param::from(lease.holder.as_str()),
        Param::from(lease.token),
    ];
    Ok(sql.execute(&statement, &params)? == 1)
}

/// Ends every current lease. Only for a store one engine holds alone (SQLite,
/// under its lock file), where a current lease can only be a crashed run's: the
/// engine starting takes its duties at once instead of waiting out the lease.
pub fn end_all(sql: &dyn Sql) -> Result<u64, StoreError> {
    let statement = format!(
        "WITH clock AS (SELECT {now} AS now) \
         UPDATE leases SET expires_at = (SELECT now FROM clock) WHERE expires_at > (SELECT now FROM clock)",
        now = sql.dialect().now_micros()
    );
    sql.execute(&statement, &[])
}

/// Every duty's current or last holder, by duty.
pub fn holders(sql: &dyn Sql) -> Result<Vec<LeaseHolder>, StoreError> {
    sql.query_all(
        "SELECT duty, holder, token, acquired_at, expires_at FROM leases ORDER BY duty",
        &[],
        |row| {
            Ok(LeaseHolder {
                duty: row.text(0)?.unwrap_or_default(),
                holder: row.text(1)?.unwrap_or_default(),
                token: token(row, 2)?,
                acquired_at: time(row, 3, "acquired_at")?,
                expires_at: time(row, 4, "expires_at")?,
            })
        },
    )
}

impl Lease {
    /// The fence, for a write made on behalf of the duty, in the write's own
    /// transaction: refused if another engine took the duty over since. On
    /// PostgreSQL the row stays locked to the commit, so no takeover slips in between.
    pub fn check(&self, sql: &dyn Sql) -> Result<(), StoreError> {
        let statement = format!(
            "SELECT token FROM leases WHERE duty = ?1 AND holder = ?2{}",
            sql.dialect().for_share()
        );
        let params = [Param::from(self.duty.as_str()), Param::from(self.holder.as_str())];
        match sql.query_opt(&statement, &params, |row| token(row, 0))? {
            Some(current) if current == self.token => Ok(()),
            _ => Err(StoreError::LeaseLost {
                duty: self.duty.clone(),
                token: self.token,
            }),
        }
    }
}

/// The lease calls on any store, SQLite or PostgreSQL, each one transaction.
pub trait Leases: Transact {
    fn acquire_lease(&self, duty: &str, holder: &str, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        self.write_retrying(|sql| acquire(sql, duty, holder, ttl))
    }

    fn renew_lease(&self, lease: &Lease, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        self.write_retrying(|sql| renew(sql, lease, ttl))
    }

    fn release_lease(&self, lease: &Lease) -> Result<bool, StoreError> {
        self.write_retrying(|sql| release(sql, lease))
    }

    /// See `end_all`: for a store one engine holds alone.
    fn end_leases_of_crashed_runs(&self) -> Result<u64, StoreError> {
        self.write_retrying(end_all)
    }

    fn lease_holders(&self) -> Result<Vec<LeaseHolder>, StoreError> {
        self.read(holders)
    }
}

impl<T: Transact> Leases for T {}
