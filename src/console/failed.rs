//! The Failed pane: every queue of events that failed or cannot move, one view
//! at a time (←/→): retrying (attempt n of max, next attempt), dead letters,
//! rejected (why, and what fits) and blocked (what each waits behind).
//! One pane with views rather than four panes: one digit key, one selection and
//! one set of keys, and its badge counts everything that waits for an operator.

use std::ops::{Deref, DerefMut};

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::action::Action;
use super::events::copy_event;
use super::keys::{Binding, Key::*, bind, write};
use super::panes::{Effect, Pane, PaneView, count_badge};
use super::queue::QueuePane;
use super::queue::{self, Queue};
use super::read::{Op, Read};
use super::state::State;
use crate::model::EventStatus;
use crate::store::EventFilter;

/// One queue of the Failed pane, in the order an event meets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailedQueue {
    /// Failed, and the engine tries again by itself.
    Retrying,
    /// Failed on every attempt: waits for an operator.
    #[default]
    DeadLetters,
    /// Refused for good (the contract, a 4xx): waits for a fix or an operator.
    Rejected,
    /// Waits behind an earlier open event of the same employee.
    Blocked,
}

impl FailedQueue {
    pub const ALL: [FailedQueue; 4] = [
        FailedQueue::Retrying,
        FailedQueue::DeadLetters,
        FailedQueue::Rejected,
        FailedQueue::Blocked,
    ];

    pub fn label(self) -> &'static str {
        match self {
            FailedQueue::Retrying => "retrying",
            FailedQueue::DeadLetters => "dead letters",
            FailedQueue::Rejected => "rejected",
            FailedQueue::Blocked => "blocked",
        }
    }

    /// How many it holds, from the header's counts.
    pub fn count(self, state: &State) -> u64 {
        let c = &state.counts;
        match self {
            FailedQueue::Retrying => c.retrying,
            FailedQueue::DeadLetters => c.dead_letters,
            FailedQueue::Rejected => c.rejected,
            FailedQueue::Blocked => c.blocked,
        }
    }

    fn filter(self) -> EventFilter {
        let status = match self {
            FailedQueue::Retrying => Some(EventStatus::Retrying),
            FailedQueue::DeadLetters => Some(EventStatus::DeadLetter),
            FailedQueue::Rejected => Some(EventStatus::Rejected),
            FailedQueue::Blocked => None,
        };
        EventFilter {
            status,
            blocked: self == FailedQueue::Blocked,
            ..EventFilter::default()
        }
    }

    /// The next view (`step` 1) or the one before (-1), round the four.
    fn step(self, step: isize) -> FailedQueue {
        let all = FailedQueue::ALL;
        let at = all.iter().position(|q| *q == self).unwrap_or(0) as isize;
        all[(at + step).rem_euclid(all.len() as isize) as usize]
    }
}

/// The queue in view, its rows (with the operator's marks) and its `/` filter.
#[derive(Debug, Default)]
pub struct FailedPane {
    pub queue: QueuePane,
    pub view: FailedQueue,
    pub text: Option<String>,
}

// The rows and the selection are a queue's like any other (the gate clears the
// selection and names the rows of every queue pane alike).
impl Deref for FailedPane {
    type Target = QueuePane;
    fn deref(&self) -> &QueuePane {
        &self.queue
    }
}

impl DerefMut for FailedPane {
    fn deref_mut(&mut self) -> &mut QueuePane {
        &mut self.queue
    }
}

pub struct FailedView;

impl Queue for FailedView {
    const PANE: Pane = Pane::Failed;
    const STATUS: EventStatus = EventStatus::DeadLetter;
    fn queue(state: &mut State) -> &mut QueuePane {
        &mut state.panes.failed.queue
    }
    fn filter(state: &State) -> EventFilter {
        let pane = &state.panes.failed;
        EventFilter {
            text: pane.text.clone(),
            ..pane.view.filter()
        }
    }
}

/// Another view: from its newest row, with nothing marked (marks are of one queue).
fn show(state: &mut State, view: FailedQueue) -> Vec<Effect> {
    let pane = &mut state.panes.failed;
    pane.view = view;
    pane.queue = QueuePane::default();
    queue::list::<FailedView>(state, Op::Newest)
        .into_iter()
        .map(Effect::from)
        .collect()
}

impl PaneView for FailedView {
    fn title(&self) -> &'static str {
        "Failed"
    }

    fn short_title(&self) -> &'static str {
        "Fail"
    }

    /// What waits for an operator here: dead letters and rejected events.
    fn badge(&self, state: &State) -> String {
        count_badge(state.counts.dead_letters + state.counts.rejected)
    }

    fn keys(&self) -> Vec<Binding> {
        let mut keys = queue::detail_keys();
        // ←/→ last: a narrow footer drops it first, and the queues' line shows it.
        keys.extend([
            write(&[Char('r')], "r", "retry", Action::Retry),
            write(&[Char('R')], "R", "retry all", Action::RetryAll),
            write(&[Char('s')], "s", "skip", Action::Skip),
            write(&[Char('f')], "f", "flag", Action::Flag),
            bind(&[Code(KeyCode::Right), Char('l')], "←/→", "queue", Action::Right),
            bind(&[Code(KeyCode::Left), Char('h')], "", "", Action::Left),
        ]);
        keys
    }

    fn works_here(&self, state: &State, action: &Action) -> bool {
        let pane = &state.panes.failed;
        let row = pane.list.selected_row().is_some() || !pane.list.marked.is_empty();
        let failing = state.counts.dead_letters + state.counts.retrying;
        match action {
            Action::Retry => row && pane.view != FailedQueue::Blocked,
            Action::RetryAll => failing > 0,
            Action::Skip | Action::Flag | Action::Open => row,
            _ => true,
        }
    }

    fn refresh(&self, state: &mut State) -> Option<Read> {
        queue::list::<Self>(state, Op::Refresh)
    }

    fn handle(&self, state: &mut State, action: &Action) -> Vec<Effect> {
        let view = state.panes.failed.view;
        match action {
            Action::Right => show(state, view.step(1)),
            Action::Left => show(state, view.step(-1)),
            Action::Retry if view == FailedQueue::Blocked => {
                state.say("a blocked event goes when the event it waits behind does: retry or skip that one");
                Vec::new()
            }
            _ => queue::handle::<Self>(state, action),
        }
    }

    fn marks<'s>(&self, state: &'s State) -> Option<&'s std::collections::BTreeSet<i64>> {
        Some(&state.panes.failed.list.marked)
    }

    fn list(&self, state: &mut State, op: Op) -> Option<Read> {
        queue::list::<Self>(state, op)
    }

    fn text_filter<'s>(&self, state: &'s State) -> Option<Option<&'s str>> {
        Some(state.panes.failed.text.as_deref())
    }

    fn set_text_filter(&self, state: &mut State, text: Option<String>) -> Vec<Effect> {
        state.panes.failed.text = text;
        queue::list::<Self>(state, Op::Newest)
            .into_iter()
            .map(Effect::from)
            .collect()
    }

    fn employee(&self, state: &State) -> Option<Option<String>> {
        Some(
            state
                .panes
                .failed
                .list
                .selected_row()
                .map(|e| e.employee_id.clone()),
        )
    }

    fn copy(&self, state: &State) -> Option<String> {
        state.panes.failed.list.selected_row().map(copy_event)
    }

    fn keep_visible(&self, state: &mut State) {
        queue::keep_visible::<Self>(state);
    }

    fn draw(&self, state: &State, frame: &mut Frame, area: Rect) {
        super::draw::queues::failed(state, frame, area);
    }
}
