//! The mapping contract: per field its path on each side, type, owner, empty
//! rule and value table; who is in scope; the lifecycle; and the enrolment
//! triggers. Pure: parsing and checking only, no I/O.

mod check;
pub mod explain;
pub mod expr;
pub mod identity;
pub mod impact;
pub mod map;
mod raw;
pub mod reports;
mod scim_path;
pub mod triggers;
pub mod writeback;

use std::collections::BTreeMap;

pub use check::{ContractProblem, parse};
pub use scim_path::ScimPath;

/// A checked contract, ready for the engine.
#[derive(Clone, Debug)]
pub struct Contract {
    pub version: u32,
    /// IANA zone the HRIS dates (hire date, termination date) are meant in.
    pub time_zone: jiff::tz::TimeZone,
    pub time_zone_name: String,
    pub fields: Vec<FieldRule>,
    pub value_tables: BTreeMap<String, ValueTable>,
    pub inclusion: Vec<InclusionRule>,
    pub lifecycle: Lifecycle,
    pub triggers: Vec<Trigger>,
    /// Flow 2 (completions → HRIS); `None` when the contract has no `[writeback]`.
    pub writeback: Option<writeback::Writeback>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    String,
    Email,
    Date,
    Enum,
    Number,
    Bool,
}

/// Which system's value wins for a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    Hris,
    Lms,
}

/// What to do when the source value is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmptyRule {
    /// Leave the field out of the write.
    Skip,
    /// Send an empty string.
    Empty,
    /// Send null (clears the target).
    Null,
    /// Refuse the whole record.
    Reject,
}

#[derive(Clone, Debug)]
pub struct FieldRule {
    pub name: String,
    /// The HRIS field name (BambooHR), e.g. `workEmail`; for a computed field,
    /// the expression's text (for display: read what it reads with [`FieldRule::reads`]).
    pub hris: String,
    /// The expression computing the value (`hris_expr`), compiled once with the contract.
    pub expr: Option<std::sync::Arc<expr::Expr>>,
    /// The SCIM attribute path, e.g. `emails[type eq "work"].value`; none
    /// for a field the rules read but the LMS does not hold (a hire date).
    pub scim: Option<String>,
    /// `scim` parsed once (the checker refuses a contract whose path does not parse).
    pub scim_path: Option<std::sync::Arc<ScimPath>>,
    pub kind: FieldType,
    pub required: bool,
    pub owner: Owner,
    pub empty: EmptyRule,
    /// The value when the source is empty (`empty_expr`), compiled once with the
    /// contract; `empty` applies when this is empty too.
    pub empty_expr: Option<std::sync::Arc<expr::Expr>>,
    /// The join key: employee id on both sides.
    pub key: bool,
    /// For `enum` fields: the values the HRIS may send.
    pub allowed: Vec<String>,
    /// The value table mapping HRIS values to LMS values, by name.
    pub values: Option<String>,
    /// The most characters a value may have (`max_length`, default
    /// [`DEFAULT_MAX_LENGTH`]); a longer one is refused, never cut.
    pub max_length: usize,
    pub line: usize,
}

/// A field's longest value when the contract does not say.
pub const DEFAULT_MAX_LENGTH: usize = 1024;

/// HRIS value → LMS value; values not in the table pass through unchanged.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ValueTable {
    pub entries: BTreeMap<String, String>,
    pub line: usize,
}

/// A record is in scope when every rule holds.
#[derive(Clone, Debug)]
pub struct InclusionRule {
    /// The contract field whose value must be one of `any_of`; empty for a rule
    /// that is only an expression (`when`).
    pub field: String,
    pub any_of: Vec<String>,
    /// An expression that must hold too (`when = "..."`), compiled once with the contract.
    pub when: Option<std::sync::Arc<expr::Expr>>,
    pub line: usize,
}

impl InclusionRule {
    /// The rule as the contract states it, for `trace` and the console.
    pub fn describe(&self) -> String {
        let listed =
            (!self.field.is_empty()).then(|| format!("{} any of {}", self.field, self.any_of.join(", ")));
        let when = self.when.as_ref().map(|e| format!("when {}", e.source()));
        listed.into_iter().chain(when).collect::<Vec<_>>().join(" and ")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaveAction {
    StayActive,
    Deactivate,
}

/// Which contract fields carry the lifecycle, and how leave is treated.
#[derive(Clone, Debug)]
pub struct Lifecycle {
    pub status_field: String,
    pub active: Vec<String>,
    pub on_leave: Vec<String>,
    pub terminated: Vec<String>,
    pub on_leave_action: LeaveAction,
    pub hire_date_field: String,
    pub manager_field: Option<String>,
    /// Whether a learner the LMS already holds under the mapped userName (made by
    /// hand, by an earlier process, or by an attempt cut off) is taken over.
    pub adopt_by: AdoptBy,
}

/// How a create that meets an existing learner may take it over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdoptBy {
    /// The learner with the mapped userName, if it has no externalId or this employee's.
    UserName,
    /// Never: the clash is reported as a learner-side duplicate.
    None,
}

#[derive(Clone, Debug)]
pub enum TriggerWhen {
    /// A learner is created or reactivated for someone hired at most
    /// `within_days` ago (a hire, a rehire, or a future hire date reached).
    Hire { within_days: u32 },
    /// The field's value matches the pattern.
    FieldMatches { field: String, pattern: regex::Regex },
    /// Every value of the field has its own group: `{value}` in the group name.
    FieldValue { field: String },
}

#[derive(Clone, Debug)]
pub struct Trigger {
    pub name: String,
    /// What fires it; a trigger written with only a `condition` fires for every
    /// learner (`FieldMatches` on the key with an empty pattern), so the condition decides.
    pub when: TriggerWhen,
    /// An expression that must hold too (`condition = "..."`), compiled once with the contract.
    pub condition: Option<std::sync::Arc<expr::Expr>>,
    /// The SCIM group's displayName; may hold `{value}`.
    pub group: String,
    /// What happens to the membership when the trigger stops holding.
    pub on_exit: OnExit,
    pub line: usize,
}

/// What a trigger's membership comes to once the trigger no longer holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnExit {
    /// The learner stays in the group (onboarding: the path, once begun, is theirs).
    #[default]
    Keep,
    /// The learner leaves the group (location compliance after a move), by an
    /// ordinary planned write; their history in the LMS stays.
    Remove,
}

