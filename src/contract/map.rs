//! One HRIS record through the contract: each field validated against its type,
//! required flag and empty rule, mapped through its value table, plus the record's
//! lifecycle state and scope. Pure; the engine decides what to write from this.
//! Sync and reconciliation both map through here: the result borrows its text
//! from the record and the contract, so a million records cost no allocation
//! per value.

use std::borrow::Cow;

use jiff::civil::Date;
use serde_json::{Map, Value};

use super::{Contract, EmptyRule, FieldRule, FieldType, InclusionRule, LeaveAction, Owner, ScimPath};
use crate::model::FieldReason;

/// Where the employee stands in the HRIS, by the contract's lifecycle rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmploymentState {
    Active,
    OnLeave,
    Terminated,
}

/// One field's value for the LMS, after the empty rule and the value table.
#[derive(Clone, Debug, PartialEq)]
pub struct LmsValue<'a> {
    pub field: &'a str,
    /// The field's place in the contract's `fields`.
    pub rule: usize,
    pub path: &'a ScimPath,
    /// `Null` clears the attribute in the LMS.
    pub value: Wanted<'a>,
    pub kind: FieldType,
}

/// A value the LMS should hold, borrowed from the record or the contract where
/// it can be: mapping a record allocates no text of its own.
#[derive(Clone, Debug, PartialEq)]
pub enum Wanted<'a> {
    Null,
    Text(Cow<'a, str>),
    Number(serde_json::Number),
    Bool(bool),
}

impl Wanted<'_> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Wanted::Text(text) => Some(text),
            _ => None,
        }
    }

    pub fn to_value(&self) -> Value {
        match self {
            Wanted::Null => Value::Null,
            Wanted::Text(text) => Value::String(text.to_string()),
            Wanted::Number(number) => Value::Number(number.clone()),
            Wanted::Bool(flag) => Value::Bool(*flag),
        }
    }
}

/// Each field's checked HRIS value by contract name (empty ones absent), in the
/// contract's order: the triggers and the lifecycle read them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldValues<'a>(Vec<(&'a str, Cow<'a, str>)>);

impl FieldValues<'_> {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|(name, _)| *name == field).map(|(_, v)| &**v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(name, value)| (*name, &**value))
    }
}

impl std::ops::Index<&str> for FieldValues<'_> {
    type Output = str;

    fn index(&self, field: &str) -> &str {
        self.get(field).unwrap_or_else(|| panic!("no value for {field}"))
    }
}

/// A record the contract accepted (or, for one leaving, at least identified),
/// borrowing from the record and the contract.
#[derive(Clone, Debug, PartialEq)]
pub struct MappedEmployee<'a> {
    pub employee_id: Cow<'a, str>,
    pub state: EmploymentState,
    /// Every inclusion rule holds (or one could not be decided: then `problems` says why).
    pub in_scope: bool,
    /// The inclusion rule (its place in the contract's `inclusion`) that puts the
    /// record out of scope.
    pub out_of_scope_by: Option<usize>,
    /// For a future hire out of scope today by a pre-provisioning rule
    /// ([`Contract::pre_provisions`]): the first day the rules hold, when the
    /// learner is to be created.
    pub in_scope_from: Option<Date>,
    /// The contract pre-provisions: a future hire in scope is created now.
    pub pre_provisioned: bool,
    /// Per trigger (in the contract's order), whether its `condition` holds
    /// (true for a trigger without one).
    pub conditions: Vec<bool>,
    pub hire_date: Option<Date>,
    /// The manager's employee id, if the record names one.
    pub manager_id: Option<Cow<'a, str>>,
    /// The values the LMS should hold; skipped fields are absent.
    pub lms: Vec<LmsValue<'a>>,
    /// Each field's checked HRIS value, for the triggers.
    pub values: FieldValues<'a>,
    /// Problems found in fields; empty for a record that may be written in full.
    pub problems: Vec<FieldReason>,
}

