//! The Duplicates pane: suspected groups (open and flagged first) and the
//! selected group's members side by side, one column each, the fields that
//! differ marked with ≠ (not by colour alone) and the first seen labelled as
//! the one that syncs.

use std::collections::BTreeSet;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};
use serde_json::Value;

use super::header::ago;
use super::lists::{Column, Columns, clock, col, shown, table};
use crate::console::layout::duplicates_areas;
use crate::console::sanitise::{visible, visible_string};
use crate::console::state::State;
use crate::model::{DuplicateSide, GroupState};
use crate::store::{DuplicateGroup, DuplicateMember};

/// The field names' column, and the narrowest a member's column gets.
const LABEL: u16 = 18;
const MEMBER_MIN: u16 = 18;

pub fn state_label(state: GroupState) -> &'static str {
    match state {
        GroupState::Open => "● open",
        GroupState::Flagged => "⚑ flagged",
        GroupState::NotDuplicate => "≠ not dup",
        GroupState::Linked => "⇄ linked",
    }
}

fn side(side: DuplicateSide) -> &'static str {
    match side {
        DuplicateSide::Hris => "HRIS",
        DuplicateSide::Lms => "LMS",
    }
}

fn text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "—".into(),
        Some(Value::String(s)) => shown(s),
        Some(other) => visible_string(other.to_string()),
    }
}

/// The rows compared: who each record is, then the union of their fields.
/// How long ago hrsync first saw a record: "5m", "3h", "12d".
fn since(now: jiff::Timestamp, at: jiff::Timestamp) -> String {
    let secs = now.duration_since(at).as_secs().max(0);
    if secs >= 2 * 86_400 {
        format!("{}d ago", secs / 86_400)
    } else {
        format!("{} ago", ago(now, at))
    }
}

/// Rows that name the records rather than describe the person: they always differ.
const IDENTITY_ROWS: usize = 4;

fn rows(now: jiff::Timestamp, group: &DuplicateGroup) -> Vec<(String, Vec<String>)> {
    let each = |f: &dyn Fn(&DuplicateMember) -> String| group.members.iter().map(f).collect::<Vec<_>>();
    let mut rows = vec![
        ("record id".to_string(), each(&|m| shown(&m.member_id))),
        (
            "employee id".to_string(),
            each(&|m| shown(m.employee_id.as_deref().unwrap_or("—"))),
        ),
        (
            "learner id".to_string(),
            each(&|m| shown(m.learner_id.as_deref().unwrap_or("—"))),
        ),
        ("first seen".to_string(), each(&|m| since(now, m.first_seen))),
    ];
    let names: BTreeSet<&String> = group.members.iter().flat_map(|m| m.fields.keys()).collect();
    for name in names {
        // Field names come from the records too.
        rows.push((shown(name), each(&|m| text(m.fields.get(name)))));
    }
    rows
}

const GROUP_COLUMNS: [Column; 7] = [
    col("sel", Constraint::Length(3)),
    col("state", Constraint::Length(10)),
    col("id", Constraint::Length(5)),
    col("side", Constraint::Length(4)),
    col("basis", Constraint::Length(23)),
    col("n", Constraint::Length(2)),
    col("match key", Constraint::Fill(1)),
];

fn groups(state: &State, frame: &mut Frame, area: Rect) {
    table(
        state,
        frame,
        area,
        &state.panes.duplicates.groups,
        Columns {
            columns: &GROUP_COLUMNS,
            wide: false,
            empty: "No suspected duplicates: no two records share an email, or a name and hire date.",
        },
        |g| {
            let style = match g.state {
                GroupState::Open => state.palette.warn(),
                _ => Style::default(),
            };
            vec![
                super::marks::cell(&state.panes.duplicates.groups, g.id),
                Cell::from(Span::styled(state_label(g.state), style)),
                Cell::from(g.id.to_string()),
                Cell::from(side(g.side)),
                Cell::from(g.basis.describe()),
                Cell::from(g.members.len().to_string()),
                Cell::from(shown(&g.match_key)),
            ]
        },
    );
}

