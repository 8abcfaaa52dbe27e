//! A cheap proof that one employee and its learner agree, so a run spends the
//! full mapping (`map_employee`, `assess`) only on the pairs that may differ.
//!
//! It reads the packed cells in place and allocates nothing. It answers only
//! "clean" or "unsure": whatever it cannot prove the same as the full path
//! would (a field problem, a value that is not plain text, any difference at
//! all) is unsure, and the full path decides. `compare`'s tests run every pair
//! both ways and require the same findings.

use std::collections::BTreeMap;

use jiff::civil::Date;

use super::rows::{Cell, Employees, LEARNER_ACTIVE, LEARNER_GROUPS, Learners};
use crate::contract::map::looks_like_email;
use crate::contract::{Contract, EmptyRule, FieldRule, FieldType, LeaveAction, Owner, TriggerWhen};

/// The contract resolved against both lists' columns, once per run (and cloned
/// per thread: each clone has its own regex caches).
#[derive(Clone)]
pub struct Quick<'c> {
    rules: Vec<QuickRule<'c>>,
    key: Option<usize>,
    status: Option<usize>,
    active: &'c [String],
    on_leave: &'c [String],
    terminated: &'c [String],
    leave_stays_active: bool,
    inclusion: Vec<(Option<usize>, &'c [String])>,
    hire: Option<usize>,
    manager: Option<usize>,
    triggers: Vec<QuickTrigger<'c>>,
}

/// One field the HRIS owns: where each side keeps it.
#[derive(Clone)]
struct QuickRule<'c> {
    rule: &'c FieldRule,
    /// The employee column of its HRIS field (none: always empty).
    column: Option<usize>,
    /// The learner column of its SCIM path (none: the LMS does not hold it).
    learner: Option<usize>,
    table: Option<&'c BTreeMap<String, String>>,
    /// An earlier rule that reads the same field the same way (a work email as
    /// both userName and email): its result is this one's.
    same_as: Option<usize>,
}

#[derive(Clone)]
enum QuickTrigger<'c> {
    Hire {
        within_days: u32,
        group: &'c str,
    },
    Matches {
        field: Option<usize>,
        pattern: regex::Regex,
        group: &'c str,
    },
    /// The group name split at each `{value}`.
    Value {
        field: Option<usize>,
        parts: Vec<&'c str>,
    },
}

/// One field as the contract maps it: the checked HRIS text, and what the LMS gets.
#[derive(Clone, Copy)]
struct Seen<'a> {
    hris: Option<&'a str>,
    lms: Lms<'a>,
}

#[derive(Clone, Copy)]
enum Lms<'a> {
    /// Left out of the write.
    Skip,
    Null,
    Text(&'a str),
    /// A number or a flag: left to the full path.
    Other,
}

/// What can be reused from one employee to the next.
#[derive(Default)]
pub struct Scratch<'a> {
    seen: Vec<Seen<'a>>,
    group: String,
}