impl MappedEmployee<'_> {
    /// Whether the learner should be active: in scope and employed (leave per contract).
    pub fn should_be_active(&self, contract: &Contract) -> bool {
        self.in_scope
            && match self.state {
                EmploymentState::Active => true,
                EmploymentState::OnLeave => contract.lifecycle.on_leave_action == LeaveAction::StayActive,
                EmploymentState::Terminated => false,
            }
    }

    /// The hire date of an active employee hired after `today`: their learner is
    /// created that day, not before.
    /// A contract that pre-provisions creates them once its scope rules hold instead.
    pub fn hired_later(&self, today: Date) -> Option<Date> {
        self.hire_date
            .filter(|&hired| !self.pre_provisioned && self.state == EmploymentState::Active && hired > today)
    }

    /// The record as the LMS attributes it maps to, by contract field name, for the journal.
    pub fn to_json(&self) -> Value {
        let fields: Map<String, Value> = self
            .lms
            .iter()
            .map(|v| (v.field.to_string(), v.value.to_value()))
            .collect();
        serde_json::json!({
            "employee_id": self.employee_id,
            "state": format!("{:?}", self.state),
            "in_scope": self.in_scope,
            "lms": fields,
            "problems": self.problems,
        })
    }
}

/// Maps one HRIS record (BambooHR field names). Err only when the record cannot
/// even be identified or placed in the lifecycle; other field problems are in
/// `problems`, so a termination is never blocked by a bad phone number.
pub fn map_employee<'a, R: FieldSource + ?Sized>(
    contract: &'a Contract,
    record: &'a R,
) -> Result<MappedEmployee<'a>, Vec<FieldReason>> {
    let mut problems = Vec::new();
    let today = Today::new(contract);
    let mut values = Vec::with_capacity(contract.fields.len());
    let mut lms = Vec::with_capacity(contract.fields.len());
    for (at, rule) in contract.fields.iter().enumerate() {
        // Flow 1 carries only what the HRIS owns; the LMS's own fields are not ours to check.
        if rule.owner == Owner::Lms {
            continue;
        }
        let raw = match source_text(&today, at, rule, record) {
            Ok(raw) => raw,
            Err(reason) => {
                problems.push(FieldReason {
                    field: rule.name.clone(),
                    reason,
                });
                continue;
            }
        };
        match check_value(contract, rule, raw) {
            Ok(Checked::Value { hris, lms: value }) => {
                values.push((rule.name.as_str(), hris));
                push_lms(&mut lms, at, rule, value);
            }
            Ok(Checked::Empty(rule_value)) => {
                if let Some(value) = rule_value {
                    push_lms(&mut lms, at, rule, value);
                }
            }
            Err(reason) => problems.push(FieldReason {
                field: rule.name.clone(),
                reason,
            }),
        }
    }
    let values = FieldValues(values);
    let key = contract.key_field();
    let Some(employee_id) = values
        .0
        .iter()
        .find(|(name, _)| *name == key.name)
        .map(|(_, v)| v.clone())
    else {
        return Err(problems);
    };
    let lifecycle = &contract.lifecycle;
    let status = values.get(&lifecycle.status_field);
    let state = match state_of(lifecycle, status) {
        Some(state) => state,
        None => {
            if !problems.iter().any(|p| p.field == lifecycle.status_field) {
                problems.push(FieldReason {
                    field: lifecycle.status_field.clone(),
                    reason: format!(
                        "\"{}\" is none of the lifecycle's statuses ({})",
                        status.unwrap_or(""),
                        [&lifecycle.active, &lifecycle.on_leave, &lifecycle.terminated]
                            .iter()
                            .flat_map(|l| l.iter().map(String::as_str))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
            return Err(problems);
        }
    };
    let hire_date = values
        .get(&lifecycle.hire_date_field)
        .and_then(|d| d.parse::<Date>().ok());
    let uses_expressions = contract.inclusion.iter().any(|r| r.when.is_some())
        || contract.triggers.iter().any(|t| t.condition.is_some());
    let today = if uses_expressions {
        today.get()
    } else {
        Date::default()
    };
    let pre_provisioned = uses_expressions && contract.pre_provisions();
    let (out_of_scope_by, in_scope_from) = match scope_on(contract, &values, record, today) {
        Ok(None) => (None, None),
        Ok(Some(rule)) => {
            let from = hire_date
                .filter(|&hired| pre_provisioned && state == EmploymentState::Active && hired > today)
                .and_then(|hired| first_day_in_scope(contract, &values, record, today, hired));
            (Some(rule), from)
        }
        // Undecided: in scope, so the record is refused (and queued), not deactivated.
        Err(problem) => {
            problems.push(problem);
            (None, None)
        }
    };
    let in_scope = out_of_scope_by.is_none();
    let conditions = contract
        .triggers
        .iter()
        .map(|trigger| match &trigger.condition {
            None => true,
            // A change trigger, or one reading the learner: decided where the
            // previous record and the learner are known (`change_conditions`).
            Some(condition) if condition.reads_beyond_record() => false,
            Some(condition) => condition_holds(condition, record, today).unwrap_or_else(|reason| {
                problems.push(FieldReason {
                    field: format!("trigger \"{}\"", trigger.name),
                    reason,
                });
                false
            }),
        })
        .collect();
    let manager_id = (lifecycle.manager_field.as_ref())
        .and_then(|f| values.0.iter().find(|(name, _)| name == f))
        .map(|(_, id)| id.clone());
    Ok(MappedEmployee {
        employee_id,
        state,
        in_scope,
        out_of_scope_by,
        in_scope_from,
        pre_provisioned,
        conditions,
        hire_date,
        manager_id,
        lms,
        values,
        problems,
    })
}

/// Where a status (the lifecycle's status field's checked value) places the
/// employee; `None` for a status the lifecycle does not list.
pub fn state_of(lifecycle: &super::Lifecycle, status: Option<&str>) -> Option<EmploymentState> {
    let listed = |statuses: &[String], s: &str| statuses.iter().any(|t| t == s);
    match status? {
        s if listed(&lifecycle.terminated, s) => Some(EmploymentState::Terminated),
        s if listed(&lifecycle.on_leave, s) => Some(EmploymentState::OnLeave),
        s if listed(&lifecycle.active, s) => Some(EmploymentState::Active),
        _ => None,
    }
}

/// The first inclusion rule the record breaks on `today` (its place in the
/// contract's `inclusion`): the one that puts it out of scope; `None` when every
/// rule holds. A `when` that fails or yields no boolean is the record's problem,
/// naming the rule, the expression and the values it read.
pub fn scope_on<R: FieldSource + ?Sized>(
    contract: &Contract,
    values: &FieldValues<'_>,
    record: &R,
    today: Date,
) -> Result<Option<usize>, FieldReason> {
    for (at, rule) in contract.inclusion.iter().enumerate() {
        if !listed(rule, values) {
            return Ok(Some(at));
        }
        if let Some(when) = &rule.when {
            let holds = condition_holds(when, record, today).map_err(|reason| FieldReason {
                field: format!("inclusion rule at line {}", rule.line),
                reason,
            })?;
            if !holds {
                return Ok(Some(at));
            }
        }
    }
    Ok(None)
}

/// Whether the record's value is one the rule lists (true for a rule that lists none: only `when`).
pub fn listed(rule: &InclusionRule, values: &FieldValues<'_>) -> bool {
    rule.field.is_empty()
        || values
            .get(&rule.field)
            .is_some_and(|v| rule.any_of.iter().any(|allowed| allowed == v))
}

/// The longest a future hire is looked ahead for the day their scope rules hold.
const LOOK_AHEAD_DAYS: i32 = 400;

/// The first day after `today`, up to the hire date, on which every scope rule
/// holds: when a pre-provisioned hire's learner is made.
fn first_day_in_scope<R: FieldSource + ?Sized>(
    contract: &Contract,
    values: &FieldValues<'_>,
    record: &R,
    today: Date,
    hired: Date,
) -> Option<Date> {
    (1..=LOOK_AHEAD_DAYS)
        .map_while(|ahead| today.checked_add(jiff::Span::new().days(ahead)).ok())
        .take_while(|&day| day <= hired)
        .find(|&day| matches!(scope_on(contract, values, record, day), Ok(None)))
}

/// Decides the triggers the record alone does not: a `condition` that reads
/// `before.<field>` (a change trigger) or `lms.<path>` (the learner), with the
/// employee's previous record as the applier knows it and the learner the LMS
/// holds (`None`: none is known, every `before.<field>` or `lms.<path>` is
/// null). `map_employee` leaves them false: they are not judged from the HRIS
/// state alone, so the reconciliation and the preview never expect their
/// groups (`on_exit` is keep for them).
pub fn change_conditions<R: FieldSource + ?Sized, B: FieldSource + ?Sized>(
    contract: &Contract,
    mapped: &mut MappedEmployee<'_>,
    record: &R,
    before: Option<&B>,
    learner: Option<&Value>,
) {
    let mut today = None;
    for (at, trigger) in contract.triggers.iter().enumerate() {
        let Some(condition) = trigger.condition.as_ref().filter(|c| c.reads_beyond_record()) else {
            continue;
        };
        let today =
            *today.get_or_insert_with(|| super::expr::today(&contract.time_zone, jiff::Timestamp::now()));
        match condition_holds_after(condition, record, (before, learner), today) {
            Ok(holds) => mapped.conditions[at] = holds,
            Err(reason) => mapped.problems.push(FieldReason {
                field: format!("trigger \"{}\"", trigger.name),
                reason,
            }),
        }
    }
}

/// Whether a condition (a scope rule's `when`, a trigger's `condition`) holds
/// for the record: Err names the expression, and the values it read, when it
/// fails or yields something other than true or false.
pub(super) fn condition_holds<R: FieldSource + ?Sized>(
    condition: &super::expr::Expr,
    record: &R,
    today: Date,
) -> Result<bool, String> {
    condition_holds_after(condition, record, (None::<&R>, None), today)
}

/// [`condition_holds`], with the previous record for `before.<field>` and the
/// learner for `lms.<path>`.
fn condition_holds_after<R: FieldSource + ?Sized, B: FieldSource + ?Sized>(
    condition: &super::expr::Expr,
    record: &R,
    (before, learner): (Option<&B>, Option<&Value>),
    today: Date,
) -> Result<bool, String> {
    let read = |rule: usize, field: &str| text_of(record.field(rule, field));
    let read_before = |rule: usize, field: &str| before.and_then(|b| text_of(b.field(rule, field)));
    let failed = |why: String| format!("expression `{}` {why}", condition.source());
    let value = condition
        .eval(&super::expr::Vars {
            hris: &read,
            today,
            before: Some(&read_before),
            lms: learner,
            statement: None,
            reports: record.reports(),
        })
        .map_err(|error| failed(format!("failed: {error}")))?;
    match value {
        cel::Value::Bool(holds) => Ok(holds),
        other => {
            let shown = match super::expr::value_text(&other) {
                Ok(Some(text)) => format!("{text:?}"),
                Ok(None) => "nothing (null or empty)".to_string(),
                Err(_) => format!("a {}", other.type_of()),
            };
            Err(failed(format!("yields {shown}, not true or false")))
        }
    }
}

fn push_lms<'a>(lms: &mut Vec<LmsValue<'a>>, at: usize, rule: &'a FieldRule, value: Wanted<'a>) {
    if let Some(path) = &rule.scim_path {
        lms.push(LmsValue {
            field: &rule.name,
            rule: at,
            path,
            value,
            kind: rule.kind,
        });
    }
}

pub(super) enum Checked<'a> {
    /// The HRIS value as checked, and what the LMS gets.
    Value { hris: Cow<'a, str>, lms: Wanted<'a> },
    /// Empty, allowed: what the empty rule sends (None: nothing, the field is skipped).
    Empty(Option<Wanted<'a>>),
}

/// Where an HRIS record's fields are read from: the record as the HRIS sent it, or
/// a reconciliation's packed copy of it.
pub trait FieldSource: Sync {
    /// The field's value as text (numbers and flags as their JSON text); `None` when
    /// it is absent or null.
    fn text(&self, field: &str) -> Option<Cow<'_, str>>;

    /// The value of the contract's field number `rule` (its place in `fields`),
    /// whose HRIS name is `field`: a source that knows its columns by number
    /// reads it without looking the name up.
    fn field(&self, rule: usize, field: &str) -> Option<Cow<'_, str>> {
        let _ = rule;
        self.text(field)
    }

    /// How many employees name this one in the lifecycle's manager field
    /// (`reports`, counted by `contract::reports`); `None` where it is not
    /// known (a source wrapped in `reports::Counted` knows it).
    fn reports(&self) -> Option<u32> {
        None
    }
}

impl FieldSource for Map<String, Value> {
    fn text(&self, field: &str) -> Option<Cow<'_, str>> {
        Some(match self.get(field)? {
            Value::Null => return None,
            Value::String(s) => Cow::Borrowed(s.as_str()),
            Value::Bool(b) => Cow::Owned(b.to_string()),
            Value::Number(n) => Cow::Owned(n.to_string()),
            other => Cow::Owned(other.to_string()),
        })
    }
}

