//! HRIS exports as files (`[hris] kind = "csv"`): each file in the inbox is a
//! full snapshot. Once it has settled it is read, checked (not seen before, not
//! older than the last one taken, not many fewer rows than it), compared with the
//! last export taken, and the differences journaled as ordinary changes in one
//! transaction: inserted and updated employees with their records, missing ones
//! as `Missing` (deactivated, never deleted). Rows failing the contract go to
//! `<file>.rejects.csv` in the outbox; the file moves to `processed/`.
//!
//! The last export taken is kept in the store, and is the HRIS's directory for
//! reconciliation and for reading one employee (`TakenExports`).

use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Map, Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::{ExportFeed, SafetyThreshold};
use crate::connectors::csv_files::{ExportSpec, RowReject, read_export};
use crate::connectors::inbox::{self, Arriving, Inbox, InboxEntry, OutboxError, content_hash};
use crate::connectors::roles::{ChangedSince, EmployeeRecord, EmployeeSource};
use crate::connectors::{ConnectorError, Notifier};
use crate::contract::Contract;
use crate::contract::map::map_employee;
use crate::engine::apply::{safety, supersede};
use crate::engine::operator::health::{Health, System};
use crate::model::files::{ExportFile, FileCounts, FileState, STALE};
use crate::model::{Direction, NewEvent, Source, hris_change_key};
use crate::store::{Appended, ExportFiles, Store, StoreError};

pub use crate::connectors::inbox::{PROCESSED, REFUSED};

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(transparent)]
    Inbox(#[from] ConnectorError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// What one look at one file decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Still being written, or held and waiting: looked at again later.
    NotYet,
    /// Taken before (the same name and content): only tidied away.
    AlreadyDone,
    Taken(FileCounts),
    Refused(String),
    Held(String),
}

/// The file intake task: where the files are, how they read, whom it tells.
#[derive(Clone)]
pub struct FileIntake {
    pub store: Store,
    pub contract: Arc<parking_lot::RwLock<Arc<Contract>>>,
    pub feed: ExportFeed,
    pub threshold: SafetyThreshold,
    pub notifier: Notifier,
    /// Poked when a file journaled something, so the worker starts at once.
    pub wake: Arc<Notify>,
    pub health: Health,
}

