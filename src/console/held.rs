//! The Held pane: events waiting for an operator's word, in two views that ask
//! different things. Deactivations held by the safety threshold: `c` lets them
//! go ahead, `x` closes them with a reason. Changes of a newcomer to a suspected
//! duplicate group: decided in the Dups pane, `x` closes them with a reason.

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::Rect;
use std::collections::BTreeSet;

use super::action::{Action, Command};
use super::events::{copy_event, events_read, open_event};
use super::keys::{Binding, Key::*, bind, moves, write};
use super::list::Window;
use super::panes::{Effect, Pane, PaneView, count_badge};
use super::read::{Op, Read};
use super::state::State;
use crate::model::{Event, EventId, HoldKind};
use crate::store::{EventFilter, HeldCounts};

/// The held events of one kind of hold, a page at a time, with the marks.
#[derive(Debug)]
pub struct HeldPane {
    pub list: Window<Event>,
    /// Which hold the list shows (`v` switches).
    pub kind: HoldKind,
    /// The `/` filter's text.
    pub text: Option<String>,
    /// How many each kind holds, read with the header.
    pub counts: HeldCounts,
}

impl Default for HeldPane {
    /// The safety threshold's deactivations first: the hold with the wider reach.
    fn default() -> HeldPane {
        HeldPane {
            list: Window::default(),
            kind: HoldKind::SafetyThreshold,
            text: None,
            counts: HeldCounts::default(),
        }
    }
}

impl HeldPane {
    pub fn filter(&self) -> EventFilter {
        EventFilter {
            hold: Some(self.kind),
            text: self.text.clone(),
            ..EventFilter::default()
        }
    }

    fn targets(&self) -> Vec<EventId> {
        self.list.targets().into_iter().map(EventId).collect()
    }
}

/// What a view of the pane is called, in full and short, and what its keys do.
pub struct HoldView {
    pub name: &'static str,
    pub short: &'static str,
    pub keys: &'static str,
}

pub fn describe(kind: HoldKind) -> HoldView {
    match kind {
        HoldKind::SafetyThreshold => HoldView {
            name: "deactivations held by the safety threshold",
            short: "safety threshold",
            keys: "c lets them go ahead (those learners lose access) · x closes them with a reason",
        },
        HoldKind::SuspectedDuplicate => HoldView {
            name: "changes held as suspected duplicates",
            short: "suspected duplicates",
            keys: "d decides them in the Dups pane (not a duplicate, link) · x closes them with a reason",
        },
    }
}

pub struct HeldView;

fn effects(read: Option<Read>) -> Vec<Effect> {
    read.into_iter().map(Effect::from).collect()
}

/// A command on the marked rows, else the one under the cursor.
fn on_targets(state: &mut State, make: impl FnOnce(Vec<EventId>) -> Command) -> Vec<Effect> {
    let ids = state.panes.held.targets();
    if ids.is_empty() {
        state.say("nothing held here to act on");
        return Vec::new();
    }
    vec![Effect::Request(make(ids))]
}

impl PaneView for HeldView {
    fn title(&self) -> &'static str {
        "Held"
    }

    fn badge(&self, state: &State) -> String {
        count_badge(state.counts.held)
    }

    fn keys(&self) -> Vec<Binding> {
        let mut keys = moves();
        keys.extend([
            bind(&[Code(KeyCode::Enter)], "Enter", "detail", Action::Open),
            bind(&[Char('v')], "v", "other hold", Action::CycleCategory),
            write(&[Char('c')], "c", "confirm", Action::ConfirmHeld),
            bind(
                &[Char('d')],
                "d",
                "decide in Dups",
                Action::GoPane(Pane::Duplicates),
            ),
            write(&[Char('x')], "x", "reject", Action::RejectHeld),
        ]);
        keys
    }

    fn works_here(&self, state: &State, action: &Action) -> bool {
        let pane = &state.panes.held;
        let row = pane.list.selected_row().is_some();
        match action {
            Action::ConfirmHeld => row && pane.kind == HoldKind::SafetyThreshold,
            Action::GoPane(_) => pane.kind == HoldKind::SuspectedDuplicate,
            Action::Open | Action::RejectHeld => row,
            _ => true,
        }
    }

    fn refresh(&self, state: &mut State) -> Option<Read> {
        self.list(state, Op::Refresh)
    }

    fn handle(&self, state: &mut State, action: &Action) -> Vec<Effect> {
        if let Some(op) = Op::of_move(action, state.page_rows()) {
            return effects(self.list(state, op));
        }
        match action {
            Action::Open => state
                .panes
                .held
                .list
                .selected_row()
                .map(|e| Effect::Read(open_event(Pane::Held, e.id)))
                .into_iter()
                .collect(),
            Action::CycleCategory => {
                let pane = &mut state.panes.held;
                pane.kind = match pane.kind {
                    HoldKind::SafetyThreshold => HoldKind::SuspectedDuplicate,
                    HoldKind::SuspectedDuplicate => HoldKind::SafetyThreshold,
                };
                pane.list.unmark();
                let read = self.list(state, Op::Newest);
                state.say(format!("showing {}", describe(state.panes.held.kind).name));
                effects(read)
            }
            Action::ConfirmHeld if state.panes.held.kind == HoldKind::SuspectedDuplicate => {
                state.say(
                    "a suspected duplicate is decided in the Dups pane (d goes there): \
                     confirming here would only hold it again",
                );
                Vec::new()
            }
            Action::ConfirmHeld => on_targets(state, Command::ConfirmHeld),
            Action::RejectHeld => on_targets(state, |ids| Command::RejectHeld { ids, reason: None }),
            _ => Vec::new(),
        }
    }

    fn text_filter<'s>(&self, state: &'s State) -> Option<Option<&'s str>> {
        Some(state.panes.held.text.as_deref())
    }

    fn set_text_filter(&self, state: &mut State, text: Option<String>) -> Vec<Effect> {
        state.panes.held.text = text;
        effects(self.list(state, Op::Newest))
    }

    fn marks<'s>(&self, state: &'s State) -> Option<&'s BTreeSet<i64>> {
        Some(&state.panes.held.list.marked)
    }

    fn list(&self, state: &mut State, op: Op) -> Option<Read> {
        let held = &mut state.panes.held;
        let filter = held.filter();
        events_read(Pane::Held, &mut held.list, filter, op, |s, w| {
            s.panes.held.list = w
        })
    }

    fn employee(&self, state: &State) -> Option<Option<String>> {
        Some(
            state
                .panes
                .held
                .list
                .selected_row()
                .map(|e| e.employee_id.clone()),
        )
    }

    fn copy(&self, state: &State) -> Option<String> {
        state.panes.held.list.selected_row().map(copy_event)
    }

    fn keep_visible(&self, state: &mut State) {
        // One line more above the list than other lists: what the keys do.
        let rows = super::layout::list_rows(state.width, state.height).saturating_sub(1);
        state.panes.held.list.keep_visible(rows);
    }

    fn draw(&self, state: &State, frame: &mut Frame, area: Rect) {
        super::draw::held::pane(state, frame, area);
    }
}
