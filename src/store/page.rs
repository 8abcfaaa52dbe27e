//! One keyset page of a table, newest first: rows below a key, optional
//! equality filters and a free-text match, shared by the events and audit panes.

use rusqlite::types::Value;
use rusqlite::{Connection, Row};

use super::StoreError;

pub(super) struct PageQuery {
    key_column: &'static str,
    conditions: Vec<String>,
    bound: Vec<Value>,
}

impl PageQuery {
    /// Rows whose `key_column` is below `before` (all rows for `None`), at most `limit`.
    pub fn below(key_column: &'static str, before: Option<i64>, limit: usize) -> Self {
        Self {
            key_column,
            conditions: vec![format!("{key_column} < ?1")],
            bound: vec![
                Value::Integer(before.unwrap_or(i64::MAX)),
                Value::Integer(limit as i64),
            ],
        }
    }

    /// Keeps rows whose `column` equals `value`, when there is a value.
    pub fn equal(&mut self, column: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.bound.push(Value::Text(value.to_string()));
            self.conditions.push(format!("{column} = ?{}", self.bound.len()));
        }
    }

    /// Keeps rows where any of `columns` contains `text` (ASCII case-insensitive).
    pub fn contains_text(&mut self, columns: &[&str], text: Option<&str>) {
        let Some(text) = text else { return };
        // Escaped, so `%` and `_` in the operator's text match themselves.
        let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        self.bound.push(Value::Text(format!("%{escaped}%")));
        let n = self.bound.len();
        let any: Vec<String> = columns
            .iter()
            .map(|c| format!("{c} LIKE ?{n} ESCAPE '\\'"))
            .collect();
        self.conditions.push(format!("({})", any.join(" OR ")));
    }

    /// Runs `SELECT {columns} FROM {table}` with the filters, newest first.
    pub fn run<T>(
        self,
        conn: &Connection,
        columns: &str,
        table: &str,
        from_row: fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let sql = format!(
            "SELECT {columns} FROM {table} WHERE {} ORDER BY {} DESC LIMIT ?2",
            self.conditions.join(" AND "),
            self.key_column
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(self.bound.iter()), from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
