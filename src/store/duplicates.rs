//! The people directory (who each employee is, when first seen) and suspected
//! duplicate groups with their members and the operator's decision. Written once
//! over `Sql`, so the same statements run on SQLite and PostgreSQL: `Duplicates`
//! offers them on either store, each one transaction; inside a `StoreTx`
//! the same functions run on the wider transaction.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};

use super::page::containing;
use super::sql::{Param, Row, Sql, Transact, clock};
use super::{StoreError, StoreTx, from_micros, to_micros};
use crate::model::{DuplicateBasis, DuplicateSide, EventId, GroupState, HoldKind, IdentityKeys};

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

/// How many groups wait for an operator, and how many were decided.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DuplicateCounts {
    pub open: u64,
    pub flagged: u64,
    pub decided: u64,
}

const GROUP_COLUMNS: &str =
    "id, side, basis, match_key, members_key, state, found_at, seen_at, decided_at, decided_by, note";

const MEMBERS: &str = "SELECT member_id, employee_id, learner_id, first_seen, fields FROM duplicate_members \
     WHERE group_id = ?1 ORDER BY first_seen, member_id";

/// A column every row of `table` has; null only in a damaged store.
pub(super) fn required<T>(value: Option<T>, table: &'static str, column: usize) -> Result<T, StoreError> {
    value.ok_or(StoreError::Corrupt {
        row: 0,
        column: table,
        reason: format!("column {column} is null"),
    })
}

fn corrupt(row: i64, column: &'static str, value: &str) -> StoreError {
    StoreError::Corrupt {
        row,
        column,
        reason: format!("unknown value {value:?}"),
    }
}

fn group_from_row(row: &dyn Row) -> Result<DuplicateGroup, StoreError> {
    let text = |column| required(row.text(column)?, "duplicate_groups", column);
    let int = |column| required(row.int(column)?, "duplicate_groups", column);
    let id = int(0)?;
    let (side, basis, state) = (text(1)?, text(2)?, text(5)?);
    Ok(DuplicateGroup {
        id,
        side: DuplicateSide::parse(&side).ok_or_else(|| corrupt(id, "side", &side))?,
        basis: DuplicateBasis::parse(&basis).ok_or_else(|| corrupt(id, "basis", &basis))?,
        match_key: text(3)?,
        members_key: text(4)?,
        state: GroupState::parse(&state).ok_or_else(|| corrupt(id, "state", &state))?,
        found_at: from_micros(int(6)?),
        seen_at: from_micros(int(7)?),
        decided_at: row.int(8)?.map(from_micros),
        decided_by: row.text(9)?,
        note: row.text(10)?,
        members: Vec::new(),
    })
}

fn member_from_row(row: &dyn Row) -> Result<DuplicateMember, StoreError> {
    let fields = row.text(4)?.unwrap_or_default();
    Ok(DuplicateMember {
        member_id: required(row.text(0)?, "duplicate_members", 0)?,
        employee_id: row.text(1)?,
        learner_id: row.text(2)?,
        first_seen: from_micros(required(row.int(3)?, "duplicate_members", 3)?),
        fields: serde_json::from_str(&fields).unwrap_or_default(),
    })
}

/// Fills in each group's members, the first seen first (one statement prepared for all).
fn with_members(sql: &dyn Sql, mut groups: Vec<DuplicateGroup>) -> Result<Vec<DuplicateGroup>, StoreError> {
    if groups.is_empty() {
        return Ok(groups);
    }
    let mut members = sql.prepare(MEMBERS)?;
    for group in &mut groups {
        members.query(&[Param::from(group.id)], &mut |row| {
            group.members.push(member_from_row(row)?);
            Ok(())
        })?;
    }
    Ok(groups)
}

