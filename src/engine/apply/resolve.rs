//! What an operator decides about reconciliation drift and suspected duplicates:
//! fix (journal the owner's value, so it goes through the normal pipeline with
//! its retries and audit), flag to the HRIS admin, accept, not a duplicate, link.
//! Each decision and its audit entry commit together.

use serde_json::{Value, json};

use crate::engine::operator::ActionError;
use crate::model::{
    AuditAction, Direction, DriftCategory, DriftState, DuplicateSide, GroupState, NewAuditEntry, NewEvent,
    Source,
};
use crate::store::{DriftItem, DuplicateGroup, Store, StoreError, StoreTx};

/// What became of one drift item an operator acted on.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Resolved {
    pub item: i64,
    /// The new state, or why nothing was done.
    pub result: Result<DriftState, String>,
}

fn require(reason: &str, what: &'static str) -> Result<(), ActionError> {
    if reason.trim().is_empty() {
        return Err(ActionError::NoReason(what));
    }
    Ok(())
}

fn item_of(tx: &StoreTx<'_>, id: i64) -> Result<Result<DriftItem, String>, StoreError> {
    Ok(tx
        .drift_item(id)?
        .ok_or_else(|| format!("drift item {id} does not exist")))
}

fn audit(
    actor: &str,
    action: AuditAction,
    item: &DriftItem,
    after: Value,
    reason: Option<&str>,
) -> NewAuditEntry {
    NewAuditEntry {
        actor: actor.to_string(),
        action,
        employee_id: Some(item.employee_id.clone()),
        subject: format!(
            "drift item {} ({} {})",
            item.id,
            item.category.describe(),
            item.field
        ),
        before: json!({ "state": item.state, "hris": item.hris_value, "lms": item.lms_value }),
        after,
        reason: reason.map(str::to_string),
    }
}

