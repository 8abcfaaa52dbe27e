//! The header: is the engine running, where do changes come from, and how is it
//! doing (throughput, latency, errors, what waits).

use jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

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

/// The engine's state as a symbol and a word.
fn engine_word(state: &State) -> (String, Option<EngineState>) {
    match &state.status {
        None => ("? no engine status".into(), None),
        Some(status) if status.is_stale(state.now) => (
            format!(
                "○ stale ({} since last status)",
                ago(state.now, status.updated_at)
            ),
            None,
        ),
        Some(status) => {
            let word = match status.state {
                EngineState::Running if state.pause_requested => "◐ pausing".to_string(),
                EngineState::Running => "● running".to_string(),
                EngineState::Paused if !state.pause_requested => "◑ resuming".to_string(),
                EngineState::Paused => "‖ paused".to_string(),
                EngineState::Draining => "◌ draining".to_string(),
                // A failing system is named beside it; a failed task says itself.
                EngineState::Degraded => match status.problems.last() {
                    Some(problem) => format!("▲ degraded: {problem}"),
                    None => "▲ degraded".to_string(),
                },
            };
            (word, Some(status.state))
        }
    }
}

pub fn draw(state: &State, frame: &mut Frame, area: Rect) {
    let p = state.palette;
    let (word, engine_state) = engine_word(state);
    let c = &state.counts;
    let queue = c.pending + c.retrying;
    let mut first = vec![
        Span::styled("hrsync ", p.accent()),
        Span::styled(word, p.engine(engine_state).add_modifier(Modifier::BOLD)),
    ];
    let mut figures = Vec::new();
    if let Some(status) = &state.status {
        let m = &status.metrics;
        figures.push(Span::raw(format!(
            "{:.1} ev/s  p99 {:.0}ms  err {:.1}%  ",
            m.events_per_sec,
            m.p99_ms,
            m.error_rate * 100.0
        )));
    }
    figures.push(Span::raw(format!("queue {queue}  ")));
    let dead_style = if c.dead_letters > 0 { p.bad() } else { p.dim() };
    figures.push(Span::styled(format!("dead {}", c.dead_letters), dead_style));
    figures.push(Span::raw("  "));
    let held_style = if c.held > 0 { p.warn() } else { p.dim() };
    figures.push(Span::styled(format!("held {}", c.held), held_style));
    if c.rejected > 0 {
        figures.push(Span::styled(format!("  rejected {}", c.rejected), p.bad()));
    }
    if let Some(r) = state.status.as_ref().map(|s| &s.reconcile) {
        if r.critical > 0 {
            figures.push(Span::styled(
                format!("  drift {} (! {} critical)", r.drift_total, r.critical),
                p.bad(),
            ));
        } else if r.last_complete_at.is_some() {
            figures.push(Span::raw(format!("  drift {}", r.drift_total)));
        }
        let work = state.status.as_ref().and_then(|s| s.work.as_ref());
        if let Some(work) = work {
            // A reconciliation's step or the initial load, with how far it is.
            let far = work.percent().map_or(String::new(), |p| format!(" {p}%"));
            figures.push(Span::styled(
                visible_string(format!("  {}{far}", work.what)),
                p.accent(),
            ));
        } else if r.running {
            figures.push(Span::raw("  reconciling…"));
        } else if r.last_failure.is_some() {
            figures.push(Span::styled("  last run failed", p.warn()));
        } else if let Some(next) = r.next_at {
            figures.push(Span::styled(
                format!("  recon in {}", ago(state.now, next)),
                p.dim(),
            ));
        }
    }
    let sources = state.status.as_ref().map(|s| {
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
        // The status row is read from the store, which an attached console shares.
        visible_string(format!(
            "webhooks {} · poll {last}{error}{next} · contract {}",
            s.webhook_listen, s.contract_version
        ))
    });
    let mode = if state.in_process { "" } else { " · attached" };
    // In an outage, which system fails and since when matters more than where
    // changes come from: it takes the sources' place.
    let failing: Vec<Span> = (state.status.iter().flat_map(|s| &s.systems))
        .filter(|h| h.state != SystemState::Up)
        .flat_map(|h| {
            let (symbol, style) = match h.state {
                SystemState::Down => ("✗", p.bad()),
                _ => ("◐", p.warn()),
            };
            let error = h
                .last_error
                .as_deref()
                .map_or(String::new(), |e| format!(": {e}"));
            let text = visible_string(format!(
                "{} {symbol} {} {}{error}",
                h.system.label(),
                h.state,
                ago(state.now, h.since)
            ));
            [
                Span::raw("  "),
                Span::styled(text, style.add_modifier(Modifier::BOLD)),
            ]
        })
        .collect();
    if area.height >= 2 {
        if failing.is_empty() {
            first.push(Span::raw(format!("  {}{mode}", sources.unwrap_or_default())));
        } else {
            first.extend(failing);
        }
        let [top, bottom] = ratatui::layout::Layout::vertical([
            ratatui::layout::Constraint::Length(1),
            ratatui::layout::Constraint::Length(1),
        ])
        .areas(area);
        frame.render_widget(Paragraph::new(Line::from(first)), top);
        frame.render_widget(Paragraph::new(Line::from(figures)), bottom);
    } else {
        first.push(Span::raw("  "));
        first.extend(figures);
        frame.render_widget(Paragraph::new(Line::from(first)), area);
    }
}
