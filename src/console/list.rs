//! The one scrolling list over a paged table: it holds a few pages around the
//! cursor and fetches the next one as the cursor nears an edge, so a journal of a
//! million rows costs the same as one of ten. Tables read by key (events, audit)
//! page by key; tables read by row number (drift items, duplicate groups) are
//! paged the same way through [`by_number`]. The window also holds the
//! operator's marks (Space, `A` for every row the filter matches), by row id,
//! so every list pane marks the same way and a command acts on the marks.

use std::collections::BTreeSet;
use std::ops::Deref;

use crate::engine::operator::handle::HandleError;
use crate::model::files::ExportFile;
use crate::model::{AuditEntry, Event};
use crate::store::{DriftItem, DuplicateGroup, Toward};

/// Rows fetched at a time.
pub const PAGE: usize = 100;
/// Rows kept at most; the far end is dropped beyond this.
const KEEP: usize = 3 * PAGE;

/// Rows `A` marks at most: more than any held batch or drift run an operator
/// would act on at once; beyond it the mark says so.
pub const MARK_ALL_LIMIT: usize = 100_000;

/// A row with the key it is paged by (ids and sequence numbers grow with time).
pub trait Keyed {
    fn key(&self) -> i64;

    /// The row's own id, what a mark holds and a command names: its key,
    /// unless the list is read by row number.
    fn id(&self) -> i64 {
        self.key()
    }
}

impl Keyed for Event {
    fn key(&self) -> i64 {
        self.id.0
    }
}

impl Keyed for ExportFile {
    fn key(&self) -> i64 {
        self.id
    }
}

impl Keyed for AuditEntry {
    fn key(&self) -> i64 {
        self.seq as i64
    }
}

// Read by row number (see `Numbered`): the key here is only the row's id.
impl Keyed for DriftItem {
    fn key(&self) -> i64 {
        self.id
    }
}

impl Keyed for DuplicateGroup {
    fn key(&self) -> i64 {
        self.id
    }
}

/// Fetches a page from a key toward older or newer rows, newest first.
pub type Fetch<'a, T> = dyn FnMut(Option<i64>, Toward, usize) -> Result<Vec<T>, HandleError> + 'a;

/// A row of a table read by row number, with its number: the list's order is
/// the table's, so the key falls as the number grows (the window's "older").
#[derive(Debug, Clone)]
pub struct Numbered<T> {
    pub number: usize,
    pub row: T,
}

impl<T: Keyed> Keyed for Numbered<T> {
    fn key(&self) -> i64 {
        -(self.number as i64)
    }

    fn id(&self) -> i64 {
        self.row.id()
    }
}

impl<T> Deref for Numbered<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.row
    }
}

/// Pages a table of `total` rows read by row number (`fetch(offset, limit)`) as
/// the window pages a table read by key.
pub fn by_number<'a, T: Keyed + 'a>(
    total: usize,
    mut fetch: impl FnMut(usize, usize) -> Result<Vec<T>, HandleError> + 'a,
) -> impl FnMut(Option<i64>, Toward, usize) -> Result<Vec<Numbered<T>>, HandleError> + 'a {
    move |from, toward, limit| {
        // A key `k` is row number `-k`: older than it starts at `1 - k`, newer ends before `-k`.
        let (start, limit) = match (from, toward) {
            (None, Toward::Older) => (0, limit),
            (Some(key), Toward::Older) => ((1 - key).max(0) as usize, limit),
            (None, Toward::Newer) => (total.saturating_sub(limit), limit.min(total)),
            (Some(key), Toward::Newer) => {
                let end = (-key).max(0) as usize;
                let start = end.saturating_sub(limit);
                (start, end - start)
            }
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = fetch(start, limit)?;
        Ok(rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| Numbered {
                number: start + i,
                row,
            })
            .collect())
    }
}

