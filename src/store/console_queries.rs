//! Pages for the console's scrolling lists, in both directions from a key, so a
//! view of a million-event journal moves by one small indexed page at a time.

use rusqlite::types::Value;
use rusqlite::{Connection, Row};

use super::audit::{AUDIT_COLUMNS, entry_from_row};
use super::queries::{EVENT_COLUMNS, event_from_row};
use super::{AuditFilter, EventFilter, Store, StoreError};
use crate::model::{AuditEntry, Event, EventId};

/// Which way a page runs from its key. Pages always come back newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toward {
    /// Rows below the key (None: from the newest).
    Older,
    /// Rows above the key (None: from the oldest).
    Newer,
}

/// A `WHERE` clause with its bound values, built from a filter.
struct Conditions {
    sql: Vec<String>,
    bound: Vec<Value>,
}

impl Conditions {
    fn new() -> Self {
        Self {
            sql: Vec::new(),
            bound: Vec::new(),
        }
    }

    fn equal(&mut self, column: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.bound.push(Value::Text(value.to_string()));
            self.sql.push(format!("{column} = ?{}", self.bound.len()));
        }
    }

    /// Same escaping as the store's pages: `%` and `_` match themselves.
    fn contains_text(&mut self, columns: &[&str], text: Option<&str>) {
        let Some(text) = text.filter(|t| !t.is_empty()) else {
            return;
        };
        let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        self.bound.push(Value::Text(format!("%{escaped}%")));
        let n = self.bound.len();
        let any: Vec<String> = columns
            .iter()
            .map(|c| format!("{c} LIKE ?{n} ESCAPE '\\'"))
            .collect();
        self.sql.push(format!("({})", any.join(" OR ")));
    }

    /// Runs the page from `from` toward `toward`, and returns it newest first.
    fn page<T>(
        mut self,
        conn: &Connection,
        (columns, table, key): (&str, &str, &str),
        from: Option<i64>,
        toward: Toward,
        limit: usize,
        from_row: fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let (op, order, start) = match toward {
            Toward::Older => ("<", "DESC", from.unwrap_or(i64::MAX)),
            Toward::Newer => (">", "ASC", from.unwrap_or(0)),
        };
        self.bound.push(Value::Integer(start));
        self.sql.push(format!("{key} {op} ?{}", self.bound.len()));
        self.bound.push(Value::Integer(limit as i64));
        let sql = format!(
            "SELECT {columns} FROM {table} WHERE {} ORDER BY {key} {order} LIMIT ?{}",
            self.sql.join(" AND "),
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

impl Store {
    /// A page of events (with payloads) from `from`, newest first.
    pub fn events_window(
        &self,
        filter: &EventFilter,
        from: Option<EventId>,
        toward: Toward,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let mut conditions = Conditions::new();
        conditions.equal("direction", filter.direction.map(|d| d.as_str()));
        conditions.equal("status", filter.status.map(|s| s.as_str()));
        conditions.equal("employee_id", filter.employee_id.as_deref());
        conditions.contains_text(
            &["employee_id", "kind", "last_error", "payload"],
            filter.text.as_deref(),
        );
        conditions.page(
            &*self.reader()?,
            (EVENT_COLUMNS, "events", "id"),
            from.map(|id| id.0),
            toward,
            limit,
            event_from_row,
        )
    }

    /// A page of the audit log from `from` (a sequence number), newest first.
    pub fn audit_window(
        &self,
        filter: &AuditFilter,
        from: Option<u64>,
        toward: Toward,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut conditions = Conditions::new();
        conditions.equal("employee_id", filter.employee_id.as_deref());
        conditions.equal("actor", filter.actor.as_deref());
        conditions.equal("action", filter.action.as_deref());
        conditions.contains_text(
            &[
                "subject",
                "reason",
                "before",
                "after",
                "employee_id",
                "action",
                "actor",
            ],
            filter.text.as_deref(),
        );
        conditions.page(
            &*self.reader()?,
            (AUDIT_COLUMNS, "audit", "seq"),
            from.map(|s| s as i64),
            toward,
            limit,
            entry_from_row,
        )
    }
}
