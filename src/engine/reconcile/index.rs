//! Learner rows by the employee id they carry (`externalId`), for a run's join.
//!
//! The ids are hashed on every thread first; then one table, sized once, is
//! filled from the hashes. One table holds the fewest buckets (shards each
//! round up to a power of two, and at a million learners that doubled them).

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::rows::{Cell, LEARNER_EXTERNAL_ID, LEARNER_ID, Learners};

/// An entry: the employee id, the learner's row and its SCIM id.
type Entry<'a> = (&'a str, u32, &'a str);

pub struct LearnerIndex<'a> {
    state: foldhash::fast::RandomState,
    table: HashTable<Entry<'a>>,
    /// Rows another learner with the same id hides (the last one wins), ascending.
    hidden: Vec<u32>,
}

/// A learner's employee id (if it has one) and its SCIM id.
fn ids<'a>(learners: &'a Learners, row: usize, cells: &mut Vec<Cell<'a>>) -> Option<Entry<'a>> {
    // The SCIM id is the first column, the employee id the second.
    learners.rows.head(row, LEARNER_EXTERNAL_ID + 1, cells);
    match cells[LEARNER_EXTERNAL_ID] {
        Cell::Text(id) | Cell::Json(id) if !id.is_empty() => {
            Some((id, row as u32, cells[LEARNER_ID].text().unwrap_or_default()))
        }
        _ => None,
    }
}

impl<'a> LearnerIndex<'a> {
    /// Indexes `learners`, hashing on `threads` threads.
    pub fn build(learners: &'a Learners, threads: usize) -> LearnerIndex<'a> {
        let state = foldhash::fast::RandomState::default();
        let rows = learners.rows.len();
        let threads = threads.clamp(1, 8);
        // The hash of each learner's id (any value for a learner without one).
        let mut hashes: Vec<u64> = vec![0; rows];
        let chunk = rows.div_ceil(threads).max(1);
        let mut size = 0;
        std::thread::scope(|scope| {
            let state = &state;
            let handles: Vec<_> = (hashes.chunks_mut(chunk).enumerate())
                .map(|(part, hashes)| {
                    scope.spawn(move || {
                        let mut cells = Vec::new();
                        let mut with_id = 0;
                        for (at, slot) in hashes.iter_mut().enumerate() {
                            if let Some((id, ..)) = ids(learners, part * chunk + at, &mut cells) {
                                *slot = state.hash_one(id);
                                with_id += 1;
                            }
                        }
                        with_id
                    })
                })
                .collect();
            for handle in handles {
                size += handle.join().expect("hashing does not panic");
            }
        });
        let mut table: HashTable<Entry<'a>> = HashTable::with_capacity(size);
        let mut hidden = Vec::new();
        let mut cells = Vec::new();
        let rehash = |&(_, row, _): &Entry<'a>| hashes[row as usize];
        for (row, &hash) in hashes.iter().enumerate() {
            let Some(entry) = ids(learners, row, &mut cells) else {
                continue;
            };
            match table.entry(hash, |&(key, ..)| key == entry.0, rehash) {
                hashbrown::hash_table::Entry::Occupied(mut earlier) => {
                    hidden.push(std::mem::replace(earlier.get_mut(), entry).1);
                }
                hashbrown::hash_table::Entry::Vacant(vacant) => {
                    vacant.insert(entry);
                }
            }
        }
        drop(hashes);
        hidden.sort_unstable();
        LearnerIndex { state, table, hidden }
    }

    /// The row and SCIM id of the learner carrying employee id `id`.
    pub fn get(&self, id: &str) -> Option<(u32, &'a str)> {
        let hash = self.state.hash_one(id);
        self.table
            .find(hash, |&(key, ..)| key == id)
            .map(|&(_, row, learner)| (row, learner))
    }

    /// Whether another learner with the same employee id hides row `row`.
    pub fn is_hidden(&self, row: u32) -> bool {
        self.hidden.binary_search(&row).is_ok()
    }

    /// Whether any learner is hidden by another with the same employee id.
    pub fn hides_any(&self) -> bool {
        !self.hidden.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::ScimUser;
    use serde_json::json;

    fn learners(ids: &[&str]) -> Learners {
        let contract = crate::contract::parse(include_str!("../../../assets/contract.toml")).unwrap();
        let mut learners = Learners::new(&contract);
        for (n, id) in ids.iter().enumerate() {
            let mut resource = json!({ "userName": format!("u{n}@example.com") });
            if !id.is_empty() {
                resource["externalId"] = json!(id);
            }
            learners.push(&ScimUser {
                id: format!("learner-{n}"),
                etag: None,
                resource,
            });
        }
        learners
    }

    #[test]
    fn finds_each_learner_by_id_on_any_number_of_threads() {
        let ids: Vec<String> = (0..200).map(|n| format!("e{}", n % 150)).collect();
        let mut ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        ids[7] = "";
        ids[199] = "";
        let learners = learners(&ids);
        for threads in 1..=3 {
            let index = LearnerIndex::build(&learners, threads);
            assert_eq!(
                index.get("e0"),
                Some((150, "learner-150")),
                "the last learner with an id wins"
            );
            assert_eq!(index.get("e60"), Some((60, "learner-60")));
            assert_eq!(index.get("e149"), Some((149, "learner-149")));
            assert_eq!(
                index.get("e49"),
                Some((49, "learner-49")),
                "its later twin has no id"
            );
            assert_eq!(index.get("e7"), Some((157, "learner-157")));
            assert_eq!(index.get("e150"), None);
            assert_eq!(index.get(""), None, "a learner without an id is nobody's");
            let hidden: Vec<u32> = (0..49).filter(|&row| row != 7).collect();
            assert_eq!(index.hidden, hidden, "{threads} threads");
            assert!(index.is_hidden(0) && !index.is_hidden(150) && !index.is_hidden(7));
        }
    }
}