/// `today` in the contract's time zone for one record: worked out when an
/// expression first reads it, then the same day for every other one.
pub(super) struct Today<'c> {
    zone: &'c jiff::tz::TimeZone,
    day: std::cell::OnceCell<Date>,
}

impl<'c> Today<'c> {
    pub(super) fn new(contract: &'c Contract) -> Today<'c> {
        Today {
            zone: &contract.time_zone,
            day: std::cell::OnceCell::new(),
        }
    }

    pub(super) fn get(&self) -> Date {
        *(self.day).get_or_init(|| super::expr::today(self.zone, jiff::Timestamp::now()))
    }
}

/// A field's source value as text, before its checks: the HRIS field's value,
/// or what its expression computes from the record; when that is empty, what
/// its `empty_expr` computes (the reason names the expression and the values it
/// read when one fails).
pub(super) fn source_text<'a, R: FieldSource + ?Sized>(
    today: &Today<'_>,
    at: usize,
    rule: &FieldRule,
    record: &'a R,
) -> Result<Option<Cow<'a, str>>, String> {
    match sent_text(today, at, rule, record)? {
        None => fallback_text(today, rule, record),
        sent => Ok(sent),
    }
}

/// [`source_text`] before the `empty_expr`: the HRIS field's value, or what
/// the field's expression computes.
pub(super) fn sent_text<'a, R: FieldSource + ?Sized>(
    today: &Today<'_>,
    at: usize,
    rule: &FieldRule,
    record: &'a R,
) -> Result<Option<Cow<'a, str>>, String> {
    match &rule.expr {
        None => Ok(text_of(record.field(at, &rule.hris))),
        Some(expr) => computed_text(today, expr, record),
    }
}

