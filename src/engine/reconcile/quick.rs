//! A cheap proof that one employee and its learner agree, so a run spends the
//! full mapping (`map_employee`, `assess`) only on the pairs that may differ.
//!
//! It reads the packed cells in place and allocates nothing. It answers only
//! "clean" or "unsure": whatever it cannot prove the same as the full path
//! would (a field problem, a value that is not plain text, any difference at
//! all) is unsure, and the full path decides. `compare`'s tests run every pair
//! both ways and require the same findings.
//!
//! The values a column stores once (departments, titles, statuses, group sets)
//! are worked out once per run: what each comes to under each rule, which
//! learner value it must equal, whether it fires a trigger and which groups a
//! learner's group set holds. A row then compares indices, not text, for them.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::Date;

use super::index::LearnerIndex;
use super::rows::{Cell, Employees, LEARNER_ACTIVE, LEARNER_GROUPS, Learners, NOT_SHARED, Packed};
use crate::contract::map::{acceptable_text, looks_like_email};
use crate::contract::{Contract, EmptyRule, FieldRule, FieldType, LeaveAction, Owner, TriggerWhen};

/// A code's part that says which learner value it wants: a shared index or one
/// of the values below; the bits above it are flags.
const WANTED: u32 = (1 << 28) - 1;
/// A learner value to compare as text (it is not among the ones stored once, or
/// the rule compares without case).
const BY_TEXT: u32 = WANTED;
/// A wanted learner value no learner holds as one of the column's shared values:
/// any shared learner value differs from it.
const ABSENT: u32 = BY_TEXT - 1;
/// A shared value's code when it is a field problem.
const PROBLEM: u32 = BY_TEXT - 2;
/// A shared value's code when the LMS's value is left out of the write.
const SKIP: u32 = BY_TEXT - 3;
/// A shared manager's code when the manager has no learner (the attribute is
/// left alone).
const NO_LEARNER: u32 = BY_TEXT - 4;
/// A code's flag: the checked HRIS text is the cell's own text.
const HRIS_IS_CELL: u32 = 1 << 28;
/// A code's flag: the value has no HRIS text (empty).
const HRIS_IS_NONE: u32 = 1 << 29;

/// The contract resolved against both lists' columns and their shared values,
/// once per run; the threads comparing share it.
pub struct Quick<'c> {
    employees: &'c Packed,
    learners: &'c Packed,
    rules: Vec<QuickRule<'c>>,
    key: Option<usize>,
    status: Option<usize>,
    active: &'c [String],
    on_leave: &'c [String],
    terminated: &'c [String],
    leave_stays_active: bool,
    inclusion: Vec<(Option<usize>, &'c [String])>,
    hire: Option<usize>,
    /// The hire date's rule is a `date`: its value is `YYYY-MM-DD` already
    /// (`quick_value` checked).
    hire_is_date: bool,
    manager: Option<usize>,
    /// Per value the manager's column stores once: its learner's SCIM id (the
    /// rule's code holds that id's shared index in the learner column).
    manager_ids: Vec<&'c str>,
    triggers: Vec<QuickTrigger<'c>>,
    today: Date,
    /// `today` as `YYYY-MM-DD`.
    today_text: String,
    /// Every group a learner group set stored once holds, numbered.
    group_ids: HashMap<&'c str, u32>,
    /// Per learner group set stored once: the numbers of its groups, sorted.
    group_sets: Vec<Vec<u32>>,
}

/// One field the HRIS owns: where each side keeps it.
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
    /// Per value the employee column stores once: what it comes to.
    known: Vec<Known<'c>>,
    /// The same in four bytes, read for every row so the tables stay in cache:
    /// `PROBLEM`, `SKIP` or `Known::learner` (for the manager: the learner
    /// column's shared index of its learner's SCIM id, or `NO_LEARNER`,
    /// `ABSENT`, `BY_TEXT`), and where its HRIS text is (`HRIS_IS_CELL`,
    /// `HRIS_IS_NONE`). `known` is read only for other text.
    codes: Vec<u32>,
}