/// The one group a `WHERE` (`condition`) finds, with its members.
fn one_group(
    sql: &dyn Sql,
    condition: &str,
    params: &[Param<'_>],
) -> Result<Option<DuplicateGroup>, StoreError> {
    let statement = format!("SELECT {GROUP_COLUMNS} FROM duplicate_groups WHERE {condition}");
    let found = sql.query_opt(&statement, params, group_from_row)?;
    Ok(with_members(sql, found.into_iter().collect())?.pop())
}

/// Records who an employee is now, `now`; returns when they were first seen. A
/// person whose keys and display are as stored is not written again (a
/// reconciliation sees every employee, and most are unchanged), so
/// `updated_at` is when they last changed.
pub fn upsert_person(sql: &dyn Sql, now: Timestamp, keys: &IdentityKeys) -> Result<Timestamp, StoreError> {
    let display = serde_json::to_string(&keys.display).expect("a JSON map serialises");
    let name_key = keys.key(DuplicateBasis::NameAndHireDate).unwrap_or_default();
    // Compared where the row is: its display is not read out to be compared.
    let stored = sql.query_opt(
        "SELECT first_seen, CAST(CASE WHEN email_key = ?2 AND name_key = ?3 AND display = ?4 \
         THEN 1 ELSE 0 END AS BIGINT) FROM people WHERE employee_id = ?1",
        &[
            Param::from(keys.employee_id.as_str()),
            Param::from(keys.email.as_str()),
            Param::from(name_key.as_str()),
            Param::from(display.as_str()),
        ],
        |row| Ok((row.int(0)?, row.int(1)? == Some(1))),
    )?;
    if let Some((Some(first), true)) = stored {
        return Ok(from_micros(first));
    }
    let first = sql.query_opt(
        "INSERT INTO people (employee_id, email_key, name_key, first_seen, updated_at, display) \
         VALUES (?1, ?2, ?3, ?4, ?4, ?5) ON CONFLICT (employee_id) DO UPDATE SET \
         email_key = excluded.email_key, name_key = excluded.name_key, \
         updated_at = excluded.updated_at, display = excluded.display RETURNING first_seen",
        &[
            Param::from(keys.employee_id.as_str()),
            Param::from(keys.email.as_str()),
            Param::from(name_key.as_str()),
            Param::from(to_micros(now)),
            Param::from(display.as_str()),
        ],
        |row| row.int(0),
    )?;
    Ok(from_micros(required(first.flatten(), "people", 3)?))
}

/// The other employees sharing a key with `keys` (not `keys.employee_id` itself).
pub fn people_sharing(sql: &dyn Sql, keys: &IdentityKeys) -> Result<Vec<Sharer>, StoreError> {
    let mut found = Vec::new();
    for basis in [DuplicateBasis::Email, DuplicateBasis::NameAndHireDate] {
        let Some(key) = keys.key(basis) else { continue };
        // `<> ''` repeats the partial index's condition so SQLite uses the index.
        let column = match basis {
            DuplicateBasis::Email => "email_key",
            DuplicateBasis::NameAndHireDate => "name_key",
            DuplicateBasis::UserName => continue,
        };
        let statement = format!(
            "SELECT employee_id, first_seen, display FROM people WHERE {column} = ?1 AND {column} <> '' \
             AND employee_id <> ?2 ORDER BY first_seen, employee_id LIMIT 50"
        );
        let params = [Param::from(key.as_str()), Param::from(keys.employee_id.as_str())];
        sql.query(&statement, &params, &mut |row| {
            let id = required(row.text(0)?, "people", 0)?;
            let display = row.text(2)?.unwrap_or_default();
            found.push(Sharer {
                basis,
                member: DuplicateMember {
                    member_id: id.clone(),
                    employee_id: Some(id),
                    learner_id: None,
                    first_seen: from_micros(required(row.int(1)?, "people", 1)?),
                    fields: serde_json::from_str(&display).unwrap_or_default(),
                },
            });
            Ok(())
        })?;
    }
    Ok(found)
}

/// When the employee was first seen, if ever.
pub fn person_first_seen(sql: &dyn Sql, employee_id: &str) -> Result<Option<Timestamp>, StoreError> {
    let at = sql.query_opt(
        "SELECT first_seen FROM people WHERE employee_id = ?1",
        &[Param::from(employee_id)],
        |row| row.int(0),
    )?;
    Ok(at.flatten().map(from_micros))
}

/// The stored group of this side, basis and key, if any.
pub fn group_by_key(
    sql: &dyn Sql,
    side: DuplicateSide,
    basis: DuplicateBasis,
    key: &str,
) -> Result<Option<DuplicateGroup>, StoreError> {
    one_group(
        sql,
        "side = ?1 AND basis = ?2 AND match_key = ?3",
        &[
            Param::from(side.as_str()),
            Param::from(basis.as_str()),
            Param::from(key),
        ],
    )
}

/// The group with this id, with its members.
pub fn group(sql: &dyn Sql, id: i64) -> Result<Option<DuplicateGroup>, StoreError> {
    one_group(sql, "id = ?1", &[Param::from(id)])
}

/// Stores a newly found group as open, without members, found `now`; returns its id.
/// Another engine may have found and stored the same group at once: then the
/// insert does nothing (it waits for that engine's commit on the unique key) and
/// the group that engine stored is answered.
pub fn insert_group(sql: &dyn Sql, now: Timestamp, found: &SuspectedGroup) -> Result<i64, StoreError> {
    let members_key = found.members_key();
    let id = sql.query_opt(
        "INSERT INTO duplicate_groups (side, basis, match_key, members_key, state, found_at, seen_at) \
         VALUES (?1, ?2, ?3, ?4, 'open', ?5, ?5) \
         ON CONFLICT (side, basis, match_key) DO NOTHING RETURNING id",
        &[
            Param::from(found.side.as_str()),
            Param::from(found.basis.as_str()),
            Param::from(found.match_key.as_str()),
            Param::from(members_key.as_str()),
            Param::from(to_micros(now)),
        ],
        |row| row.int(0),
    )?;
    if let Some(id) = id {
        return required(id, "duplicate_groups", 0);
    }
    let stored = group_by_key(sql, found.side, found.basis, &found.match_key)?;
    required(stored.map(|g| g.id), "duplicate_groups", 0)
}

/// Notes that the group was seen again `now`.
pub fn group_seen(sql: &dyn Sql, now: Timestamp, id: i64) -> Result<(), StoreError> {
    sql.execute(
        "UPDATE duplicate_groups SET seen_at = ?2 WHERE id = ?1",
        &[Param::from(id), Param::from(to_micros(now))],
    )?;
    Ok(())
}

/// Opens the group again with these members, `now`: its decision and its stored
/// members are dropped.
pub fn reopen_group(sql: &dyn Sql, now: Timestamp, id: i64, members_key: &str) -> Result<(), StoreError> {
    sql.execute(
        "UPDATE duplicate_groups SET members_key = ?2, state = 'open', seen_at = ?3, \
         decided_at = NULL, decided_by = NULL, note = NULL WHERE id = ?1",
        &[
            Param::from(id),
            Param::from(members_key),
            Param::from(to_micros(now)),
        ],
    )?;
    sql.execute(
        "DELETE FROM duplicate_members WHERE group_id = ?1",
        &[Param::from(id)],
    )?;
    Ok(())
}

/// Writes the group's members (a member already stored keeps its first sighting).
pub fn upsert_members(sql: &dyn Sql, id: i64, members: &[DuplicateMember]) -> Result<(), StoreError> {
    let mut upsert = sql.prepare(
        "INSERT INTO duplicate_members (group_id, member_id, employee_id, learner_id, first_seen, fields) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (group_id, member_id) DO UPDATE SET \
         employee_id = excluded.employee_id, learner_id = excluded.learner_id, fields = excluded.fields",
    )?;
    for m in members {
        let fields = Value::Object(m.fields.clone()).to_string();
        upsert.execute(&[
            Param::from(id),
            Param::from(m.member_id.as_str()),
            Param::from(m.employee_id.as_deref()),
            Param::from(m.learner_id.as_deref()),
            Param::from(to_micros(m.first_seen)),
            Param::from(fields.as_str()),
        ])?;
    }
    Ok(())
}

/// An operator's decision on a group, made `now`.
pub fn decide(
    sql: &dyn Sql,
    now: Timestamp,
    id: i64,
    state: GroupState,
    note: Option<&str>,
    actor: &str,
) -> Result<(), StoreError> {
    sql.execute(
        "UPDATE duplicate_groups SET state = ?2, note = ?3, decided_at = ?4, decided_by = ?5 WHERE id = ?1",
        &[
            Param::from(id),
            Param::from(state.as_str()),
            Param::from(note),
            Param::from(to_micros(now)),
            Param::from(actor),
        ],
    )?;
    Ok(())
}

/// The held events of these employees that a duplicate hold put there, by employee
/// in the order given, then by id.
pub fn held_events(sql: &dyn Sql, employee_ids: &[String]) -> Result<Vec<EventId>, StoreError> {
    let mut ids = Vec::new();
    if employee_ids.is_empty() {
        return Ok(ids);
    }
    let mut held = sql.prepare(&format!(
        "SELECT id FROM events{index} WHERE direction = 'hris_to_lms' AND employee_id = ?1 \
         AND {open} AND status = 'held' AND note LIKE ?2 ORDER BY id",
        index = sql.dialect().indexed_by(" INDEXED BY events_open"),
        open = super::journal::OPEN_STATUSES,
    ))?;
    let hold = format!("{}%", HoldKind::SuspectedDuplicate.note_prefix());
    for employee in employee_ids {
        held.query(
            &[Param::from(employee.as_str()), Param::from(hold.as_str())],
            &mut |row| {
                ids.push(EventId(required(row.int(0)?, "events", 0)?));
                Ok(())
            },
        )?;
    }
    Ok(ids)
}

/// Groups in `states` (all when empty) whose shared key, or a member's id or
/// fields, contain `text` (when given; ASCII letters in either case), open ones
/// first, then newest first, skipping `offset`, at most `limit`.
pub fn groups_matching(
    sql: &dyn Sql,
    states: &[GroupState],
    text: Option<&str>,
    offset: usize,
    limit: usize,
) -> Result<Vec<DuplicateGroup>, StoreError> {
    let pattern = text.map(containing);
    let (condition, mut params) = matching(sql, states, pattern.as_deref());
    let n = params.len();
    let statement = format!(
        "SELECT {GROUP_COLUMNS} FROM duplicate_groups WHERE {condition} \
         ORDER BY state <> 'open', state <> 'flagged', id DESC LIMIT ?{} OFFSET ?{}",
        n + 1,
        n + 2
    );
    params.extend([Param::from(limit as i64), Param::from(offset as i64)]);
    let groups = sql.query_all(&statement, &params, group_from_row)?;
    with_members(sql, groups)
}

/// How many groups [`groups_matching`] pages through.
pub fn groups_count(sql: &dyn Sql, states: &[GroupState], text: Option<&str>) -> Result<usize, StoreError> {
    let pattern = text.map(containing);
    let (condition, params) = matching(sql, states, pattern.as_deref());
    let statement = format!("SELECT COUNT(*) FROM duplicate_groups WHERE {condition}");
    let n = sql.query_opt(&statement, &params, |row| row.int(0))?;
    Ok(n.flatten().unwrap_or_default().max(0) as usize)
}

/// How many groups wait (open, flagged) and how many were decided.
pub fn counts(sql: &dyn Sql) -> Result<DuplicateCounts, StoreError> {
    let found = sql.query_opt(
        "SELECT COUNT(*) FILTER (WHERE state = 'open'), COUNT(*) FILTER (WHERE state = 'flagged'), \
         COUNT(*) FILTER (WHERE state NOT IN ('open', 'flagged')) FROM duplicate_groups",
        &[],
        |row| {
            let n = |column| Ok::<_, StoreError>(row.int(column)?.unwrap_or_default().max(0) as u64);
            Ok(DuplicateCounts {
                open: n(0)?,
                flagged: n(1)?,
                decided: n(2)?,
            })
        },
    )?;
    Ok(found.unwrap_or_default())
}

/// The condition of groups in some states (all when none) containing a LIKE
/// pattern, with its parameters: a slot per state of `GroupState::ALL`, unwanted
/// ones null (one statement whatever is asked), then the pattern (null: any; its
/// type said where it is first read, which PostgreSQL cannot tell from `IS NULL`).
fn matching<'a>(sql: &dyn Sql, states: &[GroupState], pattern: Option<&'a str>) -> (String, Vec<Param<'a>>) {
    let mut params: Vec<Param<'a>> = GroupState::ALL
        .iter()
        .map(|s| Param::Text((states.is_empty() || states.contains(s)).then_some(s.as_str())))
        .collect();
    let slots: Vec<String> = (1..=params.len()).map(|i| format!("?{i}")).collect();
    params.push(Param::Text(pattern));
    let p = params.len();
    let like = sql.dialect().like_any_case();
    let condition = format!(
        "state IN ({slots}) AND (CAST(?{p} AS TEXT) IS NULL OR match_key {like} ?{p} ESCAPE '\\' \
         OR id IN (SELECT group_id FROM duplicate_members \
         WHERE member_id {like} ?{p} ESCAPE '\\' OR fields {like} ?{p} ESCAPE '\\'))",
        slots = slots.join(", ")
    );
    (condition, params)
}

