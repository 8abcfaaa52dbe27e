//! The Failed and Held panes: events waiting for an operator (dead letters,
//! deactivations held by the safety threshold), with a selection to act on many.

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::action::{Action, Command};
use super::events::{copy_event, events_read, open_event};
use super::keys::{Binding, Key::*, bind, moves, write};
use super::panes::{Effect, Pane, PaneView, count_badge};
use super::read::{Op, Read};
use super::state::{QueuePane, State};
use crate::model::{EventId, EventStatus};
use crate::store::EventFilter;

pub struct FailedView;
pub struct HeldView;

/// What sets the two queues apart.
trait Queue {
    const PANE: Pane;
    const STATUS: EventStatus;
    fn queue(state: &mut State) -> &mut QueuePane;
}

impl Queue for FailedView {
    const PANE: Pane = Pane::Failed;
    const STATUS: EventStatus = EventStatus::DeadLetter;
    fn queue(state: &mut State) -> &mut QueuePane {
        &mut state.failed
    }
}

impl Queue for HeldView {
    const PANE: Pane = Pane::Held;
    const STATUS: EventStatus = EventStatus::Held;
    fn queue(state: &mut State) -> &mut QueuePane {
        &mut state.held
    }
}

fn list<Q: Queue>(state: &mut State, op: Op) -> Option<Read> {
    let filter = EventFilter {
        status: Some(Q::STATUS),
        ..EventFilter::default()
    };
    events_read(Q::PANE, &mut Q::queue(state).list, filter, op, move |s, w| {
        let queue = Q::queue(s);
        queue.list = w;
        if op == Op::Refresh {
            // Chosen rows that left the queue (retried, skipped elsewhere) are let go.
            let shown = &queue.list.rows;
            queue.chosen.retain(|id| shown.iter().any(|e| e.id == *id));
        }
    })
}

/// A command on the chosen rows, else the one under the cursor.
fn on_chosen<Q: Queue>(state: &mut State, make: impl FnOnce(Vec<EventId>) -> Command) -> Vec<Effect> {
    let ids = Q::queue(state).targets();
    if ids.is_empty() {
        state.say("nothing here to act on");
        return Vec::new();
    }
    vec![Effect::Request(make(ids))]
}

fn handle<Q: Queue>(state: &mut State, action: &Action) -> Vec<Effect> {
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
        Action::ToggleSelect => {
            let queue = Q::queue(state);
            if let Some(id) = queue.list.selected_row().map(|e| e.id)
                && !queue.chosen.remove(&id)
            {
                queue.chosen.insert(id);
            }
            None
        }
        Action::Retry => return on_chosen::<Q>(state, Command::Retry),
        Action::RetryAll => return vec![Effect::Request(Command::RetryAllDeadLetters)],
        Action::Skip => return on_chosen::<Q>(state, |ids| Command::Skip { ids, reason: None }),
        Action::Flag => return on_chosen::<Q>(state, |ids| Command::Flag { ids, reason: None }),
        Action::ConfirmHeld => return on_chosen::<Q>(state, Command::ConfirmHeld),
        Action::RejectHeld => return on_chosen::<Q>(state, |ids| Command::RejectHeld { ids, reason: None }),
        _ => None,
    };
    read.into_iter().map(Effect::from).collect()
}

fn keep_visible<Q: Queue>(state: &mut State) {
    let rows = super::layout::list_rows(state.width, state.height);
    Q::queue(state).list.keep_visible(rows);
}

fn detail_keys() -> Vec<Binding> {
    let mut keys = moves();
    keys.extend([
        bind(&[Code(KeyCode::Enter)], "Enter", "detail", Action::Open),
        bind(&[Char(' ')], "Space", "select", Action::ToggleSelect),
    ]);
    keys
}

impl PaneView for FailedView {
    fn title(&self) -> &'static str {
        "Failed"
    }

    fn badge(&self, state: &State) -> String {
        count_badge(state.counts.dead_letters)
    }

    fn keys(&self) -> Vec<Binding> {
        let mut keys = detail_keys();
        keys.extend([
            write(&[Char('r')], "r", "retry", Action::Retry),
            write(&[Char('R')], "R", "retry all", Action::RetryAll),
            write(&[Char('s')], "s", "skip", Action::Skip),
            write(&[Char('f')], "f", "flag", Action::Flag),
        ]);
        keys
    }

    fn refresh(&self, state: &mut State) -> Option<Read> {
        list::<Self>(state, Op::Refresh)
    }

    fn handle(&self, state: &mut State, action: &Action) -> Vec<Effect> {
        handle::<Self>(state, action)
    }

    fn copy(&self, state: &State) -> Option<String> {
        state.failed.list.selected_row().map(copy_event)
    }

    fn keep_visible(&self, state: &mut State) {
        keep_visible::<Self>(state);
    }

    fn draw(&self, state: &State, frame: &mut Frame, area: Rect) {
        super::draw::lists::failed(state, frame, area);
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
        let mut keys = detail_keys();
        keys.extend([
            write(&[Char('c')], "c", "confirm", Action::ConfirmHeld),
            write(&[Char('x')], "x", "reject", Action::RejectHeld),
        ]);
        keys
    }

    fn refresh(&self, state: &mut State) -> Option<Read> {
        list::<Self>(state, Op::Refresh)
    }

    fn handle(&self, state: &mut State, action: &Action) -> Vec<Effect> {
        handle::<Self>(state, action)
    }

    fn copy(&self, state: &State) -> Option<String> {
        state.held.list.selected_row().map(copy_event)
    }

    fn keep_visible(&self, state: &mut State) {
        keep_visible::<Self>(state);
    }

    fn draw(&self, state: &State, frame: &mut Frame, area: Rect) {
        super::draw::lists::held(state, frame, area);
    }
}
