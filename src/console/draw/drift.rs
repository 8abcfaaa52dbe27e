//! The Drift pane: the latest complete reconciliation (and a newer run that is
//! under way or failed), its trend, its categories with counts, and a page of
//! the chosen category's items, HRIS value against LMS value; and an item in full.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Wrap};

use super::header::ago;
use super::lists::{Column, Columns, WIDE, clock, col, shown, table, wide_only};
use crate::console::drift::DriftPane;
use crate::console::layout::drift_areas;
use crate::console::sanitise::{visible, visible_string};
use crate::console::state::State;
use crate::model::{DriftCategory, DriftState, RunOutcome};
use crate::store::{DriftItem, ReconcileRun};

/// A state as a symbol and a word.
pub fn state_label(state: DriftState) -> &'static str {
    match state {
        DriftState::Open => "● open",
        DriftState::Fixing => "↻ fixing",
        DriftState::Flagged => "⚑ flagged",
        DriftState::Accepted => "✓ accepted",
    }
}

fn state_style(state: &State, drift: DriftState) -> Style {
    match drift {
        DriftState::Open => state.palette.warn(),
        DriftState::Fixing | DriftState::Accepted => state.palette.good(),
        DriftState::Flagged => Style::default(),
    }
}

/// The time of day, with the date when it is not within the last day or the next.
fn when(state: &State, at: Timestamp) -> String {
    let hours = state.now.duration_since(at).as_hours().abs();
    if hours < 20 {
        clock(at)
    } else {
        at.to_zoned(TimeZone::system())
            .strftime("%Y-%m-%d %H:%M")
            .to_string()
    }
}

/// Totals of the complete runs, oldest first, as block characters.
fn sparkline(runs: &[&ReconcileRun]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = runs.iter().map(|r| r.total()).max().unwrap_or(0).max(1);
    runs.iter()
        .rev()
        .map(|r| BARS[(r.total() * 7).div_ceil(max) as usize])
        .collect()
}

fn change(now: u64, before: Option<u64>) -> String {
    match before {
        None => String::new(),
        Some(b) if b == now => "=".into(),
        Some(b) if now > b => format!("+{}", now - b),
        Some(b) => format!("−{}", b - now),
    }
}

fn summary(state: &State, pane: &DriftPane) -> Vec<Line<'static>> {
    let p = state.palette;
    let mut lines = Vec::new();
    if let Some(run) = pane.newer_unfinished() {
        lines.push(match run.outcome {
            RunOutcome::Running => Line::styled(
                visible_string(format!(
                    "⧗ run {} under way since {} ({})",
                    run.id,
                    when(state, run.started_at),
                    run.trigger
                )),
                p.warn(),
            ),
            // A failed run's error can quote what the HRIS or LMS answered.
            _ => Line::styled(
                format!(
                    "✗ run {} failed {}: {}",
                    run.id,
                    when(state, run.finished_at.unwrap_or(run.started_at)),
                    visible(run.error.as_deref().unwrap_or("no reason recorded"))
                ),
                p.bad(),
            ),
        });
    }
    let next = match pane.next_run {
        Some(at) => format!("next run {}, in {}", when(state, at), ago(state.now, at)),
        None => "next run: not scheduled yet (no engine has said)".into(),
    };
    let Some(run) = pane.latest() else {
        lines.push(Line::raw("No reconciliation has completed yet."));
        lines.push(Line::raw("R asks the engine for one now."));
        lines.push(Line::styled(next, p.dim()));
        return lines;
    };
    let finished = run.finished_at.unwrap_or(run.started_at);
    lines.push(Line::styled(
        visible_string(format!(
            "run {} · {} ({} ago) · {}",
            run.id,
            when(state, finished),
            ago(state.now, finished),
            run.trigger
        )),
        p.accent(),
    ));
    lines.push(Line::raw(format!(
        "employees {} · learners {}",
        run.employees, run.learners
    )));
    lines.push(Line::raw(format!(
        "completions {} · found {} · accepted {}",
        run.completions,
        run.total(),
        run.accepted
    )));
    // Before the trend: when the next run comes matters more than the past.
    lines.push(Line::styled(next, p.dim()));
    let complete: Vec<&ReconcileRun> = pane
        .runs
        .iter()
        .filter(|r| r.outcome == RunOutcome::Complete)
        .collect();
    if complete.len() > 1 {
        let oldest = complete.last().map_or(0, |r| r.total());
        lines.push(Line::raw(format!(
            "trend {} {oldest} → {} ({} runs)",
            sparkline(&complete),
            run.total(),
            complete.len()
        )));
    }
    lines
}

