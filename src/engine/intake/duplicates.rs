//! Suspected duplicate employees: found on ingest (each change is checked against
//! everyone seen before) and in every reconciliation run (the whole pull at once).
//! The first seen of a group syncs; the newcomers are held until an operator
//! decides. Nothing is ever merged.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::connectors::roles::ScimUser;
use crate::contract::map::MappedEmployee;
use crate::model::{DuplicateBasis, DuplicateSide, IdentityKeys};
use crate::store::{DuplicateGroup, DuplicateMember, Duplicates, Store, StoreError, StoreTx, SuspectedGroup};

/// Every hold's note starts so; `not a duplicate` releases the events it held.
pub const HOLD_NOTE: &str = crate::model::HoldKind::SuspectedDuplicate.note_prefix();

/// What applying one change learned about who the employee is: the worker
/// records it with the outcome (the person, and any group they are in).
#[derive(Debug, Clone, PartialEq)]
pub struct Sighting {
    pub keys: IdentityKeys,
    pub groups: Vec<SuspectedGroup>,
}

/// Whether a change may go on, and what it showed.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Clear(Sighting),
    /// A newcomer to an undecided group: held, with the reason.
    Hold {
        why: String,
        sighting: Sighting,
    },
}

fn member(keys: &IdentityKeys, first_seen: Timestamp) -> DuplicateMember {
    DuplicateMember {
        member_id: keys.employee_id.clone(),
        employee_id: Some(keys.employee_id.clone()),
        learner_id: None,
        first_seen,
        fields: keys.display.clone(),
    }
}

/// The first seen of a group (ties: the smaller id) is the one that syncs.
fn incumbent(members: &[DuplicateMember]) -> Option<&DuplicateMember> {
    members
        .iter()
        .min_by(|a, b| (a.first_seen, &a.member_id).cmp(&(b.first_seen, &b.member_id)))
}

/// Checks one employee against everyone seen before.
pub fn check(store: &Store, keys: IdentityKeys) -> Result<Verdict, StoreError> {
    let sharers = store.people_sharing(&keys)?;
    if sharers.is_empty() {
        return Ok(Verdict::Clear(Sighting {
            keys,
            groups: Vec::new(),
        }));
    }
    let me = member(
        &keys,
        store
            .person_first_seen(&keys.employee_id)?
            .unwrap_or_else(Timestamp::now),
    );
    let mut groups = Vec::new();
    let mut hold = None;
    for basis in [DuplicateBasis::Email, DuplicateBasis::NameAndHireDate] {
        let Some(match_key) = keys.key(basis) else {
            continue;
        };
        let mut members = vec![me.clone()];
        members.extend(
            sharers
                .iter()
                .filter(|s| s.basis == basis)
                .map(|s| s.member.clone()),
        );
        if members.len() < 2 {
            continue;
        }
        let group = SuspectedGroup {
            side: DuplicateSide::Hris,
            basis,
            match_key,
            members,
        };
        let decided = store
            .duplicate_group_by_key(DuplicateSide::Hris, basis, &group.match_key)?
            .is_some_and(|g| !g.state.holds() && g.members_key == group.members_key());
        let first = incumbent(&group.members).map(|m| m.member_id.clone());
        if !decided && hold.is_none() && first.as_deref() != Some(me.member_id.as_str()) {
            hold = Some(format!(
                "{HOLD_NOTE} of employee {} ({}): held until an operator decides in the Dups pane \
                 (n not a duplicate, L link)",
                first.unwrap_or_default(),
                basis.describe()
            ));
        }
        groups.push(group);
    }
    let sighting = Sighting { keys, groups };
    Ok(match hold {
        Some(why) => Verdict::Hold { why, sighting },
        None => Verdict::Clear(sighting),
    })
}

/// A create the LMS refused because another employee's learner (or one the
/// contract may not adopt) holds the mapped userName: the two, side by side.
pub fn user_name_clash(mapped: &MappedEmployee, user_name: &str, holder: &ScimUser) -> SuspectedGroup {
    let now = Timestamp::now();
    let mut wanting = serde_json::Map::new();
    wanting.insert("userName".into(), user_name.into());
    for (field, value) in mapped.values.iter() {
        wanting.insert(field.to_string(), value.into());
    }
    let mut holding = serde_json::Map::new();
    for attribute in ["userName", "externalId", "displayName", "active"] {
        if let Some(value) = holder.resource.get(attribute) {
            holding.insert(attribute.into(), value.clone());
        }
    }
    SuspectedGroup {
        side: DuplicateSide::Lms,
        basis: DuplicateBasis::UserName,
        match_key: user_name.to_string(),
        members: vec![
            DuplicateMember {
                member_id: holder.id.clone(),
                employee_id: holder.resource["externalId"].as_str().map(str::to_string),
                learner_id: Some(holder.id.clone()),
                first_seen: now,
                fields: holding,
            },
            DuplicateMember {
                member_id: mapped.employee_id.to_string(),
                employee_id: Some(mapped.employee_id.to_string()),
                learner_id: None,
                first_seen: now,
                fields: wanting,
            },
        ],
    }
}

/// Every group in a whole population (a full pull), with each one's first sighting.
pub fn employee_groups(people: &[(IdentityKeys, Timestamp)]) -> Vec<SuspectedGroup> {
    let keyed = people.iter().flat_map(|person| {
        [DuplicateBasis::Email, DuplicateBasis::NameAndHireDate]
            .into_iter()
            .filter_map(move |basis| Some(((basis, person.0.key(basis)?), person)))
    });
    groups_of(DuplicateSide::Hris, keyed, |(keys, first_seen)| {
        member(keys, *first_seen)
    })
}

