//! The pure decision at the heart of flow 1: given a mapped HRIS record, the
//! learner the LMS holds now (if any), where the manager stands and today's date,
//! what must be written? Only differences are written; the engine carries it out.

use std::borrow::Cow;

use jiff::Timestamp;
use jiff::civil::Date;
use serde_json::{Map, Value, json};

use crate::contract::map::{LmsValue, MappedEmployee, Wanted};
/// The triggers are the contract's rule; the plan and the reconciliation name them here.
pub use crate::contract::triggers::groups_for;
use crate::contract::{Contract, FieldType};
use crate::model::FieldReason;

pub const CORE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// Where the record's manager stands in the LMS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManagerRef<'a> {
    /// The record names no manager.
    None,
    /// The manager's learner, by SCIM id.
    Learner(Cow<'a, str>),
    /// The manager has no learner yet; `coming` when an open change for them is journaled.
    NotSynced { coming: bool },
}

/// What to write, as before/after per contract field (and `active`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    pub before: Map<String, Value>,
    pub after: Map<String, Value>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.after.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// The LMS already holds this, or holds nothing and should not.
    Nothing { why: &'static str, enrol: Vec<String> },
    Create {
        document: Value,
        changes: Changes,
        enrol: Vec<String>,
    },
    /// A full replacement (PUT) of the learner with only `changes` differing.
    Update {
        document: Value,
        changes: Changes,
        enrol: Vec<String>,
        deactivates: bool,
    },
    /// A future-dated hire: try again at the start of the hire date.
    WaitUntil { at: Timestamp, why: String },
    /// The manager's own change is journaled and not applied yet.
    WaitForManager { manager_id: String },
    /// The record breaks the contract; nothing is written.
    Reject(Vec<FieldReason>),
}

/// What to write for one mapped record, given the learner the LMS holds now.
pub fn plan(
    contract: &Contract,
    mapped: &MappedEmployee,
    learner: Option<&Value>,
    manager: &ManagerRef,
    today: Date,
) -> Plan {
    let mut decided = assess(contract, mapped, learner, manager, today);
    if let Plan::Create {
        document, changes, ..
    }
    | Plan::Update {
        document, changes, ..
    } = &mut decided
    {
        *document = document_for(learner, mapped, changes);
    }
    decided
}

/// The decision alone: what `plan` returns, but with `Value::Null` for each
/// document (a reconciliation needs the changes, not the document to PUT).
pub fn assess<L: LearnerState + ?Sized>(
    contract: &Contract,
    mapped: &MappedEmployee,
    learner: Option<&L>,
    manager: &ManagerRef,
    today: Date,
) -> Plan {
    let active_now = learner.map(|l| l.active());
    if active_now != Some(true)
        && let Some(from) = mapped.in_scope_from
    {
        // A future hire (or rehire, whose learner is inactive) the contract
        // pre-provisions, not yet within its reach.
        return Plan::WaitUntil {
            at: start_of(contract, from),
            why: format!(
                "hired on {}: the scope rules hold from {from}, and the learner is created then",
                mapped.hire_date.map(|d| d.to_string()).unwrap_or_default()
            ),
        };
    }
    if !mapped.should_be_active(contract) {
        return match active_now {
            None => Plan::Nothing {
                why: "no learner, and none is wanted (terminated, on leave or out of scope)",
                enrol: Vec::new(),
            },
            Some(false) => Plan::Nothing {
                why: "the learner is already inactive",
                enrol: Vec::new(),
            },
            Some(true) => {
                let mut changes = Changes::default();
                changes.before.insert("active".into(), Value::Bool(true));
                changes.after.insert("active".into(), Value::Bool(false));
                Plan::Update {
                    document: Value::Null,
                    changes,
                    enrol: Vec::new(),
                    deactivates: true,
                }
            }
        };
    }
    if !mapped.problems.is_empty() {
        return Plan::Reject(mapped.problems.clone());
    }
    if learner.is_none()
        && let Some(hire) = mapped.hired_later(today)
    {
        return Plan::WaitUntil {
            at: start_of(contract, hire),
            why: format!("hired on {hire}: the learner is created that day"),
        };
    }
    let manager_field = contract.lifecycle.manager_field.as_deref();
    let manager_value = match manager {
        ManagerRef::Learner(id) => Some(Wanted::Text(Cow::Borrowed(&**id))),
        ManagerRef::None => Some(Wanted::Null),
        ManagerRef::NotSynced { coming: true } => {
            return Plan::WaitForManager {
                manager_id: mapped.manager_id.as_deref().unwrap_or_default().to_string(),
            };
        }
        // The manager will not be synced (out of scope): leave the attribute alone.
        ManagerRef::NotSynced { coming: false } => None,
    };

    let mut changes = Changes::default();
    for wanted in &mapped.lms {
        let value = if Some(wanted.field) == manager_field {
            match &manager_value {
                Some(v) => v,
                None => continue,
            }
        } else {
            &wanted.value
        };
        let current = learner.map_or(Current::Missing, |l| l.current(wanted));
        if same(&current, value, wanted.kind) {
            continue;
        }
        changes
            .before
            .insert(wanted.field.to_string(), current.into_value());
        changes.after.insert(wanted.field.to_string(), value.to_value());
    }
    if active_now != Some(true) {
        changes.before.insert("active".into(), json!(active_now));
        changes.after.insert("active".into(), Value::Bool(true));
    }
    let enrol = groups_for(contract, mapped, today);
    match learner {
        None => Plan::Create {
            document: Value::Null,
            changes,
            enrol,
        },
        Some(_) if changes.is_empty() => Plan::Nothing {
            why: "the learner already holds these values",
            enrol,
        },
        Some(_) => Plan::Update {
            document: Value::Null,
            changes,
            enrol,
            deactivates: false,
        },
    }
}

