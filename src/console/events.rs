//! The Events pane: the journal, newest first, following the tail unless the
//! operator scrolls away, filtered by text, employee, direction or status.

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::action::Action;
use super::keys::{Binding, Key::*, bind, moves};
use super::list::Window;
use super::panes::{Effect, Pane, PaneView};
use super::read::{self, Op, Read};
use super::state::{Prompt, State};
use crate::engine::operator::handle::EngineHandle;
use crate::model::{Direction, Event, EventId, EventStatus};
use crate::store::{EventFilter, Toward};

/// The journal in view, its filter, and whether it follows the tail.
#[derive(Debug)]
pub struct EventsPane {
    pub list: Window<Event>,
    pub filter: EventFilter,
    /// Follow the tail: the cursor stays on the newest event as events arrive.
    pub follow: bool,
}

impl Default for EventsPane {
    /// A new console follows the tail.
    fn default() -> EventsPane {
        EventsPane {
            list: Window::default(),
            filter: EventFilter::default(),
            follow: true,
        }
    }
}

pub struct EventsView;

/// A read of `pane`'s event list under `filter`, put back with `put`.
pub(super) fn events_read(
    pane: Pane,
    window: &mut Window<Event>,
    filter: EventFilter,
    op: Op,
    put: impl FnOnce(&mut State, Window<Event>) + Send + 'static,
) -> Option<Read> {
    let fetch = move |h: &EngineHandle, from: Option<i64>, toward: Toward, limit: usize| {
        h.events(&filter, from.map(EventId), toward, limit)
    };
    read::list(pane, window, op, fetch, put)
}

/// Opens an event's detail over the pane.
pub(super) fn open_event(pane: Pane, id: EventId) -> Read {
    Read::detail(pane, move |h| {
        let detail = h.event(id)?;
        Ok(Box::new(move |state: &mut State| {
            if let Some(detail) = detail {
                state.mode = super::state::Mode::Detail {
                    detail: Box::new(detail),
                    scroll: 0,
                };
            }
        }) as read::Apply)
    })
}

/// The row under the cursor, for `y`: its id, employee and payload.
pub(super) fn copy_event(e: &Event) -> String {
    serde_json::json!({ "id": e.id, "employee_id": e.employee_id, "payload": e.payload }).to_string()
}

fn list(state: &mut State, op: Op) -> Option<Read> {
    let events = &mut state.panes.events;
    let read = events_read(
        Pane::Events,
        &mut events.list,
        events.filter.clone(),
        op,
        move |s, w| {
            s.panes.events.list = w;
            after(s, op);
        },
    );
    if read.is_none() {
        after(state, op);
    }
    read
}

/// Scrolling away from the newest event stops following; back on it, follows again.
fn after(state: &mut State, op: Op) {
    let events = &mut state.panes.events;
    match op {
        Op::Move(_) => events.follow = events.list.at_top(),
        Op::Newest => events.follow = true,
        Op::Oldest => events.follow = false,
        Op::Refresh | Op::Mark | Op::Unmark | Op::MarkAll => {}
    }
}

/// A new filter: from the newest, following.
fn reload(state: &mut State) -> Vec<Effect> {
    list(state, Op::Newest).into_iter().map(Effect::from).collect()
}

impl PaneView for EventsView {
    fn title(&self) -> &'static str {
        "Events"
    }

    fn short_title(&self) -> &'static str {
        "Evts"
    }

    fn keys(&self) -> Vec<Binding> {
        let mut keys = moves();
        keys.extend([
            bind(&[Code(KeyCode::Enter)], "Enter", "detail", Action::Open),
            bind(&[Char('/')], "/", "filter", Action::FilterText),
            bind(&[Char('e')], "e", "employee", Action::FilterEmployee),
            bind(&[Char('d')], "d", "direction", Action::CycleDirection),
            bind(&[Char('t')], "t", "status", Action::CycleStatus),
            bind(&[Char('c')], "c", "clear", Action::ClearFilters),
            bind(&[Char('f')], "f", "follow", Action::FollowTail),
        ]);
        keys
    }

    fn refresh(&self, state: &mut State) -> Option<Read> {
        let op = if state.panes.events.follow {
            Op::Newest
        } else {
            Op::Refresh
        };
        list(state, op)
    }

    fn handle(&self, state: &mut State, action: &Action) -> Vec<Effect> {
        let read = match action {
            Action::Up => list(state, Op::Move(-1)),
            Action::Down => list(state, Op::Move(1)),
            Action::PageUp => list(state, Op::Move(-state.page_rows())),
            Action::PageDown => list(state, Op::Move(state.page_rows())),
            Action::Top => list(state, Op::Newest),
            Action::Bottom => list(state, Op::Oldest),
            Action::Open => state
                .panes
                .events
                .list
                .selected_row()
                .map(|e| open_event(Pane::Events, e.id)),
            Action::FollowTail => {
                let events = &mut state.panes.events;
                events.follow = !events.follow;
                if events.follow {
                    list(state, Op::Newest)
                } else {
                    None
                }
            }
            Action::FilterEmployee => {
                let now = state.panes.events.filter.employee_id.clone().unwrap_or_default();
                return vec![Effect::Prompt(Prompt::EventEmployee, now)];
            }
            Action::CycleDirection => {
                let filter = &mut state.panes.events.filter;
                filter.direction = super::update::cycle(Direction::ALL, filter.direction);
                return reload(state);
            }
            Action::CycleStatus => {
                let filter = &mut state.panes.events.filter;
                filter.status = super::update::cycle(EventStatus::ALL, filter.status);
                return reload(state);
            }
            Action::ClearFilters => {
                state.panes.events.filter = EventFilter::default();
                return reload(state);
            }
            _ => None,
        };
        read.into_iter().map(Effect::from).collect()
    }

    fn text_filter<'s>(&self, state: &'s State) -> Option<Option<&'s str>> {
        Some(state.panes.events.filter.text.as_deref())
    }

    fn set_text_filter(&self, state: &mut State, text: Option<String>) -> Vec<Effect> {
        state.panes.events.filter.text = text;
        reload(state)
    }

    fn list(&self, state: &mut State, op: Op) -> Option<Read> {
        list(state, op)
    }

    fn submit(&self, state: &mut State, prompt: &Prompt, value: Option<String>) -> Vec<Effect> {
        if *prompt != Prompt::EventEmployee {
            return Vec::new();
        }
        state.panes.events.filter.employee_id = value;
        reload(state)
    }

    fn employee(&self, state: &State) -> Option<Option<String>> {
        Some(
            state
                .panes
                .events
                .list
                .selected_row()
                .map(|e| e.employee_id.clone()),
        )
    }

    fn copy(&self, state: &State) -> Option<String> {
        state.panes.events.list.selected_row().map(copy_event)
    }

    fn keep_visible(&self, state: &mut State) {
        let rows = super::layout::list_rows(state.width, state.height);
        state.panes.events.list.keep_visible(rows);
    }

    fn draw(&self, state: &State, frame: &mut Frame, area: Rect) {
        super::draw::lists::events(state, frame, area);
    }
}
