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
    let (employees, learners) = tokio::try_join!(
        async { employees.all_employees(&fields).await.map_err(LoadError::from) },
        async { learners.all_users().await.map_err(LoadError::from) },
    )?;
    let preload = Preload::new(learners);
    let pulled = employees.len();
    // Everyone is seen now, in the HRIS's order: a suspected duplicate's first seen syncs.
    let people: Vec<_> = employees
        .iter()
        .map(|e| crate::contract::identity::identity_keys(contract, e))
        .filter(|k| !k.employee_id.is_empty())
        .collect();
    let (events, deactivations) = events_for(contract, employees, &preload, started, mode);
    let active_learners = preload.active_count();
    let allowed = safety.allowed(active_learners as u64) as usize;
    let hold = deactivations.len() > allowed;
    let summary = LoadSummary {
        employees: pulled,
        learners: preload.len(),
        journaled: events.len(),
        held: if hold { deactivations.len() } else { 0 },
    };
    let store = store.clone();
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
    let fence = fence.cloned();
    tokio::task::spawn_blocking(move || {
        store.transaction(|tx| {
            if let Some(lease) = &fence {
                tx.check_lease(lease)?;
            }
            for keys in &people {
                tx.upsert_person(keys)?;
            }
            let appended = tx.append(&events)?;
            if hold {
                for index in &deactivations {
                    if let crate::store::Appended::New(id) = appended[*index] {
                        tx.mark_held(id, &why)?;
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
            Ok(())
        })
    })
    .await
    .expect("the full sync's journal task does not panic")?;
    Ok((summary, preload))
}

/// One event per employee, managers first; and the indexes of those that deactivate a learner.
fn events_for(
    contract: &Contract,
    employees: Vec<Map<String, Value>>,
    preload: &Preload,
    started: Timestamp,
    mode: Mode,
) -> (Vec<NewEvent>, Vec<usize>) {
    let today = started.to_zoned(contract.time_zone.clone()).date();
    let id_field = &contract.key_field().hris;
    let id_of = |e: &Map<String, Value>| match e.get(id_field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let manager_field = contract
        .lifecycle
        .manager_field
        .as_deref()
        .and_then(|name| contract.field(name))
        .map(|f| f.hris.clone());
    let managers: HashMap<String, String> = employees
        .iter()
        .filter_map(|e| {
            let manager = manager_field
                .as_ref()
                .and_then(|f| e.get(f))
                .and_then(Value::as_str)?;
            (!manager.is_empty()).then(|| (id_of(e), manager.to_string()))
        })
        .collect();
    let depth = |id: &str| {
        let (mut depth, mut at) = (0, id);
        // Bounded: a cycle in the HRIS's manager chain must not hang the load.
        while let Some(next) = managers.get(at).filter(|_| depth < 64) {
            depth += 1;
            at = next;
        }
        depth
    };
    let mut ordered: Vec<(usize, Map<String, Value>)> =
        employees.into_iter().map(|e| (depth(&id_of(&e)), e)).collect();
    ordered.sort_by_key(|(depth, _)| *depth);
    // A resync judges each record as the applier will, `reports` included.
    let counts = ReportCounts::of_list(contract, ordered.iter().map(|(_, fields)| fields));
    let mut events = Vec::with_capacity(ordered.len());
    let mut deactivations = Vec::new();
    let mut seen = std::collections::HashSet::with_capacity(ordered.len());
    for (_, fields) in ordered {
        let employee_id = id_of(&fields);
        if employee_id.is_empty() {
            continue;
        }
        seen.insert(employee_id.clone());
        let counted = Counted {
            record: &fields,
            reports: counts.as_ref().map(|c| c.of(&employee_id)),
        };
        let mapped = map_employee(contract, &counted);
        if mode == Mode::Resync && !differs(contract, mapped.as_ref().ok(), preload, today) {
            continue;
        }
        let stamp = supersede::stamp(contract, Some(&fields), started);
        let changed = stamp.at;
        let deactivates = preload.get(&employee_id).is_some_and(is_active)
            && mapped.is_ok_and(|m| !m.should_be_active(contract));
        if deactivates {
            deactivations.push(events.len());
        }
        events.push(NewEvent {
            // A resync re-applies a change already applied once (the LMS drifted since),
            // so it needs a key of its own.
            idempotency_key: match mode {
                Mode::Initial => hris_change_key(&employee_id, &stamp),
                Mode::Resync => format!("resync:{:017}:{employee_id}", started.as_microsecond()),
            },
            source: if mode == Mode::Initial { Source::InitialLoad } else { Source::Reconcile },
            direction: Direction::HrisToLms,
            employee_id: employee_id.clone(),
            kind: if mode == Mode::Initial { "Load" } else { "Resync" }.into(),
            occurred_at: changed,
            payload: json!({ "id": employee_id, "action": "Load", "lastChanged": changed.to_string(), "fields": fields }),
        });
    }
    // A learner whose employee the HRIS no longer lists has left: deactivate it.
    for (employee_id, _) in preload
        .iter()
        .filter(|(id, user)| !seen.contains(*id) && is_active(user))
    {
        deactivations.push(events.len());
        events.push(NewEvent {
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
    }
    (events, deactivations)
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
