//! `draw`: a pure function of the state onto a frame. Header, pane tabs, the pane
//! and the key-hint footer, and whatever overlay is open.

mod drift;
mod duplicates;
mod header;
mod lists;
mod overlays;

pub use lists::clock;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::action::Action;
use super::keys;
use super::layout;
use super::sanitise::{self, visible, visible_string};
use super::state::{Mode, Pane, State};

/// Draws the console, then sweeps the frame (see [`sanitise::sweep`]): every
/// draw site escapes outside text itself, and the sweep makes sure a site added
/// later without it still cannot send a control character to the terminal.
pub fn draw(state: &State, frame: &mut Frame) {
    paint(state, frame);
    sanitise::sweep(frame.buffer_mut());
}

/// Draws the console without the sweep. Tests use it to show that each draw
/// site escapes on its own, so the sweep stays a net rather than the fix.
pub fn paint(state: &State, frame: &mut Frame) {
    let areas = layout::areas(frame.area());
    header::draw(state, frame, areas.header);
    tabs(state, frame, areas.tabs);
    match &state.mode {
        Mode::Help => overlays::help(state, frame, areas.body),
        Mode::Detail { detail, scroll } => overlays::detail(state, detail, *scroll, frame, areas.body),
        Mode::DriftDetail { item, scroll } => drift::detail(state, item, *scroll, frame, areas.body),
        Mode::EditContract { editor, problems } => {
            overlays::editor(state, editor, problems, frame, areas.body)
        }
        _ => pane(state, frame, areas.body),
    }
    match &state.mode {
        Mode::Confirm { command, body } => overlays::confirm(state, command, body, frame, areas.body),
        Mode::Prompt { prompt, input } => overlays::prompt(state, prompt, input, frame, areas.body),
        _ => {}
    }
    footer(state, frame, areas.footer);
}

fn pane(state: &State, frame: &mut Frame, area: Rect) {
    match state.pane {
        Pane::Events => lists::events(state, frame, area),
        Pane::Failed => lists::failed(state, frame, area),
        Pane::Held => lists::held(state, frame, area),
        Pane::Audit => lists::audit(state, frame, area),
        Pane::Contract => {
            let lines: Vec<Line> = state
                .contract
                .lines
                .iter()
                .skip(state.contract.scroll as usize)
                .map(|l| {
                    // The contract's values and its problems can quote anything.
                    let l = visible(l);
                    if l.chars().next().is_some_and(|c| c.is_ascii_uppercase()) && *l == l.to_uppercase() {
                        Line::styled(l, state.palette.accent())
                    } else {
                        Line::raw(l)
                    }
                })
                .collect();
            let mut shown = lines;
            if let Some(version) = &state.contract.pending_version {
                shown.insert(
                    0,
                    Line::styled(
                        visible_string(format!(
                            "⧗ applied {version}; waiting for the engine to take it up"
                        )),
                        state.palette.warn(),
                    ),
                );
            }
            frame.render_widget(Paragraph::new(shown), area);
        }
        Pane::Drift => drift::pane(state, frame, area),
        Pane::Duplicates => duplicates::pane(state, frame, area),
        Pane::Credentials => lists::credentials(state, frame, area),
    }
}

fn tabs(state: &State, frame: &mut Frame, area: Rect) {
    let mut labels = Vec::new();
    for (i, pane) in Pane::ALL.iter().enumerate() {
        let count = match pane {
            Pane::Failed => Some(state.counts.dead_letters),
            Pane::Held => Some(state.counts.held),
            Pane::Drift => state.drift.latest().map(|r| r.total()),
            Pane::Duplicates => Some(state.duplicates.counts.open + state.duplicates.counts.flagged),
            _ => None,
        };
        let mut label = format!("{} {}", i + 1, pane.title());
        if let Some(n) = count.filter(|n| *n > 0) {
            label.push_str(&format!(" {n}"));
        }
        // A critical finding shows as a mark, not by colour alone.
        let critical = state
            .drift
            .latest()
            .is_some_and(|r| r.count(crate::model::DriftCategory::TerminatedButActive) > 0);
        if *pane == Pane::Drift && critical {
            label.push('!');
        }
        labels.push((*pane, label));
    }
    // Counts make the line longer: narrower spacing before anything is cut off.
    let padded: usize = labels.iter().map(|(_, l)| l.chars().count() + 2).sum();
    let roomy = padded <= area.width as usize;
    let mut spans = Vec::new();
    for (pane, label) in labels {
        if pane == state.pane {
            if !roomy {
                spans.push(Span::raw(" "));
            }
            spans.push(Span::styled(
                format!("[{label}]"),
                state.palette.accent().add_modifier(Modifier::REVERSED),
            ));
        } else if roomy {
            spans.push(Span::raw(format!(" {label} ")));
        } else {
            spans.push(Span::raw(format!(" {label}")));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Movement keys go last in the footer: operators know them; `?` lists them anyway.
fn is_move(action: &Action) -> bool {
    matches!(
        action,
        Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom
    )
}

fn footer(state: &State, frame: &mut Frame, area: Rect) {
    let mut spans = Vec::new();
    if state.read_only {
        spans.push(Span::styled(
            "READ-ONLY ",
            state.palette.warn().add_modifier(Modifier::BOLD),
        ));
    }
    if let Some(flash) = &state.flash {
        let style = if flash.error {
            state.palette.bad()
        } else {
            state.palette.good()
        };
        // Errors quote what was refused: a value from outside, often.
        spans.push(Span::styled(visible(&flash.text), style));
        frame.render_widget(Paragraph::new(Line::from(spans)), area);
        return;
    }
    let mut hints: Vec<_> = keys::hints(state)
        .into_iter()
        .filter(|b| !b.label.is_empty())
        .filter(|b| !(b.writes && state.read_only))
        .collect();
    // Stable: the table's order within each group.
    hints.sort_by_key(|b| {
        (
            is_move(&b.action),
            matches!(b.action, Action::Help | Action::Quit),
        )
    });
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let budget = (area.width as usize).saturating_sub(used);
    // `?` and `q` always fit when anything does: they are the way to everything else.
    let tail: Vec<String> = hints
        .iter()
        .filter(|b| matches!(b.action, Action::Help | Action::Quit))
        .map(|b| format!("{} {}", b.label, b.what))
        .collect();
    let tail_text = tail.join("  ");
    let mut width = tail_text.chars().count();
    for binding in hints
        .iter()
        .filter(|b| !matches!(b.action, Action::Help | Action::Quit))
    {
        let what = match binding.action {
            Action::TogglePause if state.pause_requested => "resume",
            _ => binding.what,
        };
        let text = format!(" {what}  ");
        let needed = binding.label.chars().count() + text.chars().count();
        if width + needed > budget {
            break;
        }
        width += needed;
        spans.push(Span::styled(binding.label, state.palette.accent()));
        spans.push(Span::raw(text));
    }
    spans.push(Span::styled(tail_text, state.palette.dim()));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
