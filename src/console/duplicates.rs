//! The Duplicates pane's side of `update`: a page of suspected groups, the column
//! cursor over the selected group's members, and the operator's decisions (not a
//! duplicate, flag to the HRIS admin, link a learner), through the one gate.

use super::action::Command;
use super::list::{Fetch, Numbered, by_number};
use super::state::Prompt;
use super::update::Console;
use crate::engine::handle::{EngineHandle, HandleError};
use crate::model::{DuplicateSide, GroupState};
use crate::store::{DuplicateGroup, DuplicateMember};

fn groups_fetch(handle: &EngineHandle, total: usize) -> Box<Fetch<'_, Numbered<DuplicateGroup>>> {
    Box::new(by_number(total, move |offset, limit| {
        handle.duplicate_groups(&[], offset, limit)
    }))
}

/// The employee id a learner most likely belongs to: the one it carries, else its externalId.
pub fn employee_of(member: &DuplicateMember) -> String {
    member
        .employee_id
        .clone()
        .or_else(|| {
            member
                .fields
                .get("externalId")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
        .unwrap_or_default()
}

fn state_word(state: GroupState) -> &'static str {
    match state {
        GroupState::Open => "open",
        GroupState::Flagged => "flagged to the HRIS admin",
        GroupState::NotDuplicate => "marked not a duplicate",
        GroupState::Linked => "linked",
    }
}

impl Console {
    pub(super) fn refresh_duplicates(&mut self) -> Result<(), HandleError> {
        let total = self.state.duplicates.total();
        let groups = &mut self.state.duplicates.groups;
        let mut fetch = groups_fetch(&self.handle, total);
        let before = groups.selected_row().map(|g| g.id);
        if groups.loaded {
            groups.refresh(&mut fetch)?;
        } else {
            groups.load_newest(&mut fetch)?;
        }
        if groups.selected_row().map(|g| g.id) != before {
            self.state.duplicates.column = 0;
        }
        Ok(())
    }

    pub(super) fn move_duplicates(&mut self, delta: isize) -> Result<(), HandleError> {
        let pane = &mut self.state.duplicates;
        let before = pane.group().map(|g| g.id);
        pane.groups
            .move_by(delta, &mut groups_fetch(&self.handle, pane.total()))?;
        if pane.group().map(|g| g.id) != before {
            pane.column = 0;
        }
        Ok(())
    }

    pub(super) fn jump_duplicates(&mut self, first: bool) -> Result<(), HandleError> {
        let pane = &mut self.state.duplicates;
        let mut fetch = groups_fetch(&self.handle, pane.total());
        if first {
            pane.groups.load_newest(&mut fetch)?;
        } else {
            pane.groups.load_oldest(&mut fetch)?;
        }
        pane.column = 0;
        Ok(())
    }

    /// The column cursor: left (-1) or right (+1) over the members.
    pub(super) fn move_column(&mut self, delta: isize) {
        let pane = &mut self.state.duplicates;
        let last = pane.group().map_or(0, |g| g.members.len().saturating_sub(1));
        pane.column = pane.column().saturating_add_signed(delta).min(last);
    }

    /// The group under the cursor when a decision on it still makes sense.
    fn undecided(&mut self) -> Option<DuplicateGroup> {
        let Some(group) = self.state.duplicates.group().cloned() else {
            self.state.say("no suspected duplicate group here");
            return None;
        };
        if !group.state.holds() {
            let by = group.decided_by.as_deref().unwrap_or("an operator");
            self.state.say(format!(
                "group {} is already {} (by {by}); the decision stands while its members stay the same",
                group.id,
                state_word(group.state)
            ));
            return None;
        }
        Some(group)
    }

    pub(super) fn not_duplicate(&mut self) -> Result<(), HandleError> {
        match self.undecided() {
            Some(group) => self.request(Command::NotDuplicate {
                group: group.id,
                reason: None,
            }),
            None => Ok(()),
        }
    }

    pub(super) fn flag_duplicate(&mut self) -> Result<(), HandleError> {
        match self.undecided() {
            Some(group) => self.request(Command::FlagDuplicate {
                group: group.id,
                note: None,
            }),
            None => Ok(()),
        }
    }

    /// Link: the learner under the column cursor, to an employee id the operator
    /// confirms or corrects in a prompt prefilled from the learner.
    pub(super) fn link(&mut self) -> Result<(), HandleError> {
        let Some(group) = self.state.duplicates.group().cloned() else {
            self.state.say("no suspected duplicate group here");
            return Ok(());
        };
        if group.side != DuplicateSide::Lms {
            self.state.warn(format!(
                "group {} is of HRIS employees: link is for learners sharing an email; use n or f",
                group.id
            ));
            return Ok(());
        }
        if group.state == GroupState::Linked {
            self.state.say(format!("group {} is already linked", group.id));
            return Ok(());
        }
        let Some(member) = group.members.get(self.state.duplicates.column()) else {
            return Ok(());
        };
        let learner = member
            .learner_id
            .clone()
            .unwrap_or_else(|| member.member_id.clone());
        let employee = employee_of(member);
        let command = Command::LinkLearner {
            group: group.id,
            learner,
            employee: None,
        };
        self.prompt(Prompt::LinkEmployee(command), employee);
        Ok(())
    }

    pub(super) fn submit_link(&mut self, command: Command, text: String) -> Result<(), HandleError> {
        if text.is_empty() {
            self.state.warn("an employee id is required; nothing was changed");
            return Ok(());
        }
        let Command::LinkLearner { group, learner, .. } = command else {
            return Ok(());
        };
        self.request(Command::LinkLearner {
            group,
            learner,
            employee: Some(text),
        })
    }

    /// What the confirmation says about a group decision.
    pub(super) fn duplicate_body(&self, command: &Command) -> Vec<String> {
        let id = match command {
            Command::NotDuplicate { group, .. } | Command::LinkLearner { group, .. } => *group,
            _ => return Vec::new(),
        };
        let mut body = Vec::new();
        let group = self.state.duplicates.groups.rows.iter().find(|g| g.id == id);
        if let Some(g) = group {
            let members: Vec<&str> = g.members.iter().map(|m| m.member_id.as_str()).collect();
            body.push(format!(
                "group {} · {} side · {} · {}",
                g.id,
                g.side.as_str().to_uppercase(),
                g.basis.describe(),
                members.join(", ")
            ));
        }
        match command {
            Command::NotDuplicate { reason, .. } => {
                body.push("Remembered while the members stay the same; the held records sync now.".into());
                if let Some(reason) = reason {
                    body.push(format!("reason: {reason}"));
                }
            }
            Command::LinkLearner { learner, .. } => {
                let others: Vec<String> = group
                    .into_iter()
                    .flat_map(|g| &g.members)
                    .filter_map(|m| m.learner_id.clone())
                    .filter(|l| l != learner)
                    .collect();
                if !others.is_empty() {
                    body.push(format!("the other learners are unlinked: {}", others.join(", ")));
                }
                body.push("Journaled as a change; the engine applies it with retries and audit.".into());
            }
            _ => {}
        }
        body
    }

    pub(super) fn execute_duplicate(&mut self, command: Command) -> Result<(), HandleError> {
        let what = command.describe();
        let h = &self.handle;
        let done = match &command {
            Command::NotDuplicate { group, reason } => {
                h.not_duplicate(*group, reason.as_deref().unwrap_or(""))
            }
            Command::FlagDuplicate { group, note } => h.flag_duplicate(*group, note.as_deref().unwrap_or("")),
            Command::LinkLearner {
                group,
                learner,
                employee,
            } => h.link_learner(*group, learner, employee.as_deref().unwrap_or("")),
            _ => return Ok(()),
        };
        match done {
            Ok(group) => self.state.say(format!(
                "done: {what}; group {} is {} (in the audit log)",
                group.id,
                state_word(group.state)
            )),
            Err(error) => self.state.warn(format!("could not {what}: {error}")),
        }
        self.refresh()
    }
}
