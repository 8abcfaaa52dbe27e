//! The people directory (who each employee is, when first seen) and suspected
//! duplicate groups with their members and the operator's decision.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::{Map, Value};

use super::page::containing;
use super::{Store, StoreError, StoreTx, from_micros, to_micros};
use crate::model::{DuplicateBasis, DuplicateSide, EventId, GroupState, IdentityKeys};

/// One record of a suspected group: an employee (HRIS side) or a learner (LMS side).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicateMember {
    /// The employee id (HRIS side) or the learner id (LMS side).
    pub member_id: String,
    pub employee_id: Option<String>,
    pub learner_id: Option<String>,
    /// When hrsync first saw this record; the first seen of a group syncs.
    pub first_seen: Timestamp,
    /// What the operator compares side by side, by field name.
    pub fields: Map<String, Value>,
}

/// A suspected group as detection found it, before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SuspectedGroup {
    pub side: DuplicateSide,
    pub basis: DuplicateBasis,
    pub match_key: String,
    pub members: Vec<DuplicateMember>,
}

impl SuspectedGroup {
    /// The members, as the decision remembers them.
    pub fn members_key(&self) -> String {
        members_key(self.members.iter().map(|m| m.member_id.as_str()))
    }
}

fn members_key<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    let mut ids: Vec<&str> = ids.collect();
    ids.sort_unstable();
    ids.dedup();
    ids.join(",")
}

/// A stored suspected group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DuplicateGroup {
    pub id: i64,
    pub side: DuplicateSide,
    pub basis: DuplicateBasis,
    pub match_key: String,
    pub members_key: String,
    pub state: GroupState,
    pub found_at: Timestamp,
    pub seen_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    pub decided_by: Option<String>,
    pub note: Option<String>,
    /// The first seen first.
    pub members: Vec<DuplicateMember>,
}

/// Another employee sharing a key with the one asked about.
#[derive(Debug, Clone, PartialEq)]
pub struct Sharer {
    pub basis: DuplicateBasis,
    pub member: DuplicateMember,
}

const GROUP_COLUMNS: &str =
    "id, side, basis, match_key, members_key, state, found_at, seen_at, decided_at, decided_by, note";

fn corrupt(row: i64, column: &'static str, value: &str) -> StoreError {
    StoreError::Corrupt {
        row,
        column,
        reason: format!("unknown value {value:?}"),
    }
}

fn group_from_row(row: &Row<'_>) -> Result<DuplicateGroup, StoreError> {
    let id: i64 = row.get(0)?;
    let side: String = row.get(1)?;
    let basis: String = row.get(2)?;
    let state: String = row.get(5)?;
    Ok(DuplicateGroup {
        id,
        side: DuplicateSide::parse(&side).ok_or_else(|| corrupt(id, "side", &side))?,
        basis: DuplicateBasis::parse(&basis).ok_or_else(|| corrupt(id, "basis", &basis))?,
        match_key: row.get(3)?,
        members_key: row.get(4)?,
        state: GroupState::parse(&state).ok_or_else(|| corrupt(id, "state", &state))?,
        found_at: from_micros(row.get(6)?),
        seen_at: from_micros(row.get(7)?),
        decided_at: row.get::<_, Option<i64>>(8)?.map(from_micros),
        decided_by: row.get(9)?,
        note: row.get(10)?,
        members: Vec::new(),
    })
}

fn member_from_row(row: &Row<'_>) -> rusqlite::Result<DuplicateMember> {
    let fields: String = row.get(4)?;
    Ok(DuplicateMember {
        member_id: row.get(0)?,
        employee_id: row.get(1)?,
        learner_id: row.get(2)?,
        first_seen: from_micros(row.get(3)?),
        fields: serde_json::from_str(&fields).unwrap_or_default(),
    })
}

fn load_members(conn: &rusqlite::Connection, group: &mut DuplicateGroup) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT member_id, employee_id, learner_id, first_seen, fields FROM duplicate_members \
         WHERE group_id = ?1 ORDER BY first_seen, member_id",
    )?;
    group.members = stmt
        .query_map([group.id], member_from_row)?
        .collect::<Result<_, _>>()?;
    Ok(())
}

