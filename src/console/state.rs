//! Everything the console shows, as plain data: `update` changes it, `draw`
//! reads it and nothing else.

use std::collections::BTreeSet;

use jiff::Timestamp;
use tui_textarea::TextArea;

use super::action::Command;
use super::list::{Numbered, Window};
use super::palette::Palette;
pub use super::panes::Pane;
use crate::engine::operator::handle::{ContractProblem, CredentialStatus, EngineStatus};
use crate::model::{AuditEntry, DriftCategory, Event, EventId, RunOutcome};
use crate::store::{
    AuditFilter, CredentialTotals, DriftItem, DuplicateCounts, DuplicateGroup, EventDetail, EventFilter,
    ReconcileRun, StoreCounts,
};

/// What a one-line prompt is for.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    EventText,
    EventEmployee,
    AuditText,
    /// The reason a command needs before it can go on.
    Reason(Command),
    /// Until when an accepted difference stays accepted.
    Expiry(Command),
    /// The employee id a learner is linked to (prefilled from the learner).
    LinkEmployee(Command),
}

impl Prompt {
    pub fn title(&self) -> String {
        match self {
            Prompt::EventText => "Filter events by text (Enter applies, empty clears)".into(),
            Prompt::EventEmployee => "Filter events by employee id (empty clears)".into(),
            Prompt::AuditText => "Filter the audit log by text (empty clears)".into(),
            Prompt::Reason(command) => command.reason_question(),
            Prompt::Expiry(_) => "Accept until? days (30) or a date (2030-12-31); empty: no end".into(),
            Prompt::LinkEmployee(command) => format!("{} to which employee id?", command.describe()),
        }
    }
}

/// What covers the pane, if anything. One at a time.
#[derive(Debug, Default)]
pub enum Mode {
    #[default]
    Normal,
    Help,
    Detail {
        detail: Box<EventDetail>,
        scroll: u16,
    },
    /// A drift item in full: both values and what the run recorded.
    DriftDetail {
        item: Box<DriftItem>,
        scroll: u16,
    },
    Prompt {
        prompt: Prompt,
        input: TextArea<'static>,
    },
    /// The one confirmation every destructive command passes through.
    Confirm {
        command: Command,
        body: Vec<String>,
    },
    EditContract {
        editor: TextArea<'static>,
        problems: Vec<ContractProblem>,
    },
}

/// A one-line note at the bottom: what a command did, or why it was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Flash {
    pub text: String,
    pub error: bool,
}

#[derive(Debug, Default)]
pub struct EventsPane {
    pub list: Window<Event>,
    pub filter: EventFilter,
    /// Follow the tail: the cursor stays on the newest event as events arrive.
    pub follow: bool,
}

/// A list of waiting events (dead letters, held) with the operator's selection.
#[derive(Debug, Default)]
pub struct QueuePane {
    pub list: Window<Event>,
    pub chosen: BTreeSet<EventId>,
}

impl QueuePane {
    /// The chosen events, else the one under the cursor.
    pub fn targets(&self) -> Vec<EventId> {
        if self.chosen.is_empty() {
            self.list.selected_row().map(|e| vec![e.id]).unwrap_or_default()
        } else {
            self.chosen.iter().copied().collect()
        }
    }
}

/// A credential with its place in the list (the list's paging key).
#[derive(Debug, Clone)]
pub struct Ranked {
    pub rank: i64,
    pub credential: CredentialStatus,
}

impl super::list::Keyed for Ranked {
    fn key(&self) -> i64 {
        self.rank
    }
}

/// Credentials expiring within 90 days and expired: the first rows, soonest first.
#[derive(Debug, Default)]
pub struct CredentialsPane {
    pub list: Window<Ranked>,
    pub totals: CredentialTotals,
}

/// The latest reconciliation, its trend, and a page of its items.
#[derive(Debug, Default)]
pub struct DriftPane {
    /// The newest runs first (complete, failed, running): the latest and its trend.
    pub runs: Vec<ReconcileRun>,
    pub next_run: Option<Timestamp>,
    /// The category whose items are listed; `None` lists them all.
    pub category: Option<DriftCategory>,
    pub items: Window<Numbered<DriftItem>>,
    pub chosen: BTreeSet<i64>,
    /// The run whose items `items` holds.
    pub shown_run: Option<i64>,
}

impl DriftPane {
    fn complete(&self) -> impl Iterator<Item = &ReconcileRun> {
        self.runs.iter().filter(|r| r.outcome == RunOutcome::Complete)
    }

    /// The newest complete run: the one whose items are shown.
    pub fn latest(&self) -> Option<&ReconcileRun> {
        self.complete().next()
    }