/// Runs `act` on each item in one transaction; an item that is missing or
/// refuses is reported with its reason and the others go on.
fn each_item(
    store: &Store,
    ids: &[i64],
    mut act: impl FnMut(&StoreTx<'_>, DriftItem) -> Result<Result<DriftState, String>, StoreError> + Send,
) -> Result<Vec<Resolved>, ActionError> {
    Ok(store.transaction(|tx| {
        let mut done = Vec::with_capacity(ids.len());
        for &id in ids {
            let result = match item_of(tx, id)? {
                Ok(item) => act(tx, item)?,
                Err(why) => Err(why),
            };
            done.push(Resolved { item: id, result });
        }
        Ok(done)
    })?)
}

/// The event that pushes the owner's value for `item`, if it can be pushed.
fn fix_event(item: &DriftItem, at: jiff::Timestamp) -> Result<NewEvent, String> {
    if !item.category.can_fix() {
        return Err(format!(
            "{}: there is no HRIS record to push; flag or accept it",
            item.category.describe()
        ));
    }
    let key = format!("fix:{}:{:017}", item.id, at.as_microsecond());
    if item.category == DriftCategory::CompletionNotWrittenBack {
        let statement = item
            .detail
            .get("statement")
            .cloned()
            .ok_or("the item holds no statement")?;
        return Ok(NewEvent {
            idempotency_key: key,
            source: Source::Reconcile,
            direction: Direction::LmsToHris,
            employee_id: item.employee_id.clone(),
            kind: item.detail["verb"].as_str().unwrap_or("completed").to_string(),
            occurred_at: at,
            payload: statement,
        });
    }
    let record = item
        .detail
        .get("record")
        .cloned()
        .ok_or("the item holds no HRIS record")?;
    Ok(NewEvent {
        idempotency_key: key,
        source: Source::Reconcile,
        direction: Direction::HrisToLms,
        employee_id: item.employee_id.clone(),
        kind: "Fix".into(),
        occurred_at: at,
        payload: json!({ "id": item.employee_id, "action": "Fix", "fields": record }),
    })
}

/// Fix: journals the owner's value for each item; the engine applies it like any change.
pub fn fix(store: &Store, actor: &str, ids: &[i64]) -> Result<Vec<Resolved>, ActionError> {
    each_item(store, ids, |tx, item| {
        let event = match fix_event(&item, tx.now()) {
            Ok(event) => event,
            Err(why) => return Ok(Err(why)),
        };
        if item.category == DriftCategory::WrongGroups {
            if item.detail["leave"] == true {
                // A membership a `remove` trigger no longer justifies: recorded, the
                // applier takes the learner out of it (`triggers::groups_to_leave`).
                tx.record_enrolments(&item.employee_id, std::slice::from_ref(&item.field))?;
            } else {
                // The enrolment was recorded but the LMS lost it: enrol again.
                tx.forget_enrolment(&item.employee_id, &item.field)?;
            }
        }
        let appended = tx.append(std::slice::from_ref(&event))?;
        tx.set_drift_state(item.id, DriftState::Fixing, None)?;
        let after = json!({ "state": DriftState::Fixing, "event": appended[0].id() });
        tx.audit(audit(actor, AuditAction::DriftFix, &item, after, None))?;
        Ok(Ok(DriftState::Fixing))
    })
}

/// Flag: hands each item to the HRIS admin's queue with the note.
pub fn flag(store: &Store, actor: &str, ids: &[i64], note: &str) -> Result<Vec<Resolved>, ActionError> {
    require(note, "flag drift")?;
    each_item(store, ids, |tx, item| {
        let subject = format!("{} {}", item.category.describe(), item.field)
            .trim()
            .to_string();
        let detail = json!({ "drift_item": item.id, "run": item.run_id, "category": item.category,
            "field": item.field, "hris": item.hris_value, "lms": item.lms_value });
        let flag = tx.add_flag("drift", Some(&item.employee_id), &subject, note, &detail, actor)?;
        tx.set_drift_state(item.id, DriftState::Flagged, Some(note))?;
        let after = json!({ "state": DriftState::Flagged, "flag": flag });
        tx.audit(audit(actor, AuditAction::DriftFlag, &item, after, Some(note)))?;
        Ok(Ok(DriftState::Flagged))
    })
}

/// Accept: later runs leave the item out while its values stay (until `expires`).
pub fn accept(
    store: &Store,
    actor: &str,
    ids: &[i64],
    reason: &str,
    expires: Option<jiff::Timestamp>,
) -> Result<Vec<Resolved>, ActionError> {
    require(reason, "accept drift")?;
    each_item(store, ids, |tx, item| {
        tx.accept_drift(&item, reason, expires, actor)?;
        let after = json!({ "state": DriftState::Accepted, "expires": expires });
        tx.audit(audit(actor, AuditAction::DriftAccept, &item, after, Some(reason)))?;
        Ok(Ok(DriftState::Accepted))
    })
}

fn group_audit(
    actor: &str,
    action: AuditAction,
    group: &DuplicateGroup,
    after: Value,
    reason: Option<&str>,
) -> NewAuditEntry {
    let members: Vec<&str> = group.members.iter().map(|m| m.member_id.as_str()).collect();
    NewAuditEntry {
        actor: actor.to_string(),
        action,
        employee_id: group.members.iter().find_map(|m| m.employee_id.clone()),
        subject: format!(
            "duplicate group {} ({} side, {}: {})",
            group.id,
            group.side,
            group.basis.describe(),
            members.join(", ")
        ),
        before: json!({ "state": group.state }),
        after,
        reason: reason.map(str::to_string),
    }
}

fn group_of(store: &Store, id: i64) -> Result<DuplicateGroup, ActionError> {
    store
        .duplicate_group(id)?
        .ok_or_else(|| ActionError::Refused(format!("duplicate group {id} does not exist")))
}

fn stored(tx: &StoreTx<'_>, id: i64) -> Result<DuplicateGroup, StoreError> {
    tx.duplicate_group(id)?.ok_or(StoreError::Corrupt {
        row: id,
        column: "duplicate_groups",
        reason: "the group just decided is missing".into(),
    })
}

/// Not a duplicate: remembered while the members stay the same; the held records sync.
pub fn not_duplicate(
    store: &Store,
    actor: &str,
    id: i64,
    reason: &str,
) -> Result<DuplicateGroup, ActionError> {
    require(reason, "mark a group as not a duplicate")?;
    let group = group_of(store, id)?;
    Ok(store.transaction(|tx| {
        tx.decide_duplicate(id, GroupState::NotDuplicate, Some(reason), actor)?;
        let employees: Vec<String> = group
            .members
            .iter()
            .filter_map(|m| m.employee_id.clone())
            .collect();
        let held = tx.duplicate_held_events(&employees)?;
        tx.release_held(&held)?;
        let after = json!({ "state": GroupState::NotDuplicate, "released_events": held });
        tx.audit(group_audit(
            actor,
            AuditAction::DuplicateNotDuplicate,
            &group,
            after,
            Some(reason),
        ))?;
        stored(tx, id)
    })?)
}

/// Flag to the HRIS admin with a note; the newcomers stay held.
pub fn flag_duplicate(
    store: &Store,
    actor: &str,
    id: i64,
    note: &str,
) -> Result<DuplicateGroup, ActionError> {
    require(note, "flag a duplicate")?;
    let group = group_of(store, id)?;
    Ok(store.transaction(|tx| {
        tx.decide_duplicate(id, GroupState::Flagged, Some(note), actor)?;
        let detail = json!({ "duplicate_group": id, "side": group.side, "basis": group.basis,
            "members": group.members });
        let subject = format!("suspected duplicate ({})", group.basis.describe());
        let employee = group.members.iter().find_map(|m| m.employee_id.clone());
        let flag = tx.add_flag("duplicate", employee.as_deref(), &subject, note, &detail, actor)?;
        let after = json!({ "state": GroupState::Flagged, "flag": flag });
        tx.audit(group_audit(
            actor,
            AuditAction::DuplicateFlag,
            &group,
            after,
            Some(note),
        ))?;
        stored(tx, id)
    })?)
}

/// Link (learner side): journals a change that points `learner_id` at
/// `employee_id` (its externalId); the engine applies it with retries and audit.
pub fn link(
    store: &Store,
    actor: &str,
    id: i64,
    learner_id: &str,
    employee_id: &str,
) -> Result<DuplicateGroup, ActionError> {
    let group = group_of(store, id)?;
    {
        if group.side != DuplicateSide::Lms {
            return Err(ActionError::Refused(format!(
                "duplicate group {id} is of HRIS employees: link is for learners sharing an email"
            )));
        }
        if !group
            .members
            .iter()
            .any(|m| m.learner_id.as_deref() == Some(learner_id))
        {
            return Err(ActionError::Refused(format!(
                "learner {learner_id} is not in duplicate group {id}"
            )));
        }
        if employee_id.trim().is_empty() {
            return Err(ActionError::Refused("link needs the employee id".into()));
        }
    }
    Ok(store.transaction(|tx| {
        let others: Vec<&str> = group
            .members
            .iter()
            .filter_map(|m| m.learner_id.as_deref())
            .filter(|l| *l != learner_id)
            .collect();
        let event = NewEvent {
            idempotency_key: format!("link:{id}:{learner_id}:{:017}", tx.now().as_microsecond()),
            source: Source::Reconcile,
            direction: Direction::HrisToLms,
            employee_id: employee_id.to_string(),
            kind: "Link".into(),
            occurred_at: tx.now(),
            payload: json!({ "id": employee_id, "action": "Link", "learner": learner_id, "unlink": others }),
        };
        let appended = tx.append(std::slice::from_ref(&event))?;
        let note = format!("learner {learner_id} linked to employee {employee_id}");
        tx.decide_duplicate(id, GroupState::Linked, Some(&note), actor)?;
        let after = json!({ "state": GroupState::Linked, "learner": learner_id, "employee": employee_id,
            "event": appended[0].id() });
        tx.audit(group_audit(
            actor,
            AuditAction::DuplicateLink,
            &group,
            after,
            None,
        ))?;
        stored(tx, id)
    })?)
}
