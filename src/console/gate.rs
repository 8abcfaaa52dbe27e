//! The one gate for writes: every command the operator asks for comes through
//! `request`, which refuses it in read-only mode, asks for a reason and for a
//! yes where needed, and only then carries it out. Prompts are answered here too.

use crossterm::event::KeyEvent;
use tui_textarea::TextArea;

use super::action::{Action, Command};
use super::contract_view;
use super::state::{Mode, Prompt};
use super::update::Console;
use crate::engine::operator::handle::{ContractVerdict, HandleError};
use crate::model::{Event, EventId};

impl Console {
    /// Every write comes here: refused when read-only, then a reason if it needs one,
    /// then a yes if it is destructive, then done.
    pub(super) fn request(&mut self, command: Command) -> Result<(), HandleError> {
        if self.writes_refused() {
            return Ok(());
        }
        if command.lacks_reason() {
            self.prompt(Prompt::Reason(command), String::new());
            return Ok(());
        }
        if matches!(command, Command::AcceptDrift { expires: None, .. }) {
            self.prompt(Prompt::Expiry(command), String::new());
            return Ok(());
        }
        if command.needs_confirmation() {
            let body = self.confirmation_body(&command);
            self.state.mode = Mode::Confirm { command, body };
            return Ok(());
        }
        self.execute(command)
    }