/// The first seen syncs; while the group holds, the others wait.
fn role(group: &DuplicateGroup, index: usize) -> &'static str {
    match (index, group.state) {
        (0, _) => "✓ syncs",
        (_, GroupState::Open | GroupState::Flagged) => "‖ held",
        (_, GroupState::NotDuplicate) => "✓ syncs",
        (_, GroupState::Linked) => "· linked",
    }
}

fn compare(state: &State, group: &DuplicateGroup, frame: &mut Frame, area: Rect) {
    let p = state.palette;
    let [head, body] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(area);
    let column = state.panes.duplicates.column();
    let fit = (area.width.saturating_sub(LABEL) / MEMBER_MIN).max(1) as usize;
    let first = column.saturating_sub(fit - 1);
    let shown: Vec<usize> = (first..group.members.len()).take(fit).collect();
    let mut title = format!(
        "group {} · {} side · {} · {} members",
        group.id,
        side(group.side),
        group.basis.describe(),
        group.members.len()
    );
    if shown.len() < group.members.len() {
        title.push_str(&format!(" · {}–{} shown (h/l)", first + 1, first + shown.len()));
    }
    let decision = match (&group.decided_by, group.decided_at) {
        (Some(by), Some(at)) => format!(
            "{} by {} at {}: {}",
            state_label(group.state),
            visible(by),
            clock(at),
            visible(group.note.as_deref().unwrap_or(""))
        ),
        _ => "the first seen syncs; the others are held until an operator decides".into(),
    };
    frame.render_widget(
        Paragraph::new(vec![
            Line::styled(title, p.accent()),
            Line::styled(decision, p.dim()),
        ]),
        head,
    );
    let header = Row::new(
        std::iter::once(Cell::from("≠ differs")).chain(shown.iter().map(|&i| {
            let here = i == column;
            let label = format!("{}#{} {}", if here { "›" } else { " " }, i + 1, role(group, i));
            let cell = Cell::from(label);
            if here { cell.style(p.cursor()) } else { cell }
        })),
    )
    .style(p.dim().add_modifier(Modifier::BOLD));
    let lines: Vec<Row> = rows(state.now, group)
        .into_iter()
        .enumerate()
        .map(|(n, (name, values))| {
            let differs = n >= IDENTITY_ROWS && values.windows(2).any(|w| w[0] != w[1]);
            let mark = if differs { "≠" } else { " " };
            let style = if differs {
                p.warn().add_modifier(Modifier::BOLD)
            } else if n < IDENTITY_ROWS {
                p.dim()
            } else {
                Style::default()
            };
            let cells = std::iter::once(Cell::from(format!("{mark} {name}"))).chain(
                shown
                    .iter()
                    .map(|&i| Cell::from(values.get(i).cloned().unwrap_or_default())),
            );
            Row::new(cells).style(style)
        })
        .collect();
    let mut widths = vec![Constraint::Length(LABEL)];
    widths.extend(shown.iter().map(|_| Constraint::Fill(1)));
    frame.render_widget(Table::new(lines, widths).header(header).column_spacing(1), body);
}

pub fn pane(state: &State, frame: &mut Frame, area: Rect) {
    let pane = &state.panes.duplicates;
    let [title_area, list, members] = duplicates_areas(area);
    let c = &pane.counts;
    let mut title = format!(
        "suspected duplicates: {} open · {} flagged · {} decided{}",
        c.open,
        c.flagged,
        c.decided,
        super::marks::summary(&pane.groups)
    );
    if let Some(text) = &pane.text {
        title.push_str(&format!(" · matching \"{}\"", visible(text)));
    }
    title.push_str(" (open and flagged first)");
    frame.render_widget(
        Paragraph::new(Line::styled(title, state.palette.dim())),
        title_area,
    );
    groups(state, frame, list);
    if let Some(group) = pane.group() {
        compare(state, group, frame, members);
    }
}
