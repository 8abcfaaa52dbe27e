//! A contract change's impact on the population: every HRIS employee mapped
//! through the contract in force and the new one (`map_employee`, the sync's own
//! mapping), and the differences counted: learner fields that would change,
//! people entering and leaving scope, deactivations, enrolments, new rejections.
//! Pure and one pass; examples are bounded, so a million employees cost counts.

use jiff::civil::Date;
use serde::Serialize;
use serde_json::Value;

use super::Contract;
use super::map::{EmploymentState, FieldSource, LmsValue, MappedEmployee, map_employee};
use super::triggers::{groups_for, groups_to_leave};
use crate::model::FieldReason;

/// Examples kept per count when the caller does not say.
pub const DEFAULT_EXAMPLES: usize = 5;

/// What a contract change would do to the learners.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Impact {
    /// HRIS employees examined.
    pub employees: u64,
    /// Employees who hold an active learner under the contract in force, and under the new one.
    pub learners_before: u64,
    pub learners_after: u64,
    /// Per learner field (new contract's name), the learners whose value would change.
    pub fields: Vec<FieldImpact>,
    /// Mapped in scope by the new contract, out of scope by the old.
    pub entering_scope: Affected,
    /// In scope by the old contract, out of scope by the new.
    pub leaving_scope: Affected,
    /// Active learners the new contract deactivates (leaving scope, or by the lifecycle).
    pub deactivated: Affected,
    /// Records the new contract refuses (the learner would not be written) that the old accepted.
    pub rejected: Affected,
    /// Per learning-path group, the learners the new contract enrols that the old did not.
    pub enrolments: Vec<Enrolment>,
    /// Per group, the learners the new contract takes out of a group the old gave
    /// them (a trigger with `on_exit = "remove"` that no longer holds).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leaving_groups: Vec<Enrolment>,
    pub safety: SafetyMark,
}

/// How many employees, with a few of them by id (and why, for a rejection).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Affected {
    pub count: u64,
    pub examples: Vec<Example>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Example {
    pub employee_id: String,
    /// What the old contract says (a value, or why it refused).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub before: Value,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub after: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldImpact {
    pub field: String,
    pub learners: u64,
    pub examples: Vec<Example>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Enrolment {
    pub group: String,
    pub learners: u64,
    pub examples: Vec<Example>,
}

/// Whether the deactivations exceed what `[safety]` lets through without an operator.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SafetyMark {
    pub deactivations: u64,
    pub allowed: u64,
    pub trips_safety: bool,
}

/// Counts a change's impact one employee at a time (`add`), then `finish`.
pub struct Preview<'c> {
    old: &'c Contract,
    new: &'c Contract,
    today: Date,
    examples: usize,
    /// For each new field (by place), the old field of the same name.
    old_rule_of: Vec<Option<usize>>,
    impact: Impact,
    /// Per new field (by place): learners changed, examples.
    fields: Vec<(u64, Vec<Example>)>,
}

impl<'c> Preview<'c> {
    pub fn new(old: &'c Contract, new: &'c Contract, today: Date, examples: usize) -> Preview<'c> {
        let old_rule_of = (new.fields.iter())
            .map(|rule| old.fields.iter().position(|o| o.name == rule.name))
            .collect();
        Preview {
            old,
            new,
            today,
            examples,
            old_rule_of,
            impact: Impact::default(),
            fields: vec![(0, Vec::new()); new.fields.len()],
        }
    }

    /// One HRIS employee, as the HRIS sends it or packed.
    pub fn add<R: FieldSource + ?Sized>(&mut self, record: &R) {
        self.add_each(record, record);
    }

    /// One HRIS employee seen twice: as the old contract reads it and as the new
    /// one does (a packed record finds a field by its place in the contract).
    pub fn add_each<A, B>(&mut self, for_old: &A, for_new: &B)
    where
        A: FieldSource + ?Sized,
        B: FieldSource + ?Sized,
    {
        let (old, new) = (self.old, self.new);
        self.impact.employees += 1;
        let before = map_employee(old, for_old);
        let after = map_employee(new, for_new);
        let had = before.as_ref().is_ok_and(|m| has_learner(old, m, self.today));
        let has = after.as_ref().is_ok_and(|m| has_learner(new, m, self.today));
        self.impact.learners_before += u64::from(had);
        self.impact.learners_after += u64::from(has);
        let id = || employee_id(new, for_new, &before, &after);
        if let (Ok(b), Ok(a)) = (&before, &after) {
            match (b.in_scope, a.in_scope) {
                (false, true) => note(
                    &mut self.impact.entering_scope,
                    self.examples,
                    id,
                    Value::Null,
                    Value::Null,
                ),
                (true, false) => note(
                    &mut self.impact.leaving_scope,
                    self.examples,
                    id,
                    Value::Null,
                    Value::Null,
                ),
                _ => {}
            }
        }
        if let (true, Ok(a)) = (had, &after)
            && !a.should_be_active(new)
        {
            let why = match (a.in_scope, a.state) {
                (false, _) => "out of scope",
                (true, EmploymentState::Terminated) => "terminated",
                (true, EmploymentState::OnLeave) => "on leave",
                (true, EmploymentState::Active) => "active",
            };
            let why = Value::String(why.to_string());
            note(&mut self.impact.deactivated, self.examples, id, Value::Null, why);
        }
        let refused_before = rejected(old, &before);
        let refused_after = rejected(new, &after);
        if let (Some(problems), None) = (refused_after, refused_before) {
            let why = Value::String(match problems.first() {
                Some(p) => format!("{}: {}", p.field, p.reason),
                None => "the record cannot be identified".to_string(),
            });
            note(&mut self.impact.rejected, self.examples, id, Value::Null, why);
        }
        let Ok(a) = &after else { return };
        if !has || refused_after.is_some() {
            return;
        }
        let b = before.as_ref().ok().filter(|_| had);
        if let Some(b) = b {
            self.field_changes(b, a);
        }
        let enrolled_before = b.map_or_else(Vec::new, |b| groups_for(old, b, self.today));
        let leaving = groups_to_leave(new, a, self.today, enrolled_before.iter().map(String::as_str));
        for group in groups_for(new, a, self.today) {
            if enrolled_before.contains(&group) {
                continue;
            }
            count_in(&mut self.impact.enrolments, self.examples, group, &a.employee_id);
        }
        for group in leaving {
            count_in(
                &mut self.impact.leaving_groups,
                self.examples,
                group,
                &a.employee_id,
            );
        }
    }

    /// The learner fields whose value (or SCIM path) differs between the two mappings.
    fn field_changes(&mut self, before: &MappedEmployee<'_>, after: &MappedEmployee<'_>) {
        for wanted in &after.lms {
            let old_value =
                self.old_rule_of[wanted.rule].and_then(|rule| before.lms.iter().find(|v| v.rule == rule));
            if old_value.is_some_and(|old| same(old, wanted)) {
                continue;
            }
            let (count, examples) = &mut self.fields[wanted.rule];
            *count += 1;
            if examples.len() < self.examples {
                examples.push(Example {
                    employee_id: after.employee_id.to_string(),
                    before: old_value.map_or(Value::Null, |v| v.value.to_value()),
                    after: wanted.value.to_value(),
                });
            }
        }
    }

    /// The counts, marked against the deactivations `[safety]` allows.
    pub fn finish(mut self, allowed_deactivations: u64) -> Impact {
        let new = self.new;
        self.impact.fields = (self.fields.into_iter().enumerate())
            .filter(|(_, (count, _))| *count > 0)
            .map(|(rule, (learners, examples))| FieldImpact {
                field: new.fields[rule].name.clone(),
                learners,
                examples,
            })
            .collect();
        self.impact.enrolments.sort_by(|a, b| a.group.cmp(&b.group));
        self.impact.leaving_groups.sort_by(|a, b| a.group.cmp(&b.group));
        let deactivations = self.impact.deactivated.count;
        self.impact.safety = SafetyMark {
            deactivations,
            allowed: allowed_deactivations,
            trips_safety: deactivations > allowed_deactivations,
        };
        self.impact
    }
}

