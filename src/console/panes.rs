//! The panes as components: each implements [`PaneView`] in its own file (what
//! it reads, its keys, what they do, how it draws, its columns), and the
//! registry below lists them in the order of their digit keys. Adding a pane is
//! its file, its state in [`State`], and one line here.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::action::{Action, Command};
use super::keys::Binding;
use super::read::Read;
use super::state::{Prompt, State};

/// What a pane asks of the console when it handles an action.
pub enum Effect {
    /// A store read, run off the UI loop.
    Read(Read),
    /// A write, through the one gate (read-only, reason, confirmation).
    Request(Command),
    /// A one-line prompt, prefilled.
    Prompt(Prompt, String),
}

impl From<Read> for Effect {
    fn from(read: Read) -> Effect {
        Effect::Read(read)
    }
}

/// One pane of the console.
pub trait PaneView: Sync {
    /// Its tab's name.
    fn title(&self) -> &'static str;

    /// What its tab shows beside the name: " 3", " 12!" (empty for nothing).
    fn badge(&self, _state: &State) -> String {
        String::new()
    }

    /// Its keys in normal mode, for the key table, the footer and `?`.
    fn keys(&self) -> Vec<Binding>;

    /// Whether a key of it does anything where the cursor is (the footer shows those).
    fn works_here(&self, _state: &State, _action: &Action) -> bool {
        true
    }

    /// The read that brings the rows in view up to date (the store changed, or
    /// the pane came to the front).
    fn refresh(&self, state: &mut State) -> Option<Read>;

    /// An action while it is in front, in normal mode.
    fn handle(&self, state: &mut State, action: &Action) -> Vec<Effect>;

    /// A filter prompt of its own, answered (`None`: emptied).
    fn submit(&self, _state: &mut State, _prompt: &Prompt, _value: Option<String>) -> Vec<Effect> {
        Vec::new()
    }

    /// What `y` copies: the row under the cursor.
    fn copy(&self, _state: &State) -> Option<String> {
        None
    }

    /// Keeps the cursor in view after a move or a resize.
    fn keep_visible(&self, _state: &mut State) {}

    fn draw(&self, state: &State, frame: &mut Frame, area: Rect);
}

/// " N" for a count above zero.
pub fn count_badge(n: u64) -> String {
    if n > 0 { format!(" {n}") } else { String::new() }
}

macro_rules! registry {
    ($($(#[$doc:meta])* $pane:ident => $view:path,)*) => {
        /// The panes, in the order of their digit keys (SPEC §5 first).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Pane {
            $($(#[$doc])* $pane,)*
        }

        impl Pane {
            pub const ALL: &[Pane] = &[$(Pane::$pane,)*];

            /// The component that shows this pane.
            pub fn view(self) -> &'static dyn PaneView {
                match self {
                    $(Pane::$pane => &$view,)*
                }
            }
        }
    };
}

registry! {
    Events => super::events::EventsView,
    Failed => super::failed::FailedView,
    Drift => super::drift::DriftView,
    Duplicates => super::duplicates::DuplicatesView,
    Contract => super::contract_view::ContractView,
    Audit => super::audit::AuditView,
    Held => super::held::HeldView,
    Credentials => super::credentials::CredentialsView,
}

impl Pane {
    pub fn title(self) -> &'static str {
        self.view().title()
    }

    pub fn index(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }

    pub fn by_digit(digit: char) -> Option<Pane> {
        let n = digit.to_digit(10)? as usize;
        Pane::ALL.get(n.checked_sub(1)?).copied()
    }

    pub fn next(self) -> Pane {
        Pane::ALL[(self.index() + 1) % Pane::ALL.len()]
    }

    pub fn prev(self) -> Pane {
        Pane::ALL[(self.index() + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }
}