    /// The complete run before it, for the change per category.
    pub fn previous(&self) -> Option<&ReconcileRun> {
        self.complete().nth(1)
    }

    /// The newest run when it is running or failed after the latest complete one.
    pub fn newer_unfinished(&self) -> Option<&ReconcileRun> {
        let newest = self.runs.first()?;
        (newest.outcome != RunOutcome::Complete).then_some(newest)
    }

    pub fn under_way(&self) -> Option<&ReconcileRun> {
        self.newer_unfinished()
            .filter(|r| r.outcome == RunOutcome::Running)
    }

    /// Items listed in the chosen category of the latest run.
    pub fn listed(&self) -> usize {
        let Some(run) = self.latest() else { return 0 };
        match self.category {
            Some(category) => run.count(category) as usize,
            None => run.total() as usize,
        }
    }

    /// The chosen items, else the one under the cursor.
    pub fn targets(&self) -> Vec<i64> {
        if self.chosen.is_empty() {
            self.items.selected_row().map(|i| vec![i.id]).unwrap_or_default()
        } else {
            self.chosen.iter().copied().collect()
        }
    }
}

/// Suspected duplicate groups (open and flagged first), a page at a time.
#[derive(Debug, Default)]
pub struct DuplicatesPane {
    pub groups: Window<Numbered<DuplicateGroup>>,
    pub counts: DuplicateCounts,
    /// The member under the column cursor in the group under the row cursor.
    pub column: usize,
}

impl DuplicatesPane {
    pub fn group(&self) -> Option<&DuplicateGroup> {
        self.groups.selected_row().map(|g| &g.row)
    }

    pub fn total(&self) -> usize {
        (self.counts.open + self.counts.flagged + self.counts.decided) as usize
    }

    /// The column cursor, kept inside the group's members.
    pub fn column(&self) -> usize {
        let members = self.group().map_or(0, |g| g.members.len());
        self.column.min(members.saturating_sub(1))
    }
}

#[derive(Debug, Default)]
pub struct AuditPane {
    pub list: Window<AuditEntry>,
    pub filter: AuditFilter,
}

#[derive(Debug, Default)]
pub struct ContractPane {
    /// The contract text in force, if the console knows it.
    pub text: Option<String>,
    /// The text as display lines (tables and rules), rebuilt when the text changes.
    pub lines: Vec<String>,
    pub scroll: u16,
    /// Where the last apply stands: "waiting for the engine", "in force".
    pub pending_version: Option<String>,
}

pub struct State {
    pub pane: Pane,
    pub mode: Mode,
    pub read_only: bool,
    pub palette: Palette,
    pub width: u16,
    pub height: u16,
    pub now: Timestamp,
    pub status: Option<EngineStatus>,
    pub counts: StoreCounts,
    pub pause_requested: bool,
    pub in_process: bool,
    pub operator: String,
    pub events: EventsPane,
    pub failed: QueuePane,
    pub held: QueuePane,
    pub drift: DriftPane,
    pub duplicates: DuplicatesPane,
    pub audit: AuditPane,
    pub contract: ContractPane,
    pub credentials: CredentialsPane,
    pub flash: Option<Flash>,
    /// Text to put on the clipboard (OSC 52) at the next draw.
    pub clipboard: Option<String>,
    pub quit: bool,
}

impl State {
    pub fn new(read_only: bool, palette: Palette, operator: String, in_process: bool) -> State {
        State {
            pane: Pane::Events,
            mode: Mode::Normal,
            read_only,
            palette,
            width: 80,
            height: 24,
            now: Timestamp::now(),
            status: None,
            counts: StoreCounts::default(),
            pause_requested: false,
            in_process,
            operator,
            events: EventsPane {
                follow: true,
                ..EventsPane::default()
            },
            failed: QueuePane::default(),
            held: QueuePane::default(),
            drift: DriftPane::default(),
            duplicates: DuplicatesPane::default(),
            audit: AuditPane::default(),
            contract: ContractPane::default(),
            credentials: CredentialsPane::default(),
            flash: None,
            clipboard: None,
            quit: false,
        }
    }

    /// Rows of the list a page key moves by: the body's height, less header and footer.
    pub fn page_rows(&self) -> isize {
        (self.height as isize - 6).max(1)
    }

    pub fn say(&mut self, text: impl Into<String>) {
        self.flash = Some(Flash {
            text: text.into(),
            error: false,
        });
    }

    pub fn warn(&mut self, text: impl Into<String>) {
        self.flash = Some(Flash {
            text: text.into(),
            error: true,
        });
    }
}