fn group_by_key(
    conn: &rusqlite::Connection,
    side: DuplicateSide,
    basis: DuplicateBasis,
    key: &str,
) -> Result<Option<DuplicateGroup>, StoreError> {
    let sql = format!(
        "SELECT {GROUP_COLUMNS} FROM duplicate_groups WHERE side = ?1 AND basis = ?2 AND match_key = ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![side.as_str(), basis.as_str(), key])?;
    let Some(row) = rows.next()? else { return Ok(None) };
    let mut group = group_from_row(row)?;
    load_members(conn, &mut group)?;
    Ok(Some(group))
}

impl StoreTx<'_> {
    /// Records who an employee is now; returns when they were first seen. A
    /// person whose keys and display are as stored is not written again (a
    /// reconciliation sees every employee, and most are unchanged), so
    /// `updated_at` is when they last changed.
    pub fn upsert_person(&self, keys: &IdentityKeys) -> Result<Timestamp, StoreError> {
        let now = to_micros(self.now);
        let display = serde_json::to_string(&keys.display).expect("a JSON map serialises");
        let name_key = keys.key(DuplicateBasis::NameAndHireDate).unwrap_or_default();
        let stored: Option<(i64, bool)> = self
            .conn
            .prepare_cached(
                "SELECT first_seen, email_key = ?2 AND name_key = ?3 AND display = ?4 \
                 FROM people WHERE employee_id = ?1",
            )?
            .query_row(params![keys.employee_id, keys.email, name_key, display], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        if let Some((first, true)) = stored {
            return Ok(from_micros(first));
        }
        let first: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO people (employee_id, email_key, name_key, first_seen, updated_at, display) \
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5) ON CONFLICT (employee_id) DO UPDATE SET \
                 email_key = excluded.email_key, name_key = excluded.name_key, \
                 updated_at = excluded.updated_at, display = excluded.display RETURNING first_seen",
            )?
            .query_row(
                params![keys.employee_id, keys.email, name_key, now, display],
                |r| r.get(0),
            )?;
        Ok(from_micros(first))
    }

    /// The stored group of this side, basis and key, if any.
    pub fn duplicate_group_by_key(
        &self,
        side: DuplicateSide,
        basis: DuplicateBasis,
        key: &str,
    ) -> Result<Option<DuplicateGroup>, StoreError> {
        group_by_key(self.conn, side, basis, key)
    }

    /// Stores a newly found group as open, without members; returns its id.
    pub fn insert_duplicate_group(&self, found: &SuspectedGroup) -> Result<i64, StoreError> {
        let now = to_micros(self.now);
        Ok(self
            .conn
            .prepare_cached(
                "INSERT INTO duplicate_groups (side, basis, match_key, members_key, state, found_at, seen_at) \
                 VALUES (?1, ?2, ?3, ?4, 'open', ?5, ?5) RETURNING id",
            )?
            .query_row(
                params![found.side.as_str(), found.basis.as_str(), found.match_key, found.members_key(), now],
                |r| r.get(0),
            )?)
    }

    /// Notes that the group was seen again now.
    pub fn duplicate_group_seen(&self, id: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE duplicate_groups SET seen_at = ?2 WHERE id = ?1")?
            .execute(params![id, to_micros(self.now)])?;
        Ok(())
    }

    /// Opens the group again with these members: its decision and its stored
    /// members are dropped.
    pub fn reopen_duplicate_group(&self, id: i64, members_key: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE duplicate_groups SET members_key = ?2, state = 'open', seen_at = ?3, \
                 decided_at = NULL, decided_by = NULL, note = NULL WHERE id = ?1",
            )?
            .execute(params![id, members_key, to_micros(self.now)])?;
        self.conn
            .prepare_cached("DELETE FROM duplicate_members WHERE group_id = ?1")?
            .execute([id])?;
        Ok(())
    }

    /// Writes the group's members (a member already stored keeps its first sighting).
    pub fn upsert_duplicate_members(&self, id: i64, members: &[DuplicateMember]) -> Result<(), StoreError> {
        let mut upsert = self.conn.prepare_cached(
            "INSERT INTO duplicate_members (group_id, member_id, employee_id, learner_id, first_seen, fields) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (group_id, member_id) DO UPDATE SET \
             employee_id = excluded.employee_id, learner_id = excluded.learner_id, fields = excluded.fields",
        )?;
        for m in members {
            upsert.execute(params![
                id,
                m.member_id,
                m.employee_id,
                m.learner_id,
                to_micros(m.first_seen),
                Value::Object(m.fields.clone()).to_string()
            ])?;
        }
        Ok(())
    }

    pub fn duplicate_group(&self, id: i64) -> Result<Option<DuplicateGroup>, StoreError> {
        read_group(self.conn, id)
    }

    /// An operator's decision on a group.
    pub fn decide_duplicate(
        &self,
        id: i64,
        state: GroupState,
        note: Option<&str>,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE duplicate_groups SET state = ?2, note = ?3, decided_at = ?4, decided_by = ?5 WHERE id = ?1",
            )?
            .execute(params![id, state.as_str(), note, to_micros(self.now), actor])?;
        Ok(())
    }

    /// The held events of these employees that a duplicate hold put there.
    pub fn duplicate_held_events(&self, employee_ids: &[String]) -> Result<Vec<EventId>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM events WHERE direction = 'hris_to_lms' AND employee_id = ?1 \
             AND status = 'held' AND note LIKE 'suspected duplicate%' ORDER BY id",
        )?;
        let mut ids = Vec::new();
        for employee in employee_ids {
            for id in stmt.query_map([employee], |r| r.get::<_, i64>(0))? {
                ids.push(EventId(id?));
            }
        }
        Ok(ids)
    }
}

