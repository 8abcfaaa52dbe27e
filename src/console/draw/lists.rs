//! The list panes: events, the audit log and credentials, each drawing only
//! the rows in view from the window the state holds (the Failed pane's queues
//! are in `queues.rs`, Held in `held.rs`), and the table they share.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use super::status_bar::{self, Noted};
use crate::console::layout;
use crate::console::list::{Keyed, Window};
use crate::console::palette::status_label;
use crate::console::sanitise::{visible, visible_string};
use crate::console::state::State;
use crate::model::{Direction, Event};

/// Wall-clock time of day in the machine's zone.
pub fn clock(at: Timestamp) -> String {
    at.to_zoned(TimeZone::system()).strftime("%H:%M:%S").to_string()
}

fn direction(d: Direction) -> &'static str {
    match d {
        Direction::HrisToLms => "→LMS",
        Direction::LmsToHris => "→HRIS",
    }
}

/// A value from outside as a cell's text: one line, controls escaped (see
/// [`visible`]). Every list cell that is not hrsync's own words goes through it.
pub(super) fn shown(text: &str) -> String {
    visible(text).into_owned()
}

/// One column of a list, declared once: its title and its width on a narrow
/// screen and on a wide one (`None`: not shown there). Every column is
/// left-aligned today, so the spec has no alignment to carry.
pub(super) struct Column {
    pub title: &'static str,
    pub narrow: Option<Constraint>,
    pub wide: Option<Constraint>,
}

/// A column of the same width everywhere.
pub(super) const fn col(title: &'static str, width: Constraint) -> Column {
    Column {
        title,
        narrow: Some(width),
        wide: Some(width),
    }
}

/// A column only a wide screen (120 columns and more) shows.
pub(super) const fn wide_only(title: &'static str, width: Constraint) -> Column {
    Column {
        title,
        narrow: None,
        wide: Some(width),
    }
}

/// Where a screen counts as wide: room for the columns only it shows.
pub(super) const WIDE: u16 = 120;

/// A list's columns (for this width) and what it says when it has no rows.
pub(super) struct Columns<'a> {
    pub columns: &'a [Column],
    pub wide: bool,
    pub empty: &'a str,
}

/// Draws the column titles and the rows of `window` in view, and under them the
/// status bar with the selected row's error or note.
pub(super) fn table<T: Keyed + Clone + Noted>(
    state: &State,
    frame: &mut Frame,
    area: Rect,
    window: &Window<T>,
    Columns { columns, wide, empty }: Columns<'_>,
    row: impl Fn(&T) -> Vec<Cell<'static>>,
) {
    if window.rows.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(empty.to_string(), state.palette.dim())),
            area,
        );
        return;
    }
    let (area, bar) = layout::table_areas(area);
    if let Some(bar) = bar {
        status_bar::draw(state, window.selected_row(), frame, bar);
    }
    let visible = area.height.saturating_sub(1) as usize;
    let start = window.view_start(visible);
    let rows: Vec<Row> = window
        .rows
        .iter()
        .enumerate()
        .skip(start)
        .take(visible)
        .map(|(i, r)| {
            // A mark as well as reversed video: the cursor shows in plain text too.
            let here = i == window.selected;
            let mut cells = vec![Cell::from(if here { "›" } else { " " })];
            cells.extend(row(r));
            let line = Row::new(cells);
            if here {
                line.style(state.palette.cursor())
            } else {
                line
            }
        })
        .collect();
    let shown: Vec<(&str, Constraint)> = columns
        .iter()
        .filter_map(|c| Some((c.title, if wide { c.wide } else { c.narrow }?)))
        .collect();
    let header = Row::new(
        std::iter::once(Cell::from(" ")).chain(shown.iter().map(|(title, _)| Cell::from(title.to_string()))),
    )
    .style(state.palette.dim());
    let widths = std::iter::once(Constraint::Length(1)).chain(shown.iter().map(|(_, width)| *width));
    frame.render_widget(Table::new(rows, widths).header(header).column_spacing(1), area);
}

pub(super) fn status_cell(state: &State, e: &Event) -> Cell<'static> {
    Cell::from(Span::styled(
        status_label(e.status),
        state.palette.status(e.status),
    ))
}

const EVENT_COLUMNS: [Column; 9] = [
    col("status", Constraint::Length(11)),
    col("id", Constraint::Length(8)),
    col("received", Constraint::Length(8)),
    col("dir", Constraint::Length(5)),
    col("employee", Constraint::Length(10)),
    col("kind", Constraint::Length(12)),
    wide_only("source", Constraint::Length(12)),
    wide_only("try", Constraint::Length(3)),
    col("note", Constraint::Fill(1)),
];

