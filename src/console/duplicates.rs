//! The Duplicates pane: suspected groups, the column cursor over the selected
//! group's members, and the operator's decisions (not a duplicate, flag to the
//! HRIS admin, link a learner), through the one gate.

use std::collections::BTreeSet;

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::action::{Action, Command};
use super::gate::DETAILED;
use super::keys::{Binding, Key::*, bind, moves, write};
use super::list::{Numbered, Window, by_number};
use super::panes::{Effect, Pane, PaneView, count_badge};
use super::read::{self, Op, Read};
use super::state::{Prompt, State};
use super::update::Console;
use crate::engine::operator::handle::{EngineHandle, HandleError};
use crate::model::{DuplicateSide, GroupState};
use crate::store::{DuplicateCounts, DuplicateGroup, DuplicateMember, Toward};

/// Suspected duplicate groups (open and flagged first), a page at a time.
#[derive(Debug, Default)]
pub struct DuplicatesPane {
    pub groups: Window<Numbered<DuplicateGroup>>,
    pub counts: DuplicateCounts,
    /// The member under the column cursor in the group under the row cursor.
    pub column: usize,
    /// The `/` filter's text: groups whose key or members contain it.
    pub text: Option<String>,
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

pub struct DuplicatesView;

/// A read of the groups; the column cursor goes back to the first member when
/// the group under the row cursor changes.
fn groups(state: &mut State, op: Op) -> Option<Read> {
    let pane = &mut state.panes.duplicates;
    // The header's counts give the total, unless a filter narrows it.
    let (known, text) = (pane.text.is_none().then(|| pane.total()), pane.text.clone());
    let before = pane.group().map(|g| g.id);
    let fetch = move |h: &EngineHandle, from: Option<i64>, toward: Toward, limit: usize| {
        let text = text.as_deref();
        let total = match known {
            Some(total) => total,
            None => h.duplicate_groups_count(text)?,
        };
        by_number(total, |offset, limit| {
            h.duplicate_groups_matching(text, offset, limit)
        })(from, toward, limit)
    };
    let read = read::list(Pane::Duplicates, &mut pane.groups, op, fetch, move |s, w| {
        s.panes.duplicates.groups = w;
        if s.panes.duplicates.group().map(|g| g.id) != before || matches!(op, Op::Newest | Op::Oldest) {
            s.panes.duplicates.column = 0;
        }
    });
    if read.is_none() && state.panes.duplicates.group().map(|g| g.id) != before {
        state.panes.duplicates.column = 0;
    }
    read
}

fn effects(read: Option<Read>) -> Vec<Effect> {
    read.into_iter().map(Effect::from).collect()
}

/// The groups a decision is for: the marked ones (the store refuses any
/// already decided, each named), else the one under the cursor when a
/// decision on it still makes sense.
fn to_decide(state: &mut State) -> Option<Vec<i64>> {
    let marked = &state.panes.duplicates.groups.marked;
    if !marked.is_empty() {
        return Some(marked.iter().copied().collect());
    }
    undecided(state).map(|g| vec![g.id])
}

/// The group under the cursor when a decision on it still makes sense.
fn undecided(state: &mut State) -> Option<DuplicateGroup> {
    let Some(group) = state.panes.duplicates.group().cloned() else {
        state.say("no suspected duplicate group here");
        return None;
    };
    if !group.state.holds() {
        let by = group.decided_by.as_deref().unwrap_or("an operator");
        state.say(format!(
            "group {} is already {} (by {by}); the decision stands while its members stay the same",
            group.id,
            state_word(group.state)
        ));
        return None;
    }
    Some(group)
}

/// Link: the learner under the column cursor, to an employee id the operator
/// confirms or corrects in a prompt prefilled from the learner.
fn link(state: &mut State) -> Vec<Effect> {
    let Some(group) = state.panes.duplicates.group().cloned() else {
        state.say("no suspected duplicate group here");
        return Vec::new();
    };
    if group.side != DuplicateSide::Lms {
        state.warn(format!(
            "group {} is of HRIS employees: link is for learners sharing an email; use n or f",
            group.id
        ));
        return Vec::new();
    }
    if group.state == GroupState::Linked {
        state.say(format!("group {} is already linked", group.id));
        return Vec::new();
    }
    let Some(member) = group.members.get(state.panes.duplicates.column()) else {
        return Vec::new();
    };
    let learner = member
        .learner_id
        .clone()
        .unwrap_or_else(|| member.member_id.clone());
    let command = Command::LinkLearner {
        group: group.id,
        learner,
        employee: None,
    };
    vec![Effect::Prompt(Prompt::LinkEmployee(command), employee_of(member))]
}

impl PaneView for DuplicatesView {
    fn title(&self) -> &'static str {
        "Dups"
    }

