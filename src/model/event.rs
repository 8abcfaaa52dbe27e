//! A journaled change: where it came from, which way it flows, whose record it is,
//! and how far it has got (its status, attempts and the writes it caused).

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The journal's id for an event; grows with time, so newer events have larger ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub i64);

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

named_enum!(
    /// Which way a change flows.
    Direction {
        /// Identity: employees become learners.
        HrisToLms => "hris_to_lms",
        /// Completions written back as training records.
        LmsToHris => "lms_to_hris",
    }
);

impl Direction {
    /// Whether an event waiting for an operator (rejected, dead letter, held)
    /// holds back the employee's later events: identity changes must apply in
    /// order; completions are independent of each other.
    pub fn in_order(self) -> bool {
        self == Direction::HrisToLms
    }

    /// Whether an event in `status` keeps its employee's turn in this direction.
    pub fn keeps_turn(self, status: EventStatus) -> bool {
        if self.in_order() {
            status.is_open()
        } else {
            matches!(status, EventStatus::Pending | EventStatus::Retrying)
        }
    }
}

named_enum!(
    /// How the change reached hrsync.
    Source {
        Webhook => "webhook",
        Poll => "poll",
        InitialLoad => "initial_load",
        Csv => "csv",
        /// A change found by comparing an HRIS export file with the one before.
        File => "file",
        Lrs => "lrs",
        Operator => "operator",
        Reconcile => "reconcile",
    }
);

named_enum!(
    /// Where an event stands. Open statuses keep the employee's later events waiting.
    EventStatus {
        /// Journaled, not yet tried.
        Pending => "pending",
        /// Written to the target.
        Applied => "applied",
        /// The target already had these values: nothing to write.
        Unchanged => "unchanged",
        /// A transient failure; tried again at `next_attempt_at`.
        Retrying => "retrying",
        /// Out of retries; waits for an operator.
        DeadLetter => "dead_letter",
        /// A permanent failure (contract violation or 4xx); waits for an operator.
        Rejected => "rejected",
        /// Held by the safety threshold or a duplicate hold; waits for an operator.
        Held => "held",
        /// Closed without applying it: by an operator, or by the engine because a
        /// newer record of the employee was applied first (superseded; the note says so).
        Skipped => "skipped",
        /// Closed by an operator and handed to the HRIS admin.
        Flagged => "flagged",
        /// Shadow mode: planned and not written; the note says what it would have
        /// written. Leaving shadow mode journals it again, to be planned afresh.
        Shadowed => "shadowed",
    }
);

impl EventStatus {
    /// Statuses that still block the employee's later events (see `Store::ready`).
    pub const OPEN: &'static [EventStatus] = &[
        EventStatus::Pending,
        EventStatus::Retrying,
        EventStatus::DeadLetter,
        EventStatus::Rejected,
        EventStatus::Held,
    ];

    pub fn is_open(self) -> bool {
        Self::OPEN.contains(&self)
    }
}

/// Why an event is held, told by the start of its note: the two holds ask the
/// operator different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HoldKind {
    /// A poll or load would deactivate more learners than the threshold allows:
    /// confirming lets the deactivations go ahead.
    SafetyThreshold,
    /// A newcomer to a suspected duplicate group: decided in the Duplicates pane.
    SuspectedDuplicate,
}

impl HoldKind {
    pub const ALL: &'static [HoldKind] = &[HoldKind::SafetyThreshold, HoldKind::SuspectedDuplicate];

    /// How the note of a hold of this kind starts.
    pub const fn note_prefix(self) -> &'static str {
        match self {
            HoldKind::SafetyThreshold => "safety threshold",
            HoldKind::SuspectedDuplicate => "suspected duplicate",
        }
    }

    /// The kind of hold a held event's note tells.
    pub fn of_note(note: &str) -> Option<HoldKind> {
        Self::ALL
            .iter()
            .copied()
            .find(|kind| note.starts_with(kind.note_prefix()))
    }
}

/// A change as the ingest side hands it to the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// Same key twice means the same delivery: acknowledged, applied once.
    pub idempotency_key: String,
    pub source: Source,
    pub direction: Direction,
    pub employee_id: String,
    /// What changed, in the source's words, e.g. "Updated" or "completion".
    pub kind: String,
    pub occurred_at: Timestamp,
    /// The record as received (never request headers: secrets stay out of the store).
    pub payload: Value,
}

/// Which state of an employee's HRIS record a change carries: the time the record
/// is as of, and a digest of what the contract reads of it ("deleted" when the
/// change carries no record). `engine::apply::supersede` makes and compares them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordStamp {
    pub at: Timestamp,
    pub digest: String,
}

/// The newest record applied to an employee's learner, and the event that carried it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRecord {
    pub stamp: RecordStamp,
    pub event_id: EventId,
}

/// The idempotency key of one HRIS change: the same record of an employee reached
/// by webhook, by the poller, by the initial load or twice by either gets the same
/// key; two different edits in the same second do not (the stamp's digest). It
/// starts with the record's time (zero-padded microseconds) so keys arrive in index
/// order, which SQLite inserts about 5× faster than random keys.
pub fn hris_change_key(employee_id: &str, stamp: &RecordStamp) -> String {
    format!(
        "hris:{:017}:{employee_id}:{}",
        stamp.at.as_microsecond(),
        stamp.digest
    )
}

/// Why one field of a record was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldReason {
    pub field: String,
    pub reason: String,
}

impl FieldReason {
    /// The reasons on one line, "field: reason; …", as the journal keeps them.
    pub fn summary(reasons: &[FieldReason]) -> String {
        reasons
            .iter()
            .map(|r| format!("{}: {}", r.field, r.reason))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// One write carried out on a target system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteRecord {
    /// The system whose value won, e.g. "hris".
    pub sent_from: String,
    /// The system written to, e.g. "lms".
    pub sent_to: String,
    /// The record's id on the target side, e.g. the SCIM user id.
    pub target_id: Option<String>,
    pub before: Value,
    pub after: Value,
    pub http_status: Option<u16>,
}

/// A write as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredWrite {
    pub id: i64,
    pub event_id: EventId,
    pub at: Timestamp,
    #[serde(flatten)]
    pub write: WriteRecord,
}

/// One failed attempt at applying an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedAttempt {
    pub at: Timestamp,
    pub error: String,
    pub http_status: Option<u16>,
}

/// A journaled event with everything the journal knows about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub idempotency_key: String,
    pub source: Source,
    pub direction: Direction,
    pub employee_id: String,
    pub kind: String,
    pub occurred_at: Timestamp,
    pub received_at: Timestamp,
    pub updated_at: Timestamp,
    pub status: EventStatus,
    pub attempts: u32,
    pub next_attempt_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_http_status: Option<u16>,
    /// Why a rejected event was refused, field by field.
    pub reasons: Vec<FieldReason>,
    /// Why it is held, skipped or flagged.
    pub note: Option<String>,
    pub payload: Value,
    /// The payload mapped through the contract, once the engine has done so.
    pub mapped: Option<Value>,
}
