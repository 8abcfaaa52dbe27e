//! The Failed pane's queues: one line naming each with its count (the one in
//! view marked), then that queue's table with the columns it needs: the attempt
//! and when the next one is for retrying events, why and what fits for rejected
//! ones, what a blocked event waits behind.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph};

use super::header::ago;
use super::lists::{Column, Columns, WIDE, clock, col, shown, status_cell, table, wide_only};
use crate::console::failed::FailedQueue;
use crate::console::state::State;
use crate::model::{Direction, Event, EventStatus};

/// "2 of 3": the attempt a retrying event is waiting for, the last one a dead
/// letter made; the maximum is the engine's `[retry] attempts`, as it publishes it.
pub(super) fn attempt(state: &State, e: &Event) -> String {
    let n = match e.status {
        EventStatus::Retrying => e.attempts + 1,
        _ => e.attempts,
    };
    match state.status.as_ref().and_then(|s| s.retry_attempts) {
        Some(max) => format!("{n} of {max}"),
        None => n.to_string(),
    }
}

/// "03:14:05 in 42s": when the engine tries it next, by the clock and from now
/// ("due" once the time has come: the engine is on it, or paused).
pub(super) fn next_attempt(state: &State, e: &Event) -> String {
    match e.next_attempt_at {
        None => "-".into(),
        Some(at) if at <= state.now => format!("{} due", clock(at)),
        Some(at) => format!("{} in {}", clock(at), ago(state.now, at)),
    }
}

/// The detail's line on retries: the next attempt of a retrying event, the last
/// of a dead letter. The same words as the Failed pane's columns.
pub(super) fn retry_line(state: &State, e: &Event) -> Option<String> {
    match e.status {
        EventStatus::Retrying => Some(format!(
            "retrying: attempt {} at {}; r in the Failed pane retries now",
            attempt(state, e),
            next_attempt(state, e)
        )),
        EventStatus::DeadLetter => Some(format!(
            "dead letter: attempt {} failed, no more are made; r in the Failed pane retries it",
            attempt(state, e)
        )),
        _ => None,
    }
}

/// What fits a rejected event. Refused by the target (the worker names the
/// system as the field): fix the record there, then retry. Refused by the
/// contract: the HRIS data is wrong, so flag it to the HRIS admin, or fix the
/// contract and retry. Skipping fits both.
fn fits(e: &Event, wide: bool) -> &'static str {
    let by_target = e.reasons.iter().any(|r| r.field == "lms" || r.field == "hris");
    match (by_target, e.direction, wide) {
        (true, Direction::HrisToLms, false) => "fix in the LMS, r",
        (true, Direction::LmsToHris, false) => "fix in the HRIS, r",
        (false, _, false) => "f flag; r after a fix",
        (true, Direction::HrisToLms, true) => "fix it in the LMS, then r retries; or s skips",
        (true, Direction::LmsToHris, true) => "fix it in the HRIS, then r retries; or s skips",
        (false, _, true) => "f flags the HRIS data; r once the contract is fixed; s skips",
    }
}

/// The line above the table: each queue and its count, the one in view marked.
fn views(state: &State, frame: &mut Frame, area: Rect) {
    let pane = &state.panes.failed;
    let p = state.palette;
    let mut spans = Vec::new();
    for (i, queue) in FailedQueue::ALL.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", p.dim()));
        }
        let label = format!("{} {}", queue.label(), queue.count(state));
        if queue == pane.view {
            // Marked by brackets too: it shows without colour.
            spans.push(Span::styled(
                format!("[{label}]"),
                p.accent().add_modifier(Modifier::REVERSED),
            ));
        } else {
            spans.push(Span::styled(label, p.dim()));
        }
    }
    spans.push(Span::styled("  ←/→", p.dim()));
    if let Some(text) = &pane.text {
        spans.push(Span::raw(format!(" · / {}", shown(text))));
    }
    spans.push(Span::raw(super::marks::summary(&pane.list)));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

const RETRYING_COLUMNS: [Column; 9] = [
    col("sel", Constraint::Length(3)),
    col("id", Constraint::Length(8)),
    col("employee", Constraint::Length(10)),
    wide_only("kind", Constraint::Length(12)),
    wide_only("received", Constraint::Length(8)),
    col("attempt", Constraint::Length(7)),
    col("next attempt", Constraint::Length(15)),
    col("http", Constraint::Length(4)),
    col("last error", Constraint::Fill(1)),
];