impl FileIntake {
    /// Looks at the inbox every `scan_every` until `cancel`.
    pub async fn run(self, cancel: CancellationToken) {
        let mut inbox: Option<Arc<dyn Inbox>> = None;
        let mut arriving = Arriving::new(self.feed.arrivals());
        loop {
            let result = async {
                let opened = match &inbox {
                    Some(opened) => opened.clone(),
                    None => {
                        let opened = inbox::open(&self.feed.inbox, &self.feed.sftp).await?;
                        inbox = Some(opened.clone());
                        opened
                    }
                };
                self.scan(opened.as_ref(), &mut arriving).await
            }
            .await;
            match result {
                Ok(()) => self.health.ok(System::Hris),
                Err(error) => {
                    self.health.failed(System::Hris, &error.to_string());
                    tracing::warn!(inbox = %self.feed.inbox, %error, "the HRIS export inbox could not be read; trying again");
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(self.feed.scan_every) => {}
            }
        }
    }

    /// One look at the inbox: every export that has settled is decided, oldest first.
    async fn scan(&self, inbox: &dyn Inbox, arriving: &mut Arriving) -> Result<(), FileError> {
        for entry in arriving.ready(inbox).await? {
            let decision = self.take(inbox, &entry).await?;
            if !matches!(decision, Decision::NotYet) {
                arriving.decided(&entry.name);
            }
        }
        Ok(arriving.forget_old(inbox).await?)
    }

    /// Decides one settled file: takes, refuses or holds it.
    pub async fn take(&self, inbox: &dyn Inbox, entry: &InboxEntry) -> Result<Decision, FileError> {
        let bytes = inbox.read(&entry.name).await?;
        let sha256 = content_hash(&bytes);
        let before = self.store.export_file(&entry.name, &sha256)?;
        let confirmed = match before.as_ref().map(|f| f.state) {
            Some(FileState::Taken) | Some(FileState::Refused) => {
                // Decided before a crash or a second drop: only tidied away.
                let state = before.as_ref().map(|f| f.state).unwrap_or(FileState::Taken);
                self.move_away(inbox, &entry.name, state).await?;
                return Ok(Decision::AlreadyDone);
            }
            Some(FileState::Held) => return Ok(Decision::NotYet),
            Some(FileState::Confirmed) => true,
            None => false,
        };
        let mut file = ExportFile {
            id: 0,
            name: entry.name.clone(),
            sha256,
            size: bytes.len() as u64,
            modified: entry.modified,
            decided_at: Timestamp::now(),
            state: FileState::Taken,
            // A confirmed file keeps who let it through, and why, once taken.
            reason: before.filter(|_| confirmed).and_then(|f| f.reason),
            counts: FileCounts::default(),
        };
        let last = self.store.last_taken_file()?;
        if let Some(last) = last.as_ref().filter(|last| entry.modified < last.modified) {
            let why = format!(
                "{STALE}: exported {} but {} (exported {}) was taken already; a late copy of an old \
                 export must not re-create people who left",
                entry.modified, last.name, last.modified
            );
            return self.refuse(inbox, file, why).await;
        }
        let contract = self.contract.read().clone();
        let compared = {
            let (contract, feed, store) = (contract.clone(), self.feed.clone(), self.store.clone());
            tokio::task::spawn_blocking(move || compare(&contract, &feed, &store, &bytes))
                .await
                .expect("comparing an export does not panic")
        };
        let compared = match compared {
            Ok(compared) => compared,
            Err(Unreadable::Store(error)) => return Err(error.into()),
            Err(Unreadable::File(why)) => return self.refuse(inbox, file, why).await,
        };
        file.counts = compared.counts;
        if let Some(last) = last.as_ref().filter(|_| !confirmed) {
            let drop = last.counts.rows.saturating_sub(compared.counts.rows);
            let allowed = self.threshold.allowed(last.counts.rows);
            if drop > allowed {
                let why = format!(
                    "{} rows against {} in {}: {drop} fewer, more than the safety threshold allows \
                     ({allowed}); a truncated export must not deactivate people. Nothing was applied; \
                     confirm the file to take it",
                    compared.counts.rows, last.counts.rows, last.name
                );
                file.state = FileState::Held;
                file.reason = Some(why.clone());
                let store = self.store.clone();
                tokio::task::spawn_blocking(move || store.transaction(|tx| tx.record_file(&file)))
                    .await
                    .expect("recording a file does not panic")?;
                tracing::warn!(file = %entry.name, "HRIS export held: {why}");
                self.tell(format!("[hrsync] HRIS export {} held: {why}", entry.name));
                return Ok(Decision::Held(why));
            }
        }
        if !compared.rejects.is_empty() {
            self.write_rejects(&entry.name, &compared.rejects)?;
        }
        let counts = compared.counts;
        let (new, held) = self.journal(&contract, file, compared).await?;
        tracing::info!(
            file = %entry.name,
            rows = counts.rows,
            rejected = counts.rejected,
            inserted = counts.inserted,
            updated = counts.updated,
            missing = counts.missing,
            unchanged = counts.unchanged,
            held,
            "HRIS export taken"
        );
        if held > 0 {
            crate::engine::intake::webhook::tell_held(&self.notifier, held, "one HRIS export");
        }
        if new > 0 {
            self.wake.notify_one();
        }
        self.move_away(inbox, &entry.name, FileState::Taken).await?;
        Ok(Decision::Taken(counts))
    }

    /// Journals the differences, keeps the export as the last taken, and records the
    /// file, all in one transaction. Returns the new events and how many were held.
    async fn journal(
        &self,
        contract: &Contract,
        mut file: ExportFile,
        compared: Compared,
    ) -> Result<(usize, usize), FileError> {
        let stamp_at = file.modified;
        let mut events = Vec::with_capacity(compared.changes.len());
        // Each record moves into its event's payload, and is kept from there as the
        // last export's: a first export of everyone is not held twice.
        let mut digests = Vec::with_capacity(compared.changes.len());
        for change in compared.changes {
            let stamp = supersede::stamp(contract, change.record.as_ref(), stamp_at);
            let mut payload = json!({
                "id": change.employee_id,
                "action": change.kind,
                "sent_from": format!("{}:{}", file.name, change.line),
            });
            if let Some(record) = change.record {
                payload["fields"] = Value::Object(record);
            }
            digests.push(change.digest);
            events.push(NewEvent {
                idempotency_key: hris_change_key(&change.employee_id, &stamp),
                source: Source::File,
                direction: Direction::HrisToLms,
                employee_id: change.employee_id,
                kind: change.kind.to_string(),
                occurred_at: stamp.at,
                payload,
            });
        }
        let deactivating: Vec<bool> = events
            .iter()
            .map(|e| safety::may_deactivate(contract, e))
            .collect();
        let allowed = safety::allowed(&self.store, self.threshold)?;
        let store = self.store.clone();
        file.state = FileState::Taken;
        let (new, held) = tokio::task::spawn_blocking(move || {
            store.transaction(|tx| {
                let appended = tx.append(&events)?;
                let held =
                    safety::hold_mass_deactivations(tx, &appended, &deactivating, allowed, "HRIS export")?;
                let id = tx.record_file(&file)?;
                for (event, digest) in events.iter().zip(&digests) {
                    match event.payload.get("fields").and_then(Value::as_object) {
                        Some(record) => tx.put_exported(&event.employee_id, digest, record, id)?,
                        None => tx.remove_exported(&event.employee_id)?,
                    }
                }
                tx.set_cursor(safety::ACTIVE_LEARNERS_CURSOR, &compared.present.to_string())?;
                let new = appended.iter().filter(|a| matches!(a, Appended::New(_))).count();
                Ok((new, held))
            })
        })
        .await
        .expect("journaling an export does not panic")?;
        Ok((new, held))
    }

    async fn refuse(
        &self,
        inbox: &dyn Inbox,
        mut file: ExportFile,
        why: String,
    ) -> Result<Decision, FileError> {
        file.state = FileState::Refused;
        file.reason = Some(why.clone());
        let name = file.name.clone();
        let store = self.store.clone();
        let audited = why.clone();
        tokio::task::spawn_blocking(move || {
            store.transaction(|tx| {
                let id = tx.record_file(&file)?;
                tx.audit(crate::model::NewAuditEntry {
                    actor: "engine".into(),
                    action: crate::model::AuditAction::FileRefuse,
                    employee_id: None,
                    subject: format!("export file {id} ({})", file.name),
                    before: Value::Null,
                    after: json!({ "state": FileState::Refused, "sha256": file.sha256, "size": file.size }),
                    reason: Some(audited.clone()),
                })
            })
        })
        .await
        .expect("recording a file does not panic")?;
        tracing::warn!(file = %name, "HRIS export refused: {why}");
        self.tell(format!("[hrsync] HRIS export {name} refused: {why}"));
        self.move_away(inbox, &name, FileState::Refused).await?;
        Ok(Decision::Refused(why))
    }

    /// Moves a decided file (and its marker) out of the inbox.
    async fn move_away(&self, inbox: &dyn Inbox, name: &str, state: FileState) -> Result<(), FileError> {
        let arriving = Arriving::new(self.feed.arrivals());
        Ok(arriving
            .move_away(inbox, name, state == FileState::Refused)
            .await?)
    }

    fn write_rejects(&self, name: &str, rejects: &[RowReject]) -> Result<(), FileError> {
        Arriving::new(self.feed.arrivals()).write_rejects(name, rejects)?;
        Ok(())
    }

    fn tell(&self, text: String) {
        let notifier = self.notifier.clone();
        tokio::spawn(async move {
            if let Err(error) = notifier.send(&text).await {
                tracing::warn!(%error, "cannot tell the ops channel about an HRIS export");
            }
        });
    }
}

/// One employee who differs from the last export taken.
#[derive(Debug)]
struct Change {
    employee_id: String,
    kind: &'static str,
    line: u64,
    digest: String,
    /// `None` for an employee the file no longer lists.
    record: Option<Map<String, Value>>,
}

#[derive(Debug)]
struct Compared {
    counts: FileCounts,
    changes: Vec<Change>,
    rejects: Vec<RowReject>,
    /// Employees the file lists (rejected rows included).
    present: u64,
}

enum Unreadable {
    File(String),
    Store(StoreError),
}

/// Reads the file and compares it with the last export taken: only the rows that
/// differ are kept as records.
fn compare(
    contract: &Contract,
    feed: &ExportFeed,
    store: &Store,
    bytes: &[u8],
) -> Result<Compared, Unreadable> {
    let spec = ExportSpec {
        columns: feed.columns.clone(),
        id_field: contract.key_field().hris.clone(),
        delimiter: feed.delimiter,
        encoding: feed.encoding.clone(),
    };
    let mut last = store.exported_digests().map_err(Unreadable::Store)?;
    let mut changes = Vec::new();
    let mut rejects = Vec::new();
    let mut counts = FileCounts::default();
    let mut present = 0u64;
    let summary = read_export(bytes, &spec, |row| {
        present += 1;
        let record = row.to_record();
        let id = row.id().to_string();
        let before = last.remove(&id);
        if let Err(reasons) = map_employee(contract, &record) {
            rejects.push(RowReject {
                line: row.line,
                id: Some(id),
                reasons: reasons.into_iter().map(|r| (r.field, r.reason)).collect(),
            });
            return;
        }
        let digest = contract.change_digest(&record);
        let kind = match before {
            None => "Inserted",
            Some(old) if old != digest => "Updated",
            Some(_) => {
                counts.unchanged += 1;
                return;
            }
        };
        changes.push(Change {
            employee_id: id,
            kind,
            line: row.line,
            digest,
            record: Some(record),
        });
    })
    .map_err(|error| Unreadable::File(format!("unreadable: {error}")))?;
    // Rows refused for their shape still name an employee who is there.
    for reject in &summary.rejects {
        if let Some(id) = &reject.id {
            last.remove(id);
        }
    }
    if !summary.unknown_columns.is_empty() {
        tracing::info!(columns = ?summary.unknown_columns, "HRIS export columns not in [hris.columns], ignored");
    }
    rejects.extend(summary.rejects);
    rejects.sort_by_key(|r| r.line);
    let mut missing: Vec<String> = last.into_keys().collect();
    missing.sort();
    for employee_id in missing {
        changes.push(Change {
            employee_id,
            kind: "Missing",
            line: 0,
            digest: String::new(),
            record: None,
        });
    }
    counts.rows = summary.rows;
    counts.rejected = rejects.len() as u64;
    counts.inserted = changes.iter().filter(|c| c.kind == "Inserted").count() as u64;
    counts.updated = changes.iter().filter(|c| c.kind == "Updated").count() as u64;
    counts.missing = changes.iter().filter(|c| c.kind == "Missing").count() as u64;
    Ok(Compared {
        counts,
        changes,
        rejects,
        present,
    })
}

/// The HRIS's directory when it sends files: the last export taken, as kept.
#[derive(Clone)]
pub struct TakenExports {
    store: Store,
}

impl std::fmt::Debug for TakenExports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TakenExports")
    }
}