/// The moment `day` starts in the contract's time zone.
fn start_of(contract: &Contract, day: Date) -> Timestamp {
    day.to_zoned(contract.time_zone.clone())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::MAX)
}

/// The document a create or update sends: the learner as it is (minus what the
/// server owns), or a new one, with each change written at its path.
fn document_for(learner: Option<&Value>, mapped: &MappedEmployee, changes: &Changes) -> Value {
    let mut document = match learner {
        Some(current) => replacement_of(current),
        None => json!({ "schemas": [CORE_USER_SCHEMA] }),
    };
    for wanted in &mapped.lms {
        if let Some(value) = changes.after.get(wanted.field) {
            if let Some(schema) = &wanted.path.schema {
                add_schema(&mut document, schema);
            }
            wanted.path.set(&mut document, value.clone());
        }
    }
    if let Some(active) = changes.after.get("active") {
        document["active"] = active.clone();
    }
    document
}

/// What a plan reads of the learner the LMS holds: the learner itself, or a
/// reconciliation's packed copy of it.
pub trait LearnerState {
    /// Whether the learner is active (an absent `active` means it is).
    fn active(&self) -> bool;
    /// The value the learner holds at one contract field's path.
    fn current(&self, wanted: &LmsValue<'_>) -> Current<'_>;
}

impl LearnerState for Value {
    fn active(&self) -> bool {
        self.get("active").and_then(Value::as_bool).unwrap_or(true)
    }

    fn current(&self, wanted: &LmsValue<'_>) -> Current<'_> {
        wanted.path.get(self).map_or(Current::Missing, Current::Json)
    }
}

/// A learner's value at one path.
#[derive(Clone, Debug)]
pub enum Current<'a> {
    Missing,
    Json(&'a Value),
    Text(&'a str),
    /// A value read back from a packed copy.
    Parsed(Value),
}

impl Current<'_> {
    fn into_value(self) -> Value {
        match self {
            Current::Missing => Value::Null,
            Current::Json(value) => value.clone(),
            Current::Text(text) => Value::String(text.to_string()),
            Current::Parsed(value) => value,
        }
    }
}

/// Equal as the LMS means it: a cleared value matches an absent or empty one, emails
/// compare without case.
fn same(current: &Current<'_>, wanted: &Wanted<'_>, kind: FieldType) -> bool {
    let current = match current {
        Current::Missing => None,
        Current::Json(value) => Some(*value),
        Current::Parsed(value) => Some(value),
        // As a JSON string would compare, without making one.
        Current::Text(text) => return same_text(text, wanted, kind),
    };
    match (current, wanted) {
        (None | Some(Value::Null), Wanted::Null) => true,
        (Some(Value::String(text)), wanted) => same_text(text, wanted, kind),
        (Some(Value::Number(a)), Wanted::Number(b)) => a.as_f64() == b.as_f64(),
        (Some(Value::Bool(a)), Wanted::Bool(b)) => a == b,
        _ => false,
    }
}

fn same_text(text: &str, wanted: &Wanted<'_>, kind: FieldType) -> bool {
    match wanted {
        Wanted::Null => text.is_empty(),
        Wanted::Text(w) if kind == FieldType::Email => text.eq_ignore_ascii_case(w),
        Wanted::Text(w) => text == w,
        _ => false,
    }
}

/// The learner as it will be PUT back: everything it holds, minus what the server owns.
fn replacement_of(learner: &Value) -> Value {
    let mut document = learner.clone();
    if let Some(object) = document.as_object_mut() {
        object.remove("meta");
    }
    document
}

fn add_schema(document: &mut Value, schema: &str) {
    if !document.get("schemas").is_some_and(Value::is_array) {
        document["schemas"] = json!([CORE_USER_SCHEMA]);
    }
    let schemas = document["schemas"].as_array_mut().expect("just made an array");
    if !schemas
        .iter()
        .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(schema)))
    {
        schemas.push(Value::String(schema.to_string()));
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;

/// Scope expressions and triggers through the plan: they need the engine's
/// `assess`, so they live on this side of the layering.
#[cfg(test)]
#[path = "scope_tests.rs"]
mod scope_tests;