/// The rows around the cursor, newest first.
#[derive(Debug, Clone)]
pub struct Window<T> {
    pub rows: Vec<T>,
    pub selected: usize,
    /// The first row shown; kept so the view does not jump while the cursor moves.
    pub offset: usize,
    /// Nothing newer than the first row.
    pub at_newest: bool,
    /// Nothing older than the last row.
    pub at_oldest: bool,
    pub loaded: bool,
    /// The ids the operator marked; commands act on them, else on the cursor's row.
    pub marked: BTreeSet<i64>,
    /// `A` marked every row the filter matched (and whether it stopped at the limit).
    pub marked_all: Option<bool>,
}

impl<T> Default for Window<T> {
    fn default() -> Self {
        Window {
            rows: Vec::new(),
            selected: 0,
            offset: 0,
            at_newest: true,
            at_oldest: true,
            loaded: false,
            marked: BTreeSet::new(),
            marked_all: None,
        }
    }
}

impl<T: Keyed + Clone> Window<T> {
    pub fn selected_row(&self) -> Option<&T> {
        self.rows.get(self.selected)
    }

    /// The marked ids, else the one under the cursor.
    pub fn targets(&self) -> Vec<i64> {
        if self.marked.is_empty() {
            self.selected_row().map(|r| vec![r.id()]).unwrap_or_default()
        } else {
            self.marked.iter().copied().collect()
        }
    }

    /// Space: marks the row under the cursor, or unmarks it.
    pub fn toggle_mark(&mut self) {
        let Some(id) = self.selected_row().map(Keyed::id) else {
            return;
        };
        if !self.marked.remove(&id) {
            self.marked.insert(id);
        }
        self.marked_all = None;
    }

    pub fn unmark(&mut self) {
        self.marked.clear();
        self.marked_all = None;
    }

    /// `A`: marks every row `fetch` gives, from the newest, a page at a time,
    /// keeping only the ids (at most [`MARK_ALL_LIMIT`]).
    pub fn mark_all(&mut self, fetch: &mut Fetch<'_, T>) -> Result<(), HandleError> {
        let mut marked = BTreeSet::new();
        let mut from = None;
        let mut complete = true;
        loop {
            let page = fetch(from, Toward::Older, PAGE)?;
            marked.extend(page.iter().map(Keyed::id));
            if marked.len() >= MARK_ALL_LIMIT {
                complete = page.len() < PAGE;
                break;
            }
            match page.last() {
                Some(last) if page.len() == PAGE => from = Some(last.key()),
                _ => break,
            }
        }
        self.marked = marked;
        self.marked_all = Some(complete);
        Ok(())
    }

    /// After a refresh: a marked row that was in view and is no longer, though
    /// rows around it still are, has left the filter (retried, confirmed
    /// elsewhere) and is let go.
    fn forget_marks_gone(&mut self, before: &[T]) {
        let (Some(newest), Some(oldest)) = (self.rows.first(), self.rows.last()) else {
            return;
        };
        let (top, bottom) = (newest.key(), oldest.key());
        let here: BTreeSet<i64> = self.rows.iter().map(Keyed::id).collect();
        for row in before {
            let id = row.id();
            if self.marked.contains(&id) && !here.contains(&id) && (bottom..=top).contains(&row.key()) {
                self.marked.remove(&id);
                self.marked_all = None;
            }
        }
    }

    /// The newest page, cursor on the newest row.
    pub fn load_newest(&mut self, fetch: &mut Fetch<'_, T>) -> Result<(), HandleError> {
        self.rows = fetch(None, Toward::Older, PAGE)?;
        self.selected = 0;
        self.offset = 0;
        self.at_newest = true;
        self.at_oldest = self.rows.len() < PAGE;
        self.loaded = true;
        Ok(())
    }

    /// The oldest page, cursor on the oldest row.
    pub fn load_oldest(&mut self, fetch: &mut Fetch<'_, T>) -> Result<(), HandleError> {
        self.rows = fetch(None, Toward::Newer, PAGE)?;
        self.selected = self.rows.len().saturating_sub(1);
        self.at_oldest = true;
        self.at_newest = self.rows.len() < PAGE;
        self.loaded = true;
        Ok(())
    }

