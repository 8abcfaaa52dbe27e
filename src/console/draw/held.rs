//! The Held pane: which hold the list shows and what its keys do, the counts of
//! both holds, and the held events with their marks.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph};

use super::lists::{Columns, clock, col, shown, table};
use super::marks;
use crate::console::held::describe;
use crate::console::state::State;
use crate::model::HoldKind;

const COLUMNS: [super::lists::Column; 6] = [
    col("sel", Constraint::Length(3)),
    col("id", Constraint::Length(8)),
    col("employee", Constraint::Length(10)),
    col("kind", Constraint::Length(12)),
    col("received", Constraint::Length(8)),
    col("why held", Constraint::Fill(1)),
];

pub fn pane(state: &State, frame: &mut Frame, area: Rect) {
    let held = &state.panes.held;
    let view = describe(held.kind);
    let other = match held.kind {
        HoldKind::SafetyThreshold => HoldKind::SuspectedDuplicate,
        HoldKind::SuspectedDuplicate => HoldKind::SafetyThreshold,
    };
    let mut title = format!(
        "{} {}{}",
        held.counts.of(held.kind),
        view.name,
        marks::summary(&held.list)
    );
    if let Some(text) = &held.text {
        title.push_str(&format!(" · matching {text:?}"));
    }
    let [title_area, keys_area, list] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1), Constraint::Min(0)]).areas(area);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(shown(&title), state.palette.accent()),
            Span::styled(
                format!("  v: {} {}", held.counts.of(other), describe(other).short),
                state.palette.dim(),
            ),
        ])),
        title_area,
    );
    frame.render_widget(
        Paragraph::new(Line::styled(view.keys, state.palette.dim())),
        keys_area,
    );
    let empty = match held.kind {
        HoldKind::SafetyThreshold => "No held deactivations: the safety threshold has not stopped anything.",
        HoldKind::SuspectedDuplicate => "No change is held as a suspected duplicate.",
    };
    table(
        state,
        frame,
        list,
        &held.list,
        Columns {
            columns: &COLUMNS,
            wide: false,
            empty,
        },
        |e| {
            vec![
                marks::cell(&held.list, e.id.0),
                Cell::from(e.id.to_string()),
                Cell::from(shown(&e.employee_id)),
                Cell::from(shown(&e.kind)),
                Cell::from(clock(e.received_at)),
                Cell::from(Span::styled(
                    shown(e.note.as_deref().unwrap_or("")),
                    state.palette.warn(),
                )),
            ]
        },
    );
}
