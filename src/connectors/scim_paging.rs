//! Checks a SCIM list read page by page (RFC 7644 §3.4.2.4): each answer must
//! start where it was asked to and bring resources not listed before. A server
//! that ignores `startIndex` would otherwise make one page look like the list.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};

use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::ConnectorError;

/// One answer of a paged list.
#[derive(Deserialize)]
pub(super) struct ListAnswer {
    #[serde(rename = "totalResults", default)]
    pub total_results: usize,
    #[serde(rename = "startIndex", default)]
    pub start_index: Option<usize>,
    #[serde(rename = "Resources", default)]
    pub resources: Vec<Value>,
}

/// What a page says of itself, read without keeping its resources.
#[derive(Deserialize)]
struct ListHead {
    #[serde(rename = "totalResults", default)]
    total_results: usize,
    #[serde(rename = "startIndex", default)]
    start_index: Option<usize>,
    #[serde(rename = "itemsPerPage", default)]
    items_per_page: Option<usize>,
    #[serde(rename = "Resources", default)]
    resources: Count,
}

/// How many elements a list has, each skipped unparsed.
#[derive(Default)]
struct Count(usize);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Count, D::Error> {
        deserializer.deserialize_seq(Count(0))
    }
}

impl<'de> Visitor<'de> for Count {
    type Value = Count;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of resources")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Count, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {
            self.0 += 1;
        }
        Ok(self)
    }
}

/// One page read: the resources it held (repeats too) and the list's size.
pub(super) struct PageRead {
    pub got: usize,
    pub total: usize,
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

    /// Checks the page `bytes` answered to a request from `start` (`asked`
    /// names that request in messages), then hands each resource no earlier page
    /// listed to `each` as it is parsed: a page is never held whole as JSON
    /// values, and nothing of it is handed on unless all of it is valid JSON.
    /// A list that moved under the reader repeats a few; those are dropped.
    pub fn read(
        &mut self,
        asked: &str,
        start: usize,
        bytes: &[u8],
        each: &mut dyn FnMut(Value) -> Result<(), ConnectorError>,
    ) -> Result<PageRead, ConnectorError> {
        let malformed = |error: serde_json::Error| {
            ConnectorError::permanent(format!("{asked}: the answer is not the JSON expected: {error}"))
        };
        let head: ListHead = serde_json::from_slice(bytes).map_err(malformed)?;
        let got = head.resources.0;
        if let Some(said) = head.start_index.filter(|&said| said != start) {
            return Err(self.wrong(format!(
                "asked for startIndex {start}, the answer starts at {said}"
            )));
        }
        if let Some(said) = head.items_per_page.filter(|&said| said < got) {
            return Err(self.wrong(format!(
                "the page from {start} says itemsPerPage {said} but holds {got} resources"
            )));
        }
        let mut page = PageResources {
            pager: self,
            each,
            handed: 0,
            failed: None,
        };
        let mut reader = serde_json::Deserializer::from_slice(bytes);
        let parsed = DeserializeSeed::deserialize(&mut page, &mut reader);
        if let Some(error) = page.failed.take() {
            return Err(error);
        }
        parsed.map_err(malformed)?;
        let repeated = got - page.handed;
        if repeated > 0 && page.handed == 0 {
            return Err(self.wrong(format!(
                "the page from startIndex {start} lists only {} already listed on earlier pages \
                 (the server seems to ignore startIndex)",
                self.what
            )));
        }
        self.repeats += repeated;
        if self.repeats as f64 > MOST_REPEATS * head.total_results.max(1) as f64 && self.repeats > 1 {
            return Err(self.wrong(format!(
                "{} {} were listed twice by page {start}",
                self.repeats, self.what
            )));
        }
        Ok(PageRead {
            got,
            total: head.total_results,
        })
    }

    fn wrong(&self, said: String) -> ConnectorError {
        ConnectorError::permanent(format!(
            "the LMS at {} does not page its {} correctly: {said}; hrsync cannot trust a list read from it \
             (set `[lms] quirks` or fix the server's paging)",
            self.server, self.what
        ))
    }

    /// Whether no earlier resource had this one's id.
    fn is_new(&mut self, resource: &Value) -> bool {
        match resource["id"].as_str() {
            Some(id) => self.seen.insert(self.hasher.hash_one(id)),
            None => true,
        }
    }
}

