//! Learner rows by the employee id they carry (`externalId`), for a run's join.
//!
//! The ids are hashed on every thread first; then one table, sized once, is
//! filled from the hashes. The table holds only rows (four bytes a bucket, so a
//! million learners fill it in cache); a lookup checks the row's hash, then
//! reads its ids from the packed learner. A run looks up few learners this way:
//! most employees find theirs by the join's sequence, and each manager stored
//! once is looked up once.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::rows::{Cell, LEARNER_EXTERNAL_ID, LEARNER_ID, Learners};

/// A hash no id has: the learner has none.
const NO_ID: u64 = 0;

pub struct LearnerIndex<'a> {
    learners: &'a Learners,
    state: foldhash::fast::RandomState,
    /// Per learner row: its employee id's hash, or `NO_ID`.
    hashes: Vec<u64>,
    table: HashTable<u32>,
    /// Rows another learner with the same id hides (the last one wins), ascending.
    hidden: Vec<u32>,
}

/// A learner's employee id, if it has one.
fn employee_id(learners: &Learners, row: usize) -> Option<&str> {
    match learners.rows.cell(row, LEARNER_EXTERNAL_ID) {
        Cell::Text(id) | Cell::Json(id) if !id.is_empty() => Some(id),
        _ => None,
    }
}

/// An id's hash (never `NO_ID`).
fn hash(state: &foldhash::fast::RandomState, id: &str) -> u64 {
    state.hash_one(id) | 1
}

impl<'a> LearnerIndex<'a> {
    /// Indexes `learners`, hashing on `threads` threads.
    pub fn build(learners: &'a Learners, threads: usize) -> LearnerIndex<'a> {
        let state = foldhash::fast::RandomState::default();
        let rows = learners.rows.len();
        let threads = threads.clamp(1, 8);
        let mut hashes: Vec<u64> = vec![NO_ID; rows];
        let chunk = rows.div_ceil(threads).max(1);
        let mut size = 0;
        std::thread::scope(|scope| {
            let state = &state;
            let handles: Vec<_> = (hashes.chunks_mut(chunk).enumerate())
                .map(|(part, hashes)| {
                    scope.spawn(move || {
                        let mut with_id = 0;
                        for (at, slot) in hashes.iter_mut().enumerate() {
                            if let Some(id) = employee_id(learners, part * chunk + at) {
                                *slot = hash(state, id);
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
        let mut table: HashTable<u32> = HashTable::with_capacity(size);
        let mut hidden = Vec::new();
        let rehash = |&row: &u32| hashes[row as usize];
        for (row, &hash) in hashes.iter().enumerate() {
            if hash == NO_ID {
                continue;
            }
            // The same hash is almost always the same id; the ids say for sure.
            let same = |&other: &u32| {
                hashes[other as usize] == hash
                    && employee_id(learners, other as usize) == employee_id(learners, row)
            };
            match table.entry(hash, same, rehash) {
                hashbrown::hash_table::Entry::Occupied(mut earlier) => {
                    hidden.push(std::mem::replace(earlier.get_mut(), row as u32));
                }
                hashbrown::hash_table::Entry::Vacant(vacant) => {
                    vacant.insert(row as u32);
                }
            }
        }
        hidden.sort_unstable();
        LearnerIndex {
            learners,
            state,
            hashes,
            table,
            hidden,
        }
    }

    /// The row and SCIM id of the learner carrying employee id `id`.
    pub fn get(&self, id: &str) -> Option<(u32, &'a str)> {
        let hash = hash(&self.state, id);
        let learners = self.learners;
        let &row = self.table.find(hash, |&row| {
            self.hashes[row as usize] == hash && employee_id(learners, row as usize) == Some(id)
        })?;
        let learner = learners.rows.cell(row as usize, LEARNER_ID).text();
        Some((row, learner.unwrap_or_default()))
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