/// The groups among `keyed` (what each is matched by, and who): every key more
/// than one shares, in key order, its members made by `member`.
pub fn groups_of<T>(
    side: DuplicateSide,
    keyed: impl IntoIterator<Item = ((DuplicateBasis, String), T)>,
    mut member: impl FnMut(T) -> DuplicateMember,
) -> Vec<SuspectedGroup> {
    let mut by_key: BTreeMap<(DuplicateBasis, String), Vec<T>> = BTreeMap::new();
    for (key, who) in keyed {
        by_key.entry(key).or_default().push(who);
    }
    by_key
        .into_iter()
        .filter(|(_, sharing)| sharing.len() > 1)
        .map(|((basis, match_key), sharing)| SuspectedGroup {
            side,
            basis,
            match_key,
            members: sharing.into_iter().map(&mut member).collect(),
        })
        .collect()
}

/// What storing a found group does to what is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupChange {
    /// Not known yet: stored open.
    New,
    /// Known with the same members: it keeps its decision.
    Seen(i64),
    /// Known with other members: open again, since the decision was about other records.
    Reopened(i64),
}

/// How a found group changes the stored one (if any).
pub fn group_change(stored: Option<&DuplicateGroup>, found: &SuspectedGroup) -> GroupChange {
    match stored {
        None => GroupChange::New,
        Some(group) if group.members_key == found.members_key() => GroupChange::Seen(group.id),
        Some(group) => GroupChange::Reopened(group.id),
    }
}

/// Stores what detection found, as `group_change` says. Returns the stored group.
pub fn record_suspected(tx: &StoreTx<'_>, found: &SuspectedGroup) -> Result<DuplicateGroup, StoreError> {
    let stored = tx.duplicate_group_by_key(found.side, found.basis, &found.match_key)?;
    let id = match group_change(stored.as_ref(), found) {
        GroupChange::New => tx.insert_duplicate_group(found)?,
        GroupChange::Seen(id) => {
            tx.duplicate_group_seen(id)?;
            id
        }
        GroupChange::Reopened(id) => {
            tx.reopen_duplicate_group(id, &found.members_key())?;
            id
        }
    };
    tx.upsert_duplicate_members(id, &found.members)?;
    tx.duplicate_group(id)?.ok_or(StoreError::Corrupt {
        row: id,
        column: "duplicate_groups",
        reason: "the group just written is missing".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(id: &str, email: &str, name: &str, hire: &str) -> IdentityKeys {
        IdentityKeys {
            employee_id: id.into(),
            email: email.into(),
            name: name.into(),
            hire_date: hire.into(),
            display: Default::default(),
        }
    }

    #[test]
    fn a_whole_pull_groups_by_email_and_by_name_with_hire_date() {
        let t = Timestamp::UNIX_EPOCH;
        let people = [
            (keys("1", "a@x.com", "ana lopez", "2024-01-01"), t),
            (keys("2", "a@x.com", "ana maria", "2024-02-01"), t),
            (keys("3", "b@x.com", "ana lopez", "2024-01-01"), t),
            (keys("4", "c@x.com", "ana lopez", "2023-01-01"), t),
        ];
        let groups = employee_groups(&people);
        let got: Vec<(DuplicateBasis, String)> = groups.iter().map(|g| (g.basis, g.members_key())).collect();
        assert_eq!(
            got,
            [
                (DuplicateBasis::Email, "1,2".to_string()),
                (DuplicateBasis::NameAndHireDate, "1,3".to_string())
            ]
        );
    }

    #[test]
    fn the_first_seen_is_the_incumbent_and_ties_go_to_the_smaller_id() {
        let early = Timestamp::UNIX_EPOCH;
        let late = early + jiff::SignedDuration::from_secs(5);
        let m = |id: &str, at| member(&keys(id, "", "", ""), at);
        assert_eq!(incumbent(&[m("9", late), m("5", early)]).unwrap().member_id, "5");
        assert_eq!(incumbent(&[m("7", early), m("5", early)]).unwrap().member_id, "5");
    }

    #[test]
    fn a_known_group_keeps_its_decision_only_while_its_members_stay() {
        let t = Timestamp::UNIX_EPOCH;
        let found = |ids: &[&str]| SuspectedGroup {
            side: DuplicateSide::Hris,
            basis: DuplicateBasis::Email,
            match_key: "a@x.com".into(),
            members: ids
                .iter()
                .map(|id| member(&keys(id, "a@x.com", "", ""), t))
                .collect(),
        };
        let stored = DuplicateGroup {
            id: 7,
            side: DuplicateSide::Hris,
            basis: DuplicateBasis::Email,
            match_key: "a@x.com".into(),
            members_key: "1,2".into(),
            state: crate::model::GroupState::NotDuplicate,
            found_at: t,
            seen_at: t,
            decided_at: Some(t),
            decided_by: Some("ops".into()),
            note: None,
            members: Vec::new(),
        };
        assert_eq!(group_change(None, &found(&["1", "2"])), GroupChange::New);
        assert_eq!(
            group_change(Some(&stored), &found(&["2", "1"])),
            GroupChange::Seen(7)
        );
        assert_eq!(
            group_change(Some(&stored), &found(&["1", "2", "3"])),
            GroupChange::Reopened(7)
        );
    }
}
