//! The one gate for writes: every command the operator asks for comes through
//! `request`, which refuses it in read-only mode, asks for a reason and for a
//! yes where needed, and only then carries it out. Prompts are answered here too.

use crossterm::event::KeyEvent;
use tui_textarea::TextArea;

use super::action::{Action, Command, count_and_sample};
use super::command_line;
use super::contract_view;
use super::state::{Mode, Prompt};
use super::update::Console;
use crate::engine::operator::handle::{HandleError, SafetyOverride};
use crate::model::{Event, EventId};

/// Rows a confirmation shows in detail; the rest are counted and sampled.
pub(super) const DETAILED: usize = 5;

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
            if let Command::ApplyContract(text) = &command {
                self.review_contract(text.clone())?;
            }
            let body = self.confirmation_body(&command);
            self.state.mode = Mode::Confirm { command, body };
            return Ok(());
        }
        self.execute(command)
    }

    /// What every confirmation says, in the same order: how many and which (a
    /// count and a sample of ids), a few of them in detail, what yes does, and
    /// the reason given.
    pub(super) fn confirmation_body(&self, command: &Command) -> Vec<String> {
        let mut body = Vec::new();
        match command {
            Command::RetryAllFailing => body.push(format!(
                "{} retrying events and {} dead letters will be tried again now.",
                self.state.counts.retrying, self.state.counts.dead_letters
            )),
            Command::ApplyContract(text) => {
                body = contract_view::diff(self.state.panes.contract.text.as_deref().unwrap_or(""), text);
            }
            Command::ExplainDifference { legacy, hrsync, .. } => body.push(format!(
                "legacy {} · hrsync {}",
                legacy.as_deref().unwrap_or("(none)"),
                hrsync.as_deref().unwrap_or("(none)")
            )),
            _ => {}
        }
        if let Some((noun, ids)) = command.subjects() {
            body.push(count_and_sample(noun, &ids));
            body.extend(self.rows_in_detail(command, &ids));
        }
        body.extend(command.effect().map(str::to_string));
        if let Some(reason) = command.reason() {
            body.push(format!("reason: {reason}"));
        }
        body
    }

    /// The first few rows a command acts on, as the pane shows them.
    fn rows_in_detail(&self, command: &Command, ids: &[i64]) -> Vec<String> {
        match command {
            Command::FixDrift(_) | Command::AcceptDrift { .. } | Command::FlagDrift { .. } => {
                self.drift_body(command)
            }
            Command::NotDuplicate { .. } | Command::FlagDuplicate { .. } | Command::LinkLearner { .. } => {
                self.duplicate_body(command)
            }
            Command::ConfirmFile { id, .. } => self.file_body(*id),
            _ => {
                let panes = &self.state.panes;
                let rows = panes.failed.list.rows.iter().chain(&panes.held.list.rows);
                let known: Vec<&Event> = rows.filter(|e| ids.contains(&e.id.0)).collect();
                ids.iter()
                    .filter_map(|id| known.iter().find(|e| e.id.0 == *id))
                    .take(DETAILED)
                    .map(|e| format!("event {}  {}  {}", e.id, e.employee_id, e.kind))
                    .collect()
            }
        }
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
            Command::ConfirmFile { .. } => return self.execute_file(command),
            Command::ExplainDifference { .. } => return self.execute_explain(command),
            Command::Retry(ids) => h.retry(&ids).map(|e| e.len()),
            Command::RetryAllFailing => h.retry_all_failing().map(|e| e.len()),
            Command::Skip { ids, reason } => each(&ids, |id| h.skip(id, reason.as_deref().unwrap_or(""))),
            Command::Flag { ids, reason } => each(&ids, |id| h.flag(id, reason.as_deref().unwrap_or(""))),
            Command::ConfirmHeld(ids) => h.confirm_held(&ids).map(|e| e.len()),
            Command::RejectHeld { ids, reason } => h
                .reject_held(&ids, reason.as_deref().unwrap_or(""))
                .map(|e| e.len()),
            Command::LeaveShadow { reason } => h.leave_shadow(reason.as_deref().unwrap_or("")),
            Command::Pause => h.set_paused(true).map(|_| 1),
            Command::Resume => h.set_paused(false).map(|_| 1),
            Command::ApplyContract(text) => {
                let verdict = h.apply_contract(&text)?;
                self.contract_applied(verdict, None);
                return Ok(());
            }
            Command::OverrideSafety {
                text,
                deactivations,
                allowed,
                typed,
            } => {
                let overriding = SafetyOverride {
                    deactivations,
                    allowed,
                    typed,
                };
                let verdict = h.apply_contract_overriding(&text, Some(overriding))?;
                self.contract_applied(verdict, Some(deactivations));
                return Ok(());
            }
        };
        match done {
            Ok(n) => {
                self.state.panes.failed.list.unmark();
                self.state.panes.held.list.unmark();
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
        let hint = (prompt == Prompt::Command).then(|| command_line::hint(&input.lines().join(" ")));
        self.state.mode = Mode::Prompt {
            prompt,
            input,
            refusal: None,
            hint,
        };
    }

    /// Tab in the command line: the word being typed, completed.
    pub(super) fn complete(&mut self) {
        if let Mode::Prompt {
            prompt: Prompt::Command,
            input,
            ..
        } = &self.state.mode
        {
            let line = command_line::complete(&input.lines().join(" "));
            self.prompt(Prompt::Command, line);
        }
    }

    pub(super) fn input(&mut self, key: KeyEvent) {
        match &mut self.state.mode {
            Mode::Prompt {
                prompt,
                input,
                refusal,
                hint,
            } => {
                // One line: Enter is Submit, so only the text's own keys get here.
                input.input(key);
                *refusal = None;
                if *prompt == Prompt::Command {
                    *hint = Some(command_line::hint(&input.lines().join(" ")));
                }
            }
            Mode::EditContract { editor, .. } => {
                editor.input(key);
            }
            _ => {}
        }
    }

    pub(super) fn submit(&mut self) -> Result<(), HandleError> {
        if let Mode::Prompt {
            prompt,
            input,
            refusal,
            ..
        } = &mut self.state.mode
        {
            let empty = input.lines().join(" ").trim().is_empty();
            // An answer the prompt needs and did not get: it stays open, and
            // whatever is typed next goes on into it, never to the pane.
            let needed = match prompt {
                Prompt::Reason(command) => Some(format!(
                    "a reason is required to {}: type it, or Esc to cancel",
                    command.describe()
                )),
                Prompt::LinkEmployee(_) => {
                    Some("an employee id is required: type it, or Esc to cancel".into())
                }
                _ => None,
            };
            if let (true, Some(why)) = (empty, needed) {
                *refusal = Some(why);
                return Ok(());
            }
        }
        match std::mem::take(&mut self.state.mode) {
            Mode::Prompt { prompt, input, .. } => {
                let text = input.lines().join(" ").trim().to_string();
                let value = (!text.is_empty()).then_some(text.clone());
                match prompt {
                    Prompt::Filter => self.filter_text(value)?,
                    Prompt::Command => self.run_command_line(text)?,
                    Prompt::EventEmployee => {
                        let effects = self.state.pane.view().submit(&mut self.state, &prompt, value);
                        self.effects(effects)?;
                    }
                    Prompt::Reason(command) => self.request(command.with_reason(text))?,
                    Prompt::Expiry(command) => self.submit_expiry(command, text)?,
                    Prompt::LinkEmployee(command) => self.submit_link(command, text)?,
                    Prompt::TypeToConfirm { command, word } => self.submit_typed(command, &word, text)?,
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

    /// Esc in the contract editor: an edit is only thrown away after a yes.
    pub(super) fn leave_editor(&mut self) {
        let Mode::EditContract { editor, problems } = std::mem::take(&mut self.state.mode) else {
            return;
        };
        let text = editor.lines().join("\n") + "\n";
        if Some(&text) == self.state.panes.contract.text.as_ref() {
            self.state
                .say("no change made; the contract in force is unchanged");
        } else {
            self.state.mode = Mode::DiscardEdit { editor, problems };
        }
    }

    /// The answer to "discard the edit?".
    pub(super) fn discard_edit(&mut self, discard: bool) {
        let Mode::DiscardEdit { editor, problems } = std::mem::take(&mut self.state.mode) else {
            return;
        };
        if discard {
            self.state
                .say("edit discarded; the contract in force is unchanged");
        } else {
            self.state.mode = Mode::EditContract { editor, problems };
            self.state.say("still editing");
        }
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
                | Action::Explain
                | Action::Request(_)
        )
    }
}
