//! The completions source (flow 2): reads the LRS's statements stored since the
//! cursor (less an overlap, since real LRSs compare `since` with other times
//! than `stored` or make statements visible late), page by page; journals each
//! one the contract writes back (or refuses, with its reasons). A statement
//! read twice is a duplicate by its idempotency key. The cursor moves when the
//! whole read is journaled, never past the LRS's consistent-through time; a
//! source of files (completion reports) moves its files away only then.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::connectors::ConnectorError;
use crate::connectors::roles::{CompletionSource, stored_at};
use crate::contract::Contract;
use crate::contract::writeback::{StatementMapping, actor_employee, map_statement, verb_name};
use crate::model::{Direction, NewEvent, Source};
use crate::store::{Appended, Lease, NewCredential, Store, StoreError};

/// The stored time of the last statement journaled.
pub const LRS_CURSOR: &str = "lrs.stored";
/// Statements asked for per page.
const PAGE: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("reading completions: {0}")]
    Connector(#[from] ConnectorError),
    #[error("reading completions: {0}")]
    Store(#[from] StoreError),
}

/// What one read of the LRS found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadSummary {
    pub statements: usize,
    /// Journaled for the first time.
    pub new: usize,
    /// Already journaled (the same completion reported again).
    pub duplicates: usize,
    /// Journaled as refused (a course with no training type, no employee id, ...).
    pub refused: usize,
    /// Not written back by the contract (another verb, a failed attempt).
    pub ignored: usize,
}

/// Reads everything stored since the cursor. Each page is journaled with the
/// cursor in one transaction before the next page (fetched meanwhile) is journaled.
/// The cursor moves only while `fence` (the LRS reader's lease) is held.
pub async fn read_once(
    store: &Store,
    contract: &Contract,
    lrs: &dyn CompletionSource,
    overlap: Duration,
    fence: Option<&Lease>,
) -> Result<ReadSummary, ReadError> {
    let mut summary = ReadSummary::default();
    let Some(writeback) = contract.writeback.as_ref() else {
        return Ok(summary);
    };
    let cursor = store
        .cursor(LRS_CURSOR)?
        .and_then(|c| c.parse::<Timestamp>().ok());
    let overlap = jiff::SignedDuration::try_from(overlap).unwrap_or(jiff::SignedDuration::ZERO);
    let since = cursor.map(|c| c - overlap);
    let mut page = lrs.stored_since(since, PAGE).await?;
    // The newest stored time read, and the LRS's promise of what it has shown.
    let mut newest: Option<Timestamp> = None;
    let mut consistent_through = page.consistent_through;
    // Files the pages came from, moved away by the source once all is journaled.
    let mut files = Vec::new();
    loop {
        files.append(&mut page.files);
        let mut batch = Vec::with_capacity(page.statements.len());
        let mut refusals = Vec::new();
        let mut awarded: Vec<(usize, Credential)> = Vec::new();
        let mut latest = None;
        for statement in std::mem::take(&mut page.statements) {
            summary.statements += 1;
            latest = latest.max(stored_at(&statement));
            newest = newest.max(stored_at(&statement));
            match map_statement(contract, writeback, &statement) {
                Ok(StatementMapping::Ignored(_)) => summary.ignored += 1,
                Ok(StatementMapping::Completion(completion)) => {
                    if let Some(credential) = &completion.credential
                        && let Some(expires) = credential.expires
                    {
                        awarded.push((
                            batch.len(),
                            Credential {
                                employee_id: completion.employee_id.clone(),
                                name: credential.name.clone(),
                                number: credential.number.clone(),
                                issued: credential.issued.to_string(),
                                expires: expires.to_string(),
                            },
                        ));
                    }
                    batch.push(NewEvent {
                        idempotency_key: completion.idempotency_key(),
                        source: Source::Lrs,
                        direction: Direction::LmsToHris,
                        employee_id: completion.employee_id.clone(),
                        kind: completion.verb.clone(),
                        occurred_at: completion.at,
                        payload: statement,
                    })
                }
                Err(reasons) => {
                    refusals.push((batch.len(), reasons));
                    batch.push(refused_event(statement));
                }
            }
        }
        // The next page is asked for while this one is journaled; it is journaled only after.
        let next = async {
            match page.more.take() {
                Some(more) => lrs.more(&more).await.map(Some),
                None => Ok(None),
            }
        };
        let journaled = async {
            if latest.is_none() {
                return Ok((0, 0, 0));
            }
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                store.transaction(|tx| {
                    let appended = tx.append(&batch)?;
                    let mut refused = 0;
                    for (index, reasons) in &refusals {
                        if let Appended::New(id) = appended[*index] {
                            tx.mark_rejected(id, reasons)?;
                            refused += 1;
                        }
                    }
                    for (index, c) in &awarded {
                        if let Appended::New(id) = appended[*index] {
                            crate::engine::apply::credentials::record_award(
                                tx,
                                &NewCredential {
                                    employee_id: &c.employee_id,
                                    name: &c.name,
                                    number: c.number.as_deref(),
                                    issued: &c.issued,
                                    expires: &c.expires,
                                    event_id: id,
                                },
                            )?;
                        }
                    }
                    let new = appended.iter().filter(|a| matches!(a, Appended::New(_))).count();
                    Ok((new - refused, appended.len() - new, refused))
                })
            })
            .await
            .expect("the completions' journal task does not panic")
        };
        let (journaled, next) = tokio::join!(journaled, next);
        let (new, duplicates, refused) = journaled?;
        summary.new += new;
        summary.duplicates += duplicates;
        summary.refused += refused;
        match next? {
            Some(next) => {
                consistent_through = match (consistent_through, next.consistent_through) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                page = next;
            }
            None => break,
        }
    }
    // Not past what the LRS vouches for: a statement stored before that time but
    // not yet visible would otherwise be skipped for good.
    let moved = match (newest, consistent_through) {
        (Some(newest), Some(through)) => Some(newest.min(through)),
        (newest, _) => newest,
    };
    if let Some(moved) = moved.filter(|m| cursor.is_none_or(|c| *m > c)) {
        store.transaction(|tx| {
            if let Some(lease) = fence {
                tx.check_lease(lease)?;
            }
            tx.set_cursor(LRS_CURSOR, &moved.to_string())
        })?;
    }
    if !files.is_empty() {
        lrs.journaled(&files).await?;
    }
    Ok(summary)
}