    fn badge(&self, state: &State) -> String {
        count_badge(state.panes.duplicates.counts.open + state.panes.duplicates.counts.flagged)
    }

    fn keys(&self) -> Vec<Binding> {
        let mut keys = moves();
        keys.extend([
            bind(&[Char('l'), Code(KeyCode::Right)], "h/l", "member", Action::Right),
            bind(&[Char('h'), Code(KeyCode::Left)], "", "", Action::Left),
            write(&[Char('n')], "n", "not a duplicate", Action::NotDuplicate),
            write(&[Char('f')], "f", "flag", Action::Flag),
            write(&[Char('L')], "L", "link", Action::Link),
        ]);
        keys
    }

    fn works_here(&self, state: &State, action: &Action) -> bool {
        let group = state.panes.duplicates.group();
        match action {
            Action::Left | Action::Right => group.is_some_and(|g| g.members.len() > 1),
            Action::NotDuplicate | Action::Flag => {
                !state.panes.duplicates.groups.marked.is_empty() || group.is_some_and(|g| g.state.holds())
            }
            Action::Link => {
                group.is_some_and(|g| g.side == DuplicateSide::Lms && g.state != GroupState::Linked)
            }
            _ => true,
        }
    }

    fn refresh(&self, state: &mut State) -> Option<Read> {
        let op = if state.panes.duplicates.groups.loaded {
            Op::Refresh
        } else {
            Op::Newest
        };
        groups(state, op)
    }

    fn handle(&self, state: &mut State, action: &Action) -> Vec<Effect> {
        match action {
            Action::Up => effects(groups(state, Op::Move(-1))),
            Action::Down => effects(groups(state, Op::Move(1))),
            Action::PageUp => effects(groups(state, Op::Move(-state.page_rows()))),
            Action::PageDown => effects(groups(state, Op::Move(state.page_rows()))),
            Action::Top => effects(groups(state, Op::Newest)),
            Action::Bottom => effects(groups(state, Op::Oldest)),
            Action::Left | Action::Right => {
                let delta = if *action == Action::Left { -1 } else { 1 };
                let pane = &mut state.panes.duplicates;
                let last = pane.group().map_or(0, |g| g.members.len().saturating_sub(1));
                pane.column = pane.column().saturating_add_signed(delta).min(last);
                Vec::new()
            }
            Action::NotDuplicate => to_decide(state)
                .map(|groups| Effect::Request(Command::NotDuplicate { groups, reason: None }))
                .into_iter()
                .collect(),
            Action::Flag => to_decide(state)
                .map(|groups| Effect::Request(Command::FlagDuplicate { groups, note: None }))
                .into_iter()
                .collect(),
            Action::Link => link(state),
            _ => Vec::new(),
        }
    }

