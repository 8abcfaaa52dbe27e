//! The Cutover pane: the streak and the bar as its title, a row per business
//! day (the latest ones when they do not all fit), and the latest compared
//! day's differences below, the cursor on one.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};

use super::lists::shown;
use crate::console::layout::areas as screen_areas;
use crate::console::state::State;
use crate::engine::operator::handle::DayState;

/// The pane's parts: the title, the days (with their column titles), the differences.
pub fn areas(body: Rect, days: usize) -> [Rect; 3] {
    let room = body.height.saturating_sub(1);
    // The days take what they need, up to half; the differences the rest.
    let days = (days as u16 + 1).min(room / 2).max(2.min(room));
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(days),
        Constraint::Min(0),
    ])
    .areas(body)
}

/// Differences shown at once (below the block's title and the column titles).
pub fn difference_rows(width: u16, height: u16, days: usize) -> usize {
    let body = screen_areas(Rect::new(0, 0, width, height)).body;
    let [_, _, below] = areas(body, days);
    below.height.saturating_sub(2) as usize
}

pub fn pane(state: &State, frame: &mut Frame, area: Rect) {
    let p = state.palette;
    let Some(standing) = &state.panes.cutover.standing else {
        frame.render_widget(
            Paragraph::new(Line::styled("reading the parallel run…", p.dim())),
            area,
        );
        return;
    };
    let status = &standing.status;
    let [title_area, days_area, below] = areas(area, status.days.len());
    let (bar, bar_style) = match status.bar_reached {
        true => ("bar reached: `hrsync parallel cutover` may go ahead", p.good()),
        false => ("bar not reached", p.warn()),
    };
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                format!(
                    "Cutover · streak {} of {} clean business days · ",
                    status.streak, status.required_days
                ),
                p.accent(),
            ),
            Span::styled(bar, bar_style),
        ])),
        title_area,
    );
    if standing.days.is_empty() {
        frame.render_widget(
            Paragraph::new(vec![
                Line::styled("No day compared yet.", p.dim()),
                Line::styled(
                    "Drop the legacy file in [parallel] inbox (legacy-YYYY-MM-DD.csv), or run",
                    p.dim(),
                ),
                Line::styled(
                    "hrsync parallel compare --legacy FILE --date YYYY-MM-DD --config F",
                    p.dim(),
                ),
            ]),
            days_area.union(below),
        );
        return;
    }
    // The latest days, when they do not all fit.
    let fits = days_area.height.saturating_sub(1) as usize;
    let skip = status.days.len().saturating_sub(fits);
    let rows: Vec<Row> = (status.days.iter().skip(skip))
        .map(|day| {
            let compared = standing.day(day.date);
            let (result, style) = match day.state {
                DayState::Clean => ("✓ clean".to_string(), p.good()),
                DayState::Differences(n) => (format!("✗ {n} open"), p.bad()),
                DayState::Missing => ("· not compared".to_string(), p.warn()),
            };
            let count = |n: Option<u64>| n.map_or("-".to_string(), |n| n.to_string());
            let explained = compared.map(|c| {
                (c.differences.iter())
                    .filter(|d| standing.explanation_of(d).is_some())
                    .count() as u64
            });
            Row::new(vec![
                Cell::from(day.date.to_string()),
                Cell::from(day.date.strftime("%a").to_string()),
                Cell::from(Span::styled(result, style)),
                Cell::from(count(compared.map(|c| c.differences.len() as u64))),
                Cell::from(count(explained)),
                Cell::from(count(compared.map(|c| c.legacy_learners))),
                Cell::from(count(compared.map(|c| c.hrsync_learners))),
                Cell::from(count(compared.map(|c| c.matching))),
            ])
        })
        .collect();
    let header = Row::new([
        "date", "day", "result", "diffs", "expl", "legacy", "hrsync", "match",
    ])
    .style(p.dim());
    let widths = [
        Constraint::Length(10),
        Constraint::Length(3),
        Constraint::Length(16),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(6),
    ];
    frame.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        days_area,
    );
    differences(state, frame, below);
}

/// The latest compared day's differences, the cursor on one.
fn differences(state: &State, frame: &mut Frame, area: Rect) {
    let p = state.palette;
    let pane = &state.panes.cutover;
    let Some(latest) = pane.standing.as_ref().and_then(|s| s.latest()) else {
        return;
    };
    let all = pane.differences();
    let explained = all.iter().filter(|(_, e)| e.is_some()).count();
    let block = Block::default().borders(Borders::TOP).title(Span::styled(
        format!(
            "differences on {} ({}): {}, {} explained · x explains",
            latest.day,
            if latest.shadow { "desired state" } else { "LMS" },
            all.len(),
            explained
        ),
        p.accent(),
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if all.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                "None: the legacy process and hrsync agree on every learner.",
                p.good(),
            )),
            inner,
        );
        return;
    }
    let visible = inner.height.saturating_sub(1) as usize;
    let rows: Vec<Row> = (all.iter().enumerate())
        .skip(pane.offset)
        .take(visible)
        .map(|(i, (d, e))| {
            let here = i == pane.selected;
            let (state_text, style) = match e {
                Some(e) => (format!("✓ {}: {}", e.by, e.reason), p.good()),
                None => ("open".to_string(), p.bad()),
            };
            let row = Row::new(vec![
                Cell::from(if here { "›" } else { " " }),
                Cell::from(shown(&d.employee_id)),
                Cell::from(shown(&d.field)),
                Cell::from(shown(d.legacy.as_deref().unwrap_or("(none)"))),
                Cell::from(shown(d.hrsync.as_deref().unwrap_or("(none)"))),
                Cell::from(Span::styled(shown(&state_text), style)),
            ]);
            if here { row.style(p.cursor()) } else { row }
        })
        .collect();
    let header = Row::new([" ", "employee", "field", "legacy", "hrsync", "explained?"]).style(p.dim());
    let widths = [
        Constraint::Length(1),
        Constraint::Length(12),
        Constraint::Length(12),
        Constraint::Fill(1),
        Constraint::Fill(1),
        Constraint::Fill(1),
    ];
    frame.render_widget(Table::new(rows, widths).header(header).column_spacing(1), inner);
}
