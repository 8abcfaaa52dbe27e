//! One line of the audit log: who did what to which record, when, why, and the
//! value before and after. Entries are chained by hash in the store.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a caller hands the store; sequence number, time and hashes are the store's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAuditEntry {
    /// Who: an operator's name, or "engine" for automatic writes.
    pub actor: String,
    /// What, e.g. "learner.update", "dead_letter.skip".
    pub action: String,
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
