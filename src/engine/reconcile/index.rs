//! Learner rows by the employee id they carry (`externalId`), for a run's join.
//!
//! The ids are hashed on every thread first; then each thread fills the table
//! of its share of the hashes, sized once. A table holds only rows (four
//! bytes a bucket, so a million learners fill it in cache); a lookup checks the
//! row's hash, then reads its ids from the packed learner. A run looks up few
//! learners this way: most employees find theirs by the join's sequence, and
//! each manager stored once is looked up once.

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
    /// Rows by hash, in one table per share of the hashes (see `shard`).
    tables: Vec<HashTable<u32>>,
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

/// The table of a hash among `shards` (chosen by bits the table itself does not
/// use: it takes the low ones for the bucket and the top seven for the tag).
fn shard(hash: u64, shards: usize) -> usize {
    (hash >> 32) as usize % shards
}

/// Shard `at` of `shards`: its table of rows, and the rows a later learner with
/// the same id hides in it.
fn fill(learners: &Learners, hashes: &[u64], at: usize, shards: usize) -> (HashTable<u32>, Vec<u32>) {
    let mine = |hash: u64| hash != NO_ID && shard(hash, shards) == at;
    let mut table: HashTable<u32> = HashTable::with_capacity(hashes.iter().filter(|&&h| mine(h)).count());
    let mut hidden = Vec::new();
    let rehash = |&row: &u32| hashes[row as usize];
    for (row, &hash) in hashes.iter().enumerate() {
        if !mine(hash) {
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
    (table, hidden)
}

impl<'a> LearnerIndex<'a> {
    /// Indexes `learners`, hashing on `threads` threads.
    pub fn build(learners: &'a Learners, threads: usize) -> LearnerIndex<'a> {
        let state = foldhash::fast::RandomState::default();
        let rows = learners.rows.len();
        let threads = threads.clamp(1, 8);
        let mut hashes: Vec<u64> = vec![NO_ID; rows];
        let chunk = rows.div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let state = &state;
            let handles: Vec<_> = (hashes.chunks_mut(chunk).enumerate())
                .map(|(part, hashes)| {
                    scope.spawn(move || {
                        for (at, slot) in hashes.iter_mut().enumerate() {
                            if let Some(id) = employee_id(learners, part * chunk + at) {
                                *slot = hash(state, id);
                            }
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.join().expect("hashing does not panic");
            }
        });
        // Then each thread fills the table of its share of the hashes.
        let shards: Vec<(HashTable<u32>, Vec<u32>)> = std::thread::scope(|scope| {
            let hashes = &hashes;
            let handles: Vec<_> = (0..threads)
                .map(|shard| scope.spawn(move || fill(learners, hashes, shard, threads)))
                .collect();
            (handles.into_iter())
                .map(|handle| handle.join().expect("indexing does not panic"))
                .collect()
        });
        let mut hidden = Vec::new();
        let mut tables = Vec::new();
        for (table, shard_hidden) in shards {
            tables.push(table);
            hidden.extend(shard_hidden);
        }
        hidden.sort_unstable();
        LearnerIndex {
            learners,
            state,
            hashes,
            tables,
            hidden,
        }
    }

    /// The row and SCIM id of the learner carrying employee id `id`.
    pub fn get(&self, id: &str) -> Option<(u32, &'a str)> {
        let hash = hash(&self.state, id);
        let learners = self.learners;
        let table = &self.tables[shard(hash, self.tables.len())];
        let &row = table.find(hash, |&row| {
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
