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

pub(super) const fn bind(
    keys: &'static [Key],
    label: &'static str,
    what: &'static str,
    action: Action,
) -> Binding {
    Binding {
        keys,
        label,
        what,
        action,
        writes: false,
    }
}

pub(super) const fn write(
    keys: &'static [Key],
    label: &'static str,
    what: &'static str,
    action: Action,
) -> Binding {
    Binding {
        keys,
        label,
        what,
        action,
        writes: true,
    }
}

use Key::{Char, Code, Ctrl};

/// The list panes' movement keys.
pub(super) fn moves() -> Vec<Binding> {
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

/// Whether a pane's key does anything where the cursor is: the footer leaves
/// out the others (the key still answers, saying why it does nothing).
fn works_here(state: &State, action: &Action) -> bool {
    match action {
        Action::Unmark => state.pane.view().marks(state).is_some_and(|m| !m.is_empty()),
        Action::Trace => state.pane.view().employee(state).flatten().is_some(),
        _ => state.pane.view().works_here(state, action),
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
        bind(&[Char(':')], ":", "command", Action::CommandLine),
        bind(&[Char('y')], "y", "copy", Action::Copy),
        write(&[Char('p')], "p", "pause", Action::TogglePause),
        bind(&[Code(KeyCode::Tab)], "Tab/0-9", "pane", Action::NextPane),
        bind(&[Code(KeyCode::BackTab)], "", "", Action::PrevPane),
        // Where no row names an employee, `T` still answers, saying so.
        bind(&[Char('T')], "", "", Action::Trace),
        bind(&[Char('?')], "?", "help", Action::Help),
        bind(&[Char('q')], "q", "quit", Action::Quit),
        bind(&[Ctrl('c')], "", "", Action::Quit),
    ]
}

/// The marking keys, the same in every pane that marks rows.
fn marking() -> Vec<Binding> {
    vec![
        bind(&[Char(' ')], "Space/A", "mark", Action::ToggleSelect),
        bind(&[Char('A')], "", "", Action::MarkAll),
        bind(&[Code(KeyCode::Esc)], "Esc", "unmark", Action::Unmark),
    ]
}

/// The keys of a pane in normal mode, with the marking keys where it marks
/// rows (just before the commands, which act on the marks) and `/` where its
/// list is filtered by text (after them): the same keys in every pane.
pub fn pane_bindings(state: &State, pane: Pane) -> Vec<Binding> {
    let view = pane.view();
    let mut keys = view.keys();
    let new = |keys: &[Binding], generic: Vec<Binding>| -> Vec<Binding> {
        generic
            .into_iter()
            .filter(|g| !keys.iter().any(|b| b.action == g.action))
            .collect()
    };
    if view.marks(state).is_some() {
        let marks = new(&keys, marking());
        let at = keys.iter().position(|b| b.writes).unwrap_or(keys.len());
        keys.splice(at..at, marks);
    }
    if view.text_filter(state).is_some() {
        let slash = bind(&[Char('/')], "/", "filter", Action::FilterText);
        keys.extend(new(&keys, vec![slash]));
    }
    if view.employee(state).is_some() {
        let trace = bind(&[Char('T')], "T", "trace", Action::Trace);
        keys.extend(new(&keys, vec![trace]));
    }
    keys
}

/// The keys that work now, most specific first.
pub fn bindings(state: &State) -> Vec<Binding> {
    match &state.mode {
        Mode::Normal => {
            let mut keys = pane_bindings(state, state.pane);
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
        Mode::Trace { .. } => vec![
            bind(&[Char('j'), Code(KeyCode::Down)], "j/k", "scroll", Action::Down),
            bind(&[Char('k'), Code(KeyCode::Up)], "", "", Action::Up),
            bind(
                &[Code(KeyCode::PageDown), Ctrl('d')],
                "PgDn/PgUp",
                "page",
                Action::PageDown,
            ),
            bind(&[Code(KeyCode::PageUp), Ctrl('u')], "", "", Action::PageUp),
            bind(&[Char('y')], "y", "copy trace", Action::Copy),
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
            bind(&[Code(KeyCode::Tab)], "", "", Action::Complete),
        ],
        Mode::EditContract { .. } => vec![
            bind(&[Ctrl('s')], "Ctrl-S", "check & review", Action::Submit),
            bind(&[Code(KeyCode::Esc)], "Esc", "leave", Action::Back),
        ],
        Mode::DiscardEdit { .. } => vec![
            bind(&[Char('y')], "y", "discard the edit", Action::Yes),
            bind(
                &[Char('n'), Code(KeyCode::Esc)],
                "n/Esc",
                "keep editing",
                Action::No,
            ),
            bind(&[Ctrl('c')], "", "", Action::Quit),
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
