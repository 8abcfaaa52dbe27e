//! One keyset page of a table, in either direction from a key: optional equality
//! filters and a free-text match, shared by every paged list of events and audit.

use rusqlite::types::Value;
use rusqlite::{Connection, Row};

use super::StoreError;

/// Which way a page runs from its key. Pages always come back newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toward {
    /// Rows below the key (None: from the newest).
    Older,
    /// Rows above the key (None: from the oldest).
    Newer,
}

/// A `WHERE` clause with its bound values, built from a filter.
pub(super) struct PageQuery {
    conditions: Vec<String>,
    bound: Vec<Value>,
}

impl PageQuery {
    pub fn new() -> Self {
        Self {
            conditions: Vec::new(),
            bound: Vec::new(),
        }
    }

    /// Keeps rows whose `column` equals `value`, when there is a value.
    pub fn equal(&mut self, column: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.bound.push(Value::Text(value.to_string()));
            self.conditions.push(format!("{column} = ?{}", self.bound.len()));
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
        self.bound.push(Value::Text(containing(text)));
        let n = self.bound.len();
        let any: Vec<String> = columns
            .iter()
            .map(|c| format!("{c} LIKE ?{n} ESCAPE '\\'"))
            .collect();
        self.conditions.push(format!("({})", any.join(" OR ")));
    }

    /// Keeps rows whose `column` starts with `prefix` (ASCII case-insensitive).
    pub fn starts_with(&mut self, column: &str, prefix: &str) {
        let escaped = escape_like(prefix);
        self.bound.push(Value::Text(format!("{escaped}%")));
        self.conditions
            .push(format!("{column} LIKE ?{} ESCAPE '\\'", self.bound.len()));
    }

    /// Runs `SELECT {columns} FROM {table}` with the filters, at most `limit` rows
    /// from `from` toward `toward`, and returns them newest first.
    pub fn run<T>(
        mut self,
        conn: &Connection,
        (columns, table, key): (&str, &str, &str),
        (from, toward): (Option<i64>, Toward),
        limit: usize,
        from_row: fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let (op, order, start) = match toward {
            Toward::Older => ("<", "DESC", from.unwrap_or(i64::MAX)),
            Toward::Newer => (">", "ASC", from.unwrap_or(0)),
        };
        self.bound.push(Value::Integer(start));
        self.conditions.push(format!("{key} {op} ?{}", self.bound.len()));
        self.bound.push(Value::Integer(limit as i64));
        let sql = format!(
            "SELECT {columns} FROM {table} WHERE {} ORDER BY {key} {order} LIMIT ?{}",
            self.conditions.join(" AND "),
            self.bound.len()
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(self.bound.iter()), from_row)?;
        let mut rows: Vec<T> = rows.collect::<Result<_, _>>()?;
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

/// Escaped for LIKE, so `%` and `_` in the operator's text match themselves.
fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