/// Counts one learner in `group`'s row, keeping up to `examples` of them.
fn count_in(rows: &mut Vec<Enrolment>, examples: usize, group: String, employee_id: &str) {
    let at = match rows.iter().position(|e| e.group == group) {
        Some(at) => at,
        None => {
            rows.push(Enrolment {
                group,
                learners: 0,
                examples: Vec::new(),
            });
            rows.len() - 1
        }
    };
    let row = &mut rows[at];
    row.learners += 1;
    if row.examples.len() < examples {
        row.examples.push(Example {
            employee_id: employee_id.to_string(),
            before: Value::Null,
            after: Value::Null,
        });
    }
}

/// The impact of replacing `old` by `new` on `records`, keeping `examples` per count.
pub fn impact<'r, R: FieldSource + ?Sized + 'r>(
    old: &Contract,
    new: &Contract,
    records: impl IntoIterator<Item = &'r R>,
    today: Date,
    examples: usize,
    allowed_deactivations: u64,
) -> Impact {
    let mut preview = Preview::new(old, new, today, examples);
    for record in records {
        preview.add(record);
    }
    preview.finish(allowed_deactivations)
}

/// Whether the contract gives this employee an active learner today (a future
/// hire's learner waits for the hire date).
fn has_learner(contract: &Contract, mapped: &MappedEmployee<'_>, today: Date) -> bool {
    mapped.should_be_active(contract) && mapped.hired_later(today).is_none()
}

/// Why the contract refuses to write this record, if it does: it cannot be
/// placed, or it should be active and a field breaks the contract.
fn rejected<'m>(contract: &Contract, mapped: &'m Mapped<'_>) -> Option<&'m [FieldReason]> {
    match mapped {
        Err(problems) => Some(problems),
        Ok(m) if m.should_be_active(contract) && !m.problems.is_empty() => Some(&m.problems),
        Ok(_) => None,
    }
}

/// What `map_employee` answers.
type Mapped<'a> = Result<MappedEmployee<'a>, Vec<FieldReason>>;

fn same(old: &LmsValue<'_>, new: &LmsValue<'_>) -> bool {
    old.value == new.value && old.path == new.path
}

/// The employee's id from either mapping, else the record's key field as sent.
fn employee_id<R: FieldSource + ?Sized>(
    new: &Contract,
    record: &R,
    before: &Mapped<'_>,
    after: &Mapped<'_>,
) -> String {
    match (after, before) {
        (Ok(m), _) | (_, Ok(m)) => m.employee_id.to_string(),
        _ => (record.text(&new.key_field().hris))
            .map(|id| id.into_owned())
            .unwrap_or_default(),
    }
}

/// Counts one employee, keeping them as an example while there is room.
fn note(affected: &mut Affected, examples: usize, id: impl FnOnce() -> String, before: Value, after: Value) {
    affected.count += 1;
    if affected.examples.len() < examples {
        affected.examples.push(Example {
            employee_id: id(),
            before,
            after,
        });
    }
}

#[path = "impact_text.rs"]
mod text;
pub use text::Shown;

#[cfg(test)]
#[path = "impact_tests.rs"]
mod tests;
