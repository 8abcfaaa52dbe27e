//! `draw`: a pure function of the state onto a frame. Header, pane tabs, the pane
//! (a list with its status bar), the key-hint footer, and whatever overlay is open.

pub(super) mod cutover;
pub(super) mod drift;
pub(super) mod duplicates;
pub(super) mod files;
mod flow;
mod header;
pub(super) mod held;
pub(super) mod lists;
pub(super) mod marks;
mod overlays;
pub(super) mod queues;
mod review;
pub(super) mod status_bar;

pub use lists::clock;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::action::{Action, Command};
use super::keys;
use super::layout;
use super::sanitise::{self, visible};
use super::state::{Mode, Pane, Prompt, State};

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
        Mode::Trace {
            employee,
            lines,
            scroll,
        } => overlays::trace(state, employee, lines, *scroll, frame, areas.body),
        Mode::EditContract { editor, problems } | Mode::DiscardEdit { editor, problems } => {
            overlays::editor(state, editor, problems, frame, areas.body)
        }
        // An edited contract under review: its diff and its impact, the typed
        // confirmation over it when it trips [safety].
        Mode::Confirm {
            command: Command::ApplyContract(_),
            body,
        } => review::review(state, body, frame, areas.body),
        Mode::Prompt {
            prompt: Prompt::TypeToConfirm { command, .. },
            ..
        } => review::review(state, &review_body(state, command), frame, areas.body),
        _ => pane(state, frame, areas.body),
    }
    match &state.mode {
        Mode::Confirm {
            command: Command::ApplyContract(_),
            ..
        } => {}
        Mode::Confirm { command, body } => overlays::confirm(state, command, body, frame, areas.body),
        Mode::Prompt {
            prompt,
            input,
            refusal,
            hint,
        } => {
            let below = match (refusal, hint) {
                (Some(why), _) => Some((why.as_str(), true)),
                (None, Some(hint)) => Some((hint.as_str(), false)),
                (None, None) => None,
            };
            overlays::prompt(state, prompt, input, below, frame, areas.body)
        }
        Mode::DiscardEdit { .. } => overlays::discard(state, frame, areas.body),
        _ => {}
    }
    footer(state, frame, areas.footer);
}

/// The diff a typed confirmation's review shows under it.
fn review_body(state: &State, command: &Command) -> Vec<String> {
    match command {
        Command::OverrideSafety { text, .. } => {
            super::contract_view::diff(state.panes.contract.text.as_deref().unwrap_or(""), text)
        }
        _ => Vec::new(),
    }
}

fn pane(state: &State, frame: &mut Frame, area: Rect) {
    state.pane.view().draw(state, frame, area);
}

/// Each pane's tab label; `short`: the short names, but the pane in front's.
fn tab_labels(state: &State, short: bool) -> Vec<(Pane, String)> {
    Pane::ALL
        .iter()
        .enumerate()
        .map(|(i, pane)| {
            let view = pane.view();
            let title = if short && *pane != state.pane {
                view.short_title()
            } else {
                view.title()
            };
            (*pane, format!("{} {title}{}", (i + 1) % 10, view.badge(state)))
        })
        .collect()
}

/// Every tab's short name, the pane in front's too; `spaced`: "1 Evts", else "1Evts".
fn tight_labels(state: &State, spaced: bool) -> Vec<(Pane, String)> {
    let gap = if spaced { " " } else { "" };
    Pane::ALL
        .iter()
        .map(|pane| {
            let view = pane.view();
            let label = format!("{}{gap}{}{}", pane.digit(), view.short_title(), view.badge(state));
            (*pane, label)
        })
        .collect()
}

fn tabs(state: &State, frame: &mut Frame, area: Rect) {
    let width = area.width as usize;
    // A label and its padding: " label " (or "[label]") when roomy, else
    // " label", and " [label]" in front.
    let roomy_width =
        |labels: &[(Pane, String)]| -> usize { labels.iter().map(|(_, l)| l.chars().count() + 2).sum() };
    let narrow_width = |labels: &[(Pane, String)]| -> usize {
        labels.iter().map(|(_, l)| l.chars().count() + 1).sum::<usize>() + 2
    };
    // Counts make the line longer: narrower spacing, then short names, before
    // anything is cut off.
    let mut labels = tab_labels(state, false);
    let roomy = roomy_width(&labels) <= width;
    if !roomy && narrow_width(&labels) > width {
        labels = tab_labels(state, true);
    }
    // Ten panes on a narrow screen: the pane in front's name short too, then
    // the digits without their space.
    for spaced in [true, false] {
        if !roomy && narrow_width(&labels) > width {
            labels = tight_labels(state, spaced);
        }
    }
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
