//! Checks a SCIM list read page by page (RFC 7644 §3.4.2.4): each answer must
//! start where it was asked to and bring resources not listed before. A server
//! that ignores `startIndex` would otherwise make one page look like the list.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

use serde::Deserialize;
use serde_json::Value;

use super::ConnectorError;

/// One answer of a paged list.
#[derive(Deserialize)]
pub(super) struct ListAnswer {
    #[serde(rename = "totalResults", default)]
    pub total_results: usize,
    #[serde(rename = "startIndex", default)]
    pub start_index: Option<usize>,
    #[serde(rename = "itemsPerPage", default)]
    pub items_per_page: Option<usize>,
    #[serde(rename = "Resources", default)]
    pub resources: Vec<Value>,
}

/// Repeats beyond this share of the list mean the server does not page.
const MOST_REPEATS: f64 = 0.01;

/// What has been read of one list so far.
pub(super) struct Pager {
    /// What is listed, for messages: "learners", "groups".
    what: &'static str,
    /// The server, for messages.
    server: String,
    /// Hashes of the ids seen (8 bytes each, not the ids).
    seen: HashSet<u64>,
    hasher: RandomState,
    repeats: usize,
}

impl Pager {
    pub fn new(what: &'static str, server: &str) -> Pager {
        Pager {
            what,
            server: server.to_string(),
            seen: HashSet::new(),
            hasher: RandomState::new(),
            repeats: 0,
        }
    }

    /// Checks one answer to a request from `start`; drops the resources an earlier
    /// page listed already (a list that moved under the reader repeats a few).
    pub fn check(&mut self, start: usize, answer: &mut ListAnswer) -> Result<(), ConnectorError> {
        let wrong = |said: String| {
            ConnectorError::permanent(format!(
                "the LMS at {} does not page its {} correctly: {said}; hrsync cannot trust a list read from it \
                 (set `[lms] quirks` or fix the server's paging)",
                self.server, self.what
            ))
        };
        if let Some(said) = answer.start_index.filter(|&said| said != start) {
            return Err(wrong(format!(
                "asked for startIndex {start}, the answer starts at {said}"
            )));
        }
        if let Some(said) = answer
            .items_per_page
            .filter(|&said| said < answer.resources.len())
        {
            return Err(wrong(format!(
                "the page from {start} says itemsPerPage {said} but holds {} resources",
                answer.resources.len()
            )));
        }
        let before = answer.resources.len();
        let (seen, hasher) = (&mut self.seen, &self.hasher);
        answer.resources.retain(|resource| match resource["id"].as_str() {
            Some(id) => seen.insert(hasher.hash_one(id)),
            None => true,
        });
        let repeated = before - answer.resources.len();
        if repeated > 0 && answer.resources.is_empty() {
            return Err(wrong(format!(
                "the page from startIndex {start} lists only {} already listed on earlier pages \
                 (the server seems to ignore startIndex)",
                self.what
            )));
        }
        self.repeats += repeated;
        if self.repeats as f64 > MOST_REPEATS * answer.total_results.max(1) as f64 && self.repeats > 1 {
            return Err(wrong(format!(
                "{} {} were listed twice by page {start}",
                self.repeats, self.what
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page(start: usize, ids: &[&str], total: usize) -> ListAnswer {
        ListAnswer {
            total_results: total,
            start_index: Some(start),
            items_per_page: Some(ids.len()),
            resources: ids.iter().map(|id| json!({ "id": id })).collect(),
        }
    }

    #[test]
    fn a_good_list_passes_and_a_repeated_page_is_named() {
        let mut pager = Pager::new("learners", "http://lms");
        pager.check(1, &mut page(1, &["a", "b"], 4)).unwrap();
        pager.check(3, &mut page(3, &["c", "d"], 4)).unwrap();
        let mut pager = Pager::new("learners", "http://lms");
        pager.check(1, &mut page(1, &["a", "b"], 4)).unwrap();
        let mut again = page(3, &["a", "b"], 4);
        again.start_index = None;
        let error = pager.check(3, &mut again).unwrap_err().to_string();
        assert!(
            error.contains("http://lms") && error.contains("ignore startIndex"),
            "{error}"
        );
    }

    #[test]
    fn a_wrong_start_index_is_named() {
        let mut pager = Pager::new("groups", "http://lms");
        let error = pager.check(21, &mut page(1, &["x"], 40)).unwrap_err().to_string();
        assert!(
            error.contains("asked for startIndex 21, the answer starts at 1"),
            "{error}"
        );
    }

    #[test]
    fn a_single_repeat_in_a_moving_list_is_dropped_not_fatal() {
        let mut pager = Pager::new("learners", "http://lms");
        let ids: Vec<String> = (0..200).map(|i| i.to_string()).collect();
        let first: Vec<&str> = ids[..100].iter().map(String::as_str).collect();
        pager.check(1, &mut page(1, &first, 200)).unwrap();
        let second: Vec<&str> = ids[99..].iter().map(String::as_str).collect();
        let mut answer = page(101, &second, 200);
        pager.check(101, &mut answer).unwrap();
        assert_eq!(answer.resources.len(), 100);
    }
}