fn read_group(conn: &rusqlite::Connection, id: i64) -> Result<Option<DuplicateGroup>, StoreError> {
    let sql = format!("SELECT {GROUP_COLUMNS} FROM duplicate_groups WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([id])?;
    let Some(row) = rows.next()? else { return Ok(None) };
    let mut group = group_from_row(row)?;
    load_members(conn, &mut group)?;
    Ok(Some(group))
}

/// How many groups wait for an operator, and how many were decided.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DuplicateCounts {
    pub open: u64,
    pub flagged: u64,
    pub decided: u64,
}

impl Store {
    /// The other employees sharing a key with `keys` (not `keys.employee_id` itself).
    pub fn people_sharing(&self, keys: &IdentityKeys) -> Result<Vec<Sharer>, StoreError> {
        let conn = self.reader()?;
        let mut found = Vec::new();
        for basis in [DuplicateBasis::Email, DuplicateBasis::NameAndHireDate] {
            let Some(key) = keys.key(basis) else { continue };
            // `<> ''` repeats the partial index's condition so SQLite uses the index.
            let column = match basis {
                DuplicateBasis::Email => "email_key",
                DuplicateBasis::NameAndHireDate => "name_key",
                DuplicateBasis::UserName => continue,
            };
            let sql = format!(
                "SELECT employee_id, first_seen, display FROM people WHERE {column} = ?1 AND {column} <> '' \
                 AND employee_id <> ?2 ORDER BY first_seen, employee_id LIMIT 50"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![key, keys.employee_id], |r| {
                let id: String = r.get(0)?;
                let display: String = r.get(2)?;
                Ok(DuplicateMember {
                    member_id: id.clone(),
                    employee_id: Some(id),
                    learner_id: None,
                    first_seen: from_micros(r.get(1)?),
                    fields: serde_json::from_str(&display).unwrap_or_default(),
                })
            })?;
            for member in rows {
                found.push(Sharer {
                    basis,
                    member: member?,
                });
            }
        }
        Ok(found)
    }

