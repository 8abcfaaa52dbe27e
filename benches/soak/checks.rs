//! The soak's verdicts, read once the engine has stopped: changes lost (the
//! HRIS made them, no journaled event carries them), writes applied twice (the
//! audit log and the LMS), and the LMS against the HRIS (`hrsync reconcile`),
//! each finding set apart when its employee waits for an operator or a date.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::Command;

use hrsync::model::{Direction, EventId, EventStatus};
use hrsync::store::{AuditFilter, DriftItems, EventFilter};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::churn::Change;
use crate::world::World;

/// What the journal holds, by employee.
pub struct Journal {
    /// Each employee's newest identity event, by the change time it carries.
    pub newest: HashMap<String, Timestamp>,
    /// Employees with an event still open: waiting for an operator (held,
    /// rejected, dead letter) or for a later date (a future hire), or behind one.
    pub waiting: BTreeSet<String>,
    /// Identity events by source, e.g. "webhook 1714, poll 84".
    pub by_source: String,
}

pub struct Lost {
    /// Changes with no event of their employee as recent as the change.
    pub changes: Vec<String>,
    /// Employees whose latest HRIS change is newer than their newest event.
    pub latest: Vec<String>,
}

pub struct Twice {
    /// The same write (action and values) audited more than once for one event.
    pub writes: Vec<String>,
    /// Employees whose learner was created (or adopted) more than once.
    pub created: Vec<String>,
    /// Employee ids more than one LMS learner carries.
    pub learners: Vec<String>,
}

/// The reconciliation's findings, by employee: those nothing waits for
/// (the LMS is wrong) and those whose employee waits.
pub struct Differs {
    /// "complete", or why there are no findings to count.
    pub result: String,
    pub unexplained: BTreeMap<String, Vec<String>>,
    pub waiting: BTreeMap<String, Vec<String>>,
}

pub fn journal(world: &World) -> Journal {
    let mut newest: HashMap<String, Timestamp> = HashMap::new();
    let mut sources: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut waiting = BTreeSet::new();
    let mut before: Option<EventId> = None;
    let filter = EventFilter {
        direction: Some(Direction::HrisToLms),
        ..Default::default()
    };
    loop {
        let page = world.store.events_page(&filter, before, 1000).unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        for event in &page {
            *sources.entry(event.source.as_str()).or_default() += 1;
            let at = newest
                .entry(event.employee_id.clone())
                .or_insert(event.occurred_at);
            *at = (*at).max(event.occurred_at);
            if EventStatus::OPEN.contains(&event.status) {
                waiting.insert(event.employee_id.clone());
            }
        }
    }
    let by_source = sources
        .iter()
        .map(|(source, n)| format!("{source} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    Journal {
        newest,
        waiting,
        by_source,
    }
}

/// The journal keeps change times to the microsecond.
fn micros(at: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(at.as_microsecond()).unwrap()
}

pub async fn lost(world: &World, changes: &[Change], journal: &Journal) -> Lost {
    let journaled = |id: &str, at: Timestamp| journal.newest.get(id).is_some_and(|n| *n >= micros(at));
    let never = changes
        .iter()
        .filter(|c| !journaled(&c.employee_id, c.asked_at))
        .map(|c| format!("{} at {}", c.employee_id, c.asked_at))
        .collect();
    let c = &world.credentials;
    let report: Value = world
        .http
        .post(format!("{}/reports/custom?format=JSON", c.hris_api()))
        .basic_auth(&c.hris_api_key, Some("x"))
        .json(&json!({ "fields": ["id", "lastChanged"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let latest = report["employees"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            let id = e["id"].as_str()?;
            let changed: Timestamp = e["lastChanged"].as_str()?.parse().ok()?;
            (!journaled(id, changed)).then(|| id.to_string())
        })
        .collect();
    Lost {
        changes: never,
        latest,
    }
}

/// An event may write to the LMS more than once (a retry finishing what a
/// failed attempt left half done), but never the same write twice.
pub async fn twice(world: &World) -> Twice {
    let mut writes: BTreeMap<String, usize> = BTreeMap::new();
    let mut made: BTreeMap<String, usize> = BTreeMap::new();
    let mut before = None;
    loop {
        let page = world
            .store
            .audit_page(&AuditFilter::default(), before, 1000)
            .unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.seq);
        for entry in &page {
            let action = entry.action.as_str();
            if matches!(action, "learner.create" | "learner.adopt") {
                *made
                    .entry(entry.employee_id.clone().unwrap_or_default())
                    .or_default() += 1;
            }
            if matches!(
                action,
                "learner.create"
                    | "learner.update"
                    | "learner.deactivate"
                    | "learner.reactivate"
                    | "learner.recovered"
            ) {
                // The event's id leads the reason: "event N (source kind)...".
                let reason = entry.reason.as_deref().unwrap_or_default();
                let event = reason.split(" (").next().unwrap_or_default();
                *writes
                    .entry(format!("{event} {action} {}", entry.after))
                    .or_default() += 1;
            }
        }
    }
    let more_than_once = |counted: BTreeMap<String, usize>| -> Vec<String> {
        counted
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(k, n)| format!("{} ×{n}", k.split(" {").next().unwrap_or_default()))
            .collect()
    };
    Twice {
        writes: more_than_once(writes),
        created: more_than_once(made),
        learners: more_than_once(learner_ids(world).await),
    }
}

/// How many learners carry each employee id (`externalId`), read through SCIM.
async fn learner_ids(world: &World) -> BTreeMap<String, usize> {
    let c = &world.credentials;
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    let mut start = 1;
    loop {
        let page: Value = world
            .http
            .get(format!("{}/Users?startIndex={start}&count=500", c.scim_url))
            .bearer_auth(&c.scim_token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let resources = page["Resources"].as_array().cloned().unwrap_or_default();
        if resources.is_empty() {
            return ids;
        }
        start += resources.len();
        for learner in &resources {
            *ids.entry(learner["externalId"].as_str().unwrap_or("").to_string())
                .or_default() += 1;
        }
    }
}

/// `hrsync reconcile --json` (both sides pulled in full and compared under the
/// contract), its findings read back from the store. Only ids and field names
/// are kept: the values are HRIS data, not for a terminal.
pub fn differs(world: &World, journal: &Journal) -> Differs {
    let c = &world.credentials;
    let output = Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .args(["reconcile", "--json", "--config"])
        .arg(&world.config)
        .envs([
            ("SOAK_HRIS_KEY", &c.hris_api_key),
            ("SOAK_SCIM_TOKEN", &c.scim_token),
            ("SOAK_WEBHOOK_SECRET", &c.webhook_secret),
        ])
        .output()
        .unwrap();
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    let mut differs = Differs {
        result: answer["result"]
            .as_str()
            .map_or_else(|| format!("no run: exit {}", output.status), str::to_string),
        unexplained: BTreeMap::new(),
        waiting: BTreeMap::new(),
    };
    let Some(run) = answer["run"]["id"].as_i64() else {
        return differs;
    };
    let mut offset = 0;
    loop {
        let items = world.store.drift_items_page(run, None, offset, 500).unwrap();
        if items.is_empty() {
            return differs;
        }
        offset += items.len();
        for item in items {
            let side = if journal.waiting.contains(&item.employee_id) {
                &mut differs.waiting
            } else {
                &mut differs.unexplained
            };
            let what = if item.field.is_empty() {
                item.category.as_str().to_string()
            } else {
                item.field
            };
            side.entry(item.employee_id).or_default().push(what);
        }
    }
}