const DEAD_COLUMNS: [Column; 8] = [
    col("sel", Constraint::Length(3)),
    col("id", Constraint::Length(8)),
    col("employee", Constraint::Length(10)),
    wide_only("kind", Constraint::Length(12)),
    col("attempts", Constraint::Length(8)),
    col("gave up", Constraint::Length(8)),
    col("http", Constraint::Length(4)),
    col("last error", Constraint::Fill(1)),
];

const REJECTED_COLUMNS: [Column; 7] = [
    col("sel", Constraint::Length(3)),
    col("id", Constraint::Length(8)),
    col("employee", Constraint::Length(10)),
    wide_only("kind", Constraint::Length(12)),
    wide_only("received", Constraint::Length(8)),
    col("why refused", Constraint::Fill(1)),
    Column {
        title: "what fits",
        narrow: Some(Constraint::Length(21)),
        wide: Some(Constraint::Length(60)),
    },
];

const BLOCKED_COLUMNS: [Column; 7] = [
    col("sel", Constraint::Length(3)),
    col("id", Constraint::Length(8)),
    col("employee", Constraint::Length(10)),
    wide_only("kind", Constraint::Length(12)),
    wide_only("status", Constraint::Length(11)),
    col("received", Constraint::Length(8)),
    col("waiting behind", Constraint::Fill(1)),
];

pub fn failed(state: &State, frame: &mut Frame, area: Rect) {
    let pane = &state.panes.failed;
    let [line, list] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    views(state, frame, line);
    let wide = area.width >= WIDE;
    let p = state.palette;
    let (columns, empty): (&[Column], &str) = match pane.view {
        FailedQueue::Retrying => (
            &RETRYING_COLUMNS,
            "Nothing is retrying: every failed attempt has been tried again.",
        ),
        FailedQueue::DeadLetters => (
            &DEAD_COLUMNS,
            "No dead letters: nothing has failed all its attempts.",
        ),
        FailedQueue::Rejected => (
            &REJECTED_COLUMNS,
            "Nothing rejected: every change passed the contract and the target took it.",
        ),
        FailedQueue::Blocked => (
            &BLOCKED_COLUMNS,
            "Nothing blocked: no event waits behind another of its employee.",
        ),
    };
    let error = |e: &Event| {
        Cell::from(Span::styled(
            shown(e.last_error.as_deref().unwrap_or("")),
            p.bad(),
        ))
    };
    table(
        state,
        frame,
        list,
        &pane.list,
        Columns { columns, wide, empty },
        |e| {
            let mut cells = vec![
                super::marks::cell(&pane.list, e.id.0),
                Cell::from(e.id.to_string()),
                Cell::from(shown(&e.employee_id)),
            ];
            if wide {
                cells.push(Cell::from(shown(&e.kind)));
            }
            let http = || Cell::from(e.last_http_status.map_or("-".into(), |s| s.to_string()));
            match pane.view {
                FailedQueue::Retrying => {
                    if wide {
                        cells.push(Cell::from(clock(e.received_at)));
                    }
                    cells.extend([
                        Cell::from(attempt(state, e)),
                        Cell::from(next_attempt(state, e)),
                        http(),
                        error(e),
                    ]);
                }
                FailedQueue::DeadLetters => cells.extend([
                    Cell::from(attempt(state, e)),
                    Cell::from(clock(e.updated_at)),
                    http(),
                    error(e),
                ]),
                FailedQueue::Rejected => {
                    if wide {
                        cells.push(Cell::from(clock(e.received_at)));
                    }
                    cells.extend([error(e), Cell::from(fits(e, wide)).style(p.warn())]);
                }
                FailedQueue::Blocked => {
                    if wide {
                        cells.push(status_cell(state, e));
                    }
                    let note = e.note.as_deref().unwrap_or("");
                    let behind = note.strip_prefix("waiting behind ").unwrap_or(note);
                    cells.extend([
                        Cell::from(clock(e.received_at)),
                        Cell::from(Span::styled(shown(behind), p.warn())),
                    ]);
                }
            }
            cells
        },
    );
}
