//! The plain types the rest of hrsync talks in: journal events, their statuses and
//! writes, and audit entries. No I/O and no logic beyond naming, save the one rule
//! for spreadsheet-safe CSV cells that every layer writing CSV shares.

/// Generates `as_str`/`parse` pairs so the words stored in SQLite are written once.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word used in the store, the CLI's `--json` and the console.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }

            pub fn parse(word: &str) -> Option<$name> {
                match word { $($word => Some($name::$variant),)+ _ => None }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod audit;
pub mod connections;
pub mod csv_cell;
pub mod drift;
pub mod event;
pub mod files;
pub mod identity;
pub mod parallel;
pub mod profile;
pub mod secret;

pub use audit::{AuditAction, AuditEntry, NewAuditEntry};
pub use csv_cell::guard_formula;
pub use drift::{DriftCategory, DriftState, DuplicateSide, GroupState, RunOutcome};
pub use event::{
    AppliedRecord, Direction, Event, EventId, EventStatus, FailedAttempt, FieldReason, HoldKind, NewEvent,
    RecordStamp, Source, StoredWrite, WriteRecord, hris_change_key,
};
pub use identity::{DuplicateBasis, IdentityKeys};
pub use profile::{ENTERPRISE_SCHEMA, ScimQuirk};
pub use secret::Secret;