/// What a field's `empty_expr` computes for a record whose source is empty
/// (`None`: the field has none, or it computes nothing either).
pub(super) fn fallback_text<'a, R: FieldSource + ?Sized>(
    today: &Today<'_>,
    rule: &FieldRule,
    record: &'a R,
) -> Result<Option<Cow<'a, str>>, String> {
    match &rule.empty_expr {
        Some(expr) => computed_text(today, expr, record),
        None => Ok(None),
    }
}

/// An expression's value for a record as a field's text.
fn computed_text<'a, R: FieldSource + ?Sized>(
    today: &Today<'_>,
    expr: &super::expr::Expr,
    record: &'a R,
) -> Result<Option<Cow<'a, str>>, String> {
    let today = if expr.uses_today() {
        today.get()
    } else {
        Date::default()
    };
    let read = |rule: usize, field: &str| text_of(record.field(rule, field));
    let failed = |why: String| format!("expression `{}` {why}", expr.source());
    let vars = super::expr::Vars {
        hris: &read,
        today,
        before: None,
        lms: None,
        statement: None,
        reports: None,
    };
    // The text is copied once, from where the memo keeps it.
    let text = expr
        .eval_with(&vars, |found| {
            super::expr::found_text(found).map(|text| text.map(|text| Cow::Owned(text.into_owned())))
        })
        .map_err(|error| failed(format!("failed: {error}")))?;
    text.map_err(failed)
}