pub fn events(state: &State, frame: &mut Frame, area: Rect) {
    let pane = &state.panes.events;
    let f = &pane.filter;
    let mut scope = Vec::new();
    if let Some(d) = f.direction {
        scope.push(format!("direction {}", direction(d)));
    }
    if let Some(s) = f.status {
        scope.push(format!("status {s}"));
    }
    if let Some(e) = &f.employee_id {
        scope.push(format!("employee {e}"));
    }
    if let Some(t) = &f.text {
        scope.push(format!("text {t:?}"));
    }
    let mode = if pane.follow {
        "following the tail"
    } else {
        "scrolling (f or g follows)"
    };
    let title = if scope.is_empty() {
        format!("{} events · {mode}", state.counts.total)
    } else {
        // The filter may be a value copied from an event.
        visible_string(format!("filtered by {} · {mode}", scope.join(", ")))
    };
    let [title_area, list] =
        ratatui::layout::Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    frame.render_widget(
        Paragraph::new(Line::styled(title, state.palette.dim())),
        title_area,
    );
    let wide = area.width >= WIDE;
    table(
        state,
        frame,
        list,
        &pane.list,
        Columns {
            columns: &EVENT_COLUMNS,
            wide,
            empty: "No events match. The engine journals every change it receives here.",
        },
        |e| {
            let mut cells = vec![
                status_cell(state, e),
                Cell::from(e.id.to_string()),
                Cell::from(clock(e.received_at)),
                Cell::from(direction(e.direction)),
                Cell::from(shown(&e.employee_id)),
                Cell::from(shown(&e.kind)),
            ];
            if wide {
                cells.push(Cell::from(e.source.as_str()));
                cells.push(Cell::from(e.attempts.to_string()));
            }
            let note = e.last_error.as_deref().or(e.note.as_deref()).unwrap_or("");
            cells.push(Cell::from(shown(note)));
            cells
        },
    );
}

const AUDIT_COLUMNS: [Column; 7] = [
    col("seq", Constraint::Length(6)),
    col("at", Constraint::Length(8)),
    col("actor", Constraint::Length(10)),
    col("action", Constraint::Length(15)),
    col("employee", Constraint::Length(10)),
    col("subject", Constraint::Length(10)),
    col("reason / after", Constraint::Fill(1)),
];

pub fn audit(state: &State, frame: &mut Frame, area: Rect) {
    let pane = &state.panes.audit;
    let mut scope = Vec::new();
    if let Some(e) = &pane.filter.employee_id {
        scope.push(format!("history of employee {e} (Esc: all)"));
    }
    if let Some(t) = &pane.filter.text {
        scope.push(format!("text {t:?}"));
    }
    let title = if scope.is_empty() {
        "the audit log, newest first".to_string()
    } else {
        visible_string(scope.join(" · "))
    };
    let [title_area, list] =
        ratatui::layout::Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    frame.render_widget(
        Paragraph::new(Line::styled(title, state.palette.dim())),
        title_area,
    );
    table(
        state,
        frame,
        list,
        &pane.list,
        Columns {
            columns: &AUDIT_COLUMNS,
            wide: false,
            empty: "No audit entries match.",
        },
        |a| {
            let why = match &a.reason {
                Some(reason) => shown(reason),
                None => visible_string(a.after.to_string()),
            };
            vec![
                Cell::from(a.seq.to_string()),
                Cell::from(clock(a.at)),
                Cell::from(shown(&a.actor)),
                Cell::from(shown(&a.action)),
                Cell::from(shown(a.employee_id.as_deref().unwrap_or_default())),
                Cell::from(shown(&a.subject)),
                Cell::from(Span::styled(why, Style::default())),
            ]
        },
    );
}

const CREDENTIAL_COLUMNS: [Column; 7] = [
    col("band", Constraint::Length(9)),
    col("days", Constraint::Length(5)),
    col("expires", Constraint::Length(10)),
    col("employee", Constraint::Length(10)),
    col("department", Constraint::Length(14)),
    col("credential", Constraint::Fill(1)),
    col("HRIS", Constraint::Length(5)),
];

pub fn credentials(state: &State, frame: &mut Frame, area: Rect) {
    let pane = &state.panes.credentials;
    let [title_area, list] =
        ratatui::layout::Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let t = &pane.totals;
    let mut title = format!(
        "expired {} · within 30 days {} · 60 {} · 90 {} · not in the HRIS {}",
        t.expired, t.within_30, t.within_60, t.within_90, t.missing_in_hris
    );
    let total = t.expired + t.within_30 + t.within_60 + t.within_90;
    if let Some(text) = &pane.text {
        title.push_str(&format!(" · matching \"{}\"", visible(text)));
    } else if total as usize > pane.list.rows.len() {
        title.push_str(&format!(
            " · the {} soonest shown (all: hrsync credentials expiring)",
            pane.list.rows.len()
        ));
    }
    frame.render_widget(
        Paragraph::new(Line::styled(title, state.palette.dim())),
        title_area,
    );
    table(
        state,
        frame,
        list,
        &pane.list,
        Columns {
            columns: &CREDENTIAL_COLUMNS,
            wide: false,
            empty: "No credential expires within 90 days, and none has expired.",
        },
        |r| {
            let c = &r.credential;
            let band = Cell::from(match c.band {
                "expired" => "✗ expired",
                "30" => "! 30d",
                "60" => "· 60d",
                _ => "· 90d",
            });
            let band = match c.band {
                "expired" => band.style(state.palette.bad()),
                "30" => band.style(state.palette.warn()),
                _ => band,
            };
            vec![
                band,
                Cell::from(c.days_left.to_string()),
                Cell::from(c.expires.to_string()),
                Cell::from(shown(&c.employee_id)),
                Cell::from(shown(c.department.as_deref().unwrap_or("-"))),
                Cell::from(shown(&c.name)),
                if c.in_hris {
                    Cell::from("✓ yes")
                } else {
                    Cell::from("✗ NO").style(state.palette.bad())
                },
            ]
        },
    );
}
