//! Shadow mode: the engine plans every write as it always does and records the
//! plan instead of carrying it out. The switch is shared by the appliers and
//! turned off once when an operator leaves shadow mode (`leave`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::model::{AuditAction, EventId, NewAuditEntry};
use crate::store::{LeftShadow, Store, StoreError, StoreTx};

/// Whether the engine writes nothing (on) or writes (off); shared, turned off once.
#[derive(Clone, Debug, Default)]
pub struct Shadow(Arc<AtomicBool>);

impl Shadow {
    pub fn new(on: bool) -> Shadow {
        Shadow(Arc::new(AtomicBool::new(on)))
    }

    pub fn is_on(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// The engine writes from now on; answers whether it was in shadow mode.
    pub fn turn_off(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }
}

/// What one event would have written, as a shadowed event records it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlannedWrite {
    /// create, update, deactivate, reactivate, enrol, unenrol, link, or training record.
    pub action: &'static str,
    /// The learner (SCIM id) or HRIS record written to, when there is one already.
    pub target: Option<String>,
    /// The fields written: before and after.
    pub changes: Value,
    /// The groups the learner would be added to.
    pub enrol: Vec<String>,
    /// The groups it would be taken out of (a trigger with `on_exit = "remove"`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leave: Vec<String>,
}

impl PlannedWrite {
    pub fn new(
        action: &'static str,
        target: Option<String>,
        before: &Map<String, Value>,
        after: &Map<String, Value>,
        enrol: Vec<String>,
    ) -> PlannedWrite {
        PlannedWrite {
            action,
            target,
            changes: changes_json(before, after),
            enrol,
            leave: Vec::new(),
        }
    }

    /// The same write, taking the learner out of `leave` too.
    pub fn leaving(mut self, leave: &[String]) -> PlannedWrite {
        self.leave = leave.to_vec();
        self
    }

    /// One line for the Events pane and the CLI: what would have been written.
    pub fn summary(&self) -> String {
        let mut line = match (self.action, &self.target) {
            ("create", _) => "would create learner".to_string(),
            ("training record", Some(target)) => format!("would write to the HRIS: {target}"),
            ("enrol", Some(target)) => format!("would enrol learner {target}"),
            (action, Some(target)) => format!("would {action} learner {target}"),
            (action, None) => format!("would {action}"),
        };
        let fields: Vec<&str> = (self.changes["after"].as_object())
            .map(|after| after.keys().map(String::as_str).collect())
            .unwrap_or_default();
        if !fields.is_empty() && self.action != "training record" {
            line.push_str(&format!(": fields {}", fields.join(", ")));
        }
        if !self.enrol.is_empty() {
            line.push_str(&format!("; add groups {}", self.enrol.join(", ")));
        }
        if !self.leave.is_empty() {
            line.push_str(&format!("; take out of groups {}", self.leave.join(", ")));
        }
        line
    }

    /// What a shadowed event keeps as its mapped value: the mapping, and the plan.
    pub fn with_mapped(&self, mapped: Option<Value>) -> Value {
        json!({ "mapped": mapped, "planned": self })
    }
}

/// The fields a plan writes, as trace and shadow mode show them.
pub fn changes_json(before: &Map<String, Value>, after: &Map<String, Value>) -> Value {
    json!({ "before": before, "after": after })
}

/// Why shadow mode cannot be left, or a start refused.
#[derive(Debug, thiserror::Error)]
pub enum ShadowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a reason is required to leave shadow mode")]
    NoReason,
    #[error("the store is not in shadow mode (it never ran in shadow mode)")]
    NotInShadow,
    #[error(
        "the store left shadow mode at {} ({} left it: {}); the engine writes to the LMS and \
         the HRIS now and does not go back to shadow mode: start it without --shadow or \
         `[mode] shadow`, or use a new store for another shadow run",
        .0.at, .0.by, .0.reason
    )]
    AlreadyLeft(LeftShadow),
    #[error(
        "the store is in shadow mode since {0}: start the engine with --shadow (or \
         `[mode] shadow = true`), or leave shadow mode first with \
         `hrsync shadow leave --reason TEXT`, which applies the shadowed events"
    )]
    StillInShadow(jiff::Timestamp),
}

/// At a start: records that the store runs in shadow mode, or refuses the start
/// when the mode asked for is not the store's (left shadow mode, or still in it).
pub fn check_start(store: &Store, shadow: bool) -> Result<(), ShadowError> {
    store.transaction(|tx| {
        let mode = tx.shadow_mode()?;
        Ok(match (shadow, mode) {
            (_, crate::store::ShadowMode { left: Some(left), .. }) if shadow => {
                Err(ShadowError::AlreadyLeft(left))
            }
            (true, _) => {
                tx.enter_shadow()?;
                Ok(())
            }
            (false, mode) if mode.is_on() => Err(ShadowError::StillInShadow(
                mode.entered_at.expect("on means entered"),
            )),
            (false, _) => Ok(()),
        })
    })?
}