/// The people directory and suspected groups on any store, SQLite or
/// PostgreSQL, each call one transaction (a write stamped by the database's
/// clock). On SQLite, `StoreTx` and `Store` offer the same calls under the same
/// names, inside a wider transaction and on a reader.
pub trait Duplicates: Transact {
    fn upsert_person(&self, keys: &IdentityKeys) -> Result<Timestamp, StoreError> {
        self.write_retrying(|sql| upsert_person(sql, from_micros(clock(sql)?), keys))
    }

    fn people_sharing(&self, keys: &IdentityKeys) -> Result<Vec<Sharer>, StoreError> {
        self.read(|sql| people_sharing(sql, keys))
    }

    fn person_first_seen(&self, employee_id: &str) -> Result<Option<Timestamp>, StoreError> {
        self.read(|sql| person_first_seen(sql, employee_id))
    }

    fn duplicate_group_by_key(
        &self,
        side: DuplicateSide,
        basis: DuplicateBasis,
        key: &str,
    ) -> Result<Option<DuplicateGroup>, StoreError> {
        self.read(|sql| group_by_key(sql, side, basis, key))
    }

    fn duplicate_group(&self, id: i64) -> Result<Option<DuplicateGroup>, StoreError> {
        self.read(|sql| group(sql, id))
    }

