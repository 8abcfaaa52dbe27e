//! The Audit pane: the audit log, newest first; Enter narrows it to the
//! employee of the entry under the cursor, Esc widens it again.

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::action::Action;
use super::keys::{Binding, Key::*, bind, moves};
use super::list::Window;
use super::panes::{Effect, Pane, PaneView};
use super::read::{self, Op, Read};
use super::state::State;
use crate::engine::operator::handle::EngineHandle;
use crate::model::AuditEntry;
use crate::store::{AuditFilter, Toward};

/// The audit log in view and its filter.
#[derive(Debug, Default)]
pub struct AuditPane {
    pub list: Window<AuditEntry>,
    pub filter: AuditFilter,
}

pub struct AuditView;

fn list(state: &mut State, op: Op) -> Option<Read> {
    let audit = &mut state.panes.audit;
    let filter = audit.filter.clone();
    let fetch = move |h: &EngineHandle, from: Option<i64>, toward: Toward, limit: usize| {
        h.audit(&filter, from.map(|s| s as u64), toward, limit)
    };
    read::list(Pane::Audit, &mut audit.list, op, fetch, |s, w| {
        s.panes.audit.list = w
    })
}

fn effects(read: Option<Read>) -> Vec<Effect> {
    read.into_iter().map(Effect::from).collect()
}

impl PaneView for AuditView {
    fn title(&self) -> &'static str {
        "Audit"
    }

    fn short_title(&self) -> &'static str {
        "Aud"
    }

    fn keys(&self) -> Vec<Binding> {
        let mut keys = moves();
        keys.extend([
            bind(&[Code(KeyCode::Enter)], "Enter", "history", Action::Open),
            bind(&[Char('/')], "/", "filter", Action::FilterText),
            bind(&[Code(KeyCode::Esc)], "Esc", "all", Action::Back),
        ]);
        keys
    }

    fn refresh(&self, state: &mut State) -> Option<Read> {
        list(state, Op::Refresh)
    }

    fn handle(&self, state: &mut State, action: &Action) -> Vec<Effect> {
        let read = match action {
            Action::Up => list(state, Op::Move(-1)),
            Action::Down => list(state, Op::Move(1)),
            Action::PageUp => list(state, Op::Move(-state.page_rows())),
            Action::PageDown => list(state, Op::Move(state.page_rows())),
            Action::Top => list(state, Op::Newest),
            Action::Bottom => list(state, Op::Oldest),
            Action::Open => {
                let Some(entry) = state.panes.audit.list.selected_row() else {
                    return Vec::new();
                };
                let Some(employee) = entry.employee_id.clone() else {
                    state.say("this entry names no employee");
                    return Vec::new();
                };
                state.panes.audit.filter = AuditFilter {
                    employee_id: Some(employee),
                    ..AuditFilter::default()
                };
                list(state, Op::Newest)
            }
            Action::Back if state.panes.audit.filter != AuditFilter::default() => {
                state.panes.audit.filter = AuditFilter::default();
                list(state, Op::Newest)
            }
            _ => None,
        };
        effects(read)
    }

    fn text_filter<'s>(&self, state: &'s State) -> Option<Option<&'s str>> {
        Some(state.panes.audit.filter.text.as_deref())
    }

    fn set_text_filter(&self, state: &mut State, text: Option<String>) -> Vec<Effect> {
        state.panes.audit.filter.text = text;
        effects(list(state, Op::Newest))
    }

    fn list(&self, state: &mut State, op: Op) -> Option<Read> {
        list(state, op)
    }

    fn employee(&self, state: &State) -> Option<Option<String>> {
        Some(
            state
                .panes
                .audit
                .list
                .selected_row()
                .and_then(|e| e.employee_id.clone()),
        )
    }

    fn copy(&self, state: &State) -> Option<String> {
        let entry = state.panes.audit.list.selected_row()?;
        Some(serde_json::to_string(entry).unwrap_or_default())
    }

    fn keep_visible(&self, state: &mut State) {
        let rows = super::layout::list_rows(state.width, state.height);
        state.panes.audit.list.keep_visible(rows);
    }

    fn draw(&self, state: &State, frame: &mut Frame, area: Rect) {
        super::draw::lists::audit(state, frame, area);
    }
}