/// An operator takes the store out of shadow mode: recorded with who and why,
/// audited, and every shadowed event journaled again to be planned afresh. A
/// running engine sees it at its next turn and writes from then on.
pub fn leave(store: &Store, actor: &str, reason: &str) -> Result<Vec<EventId>, ShadowError> {
    if reason.trim().is_empty() {
        return Err(ShadowError::NoReason);
    }
    store.transaction(|tx| leave_in(tx, actor, reason))?
}

/// [`leave`] inside a caller's transaction, so what the caller records with it
/// (the parallel run's cutover) stands or falls with it. The outer error is the
/// store's; the inner one says why shadow mode cannot be left.
pub fn leave_in(
    tx: &StoreTx<'_>,
    actor: &str,
    reason: &str,
) -> Result<Result<Vec<EventId>, ShadowError>, StoreError> {
    if reason.trim().is_empty() {
        return Ok(Err(ShadowError::NoReason));
    }
    let mode = tx.shadow_mode()?;
    if let Some(left) = mode.left {
        return Ok(Err(ShadowError::AlreadyLeft(left)));
    }
    let Some(entered_at) = mode.entered_at else {
        return Ok(Err(ShadowError::NotInShadow));
    };
    tx.record_left_shadow(actor, reason)?;
    let requeued = tx.requeue_shadowed()?;
    tx.audit(NewAuditEntry {
        actor: actor.to_string(),
        action: AuditAction::ModeLive,
        employee_id: None,
        subject: "engine mode".into(),
        before: json!({ "mode": "shadow", "since": entered_at }),
        after: json!({ "mode": "live", "events_applied_afresh": requeued.len() }),
        reason: Some(reason.to_string()),
    })?;
    Ok(Ok(requeued))
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::{PlannedWrite, ShadowError, check_start, leave};
    use crate::store::Store;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("hrsync.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn a_store_left_shadow_mode_never_goes_back_nor_starts_live_while_in_it() {
        let (_dir, store) = store();
        check_start(&store, false).expect("a new store starts live");
        assert!(matches!(
            leave(&store, "ann", "go"),
            Err(ShadowError::NotInShadow)
        ));
        check_start(&store, true).expect("and may start in shadow mode");
        check_start(&store, true).expect("again and again");
        let refused = check_start(&store, false).unwrap_err().to_string();
        assert!(
            refused.contains("in shadow mode since") && refused.contains("shadow leave"),
            "{refused}"
        );
        assert!(matches!(leave(&store, "ann", "  "), Err(ShadowError::NoReason)));
        assert_eq!(leave(&store, "ann", "signed off").unwrap(), Vec::new());
        check_start(&store, false).expect("live after leaving");
        let refused = check_start(&store, true).unwrap_err().to_string();
        assert!(refused.contains("ann left it: signed off"), "{refused}");
        let again = leave(&store, "bob", "twice").unwrap_err().to_string();
        assert!(again.contains("ann"), "the first leave stands: {again}");
    }

    #[test]
    fn a_planned_write_says_what_it_would_write() {
        let after: Map<String, Value> = [("job_title".to_string(), json!("Lead"))].into_iter().collect();
        let none = Map::new();
        let create = PlannedWrite::new("create", None, &none, &after, vec!["Onboarding".into()]);
        assert_eq!(
            create.summary(),
            "would create learner: fields job_title; add groups Onboarding"
        );
        let deactivate = PlannedWrite::new("deactivate", Some("u-1".into()), &none, &none, Vec::new());
        assert_eq!(deactivate.summary(), "would deactivate learner u-1");
        let record = PlannedWrite::new(
            "training record",
            Some("training record".into()),
            &none,
            &after,
            Vec::new(),
        );
        assert_eq!(record.summary(), "would write to the HRIS: training record");
        assert_eq!(
            create.with_mapped(None)["planned"]["changes"]["after"]["job_title"],
            "Lead"
        );
        assert!(create.with_mapped(None)["planned"].get("leave").is_none());
        let moved = PlannedWrite::new("unenrol", Some("u-1".into()), &none, &none, Vec::new())
            .leaving(&["Compliance London".to_string()]);
        assert_eq!(
            moved.summary(),
            "would unenrol learner u-1; take out of groups Compliance London"
        );
        assert_eq!(
            moved.with_mapped(None)["planned"]["leave"][0],
            "Compliance London"
        );
    }
}
