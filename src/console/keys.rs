//! Which key does what, where the cursor is. The same table turns keys into
//! actions and fills the footer and the help, so they never disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::Action;
use super::state::{Mode, Pane, State};

/// A key as the table names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Code(KeyCode),
    Ctrl(char),
}

impl Key {
    fn matches(self, event: &KeyEvent) -> bool {
        let ctrl = event.modifiers.contains(KeyModifiers::CONTROL);
        match self {
            Key::Char(c) => !ctrl && event.code == KeyCode::Char(c),
            Key::Code(code) => event.code == code,
            Key::Ctrl(c) => ctrl && event.code == KeyCode::Char(c),
        }
    }
}

/// One line of the footer and the help.
#[derive(Debug, Clone)]
pub struct Binding {
    pub keys: &'static [Key],
    pub label: &'static str,
    pub what: &'static str,
    pub action: Action,
    /// Changes the journal or the engine: hidden in read-only mode.
    pub writes: bool,
}

const fn bind(keys: &'static [Key], label: &'static str, what: &'static str, action: Action) -> Binding {
    Binding {
        keys,
        label,
        what,
        action,
        writes: false,
    }
}

const fn write(keys: &'static [Key], label: &'static str, what: &'static str, action: Action) -> Binding {
    Binding {
        keys,
        label,
        what,
        action,
        writes: true,
    }
}

use Key::{Char, Code, Ctrl};

fn moves() -> Vec<Binding> {
    vec![
        bind(&[Char('j'), Code(KeyCode::Down)], "j/k", "move", Action::Down),
        bind(&[Char('k'), Code(KeyCode::Up)], "", "", Action::Up),
        bind(
            &[Code(KeyCode::PageDown), Ctrl('d')],
            "PgDn/PgUp",
            "page",
            Action::PageDown,
        ),
        bind(&[Code(KeyCode::PageUp), Ctrl('u')], "", "", Action::PageUp),
        bind(
            &[Char('g'), Code(KeyCode::Home)],
            "g/G",
            "newest/oldest",
            Action::Top,
        ),
        bind(&[Char('G'), Code(KeyCode::End)], "", "", Action::Bottom),
    ]
}

/// The keys of a pane in normal mode.
pub fn pane_bindings(pane: Pane) -> Vec<Binding> {
    let mut keys = match pane {
        Pane::Events
        | Pane::Failed
        | Pane::Held
        | Pane::Audit
        | Pane::Credentials
        | Pane::Drift
        | Pane::Duplicates => moves(),
        Pane::Contract => vec![
            bind(&[Char('j'), Code(KeyCode::Down)], "j/k", "scroll", Action::Down),
            bind(&[Char('k'), Code(KeyCode::Up)], "", "", Action::Up),
            bind(
                &[Code(KeyCode::PageDown), Ctrl('d')],
                "PgDn/PgUp",
                "page",
                Action::PageDown,
            ),
            bind(&[Code(KeyCode::PageUp), Ctrl('u')], "", "", Action::PageUp),
        ],
    };
    match pane {
        Pane::Events => keys.extend([
            bind(&[Code(KeyCode::Enter)], "Enter", "detail", Action::Open),
            bind(&[Char('/')], "/", "filter", Action::FilterText),
            bind(&[Char('e')], "e", "employee", Action::FilterEmployee),
            bind(&[Char('d')], "d", "direction", Action::CycleDirection),
            bind(&[Char('t')], "t", "status", Action::CycleStatus),
            bind(&[Char('c')], "c", "clear", Action::ClearFilters),
            bind(&[Char('f')], "f", "follow", Action::FollowTail),
        ]),
        Pane::Failed => keys.extend([
            bind(&[Code(KeyCode::Enter)], "Enter", "detail", Action::Open),
            bind(&[Char(' ')], "Space", "select", Action::ToggleSelect),
            write(&[Char('r')], "r", "retry", Action::Retry),
            write(&[Char('R')], "R", "retry all", Action::RetryAll),
            write(&[Char('s')], "s", "skip", Action::Skip),
            write(&[Char('f')], "f", "flag", Action::Flag),
        ]),
        Pane::Held => keys.extend([
            bind(&[Code(KeyCode::Enter)], "Enter", "detail", Action::Open),
            bind(&[Char(' ')], "Space", "select", Action::ToggleSelect),
            write(&[Char('c')], "c", "confirm", Action::ConfirmHeld),
            write(&[Char('x')], "x", "reject", Action::RejectHeld),
        ]),
        Pane::Contract => keys.push(write(&[Char('e')], "e", "edit", Action::EditContract)),
        Pane::Audit => keys.extend([
            bind(&[Code(KeyCode::Enter)], "Enter", "history", Action::Open),
            bind(&[Char('/')], "/", "filter", Action::FilterText),
            bind(&[Code(KeyCode::Esc)], "Esc", "all", Action::Back),
        ]),
        Pane::Credentials => keys.push(bind(&[Code(KeyCode::Enter)], "Enter", "completion", Action::Open)),
        // The same letters as the Failed pane where the meaning is the same (Space, f).
        Pane::Drift => keys.extend([
            bind(&[Code(KeyCode::Enter)], "Enter", "detail", Action::Open),
            bind(&[Char(' ')], "Space", "select", Action::ToggleSelect),
            bind(&[Char('c')], "c", "category", Action::CycleCategory),
            write(&[Char('x')], "x", "fix", Action::Fix),
            write(&[Char('f')], "f", "flag", Action::Flag),
            write(&[Char('a')], "a", "accept", Action::Accept),
            write(&[Char('R')], "R", "run now", Action::RunReconcile),
        ]),
        Pane::Duplicates => keys.extend([
            bind(&[Char('l'), Code(KeyCode::Right)], "h/l", "member", Action::Right),
            bind(&[Char('h'), Code(KeyCode::Left)], "", "", Action::Left),
            write(&[Char('n')], "n", "not a duplicate", Action::NotDuplicate),
            write(&[Char('f')], "f", "flag", Action::Flag),
            write(&[Char('L')], "L", "link", Action::Link),
        ]),
    }
    keys
}

