//! Everything the console shows, as plain data: `update` changes it, `draw`
//! reads it and nothing else. Each pane's own state (its rows, filter,
//! selection) is declared in the pane's file, beside its view.

use jiff::Timestamp;
use tui_textarea::TextArea;

use super::action::Command;
use super::palette::Palette;
pub use super::panes::Pane;
use super::panes::Panes;
use crate::engine::operator::handle::{ContractProblem, EngineStatus};
use crate::store::{DriftItem, EventDetail, StoreCounts};

/// What a one-line prompt is for.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// The `/` filter of the pane in front.
    Filter,
    /// The `:` command line.
    Command,
    EventEmployee,
    /// The reason a command needs before it can go on.
    Reason(Command),
    /// Until when an accepted difference stays accepted.
    Expiry(Command),
    /// The employee id a learner is linked to (prefilled from the learner).
    LinkEmployee(Command),
    /// A command so far-reaching that a yes is not enough: `word` must be typed
    /// (an edited contract deactivating more than `[safety]` allows).
    TypeToConfirm {
        command: Command,
        word: String,
    },
}

impl Prompt {
    pub fn title(&self) -> String {
        match self {
            Prompt::Filter => "Filter by text (Enter applies, empty clears)".into(),
            Prompt::Command => ":command (Tab completes, Enter runs, Esc cancels)".into(),
            Prompt::EventEmployee => "Filter events by employee id (empty clears)".into(),
            Prompt::Reason(command) => command.reason_question(),
            Prompt::Expiry(_) => "Accept until? days (30) or a date (2030-12-31); empty: no end".into(),
            Prompt::LinkEmployee(command) => format!("{} to which employee id?", command.describe()),
            Prompt::TypeToConfirm { word, .. } => {
                format!("Over [safety]: type \"{word}\" to apply (Esc: back to the review)")
            }
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
    /// `T`: one employee through the pipeline, as `hrsync trace` shows it
    /// (`lines` already made safe to show); "tracing …" until it is back.
    Trace {
        employee: String,
        lines: Vec<String>,
        scroll: u16,
    },
    /// A one-line prompt. It keeps every key typed until Enter or Esc; an
    /// answer it cannot take keeps it open, saying why (`refusal`).
    Prompt {
        prompt: Prompt,
        input: TextArea<'static>,
        refusal: Option<String>,
        /// What may be typed next (the command line's completions).
        hint: Option<String>,
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
    /// Esc in the contract editor with changes made: discard them, or keep editing.
    DiscardEdit {
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
    /// Each pane's own state, a field per pane (`panes.events`, `panes.failed`, …).
    pub panes: Panes,
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
            panes: Panes::default(),
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
