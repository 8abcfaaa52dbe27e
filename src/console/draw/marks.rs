//! How marks show in every list that has them: a `[x]` cell on each marked row
//! (not colour alone) and, in the list's title, how many are marked.

use ratatui::widgets::Cell;

use crate::console::list::{MARK_ALL_LIMIT, Window};

/// The mark column's cell for the row with this id.
pub fn cell<T>(window: &Window<T>, id: i64) -> Cell<'static> {
    Cell::from(if window.marked.contains(&id) { "[x]" } else { "[ ]" })
}

/// " · 61 marked (all matching)" for a title: all matching, or the
/// first so many; empty with no marks.
pub fn summary<T>(window: &Window<T>) -> String {
    let n = window.marked.len();
    match (n, window.marked_all) {
        (0, _) => String::new(),
        (n, Some(true)) => format!(" · {n} marked (all matching)"),
        (n, Some(false)) => format!(" · {n} marked (the first {MARK_ALL_LIMIT} matching)"),
        (n, None) => format!(" · {n} marked"),
    }
}