    fn confirmation_body(&self, command: &Command) -> Vec<String> {
        let ids = match command {
            Command::Retry(ids) | Command::ConfirmHeld(ids) => ids.clone(),
            Command::Skip { ids, .. } | Command::Flag { ids, .. } | Command::RejectHeld { ids, .. } => {
                ids.clone()
            }
            Command::RetryAllDeadLetters => {
                return vec![format!(
                    "{} dead letters will be tried again now.",
                    self.state.counts.dead_letters
                )];
            }
            Command::ApplyContract(text) => {
                return contract_view::diff(self.state.panes.contract.text.as_deref().unwrap_or(""), text);
            }
            Command::Pause | Command::Resume => return Vec::new(),
            Command::FixDrift(_)
            | Command::FlagDrift { .. }
            | Command::AcceptDrift { .. }
            | Command::RequestReconcile => return self.drift_body(command),
            Command::NotDuplicate { .. } | Command::FlagDuplicate { .. } | Command::LinkLearner { .. } => {
                return self.duplicate_body(command);
            }
        };
        let rows: Vec<&Event> = [
            &self.state.panes.failed.list.rows,
            &self.state.panes.held.list.rows,
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut body: Vec<String> = ids
            .iter()
            .take(8)
            .map(|id| match rows.iter().find(|e| e.id == *id) {
                Some(e) => format!("event {}  {}  {}", e.id, e.employee_id, e.kind),
                None => format!("event {id}"),
            })
            .collect();
        if ids.len() > 8 {
            body.push(format!("… and {} more", ids.len() - 8));
        }
        if let Command::Skip { reason: Some(r), .. }
        | Command::Flag { reason: Some(r), .. }
        | Command::RejectHeld { reason: Some(r), .. } = command
        {
            body.push(format!("reason: {r}"));
        }
        body
    }

    pub(super) fn execute(&mut self, command: Command) -> Result<(), HandleError> {
        let what = command.describe();
        let h = &self.handle;
        let done = match command {
            Command::FixDrift(_)
            | Command::FlagDrift { .. }
            | Command::AcceptDrift { .. }
            | Command::RequestReconcile => return self.execute_drift(command),
            Command::NotDuplicate { .. } | Command::FlagDuplicate { .. } | Command::LinkLearner { .. } => {
                return self.execute_duplicate(command);
            }
            Command::Retry(ids) => h.retry(&ids).map(|e| e.len()),
            Command::RetryAllDeadLetters => h.retry_all().map(|e| e.len()),
            Command::Skip { ids, reason } => each(&ids, |id| h.skip(id, reason.as_deref().unwrap_or(""))),
            Command::Flag { ids, reason } => each(&ids, |id| h.flag(id, reason.as_deref().unwrap_or(""))),
            Command::ConfirmHeld(ids) => h.confirm_held(&ids).map(|e| e.len()),
            Command::RejectHeld { ids, reason } => h
                .reject_held(&ids, reason.as_deref().unwrap_or(""))
                .map(|e| e.len()),
            Command::Pause => h.set_paused(true).map(|_| 1),
            Command::Resume => h.set_paused(false).map(|_| 1),
            Command::ApplyContract(text) => match h.apply_contract(&text)? {
                ContractVerdict::Applied { version } => {
                    self.state.panes.contract.pending_version = Some(version.clone());
                    self.state.say(format!(
                        "contract {version} handed to the engine; it switches within a second"
                    ));
                    self.store_changed();
                    return Ok(());
                }
                ContractVerdict::Refused(problems) => {
                    self.state.warn(format!(
                        "contract refused: {} problem(s); the old one stays",
                        problems.len()
                    ));
                    return Ok(());
                }
            },
        };
        match done {
            Ok(n) => {
                self.state.panes.failed.chosen.clear();
                self.state.panes.held.chosen.clear();
                self.state
                    .say(format!("done: {what} ({n} changed, in the audit log)"));
            }
            Err(error) => self.state.warn(format!("could not {what}: {error}")),
        }
        self.store_changed();
        Ok(())
    }

    // --- text ---

    pub(super) fn prompt(&mut self, prompt: Prompt, text: String) {
        // A prefill can be a value from outside (a learner's external id): the
        // operator edits and submits what they see, escapes included.
        let mut input = TextArea::new(vec![crate::console::sanitise::visible_string(text)]);
        input.move_cursor(tui_textarea::CursorMove::End);
        self.state.mode = Mode::Prompt { prompt, input };
    }

    pub(super) fn input(&mut self, key: KeyEvent) {
        match &mut self.state.mode {
            Mode::Prompt { input, .. } => {
                // One line: Enter is Submit, so only the text's own keys get here.
                input.input(key);
            }
            Mode::EditContract { editor, .. } => {
                editor.input(key);
            }
            _ => {}
        }
    }

    pub(super) fn submit(&mut self) -> Result<(), HandleError> {
        match std::mem::take(&mut self.state.mode) {
            Mode::Prompt { prompt, input } => {
                let text = input.lines().join(" ").trim().to_string();
                let value = (!text.is_empty()).then_some(text.clone());
                match prompt {
                    Prompt::EventText | Prompt::EventEmployee | Prompt::AuditText => {
                        let effects = self.state.pane.view().submit(&mut self.state, &prompt, value);
                        self.effects(effects)?;
                    }
                    Prompt::Reason(command) => {
                        if text.is_empty() {
                            self.state.warn("a reason is required; nothing was changed");
                            return Ok(());
                        }
                        self.request(command.with_reason(text))?;
                    }
                    Prompt::Expiry(command) => self.submit_expiry(command, text)?,
                    Prompt::LinkEmployee(command) => self.submit_link(command, text)?,
                }
            }
            Mode::EditContract { editor, .. } => {
                let text = editor.lines().join("\n") + "\n";
                match crate::engine::operator::handle::check_contract(&text) {
                    Err(problems) => {
                        self.state.warn(format!(
                            "contract refused: {} problem(s); the contract in force stays",
                            problems.len()
                        ));
                        self.state.mode = Mode::EditContract { editor, problems };
                    }
                    Ok(_) if Some(&text) == self.state.panes.contract.text.as_ref() => {
                        self.state.say("no change to apply");
                    }
                    Ok(_) => self.request(Command::ApplyContract(text))?,
                }
            }
            other => self.state.mode = other,
        }
        Ok(())
    }
}

/// Runs `act` on each id, stopping at the first failure; how many succeeded.
fn each<T>(
    ids: &[EventId],
    mut act: impl FnMut(EventId) -> Result<T, HandleError>,
) -> Result<usize, HandleError> {
    for &id in ids {
        act(id)?;
    }
    Ok(ids.len())
}

impl Action {
    /// Starts a change to the journal or the engine.
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Action::Retry
                | Action::RetryAll
                | Action::Skip
                | Action::Flag
                | Action::ConfirmHeld
                | Action::RejectHeld
                | Action::TogglePause
                | Action::EditContract
                | Action::Fix
                | Action::Accept
                | Action::RunReconcile
                | Action::NotDuplicate
                | Action::Link
                | Action::Request(_)
        )
    }
}