/// The HRIS value as text; absent, null and BambooHR's "0000-00-00" are empty.
pub(super) fn text_of(text: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    // Blank: every character white space (what `trim` would empty), found
    // at the first that is not.
    text.filter(|text| !text.chars().all(char::is_whitespace) && text != "0000-00-00")
}

pub(super) fn check_value<'a>(
    contract: &'a Contract,
    rule: &'a FieldRule,
    raw: Option<Cow<'a, str>>,
) -> Result<Checked<'a>, String> {
    let Some(raw) = raw else {
        if rule.required || rule.empty == EmptyRule::Reject {
            return Err("is required but empty".to_string());
        }
        return Ok(Checked::Empty(match rule.empty {
            EmptyRule::Skip | EmptyRule::Reject => None,
            EmptyRule::Empty => Some(Wanted::Text(Cow::Borrowed(""))),
            EmptyRule::Null => Some(Wanted::Null),
        }));
    };
    acceptable_text(rule, &raw)?;
    let (hris, lms) = match rule.kind {
        // Kept exactly: names in any script, with their spaces, are the person's.
        FieldType::String => (raw.clone(), Wanted::Text(raw)),
        FieldType::Email => {
            if !looks_like_email(raw.trim()) {
                return Err(format!("\"{raw}\" is not an email address"));
            }
            let email = trimmed(raw);
            (email.clone(), Wanted::Text(email))
        }
        FieldType::Date => {
            let date: Date = raw
                .trim()
                .parse()
                .map_err(|_| format!("\"{raw}\" is not a date (YYYY-MM-DD)"))?;
            let date = match trimmed(raw) {
                // Already written as the date prints (YYYY-MM-DD): kept, not printed again.
                text if text.len() == 10 && date.year() >= 1000 => text,
                _ => Cow::Owned(date.to_string()),
            };
            (date.clone(), Wanted::Text(date))
        }
        FieldType::Enum => {
            let found = rule
                .allowed
                .iter()
                .find(|a| a.eq_ignore_ascii_case(raw.trim()))
                .ok_or_else(|| format!("\"{raw}\" is not one of {}", rule.allowed.join(", ")))?;
            (
                Cow::Borrowed(found.as_str()),
                Wanted::Text(Cow::Borrowed(found.as_str())),
            )
        }
        FieldType::Number => {
            let number: f64 = raw
                .trim()
                .parse()
                .ok()
                .filter(|n: &f64| n.is_finite())
                .ok_or_else(|| format!("\"{raw}\" is not a number"))?;
            let value = serde_json::Number::from_f64(number).map_or(Wanted::Null, Wanted::Number);
            (trimmed(raw), value)
        }
        FieldType::Bool => {
            let flag = match raw.trim() {
                t if ["true", "yes", "1"].iter().any(|y| t.eq_ignore_ascii_case(y)) => true,
                t if ["false", "no", "0"].iter().any(|n| t.eq_ignore_ascii_case(n)) => false,
                _ => return Err(format!("\"{raw}\" is not true or false")),
            };
            (
                Cow::Borrowed(if flag { "true" } else { "false" }),
                Wanted::Bool(flag),
            )
        }
    };
    let lms = match (&rule.values, lms) {
        (Some(table), Wanted::Text(s)) => {
            match contract.value_tables.get(table).and_then(|t| t.entries.get(&*s)) {
                Some(mapped) => Wanted::Text(Cow::Borrowed(mapped.as_str())),
                None => Wanted::Text(s),
            }
        }
        (_, lms) => lms,
    };
    Ok(Checked::Value { hris, lms })
}

