//! Completions from the LMS's completion reports (`[lrs] kind = "csv"`), as a
//! completion source: each report taken from the inbox (as HRIS exports are) is a
//! page of xAPI-shaped statements, one per good row, whose id is the row's
//! [`row_key`], so the write-back path takes them exactly as it takes an LRS's.
//! A report moves to `processed/`, and its rejects to the outbox, only once its
//! statements are journaled.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};

use super::ConnectorError;
use super::csv_files::{ReportRow, ReportSpec, RowReject, read_report, row_key};
use super::inbox::{self, Arriving, Inbox, InboxEntry, PROCESSED};
use super::lrs::StatementPage;
use super::roles::CompletionSource;
use crate::model::connections::Arrivals;
use crate::model::files::ReportShape;

/// The report shape in force (the contract's), or `None` when nothing is written back.
pub type ShapeOf = Arc<dyn Fn() -> Option<ReportShape> + Send + Sync>;

const VERBS: &str = "http://adlnet.gov/expapi/verbs/";
/// Where a statement says which report line it came from, for the operator.
pub const REPORT_EXTENSION: &str = "https://hrsync.dev/xapi/extensions/report";

/// The reports in one inbox.
pub struct ReportFiles {
    arrivals: Arrivals,
    shape: ShapeOf,
    state: tokio::sync::Mutex<State>,
}

struct State {
    inbox: Option<Arc<dyn Inbox>>,
    arriving: Arriving,
    /// Reports still to be read in this read, each a page.
    queue: VecDeque<Queued>,
    /// What reading each report handed out found, until it is journaled.
    found: HashMap<String, Found>,
}

struct Queued {
    /// Its path in the inbox (`processed/…` for a report taken before).
    path: String,
    entry: InboxEntry,
    /// Whether it waits in the inbox, to be moved away once journaled.
    arriving: bool,
}

/// A report read: its rejected rows, or why it could not be read at all.
struct Found {
    rejects: Vec<RowReject>,
    refused: Option<String>,
}

impl std::fmt::Debug for ReportFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportFiles")
            .field("inbox", &self.arrivals.inbox)
            .finish_non_exhaustive()
    }
}

impl ReportFiles {
    pub fn new(arrivals: Arrivals, shape: ShapeOf) -> ReportFiles {
        ReportFiles {
            state: tokio::sync::Mutex::new(State {
                inbox: None,
                arriving: Arriving::new(arrivals.clone()),
                queue: VecDeque::new(),
                found: HashMap::new(),
            }),
            arrivals,
            shape,
        }
    }

    async fn inbox(&self, state: &mut State) -> Result<Arc<dyn Inbox>, ConnectorError> {
        if let Some(inbox) = &state.inbox {
            return Ok(inbox.clone());
        }
        let opened = inbox::open(&self.arrivals.inbox, &self.arrivals.sftp).await?;
        state.inbox = Some(opened.clone());
        Ok(opened)
    }

    /// The next queued report as a page, `more` naming the one after it.
    async fn next_page(&self, state: &mut State) -> Result<StatementPage, ConnectorError> {
        let mut page = StatementPage {
            statements: Vec::new(),
            more: None,
            consistent_through: None,
            files: Vec::new(),
        };
        let Some(queued) = state.queue.pop_front() else {
            return Ok(page);
        };
        page.more = state.queue.front().map(|next| next.path.clone());
        let inbox = self.inbox(state).await?;
        let bytes = inbox.read(&queued.path).await?;
        let shape = (self.shape)().ok_or_else(|| {
            ConnectorError::permanent(
                "the contract has no [writeback] section, so completion reports are not read".to_string(),
            )
        })?;
        let name = queued.entry.name.clone();
        let spec = ReportSpec {
            columns: shape.columns.clone(),
        };
        let mut statements = Vec::new();
        let found = match read_report(&bytes, &spec, |row| {
            statements.push(statement(&row, &shape, &name, queued.entry.modified));
        }) {
            Ok(summary) => {
                if !summary.unknown_columns.is_empty() {
                    tracing::info!(report = %name, columns = ?summary.unknown_columns, "completion report columns not in [writeback.report_columns], ignored");
                }
                Found {
                    rejects: summary.rejects,
                    refused: None,
                }
            }
            Err(error) => Found {
                rejects: Vec::new(),
                refused: Some(error.in_file(&name).to_string()),
            },
        };
        page.statements = statements;
        if queued.arriving {
            state.found.insert(name.clone(), found);
            page.files.push(name);
        }
        Ok(page)
    }
}

