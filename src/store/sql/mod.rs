//! One store function, two databases: the few calls every store function needs
//! (`Sql`), the SQL differences between SQLite and PostgreSQL (`Dialect`), and a
//! backend for each (`sqlite`, `postgres`). A function written over `&dyn Sql`
//! runs unchanged on both; see docs/architecture.md, "The store on two backends".

mod conflict;
pub mod postgres;
pub mod sqlite;

use std::borrow::Cow;

use super::StoreError;
pub use conflict::{CONFLICT_RETRIES, is_conflict};

/// A value bound to a statement. Typed even when null: PostgreSQL checks a
/// parameter's type against the column's, null or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param<'a> {
    Int(Option<i64>),
    Text(Option<&'a str>),
    /// A blob on SQLite, `BYTEA` on PostgreSQL.
    Bytes(Option<&'a [u8]>),
}

impl From<i64> for Param<'_> {
    fn from(value: i64) -> Self {
        Param::Int(Some(value))
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(value: Option<i64>) -> Self {
        Param::Int(value)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(value: &'a str) -> Self {
        Param::Text(Some(value))
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(value: Option<&'a str>) -> Self {
        Param::Text(value)
    }
}

impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(value: &'a [u8]) -> Self {
        Param::Bytes(Some(value))
    }
}

/// A binary cell as read: its bytes (a blob, `BYTEA`), or its text where SQLite
/// kept text in the column (it keeps any value in any column: rows written
/// before the column held bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bytes {
    Blob(Vec<u8>),
    Text(String),
}

/// One row of a result, read by column index (from 0).
pub trait Row {
    fn int(&self, column: usize) -> Result<Option<i64>, StoreError>;
    fn text(&self, column: usize) -> Result<Option<String>, StoreError>;
    /// A binary column's cell (see `Bytes`).
    fn bytes(&self, column: usize) -> Result<Option<Bytes>, StoreError>;
}

impl dyn Row + '_ {
    /// A cell of a `NOT NULL` column; null is a damaged row, said with `column`'s name.
    pub fn int_of(&self, column: usize, name: &'static str) -> Result<i64, StoreError> {
        self.int(column)?.ok_or_else(|| null_cell(name))
    }

    /// See `int_of`.
    pub fn text_of(&self, column: usize, name: &'static str) -> Result<String, StoreError> {
        self.text(column)?.ok_or_else(|| null_cell(name))
    }
}

fn null_cell(column: &'static str) -> StoreError {
    StoreError::Corrupt {
        row: 0,
        column,
        reason: "null in a NOT NULL column".into(),
    }
}

