//! What the operator asked for, as values: terminal input becomes an `Action`;
//! anything that writes becomes a `Command`, which passes the one gate in `update`.

use crossterm::event::KeyEvent;

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
}

impl Command {
    /// What the confirmation and the result message call it.
    pub fn describe(&self) -> String {
        let n = |ids: &[EventId]| match ids {
            [one] => format!("event {one}"),
            many => format!("{} events", many.len()),
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
        }
    }

    /// Still waiting for the operator's reason.
    pub fn lacks_reason(&self) -> bool {
        matches!(
            self,
            Command::Skip { reason: None, .. }
                | Command::Flag { reason: None, .. }
                | Command::RejectHeld { reason: None, .. }
        )
    }

    pub fn with_reason(self, text: String) -> Command {
        let reason = Some(text);
        match self {
            Command::Skip { ids, .. } => Command::Skip { ids, reason },
            Command::Flag { ids, .. } => Command::Flag { ids, reason },
            Command::RejectHeld { ids, .. } => Command::RejectHeld { ids, reason },
            other => other,
        }
    }

    /// Destructive: closes events, applies many at once, or changes the mapping.
    pub fn needs_confirmation(&self) -> bool {
        match self {
            Command::Retry(ids) => ids.len() > 1,
            Command::Pause | Command::Resume => false,
            _ => true,
        }
    }
}