impl TakenExports {
    pub fn new(store: Store) -> TakenExports {
        TakenExports { store }
    }

    async fn read<T: Send + 'static>(
        &self,
        what: &'static str,
        read: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ConnectorError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || read(&store))
            .await
            .expect("reading the last export does not panic")
            .map_err(|error| ConnectorError::Permanent {
                status: None,
                message: format!("{what}: {error}"),
            })
    }
}

#[async_trait::async_trait]
impl EmployeeSource for TakenExports {
    async fn each_employee(
        &self,
        _fields: &[&str],
        each: &mut (dyn FnMut(EmployeeRecord) + Send),
    ) -> Result<usize, ConnectorError> {
        let records = self
            .read("the last HRIS export taken", |store| store.exported_employees())
            .await?;
        let count = records.len();
        records.into_iter().for_each(each);
        Ok(count)
    }

    /// Files bring their changes themselves: nothing is asked for.
    async fn changed_since(&self, since: Timestamp) -> Result<ChangedSince, ConnectorError> {
        Ok(ChangedSince {
            latest: since,
            changes: Vec::new(),
        })
    }

    async fn employee(&self, id: &str, _fields: &[&str]) -> Result<Option<EmployeeRecord>, ConnectorError> {
        let id = id.to_string();
        self.read("an employee of the last HRIS export taken", move |store| {
            store.exported_employee(&id)
        })
        .await
    }
}