    fn text_filter<'s>(&self, state: &'s State) -> Option<Option<&'s str>> {
        Some(state.panes.duplicates.text.as_deref())
    }

    fn marks<'s>(&self, state: &'s State) -> Option<&'s BTreeSet<i64>> {
        Some(&state.panes.duplicates.groups.marked)
    }

    fn set_text_filter(&self, state: &mut State, text: Option<String>) -> Vec<Effect> {
        state.panes.duplicates.text = text;
        effects(groups(state, Op::Newest))
    }

    fn list(&self, state: &mut State, op: Op) -> Option<Read> {
        groups(state, op)
    }

    /// The member under the column cursor: `h`/`l` pick which of the group `T` traces.
    fn employee(&self, state: &State) -> Option<Option<String>> {
        let pane = &state.panes.duplicates;
        let member = pane.group().and_then(|g| g.members.get(pane.column()));
        Some(member.map(employee_of).filter(|id| !id.is_empty()))
    }

    fn copy(&self, state: &State) -> Option<String> {
        let group = state.panes.duplicates.group()?;
        Some(serde_json::to_string(group).unwrap_or_default())
    }

    fn keep_visible(&self, state: &mut State) {
        let (_, rows) = super::layout::review_list_rows(state.width, state.height);
        state.panes.duplicates.groups.keep_visible(rows);
    }

    fn draw(&self, state: &State, frame: &mut Frame, area: Rect) {
        super::draw::duplicates::pane(state, frame, area);
    }
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
    /// The employee id is in (the prompt does not close on an empty one).
    pub(super) fn submit_link(&mut self, command: Command, text: String) -> Result<(), HandleError> {
        let Command::LinkLearner { group, learner, .. } = command else {
            return Ok(());
        };
        self.request(Command::LinkLearner {
            group,
            learner,
            employee: Some(text),
        })
    }

    /// What the confirmation says about a group decision: the first few groups, and what yes does.
    pub(super) fn duplicate_body(&self, command: &Command) -> Vec<String> {
        let ids = match command {
            Command::NotDuplicate { groups, .. } | Command::FlagDuplicate { groups, .. } => groups.clone(),
            Command::LinkLearner { group, .. } => vec![*group],
            _ => return Vec::new(),
        };
        let rows = &self.state.panes.duplicates.groups.rows;
        let shown: Vec<&DuplicateGroup> = ids
            .iter()
            .filter_map(|id| rows.iter().find(|g| g.id == *id).map(|g| &g.row))
            .take(DETAILED)
            .collect();
        let mut body: Vec<String> = shown
            .iter()
            .map(|g| {
                let members: Vec<&str> = g.members.iter().map(|m| m.member_id.as_str()).collect();
                format!(
                    "group {} · {} side · {} · {}",
                    g.id,
                    g.side.as_str().to_uppercase(),
                    g.basis.describe(),
                    members.join(", ")
                )
            })
            .collect();
        match command {
            Command::NotDuplicate { .. } => {
                body.push("Remembered while the members stay the same; the held records sync now.".into());
            }
            Command::LinkLearner { learner, .. } => {
                let others: Vec<String> = shown
                    .iter()
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

    /// Carries out a group decision, group by group; the status line names
    /// each one refused (already decided, say) and why.
    pub(super) fn execute_duplicate(&mut self, command: Command) -> Result<(), HandleError> {
        let what = command.describe();
        let h = &self.handle;
        let done: Vec<(i64, Result<DuplicateGroup, HandleError>)> = match &command {
            Command::NotDuplicate { groups, reason } => groups
                .iter()
                .map(|&g| (g, h.not_duplicate(g, reason.as_deref().unwrap_or(""))))
                .collect(),
            Command::FlagDuplicate { groups, note } => groups
                .iter()
                .map(|&g| (g, h.flag_duplicate(g, note.as_deref().unwrap_or(""))))
                .collect(),
            Command::LinkLearner {
                group,
                learner,
                employee,
            } => vec![(
                *group,
                h.link_learner(*group, learner, employee.as_deref().unwrap_or("")),
            )],
            _ => return Ok(()),
        };
        let refused: Vec<String> = done
            .iter()
            .filter_map(|(g, r)| r.as_ref().err().map(|e| format!("group {g}: {e}")))
            .collect();
        match done.as_slice() {
            [(_, Ok(group))] => self.state.say(format!(
                "done: {what}; group {} is {} (in the audit log)",
                group.id,
                state_word(group.state)
            )),
            _ if refused.is_empty() => self.state.say(format!("done: {what} (in the audit log)")),
            _ => self.state.warn(format!(
                "could not {what}: {} of {} refused: {}",
                refused.len(),
                done.len(),
                refused.join("; ")
            )),
        }
        if refused.is_empty() {
            self.state.panes.duplicates.groups.unmark();
        }
        self.store_changed();
        Ok(())
    }
}
