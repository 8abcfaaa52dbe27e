//! The plain types the rest of hrsync talks in: journal events, their statuses and
//! writes, and audit entries. No I/O and no logic beyond naming; everything is serde.

pub mod audit;
pub mod event;
pub mod secret;

pub use audit::{AuditEntry, NewAuditEntry};
pub use event::{
    Direction, Event, EventId, EventStatus, FailedAttempt, FieldReason, NewEvent, Source, StoredWrite,
    WriteRecord, hris_change_key,
};
pub use secret::Secret;
