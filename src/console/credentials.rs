//! The Credentials pane: credentials expiring within 90 days and expired, the
//! soonest first (the CLI lists them all); Enter opens the completion behind one.

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::action::Action;
use super::events::open_event;
use super::keys::{Binding, Key::*, bind, moves};
use super::list::{Keyed, Window};
use super::panes::{Effect, Pane, PaneView};
use super::read::{Apply, Read};
use super::state::State;
use crate::engine::operator::handle::CredentialStatus;
use crate::store::CredentialTotals;

/// Credentials the view loads: the soonest to expire.
const CREDENTIALS_SHOWN: usize = 1000;

/// A credential with its place in the list (the list's paging key).
#[derive(Debug, Clone)]
pub struct Ranked {
    pub rank: i64,
    pub credential: CredentialStatus,
}

impl Keyed for Ranked {
    fn key(&self) -> i64 {
        self.rank
    }
}

/// Credentials expiring within 90 days and expired: the first rows, soonest first.
#[derive(Debug, Default)]
pub struct CredentialsPane {
    pub list: Window<Ranked>,
    pub totals: CredentialTotals,
    /// The `/` filter's text: credentials whose employee, department or name contain it.
    pub text: Option<String>,
}

/// Whether the `/` filter keeps `c` (case-insensitive, as the store's filters).
fn matches(c: &CredentialStatus, text: Option<&str>) -> bool {
    let Some(text) = text.map(str::to_lowercase) else {
        return true;
    };
    [
        Some(c.employee_id.as_str()),
        c.department.as_deref(),
        Some(c.name.as_str()),
    ]
    .into_iter()
    .flatten()
    .any(|field| field.to_lowercase().contains(&text))
}

pub struct CredentialsView;

/// Moves within the rows, all of which are loaded at once.
fn step(state: &mut State, delta: isize) {
    let list = &mut state.panes.credentials.list;
    let last = list.rows.len().saturating_sub(1) as isize;
    list.selected = (list.selected as isize + delta).clamp(0, last.max(0)) as usize;
}

impl PaneView for CredentialsView {
    fn title(&self) -> &'static str {
        "Creds"
    }

    fn short_title(&self) -> &'static str {
        "Cred"
    }

    fn keys(&self) -> Vec<Binding> {
        let mut keys = moves();
        keys.push(bind(&[Code(KeyCode::Enter)], "Enter", "completion", Action::Open));
        keys
    }

    fn refresh(&self, state: &mut State) -> Option<Read> {
        let text = state.panes.credentials.text.clone();
        Some(Read::new(Some(Pane::Credentials), move |h| {
            let today = jiff::Zoned::now().date();
            let (mut rows, totals) = h.credentials(today, CREDENTIALS_SHOWN)?;
            rows.retain(|c| matches(c, text.as_deref()));
            Ok(Box::new(move |state: &mut State| {
                let pane = &mut state.panes.credentials;
                pane.list.selected = pane.list.selected.min(rows.len().saturating_sub(1));
                pane.list.rows = rows
                    .into_iter()
                    .enumerate()
                    .map(|(rank, credential)| Ranked {
                        rank: rank as i64,
                        credential,
                    })
                    .collect();
                pane.list.at_newest = true;
                pane.list.at_oldest = true;
                pane.list.loaded = true;
                pane.totals = totals;
            }) as Apply)
        }))
    }

    fn handle(&self, state: &mut State, action: &Action) -> Vec<Effect> {
        match action {
            Action::Up => step(state, -1),
            Action::Down => step(state, 1),
            Action::PageUp => step(state, -state.page_rows()),
            Action::PageDown => step(state, state.page_rows()),
            Action::Top => state.panes.credentials.list.selected = 0,
            Action::Bottom => step(state, isize::MAX / 2),
            Action::Open => {
                let id = state
                    .panes
                    .credentials
                    .list
                    .selected_row()
                    .map(|c| c.credential.event_id);
                return id
                    .map(|id| Effect::Read(open_event(Pane::Credentials, id)))
                    .into_iter()
                    .collect();
            }
            _ => {}
        }
        Vec::new()
    }

    fn text_filter<'s>(&self, state: &'s State) -> Option<Option<&'s str>> {
        Some(state.panes.credentials.text.as_deref())
    }

    fn set_text_filter(&self, state: &mut State, text: Option<String>) -> Vec<Effect> {
        state.panes.credentials.text = text;
        state.panes.credentials.list.selected = 0;
        self.refresh(state).map(Effect::Read).into_iter().collect()
    }

    fn employee(&self, state: &State) -> Option<Option<String>> {
        Some(
            state
                .panes
                .credentials
                .list
                .selected_row()
                .map(|c| c.credential.employee_id.clone()),
        )
    }

    fn keep_visible(&self, state: &mut State) {
        let rows = super::layout::list_rows(state.width, state.height);
        state.panes.credentials.list.keep_visible(rows);
    }

    fn draw(&self, state: &State, frame: &mut Frame, area: Rect) {
        super::draw::lists::credentials(state, frame, area);
    }
}
