//! One keyset page of a table, in either direction from a key: optional equality
//! filters and a free-text match, shared by every paged list of events and audit.
//! Written over `Sql`: the key is an integer (an id, a sequence number), so a page
//! runs in the same order on both databases, and a match ignores ASCII case on
//! both (`Dialect::like_any_case`).

use super::StoreError;
use super::sql::{Dialect, Param, Row, Sql};

/// Which way a page runs from its key. Pages always come back newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toward {
    /// Rows below the key (None: from the newest).
    Older,
    /// Rows above the key (None: from the oldest).
    Newer,
}

/// A value bound to a page's statement, kept until it runs.
enum Bound {
    Text(String),
    Int(i64),
}

/// A `WHERE` clause with its bound values, built from a filter, spelled for `dialect`.
pub(super) struct PageQuery {
    dialect: Dialect,
    conditions: Vec<String>,
    bound: Vec<Bound>,
}

impl PageQuery {
    pub fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            conditions: Vec::new(),
            bound: Vec::new(),
        }
    }

    /// Keeps rows whose `column` equals `value`, when there is a value.
    pub fn equal(&mut self, column: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.bound.push(Bound::Text(value.to_string()));
            self.conditions.push(format!("{column} = ?{}", self.bound.len()));
        }
    }

    /// Keeps rows that meet the condition `sql` makes of `value` bound as its
    /// parameter (`?n`), when there is a value.
    pub fn bound_condition(&mut self, value: Option<&str>, sql: impl FnOnce(&str) -> String) {
        if let Some(value) = value {
            self.bound.push(Bound::Text(value.to_string()));
            let condition = sql(&format!("?{}", self.bound.len()));
            self.conditions.push(format!("({condition})"));
        }
    }

    /// Keeps rows that meet `sql`, a condition of hrsync's own (never outside text).
    pub fn condition(&mut self, sql: &'static str) {
        self.conditions.push(format!("({sql})"));
    }

    /// Keeps rows where any of `columns` contains `text` (ASCII case-insensitive);
    /// an empty text keeps every row.
    pub fn contains_text(&mut self, columns: &[&str], text: Option<&str>) {
        let Some(text) = text.filter(|t| !t.is_empty()) else {
            return;
        };
        self.bound.push(Bound::Text(containing(text)));
        let (n, like) = (self.bound.len(), self.dialect.like_any_case());
        let any: Vec<String> = columns
            .iter()
            .map(|c| format!("{c} {like} ?{n} ESCAPE '\\'"))
            .collect();
        self.conditions.push(format!("({})", any.join(" OR ")));
    }

    /// Keeps rows whose `column` starts with `prefix` (ASCII case-insensitive).
    pub fn starts_with(&mut self, column: &str, prefix: &str) {
        self.bound.push(Bound::Text(starting(prefix)));
        let like = self.dialect.like_any_case();
        self.conditions
            .push(format!("{column} {like} ?{} ESCAPE '\\'", self.bound.len()));
    }

    /// Runs `SELECT {columns} FROM {table}` with the filters, at most `limit` rows
    /// from `from` toward `toward`, and returns them newest first.
    pub fn run<T>(
        mut self,
        sql: &dyn Sql,
        (columns, table, key): (&str, &str, &str),
        (from, toward): (Option<i64>, Toward),
        limit: usize,
        from_row: fn(&dyn Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let (op, order, start) = match toward {
            Toward::Older => ("<", "DESC", from.unwrap_or(i64::MAX)),
            Toward::Newer => (">", "ASC", from.unwrap_or(0)),
        };
        self.bound.push(Bound::Int(start));
        self.conditions.push(format!("{key} {op} ?{}", self.bound.len()));
        self.bound.push(Bound::Int(limit as i64));
        let statement = format!(
            "SELECT {columns} FROM {table} WHERE {} ORDER BY {key} {order} LIMIT ?{}",
            self.conditions.join(" AND "),
            self.bound.len()
        );
        let params: Vec<Param<'_>> = (self.bound.iter())
            .map(|bound| match bound {
                Bound::Text(text) => Param::from(text.as_str()),
                Bound::Int(n) => Param::from(*n),
            })
            .collect();
        let mut rows = sql.query_all(&statement, &params, from_row)?;
        if toward == Toward::Newer {
            rows.reverse();
        }
        Ok(rows)
    }
}

/// A LIKE pattern (with `ESCAPE '\\'`) for rows containing `text`.
pub(super) fn containing(text: &str) -> String {
    format!("%{}%", escape_like(text))
}

/// A LIKE pattern (with `ESCAPE '\\'`) for rows starting with `prefix`.
pub(super) fn starting(prefix: &str) -> String {
    format!("{}%", escape_like(prefix))
}

/// Escaped for LIKE, so `%` and `_` in the operator's text match themselves.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