#[async_trait::async_trait]
impl CompletionSource for ReportFiles {
    /// The reports that have settled in the inbox, oldest first, a page each;
    /// with no `since` (everything), the reports taken before too.
    async fn stored_since(
        &self,
        since: Option<Timestamp>,
        _limit: usize,
    ) -> Result<StatementPage, ConnectorError> {
        let mut state = self.state.lock().await;
        let inbox = self.inbox(&mut state).await?;
        let mut queue = VecDeque::new();
        if since.is_none() {
            let mut taken = inbox.list(PROCESSED).await.unwrap_or_default();
            taken.sort_by(|a, b| (a.modified, &a.name).cmp(&(b.modified, &b.name)));
            queue.extend(taken.into_iter().map(|entry| Queued {
                path: format!("{PROCESSED}/{}", entry.name),
                entry,
                arriving: false,
            }));
        }
        let ready = state.arriving.ready(inbox.as_ref()).await?;
        queue.extend(ready.into_iter().map(|entry| Queued {
            path: entry.name.clone(),
            entry,
            arriving: true,
        }));
        state.queue = queue;
        self.next_page(&mut state).await
    }

    async fn more(&self, more: &str) -> Result<StatementPage, ConnectorError> {
        let mut state = self.state.lock().await;
        if state.queue.front().is_none_or(|next| next.path != more) {
            return Err(ConnectorError::permanent(format!(
                "completion report {more:?} is not the next one to read"
            )));
        }
        self.next_page(&mut state).await
    }

    /// Writes each report's rejects to the outbox and moves it to `processed/`
    /// (`refused/` when it could not be read at all).
    async fn journaled(&self, files: &[String]) -> Result<(), ConnectorError> {
        let mut state = self.state.lock().await;
        let inbox = self.inbox(&mut state).await?;
        let store_error = |error: inbox::OutboxError| ConnectorError::permanent(error.to_string());
        for name in files {
            let Some(found) = state.found.remove(name) else {
                continue;
            };
            if let Some(why) = &found.refused {
                tracing::warn!(report = %name, "completion report refused: {why}");
                let reject = RowReject::new(0, None, "(file)", why.clone());
                state
                    .arriving
                    .write_rejects(name, &[reject])
                    .map_err(store_error)?;
            } else if !found.rejects.is_empty() {
                tracing::warn!(report = %name, rejected = found.rejects.len(), "completion report rows rejected");
                state
                    .arriving
                    .write_rejects(name, &found.rejects)
                    .map_err(store_error)?;
            }
            state
                .arriving
                .move_away(inbox.as_ref(), name, found.refused.is_some())
                .await?;
            state.arriving.decided(name);
        }
        state.arriving.forget_old(inbox.as_ref()).await
    }
}

/// One report row as the xAPI statement an LRS would hold for it: the actor's
/// account is the employee, the object the course, `passed`/`failed` (or
/// `completed` when the report gives no outcome) the verb, the credential in the
/// contract's extension (issued on the day of the completion, UTC).
pub fn statement(row: &ReportRow, shape: &ReportShape, file: &str, stored: Timestamp) -> Value {
    let verb = match row.passed {
        Some(true) => "passed",
        Some(false) => "failed",
        None => "completed",
    };
    let mut account = json!({ "name": row.employee_id });
    if let Some(home) = &shape.account_home_page {
        account["homePage"] = json!(home);
    }
    let mut result = json!({ "completion": true });
    if let Some(passed) = row.passed {
        result["success"] = json!(passed);
    }
    if let Some(score) = row.score {
        result["score"] = json!({ "raw": score });
    }
    let mut extensions = Map::new();
    extensions.insert(
        REPORT_EXTENSION.to_string(),
        json!({ "file": file, "line": row.line }),
    );
    if let Some((name, number, expires)) = &row.credential {
        let issued = row.completed_at.to_zoned(TimeZone::UTC).date();
        let mut credential = json!({ "name": name, "issued": issued.to_string() });
        if let Some(number) = number {
            credential["number"] = json!(number);
        }
        if let Some(expires) = expires {
            credential["expires"] = json!(expires.to_string());
        }
        extensions.insert(shape.credential_extension.clone(), credential);
    }
    json!({
        "id": row_key(row),
        "actor": { "objectType": "Agent", "account": account },
        "verb": { "id": format!("{VERBS}{verb}"), "display": { "en-US": verb } },
        "object": { "objectType": "Activity", "id": row.course_id },
        "result": result,
        "context": { "extensions": extensions },
        "timestamp": row.completed_at.to_string(),
        "stored": stored.to_string(),
    })
}

#[cfg(test)]
#[path = "csv_completions_tests.rs"]
mod tests;
