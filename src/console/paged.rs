//! A list read by row offset one page at a time (drift items, duplicate groups):
//! it holds the page under the cursor and nothing else, and fetches the next or
//! previous page when the cursor leaves it.

use super::list::{Keyed, Window};
use crate::engine::operator::handle::HandleError;
use crate::store::{DriftItem, DuplicateGroup};

/// Rows fetched, and held, at a time.
pub const PAGE: usize = 100;

/// Fetches `limit` rows from row `offset`.
pub type FetchAt<'a, T> = dyn FnMut(usize, usize) -> Result<Vec<T>, HandleError> + 'a;

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

/// One page of rows and where it starts; the window draws it like any list.
#[derive(Debug, Clone)]
pub struct Paged<T> {
    pub window: Window<T>,
    /// The row number of the page's first row.
    pub start: usize,
}

impl<T> Default for Paged<T> {
    fn default() -> Self {
        Paged {
            window: Window::default(),
            start: 0,
        }
    }
}

impl<T: Keyed + Clone> Paged<T> {
    pub fn selected_row(&self) -> Option<&T> {
        self.window.selected_row()
    }

    /// The cursor's row number in the whole list.
    pub fn position(&self) -> usize {
        self.start + self.window.selected
    }

    /// Loads the page holding row `at` (or the last row there is), cursor on it.
    pub fn load(&mut self, at: usize, fetch: &mut FetchAt<'_, T>) -> Result<(), HandleError> {
        let mut start = at / PAGE * PAGE;
        let mut rows = fetch(start, PAGE)?;
        // Past the end (the list shrank, or `G` on a full last page): the page before.
        while rows.is_empty() && start > 0 {
            start = start.saturating_sub(PAGE);
            rows = fetch(start, PAGE)?;
        }
        let changed_page = start != self.start;
        self.start = start;
        self.window.selected = at.saturating_sub(start).min(rows.len().saturating_sub(1));
        if changed_page {
            self.window.offset = 0;
        }
        self.window.at_newest = start == 0;
        self.window.at_oldest = rows.len() < PAGE;
        self.window.rows = rows;
        self.window.loaded = true;
        Ok(())
    }

    /// Reads the page in view again, the cursor on the same row number.
    pub fn reload(&mut self, fetch: &mut FetchAt<'_, T>) -> Result<(), HandleError> {
        self.load(self.position(), fetch)
    }

    /// Moves the cursor by `delta` rows, crossing into the next or previous page.
    pub fn move_by(&mut self, delta: isize, fetch: &mut FetchAt<'_, T>) -> Result<(), HandleError> {
        if !self.window.loaded {
            return self.load(0, fetch);
        }
        let target = self.position().saturating_add_signed(delta);
        let in_page = target >= self.start && target < self.start + self.window.rows.len();
        if in_page {
            self.window.selected = target - self.start;
            return Ok(());
        }
        if target >= self.start + self.window.rows.len() && self.window.at_oldest {
            // The last page is in view: stay on its last row.
            self.window.selected = self.window.rows.len().saturating_sub(1);
            return Ok(());
        }
        self.load(target, fetch)
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

    fn table(n: usize) -> impl FnMut(usize, usize) -> Result<Vec<Row>, HandleError> {
        move |offset, limit| Ok((offset..n).take(limit).map(|i| Row(i as i64)).collect())
    }

    #[test]
    fn walks_through_pages_holding_one() {
        let mut fetch = table(1050);
        let mut list = Paged::default();
        list.load(0, &mut fetch).unwrap();
        for _ in 0..1000 {
            list.move_by(1, &mut fetch).unwrap();
            assert!(list.window.rows.len() <= PAGE);
        }
        assert_eq!(list.selected_row().unwrap().0, 1000);
        list.move_by(500, &mut fetch).unwrap();
        assert_eq!(list.selected_row().unwrap().0, 1049, "stops on the last row");
        list.move_by(-1049, &mut fetch).unwrap();
        assert_eq!(list.selected_row().unwrap().0, 0);
        list.move_by(-1, &mut fetch).unwrap();
        assert_eq!(list.position(), 0);
    }

    #[test]
    fn the_end_and_an_empty_list() {
        let mut fetch = table(200);
        let mut list = Paged::default();
        list.load(199, &mut fetch).unwrap();
        assert_eq!(list.selected_row().unwrap().0, 199);
        list.load(5000, &mut fetch).unwrap();
        assert_eq!(list.selected_row().unwrap().0, 199);
        let mut empty = table(0);
        let mut none: Paged<Row> = Paged::default();
        none.load(7, &mut empty).unwrap();
        none.move_by(3, &mut empty).unwrap();
        assert!(none.selected_row().is_none());
    }
}