/// A connection inside one transaction, on either backend. Statements are
/// written once, in SQLite's spelling with numbered parameters (`?1`); the
/// backend rewrites what its database spells differently (`Dialect::translate`).
pub trait Sql {
    fn dialect(&self) -> Dialect;
    /// Runs a statement; returns the rows it changed.
    fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, StoreError>;
    /// Runs a query, handing each row to `each` in order, as it comes (none
    /// held beyond it); `each` runs no statement on this `Sql` itself.
    fn query(
        &self,
        sql: &str,
        params: &[Param<'_>],
        each: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// Prepares a statement once, to run it for each row of a batch: no lookup of
    /// its text per row (SQLite keeps it in the connection's cache afterwards).
    fn prepare<'s>(&'s self, sql: &str) -> Result<Box<dyn Prepared + 's>, StoreError>;
}

/// A statement prepared in one transaction (`Sql::prepare`), run as often as needed.
pub trait Prepared {
    /// Runs it; returns the rows it changed.
    fn execute(&mut self, params: &[Param<'_>]) -> Result<u64, StoreError>;
    /// Runs it as a query, handing each row to `each` in order.
    fn query(
        &mut self,
        params: &[Param<'_>],
        each: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

impl dyn Prepared + '_ {
    /// The first row's value, if there is a row.
    pub fn query_opt<T>(
        &mut self,
        params: &[Param<'_>],
        read: impl Fn(&dyn Row) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let mut found = None;
        self.query(params, &mut |row| {
            if found.is_none() {
                found = Some(read(row)?);
            }
            Ok(())
        })?;
        Ok(found)
    }
}

/// A store that runs functions written over `Sql`: the SQLite `Store` and `PgStore`.
pub trait Transact {
    /// Runs `work` in one write transaction: it commits if `work` returns Ok, else
    /// nothing of it stays.
    fn write<T: Send>(
        &self,
        work: impl FnOnce(&dyn Sql) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError>;

    /// Runs `work` on a consistent view of the store, writing nothing.
    fn read<T: Send>(
        &self,
        work: impl FnOnce(&dyn Sql) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError>;

    /// Runs `work` in one write transaction as `write` does, and again from the
    /// start when the database gave it up for another engine's transaction
    /// (`conflict::is_conflict`: nothing of it stayed), at most `CONFLICT_RETRIES` more
    /// times after a short jittered wait; then answers the error. Several engines
    /// meet such conflicts in the normal course; SQLite's one writer never does.
    fn write_retrying<T: Send>(
        &self,
        work: impl Fn(&dyn Sql) -> Result<T, StoreError> + Send + Sync,
    ) -> Result<T, StoreError> {
        use backon::BlockingRetryable;
        (|| self.write(&work))
            .retry(conflict::backoff())
            .sleep(std::thread::sleep)
            .when(is_conflict)
            .call()
    }
}

impl dyn Sql + '_ {
    /// The first row's value, if there is a row.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        read: impl Fn(&dyn Row) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let mut found = None;
        self.query(sql, params, &mut |row| {
            if found.is_none() {
                found = Some(read(row)?);
            }
            Ok(())
        })?;
        Ok(found)
    }

    /// Every row's value.
    pub fn query_all<T>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        read: impl Fn(&dyn Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut all = Vec::new();
        self.query(sql, params, &mut |row| {
            all.push(read(row)?);
            Ok(())
        })?;
        Ok(all)
    }
}

/// The database's clock now, in whole microseconds since the epoch: what a
/// transaction on several engines stamps its rows with (`Dialect::now_micros`).
pub fn clock(sql: &dyn Sql) -> Result<i64, StoreError> {
    let statement = format!("SELECT {}", sql.dialect().now_micros());
    let now = sql.query_opt(&statement, &[], |row| row.int(0))?;
    Ok(now.flatten().unwrap_or_default())
}

/// What differs between the two databases' SQL, in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The database's clock now, as whole microseconds since the epoch (how the
    /// store keeps times). Several engines read one clock: the server's, not theirs.
    pub fn now_micros(self) -> &'static str {
        match self {
            Dialect::Sqlite => "CAST(unixepoch('now', 'subsec') * 1000000 AS INTEGER)",
            Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)",
        }
    }

    /// Appended to a `SELECT` that must keep the rows it read as they are until the
    /// transaction ends. SQLite needs nothing: its one writer already excludes the rest.
    pub fn for_share(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR SHARE",
        }
    }

    /// Appended to a `SELECT` of a row this transaction will change: on PostgreSQL
    /// another transaction that asks for it waits for this one to end, then reads
    /// what it left. SQLite's one writer already excludes the rest.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// Appended to a `SELECT` of rows this transaction will claim: on PostgreSQL
    /// each row it answers stays locked to the commit and rows another engine holds
    /// are passed over, not waited for. SQLite's one writer needs neither.
    pub fn for_update_skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// `clause` (an ` INDEXED BY index` after a table's name) on SQLite, whose
    /// planner is told which partial index serves a query; PostgreSQL has no such
    /// clause and chooses for itself.
    pub fn indexed_by(self, clause: &'static str) -> &'static str {
        match self {
            Dialect::Sqlite => clause,
            Dialect::Postgres => "",
        }
    }

    /// The operator that matches a `LIKE` pattern in any case, as SQLite's `LIKE`
    /// does (for ASCII); PostgreSQL's `LIKE` minds case, its `ILIKE` does not.
    pub fn like_any_case(self) -> &'static str {
        match self {
            Dialect::Sqlite => "LIKE",
            Dialect::Postgres => "ILIKE",
        }
    }

    /// A statement that holds the lock named by its text parameter `?1` until the
    /// transaction ends, for rows that do not exist yet (an employee's next event);
    /// none on SQLite, whose one writer already excludes the rest. A lock of the
    /// transaction, not the session, so connection poolers keep it.
    pub fn transaction_lock(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("SELECT pg_advisory_xact_lock(hashtextextended(?1, 0))"),
        }
    }

    /// As `transaction_lock`, a share of the lock: transactions sharing it do not
    /// wait for each other, only for one holding it alone (`transaction_lock`).
    pub fn transaction_lock_shared(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some("SELECT pg_advisory_xact_lock_shared(hashtextextended(?1, 0))"),
        }
    }

