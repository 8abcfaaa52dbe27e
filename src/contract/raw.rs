//! The contract file as written: TOML with every position kept, so each
//! problem can name its line.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContract {
    pub version: Spanned<u32>,
    pub time_zone: Option<Spanned<String>>,
    #[serde(rename = "field", default)]
    pub fields: Vec<Spanned<RawField>>,
    #[serde(default)]
    pub values: BTreeMap<String, Spanned<BTreeMap<String, String>>>,
    #[serde(default)]
    pub inclusion: Vec<Spanned<RawInclusion>>,
    pub lifecycle: Option<Spanned<RawLifecycle>>,
    #[serde(rename = "trigger", default)]
    pub triggers: Vec<Spanned<RawTrigger>>,
    pub writeback: Option<Spanned<RawWriteback>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWriteback {
    #[serde(default)]
    pub verbs: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub record_failed: bool,
    pub account_home_page: Option<Spanned<String>>,
    pub courses: Spanned<String>,
    pub credits: Option<Spanned<String>>,
    /// A CEL expression computing the record's credits from the statement
    /// (`statement.<path>`), instead of the `credits` table.
    pub credits_expr: Option<Spanned<String>>,
    /// A CEL expression computing the record's hours from the statement,
    /// instead of `result.duration`.
    pub hours_expr: Option<Spanned<String>>,
    pub credential_extension: Option<Spanned<String>>,
    pub credential_table: Option<Spanned<String>>,
    /// A completion report's header → one of `model::files::REPORT_FIELDS`.
    pub report_columns: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawField {
    pub name: Spanned<String>,
    /// The HRIS field copied; a field has this or `hris_expr`.
    pub hris: Option<Spanned<String>>,
    /// A CEL expression computing the value (`contract::expr`).
    pub hris_expr: Option<Spanned<String>>,
    pub scim: Option<Spanned<String>>,
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    #[serde(default)]
    pub required: bool,
    pub owner: Spanned<String>,
    pub empty: Option<Spanned<String>>,
    /// A CEL expression computing the value when the source is empty; the
    /// `empty` rule applies when it is empty too.
    pub empty_expr: Option<Spanned<String>>,
    #[serde(default)]
    pub key: bool,
    #[serde(default)]
    pub allowed: Vec<String>,
    pub values: Option<Spanned<String>>,
    pub max_length: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInclusion {
    pub field: Option<Spanned<String>>,
    #[serde(rename = "in")]
    pub any_of: Option<Vec<String>>,
    /// A CEL expression that must hold (`contract::expr`), instead of or beside `field in [...]`.
    pub when: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLifecycle {
    pub status_field: Spanned<String>,
    pub active: Vec<String>,
    #[serde(default)]
    pub on_leave: Vec<String>,
    pub terminated: Vec<String>,
    pub on_leave_action: Option<Spanned<String>>,
    pub hire_date_field: Spanned<String>,
    pub manager_field: Option<Spanned<String>>,
    pub adopt_by: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrigger {
    pub name: Spanned<String>,
    /// hire, field_matches or field_value; absent for a trigger only `condition` decides.
    pub when: Option<Spanned<String>>,
    /// A CEL expression that must also hold (`contract::expr`).
    pub condition: Option<Spanned<String>>,
    pub field: Option<Spanned<String>>,
    pub pattern: Option<Spanned<String>>,
    pub within_days: Option<Spanned<u32>>,
    pub group: Spanned<String>,
    /// keep (the default) or remove: what happens when the trigger stops holding.
    pub on_exit: Option<Spanned<String>>,
}
