//! What the operator asked for, as values: terminal input becomes an `Action`;
//! anything that writes becomes a `Command`, which passes the one gate in `update`.

use crossterm::event::KeyEvent;
use jiff::Timestamp;

use super::read::Loaded;
use super::state::Pane;
use crate::model::EventId;

/// One thing that happened: a key the operator pressed, a tick, the store changing.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Quit,
    Tick,
    Resize(u16, u16),
    /// Something committed to the store (the engine, another console, this one).
    StoreChanged,
    /// A store read asked for earlier is back.
    Loaded(Loaded),
    GoPane(Pane),
    NextPane,
    PrevPane,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Enter: details of the selected row.
    Open,
    /// Esc: close what is open, else clear the pane's scope.
    Back,
    Help,
    ToggleSelect,
    Copy,
    FollowTail,
    /// Events and audit: edit the free-text filter.
    FilterText,
    FilterEmployee,
    CycleDirection,
    CycleStatus,
    ClearFilters,
    EditContract,
    // The operator's commands on what is under the cursor or chosen; `update` turns
    // them into a `Command` with the ids.
    Retry,
    RetryAll,
    Skip,
    Flag,
    ConfirmHeld,
    RejectHeld,
    TogglePause,
    /// Drift: push the owner's value for the chosen items.
    Fix,
    /// Drift: accept the chosen items with a reason (and maybe an end).
    Accept,
    /// Drift: all categories → each one → all.
    CycleCategory,
    /// Drift: ask the engine for a reconciliation run now.
    RunReconcile,
    /// Duplicates: the group under the cursor is not one person.
    NotDuplicate,
    /// Duplicates: point the learner under the column cursor at an employee.
    Link,
    /// Duplicates: the column cursor over the group's members.
    Left,
    Right,
    /// A write the operator asked for; it may still need a reason or a yes.
    Request(Command),
    /// Keys typed into the open text area.
    Input(KeyEvent),
    /// Enter in a prompt, Ctrl-S in the contract editor.
    Submit,
    Yes,
    No,
}

/// A change to the journal or the engine. Every one is refused in read-only mode,
/// and the destructive ones wait for a yes, both decided in `update::request`.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Retry(Vec<EventId>),
    RetryAllDeadLetters,
    Skip {
        ids: Vec<EventId>,
        reason: Option<String>,
    },
    Flag {
        ids: Vec<EventId>,
        reason: Option<String>,
    },
    ConfirmHeld(Vec<EventId>),
    RejectHeld {
        ids: Vec<EventId>,
        reason: Option<String>,
    },
    Pause,
    Resume,
    ApplyContract(String),
    FixDrift(Vec<i64>),
    FlagDrift {
        ids: Vec<i64>,
        note: Option<String>,
    },
    AcceptDrift {
        ids: Vec<i64>,
        reason: Option<String>,
        /// `None` until the operator has answered "until when?".
        expires: Option<Expiry>,
    },
    RequestReconcile,
    NotDuplicate {
        group: i64,
        reason: Option<String>,
    },
    FlagDuplicate {
        group: i64,
        note: Option<String>,
    },
    LinkLearner {
        group: i64,
        learner: String,
        /// `None` until the operator has confirmed or typed the employee id.
        employee: Option<String>,
    },
}

/// How long an accepted difference stays accepted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expiry {
    Never,
    At(Timestamp),
}

impl Command {
    /// What the confirmation and the result message call it.
    pub fn describe(&self) -> String {
        let n = |ids: &[EventId]| match ids {
            [one] => format!("event {one}"),
            many => format!("{} events", many.len()),
        };
        let items = |ids: &[i64]| match ids {
            [one] => format!("drift item {one}"),
            many => format!("{} drift items", many.len()),
        };
        match self {
            Command::Retry(ids) => format!("retry {}", n(ids)),
            Command::RetryAllDeadLetters => "retry every dead letter".into(),
            Command::Skip { ids, .. } => format!("skip {}", n(ids)),
            Command::Flag { ids, .. } => format!("flag {} to the HRIS admin", n(ids)),
            Command::ConfirmHeld(ids) => format!("confirm {} held deactivation(s)", ids.len()),
            Command::RejectHeld { ids, .. } => format!("reject {} held deactivation(s)", ids.len()),
            Command::Pause => "pause the engine".into(),
            Command::Resume => "resume the engine".into(),
            Command::ApplyContract(_) => "apply the edited contract".into(),
            Command::FixDrift(ids) => format!("fix {} (push the owner's value)", items(ids)),
            Command::FlagDrift { ids, .. } => format!("flag {} to the HRIS admin", items(ids)),
            Command::AcceptDrift { ids, .. } => format!("accept {}", items(ids)),
            Command::RequestReconcile => "run a reconciliation now".into(),
            Command::NotDuplicate { group, .. } => {
                format!("mark duplicate group {group} as not a duplicate")
            }
            Command::FlagDuplicate { group, .. } => {
                format!("flag duplicate group {group} to the HRIS admin")
            }
            Command::LinkLearner {
                learner, employee, ..
            } => match employee {
                Some(employee) => format!("link learner {learner} to employee {employee}"),
                None => format!("link learner {learner}"),
            },
        }
    }

    /// What the reason prompt asks: a flag is a note for the HRIS admin.
    pub fn reason_question(&self) -> String {
        match self {
            Command::FlagDrift { .. } | Command::FlagDuplicate { .. } => {
                format!("Note for the HRIS admin: {}", self.describe())
            }
            _ => format!("Why {}? (goes to the audit log)", self.describe()),
        }
    }

    /// Still waiting for the operator's reason.
    pub fn lacks_reason(&self) -> bool {
        matches!(
            self,
            Command::Skip { reason: None, .. }
                | Command::Flag { reason: None, .. }
                | Command::RejectHeld { reason: None, .. }
                | Command::FlagDrift { note: None, .. }
                | Command::AcceptDrift { reason: None, .. }
                | Command::NotDuplicate { reason: None, .. }
                | Command::FlagDuplicate { note: None, .. }
        )
    }

    pub fn with_reason(self, text: String) -> Command {
        let reason = Some(text);
        match self {
            Command::Skip { ids, .. } => Command::Skip { ids, reason },
            Command::Flag { ids, .. } => Command::Flag { ids, reason },
            Command::RejectHeld { ids, .. } => Command::RejectHeld { ids, reason },
            Command::FlagDrift { ids, .. } => Command::FlagDrift { ids, note: reason },
            Command::AcceptDrift { ids, expires, .. } => Command::AcceptDrift { ids, reason, expires },
            Command::NotDuplicate { group, .. } => Command::NotDuplicate { group, reason },
            Command::FlagDuplicate { group, .. } => Command::FlagDuplicate { group, note: reason },
            other => other,
        }
    }

    /// Destructive: closes events, applies many at once, changes the mapping,
    /// pushes values, hides drift from later runs, or releases held records.
    /// A flag only adds to the HRIS admin's queue; a run only reads.
    pub fn needs_confirmation(&self) -> bool {
        match self {
            Command::Retry(ids) => ids.len() > 1,
            Command::Pause
            | Command::Resume
            | Command::RequestReconcile
            | Command::FlagDrift { .. }
            | Command::FlagDuplicate { .. } => false,
            _ => true,
        }
    }
}
