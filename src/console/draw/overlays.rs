//! What opens over a pane: an event's detail, an employee's trace, the help,
//! the one confirmation, a one-line prompt and the contract editor.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use tui_textarea::TextArea;

use super::flow::wrap;
use super::lists::clock;
use crate::console::action::Command;
use crate::console::keys;
use crate::console::layout::centered;
use crate::console::palette::status_label;
use crate::console::sanitise::{visible, visible_string};
use crate::console::state::{Pane, Prompt, State};
use crate::engine::operator::handle::ContractProblem;
use crate::store::EventDetail;

/// A payload as indented JSON. serde_json escapes C0 controls in strings
/// already; DEL, C1 and bidi characters it leaves as they are.
fn pretty(value: &serde_json::Value) -> Vec<Line<'static>> {
    serde_json::to_string_pretty(value)
        .unwrap_or_default()
        .lines()
        .map(|l| Line::raw(visible(l).into_owned()))
        .collect()
}

fn section(state: &State, title: &str) -> Line<'static> {
    Line::styled(title.to_string(), state.palette.accent())
}

/// The write and its result: every write made, every failed attempt.
fn outcome(state: &State, detail: &EventDetail) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if detail.writes.is_empty() {
        lines.push(Line::raw("no write made"));
    }
    for w in &detail.writes {
        let r = &w.write;
        lines.push(Line::raw(visible_string(format!(
            "{} {} → {} {} HTTP {}",
            clock(w.at),
            r.sent_from,
            r.sent_to,
            r.target_id.as_deref().unwrap_or("-"),
            r.http_status.map_or("-".into(), |s| s.to_string())
        ))));
        lines.push(Line::styled("before:", state.palette.dim()));
        lines.extend(pretty(&r.before));
        lines.push(Line::styled("after:", state.palette.dim()));
        lines.extend(pretty(&r.after));
    }
    if !detail.failures.is_empty() {
        lines.push(section(state, "FAILED ATTEMPTS"));
        for f in &detail.failures {
            lines.push(Line::styled(
                visible_string(format!(
                    "{} HTTP {} {}",
                    clock(f.at),
                    f.http_status.map_or("-".into(), |s| s.to_string()),
                    f.error
                )),
                state.palette.bad(),
            ));
        }
    }
    lines
}

pub fn detail(state: &State, detail: &EventDetail, scroll: u16, frame: &mut Frame, area: Rect) {
    let e = &detail.event;
    let mut head = vec![Line::from(vec![
        Span::styled(format!("event {} ", e.id), state.palette.accent()),
        Span::styled(status_label(e.status), state.palette.status(e.status)),
        Span::raw(visible_string(format!(
            "  {} {} {} via {}  received {}  attempts {}",
            e.employee_id,
            e.kind,
            e.direction,
            e.source,
            clock(e.received_at),
            e.attempts
        ))),
    ])];
    // The error in full, on as many lines as it takes: the list and its status
    // bar show as much as one line holds.
    let mut whole = |text: String, style| {
        let lines = wrap(&text, area.width as usize);
        head.extend(lines.into_iter().map(|l| Line::styled(l, style)));
    };
    if let Some(error) = &e.last_error {
        whole(format!("last error: {}", visible(error)), state.palette.bad());
    }
    if let Some(note) = &e.note {
        whole(format!("note: {}", visible(note)), Style::default());
    }
    if let Some(retries) = super::queues::retry_line(state, e) {
        whole(retries, state.palette.warn());
    }
    for r in &e.reasons {
        whole(
            visible_string(format!("  {}: {}", r.field, r.reason)),
            state.palette.bad(),
        );
    }
    let raw = pretty(&e.payload);
    let mapped = e
        .mapped
        .as_ref()
        .map_or_else(|| vec![Line::raw("not mapped yet")], pretty);
    let result = outcome(state, detail);
    if area.width >= 120 {
        let [top, columns] =
            Layout::vertical([Constraint::Length(head.len() as u16), Constraint::Min(0)]).areas(area);
        frame.render_widget(Paragraph::new(head), top);
        let cols: [Rect; 3] = Layout::horizontal([Constraint::Ratio(1, 3); 3]).areas(columns);
        for (col, (title, body)) in cols.into_iter().zip([
            ("RAW PAYLOAD", raw),
            ("MAPPED PAYLOAD", mapped),
            ("WRITE AND RESULT", result),
        ]) {
            let block = Block::default()
                .borders(Borders::TOP)
                .title(Span::styled(title, state.palette.accent()));
            frame.render_widget(Paragraph::new(body).block(block).scroll((scroll, 0)), col);
        }
    } else {
        let mut lines = head;
        lines.push(section(state, "RAW PAYLOAD"));
        lines.extend(raw);
        lines.push(section(state, "MAPPED PAYLOAD"));
        lines.extend(mapped);
        lines.push(section(state, "WRITE AND RESULT"));
        lines.extend(result);
        frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), area);
    }
}

/// `T`: an employee's trace, its lines as `hrsync trace` prints them (made
/// safe already), the verdict set off; long lines wrap, j/k scroll.
pub fn trace(state: &State, employee: &str, lines: &[String], scroll: u16, frame: &mut Frame, area: Rect) {
    let mut shown = vec![Line::styled(
        format!("TRACE OF EMPLOYEE {}", visible(employee)),
        state.palette.accent(),
    )];
    shown.extend(lines.iter().map(|line| {
        let line = visible(line).into_owned();
        if line.starts_with("verdict:") {
            Line::styled(line, state.palette.accent().add_modifier(Modifier::BOLD))
        } else if line.contains("  ✗ ") {
            Line::styled(line, state.palette.bad())
        } else {
            Line::raw(line)
        }
    }));
    frame.render_widget(
        Paragraph::new(shown)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        area,
    );
}