/// A credential to put in the ledger with its completion's event.
struct Credential {
    employee_id: String,
    name: String,
    number: Option<String>,
    issued: String,
    expires: String,
}

/// A statement the contract refuses, journaled so an operator sees it.
fn refused_event(statement: Value) -> NewEvent {
    let id = statement["id"].as_str().unwrap_or("(no id)");
    NewEvent {
        idempotency_key: format!("xapi-statement:{id}"),
        source: Source::Lrs,
        direction: Direction::LmsToHris,
        employee_id: actor_employee(&statement).unwrap_or("(none)").to_string(),
        kind: verb_name(&statement).unwrap_or("statement").to_string(),
        occurred_at: statement["timestamp"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(Timestamp::now),
        payload: statement,
    }
}

/// The source task: reads every `interval` until `cancel`.
#[derive(Clone)]
pub struct CompletionsSource {
    pub store: Store,
    pub contract: Arc<parking_lot::RwLock<Arc<Contract>>>,
    pub lrs: Arc<dyn CompletionSource>,
    pub interval: Duration,
    /// How far before the cursor each read starts again.
    pub overlap: Duration,
    pub wake: Arc<Notify>,
    /// The LRS's health, from each read.
    pub health: crate::engine::operator::health::Health,
}

impl CompletionsSource {
    /// Reads while `lease` holds the LRS reader's duty.
    pub async fn run(self, lease: Lease, cancel: CancellationToken) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let contract = self.contract.read().clone();
            match read_once(
                &self.store,
                &contract,
                self.lrs.as_ref(),
                self.overlap,
                Some(&lease),
            )
            .await
            {
                Ok(summary) => {
                    self.health.ok(crate::engine::operator::health::System::Lrs);
                    if summary.new + summary.refused > 0 {
                        tracing::info!(?summary, "read completions from the LRS");
                        self.wake.notify_one();
                    }
                }
                Err(error) => {
                    if matches!(&error, ReadError::Connector(_)) {
                        self.health
                            .failed(crate::engine::operator::health::System::Lrs, &error.to_string());
                    }
                    tracing::warn!(%error, "cannot read completions; trying again at the next tick")
                }
            }
        }
    }
}
