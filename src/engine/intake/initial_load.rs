//! Full syncs: one full pull from the HRIS and one full read of the LMS. On the
//! first start (the initial load) every employee is journaled as a change,
//! managers before the people who report to them, and the learners are kept for
//! the apply worker so it need not ask for each one; a resync journals only the
//! employees whose learner differs. Either way a learner whose employee is not in
//! the pull is deactivated, and deactivations beyond the safety threshold are held
//! (an HRIS that briefly answers an empty list deactivates nobody).

use std::borrow::Cow;
use std::collections::HashMap;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::config::SafetyThreshold;
use crate::connectors::roles::{EmployeeSource, LearnerTarget, ScimUser};
use crate::contract::Contract;
use crate::contract::map::{MappedEmployee, map_employee};
use crate::contract::reports::{Counted, ReportCounts};
use crate::engine::apply::learner_lookup::Preload;
use crate::engine::apply::plan::{ManagerRef, Plan, plan};
use crate::engine::apply::supersede;
use crate::model::{Direction, NewEvent, Source, hris_change_key};
use crate::store::{Lease, Store};

/// Set once the initial load is journaled; its presence means "steady state".
pub const DONE_CURSOR: &str = "initial_load";
/// The poller's "changed since" position.
pub const POLL_CURSOR: &str = "hris_poll";

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("initial load: {0}")]
    Connector(#[from] crate::connectors::ConnectorError),
    #[error("initial load: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// What a full sync journaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoadSummary {
    /// Employees in the HRIS pull.
    pub employees: usize,
    /// Learners in the LMS.
    pub learners: usize,
    pub journaled: usize,
    /// Deactivations held by the safety threshold.
    pub held: usize,
}

/// The initial load journals everyone; a resync only what differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Initial,
    Resync,
}

/// The HRIS field names to ask for: every field the contract reads, plus `lastChanged`.
pub fn hris_fields(contract: &Contract) -> Vec<&str> {
    let mut fields: Vec<&str> = contract.fields.iter().flat_map(|f| f.reads()).collect();
    fields.push(supersede::LAST_CHANGED);
    fields.sort_unstable();
    fields.dedup();
    fields
}

/// Runs the initial load if the store has not had one; returns the learners read.
/// Its journal is written only while `fence` (the initial load's lease) holds.
pub async fn run_if_needed(
    store: &Store,
    contract: &Contract,
    employees: &dyn EmployeeSource,
    learners: &dyn LearnerTarget,
    safety: SafetyThreshold,
    fence: Option<&Lease>,
) -> Result<Option<(LoadSummary, Preload)>, LoadError> {
    if store.cursor(DONE_CURSOR)?.is_some() {
        return Ok(None);
    }
    let (summary, preload) =
        full_sync(store, contract, employees, learners, safety, Mode::Initial, fence).await?;
    Ok(Some((summary, preload)))
}

/// Pulls both sides and journals what they need, in one transaction that
/// `fence` (a duty's lease) lets through only while held; see the module's comment.
pub async fn full_sync(
    store: &Store,
    contract: &Contract,
    employees: &dyn EmployeeSource,
    learners: &dyn LearnerTarget,
    safety: SafetyThreshold,
    mode: Mode,
    fence: Option<&Lease>,
) -> Result<(LoadSummary, Preload), LoadError> {
    let started = Timestamp::now();
    let fields = hris_fields(contract);
    let mut directory = Directory::new(contract);
    let (pulled, learners) = tokio::try_join!(
        async {
            (employees.each_employee(&fields, &mut |employee| directory.add(contract, employee)))
                .await
                .map_err(LoadError::from)
        },
        async { learners.all_users().await.map_err(LoadError::from) },
    )?;
    let preload = Preload::new(learners);
    let active_learners = preload.active_count();
    let allowed = safety.allowed(active_learners as u64) as usize;
    let store = store.clone();
    let contract = contract.clone();
    let fence = fence.cloned();
    let (journaled, held, preload) = tokio::task::spawn_blocking(move || {
        let outcome = store.transaction_once(|tx| {
            let (journaled, deactivations) =
                journal_events(tx, &contract, directory, &preload, started, mode)?;
            let hold = deactivations.len() > allowed;
            if hold {
                let why = format!(
                    "{}: the {} would deactivate {} of {} active learners (allowed {}); \
                     in the Held pane, c confirms them, x rejects them with a reason",
                    crate::model::HoldKind::SafetyThreshold.note_prefix(),
                    if mode == Mode::Initial {
                        "initial load"
                    } else {
                        "resync"
                    },
                    deactivations.len(),
                    active_learners,
                    allowed
                );
                for appended in &deactivations {
                    if let crate::store::Appended::New(id) = appended {
                        tx.mark_held(*id, &why)?;
                    }
                }
            }
            tx.set_cursor(
                crate::engine::apply::safety::ACTIVE_LEARNERS_CURSOR,
                &active_learners.to_string(),
            )?;
            if mode == Mode::Initial {
                tx.set_cursor(POLL_CURSOR, &started.to_string())?;
                tx.set_cursor(DONE_CURSOR, &Timestamp::now().to_string())?;
            }
            // The fence last, not first: on PostgreSQL it locks the lease row to the
            // commit, and a load's transaction held that lock so long that the
            // lease's renewals waited past its deadline and the duty was lost. Held
            // from here to the commit, it still keeps a takeover out of this write.
            if let Some(lease) = &fence {
                tx.check_lease(lease)?;
            }
            Ok((journaled, if hold { deactivations.len() } else { 0 }))
        });
        outcome.map(|(journaled, held)| (journaled, held, preload))
    })
    .await
    .expect("the full sync's journal task does not panic")?;
    let summary = LoadSummary {
        employees: pulled,
        learners: preload.len(),
        journaled,
        held,
    };
    Ok((summary, preload))
}