fn categories(state: &State, pane: &DriftPane) -> Vec<Line<'static>> {
    let p = state.palette;
    let Some(run) = pane.latest() else {
        return Vec::new();
    };
    let previous = pane.previous();
    let mut lines = vec![Line::styled(
        format!("{:<30}{:>5}{:>5}", "   category (! critical)", "now", "prev"),
        p.dim(),
    )];
    let rows = std::iter::once(None).chain(DriftCategory::ALL.iter().copied().map(Some));
    for category in rows {
        let (name, now, before) = match category {
            None => ("every category", run.total(), previous.map(|r| r.total())),
            Some(c) => (c.describe(), run.count(c), previous.map(|r| r.count(c))),
        };
        let here = category == pane.category;
        let critical = category.is_some_and(|c| c.is_critical());
        let text = format!(
            "{}{} {:<27}{:>5}{:>5}",
            if here { "›" } else { " " },
            if critical { "!" } else { " " },
            name,
            now,
            change(now, before)
        );
        let style = if critical && now > 0 {
            p.bad()
        } else if now == 0 {
            p.dim()
        } else {
            Style::default()
        };
        let style = if here { style.patch(p.cursor()) } else { style };
        lines.push(Line::styled(text, style));
    }
    lines
}

fn value(v: &Option<String>) -> String {
    v.as_deref().map_or_else(|| "—".to_string(), shown)
}

const ITEM_COLUMNS: [Column; 7] = [
    col("sel", Constraint::Length(3)),
    col("state", Constraint::Length(10)),
    col("employee", Constraint::Length(10)),
    wide_only("learner", Constraint::Length(12)),
    Column {
        title: "what",
        narrow: Some(Constraint::Length(14)),
        wide: Some(Constraint::Length(40)),
    },
    col("HRIS value", Constraint::Fill(1)),
    col("LMS value", Constraint::Fill(1)),
];

fn items(state: &State, pane: &DriftPane, frame: &mut Frame, area: Rect) {
    let [title_area, list] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let name = pane.category.map_or("every category", |c| c.describe());
    let listed = pane.listed();
    let mut title = format!("{name} · {listed} item(s)");
    if let Some(text) = &pane.text {
        // A filter narrows the run's count to rows not counted here.
        title = format!("{name} · matching \"{}\"", visible(text));
    } else if listed > 0 {
        title.push_str(&format!(
            " · at {} of {listed}",
            pane.items.selected_row().map_or(0, |i| i.number) + 1
        ));
    }
    title.push_str(&super::marks::summary(&pane.items));
    frame.render_widget(
        Paragraph::new(Line::styled(title, state.palette.dim())),
        title_area,
    );
    let wide = area.width >= WIDE;
    let empty = if pane.latest().is_some() {
        "Nothing in this category in the latest run (c shows another)."
    } else {
        "No items: no reconciliation has completed yet."
    };
    table(
        state,
        frame,
        list,
        &pane.items,
        Columns {
            columns: &ITEM_COLUMNS,
            wide,
            empty,
        },
        |i| item_cells(state, pane, i, wide),
    );
}