pub fn help(state: &State, frame: &mut Frame, area: Rect) {
    let mut lines = vec![section(state, "KEYS (Esc closes)")];
    for &pane in Pane::ALL {
        let keys: Vec<String> = keys::pane_bindings(state, pane)
            .iter()
            .filter(|b| !b.label.is_empty())
            .map(|b| format!("{} {}", b.label, b.what))
            .collect();
        if !keys.is_empty() {
            lines.push(Line::raw(format!("{:<9} {}", pane.title(), keys.join(" · "))));
        }
    }
    lines.push(Line::raw(
        "anywhere  0-9/Tab panes · : commands (Tab completes) · p pause/resume · y copy (OSC 52) · \
         ? help · q quit · Esc back",
    ));
    lines.push(Line::raw(
        "prompts   Enter done · Esc cancel; the contract editor checks with Ctrl-S and shows the change first",
    ));
    if state.read_only {
        lines.push(Line::styled(
            "read-only: every change is refused",
            state.palette.warn(),
        ));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

fn popup(state: &State, frame: &mut Frame, area: Rect, title: String, lines: Vec<Line<'static>>) {
    let height = (lines.len() as u16).saturating_add(2);
    let width = area.width.saturating_sub(4).clamp(20, 100);
    let rect = centered(area, width, height);
    frame.render_widget(Clear, rect);
    let block = Block::default().borders(Borders::ALL).title(Span::styled(
        title,
        state.palette.accent().add_modifier(Modifier::BOLD),
    ));
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

pub fn confirm(state: &State, command: &Command, body: &[String], frame: &mut Frame, area: Rect) {
    let mut lines: Vec<Line> = body
        .iter()
        .map(|l| {
            let style = match l.chars().next() {
                Some('+') => state.palette.good(),
                Some('-') => state.palette.bad(),
                _ => ratatui::style::Style::default(),
            };
            // Bodies name ids, reasons and contract lines from outside.
            Line::styled(visible(l).into_owned(), style)
        })
        .collect();
    lines.push(Line::styled("y/Enter: yes · n/Esc: no", state.palette.dim()));
    popup(
        state,
        frame,
        area,
        visible_string(format!("Really {}?", command.describe())),
        lines,
    );
}

/// A one-line prompt; on its lower border, why the last answer was not taken
/// (`(text, true)`), or what may be typed next.
pub fn prompt(
    state: &State,
    prompt: &Prompt,
    input: &TextArea<'static>,
    below: Option<(&str, bool)>,
    frame: &mut Frame,
    area: Rect,
) {
    let width = area.width.saturating_sub(4).clamp(20, 100);
    let rect = centered(area, width, 3);
    frame.render_widget(Clear, rect);
    let mut input = input.clone();
    let mut block = Block::default().borders(Borders::ALL).title(Span::styled(
        visible_string(prompt.title()),
        state.palette.accent(),
    ));
    match below {
        Some((why, true)) => {
            block = block.title_bottom(Span::styled(format!("✗ {}", visible(why)), state.palette.bad()));
        }
        Some((hint, false)) => {
            block = block.title_bottom(Span::styled(visible(hint).into_owned(), state.palette.dim()));
        }
        None => {}
    }
    input.set_block(block);
    input.set_cursor_line_style(ratatui::style::Style::default());
    frame.render_widget(&input, rect);
}

/// Esc in the contract editor, with changes made.
pub fn discard(state: &State, frame: &mut Frame, area: Rect) {
    let lines = vec![
        Line::raw("Your changes to the contract will be lost; the contract in force stays."),
        Line::styled("y: discard · n/Esc: keep editing", state.palette.dim()),
    ];
    popup(state, frame, area, "Discard the edit?".into(), lines);
}

pub fn editor(
    state: &State,
    editor: &TextArea<'static>,
    problems: &[ContractProblem],
    frame: &mut Frame,
    area: Rect,
) {
    let problem_rows = if problems.is_empty() {
        0
    } else {
        (problems.len() as u16 + 1).min(area.height / 3)
    };
    let [text, below] = Layout::vertical([Constraint::Min(0), Constraint::Length(problem_rows)]).areas(area);
    // The text stays exact here, as it will be saved; the frame's sweep keeps
    // any control character in it off the terminal.
    let mut editor = editor.clone();
    editor.set_block(Block::default().borders(Borders::TOP).title(Span::styled(
        "Editing the contract · Ctrl-S checks it and shows the change · Esc leaves (asks first)",
        state.palette.accent(),
    )));
    editor.set_line_number_style(state.palette.dim());
    frame.render_widget(&editor, text);
    if !problems.is_empty() {
        let mut lines = vec![Line::styled(
            format!(
                "refused, {} problem(s); the contract in force stays:",
                problems.len()
            ),
            state.palette.bad(),
        )];
        lines.extend(problems.iter().map(|p| Line::raw(visible_string(p.to_string()))));
        frame.render_widget(Paragraph::new(lines), below);
    }
}