    /// Reads the rows again where they are: changed statuses show, rows that left
    /// the filter go, the cursor stays on its row (or the next older one).
    pub fn refresh(&mut self, fetch: &mut Fetch<'_, T>) -> Result<(), HandleError> {
        let Some(selected_key) = self.selected_row().map(Keyed::key) else {
            return self.load_newest(fetch);
        };
        let old_selected = self.selected;
        let want = self.rows.len().max(PAGE);
        let rows = if self.at_newest {
            fetch(None, Toward::Older, want)?
        } else {
            let top = self.rows.first().map_or(i64::MAX, |r| r.key().saturating_add(1));
            fetch(Some(top), Toward::Older, want)?
        };
        self.at_oldest = rows.len() < want;
        let before = std::mem::replace(&mut self.rows, rows);
        if !self.marked.is_empty() {
            self.forget_marks_gone(&before);
        }
        self.selected = self
            .rows
            .iter()
            .position(|r| r.key() <= selected_key)
            .unwrap_or(self.rows.len().saturating_sub(1));
        // Rows that arrived above move the view with the cursor's row.
        self.offset = (self.offset + self.selected).saturating_sub(old_selected);
        self.loaded = true;
        Ok(())
    }

    /// Moves the cursor by `delta` rows (negative: toward newer), fetching pages as needed.
    pub fn move_by(&mut self, delta: isize, fetch: &mut Fetch<'_, T>) -> Result<(), HandleError> {
        if !self.loaded {
            self.load_newest(fetch)?;
        }
        let mut target = self.selected as isize + delta;
        while target >= self.rows.len() as isize && !self.at_oldest {
            let last = self.rows.last().map(Keyed::key);
            let more = fetch(last, Toward::Older, PAGE)?;
            self.at_oldest = more.len() < PAGE;
            self.rows.extend(more);
            let extra = self.rows.len().saturating_sub(KEEP);
            if extra > 0 {
                self.rows.drain(..extra);
                self.selected = self.selected.saturating_sub(extra);
                self.offset = self.offset.saturating_sub(extra);
                self.at_newest = false;
                target -= extra as isize;
            }
        }
        while target < 0 && !self.at_newest {
            let first = self.rows.first().map(Keyed::key);
            let more = fetch(first, Toward::Newer, PAGE)?;
            self.at_newest = more.len() < PAGE;
            let added = more.len();
            self.rows.splice(0..0, more);
            if self.rows.len() > KEEP {
                self.rows.truncate(KEEP);
                self.at_oldest = false;
            }
            self.selected += added;
            self.offset += added;
            target += added as isize;
        }
        self.step(target);
        if self.selected == 0 && !self.at_newest {
            // A full page may have been the last: one row's probe settles whether this is the top.
            let first = self.rows.first().map(Keyed::key);
            self.at_newest = fetch(first, Toward::Newer, 1)?.is_empty();
        }
        Ok(())
    }

    fn step(&mut self, target: isize) {
        let last = self.rows.len().saturating_sub(1) as isize;
        self.selected = target.clamp(0, last.max(0)) as usize;
    }

    /// Moves the view the least that shows the cursor in `rows` lines.
    pub fn keep_visible(&mut self, rows: usize) {
        let rows = rows.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + rows {
            self.offset = self.selected + 1 - rows;
        }
    }

    /// The first row to draw in `rows` lines: the kept offset, moved if it hides the cursor.
    pub fn view_start(&self, rows: usize) -> usize {
        let rows = rows.max(1);
        let start = self.offset.min(self.selected);
        if self.selected >= start + rows {
            self.selected + 1 - rows
        } else {
            start
        }
    }