/// What an item is about in a few letters, for 80 columns.
fn short(i: &DriftItem) -> String {
    match i.category {
        DriftCategory::EmployeeWithoutLearner => "no learner".into(),
        DriftCategory::LearnerWithoutEmployee => "no employee".into(),
        DriftCategory::TerminatedButActive => "still active".into(),
        DriftCategory::FieldDrift => shown(&i.field),
        DriftCategory::CompletionNotWrittenBack => format!("unwritten {}", visible(&i.field)),
        DriftCategory::WrongGroups => format!("group {}", visible(&i.field)),
    }
}

fn item_cells(state: &State, pane: &DriftPane, i: &DriftItem, wide: bool) -> Vec<Cell<'static>> {
    let what = if wide {
        match i.field.as_str() {
            "" => i.category.describe().to_string(),
            field => format!("{}: {}", i.category.describe(), visible(field)),
        }
    } else {
        short(i)
    };
    let what = if i.category.is_critical() {
        Cell::from(format!("! {what}")).style(state.palette.bad())
    } else {
        Cell::from(what)
    };
    let mut cells = vec![
        super::marks::cell(&pane.items, i.id),
        Cell::from(Span::styled(state_label(i.state), state_style(state, i.state))),
        Cell::from(shown(&i.employee_id)),
    ];
    if wide {
        cells.push(Cell::from(shown(i.learner_id.as_deref().unwrap_or("—"))));
    }
    cells.extend([
        what,
        Cell::from(value(&i.hris_value)),
        Cell::from(value(&i.lms_value)),
    ]);
    cells
}

pub fn pane(state: &State, frame: &mut Frame, area: Rect) {
    let pane = &state.panes.drift;
    let [top, below] = drift_areas(area);
    let summary = Paragraph::new(summary(state, pane)).wrap(Wrap { trim: false });
    if area.width >= 70 {
        let [left, right] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(41)]).areas(top);
        frame.render_widget(summary, left);
        frame.render_widget(Paragraph::new(categories(state, pane)), right);
    } else {
        // Too narrow for both: the run above, the categories below it.
        let [upper, lower] = Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(top);
        frame.render_widget(summary, upper);
        frame.render_widget(Paragraph::new(categories(state, pane)), lower);
    }
    items(state, pane, frame, below);
}

/// Enter on an item: both values in full, the note, and what the run recorded.
pub fn detail(state: &State, item: &DriftItem, scroll: u16, frame: &mut Frame, area: Rect) {
    let p = state.palette;
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("drift item {} ", item.id), p.accent()),
        Span::styled(state_label(item.state), state_style(state, item.state)),
        Span::raw(format!("  {} · run {}", item.category.describe(), item.run_id)),
    ])];
    if item.category.is_critical() {
        lines.push(Line::styled(
            "! critical: terminated in the HRIS, still active in the LMS",
            p.bad(),
        ));
    }
    lines.push(Line::raw(visible_string(format!(
        "employee {} · learner {}{}",
        item.employee_id,
        item.learner_id.as_deref().unwrap_or("—"),
        if item.field.is_empty() {
            String::new()
        } else {
            format!(" · {}", item.field)
        }
    ))));
    for (title, v) in [
        ("HRIS VALUE (the owner's)", &item.hris_value),
        ("LMS VALUE", &item.lms_value),
    ] {
        lines.push(Line::styled(title, p.accent()));
        match v {
            // In full, line by line; each line escaped.
            Some(v) => lines.extend(v.lines().map(|l| Line::raw(visible(l).into_owned()))),
            None => lines.push(Line::styled("(none)", p.dim())),
        }
    }
    if let Some(note) = &item.note {
        lines.push(Line::raw(format!("note: {}", visible(note))));
    }
    lines.push(if item.category.can_fix() {
        Line::styled("x fixes it: the HRIS value is pushed like any change", p.dim())
    } else {
        Line::styled(
            "there is no HRIS record to push: flag (f) or accept (a) it",
            p.dim(),
        )
    });
    lines.push(Line::styled("DETAIL", p.accent()));
    let pretty = serde_json::to_string_pretty(&item.detail).unwrap_or_default();
    lines.extend(pretty.lines().map(|l| Line::raw(visible(l).into_owned())));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        area,
    );
}
