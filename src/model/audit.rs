//! One line of the audit log: who did what to which record, when, why, and the
//! value before and after. Entries are chained by hash in the store.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

named_enum!(
    /// What an audit entry records; the word is what the log stores and hashes.
    AuditAction {
        LearnerCreate => "learner.create",
        /// An existing learner found by user name or email took the employee's id.
        LearnerAdopt => "learner.adopt",
        LearnerUpdate => "learner.update",
        LearnerDeactivate => "learner.deactivate",
        LearnerReactivate => "learner.reactivate",
        LearnerEnrol => "learner.enrol",
        /// Taken out of a group a trigger with `on_exit = "remove"` no longer gives.
        LearnerUnenrol => "learner.unenrol",
        LearnerLink => "learner.link",
        /// A stopped attempt's write, found in the target afterwards.
        LearnerRecovered => "learner.recovered",
        TrainingRecord => "training.record",
        TrainingRecovered => "training.recovered",
        EventRetry => "event.retry",
        /// An operator decided an event while it was being applied.
        EventDecidedInFlight => "event.decided_in_flight",
        EventSkip => "event.skip",
        /// The engine closed a change whose record was older than one already applied.
        EventSuperseded => "event.superseded",
        EventFlag => "event.flag",
        HeldConfirm => "held.confirm",
        HeldReject => "held.reject",
        /// An operator let a held HRIS export through.
        FileConfirm => "file.confirm",
        /// The engine refused an HRIS export (stale, unreadable).
        FileRefuse => "file.refuse",
        DriftFix => "drift.fix",
        DriftFlag => "drift.flag",
        DriftAccept => "drift.accept",
        DuplicateNotDuplicate => "duplicate.not_duplicate",
        DuplicateFlag => "duplicate.flag",
        DuplicateLink => "duplicate.link",
        EnginePause => "engine.pause",
        EngineResume => "engine.resume",
        ContractApply => "contract.apply",
        ReconcileRequest => "reconcile.request",
        /// An operator journaled an employee's record as it is now (`hrsync trace --apply`).
        TraceApply => "trace.apply",
        /// An operator took the engine out of shadow mode: it writes from now on.
        ModeLive => "mode.live",
        /// An operator explained a parallel-run difference with the legacy process.
        ParallelExplain => "parallel.explain",
        /// An operator cut over from the legacy process (the bar met, or forced with a reason).
        ParallelCutover => "parallel.cutover",
    }
);

/// The action as its word in JSON too (the macro's serde names are snake_case).
mod action_word {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use super::AuditAction;

    pub fn serialize<S: Serializer>(action: &AuditAction, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(action.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<AuditAction, D::Error> {
        let word = String::deserialize(d)?;
        AuditAction::parse(&word).ok_or_else(|| D::Error::custom(format!("unknown audit action {word:?}")))
    }
}

/// What a caller hands the store; sequence number, time and hashes are the store's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAuditEntry {
    /// Who: an operator's name, or "engine" for automatic writes.
    pub actor: String,
    #[serde(with = "action_word")]
    pub action: AuditAction,
    pub employee_id: Option<String>,
    /// The record acted on, e.g. a learner id or "event 42".
    pub subject: String,
    pub before: Value,
    pub after: Value,
    pub reason: Option<String>,
}

/// A stored audit entry; `hash` covers every other field, `prev_hash` links the chain.
/// `hash` is an HMAC under the key `key_id` names, or a plain SHA-256 without one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: Timestamp,
    pub actor: String,
    /// Text, not `AuditAction`: entries written by other versions keep their word
    /// (the hash covers it) even if this version has no such action.
    pub action: String,
    pub employee_id: Option<String>,
    pub subject: String,
    pub before: Value,
    pub after: Value,
    pub reason: Option<String>,
    pub prev_hash: String,
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_keeps_its_word_in_json() {
        for action in AuditAction::ALL {
            let entry = NewAuditEntry {
                actor: "engine".into(),
                action: *action,
                employee_id: None,
                subject: String::new(),
                before: Value::Null,
                after: Value::Null,
                reason: None,
            };
            let text = serde_json::to_value(&entry).unwrap();
            assert_eq!(text["action"], action.as_str());
            assert_eq!(serde_json::from_value::<NewAuditEntry>(text).unwrap(), entry);
        }
    }
}