impl<'c> Quick<'c> {
    pub fn new(contract: &'c Contract, employees: &Employees, learners: &Learners) -> Quick<'c> {
        let mut rules: Vec<QuickRule<'c>> = Vec::new();
        for rule in contract.fields.iter().filter(|rule| rule.owner != Owner::Lms) {
            let table = (rule.values.as_ref())
                .and_then(|name| contract.value_tables.get(name))
                .map(|table| &table.entries);
            let same_as = rules.iter().position(|earlier| {
                let other = earlier.rule;
                (
                    other.hris.as_str(),
                    other.kind,
                    other.required,
                    other.empty,
                    &other.allowed,
                    earlier.table,
                ) == (
                    rule.hris.as_str(),
                    rule.kind,
                    rule.required,
                    rule.empty,
                    &rule.allowed,
                    table,
                )
            });
            rules.push(QuickRule {
                rule,
                column: employees.rows.column(&rule.hris),
                learner: rule
                    .scim_path
                    .as_ref()
                    .and_then(|_| learners.field_column(&rule.name)),
                table,
                same_as,
            });
        }
        let find = |name: &str| rules.iter().position(|r| r.rule.name == name);
        let lifecycle = &contract.lifecycle;
        let triggers = (contract.triggers.iter())
            .map(|trigger| match &trigger.when {
                TriggerWhen::Hire { within_days } => QuickTrigger::Hire {
                    within_days: *within_days,
                    group: &trigger.group,
                },
                TriggerWhen::FieldMatches { field, pattern } => QuickTrigger::Matches {
                    field: find(field),
                    pattern: pattern.clone(),
                    group: &trigger.group,
                },
                TriggerWhen::FieldValue { field } => QuickTrigger::Value {
                    field: find(field),
                    parts: trigger.group.split("{value}").collect(),
                },
            })
            .collect();
        Quick {
            key: find(&contract.key_field().name),
            status: find(&lifecycle.status_field),
            active: &lifecycle.active,
            on_leave: &lifecycle.on_leave,
            terminated: &lifecycle.terminated,
            leave_stays_active: lifecycle.on_leave_action == LeaveAction::StayActive,
            inclusion: (contract.inclusion.iter())
                .map(|rule| (find(&rule.field), rule.any_of.as_slice()))
                .collect(),
            hire: find(&lifecycle.hire_date_field),
            manager: lifecycle.manager_field.as_deref().and_then(find),
            triggers,
            rules,
        }
    }

    /// Whether the pair is certainly clean: the full path would find nothing.
    /// `manager_learner` gives the SCIM id of an employee id's learner, if it has one.
    pub fn clean<'a>(
        &self,
        employee: &[Cell<'a>],
        learner: Option<&[Cell<'_>]>,
        manager_learner: impl Fn(&str) -> Option<&'a str>,
        today: Date,
        scratch: &mut Scratch<'a>,
    ) -> bool
    where
        'c: 'a,
    {
        let Scratch { seen, group } = scratch;
        seen.clear();
        for rule in &self.rules {
            if let Some(earlier) = rule.same_as {
                seen.push(seen[earlier]);
                continue;
            }
            let raw = rule.column.and_then(|c| match employee[c] {
                Cell::Missing => None,
                Cell::Text(text) | Cell::Json(text) => Some(text),
            });
            match quick_value(rule, raw) {
                Some(value) => seen.push(value),
                // A field problem: the full path says what it comes to.
                None => return false,
            }
        }
        let hris = |at: Option<usize>| at.and_then(|i| seen[i].hris);
        if hris(self.key).is_none() {
            return false;
        }
        let listed = |list: &[String], status: &str| list.iter().any(|s| s == status);
        let should_be_active = match hris(self.status) {
            Some(s) if listed(self.terminated, s) => false,
            Some(s) if listed(self.on_leave, s) => self.leave_stays_active,
            Some(s) if listed(self.active, s) => true,
            _ => return false,
        } && (self.inclusion.iter())
            .all(|&(field, any_of)| hris(field).is_some_and(|v| listed(any_of, v)));
        let Some(learner) = learner else {
            // No learner, and none wanted; anything else is a finding or a wait.
            return !should_be_active;
        };
        let active = learner[LEARNER_ACTIVE] != Cell::Json("false");
        if !should_be_active || !active {
            return !should_be_active && !active;
        }
        let manager = hris(self.manager).and_then(&manager_learner);
        for (at, rule) in self.rules.iter().enumerate() {
            let Some(column) = rule.learner else {
                continue;
            };
            let wanted = match seen[at].lms {
                Lms::Skip => continue,
                _ if Some(at) == self.manager => match (seen[at].hris, manager) {
                    (None, _) => Lms::Null,
                    (Some(_), Some(id)) => Lms::Text(id),
                    // The manager has no learner: the attribute is left alone.
                    (Some(_), None) => continue,
                },
                lms => lms,
            };
            if !same(learner[column], wanted, rule.rule.kind) {
                return false;
            }
        }
        let groups = learner[LEARNER_GROUPS].text().unwrap_or("");
        let member = |group: &str| groups.split('\n').any(|g| g == group);
        let hired = hris(self.hire).and_then(|d| d.parse::<Date>().ok());
        for trigger in &self.triggers {
            let wanted = match trigger {
                QuickTrigger::Hire { within_days, group } => hired
                    .filter(|&hired| {
                        hired <= today
                            && today
                                .since(hired)
                                .is_ok_and(|d| d.get_days() <= *within_days as i32)
                    })
                    .map(|_| *group),
                QuickTrigger::Matches {
                    field,
                    pattern,
                    group,
                } => hris(*field).filter(|v| pattern.is_match(v)).map(|_| *group),
                QuickTrigger::Value { field, parts } => hris(*field).map(|value| {
                    group.clear();
                    for (n, part) in parts.iter().enumerate() {
                        if n > 0 {
                            group.push_str(value);
                        }
                        group.push_str(part);
                    }
                    group.as_str()
                }),
            };
            if wanted.is_some_and(|group| !member(group)) {
                return false;
            }
        }
        true
    }
}

/// `check_value` without allocating; `None` for a field problem (or a date not
/// written the way the full path writes it back).
fn quick_value<'a>(quick: &QuickRule<'a>, raw: Option<&'a str>) -> Option<Seen<'a>> {
    let rule = quick.rule;
    let Some(raw) = raw.filter(|text| !trimmed(text).is_empty() && *text != "0000-00-00") else {
        if rule.required || rule.empty == EmptyRule::Reject {
            return None;
        }
        let lms = match rule.empty {
            EmptyRule::Skip | EmptyRule::Reject => Lms::Skip,
            EmptyRule::Empty => Lms::Text(""),
            EmptyRule::Null => Lms::Null,
        };
        return Some(Seen { hris: None, lms });
    };
    let hris: &'a str = match rule.kind {
        FieldType::String => raw,
        FieldType::Email => Some(trimmed(raw)).filter(|email| looks_like_email(email))?,
        FieldType::Date => Some(trimmed(raw)).filter(|date| canonical_date(date))?,
        FieldType::Enum => {
            let raw = trimmed(raw);
            rule.allowed
                .iter()
                .find(|a| a.eq_ignore_ascii_case(raw))?
                .as_str()
        }
        FieldType::Number => {
            let number = trimmed(raw);
            number.parse::<f64>().ok().filter(|n| n.is_finite())?;
            return Some(Seen {
                hris: Some(number),
                lms: Lms::Other,
            });
        }
        FieldType::Bool => {
            let flag = trimmed(raw);
            let text = if ["true", "yes", "1"].iter().any(|t| t.eq_ignore_ascii_case(flag)) {
                "true"
            } else if ["false", "no", "0"].iter().any(|t| t.eq_ignore_ascii_case(flag)) {
                "false"
            } else {
                return None;
            };
            return Some(Seen {
                hris: Some(text),
                lms: Lms::Other,
            });
        }
    };
    let lms = quick
        .table
        .and_then(|table| table.get(hris))
        .map_or(hris, String::as_str);
    Some(Seen {
        hris: Some(hris),
        lms: Lms::Text(lms),
    })
}

/// `str::trim`, without decoding characters when the ends are visible ASCII.
fn trimmed(text: &str) -> &str {
    match text.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        [only] if only.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// A valid date already written as `YYYY-MM-DD` (as the full path writes it back).
fn canonical_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && (bytes.iter().enumerate()).all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
        && text.parse::<Date>().is_ok()
}

/// `plan`'s equality, for the plain cases; anything else counts as different.
fn same(current: Cell<'_>, wanted: Lms<'_>, kind: FieldType) -> bool {
    match (current, wanted) {
        (Cell::Missing, Lms::Null) => true,
        (Cell::Text(text), Lms::Null) => text.is_empty(),
        (Cell::Text(text), Lms::Text(w)) if kind == FieldType::Email => text.eq_ignore_ascii_case(w),
        (Cell::Text(text), Lms::Text(w)) => text == w,
        _ => false,
    }
}
