//! The Held pane: deactivations held by the safety threshold, to confirm or
//! reject, one or a selection at a time.

use ratatui::Frame;
use ratatui::layout::Rect;

use super::action::Action;
use super::events::copy_event;
use super::keys::{Binding, Key::*, write};
use super::panes::{Effect, Pane, PaneView, count_badge};
use super::queue::QueuePane;
use super::queue::{self, Queue};
use super::read::{Op, Read};
use super::state::State;
use crate::model::EventStatus;

pub struct HeldView;

impl Queue for HeldView {
    const PANE: Pane = Pane::Held;
    const STATUS: EventStatus = EventStatus::Held;
    fn queue(state: &mut State) -> &mut QueuePane {
        &mut state.panes.held
    }
}

impl PaneView for HeldView {
    fn title(&self) -> &'static str {
        "Held"
    }

    fn badge(&self, state: &State) -> String {
        count_badge(state.counts.held)
    }

    fn keys(&self) -> Vec<Binding> {
        let mut keys = queue::detail_keys();
        keys.extend([
            write(&[Char('c')], "c", "confirm", Action::ConfirmHeld),
            write(&[Char('x')], "x", "reject", Action::RejectHeld),
        ]);
        keys
    }

    fn refresh(&self, state: &mut State) -> Option<Read> {
        queue::list::<Self>(state, Op::Refresh)
    }

    fn handle(&self, state: &mut State, action: &Action) -> Vec<Effect> {
        queue::handle::<Self>(state, action)
    }

    fn copy(&self, state: &State) -> Option<String> {
        state.panes.held.list.selected_row().map(copy_event)
    }

    fn keep_visible(&self, state: &mut State) {
        queue::keep_visible::<Self>(state);
    }

    fn draw(&self, state: &State, frame: &mut Frame, area: Rect) {
        super::draw::lists::held(state, frame, area);
    }
}
