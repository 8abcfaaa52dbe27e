//! The Failed pane: dead letters, events the engine gave up on after its retries,
//! to retry, skip or flag, one or a selection at a time.

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

pub struct FailedView;

impl Queue for FailedView {
    const PANE: Pane = Pane::Failed;
    const STATUS: EventStatus = EventStatus::DeadLetter;
    fn queue(state: &mut State) -> &mut QueuePane {
        &mut state.panes.failed
    }
}

impl PaneView for FailedView {
    fn title(&self) -> &'static str {
        "Failed"
    }

    fn badge(&self, state: &State) -> String {
        count_badge(state.counts.dead_letters)
    }

    fn keys(&self) -> Vec<Binding> {
        let mut keys = queue::detail_keys();
        keys.extend([
            write(&[Char('r')], "r", "retry", Action::Retry),
            write(&[Char('R')], "R", "retry all", Action::RetryAll),
            write(&[Char('s')], "s", "skip", Action::Skip),
            write(&[Char('f')], "f", "flag", Action::Flag),
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
        state.panes.failed.list.selected_row().map(copy_event)
    }

    fn keep_visible(&self, state: &mut State) {
        queue::keep_visible::<Self>(state);
    }

    fn draw(&self, state: &State, frame: &mut Frame, area: Rect) {
        super::draw::lists::failed(state, frame, area);
    }
}
