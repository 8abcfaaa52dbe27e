//! The Files pane (`[hris] kind = "csv"`): each HRIS export file the engine looked
//! at, newest first, and what became of it: taken, refused (stale or unreadable),
//! held whole by the safety threshold, or confirmed. `c` confirms a held one
//! through the gate, with a reason; the selected file is shown in full below.

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::action::{Action, Command};
use super::gate::DETAILED;
use super::keys::{Binding, Key::*, bind, moves, write};
use super::list::Window;
use super::panes::{Effect, Pane, PaneView, count_badge};
use super::read::{self, Op, Read};
use super::state::State;
use super::update::Console;
use crate::engine::operator::handle::{HandleError, HrisKind};
use crate::model::files::{ExportFile, FileState};
use crate::store::FileTotals;

/// The export files, a page at a time, and how many are in each state.
#[derive(Debug, Default)]
pub struct FilesPane {
    pub list: Window<ExportFile>,
    /// Read with the header, so the tab shows the held ones from any pane.
    pub totals: FileTotals,
}

/// Whether the engine reads its HRIS from an API, so no file will ever come
/// (unknown, before an engine published its status: files may still come).
pub fn hris_is_api(state: &State) -> bool {
    state
        .status
        .as_ref()
        .and_then(|s| s.hris_kind)
        .is_some_and(|kind| kind != HrisKind::Csv)
}

/// Why `c` does nothing on this file, in the status bar.
fn not_held(file: &ExportFile) -> String {
    let name = &file.name;
    match file.state {
        FileState::Taken => format!(
            "export file {} ({name}) was taken already: nothing to confirm",
            file.id
        ),
        FileState::Refused => format!(
            "export file {} ({name}) was refused and is never taken ({}); drop a new export instead",
            file.id,
            if file.is_stale() { "stale" } else { "unreadable" }
        ),
        FileState::Confirmed => format!(
            "export file {} ({name}) is confirmed already: the engine takes it at its next look at the inbox",
            file.id
        ),
        FileState::Held => String::new(),
    }
}

pub struct FilesView;

impl PaneView for FilesView {
    fn title(&self) -> &'static str {
        "Files"
    }

    fn short_title(&self) -> &'static str {
        "File"
    }

    fn badge(&self, state: &State) -> String {
        count_badge(state.panes.files.totals.held)
    }

    fn keys(&self) -> Vec<Binding> {
        let mut keys = moves();
        keys.push(write(&[Char('c')], "c", "confirm held", Action::ConfirmHeld));
        keys.push(bind(&[Code(KeyCode::Enter)], "", "", Action::Open));
        keys
    }

    fn works_here(&self, state: &State, action: &Action) -> bool {
        let file = state.panes.files.list.selected_row();
        match action {
            Action::ConfirmHeld => file.is_some_and(|f| f.state == FileState::Held),
            _ => true,
        }
    }

    fn refresh(&self, state: &mut State) -> Option<Read> {
        self.list(state, Op::Refresh)
    }

    fn handle(&self, state: &mut State, action: &Action) -> Vec<Effect> {
        if let Some(op) = Op::of_move(action, state.page_rows()) {
            return self.list(state, op).map(Effect::Read).into_iter().collect();
        }
        match action {
            Action::ConfirmHeld => {
                let Some(file) = state.panes.files.list.selected_row() else {
                    state.say("no export file here to confirm");
                    return Vec::new();
                };
                if file.state != FileState::Held {
                    let why = not_held(file);
                    state.say(why);
                    return Vec::new();
                }
                vec![Effect::Request(Command::ConfirmFile {
                    id: file.id,
                    name: file.name.clone(),
                    reason: None,
                })]
            }
            Action::Open => {
                state.say("the selected file is shown in full below the list");
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn list(&self, state: &mut State, op: Op) -> Option<Read> {
        read::list(
            Pane::Files,
            &mut state.panes.files.list,
            op,
            |h, from, toward, limit| h.export_files(from, toward, limit),
            |s, w| s.panes.files.list = w,
        )
    }

    fn copy(&self, state: &State) -> Option<String> {
        let file = state.panes.files.list.selected_row()?;
        serde_json::to_string_pretty(file).ok()
    }

    fn keep_visible(&self, state: &mut State) {
        let rows = super::layout::files_list_rows(state.width, state.height);
        state.panes.files.list.keep_visible(rows);
    }

    fn draw(&self, state: &State, frame: &mut Frame, area: Rect) {
        super::draw::files::pane(state, frame, area);
    }
}

impl Console {
    /// What confirming a held file does, for the confirmation: from the counts
    /// the engine recorded when it held the file.
    pub(super) fn file_body(&self, id: i64) -> Vec<String> {
        let rows = &self.state.panes.files.list.rows;
        let Some(file) = rows.iter().find(|f| f.id == id) else {
            return Vec::new();
        };
        let c = &file.counts;
        let mut body = vec![
            format!(
                "{} learners would be deactivated (missing from it; never deleted)",
                c.missing
            ),
            format!(
                "{} rows: {} inserted, {} updated, {} unchanged, {} rejected",
                c.rows, c.inserted, c.updated, c.unchanged, c.rejected
            ),
        ];
        body.truncate(DETAILED);
        body
    }

    /// Carries out `c` on a held file; the status line says what came of it.
    pub(super) fn execute_file(&mut self, command: Command) -> Result<(), HandleError> {
        let what = command.describe();
        let Command::ConfirmFile { id, reason, .. } = command else {
            return Ok(());
        };
        match self.handle.confirm_file(id, reason.as_deref().unwrap_or("")) {
            Ok(_) => self.state.say(format!(
                "done: {what} (in the audit log); the engine takes it at its next look at the inbox"
            )),
            Err(error) => self.state.warn(format!("could not {what}: {error}")),
        }
        self.store_changed();
        Ok(())
    }
}