/// Lets a held export through: it is taken at the next look at the inbox. The
/// file keeps who confirmed it and why, after the reason it was held for.
pub fn confirm_held(store: &Store, id: i64, by: &str, reason: &str) -> Result<ExportFile, String> {
    let file = store
        .export_file_by_id(id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no export file {id}"))?;
    if file.state != FileState::Held {
        return Err(format!(
            "export file {id} ({}) is {}, not held",
            file.name, file.state
        ));
    }
    let mut confirmed = file.clone();
    confirmed.state = FileState::Confirmed;
    confirmed.decided_at = Timestamp::now();
    confirmed.reason = Some(match &file.reason {
        Some(held) => format!("confirmed by {by}: {reason} (it was held: {held})"),
        None => format!("confirmed by {by}: {reason}"),
    });
    store
        .transaction(|tx| {
            tx.record_file(&confirmed)?;
            tx.audit(crate::model::NewAuditEntry {
                actor: by.to_string(),
                action: crate::model::AuditAction::FileConfirm,
                employee_id: None,
                subject: format!("export file {id} ({})", file.name),
                before: json!({ "state": file.state, "reason": file.reason, "rows": file.counts.rows }),
                after: json!({ "state": FileState::Confirmed }),
                reason: Some(reason.to_string()),
            })
        })
        .map_err(|e| e.to_string())?;
    Ok(confirmed)
}