/// What one shared employee value comes to under one rule.
#[derive(Clone, Copy)]
struct Known<'c> {
    /// `quick_value`'s answer (`None`: a field problem).
    seen: Option<Seen<'c>>,
    /// The learner column's shared index of the value the LMS gets, `ABSENT`,
    /// or `BY_TEXT`.
    learner: u32,
}

/// A group a trigger wants, as worked out once: its name and its number among
/// the groups the shared learner group sets hold (`None`: none holds it).
struct KnownGroup {
    name: Box<str>,
    id: Option<u32>,
}

enum QuickTrigger<'c> {
    Hire {
        /// The earliest hire day within the trigger's days, as `YYYY-MM-DD`.
        from: String,
        within_days: u32,
        group: KnownGroup,
    },
    Matches {
        field: Option<usize>,
        pattern: regex::Regex,
        group: KnownGroup,
        /// Per value the field's column stores once: whether it matches.
        known: Vec<bool>,
    },
    /// The group name split at each `{value}`.
    Value {
        field: Option<usize>,
        parts: Vec<&'c str>,
        /// Per value the field's column stores once: the group it names.
        known: Vec<Option<KnownGroup>>,
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
    /// Per rule, written in place (a push per rule costs more than the check).
    slots: Vec<Slot<'a>>,
    group: String,
}

/// One rule's value in the employee being checked.
#[derive(Clone, Copy)]
struct Slot<'a> {
    /// What the value comes to, when the column does not store it once (else
    /// whatever an earlier employee left).
    seen: Seen<'a>,
    /// The employee value's shared index, whose `Known` holds what it comes to
    /// (`NOT_SHARED`: `seen` holds it).
    shared_at: u32,
    /// The learner's shared index its value must have, `ABSENT`, `BY_TEXT` or
    /// `SKIP`, with the code's flags for a shared value.
    wanted: u32,
}

impl Default for Slot<'_> {
    fn default() -> Self {
        Slot {
            seen: Seen {
                hris: None,
                lms: Lms::Skip,
            },
            shared_at: NOT_SHARED,
            wanted: BY_TEXT,
        }
    }
}

