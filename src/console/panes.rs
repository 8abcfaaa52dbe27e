//! The panes as components: each implements [`PaneView`] in its own file (what
//! it reads, its keys, what they do, how it draws, its columns) beside the
//! state it keeps. The `registry!` in `console/mod.rs` lists them in the order
//! of their digit keys, one line each: the `Pane` variant, the module, the view,
//! and the state's field and type.
//!
//! Adding a pane is two edits: its file (say `src/console/jobs.rs` with a
//! `JobsView` implementing [`PaneView`] and a `JobsPane` that is `Default`),
//! and one registry line, `Jobs => jobs::JobsView, jobs: jobs::JobsPane,`.
//! Its state is then `state.panes.jobs`, its digit key its place in the list
//! (a key no pane had before also needs its `Action`).
//! `cargo fmt` does not see the modules the registry declares; a test here
//! checks their formatting (`rustfmt --edition 2024 src/console/*.rs` fixes it).

use std::collections::BTreeSet;

use ratatui::Frame;
use ratatui::layout::Rect;

use super::action::{Action, Command};
use super::keys::Binding;
use super::read::{Op, Read};
use super::state::{Prompt, State};
pub use super::{Pane, Panes};

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

    /// Its tab's name when the tab row is too narrow for every full name.
    fn short_title(&self) -> &'static str {
        self.title()
    }

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

    /// The ids marked in its list, when its rows are marked the console's one
    /// way (Space, `A` for every row the filter matches, Esc to unmark) through
    /// [`PaneView::list`]; `None` for a pane that marks nothing.
    fn marks<'s>(&self, _state: &'s State) -> Option<&'s BTreeSet<i64>> {
        None
    }

    /// The read of its list for `op` (`None`: done at once, or no list).
    fn list(&self, _state: &mut State, _op: Op) -> Option<Read> {
        None
    }

    /// Its `/` filter's text (`Some(None)`: none yet), when its list is
    /// filtered by text; `None` for a pane without one.
    fn text_filter<'s>(&self, _state: &'s State) -> Option<Option<&'s str>> {
        None
    }

    /// The `/` filter answered (`None`: emptied): kept, and the list read again
    /// from the top.
    fn set_text_filter(&self, _state: &mut State, _text: Option<String>) -> Vec<Effect> {
        Vec::new()
    }

    /// A filter prompt of its own, answered (`None`: emptied).
    fn submit(&self, _state: &mut State, _prompt: &Prompt, _value: Option<String>) -> Vec<Effect> {
        Vec::new()
    }

    /// The employee the row under the cursor names, for `T` (`Some(None)`: no
    /// row there names one now); `None` for a pane whose rows name no employee.
    fn employee(&self, _state: &State) -> Option<Option<String>> {
        None
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

/// The pane registry, invoked once, in `console/mod.rs` (a `mod` it declares
/// there finds its file beside mod.rs). One line per pane, in the order of the
/// digit keys:
///
/// ```text
/// Variant => module::View, field: StateType,
/// ```
///
/// declares `mod module;`, the variant `Pane::Variant` shown by `module::View`,
/// and the pane's state at `state.panes.field`, made with `StateType::default()`.
/// Doc comments above a line document the variant and the field.
macro_rules! registry {
    ($($(#[$doc:meta])* $pane:ident => $module:ident::$view:ident, $field:ident: $state:ty,)*) => {
        $(mod $module;)*

        /// The panes, in the order of their digit keys (SPEC §5 first).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Pane {
            $($(#[$doc])* $pane,)*
        }

        impl Pane {
            pub const ALL: &[Pane] = &[$(Pane::$pane,)*];

            /// The component that shows this pane.
            pub fn view(self) -> &'static dyn $crate::console::panes::PaneView {
                match self {
                    $(Pane::$pane => &$module::$view,)*
                }
            }
        }

        /// Each pane's own state (its rows, filter, selection), a field per pane.
        #[derive(Debug, Default)]
        pub struct Panes {
            $($(#[$doc])* pub $field: $state,)*
        }
    };
}
pub(super) use registry;

impl Pane {
    pub fn title(self) -> &'static str {
        self.view().title()
    }

    pub fn index(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }

    /// The pane of a digit key: `1` the first, …, `9` the ninth, `0` the tenth.
    pub fn by_digit(digit: char) -> Option<Pane> {
        let n = digit.to_digit(10)? as usize;
        let n = if n == 0 { 10 } else { n };
        Pane::ALL.get(n - 1).copied()
    }

    /// The digit key of this pane (the tenth is `0`).
    pub fn digit(self) -> usize {
        (self.index() + 1) % 10
    }

    pub fn next(self) -> Pane {
        Pane::ALL[(self.index() + 1) % Pane::ALL.len()]
    }

    pub fn prev(self) -> Pane {
        Pane::ALL[(self.index() + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    /// `cargo fmt` follows `mod` lines but not those a macro writes
    /// (rustfmt#3253), so it never reaches the files the registry declares.
    #[test]
    fn the_pane_files_are_formatted() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/console");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("src/console is readable")
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|path| path.extension().is_some_and(|e| e == "rs"))
            .collect();
        files.sort();
        let out = Command::new("rustfmt")
            .args(["--check", "--edition", "2024"])
            .args(&files)
            .output()
            .expect("rustfmt runs (rustup component add rustfmt)");
        assert!(
            out.status.success(),
            "cargo fmt does not reach the pane files; run `rustfmt --edition 2024 src/console/*.rs`\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
