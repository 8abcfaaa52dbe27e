//! The enrolment triggers: which learning paths a mapped employee belongs in.
//! Pure; the plan enrols from this and the impact preview counts with it.

use jiff::civil::Date;

use super::map::MappedEmployee;
use super::{Contract, OnExit, TriggerWhen};

/// The learning paths an active learner belongs in by the triggers. A trigger's
/// `condition` must hold too (decided with the mapping, `MappedEmployee::conditions`).
/// A group stays once given unless its trigger says `on_exit = "remove"`
/// ([`groups_to_leave`]); the learner's history in the LMS always stays.
pub fn groups_for(contract: &Contract, mapped: &MappedEmployee, today: Date) -> Vec<String> {
    if !mapped.should_be_active(contract) {
        return Vec::new();
    }
    let mut groups = Vec::new();
    for (at, trigger) in contract.triggers.iter().enumerate() {
        // A trigger's condition was decided with the mapping (a failure is the record's problem).
        if !mapped.conditions.get(at).copied().unwrap_or(true) {
            continue;
        }
        let group = match &trigger.when {
            TriggerWhen::Hire { within_days } => mapped
                .hire_date
                .filter(|&hired| {
                    // A pre-provisioned learner is made before the hire date: onboarding then too.
                    (hired <= today || mapped.pre_provisioned)
                        && today
                            .since(hired)
                            .is_ok_and(|d| d.get_days() <= *within_days as i32)
                })
                .map(|_| trigger.group.clone()),
            TriggerWhen::FieldMatches { field, pattern } => mapped
                .values
                .get(field)
                .filter(|v| pattern.is_match(v))
                .map(|_| trigger.group.clone()),
            TriggerWhen::FieldValue { field } => mapped
                .values
                .get(field)
                .map(|v| trigger.group.replace("{value}", v)),
        };
        if let Some(group) = group.filter(|g| !groups.contains(g)) {
            groups.push(group);
        }
    }
    groups
}

/// The groups of `member_of` (those the learner is in, or recorded in) that a
/// `on_exit = "remove"` trigger gave and that no trigger gives any more: the
/// learner leaves them. Only an active learner leaves a group; a group a `keep`
/// trigger could give too is kept.
pub fn groups_to_leave<'g>(
    contract: &Contract,
    mapped: &MappedEmployee,
    today: Date,
    member_of: impl IntoIterator<Item = &'g str>,
) -> Vec<String> {
    let removable = |group: &str| {
        let mut givers = contract.triggers.iter().filter(|t| t.can_give(group)).peekable();
        givers.peek().is_some() && givers.all(|t| t.on_exit == OnExit::Remove)
    };
    if !contract.triggers.iter().any(|t| t.on_exit == OnExit::Remove) || !mapped.should_be_active(contract) {
        return Vec::new();
    }
    let wanted = groups_for(contract, mapped, today);
    let mut leave: Vec<String> = member_of
        .into_iter()
        .filter(|group| removable(group) && !wanted.iter().any(|w| w == group))
        .map(str::to_string)
        .collect();
    leave.sort();
    leave.dedup();
    leave
}