impl<'c> Quick<'c> {
    pub fn new(
        contract: &'c Contract,
        employees: &'c Employees,
        learners: &'c Learners,
        index: &LearnerIndex<'c>,
        threads: usize,
        today: Date,
    ) -> Quick<'c> {
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
            let mut quick = QuickRule {
                rule,
                column: employees.rows.column(&rule.hris),
                learner: rule
                    .scim_path
                    .as_ref()
                    .and_then(|_| learners.field_column(&rule.name)),
                table,
                same_as,
                known: Vec::new(),
                codes: Vec::new(),
            };
            // (A manager's learner value is its learner's SCIM id: see `manager_codes`.)
            let is_manager = contract.lifecycle.manager_field.as_deref() == Some(rule.name.as_str());
            quick.known = quick.column.map_or_else(Vec::new, |column| {
                (employees.rows.shared_values(column).iter())
                    .map(|value| {
                        let seen = quick_value(&quick, Some(value));
                        let learner = match (seen, quick.learner) {
                            _ if is_manager => BY_TEXT,
                            // Emails compare without case: by text.
                            (
                                Some(Seen {
                                    lms: Lms::Text(wanted),
                                    ..
                                }),
                                Some(column),
                            ) if rule.kind != FieldType::Email => {
                                learners.rows.shared_index(column, wanted).unwrap_or(ABSENT)
                            }
                            _ => BY_TEXT,
                        };
                        Known { seen, learner }
                    })
                    .collect()
            });
            quick.codes = (quick.known.iter())
                .zip(quick.column.map_or(&[][..], |c| employees.rows.shared_values(c)))
                .map(|(known, value)| {
                    let Some(seen) = known.seen else {
                        return PROBLEM;
                    };
                    let wanted = if matches!(seen.lms, Lms::Skip) {
                        SKIP
                    } else {
                        known.learner
                    };
                    match seen.hris {
                        None => wanted | HRIS_IS_NONE,
                        Some(hris) if hris == &**value => wanted | HRIS_IS_CELL,
                        Some(_) => wanted,
                    }
                })
                .collect();
            rules.push(quick);
        }
        let find = |name: &str| rules.iter().position(|r| r.rule.name == name);
        // Every group the learner group sets stored once hold, numbered.
        let mut group_ids: HashMap<&'c str, u32> = HashMap::new();
        let group_sets: Vec<Vec<u32>> = (learners.rows.shared_values(LEARNER_GROUPS).iter())
            .map(|set| {
                let mut ids: Vec<u32> = (set.split('\n'))
                    .map(|group| {
                        let next = group_ids.len() as u32;
                        *group_ids.entry(group).or_insert(next)
                    })
                    .collect();
                ids.sort_unstable();
                ids
            })
            .collect();
        let known_group = |name: String| KnownGroup {
            id: group_ids.get(name.as_str()).copied(),
            name: name.into(),
        };
        // What a trigger's field comes to, per value its column stores once.
        let shared_of = |field: Option<usize>| -> Vec<Option<&'c str>> {
            field.map_or_else(Vec::new, |at| {
                (rules[at].known.iter())
                    .map(|known| known.seen.and_then(|seen| seen.hris))
                    .collect()
            })
        };
        let lifecycle = &contract.lifecycle;
        let manager = lifecycle.manager_field.as_deref().and_then(find);
        let (manager_codes, manager_ids) = manager.map_or_else(Default::default, |at| {
            manager_codes(&rules[at], learners, index, threads)
        });
        let triggers = (contract.triggers.iter())
            .map(|trigger| match &trigger.when {
                TriggerWhen::Hire { within_days } => QuickTrigger::Hire {
                    // Before the earliest day there is: every day counts.
                    from: (jiff::Span::new().try_days(i64::from(*within_days)))
                        .and_then(|days| today.checked_sub(days))
                        .map_or_else(|_| String::new(), |from| from.to_string()),
                    within_days: *within_days,
                    group: known_group(trigger.group.clone()),
                },
                TriggerWhen::FieldMatches { field, pattern } => {
                    let field = find(field);
                    QuickTrigger::Matches {
                        known: (shared_of(field).into_iter())
                            .map(|value| value.is_some_and(|v| pattern.is_match(v)))
                            .collect(),
                        field,
                        pattern: pattern.clone(),
                        group: known_group(trigger.group.clone()),
                    }
                }
                TriggerWhen::FieldValue { field } => {
                    let field = find(field);
                    QuickTrigger::Value {
                        known: (shared_of(field).into_iter())
                            .map(|value| value.map(|v| known_group(trigger.group.replace("{value}", v))))
                            .collect(),
                        field,
                        parts: trigger.group.split("{value}").collect(),
                    }
                }
            })
            .collect();
        let mut quick = Quick {
            employees: &employees.rows,
            learners: &learners.rows,
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
            hire_is_date: find(&lifecycle.hire_date_field)
                .is_some_and(|at| rules[at].rule.kind == FieldType::Date),
            manager,
            manager_ids,
            triggers,
            rules,
            today,
            today_text: today.to_string(),
            group_ids,
            group_sets,
        };
        if let Some(at) = manager {
            // The manager's code wants its learner's SCIM id (a row reads one code).
            for (code, learner) in quick.rules[at].codes.iter_mut().zip(manager_codes) {
                if !matches!(*code & WANTED, PROBLEM | SKIP) {
                    *code = (*code & !WANTED) | learner;
                }
            }
        }
        quick
    }

    /// Whether the pair is certainly clean: the full path would find nothing.
    /// Each row comes with its cells' shared indices (`Packed::row_shared`).
    /// `manager_learner` gives the SCIM id of an employee id's learner, if it has one.
    pub fn clean<'a>(
        &self,
        employee: (&[Cell<'a>], &[u32]),
        learner: Option<(&[Cell<'_>], &[u32])>,
        manager_learner: impl Fn(&str) -> Option<&'a str>,
        scratch: &mut Scratch<'a>,
    ) -> bool
    where
        'c: 'a,
    {
        let (employee, employee_shared) = employee;
        let Scratch { slots, group } = scratch;
        slots.resize(self.rules.len(), Slot::default());
        let shared = |column: Option<usize>| column.map_or(NOT_SHARED, |c| employee_shared[c]);
        for (at, rule) in self.rules.iter().enumerate() {
            let index = shared(rule.column);
            if index != NOT_SHARED {
                let code = rule.codes[index as usize];
                if code & WANTED == PROBLEM {
                    // A field problem: the full path says what it comes to.
                    return false;
                }
                // `seen` is left as it was: only a value not stored once reads it.
                (slots[at].shared_at, slots[at].wanted) = (index, code);
                continue;
            }
            let seen = match rule.same_as {
                // (The same column: not stored once either.)
                Some(earlier) => slots[earlier].seen,
                None => {
                    let raw = rule.column.and_then(|c| match employee[c] {
                        Cell::Missing => None,
                        Cell::Text(text) | Cell::Json(text) => Some(text),
                    });
                    match quick_value(rule, raw) {
                        Some(seen) => seen,
                        // A field problem: the full path says what it comes to.
                        None => return false,
                    }
                }
            };
            slots[at] = Slot {
                seen,
                shared_at: NOT_SHARED,
                wanted: BY_TEXT,
            };
        }
        let slots = &*slots;
        let seen_of = |at: usize| match slots[at].shared_at {
            NOT_SHARED => slots[at].seen,
            index => {
                (self.rules[at].known[index as usize].seen).expect("a shared value's code is no problem")
            }
        };
        // The HRIS text, from the row's own cell where the code says it is that.
        let hris = |at: Option<usize>| {
            let at = at?;
            match slots[at] {
                Slot {
                    shared_at: NOT_SHARED,
                    seen,
                    ..
                } => seen.hris,
                Slot { wanted, .. } if wanted & HRIS_IS_NONE != 0 => None,
                Slot { wanted, .. } if wanted & HRIS_IS_CELL != 0 => (self.rules[at].column)
                    .and_then(|c| self.employees.resolved(c, employee[c], employee_shared[c]).text()),
                _ => seen_of(at).hris,
            }
        };
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
        let Some((learner, learner_shared)) = learner else {
            // No learner, and none wanted; anything else is a finding or a wait.
            return !should_be_active;
        };
        let learner_cell = |c: usize| self.learners.resolved(c, learner[c], learner_shared[c]);
        let active = learner_cell(LEARNER_ACTIVE) != Cell::Json("false");
        if !should_be_active || !active {
            return !should_be_active && !active;
        }
        for (at, rule) in self.rules.iter().enumerate() {
            let Some(column) = rule.learner else {
                continue;
            };
            let current = learner_shared[column];
            let Slot {
                seen,
                shared_at,
                wanted,
            } = slots[at];
            let by_index = wanted & WANTED;
            if by_index == SKIP {
                continue;
            }
            if Some(at) != self.manager && by_index != BY_TEXT && current != NOT_SHARED {
                // Both stored once: the same value is the same index.
                if current != by_index {
                    return false;
                }
                continue;
            }
            let lms = if Some(at) == self.manager {
                match shared_at {
                    // (A shared value left out of the write went above.)
                    NOT_SHARED if matches!(seen.lms, Lms::Skip) => continue,
                    NOT_SHARED => match seen.hris.map(&manager_learner) {
                        None => Lms::Null,
                        Some(Some(id)) => Lms::Text(id),
                        // The manager has no learner: the attribute is left alone.
                        Some(None) => continue,
                    },
                    _ if wanted & HRIS_IS_NONE != 0 => Lms::Null,
                    index => match by_index {
                        NO_LEARNER => continue,
                        code if code != BY_TEXT && current != NOT_SHARED => {
                            if current != code {
                                return false;
                            }
                            continue;
                        }
                        _ => Lms::Text(self.manager_ids[index as usize]),
                    },
                }
            } else {
                match seen_of(at).lms {
                    Lms::Skip => continue,
                    lms => lms,
                }
            };
            if !same(learner_cell(column), lms, rule.rule.kind) {
                return false;
            }
        }
        let groups_at = learner_shared[LEARNER_GROUPS];
        let groups = learner[LEARNER_GROUPS].text().unwrap_or("");
        let member = |wanted: &KnownGroup| match groups_at {
            NOT_SHARED => groups.split('\n').any(|g| g == &*wanted.name),
            set => (wanted.id).is_some_and(|id| self.group_sets[set as usize].binary_search(&id).is_ok()),
        };
        let member_by_name = |name: &str| match groups_at {
            NOT_SHARED => groups.split('\n').any(|g| g == name),
            set => (self.group_ids.get(name))
                .is_some_and(|id| self.group_sets[set as usize].binary_search(id).is_ok()),
        };
        for trigger in &self.triggers {
            let is_member = match trigger {
                QuickTrigger::Hire {
                    from,
                    within_days,
                    group,
                } => {
                    let Some(hired) = hris(self.hire) else {
                        continue;
                    };
                    let within = if self.hire_is_date || canonical_date(hired) {
                        // `YYYY-MM-DD` sorts as the days do.
                        from.as_str() <= hired && hired <= self.today_text.as_str()
                    } else {
                        hired.parse::<Date>().is_ok_and(|hired| {
                            hired <= self.today
                                && (self.today.since(hired))
                                    .is_ok_and(|d| d.get_days() <= *within_days as i32)
                        })
                    };
                    if !within {
                        continue;
                    }
                    member(group)
                }
                QuickTrigger::Matches {
                    field,
                    pattern,
                    group,
                    known,
                } => {
                    let matches = match shared(field.and_then(|at| self.rules[at].column)) {
                        NOT_SHARED => hris(*field).is_some_and(|v| pattern.is_match(v)),
                        index => known[index as usize],
                    };
                    if !matches {
                        continue;
                    }
                    member(group)
                }
                QuickTrigger::Value { field, parts, known } => {
                    match shared(field.and_then(|at| self.rules[at].column)) {
                        NOT_SHARED => {
                            let Some(value) = hris(*field) else {
                                continue;
                            };
                            group.clear();
                            for (n, part) in parts.iter().enumerate() {
                                if n > 0 {
                                    group.push_str(value);
                                }
                                group.push_str(part);
                            }
                            member_by_name(group)
                        }
                        index => match &known[index as usize] {
                            Some(wanted) => member(wanted),
                            None => continue,
                        },
                    }
                }
            };
            if !is_member {
                return false;
            }
        }
        true
    }
}

/// Per value the manager's column stores once: the learner column's shared
/// index of its learner's SCIM id (or `NO_LEARNER`, `ABSENT`, `BY_TEXT`), and
/// that id. Each is looked up once, on `threads` threads.
fn manager_codes<'c>(
    rule: &QuickRule<'c>,
    learners: &'c Learners,
    index: &LearnerIndex<'c>,
    threads: usize,
) -> (Vec<u32>, Vec<&'c str>) {
    let chunk = rule.known.len().div_ceil(threads).max(1);
    let code = |known: &Known<'c>| match known.seen.and_then(|seen| seen.hris).and_then(|id| index.get(id)) {
        None => (NO_LEARNER, ""),
        Some((_, id)) if rule.rule.kind == FieldType::Email => (BY_TEXT, id),
        Some((_, id)) => (
            (rule.learner)
                .and_then(|column| learners.rows.shared_index(column, id))
                .unwrap_or(ABSENT),
            id,
        ),
    };
    std::thread::scope(|scope| {
        let code = &code;
        let handles: Vec<_> = (rule.known.chunks(chunk))
            .map(|known| scope.spawn(move || known.iter().map(code).collect::<Vec<_>>()))
            .collect();
        (handles.into_iter())
            .flat_map(|handle| handle.join().expect("looking up managers does not panic"))
            .unzip()
    })
}

/// `check_value` without allocating; `None` for a field problem (or a date not
/// written the way the full path writes it back).
#[inline]
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
    acceptable_text(rule, raw).ok()?;
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
    let number = |digits: &[u8]| {
        (digits.iter()).try_fold(0i16, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + i16::from(d - b'0'))
        })
    };
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    match (number(&bytes[..4]), number(&bytes[5..7]), number(&bytes[8..])) {
        (Some(year), Some(month), Some(day)) => Date::new(year, month as i8, day as i8).is_ok(),
        _ => false,
    }
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