impl Trigger {
    /// Whether `group` is one this trigger can put a learner in: its group, or
    /// for a `{value}` group any name of that shape.
    pub fn can_give(&self, group: &str) -> bool {
        match self.group.split_once("{value}") {
            None => self.group == group,
            Some((before, after)) => {
                group.len() > before.len() + after.len()
                    && group.starts_with(before)
                    && group.ends_with(after)
            }
        }
    }
}

impl FieldRule {
    /// The HRIS fields this field's value comes from: its `hris` field, or those
    /// its expression reads, and those its `empty_expr` reads.
    pub fn reads(&self) -> impl Iterator<Item = &str> {
        let (plain, computed) = match &self.expr {
            None => (Some(self.hris.as_str()), None),
            Some(expr) => (None, Some(expr.reads())),
        };
        let fallback = self.empty_expr.iter().flat_map(|e| e.reads());
        plain
            .into_iter()
            .chain(computed.into_iter().flatten())
            .chain(fallback)
    }

    /// The HRIS field copied as it is; `None` for a computed field.
    pub fn plain_hris(&self) -> Option<&str> {
        self.expr.is_none().then_some(self.hris.as_str())
    }
}

impl Contract {
    /// Whether a scope rule decides how far ahead a future hire's learner is made
    /// (pre-provisioning): a `when` that reads `today` and the hire date's HRIS
    /// field. Then such a hire is created once the rules hold, not on the hire date.
    pub fn pre_provisions(&self) -> bool {
        let Some(hire) = self
            .field(&self.lifecycle.hire_date_field)
            .and_then(FieldRule::plain_hris)
        else {
            return false;
        };
        self.inclusion
            .iter()
            .filter_map(|rule| rule.when.as_deref())
            .any(|when| when.uses_today() && when.reads().any(|read| read == hire))
    }

    pub fn field(&self, name: &str) -> Option<&FieldRule> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn key_field(&self) -> &FieldRule {
        self.fields
            .iter()
            .find(|f| f.key)
            .expect("a checked contract has exactly one key field")
    }

    /// What one HRIS record says of the fields this contract reads, as a short
    /// digest: two edits of one employee in the same second tell apart by it,
    /// while the same record reached by webhook, poll or full pull (which carry
    /// other fields besides) digests the same.
    pub fn change_digest(&self, record: &serde_json::Map<String, serde_json::Value>) -> String {
        use sha2::Digest;
        let mut names: Vec<&str> = self.fields.iter().flat_map(FieldRule::reads).collect();
        names.sort_unstable();
        names.dedup();
        let mut hash = sha2::Sha256::new();
        for name in names {
            let value = record.get(name).unwrap_or(&serde_json::Value::Null);
            hash.update(name.as_bytes());
            hash.update([0]);
            hash.update(value.to_string().as_bytes());
            hash.update([0]);
        }
        hex::encode(&hash.finalize()[..8])
    }

    /// A one-paragraph summary, as `hrsync contract check` prints it.
    pub fn summary(&self) -> String {
        let owned = |owner| self.fields.iter().filter(|f| f.owner == owner).count();
        format!(
            "contract version {}: {} fields ({} owned by the HRIS, {} by the LMS), key {} → {}, \
             {} value tables, {} inclusion rules, {} triggers, time zone {}",
            self.version,
            self.fields.len(),
            owned(Owner::Hris),
            owned(Owner::Lms),
            self.key_field().hris,
            self.key_field().scim.as_deref().unwrap_or("-"),
            self.value_tables.len(),
            self.inclusion.len(),
            self.triggers.len(),
            self.time_zone_name,
        ) + &match &self.writeback {
            Some(wb) => format!(
                ", write-back of {} into training types by the value table {}",
                wb.verbs.join("/"),
                wb.courses
            ),
            None => ", no write-back".to_string(),
        }
    }
}

#[cfg(test)]
mod tests;