    fn insert_duplicate_group(&self, found: &SuspectedGroup) -> Result<i64, StoreError> {
        self.write_retrying(|sql| insert_group(sql, from_micros(clock(sql)?), found))
    }

    fn duplicate_group_seen(&self, id: i64) -> Result<(), StoreError> {
        self.write_retrying(|sql| group_seen(sql, from_micros(clock(sql)?), id))
    }

    fn reopen_duplicate_group(&self, id: i64, members_key: &str) -> Result<(), StoreError> {
        self.write_retrying(|sql| reopen_group(sql, from_micros(clock(sql)?), id, members_key))
    }

    fn upsert_duplicate_members(&self, id: i64, members: &[DuplicateMember]) -> Result<(), StoreError> {
        self.write_retrying(|sql| upsert_members(sql, id, members))
    }

    fn decide_duplicate(
        &self,
        id: i64,
        state: GroupState,
        note: Option<&str>,
        actor: &str,
    ) -> Result<(), StoreError> {
        self.write_retrying(|sql| decide(sql, from_micros(clock(sql)?), id, state, note, actor))
    }

    fn duplicate_held_events(&self, employee_ids: &[String]) -> Result<Vec<EventId>, StoreError> {
        self.read(|sql| held_events(sql, employee_ids))
    }

