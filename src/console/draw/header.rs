//! The header: is the engine running, which system fails (or where changes come
//! from), and how is it doing (throughput, latency, errors, what waits). On a
//! narrow screen it wraps onto its second line rather than drop a count.

use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::Paragraph;

use super::flow::{Piece, flow};
use crate::console::sanitise::visible_string;
use crate::console::state::State;
use crate::engine::operator::handle::{EngineState, SystemState};

/// "12s", "4m", "2h": how far `at` is from `now`, either way.
pub fn ago(now: Timestamp, at: Timestamp) -> String {
    let secs = now.duration_since(at).as_secs().unsigned_abs();
    match secs {
        0..=89 => format!("{secs}s"),
        90..=5399 => format!("{}m", secs / 60),
        _ => format!("{}h", secs / 3600),
    }
}

/// The engine's state as a symbol and a word, and what is wrong when it is degraded.
fn engine_word(state: &State) -> (String, Option<String>, Option<EngineState>) {
    match &state.status {
        None => ("? no engine status".into(), None, None),
        Some(status) if status.is_stale(state.now) => (
            format!(
                "○ stale ({} since last status)",
                ago(state.now, status.updated_at)
            ),
            None,
            None,
        ),
        Some(status) => {
            let word = match status.state {
                EngineState::Running if state.pause_requested => "◐ pausing",
                EngineState::Running => "● running",
                EngineState::Paused if !state.pause_requested => "◑ resuming",
                EngineState::Paused => "‖ paused",
                EngineState::Draining => "◌ draining",
                EngineState::Degraded => "▲ degraded",
            };
            // A failing system is named beside it; a failed task says itself.
            let problem = (status.state == EngineState::Degraded)
                .then(|| status.problems.last().map(|p| format!(": {p}")))
                .flatten();
            (word.to_string(), problem, Some(status.state))
        }
    }
}

/// The pieces of the header, in reading order: the engine and what fails (or
/// where changes come from), then the figures. Every count an operator acts on
/// is always shown; the rates and the sources give way on a narrow screen.
fn pieces(state: &State) -> Vec<Piece> {
    let p = state.palette;
    let (word, problem, engine_state) = engine_word(state);
    let mut spans = vec![
        Span::styled("hrsync ", p.accent()),
        Span::styled(word, p.engine(engine_state).add_modifier(Modifier::BOLD)),
    ];
    // Every screen says so: nothing the operator sees here was written.
    if state.status.as_ref().is_some_and(|s| s.shadow) {
        spans.push(Span::styled(" SHADOW", p.warn().add_modifier(Modifier::BOLD)));
    }
    let mut engine = Piece::always(spans);
    if let Some(problem) = problem {
        engine = engine.with_tail(Span::styled(visible_string(problem), p.warn()));
    }
    let mut pieces = vec![engine];
    // How many engines share the store, heard from within a lease time.
    if let Some(live) = state
        .status
        .as_ref()
        .filter(|s| !s.is_stale(state.now))
        .and_then(|s| s.live_engines)
    {
        let word = if live == 1 { "engine" } else { "engines" };
        pieces.push(Piece::optional(
            0,
            vec![Span::styled(format!("{live} {word}"), p.dim())],
        ));
    }
    // In an outage, which system fails and since when matters more than where
    // changes come from: it takes the sources' place.
    let failing: Vec<_> = (state.status.iter().flat_map(|s| &s.systems))
        .filter(|h| h.state != SystemState::Up)
        .collect();
    for h in &failing {
        let (symbol, style) = match h.state {
            SystemState::Down => ("✗", p.bad()),
            _ => ("◐", p.warn()),
        };
        let style = style.add_modifier(Modifier::BOLD);
        let head = format!(
            "{} {symbol} {} {}",
            h.system.label(),
            h.state,
            ago(state.now, h.since)
        );
        let mut piece = Piece::always(vec![Span::styled(head, style)]);
        if let Some(error) = &h.last_error {
            piece = piece.with_tail(Span::styled(visible_string(format!(": {error}")), style));
        }
        pieces.push(piece);
    }
    if let Some(s) = state.status.as_ref().filter(|_| failing.is_empty()) {
        let last = s
            .last_poll_at
            .map_or("never".to_string(), |t| format!("{} ago", ago(state.now, t)));
        let next = s
            .next_poll_at
            .map_or(String::new(), |t| format!(", next in {}", ago(state.now, t)));
        let error = s
            .last_poll_error
            .as_ref()
            .map_or(String::new(), |_| " (failed)".to_string());
        let mode = if state.in_process { "" } else { " · attached" };
        // The status row is read from the store, which an attached console shares.
        let sources = visible_string(format!(
            "webhooks {} · poll {last}{error}{next} · contract {}{mode}",
            s.webhook_listen, s.contract_version
        ));
        pieces.push(Piece::optional(0, Vec::new()).with_tail(Span::raw(sources)));
    }
    let mut figures = Vec::new();
    if let Some(status) = &state.status {
        let m = &status.metrics;
        figures.push(Piece::optional(
            2,
            vec![Span::raw(format!("{:.1} ev/s", m.events_per_sec))],
        ));
        figures.push(Piece::optional(
            1,
            vec![Span::raw(format!("p99 {:.0}ms", m.p99_ms))],
        ));
        figures.push(Piece::optional(
            3,
            vec![Span::raw(format!("err {:.1}%", m.error_rate * 100.0))],
        ));
    }
    figures.extend(counts(state));
    let mut figures = figures.into_iter();
    pieces.extend(figures.next().map(Piece::starting_a_line));
    pieces.extend(figures);
    pieces
}

/// What waits for an operator, the drift and the work under way: never dropped.
fn counts(state: &State) -> Vec<Piece> {
    let p = state.palette;
    let c = &state.counts;
    let one = |text: String, style| Piece::always(vec![Span::styled(text, style)]);
    let mut pieces = vec![one(format!("queue {}", c.pending + c.retrying), Style::default())];
    let dead_style = if c.dead_letters > 0 { p.bad() } else { p.dim() };
    pieces.push(one(format!("dead {}", c.dead_letters), dead_style));
    let held_style = if c.held > 0 { p.warn() } else { p.dim() };
    pieces.push(one(format!("held {}", c.held), held_style));
    if c.rejected > 0 {
        pieces.push(one(format!("rejected {}", c.rejected), p.bad()));
    }
    let Some(status) = &state.status else {
        return pieces;
    };
    let r = &status.reconcile;
    if r.critical > 0 {
        pieces.push(one(
            format!("drift {} (! {} critical)", r.drift_total, r.critical),
            p.bad(),
        ));
    } else if r.last_complete_at.is_some() {
        pieces.push(one(format!("drift {}", r.drift_total), Style::default()));
    }
    if let Some(work) = &status.work {
        // A reconciliation's step or the initial load, with how far it is.
        let far = work.percent().map_or(String::new(), |p| format!(" {p}%"));
        pieces.push(one(visible_string(format!("{}{far}", work.what)), p.accent()));
    } else if r.running {
        pieces.push(one("reconciling…".to_string(), Style::default()));
    } else if r.last_failure.is_some() {
        pieces.push(one("last run failed".to_string(), p.warn()));
    } else if let Some(next) = r.next_at {
        let when = format!("recon in {}", ago(state.now, next));
        pieces.push(Piece::optional(0, vec![Span::styled(when, p.dim())]));
    }
    pieces
}

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let lines = flow(pieces(state), area.width, area.height);
    frame.render_widget(Paragraph::new(lines), area);
}