    /// When the employee was first seen, if ever.
    pub fn person_first_seen(&self, employee_id: &str) -> Result<Option<Timestamp>, StoreError> {
        let conn = self.reader()?;
        let at: Option<i64> = conn
            .prepare_cached("SELECT first_seen FROM people WHERE employee_id = ?1")?
            .query_row([employee_id], |r| r.get(0))
            .optional()?;
        Ok(at.map(from_micros))
    }

    pub fn duplicate_group_by_key(
        &self,
        side: DuplicateSide,
        basis: DuplicateBasis,
        key: &str,
    ) -> Result<Option<DuplicateGroup>, StoreError> {
        group_by_key(&*self.reader()?, side, basis, key)
    }

    pub fn duplicate_group(&self, id: i64) -> Result<Option<DuplicateGroup>, StoreError> {
        read_group(&*self.reader()?, id)
    }

    /// Groups in `states` (all when empty), open ones first, then newest first,
    /// skipping `offset`, at most `limit`.
    pub fn duplicate_groups(
        &self,
        states: &[GroupState],
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DuplicateGroup>, StoreError> {
        self.duplicate_groups_matching(states, None, offset, limit)
    }

    /// As [`Store::duplicate_groups`], keeping the groups whose shared key, or a
    /// member's id or fields, contain `text` (the console's `/` filter).
    pub fn duplicate_groups_matching(
        &self,
        states: &[GroupState],
        text: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DuplicateGroup>, StoreError> {
        let conn = self.reader()?;
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM duplicate_groups WHERE {GROUPS_MATCHING} \
             ORDER BY state <> 'open', state <> 'flagged', id DESC LIMIT ?3 OFFSET ?4"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![
            wanted_states(states),
            text.map(containing),
            limit as i64,
            offset as i64
        ])?;
        let mut groups = Vec::new();
        while let Some(row) = rows.next()? {
            groups.push(group_from_row(row)?);
        }
        for group in &mut groups {
            load_members(&conn, group)?;
        }
        Ok(groups)
    }

    /// How many groups [`Store::duplicate_groups_matching`] pages through.
    pub fn duplicate_groups_count(
        &self,
        states: &[GroupState],
        text: Option<&str>,
    ) -> Result<usize, StoreError> {
        let conn = self.reader()?;
        let sql = format!("SELECT COUNT(*) FROM duplicate_groups WHERE {GROUPS_MATCHING}");
        let n: i64 = conn
            .prepare_cached(&sql)?
            .query_row(params![wanted_states(states), text.map(containing)], |r| r.get(0))?;
        Ok(n.max(0) as usize)
    }

    pub fn duplicate_counts(&self) -> Result<DuplicateCounts, StoreError> {
        let conn = self.reader()?;
        let counts = conn
            .prepare_cached(
                "SELECT COALESCE(SUM(state = 'open'), 0), COALESCE(SUM(state = 'flagged'), 0), \
                 COALESCE(SUM(state NOT IN ('open', 'flagged')), 0) FROM duplicate_groups",
            )?
            .query_row([], |r| {
                Ok(DuplicateCounts {
                    open: r.get::<_, i64>(0)? as u64,
                    flagged: r.get::<_, i64>(1)? as u64,
                    decided: r.get::<_, i64>(2)? as u64,
                })
            })?;
        Ok(counts)
    }
}

/// The states asked for (all when none), as the JSON array `GROUPS_MATCHING` takes.
fn wanted_states(states: &[GroupState]) -> String {
    let wanted: Vec<&str> = if states.is_empty() {
        GroupState::ALL.iter().map(|s| s.as_str()).collect()
    } else {
        states.iter().map(|s| s.as_str()).collect()
    };
    serde_json::to_string(&wanted).unwrap_or_default()
}

/// Groups in some states (?1, a JSON array) containing a text (?2, a LIKE pattern)
/// in their shared key or a member's id or fields.
const GROUPS_MATCHING: &str = "state IN (SELECT value FROM json_each(?1)) AND (?2 IS NULL \
    OR match_key LIKE ?2 ESCAPE '\\' OR id IN (SELECT group_id FROM duplicate_members \
    WHERE member_id LIKE ?2 ESCAPE '\\' OR fields LIKE ?2 ESCAPE '\\'))";