    /// Groups in `states` (all when empty), open ones first, then newest first,
    /// skipping `offset`, at most `limit`.
    fn duplicate_groups(
        &self,
        states: &[GroupState],
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DuplicateGroup>, StoreError> {
        self.read(|sql| groups_matching(sql, states, None, offset, limit))
    }

    /// As `duplicate_groups`, keeping the groups whose shared key, or a member's
    /// id or fields, contain `text` (the console's `/` filter).
    fn duplicate_groups_matching(
        &self,
        states: &[GroupState],
        text: Option<&str>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<DuplicateGroup>, StoreError> {
        self.read(|sql| groups_matching(sql, states, text, offset, limit))
    }

    /// How many groups `duplicate_groups_matching` pages through.
    fn duplicate_groups_count(&self, states: &[GroupState], text: Option<&str>) -> Result<usize, StoreError> {
        self.read(|sql| groups_count(sql, states, text))
    }

    fn duplicate_counts(&self) -> Result<DuplicateCounts, StoreError> {
        self.read(counts)
    }
}

impl<T: Transact> Duplicates for T {}

impl StoreTx<'_> {
    /// See `upsert_person`: stamped with the transaction's clock.
    pub fn upsert_person(&self, keys: &IdentityKeys) -> Result<Timestamp, StoreError> {
        upsert_person(self.sql(), self.now, keys)
    }

    /// The stored group of this side, basis and key, if any.
    pub fn duplicate_group_by_key(
        &self,
        side: DuplicateSide,
        basis: DuplicateBasis,
        key: &str,
    ) -> Result<Option<DuplicateGroup>, StoreError> {
        group_by_key(self.sql(), side, basis, key)
    }

    /// Stores a newly found group as open, without members; returns its id.
    pub fn insert_duplicate_group(&self, found: &SuspectedGroup) -> Result<i64, StoreError> {
        insert_group(self.sql(), self.now, found)
    }

    /// Notes that the group was seen again now.
    pub fn duplicate_group_seen(&self, id: i64) -> Result<(), StoreError> {
        group_seen(self.sql(), self.now, id)
    }

    /// Opens the group again with these members: its decision and its stored
    /// members are dropped.
    pub fn reopen_duplicate_group(&self, id: i64, members_key: &str) -> Result<(), StoreError> {
        reopen_group(self.sql(), self.now, id, members_key)
    }

    /// Writes the group's members (a member already stored keeps its first sighting).
    pub fn upsert_duplicate_members(&self, id: i64, members: &[DuplicateMember]) -> Result<(), StoreError> {
        upsert_members(self.sql(), id, members)
    }

    pub fn duplicate_group(&self, id: i64) -> Result<Option<DuplicateGroup>, StoreError> {
        group(self.sql(), id)
    }

    /// An operator's decision on a group.
    pub fn decide_duplicate(
        &self,
        id: i64,
        state: GroupState,
        note: Option<&str>,
        actor: &str,
    ) -> Result<(), StoreError> {
        decide(self.sql(), self.now, id, state, note, actor)
    }

    /// The held events of these employees that a duplicate hold put there.
    pub fn duplicate_held_events(&self, employee_ids: &[String]) -> Result<Vec<EventId>, StoreError> {
        held_events(self.sql(), employee_ids)
    }
}