    /// The text at `path` (keys from the root, none with a quote, comma or dot)
    /// in the JSON text of `column`, null where absent.
    pub fn json_text(self, column: &str, path: &[&str]) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{}')", path.join(".")),
            Dialect::Postgres => format!("({column}::jsonb #>> '{{{}}}')", path.join(",")),
        }
    }

    /// The JSON at `path` (keys, outermost first) inside the text column `column`,
    /// null where there is none: to test with `IS NULL` or to put in `json_object`.
    pub fn json_at(self, column: &str, path: &[&str]) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{}')", path.join(".")),
            Dialect::Postgres => format!("({column}::jsonb #> '{{{}}}')", path.join(",")),
        }
    }

    /// A JSON object of `(key, value)` pairs, each value an SQL expression: text
    /// becomes a JSON string, `json_at` and `json_object` stay JSON. It may be
    /// stored in a text column as it is. Keys and paths are the code's own names,
    /// put in quotes as they are.
    pub fn json_object(self, pairs: &[(&str, &str)]) -> String {
        let pairs: Vec<String> = (pairs.iter())
            .map(|(key, value)| format!("'{key}', {value}"))
            .collect();
        match self {
            Dialect::Sqlite => format!("json_object({})", pairs.join(", ")),
            Dialect::Postgres => format!("jsonb_build_object({})", pairs.join(", ")),
        }
    }

    /// Whether the database takes back by itself the room rows leave when an
    /// `UPDATE` shrinks them or a `DELETE` removes them: PostgreSQL's autovacuum
    /// does. SQLite leaves a shrunk row's page as big, and keeps freed pages in the
    /// file until `PRAGMA incremental_vacuum` gives them back (`store/retention.rs`).
    pub fn reclaims_room(self) -> bool {
        match self {
            Dialect::Sqlite => false,
            Dialect::Postgres => true,
        }
    }

    /// A statement in SQLite's spelling, spelled for this database: PostgreSQL
    /// numbers its parameters `$1`, not `?1`. Quoted text, identifiers and `--`
    /// comments are left alone.
    pub fn translate(self, sql: &str) -> Cow<'_, str> {
        if self == Dialect::Sqlite || !sql.contains('?') {
            return Cow::Borrowed(sql);
        }
        let mut out = String::with_capacity(sql.len());
        // Inside quoted text or an identifier (its closing quote), or a `--` comment ('\n').
        let mut until: Option<char> = None;
        let mut chars = sql.chars().peekable();
        while let Some(c) = chars.next() {
            match until {
                Some(end) if c == end => until = None,
                Some(_) => {}
                None if c == '\'' || c == '"' => until = Some(c),
                None if c == '-' && chars.peek() == Some(&'-') => until = Some('\n'),
                None if c == '?' => {
                    out.push('$');
                    continue;
                }
                None => {}
            }
            out.push(c);
        }
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_numbers_parameters_with_a_dollar_outside_quotes() {
        let sql = "SELECT a FROM t WHERE b = ?1 AND c = '?2' AND \"d?\" = ?12";
        assert_eq!(
            Dialect::Postgres.translate(sql),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND \"d?\" = $12"
        );
        assert_eq!(Dialect::Sqlite.translate(sql), sql);
    }

    #[test]
    fn json_is_spelled_for_each_database() {
        let department = |dialect: Dialect| {
            dialect.json_object(&[(
                "department",
                &dialect.json_at("payload", &["fields", "department"]),
            )])
        };
        assert_eq!(
            department(Dialect::Sqlite),
            "json_object('department', json_extract(payload, '$.fields.department'))"
        );
        assert_eq!(
            department(Dialect::Postgres),
            "jsonb_build_object('department', (payload::jsonb #> '{fields,department}'))"
        );
    }

    #[test]
    fn a_comment_is_left_alone_apostrophes_and_all() {
        let sql = "SELECT 1 -- the engine's ?1\nWHERE x = ?1";
        assert_eq!(
            Dialect::Postgres.translate(sql),
            "SELECT 1 -- the engine's ?1\nWHERE x = $1"
        );
    }

    #[test]
    fn a_doubled_quote_inside_text_stays_text() {
        let sql = "SELECT 'it''s ?1' WHERE x = ?1";
        assert_eq!(Dialect::Postgres.translate(sql), "SELECT 'it''s ?1' WHERE x = $1");
    }
}