/// The text without its surrounding whitespace, borrowed where the text was.
fn trimmed(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(text.trim()),
        Cow::Owned(text) if text.trim().len() == text.len() => Cow::Owned(text),
        Cow::Owned(text) => Cow::Owned(text.trim().to_string()),
    }
}

/// A text value must fit the contract's length and hold no control character
/// (C0, DEL, C1): one in a name would reach the LMS and every terminal that shows
/// it. The reason never repeats the value (it may be an escape sequence).
pub(crate) fn acceptable_text(rule: &FieldRule, raw: &str) -> Result<(), String> {
    if !matches!(rule.kind, FieldType::String | FieldType::Email | FieldType::Enum) {
        return Ok(());
    }
    // A character is at least one byte: only a long text needs counting.
    if raw.len() > rule.max_length {
        let length = raw.chars().count();
        if length > rule.max_length {
            return Err(format!(
                "is {length} characters long, more than the contract's {} (max_length)",
                rule.max_length
            ));
        }
    }
    let bytes = raw.as_bytes();
    // Most texts hold no byte that may start a control: one pass the compiler
    // vectorises says so, and only the others are searched.
    let suspect = |b: u8| b < 0x20 || b == 0x7f || b == 0xc2;
    if !bytes.iter().fold(false, |found, &b| found | suspect(b)) {
        return Ok(());
    }
    // C1 controls are U+0080..U+009F, encoded 0xC2 0x80..0x9F.
    let control = bytes.iter().enumerate().find(|&(i, &b)| {
        b < 0x20 || b == 0x7f || (b == 0xc2 && bytes.get(i + 1).is_some_and(|&n| (0x80..=0x9f).contains(&n)))
    });
    if let Some((at, _)) = control {
        let character = raw[at..].chars().next().unwrap_or_default();
        let position = raw[..at].chars().count() + 1;
        return Err(format!(
            "holds a control character (U+{:04X}) at character {position}",
            u32::from(character)
        ));
    }
    Ok(())
}

/// One '@' with something on both sides, a dot in the domain, no whitespace.
pub(crate) fn looks_like_email(text: &str) -> bool {
    // One pass over the bytes ('@' and '.' never occur inside a multi-byte
    // character): a reconciliation checks a million addresses.
    let bytes = text.as_bytes();
    let mut at = None;
    let mut dot_in_domain = false;
    for (i, &byte) in bytes.iter().enumerate() {
        match byte {
            b'@' if at.is_some() => return false,
            b'@' => at = Some(i),
            b'.' => dot_in_domain |= at.is_some(),
            byte if byte.is_ascii_whitespace() || byte == 0x0b => return false,
            _ => {}
        }
    }
    let Some(at) = at else {
        return false;
    };
    at > 0
        && dot_in_domain
        && bytes.get(at + 1) != Some(&b'.')
        && bytes.last() != Some(&b'.')
        // Other whitespace is not ASCII: only such addresses need their characters decoded.
        && (text.is_ascii() || !text.chars().any(char::is_whitespace))
}

#[cfg(test)]
#[path = "map_tests.rs"]
mod tests;