/// Events are built and journaled this many at a time: what is held at once.
const CHUNK: usize = 2_000;

/// One employee as pulled: `(depth in the manager chain, id, record as JSON text)`.
type Pulled = (usize, String, Box<str>);

/// The directory as the pull handed it over: each employee's record kept as its
/// JSON text until its event is built (a tree per employee for the whole
/// directory was most of the load's memory), with what the order of the events
/// and the people directory need read out as it arrived.
struct Directory {
    /// In the HRIS's order; the depth is worked out once everyone is in.
    records: Vec<Pulled>,
    /// Who each employee's manager is, for the depth.
    managers: HashMap<String, String>,
    counts: Option<ReportCounts>,
    manager_field: Option<String>,
}

impl Directory {
    fn new(contract: &Contract) -> Directory {
        Directory {
            records: Vec::new(),
            managers: HashMap::new(),
            counts: contract.reads_reports().then(ReportCounts::default),
            manager_field: (contract.lifecycle.manager_field.as_deref())
                .and_then(|name| contract.field(name))
                .map(|f| f.hris.clone()),
        }
    }

    fn add(&mut self, contract: &Contract, record: Map<String, Value>) {
        let id = match record.get(&contract.key_field().hris) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        if let Some(counts) = &mut self.counts {
            counts.add(contract, &record);
        }
        if id.is_empty() {
            return;
        }
        let manager = (self.manager_field.as_ref())
            .and_then(|f| record.get(f))
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty());
        if let Some(manager) = manager {
            self.managers.insert(id.clone(), manager.to_string());
        }
        let text = serde_json::to_string(&record).expect("a JSON map serialises");
        self.records.push((0, id, text.into_boxed_str()));
    }

    /// The records, managers before the people who report to them (the HRIS's
    /// order kept among equals).
    fn in_order(mut self) -> (Vec<Pulled>, Option<ReportCounts>) {
        let depth = |id: &str| {
            let (mut depth, mut at) = (0, id);
            // Bounded: a cycle in the HRIS's manager chain must not hang the load.
            while let Some(next) = self.managers.get(at).filter(|_| depth < 64) {
                depth += 1;
                at = next;
            }
            depth
        };
        for (d, id, _) in &mut self.records {
            *d = depth(id);
        }
        self.records.sort_by_key(|(depth, _, _)| *depth);
        (self.records, self.counts)
    }
}

