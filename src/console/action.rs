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
    /// Space: mark the row under the cursor, or unmark it.
    ToggleSelect,
    /// `A`: mark every row the pane's filter matches.
    MarkAll,
    /// Esc with rows marked: let the marks go.
    Unmark,
    Copy,
    FollowTail,
    /// `/`: edit the free-text filter of the pane in front.
    FilterText,
    /// `:`: open the command line.
    CommandLine,
    /// Tab in the command line: complete the word being typed.
    Complete,
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
    /// Drift: all categories → each one → all. Held: the other kind of hold.
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
    /// `T`: trace the employee the row under the cursor names.
    Trace,
    /// Cutover: explain the parallel-run difference under the cursor, with a reason.
    Explain,
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
    /// Every retrying event and dead letter, tried again now.
    RetryAllFailing,
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
    /// An edited contract whose previewed deactivations exceed `[safety]`,
    /// applied after the operator typed `typed` to say so (audited as an override).
    OverrideSafety {
        text: String,
        deactivations: u64,
        allowed: u64,
        typed: String,
    },
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
    /// The groups marked (else the one under the cursor) are not one person each.
    NotDuplicate {
        groups: Vec<i64>,
        reason: Option<String>,
    },
    FlagDuplicate {
        groups: Vec<i64>,
        note: Option<String>,
    },
    LinkLearner {
        group: i64,
        learner: String,
        /// `None` until the operator has confirmed or typed the employee id.
        employee: Option<String>,
    },
    /// Leave shadow mode for good: the engine writes from now on.
    LeaveShadow {
        reason: Option<String>,
    },
    /// A parallel-run difference with the legacy process is explained: it no
    /// longer breaks the streak while both values stay the same.
    ExplainDifference {
        employee_id: String,
        field: String,
        /// Both values, for the confirmation (escaped when drawn).
        legacy: Option<String>,
        hrsync: Option<String>,
        reason: Option<String>,
    },
    /// An HRIS export held whole by the safety threshold is right: take it.
    ConfirmFile {
        id: i64,
        /// The file's name, for the confirmation and the result (escaped when drawn).
        name: String,
        reason: Option<String>,
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
            Command::RetryAllFailing => "retry every retrying event and dead letter".into(),
            Command::Skip { ids, .. } => format!("skip {}", n(ids)),
            Command::Flag { ids, .. } => format!("flag {} to the HRIS admin", n(ids)),
            Command::ConfirmHeld(ids) => format!("confirm {} held deactivation(s)", ids.len()),
            Command::RejectHeld { ids, .. } => format!("reject {} held deactivation(s)", ids.len()),
            Command::Pause => "pause the engine".into(),
            Command::Resume => "resume the engine".into(),
            Command::ApplyContract(_) => "apply the edited contract".into(),
            Command::OverrideSafety { deactivations, .. } => {
                format!("apply the edited contract over [safety] ({deactivations} deactivations)")
            }
            Command::FixDrift(ids) => format!("fix {} (push the owner's value)", items(ids)),
            Command::FlagDrift { ids, .. } => format!("flag {} to the HRIS admin", items(ids)),
            Command::AcceptDrift { ids, .. } => format!("accept {}", items(ids)),
            Command::RequestReconcile => "run a reconciliation now".into(),
            Command::NotDuplicate { groups, .. } => {
                format!("mark {} as not a duplicate", duplicate_groups(groups))
            }
            Command::FlagDuplicate { groups, .. } => {
                format!("flag {} to the HRIS admin", duplicate_groups(groups))
            }
            Command::LinkLearner {
                learner, employee, ..
            } => match employee {
                Some(employee) => format!("link learner {learner} to employee {employee}"),
                None => format!("link learner {learner}"),
            },
            Command::ConfirmFile { id, name, .. } => format!("confirm export file {id} ({name})"),
            Command::LeaveShadow { .. } => "leave shadow mode".into(),
            Command::ExplainDifference {
                employee_id, field, ..
            } => format!("explain the {field} difference of employee {employee_id}"),
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
                | Command::ConfirmFile { reason: None, .. }
                | Command::LeaveShadow { reason: None }
                | Command::ExplainDifference { reason: None, .. }
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
            Command::NotDuplicate { groups, .. } => Command::NotDuplicate { groups, reason },
            Command::FlagDuplicate { groups, .. } => Command::FlagDuplicate { groups, note: reason },
            Command::ConfirmFile { id, name, .. } => Command::ConfirmFile { id, name, reason },
            Command::LeaveShadow { .. } => Command::LeaveShadow { reason },
            Command::ExplainDifference {
                employee_id,
                field,
                legacy,
                hrsync,
                ..
            } => Command::ExplainDifference {
                employee_id,
                field,
                legacy,
                hrsync,
                reason,
            },
            other => other,
        }
    }

    /// Destructive or decisive: closes events, applies many at once, changes the
    /// mapping, pushes values, hides drift from later runs, releases held records,
    /// or hands a record to the HRIS admin. Each waits for the same yes; only a
    /// single retry, pause and resume, and a run (which only reads) go at once.
    pub fn needs_confirmation(&self) -> bool {
        match self {
            Command::Retry(ids) => ids.len() > 1,
            Command::Pause | Command::Resume | Command::RequestReconcile => false,
            _ => true,
        }
    }

    /// What the command acts on: the kind of row and the ids, for the count and
    /// the sample of ids every confirmation names.
    pub fn subjects(&self) -> Option<(&'static str, Vec<i64>)> {
        let events = |ids: &[EventId]| Some(("event", ids.iter().map(|id| id.0).collect()));
        match self {
            Command::Retry(ids) | Command::ConfirmHeld(ids) => events(ids),
            Command::Skip { ids, .. } | Command::Flag { ids, .. } | Command::RejectHeld { ids, .. } => {
                events(ids)
            }
            Command::FixDrift(ids) | Command::FlagDrift { ids, .. } | Command::AcceptDrift { ids, .. } => {
                Some(("drift item", ids.clone()))
            }
            Command::NotDuplicate { groups, .. } | Command::FlagDuplicate { groups, .. } => {
                Some(("duplicate group", groups.clone()))
            }
            Command::LinkLearner { group, .. } => Some(("duplicate group", vec![*group])),
            Command::ConfirmFile { id, .. } => Some(("export file", vec![*id])),
            Command::RetryAllFailing
            | Command::LeaveShadow { .. }
            | Command::ExplainDifference { .. }
            | Command::Pause
            | Command::Resume
            | Command::ApplyContract(_)
            | Command::OverrideSafety { .. }
            | Command::RequestReconcile => None,
        }
    }

    /// The operator's reason (or note), once given.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Command::Skip { reason, .. }
            | Command::Flag { reason, .. }
            | Command::RejectHeld { reason, .. }
            | Command::AcceptDrift { reason, .. }
            | Command::NotDuplicate { reason, .. }
            | Command::ConfirmFile { reason, .. }
            | Command::LeaveShadow { reason }
            | Command::ExplainDifference { reason, .. } => reason.as_deref(),
            Command::FlagDrift { note, .. } | Command::FlagDuplicate { note, .. } => note.as_deref(),
            _ => None,
        }
    }

    /// What saying yes does, in a line, for the confirmation.
    pub fn effect(&self) -> Option<&'static str> {
        Some(match self {
            Command::Retry(_) => "Each is tried again now, in journal order, with its retries afresh.",
            Command::Skip { .. } => "Each is closed without being applied; the HRIS change is not synced.",
            Command::Flag { .. } => "Each is closed and put in the HRIS admin's queue with your note.",
            Command::ConfirmHeld(_) => "Each held change goes ahead now: deactivated learners lose access.",
            Command::RejectHeld { .. } => {
                "Each is closed without being applied; the learners stay as they are."
            }
            Command::FixDrift(_) => "The HRIS value is journaled and pushed to the LMS like any change.",
            Command::FlagDrift { .. } => {
                "Put in the HRIS admin's queue with your note; the difference stays listed."
            }
            Command::FlagDuplicate { .. } => {
                "Put in the HRIS admin's queue with your note; the held records stay held."
            }
            Command::ConfirmFile { .. } => {
                "Taken at the engine's next look at the inbox: the missing are deactivated."
            }
            Command::LeaveShadow { .. } => {
                "The engine writes from now on, for good; every shadowed event is planned again and applied."
            }
            Command::ExplainDifference { .. } => {
                "It stops breaking the streak while both values stay the same; the report lists it."
            }
            _ => return None,
        })
    }
}

/// "duplicate group 5", "3 duplicate groups".
fn duplicate_groups(groups: &[i64]) -> String {
    match groups {
        [one] => format!("duplicate group {one}"),
        many => format!("{} duplicate groups", many.len()),
    }
}

/// A count and a sample of ids: "61 events: 12, 13, 14, 15, 16, 17 … and 55 more".
pub fn count_and_sample(noun: &str, ids: &[i64]) -> String {
    const SAMPLE: usize = 6;
    let shown: Vec<String> = ids.iter().take(SAMPLE).map(i64::to_string).collect();
    let plural = if ids.len() == 1 { "" } else { "s" };
    let mut text = format!("{} {noun}{plural}: {}", ids.len(), shown.join(", "));
    if ids.len() > SAMPLE {
        text.push_str(&format!(" … and {} more", ids.len() - SAMPLE));
    }
    text
}