    /// The cursor is on the newest row there is.
    pub fn at_top(&self) -> bool {
        self.at_newest && self.selected == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug)]
    struct Row(i64);
    impl Keyed for Row {
        fn key(&self) -> i64 {
            self.0
        }
    }

    /// A table of rows 1..=n, paged like the store pages.
    fn table(n: i64) -> impl FnMut(Option<i64>, Toward, usize) -> Result<Vec<Row>, HandleError> {
        move |from, toward, limit| {
            Ok(match toward {
                Toward::Older => {
                    let below = from.unwrap_or(i64::MAX).min(n + 1);
                    (1..below).rev().take(limit).map(Row).collect()
                }
                Toward::Newer => {
                    let above = from.unwrap_or(0);
                    let mut rows: Vec<Row> = (above + 1..=n).take(limit).map(Row).collect();
                    rows.reverse();
                    rows
                }
            })
        }
    }

    #[test]
    fn scrolls_down_and_back_up_through_many_pages_holding_few() {
        let mut fetch = table(1_000_000);
        let mut window = Window::default();
        window.load_newest(&mut fetch).unwrap();
        for _ in 0..1000 {
            window.move_by(1, &mut fetch).unwrap();
        }
        assert_eq!(window.selected_row().unwrap().0, 1_000_000 - 1000);
        assert!(window.rows.len() <= KEEP);
        for _ in 0..1000 {
            window.move_by(-1, &mut fetch).unwrap();
        }
        assert_eq!(window.selected_row().unwrap().0, 1_000_000);
        assert!(window.at_top());
    }

    #[test]
    fn the_oldest_page_and_a_refresh_keep_the_cursor_on_its_row() {
        let mut fetch = table(1000);
        let mut window = Window::default();
        window.load_oldest(&mut fetch).unwrap();
        assert_eq!(window.selected_row().unwrap().0, 1);
        window.move_by(-5, &mut fetch).unwrap();
        assert_eq!(window.selected_row().unwrap().0, 6);
        window.refresh(&mut fetch).unwrap();
        assert_eq!(window.selected_row().unwrap().0, 6);
        window.move_by(-200, &mut fetch).unwrap();
        assert_eq!(window.selected_row().unwrap().0, 206);
    }

    /// A table of rows 0..n read by row number.
    fn numbered(n: usize) -> impl FnMut(usize, usize) -> Result<Vec<Row>, HandleError> {
        move |offset, limit| Ok((offset..n).take(limit).map(|i| Row(i as i64)).collect())
    }

    #[test]
    fn a_table_read_by_row_number_pages_the_same_way() {
        let mut fetch = by_number(1050, numbered(1050));
        let mut list = Window::default();
        list.load_newest(&mut fetch).unwrap();
        for _ in 0..1000 {
            list.move_by(1, &mut fetch).unwrap();
            assert!(list.rows.len() <= KEEP);
        }
        assert_eq!(list.selected_row().unwrap().number, 1000);
        list.move_by(500, &mut fetch).unwrap();
        assert_eq!(list.selected_row().unwrap().row.0, 1049, "stops on the last row");
        list.move_by(-1049, &mut fetch).unwrap();
        assert_eq!(list.selected_row().unwrap().number, 0);
        assert!(list.at_top());
        list.load_oldest(&mut fetch).unwrap();
        assert_eq!(list.selected_row().unwrap().number, 1049);
        list.move_by(-300, &mut fetch).unwrap();
        list.refresh(&mut fetch).unwrap();
        assert_eq!(list.selected_row().unwrap().number, 749);
        let mut empty = by_number(0, numbered(0));
        let mut none: Window<Numbered<Row>> = Window::default();
        none.load_oldest(&mut empty).unwrap();
        none.move_by(3, &mut empty).unwrap();
        assert!(none.selected_row().is_none());
    }

    #[test]
    fn an_empty_table_is_harmless() {
        let mut fetch = table(0);
        let mut window: Window<Row> = Window::default();
        window.load_newest(&mut fetch).unwrap();
        window.move_by(5, &mut fetch).unwrap();
        window.move_by(-5, &mut fetch).unwrap();
        window.refresh(&mut fetch).unwrap();
        assert!(window.selected_row().is_none());
    }
}