/// The page's `Resources`, each handed on as it is parsed.
struct PageResources<'p, 'e> {
    pager: &'p mut Pager,
    each: &'e mut dyn FnMut(Value) -> Result<(), ConnectorError>,
    handed: usize,
    /// What `each` failed with; parsing stops there.
    failed: Option<ConnectorError>,
}

impl<'de> DeserializeSeed<'de> for &mut PageResources<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for &mut PageResources<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SCIM list response")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "Resources" {
                map.next_value_seed(Resources(&mut *self))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The list itself.
struct Resources<'r, 'p, 'e>(&'r mut PageResources<'p, 'e>);

impl<'de> DeserializeSeed<'de> for Resources<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Resources<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of resources")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let page = self.0;
        while let Some(resource) = seq.next_element::<Value>()? {
            if !page.pager.is_new(&resource) {
                continue;
            }
            page.handed += 1;
            if let Err(error) = (page.each)(resource) {
                page.failed = Some(error);
                return Err(serde::de::Error::custom("stopped by the reader"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page(start: usize, ids: &[&str], total: usize) -> Value {
        json!({
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": ids.len(),
            "Resources": ids.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>(),
        })
    }

    /// Reads `answer` as the page from `start`; the ids handed on.
    fn read(pager: &mut Pager, start: usize, answer: &Value) -> Result<Vec<String>, ConnectorError> {
        let mut ids = Vec::new();
        let bytes = serde_json::to_vec(answer).unwrap();
        pager.read(
            "LMS learners from 1 (GET Users)",
            start,
            &bytes,
            &mut |resource| {
                ids.push(resource["id"].as_str().unwrap_or_default().to_string());
                Ok(())
            },
        )?;
        Ok(ids)
    }

    #[test]
    fn a_good_list_passes_and_a_repeated_page_is_named() {
        let mut pager = Pager::new("learners", "http://lms");
        assert_eq!(read(&mut pager, 1, &page(1, &["a", "b"], 4)).unwrap(), ["a", "b"]);
        assert_eq!(read(&mut pager, 3, &page(3, &["c", "d"], 4)).unwrap(), ["c", "d"]);
        let mut pager = Pager::new("learners", "http://lms");
        read(&mut pager, 1, &page(1, &["a", "b"], 4)).unwrap();
        let mut again = page(3, &["a", "b"], 4);
        again.as_object_mut().unwrap().remove("startIndex");
        let error = read(&mut pager, 3, &again).unwrap_err().to_string();
        assert!(
            error.contains("http://lms") && error.contains("ignore startIndex"),
            "{error}"
        );
    }

    #[test]
    fn a_wrong_start_index_is_named() {
        let mut pager = Pager::new("groups", "http://lms");
        let error = read(&mut pager, 21, &page(1, &["x"], 40))
            .unwrap_err()
            .to_string();
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
        read(&mut pager, 1, &page(1, &first, 200)).unwrap();
        let second: Vec<&str> = ids[99..].iter().map(String::as_str).collect();
        assert_eq!(
            read(&mut pager, 101, &page(101, &second, 200)).unwrap().len(),
            100
        );
    }

    #[test]
    fn a_malformed_page_hands_on_nothing_and_a_refusal_stops_the_page() {
        let mut pager = Pager::new("learners", "http://lms");
        let mut handed = 0;
        let cut = br#"{"Resources": [{"id": "a"}, {"id": "b"}], "totalResults": 3, "startIndex": 1"#;
        let error = pager
            .read("LMS learners from 1 (GET Users)", 1, cut, &mut |_| {
                handed += 1;
                Ok(())
            })
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("LMS learners from 1") && error.contains("not the JSON expected"),
            "{error}"
        );
        assert_eq!(handed, 0, "nothing of a malformed page is handed on");
        let bytes = serde_json::to_vec(&page(1, &["a", "b", "c"], 3)).unwrap();
        let error = pager
            .read("LMS learners from 1 (GET Users)", 1, &bytes, &mut |resource| {
                handed += 1;
                match resource["id"].as_str() {
                    Some("b") => Err(ConnectorError::permanent("learner b is malformed".into())),
                    _ => Ok(()),
                }
            })
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert_eq!((error.as_str(), handed), ("learner b is malformed", 2));
    }
}
