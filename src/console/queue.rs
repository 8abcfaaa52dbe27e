//! A queue pane's list of events waiting for an operator, and the keys that
//! move and act on it (marks are the list window's, as in every list pane).
//! The pane's own file says which events it lists (a status, or the view the
//! operator chose) and what its keys do.

use crossterm::event::KeyCode;

use super::action::{Action, Command};
use super::events::{events_read, open_event};
use super::keys::{Binding, Key::*, bind, moves};
use super::list::Window;
use super::panes::{Effect, Pane};
use super::read::{Op, Read};
use super::state::State;
use crate::model::{Event, EventId, EventStatus};
use crate::store::EventFilter;

/// A list of waiting events; its window keeps the operator's marks.
#[derive(Debug, Default)]
pub struct QueuePane {
    pub list: Window<Event>,
}

impl QueuePane {
    /// The marked events, else the one under the cursor.
    pub fn targets(&self) -> Vec<EventId> {
        self.list.targets().into_iter().map(EventId).collect()
    }
}

/// What sets one queue apart from the other.
pub(super) trait Queue {
    const PANE: Pane;
    /// The status it lists, unless `filter` says otherwise.
    const STATUS: EventStatus;
    fn queue(state: &mut State) -> &mut QueuePane;

    /// The events it lists now (a pane with views lists the chosen view's).
    fn filter(_state: &State) -> EventFilter {
        EventFilter {
            status: Some(Self::STATUS),
            ..EventFilter::default()
        }
    }
}

pub(super) fn list<Q: Queue>(state: &mut State, op: Op) -> Option<Read> {
    let filter = Q::filter(state);
    events_read(Q::PANE, &mut Q::queue(state).list, filter, op, move |s, w| {
        Q::queue(s).list = w
    })
}

/// A command on the marked rows, else the one under the cursor.
fn on_chosen<Q: Queue>(state: &mut State, make: impl FnOnce(Vec<EventId>) -> Command) -> Vec<Effect> {
    let ids = Q::queue(state).targets();
    if ids.is_empty() {
        state.say("nothing here to act on");
        return Vec::new();
    }
    vec![Effect::Request(make(ids))]
}

pub(super) fn handle<Q: Queue>(state: &mut State, action: &Action) -> Vec<Effect> {
    let read = match action {
        Action::Up => list::<Q>(state, Op::Move(-1)),
        Action::Down => list::<Q>(state, Op::Move(1)),
        Action::PageUp => list::<Q>(state, Op::Move(-state.page_rows())),
        Action::PageDown => list::<Q>(state, Op::Move(state.page_rows())),
        Action::Top => list::<Q>(state, Op::Newest),
        Action::Bottom => list::<Q>(state, Op::Oldest),
        Action::Open => Q::queue(state)
            .list
            .selected_row()
            .map(|e| open_event(Q::PANE, e.id)),
        Action::Retry => return on_chosen::<Q>(state, Command::Retry),
        Action::RetryAll => return vec![Effect::Request(Command::RetryAllFailing)],
        Action::Skip => return on_chosen::<Q>(state, |ids| Command::Skip { ids, reason: None }),
        Action::Flag => return on_chosen::<Q>(state, |ids| Command::Flag { ids, reason: None }),
        Action::ConfirmHeld => return on_chosen::<Q>(state, Command::ConfirmHeld),
        Action::RejectHeld => return on_chosen::<Q>(state, |ids| Command::RejectHeld { ids, reason: None }),
        _ => None,
    };
    read.into_iter().map(Effect::from).collect()
}

pub(super) fn keep_visible<Q: Queue>(state: &mut State) {
    let rows = super::layout::list_rows(state.width, state.height);
    Q::queue(state).list.keep_visible(rows);
}

pub(super) fn detail_keys() -> Vec<Binding> {
    let mut keys = moves();
    keys.push(bind(&[Code(KeyCode::Enter)], "Enter", "detail", Action::Open));
    keys
}
