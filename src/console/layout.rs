//! Where each part of the screen goes; shared by `draw` and by `update`, which
//! needs to know how many rows a list shows to keep the cursor in view.

use ratatui::layout::{Constraint, Layout, Rect};

pub struct Areas {
    pub header: Rect,
    pub tabs: Rect,
    pub body: Rect,
    pub footer: Rect,
}

/// Two header lines when there is room, else one.
pub fn areas(area: Rect) -> Areas {
    let header = if area.height >= 12 { 2 } else { 1 };
    let [header, tabs, body, footer] = Layout::vertical([
        Constraint::Length(header),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    Areas {
        header,
        tabs,
        body,
        footer,
    }
}

/// A list's rows and, when it has room, the status bar below them (the
/// selected row's error in full).
pub fn table_areas(area: Rect) -> (Rect, Option<Rect>) {
    if area.height < 4 {
        return (area, None);
    }
    let [rows, bar] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    (rows, Some(bar))
}

/// Rows a list drawn in `area` shows, below its column titles.
pub fn table_rows(area: Rect) -> usize {
    table_areas(area).0.height.saturating_sub(1) as usize
}

/// A pane's area below its one-line title.
fn below_title(area: Rect) -> Rect {
    let [_, rest] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    rest
}

/// Rows a list pane shows below its title line and column titles.
pub fn list_rows(width: u16, height: u16) -> usize {
    table_rows(below_title(areas(Rect::new(0, 0, width, height)).body))
}

/// The Drift pane: the run and its categories above, the items below.
pub fn drift_areas(body: Rect) -> [Rect; 2] {
    let top = if body.height >= 14 { 8 } else { body.height / 2 };
    Layout::vertical([Constraint::Length(top), Constraint::Min(0)]).areas(body)
}

/// The Duplicates pane: a title, the groups, and the selected group's members.
pub fn duplicates_areas(body: Rect) -> [Rect; 3] {
    let groups = (body.height / 3).clamp(2, 12);
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(groups),
        Constraint::Min(0),
    ])
    .areas(body)
}

/// Rows the drift item list and the group list show (below their titles).
pub fn review_list_rows(width: u16, height: u16) -> (usize, usize) {
    let body = areas(Rect::new(0, 0, width, height)).body;
    let [_, items] = drift_areas(body);
    let [_, groups, _] = duplicates_areas(body);
    (table_rows(below_title(items)), table_rows(groups))
}

/// The Files pane: a title, the files, and the selected file in full.
pub fn files_areas(body: Rect) -> [Rect; 3] {
    let detail = if body.height >= 18 { 9 } else { body.height / 3 };
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(detail),
    ])
    .areas(body)
}

/// Rows the Files pane's list shows (below its column titles).
pub fn files_list_rows(width: u16, height: u16) -> usize {
    let [_, list, _] = files_areas(areas(Rect::new(0, 0, width, height)).body);
    table_rows(list)
}

/// A box of at most `width`×`height` in the middle of `area`, never outside it.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    )
}
