//! The Cutover pane (`0`): the parallel run against the legacy process. Each
//! business day (clean, open differences, or not compared), the streak and the
//! bar in the title, and the latest compared day's differences below, one
//! selectable: `x` asks for a reason and explains it through the gate, as
//! `hrsync parallel explain` does (audited with the console's operator).

use ratatui::Frame;
use ratatui::layout::Rect;

use super::action::{Action, Command};
use super::keys::{Binding, Key::*, moves, write};
use super::panes::{Effect, Pane, PaneView};
use super::read::{Apply, Read};
use super::state::State;
use super::update::Console;
use crate::engine::operator::handle::HandleError;
use crate::engine::operator::handle::{DayState, Standing};
use crate::model::parallel::{Difference, Explanation};

/// The parallel run as last read, and the cursor over the latest day's differences.
#[derive(Debug, Default)]
pub struct CutoverPane {
    pub standing: Option<Standing>,
    pub selected: usize,
    /// The first difference shown, so the list does not jump while the cursor moves.
    pub offset: usize,
}

impl CutoverPane {
    /// The latest compared day's differences, each with its explanation if any.
    pub fn differences(&self) -> Vec<(&Difference, Option<&Explanation>)> {
        let Some(standing) = &self.standing else {
            return Vec::new();
        };
        (standing.latest().iter())
            .flat_map(|day| &day.differences)
            .map(|d| (d, standing.explanation_of(d)))
            .collect()
    }

    pub fn selected_difference(&self) -> Option<(&Difference, Option<&Explanation>)> {
        self.differences().get(self.selected).copied()
    }
}

pub struct CutoverView;

fn step(state: &mut State, delta: isize) {
    let pane = &mut state.panes.cutover;
    let last = pane.differences().len().saturating_sub(1) as isize;
    pane.selected = (pane.selected as isize + delta).clamp(0, last.max(0)) as usize;
}

impl PaneView for CutoverView {
    fn title(&self) -> &'static str {
        "Cutover"
    }

    fn short_title(&self) -> &'static str {
        "Cut"
    }

    /// The unexplained differences of the latest day, "!" once the bar is reached.
    fn badge(&self, state: &State) -> String {
        let Some(standing) = &state.panes.cutover.standing else {
            return String::new();
        };
        match standing.status.days.last().map(|d| d.state) {
            _ if standing.status.bar_reached => " ✓".into(),
            Some(DayState::Differences(n)) => format!(" {n}"),
            _ => String::new(),
        }
    }

    fn keys(&self) -> Vec<Binding> {
        let mut keys = moves();
        keys.push(write(&[Char('x')], "x", "explain", Action::Explain));
        keys
    }

    fn works_here(&self, state: &State, action: &Action) -> bool {
        match action {
            Action::Explain => state
                .panes
                .cutover
                .selected_difference()
                .is_some_and(|(_, explained)| explained.is_none()),
            _ => true,
        }
    }

    fn refresh(&self, _state: &mut State) -> Option<Read> {
        Some(Read::new(Some(Pane::Cutover), |h| {
            let standing = h.parallel_standing()?;
            Ok(Box::new(move |state: &mut State| {
                let pane = &mut state.panes.cutover;
                pane.standing = Some(standing);
                let last = pane.differences().len().saturating_sub(1);
                pane.selected = pane.selected.min(last);
            }) as Apply)
        }))
    }

    fn handle(&self, state: &mut State, action: &Action) -> Vec<Effect> {
        match action {
            Action::Up => step(state, -1),
            Action::Down => step(state, 1),
            Action::PageUp => step(state, -state.page_rows()),
            Action::PageDown => step(state, state.page_rows()),
            Action::Top => state.panes.cutover.selected = 0,
            Action::Bottom => step(state, isize::MAX / 2),
            Action::Explain => {
                let chosen = state.panes.cutover.selected_difference();
                let Some((difference, explained)) = chosen else {
                    state.say("no difference here to explain (the latest compared day has none)");
                    return Vec::new();
                };
                if let Some(e) = explained {
                    let said = format!("already explained by {} ({}): {}", e.by, e.at, e.reason);
                    state.say(super::sanitise::visible_string(said));
                    return Vec::new();
                }
                return vec![Effect::Request(Command::ExplainDifference {
                    employee_id: difference.employee_id.clone(),
                    field: difference.field.clone(),
                    legacy: difference.legacy.clone(),
                    hrsync: difference.hrsync.clone(),
                    reason: None,
                })];
            }
            _ => {}
        }
        Vec::new()
    }

    fn copy(&self, state: &State) -> Option<String> {
        let (difference, _) = state.panes.cutover.selected_difference()?;
        serde_json::to_string_pretty(difference).ok()
    }

    fn keep_visible(&self, state: &mut State) {
        let days = (state.panes.cutover.standing.as_ref()).map_or(0, |s| s.status.days.len());
        let rows = super::draw::cutover::difference_rows(state.width, state.height, days);
        let pane = &mut state.panes.cutover;
        if pane.selected < pane.offset {
            pane.offset = pane.selected;
        } else if rows > 0 && pane.selected >= pane.offset + rows {
            pane.offset = pane.selected + 1 - rows;
        }
    }

    fn draw(&self, state: &State, frame: &mut Frame, area: Rect) {
        super::draw::cutover::pane(state, frame, area);
    }
}

impl Console {
    /// Carries out `x` on a difference; the status line says what came of it.
    pub(super) fn execute_explain(&mut self, command: Command) -> Result<(), HandleError> {
        let what = command.describe();
        let Command::ExplainDifference {
            employee_id,
            field,
            reason,
            ..
        } = command
        else {
            return Ok(());
        };
        let reason = reason.unwrap_or_default();
        match self.handle.explain_difference(&employee_id, &field, &reason) {
            Ok(_) => self.state.say(super::sanitise::visible_string(format!(
                "done: {what} (in the audit log); it keeps the streak while both values stay the same"
            ))),
            Err(error) => self.state.warn(super::sanitise::visible_string(format!(
                "could not {what}: {error}"
            ))),
        }
        self.store_changed();
        Ok(())
    }
}