/// Journals one event per employee, managers first, `CHUNK` at a time, and
/// everyone into the people directory (all seen at the transaction's one time,
/// so the order does not matter: ties of first seen go to the smaller id); answers
/// how many were journaled and the appended deactivations (for the safety threshold).
fn journal_events(
    tx: &crate::store::StoreTx<'_>,
    contract: &Contract,
    directory: Directory,
    preload: &Preload,
    started: Timestamp,
    mode: Mode,
) -> Result<(usize, Vec<crate::store::Appended>), crate::store::StoreError> {
    let today = started.to_zoned(contract.time_zone.clone()).date();
    let (records, counts) = directory.in_order();
    let mut seen = std::collections::HashSet::with_capacity(records.len());
    let mut journaled = 0;
    let mut deactivations = Vec::new();
    let mut chunk: Vec<NewEvent> = Vec::with_capacity(CHUNK);
    let mut chunk_deactivations: Vec<usize> = Vec::new();
    let mut flush =
        |chunk: &mut Vec<NewEvent>, marked: &mut Vec<usize>| -> Result<(), crate::store::StoreError> {
            let appended = tx.append(chunk)?;
            journaled += chunk.len();
            deactivations.extend(marked.drain(..).map(|index| appended[index]));
            chunk.clear();
            Ok(())
        };
    for (_, employee_id, text) in records {
        let fields: Map<String, Value> =
            serde_json::from_str(&text).expect("the load's own JSON text reads back");
        drop(text);
        tx.upsert_person(&crate::contract::identity::identity_keys(contract, &fields))?;
        seen.insert(employee_id.clone());
        let counted = Counted {
            record: &fields,
            reports: counts.as_ref().map(|c| c.of(&employee_id)),
        };
        let mapped = map_employee(contract, &counted);
        // A resync judges each record as the applier will, `reports` included.
        if mode == Mode::Resync && !differs(contract, mapped.as_ref().ok(), preload, today) {
            continue;
        }
        let stamp = supersede::stamp(contract, Some(&fields), started);
        let changed = stamp.at;
        let deactivates = preload.get(&employee_id).is_some_and(is_active)
            && mapped.is_ok_and(|m| !m.should_be_active(contract));
        if deactivates {
            chunk_deactivations.push(chunk.len());
        }
        chunk.push(NewEvent {
            // A resync re-applies a change already applied once (the LMS drifted since),
            // so it needs a key of its own.
            idempotency_key: match mode {
                Mode::Initial => hris_change_key(&employee_id, &stamp),
                Mode::Resync => format!("resync:{:017}:{employee_id}", started.as_microsecond()),
            },
            source: if mode == Mode::Initial {
                Source::InitialLoad
            } else {
                Source::Reconcile
            },
            direction: Direction::HrisToLms,
            employee_id: employee_id.clone(),
            kind: if mode == Mode::Initial { "Load" } else { "Resync" }.into(),
            occurred_at: changed,
            payload: load_payload(employee_id, changed, fields),
        });
        if chunk.len() == CHUNK {
            flush(&mut chunk, &mut chunk_deactivations)?;
        }
    }
    // A learner whose employee the HRIS no longer lists has left: deactivate it.
    for (employee_id, _) in preload
        .iter()
        .filter(|(id, user)| !seen.contains(*id) && is_active(user))
    {
        chunk_deactivations.push(chunk.len());
        chunk.push(NewEvent {
            idempotency_key: format!("missing:{:017}:{employee_id}", started.as_microsecond()),
            source: if mode == Mode::Initial {
                Source::InitialLoad
            } else {
                Source::Reconcile
            },
            direction: Direction::HrisToLms,
            employee_id: employee_id.clone(),
            kind: "Missing".into(),
            occurred_at: started,
            payload: json!({ "id": employee_id, "action": "Missing" }),
        });
        if chunk.len() == CHUNK {
            flush(&mut chunk, &mut chunk_deactivations)?;
        }
    }
    if !chunk.is_empty() {
        flush(&mut chunk, &mut chunk_deactivations)?;
    }
    Ok((journaled, deactivations))
}

/// A load event's payload: the record moved in whole, not copied.
fn load_payload(employee_id: String, changed: Timestamp, fields: Map<String, Value>) -> Value {
    let mut payload = Map::new();
    payload.insert("id".into(), Value::String(employee_id));
    payload.insert("action".into(), "Load".into());
    payload.insert("lastChanged".into(), Value::String(changed.to_string()));
    payload.insert("fields".into(), Value::Object(fields));
    Value::Object(payload)
}

fn is_active(user: &ScimUser) -> bool {
    user.resource.get("active") != Some(&Value::Bool(false))
}

/// Whether the learner the LMS holds differs from what the contract wants (a
/// record the contract refuses counts as differing, so its rejection is seen).
fn differs(
    contract: &Contract,
    mapped: Option<&MappedEmployee>,
    preload: &Preload,
    today: jiff::civil::Date,
) -> bool {
    let Some(mapped) = mapped else { return true };
    let learner = preload.get(&mapped.employee_id).map(|u| &u.resource);
    let manager = match &mapped.manager_id {
        Some(id) => match preload.get(id) {
            Some(user) => ManagerRef::Learner(Cow::Borrowed(&user.id)),
            None => ManagerRef::NotSynced { coming: false },
        },
        None => ManagerRef::None,
    };
    !matches!(
        plan(contract, mapped, learner, &manager, today),
        Plan::Nothing { .. }
    )
}