/// Whether a pane's key does anything where the cursor is: the footer leaves
/// out the others (the key still answers, saying why it does nothing).
fn works_here(state: &State, action: &Action) -> bool {
    match state.pane {
        Pane::Drift => {
            let item = state.drift.items.selected_row();
            match action {
                Action::Open | Action::ToggleSelect | Action::Flag | Action::Accept => item.is_some(),
                Action::Fix => !state.drift.chosen.is_empty() || item.is_some_and(|i| i.category.can_fix()),
                Action::RunReconcile => state.drift.under_way().is_none(),
                _ => true,
            }
        }
        Pane::Duplicates => {
            let group = state.duplicates.group();
            match action {
                Action::Left | Action::Right => group.is_some_and(|g| g.members.len() > 1),
                Action::NotDuplicate | Action::Flag => group.is_some_and(|g| g.state.holds()),
                Action::Link => group.is_some_and(|g| {
                    g.side == crate::model::DuplicateSide::Lms && g.state != crate::model::GroupState::Linked
                }),
                _ => true,
            }
        }
        _ => true,
    }
}

/// The keys the footer shows: those that work now, where the cursor is.
pub fn hints(state: &State) -> Vec<Binding> {
    bindings(state)
        .into_iter()
        .filter(|b| !matches!(state.mode, Mode::Normal) || works_here(state, &b.action))
        .collect()
}

fn global() -> Vec<Binding> {
    vec![
        bind(&[Char('y')], "y", "copy", Action::Copy),
        write(&[Char('p')], "p", "pause", Action::TogglePause),
        bind(&[Code(KeyCode::Tab)], "Tab/1-8", "pane", Action::NextPane),
        bind(&[Code(KeyCode::BackTab)], "", "", Action::PrevPane),
        bind(&[Char('?')], "?", "help", Action::Help),
        bind(&[Char('q')], "q", "quit", Action::Quit),
        bind(&[Ctrl('c')], "", "", Action::Quit),
    ]
}

/// The keys that work now, most specific first.
pub fn bindings(state: &State) -> Vec<Binding> {
    match &state.mode {
        Mode::Normal => {
            let mut keys = pane_bindings(state.pane);
            keys.extend(global());
            keys
        }
        Mode::Help => vec![
            bind(
                &[Code(KeyCode::Esc), Char('?'), Char('q')],
                "Esc",
                "close",
                Action::Back,
            ),
            bind(&[Ctrl('c')], "", "", Action::Quit),
        ],
        Mode::Detail { .. } | Mode::DriftDetail { .. } => vec![
            bind(&[Char('j'), Code(KeyCode::Down)], "j/k", "scroll", Action::Down),
            bind(&[Char('k'), Code(KeyCode::Up)], "", "", Action::Up),
            bind(&[Char('y')], "y", "copy payload", Action::Copy),
            bind(
                &[Code(KeyCode::Esc), Code(KeyCode::Enter), Char('q')],
                "Esc",
                "back",
                Action::Back,
            ),
            bind(&[Ctrl('c')], "", "", Action::Quit),
        ],
        Mode::Confirm { .. } => vec![
            bind(&[Char('y'), Code(KeyCode::Enter)], "y/Enter", "yes", Action::Yes),
            bind(&[Char('n'), Code(KeyCode::Esc)], "n/Esc", "no", Action::No),
            bind(&[Ctrl('c')], "", "", Action::Quit),
        ],
        Mode::Prompt { .. } => vec![
            bind(&[Code(KeyCode::Enter)], "Enter", "done", Action::Submit),
            bind(&[Code(KeyCode::Esc)], "Esc", "cancel", Action::Back),
        ],
        Mode::EditContract { .. } => vec![
            bind(&[Ctrl('s')], "Ctrl-S", "check & review", Action::Submit),
            bind(&[Code(KeyCode::Esc)], "Esc", "discard", Action::Back),
        ],
    }
}

/// The action a key stands for here, if any.
pub fn action_for(state: &State, event: KeyEvent) -> Option<Action> {
    if event.kind == KeyEventKind::Release {
        return None;
    }
    let found = bindings(state)
        .into_iter()
        .find(|b| b.keys.iter().any(|k| k.matches(&event)))
        .map(|b| b.action);
    if found.is_some() {
        return found;
    }
    match &state.mode {
        Mode::Prompt { .. } | Mode::EditContract { .. } => Some(Action::Input(event)),
        Mode::Normal => match event.code {
            KeyCode::Char(c) if !event.modifiers.contains(KeyModifiers::CONTROL) => {
                Pane::by_digit(c).map(Action::GoPane)
            }
            _ => None,
        },
        _ => None,
    }
}
