//! What applying one event comes to, as the worker journals it: the outcome,
//! the writes that reached a target before a later step failed, and a failed
//! attempt sorted into transient or permanent.

use jiff::Timestamp;
use serde_json::Value;

use crate::connectors::ConnectorError;
use crate::model::{AuditAction, FieldReason, WriteRecord};
use crate::store::StoreError;

/// What applying one event came to; the worker journals it.
#[derive(Debug)]
pub enum Outcome {
    Applied {
        write: WriteRecord,
        audit_action: AuditAction,
        enrolled: Vec<Membership>,
        mapped: Option<Value>,
        /// The manager (HRIS id) this learner should point at once they have a
        /// learner; the worker remembers it so the link is made then.
        awaits_manager: Option<String>,
    },
    Unchanged {
        enrolled: Vec<Membership>,
        mapped: Option<Value>,
        /// The target holds a record with these values (a learner, a
        /// completion): what a cut-off attempt may have written.
        held: bool,
        why: &'static str,
        awaits_manager: Option<String>,
    },
    Deferred {
        until: Timestamp,
        why: String,
        /// The manager whose change it waits for: due again as soon as that is journaled.
        waits_for: Option<String>,
    },
    /// A step failed; what earlier steps of the same attempt wrote is `written`.
    Failed {
        failure: Failure,
        written: Option<Box<Written>>,
    },
    Rejected(Vec<FieldReason>),
    /// Held for an operator (a suspected duplicate newcomer), with the reason.
    Held {
        why: String,
    },
    /// A newer record of the employee was applied first: closed, nothing written.
    Superseded {
        why: String,
    },
    /// Shadow mode: planned and not written.
    Shadowed {
        planned: crate::engine::apply::shadow::PlannedWrite,
        mapped: Option<Value>,
    },
}

impl Outcome {
    /// A failure before anything reached the target.
    pub fn failed(failure: Failure) -> Outcome {
        Outcome::Failed {
            failure,
            written: None,
        }
    }
}

/// Writes that reached the target before a later step of the same attempt
/// failed: journaled and audited with the failure, so no write goes unrecorded.
#[derive(Debug, Default)]
pub struct Written {
    /// The record's own write, and its audit action.
    pub write: Option<(WriteRecord, AuditAction)>,
    /// Groups the learner was added to or taken out of.
    pub enrolled: Vec<Membership>,
}

/// One change to a learner's groups (learning paths), made by the triggers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Membership {
    /// Added to the group.
    Joined(String),
    /// Taken out of it: a trigger with `on_exit = "remove"` no longer holds.
    Left(String),
}

/// A failed attempt, as the journal and the retry policy see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub message: String,
    pub status: Option<u16>,
    /// Worth another attempt (connection, timeout, 429, 5xx, a busy journal).
    pub transient: bool,
    pub retry_after: Option<std::time::Duration>,
}

impl Failure {
    pub fn permanent(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            status: None,
            transient: false,
            retry_after: None,
        }
    }
}

impl From<ConnectorError> for Failure {
    fn from(error: ConnectorError) -> Failure {
        Failure {
            message: error.to_string(),
            status: error.status(),
            transient: error.is_transient(),
            retry_after: error.retry_after(),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Failure {
        Failure {
            message: format!("reading the journal: {error}"),
            status: None,
            transient: true,
            retry_after: None,
        }
    }
}
