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

/// Rows a list shows below its title line and column titles.
pub fn list_rows(width: u16, height: u16) -> usize {
    areas(Rect::new(0, 0, width, height))
        .body
        .height
        .saturating_sub(2) as usize
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
    (
        items.height.saturating_sub(2) as usize,
        groups.height.saturating_sub(1) as usize,
    )
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
