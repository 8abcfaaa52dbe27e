//! Turns the contract file into a [`Contract`], or into every problem it has,
//! each with its line, so an operator can fix them all in one pass.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use toml::Spanned;

use super::raw::{RawContract, RawField, RawInclusion, RawLifecycle, RawTrigger, RawWriteback};
use super::writeback::Writeback;
use super::{
    AdoptBy, Contract, EmptyRule, FieldRule, FieldType, InclusionRule, LeaveAction, Lifecycle, OnExit, Owner,
    ScimPath, Trigger, TriggerWhen, ValueTable,
};

/// A hire trigger enrols people hired at most this many days ago unless the contract says.
const DEFAULT_ONBOARDING_DAYS: u32 = 30;

/// One thing wrong with a contract file, at a line (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractProblem {
    pub line: usize,
    /// The column (1-based, in characters) where it is known: inside an expression.
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for ContractProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(column) => write!(f, "line {}, column {column}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// Parses and checks a contract; every problem found is returned, in line order.
pub fn parse(text: &str) -> Result<Contract, Vec<ContractProblem>> {
    let lines = LineIndex::new(text);
    let raw: RawContract = toml::from_str(text).map_err(|error| {
        let line = error.span().map_or(1, |span| lines.line(span.start));
        vec![ContractProblem {
            line,
            column: None,
            message: error.message().trim().to_string(),
        }]
    })?;
    let mut checker = Checker {
        text,
        lines,
        problems: Vec::new(),
    };
    let contract = checker.contract(raw);
    let mut problems = checker.problems;
    match contract {
        Some(contract) if problems.is_empty() => Ok(contract),
        _ => {
            problems.sort_by_key(|p| (p.line, p.column));
            Err(problems)
        }
    }
}

struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { starts }
    }

    fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset).max(1)
    }
}

struct Checker<'t> {
    text: &'t str,
    lines: LineIndex,
    problems: Vec<ContractProblem>,
}

impl Checker<'_> {
    fn line_of<T>(&self, spanned: &Spanned<T>) -> usize {
        self.lines.line(spanned.span().start)
    }

    fn problem<T>(&mut self, at: &Spanned<T>, message: impl Into<String>) {
        let line = self.line_of(at);
        self.problems.push(ContractProblem {
            line,
            column: None,
            message: message.into(),
        });
    }

    /// A problem at a byte offset of the file: its line and column.
    fn problem_at(&mut self, offset: usize, message: impl Into<String>) {
        let line = self.lines.line(offset);
        let line_start = self.lines.starts[line - 1];
        let column = self
            .text
            .get(line_start..offset)
            .map_or(1, |t| t.chars().count() + 1);
        self.problems.push(ContractProblem {
            line,
            column: Some(column),
            message: message.into(),
        });
    }

    /// Compiles an expression (`what` says whose: `field "x": hris_expr`); a
    /// mistake is a problem at its line and column.
    fn expression(
        &mut self,
        what: &str,
        source: &Spanned<String>,
        declared: &super::expr::Declared<'_>,
    ) -> Option<super::expr::Expr> {
        if source.get_ref().trim().is_empty() {
            return None; // reported as an empty path
        }
        match super::expr::Expr::compile(source.get_ref(), declared) {
            Ok(expr) => Some(expr),
            Err(error) => {
                let span = source.span();
                let offset = self
                    .text
                    .get(span.clone())
                    .map_or(span.start, |token| span.start + file_offset(token, error.offset));
                self.problem_at(offset, format!("{what}: {}", error.message));
                None
            }
        }
    }

    fn contract(&mut self, raw: RawContract) -> Option<Contract> {
        if *raw.version.get_ref() != 1 {
            self.problem(
                &raw.version,
                format!("version {} is not supported (expected 1)", raw.version.get_ref()),
            );
        }
        let (time_zone, time_zone_name) = match &raw.time_zone {
            None => (jiff::tz::TimeZone::UTC, "UTC".to_string()),
            Some(name) => match jiff::tz::TimeZone::get(name.get_ref()) {
                Ok(zone) => (zone, name.get_ref().clone()),
                Err(_) => {
                    self.problem(
                        name,
                        format!("time_zone \"{}\" is not an IANA time zone", name.get_ref()),
                    );
                    (jiff::tz::TimeZone::UTC, name.get_ref().clone())
                }
            },
        };
        let value_tables: BTreeMap<String, ValueTable> = raw
            .values
            .iter()
            .map(|(name, table)| {
                let line = self.line_of(table);
                (
                    name.clone(),
                    ValueTable {
                        entries: table.get_ref().clone(),
                        line,
                    },
                )
            })
            .collect();
        // What an expression may read: the HRIS fields the plain fields copy,
        // by each field's place.
        let hris_fields: Vec<Option<&str>> = (raw.fields.iter())
            .map(|f| f.get_ref().hris.as_ref().map(|h| h.get_ref().as_str()))
            .collect();
        let entries: BTreeMap<String, BTreeMap<String, String>> = value_tables
            .iter()
            .map(|(name, table)| (name.clone(), table.entries.clone()))
            .collect();
        let declared = super::expr::Declared {
            hris_fields: &hris_fields,
            tables: &entries,
            trigger: false,
            statement: false,
            reports: false,
        };
        let fields = self.fields(&raw.fields, &value_tables, &declared);
        let names: HashSet<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        let inclusion = raw
            .inclusion
            .iter()
            .map(|rule| self.inclusion(rule, &names, &declared))
            .collect();
        let computed: HashSet<&str> = fields
            .iter()
            .filter(|f| f.expr.is_some() || f.empty_expr.is_some())
            .map(|f| f.name.as_str())
            .collect();
        if let Some(lifecycle) = &raw.lifecycle {
            let l = lifecycle.get_ref();
            for (at, role) in [
                (Some(&l.status_field), "status_field"),
                (Some(&l.hire_date_field), "hire_date_field"),
                (l.manager_field.as_ref(), "manager_field"),
            ] {
                if let Some(at) = at.filter(|f| computed.contains(f.get_ref().as_str())) {
                    self.problem(
                        at,
                        format!(
                            "lifecycle.{role}: field \"{}\" is computed (hris_expr or empty_expr); the lifecycle reads an HRIS field as it is",
                            at.get_ref()
                        ),
                    );
                }
            }
        }
        let lifecycle = match &raw.lifecycle {
            Some(lifecycle) => self.lifecycle(lifecycle, &names),
            None => {
                let at = &raw.version;
                self.problem(
                    at,
                    "the [lifecycle] section is missing (status_field, active, terminated, hire_date_field)",
                );
                None
            }
        };
        // `reports` counts whom the manager field names: only a contract with one has it.
        let for_triggers = super::expr::Declared {
            reports: (raw.lifecycle.as_ref()).is_some_and(|l| l.get_ref().manager_field.is_some()),
            ..declared
        };
        let triggers = raw
            .triggers
            .iter()
            .filter_map(|t| self.trigger(t, &names, &for_triggers, &fields))
            .collect();
        let writeback = raw
            .writeback
            .as_ref()
            .and_then(|wb| self.writeback(wb, &value_tables, &declared));
        Some(Contract {
            version: *raw.version.get_ref(),
            time_zone,
            time_zone_name,
            fields,
            value_tables,
            inclusion,
            lifecycle: lifecycle?,
            triggers,
            writeback,
        })
    }

    fn writeback(
        &mut self,
        spanned: &Spanned<RawWriteback>,
        tables: &BTreeMap<String, ValueTable>,
        declared: &super::expr::Declared<'_>,
    ) -> Option<Writeback> {
        let raw = spanned.get_ref();
        // A write-back expression reads the statement, not an HRIS record.
        let declared = super::expr::Declared {
            hris_fields: &[],
            statement: true,
            ..*declared
        };
        let mut computed = |what: &str, source: &Option<Spanned<String>>| {
            let source = source.as_ref()?;
            if source.get_ref().trim().is_empty() {
                self.problem(source, format!("writeback: {what} is empty"));
                return None;
            }
            self.expression(&format!("writeback: {what}"), source, &declared)
                .map(std::sync::Arc::new)
        };
        let hours_expr = computed("hours_expr", &raw.hours_expr);
        let credits_expr = computed("credits_expr", &raw.credits_expr);
        if let (Some(_), Some(at)) = (&raw.credits, &raw.credits_expr) {
            self.problem(
                at,
                "writeback: give `credits` (a value table) or `credits_expr` (an expression), not both",
            );
        }
        let verbs = match &raw.verbs {
            Some(verbs) if verbs.get_ref().is_empty() => {
                self.problem(
                    verbs,
                    "writeback: verbs lists none, so nothing would be written back",
                );
                Vec::new()
            }
            Some(verbs) => verbs.get_ref().clone(),
            None => vec!["completed".into(), "passed".into(), "failed".into()],
        };
        let mut table = |name: &Spanned<String>, what: &str, numeric: fn(&str) -> bool| match tables
            .get(name.get_ref())
        {
            None => self.problem(
                name,
                format!(
                    "writeback: {what} names the value table \"{}\", which does not exist",
                    name.get_ref()
                ),
            ),
            Some(found) => {
                if let Some((iri, value)) = found.entries.iter().find(|(_, v)| !numeric(v)) {
                    self.problem(
                        name,
                        format!(
                            "writeback: {what} table \"{}\" maps {iri} to {value:?}, not a number",
                            name.get_ref()
                        ),
                    );
                }
            }
        };
        table(&raw.courses, "courses", |v| v.trim().parse::<u32>().is_ok());
        if let Some(credits) = &raw.credits {
            table(credits, "credits", |v| {
                v.trim().parse::<f64>().is_ok_and(|c| c >= 0.0)
            });
        }
        let text = |value: &Option<Spanned<String>>, default: &str| {
            value
                .as_ref()
                .map_or(default.to_string(), |v| v.get_ref().trim().to_string())
        };
        let credential_table = text(&raw.credential_table, "customCertifications");
        if credential_table.is_empty() || credential_table.contains('/') {
            self.problem(
                spanned,
                "writeback: credential_table must be a table name without '/'",
            );
        } else if let Some(at) = &raw.credential_table
            && credential_table.strip_prefix("custom").is_none_or(str::is_empty)
        {
            // BambooHR adds rows only to custom tables, and names those with this prefix.
            self.problem(
                at,
                format!(
                    "writeback: credential_table \"{credential_table}\" is not a BambooHR custom table; \
                     custom tables are named with the \"custom\" prefix, e.g. \"customCertifications\""
                ),
            );
        }
        let report_columns = self.report_columns(raw.report_columns.as_ref());
        Some(Writeback {
            verbs,
            record_failed: raw.record_failed,
            account_home_page: raw
                .account_home_page
                .as_ref()
                .map(|h| h.get_ref().trim().to_string()),
            courses: raw.courses.get_ref().clone(),
            credits: raw.credits.as_ref().map(|c| c.get_ref().clone()),
            credits_expr,
            hours_expr,
            credential_extension: text(
                &raw.credential_extension,
                "https://hrsync.dev/xapi/extensions/credential",
            ),
            credential_table,
            report_columns,
            line: self.line_of(spanned),
        })
    }

    fn fields(
        &mut self,
        raw: &[Spanned<RawField>],
        tables: &BTreeMap<String, ValueTable>,
        declared: &super::expr::Declared<'_>,
    ) -> Vec<FieldRule> {
        let mut seen_names = HashSet::new();
        let mut seen_scim = HashSet::new();
        let mut fields = Vec::new();
        for spanned in raw {
            let f = spanned.get_ref();
            let name = f.name.get_ref().clone();
            if !seen_names.insert(name.clone()) {
                self.problem(&f.name, format!("field \"{name}\" is defined twice"));
            }
            if let Some(scim) = &f.scim
                && !seen_scim.insert(scim.get_ref().to_ascii_lowercase())
            {
                self.problem(
                    scim,
                    format!(
                        "field \"{name}\": SCIM path \"{}\" is used by another field",
                        scim.get_ref()
                    ),
                );
            }
            if let Some(scim) = f.scim.as_ref().filter(|p| !p.get_ref().trim().is_empty())
                && let Err(problem) = ScimPath::parse(scim.get_ref())
            {
                self.problem(scim, format!("field \"{name}\": SCIM path {problem}"));
            }
            let (hris, expr) = match (&f.hris, &f.hris_expr) {
                (Some(hris), None) => (hris.get_ref().clone(), None),
                (None, Some(source)) => {
                    if f.key {
                        self.problem(
                            source,
                            format!("field \"{name}\": the join key is an HRIS field, not an expression"),
                        );
                    }
                    let expr = self
                        .expression(&format!("field \"{name}\": hris_expr"), source, declared)
                        .map(std::sync::Arc::new);
                    (source.get_ref().clone(), expr)
                }
                (Some(hris), Some(_)) => {
                    self.problem(
                        hris,
                        format!("field \"{name}\": give `hris` or `hris_expr`, not both"),
                    );
                    (hris.get_ref().clone(), None)
                }
                (None, None) => {
                    self.problem(
                        &f.name,
                        format!(
                            "field \"{name}\": needs `hris` (the HRIS field) or `hris_expr` (an expression)"
                        ),
                    );
                    (String::new(), None)
                }
            };
            for (path, side) in [
                (f.hris.as_ref(), "hris"),
                (f.hris_expr.as_ref(), "hris_expr"),
                (f.empty_expr.as_ref(), "empty_expr"),
                (f.scim.as_ref(), "scim"),
            ] {
                if let Some(path) = path.filter(|p| p.get_ref().trim().is_empty()) {
                    self.problem(path, format!("field \"{name}\": the {side} path is empty"));
                }
            }
            let kind = match f.kind.get_ref().as_str() {
                "string" => FieldType::String,
                "email" => FieldType::Email,
                "date" => FieldType::Date,
                "enum" => FieldType::Enum,
                "number" => FieldType::Number,
                "bool" => FieldType::Bool,
                other => {
                    let message = format!(
                        "field \"{name}\": type \"{other}\" is not one of string, email, date, enum, number, bool"
                    );
                    self.problem(&f.kind, message);
                    FieldType::String
                }
            };
            if kind == FieldType::Enum && f.allowed.is_empty() {
                self.problem(
                    &f.kind,
                    format!("field \"{name}\": an enum needs `allowed` values"),
                );
            }
            let owner = match f.owner.get_ref().as_str() {
                "hris" => Owner::Hris,
                "lms" => Owner::Lms,
                other => {
                    self.problem(
                        &f.owner,
                        format!("field \"{name}\": owner \"{other}\" is not hris or lms"),
                    );
                    Owner::Hris
                }
            };
            let empty = match f.empty.as_ref().map(|e| (e, e.get_ref().as_str())) {
                None => {
                    if f.required {
                        EmptyRule::Reject
                    } else {
                        EmptyRule::Skip
                    }
                }
                Some((_, "skip")) => EmptyRule::Skip,
                Some((_, "empty")) => EmptyRule::Empty,
                Some((_, "null")) => EmptyRule::Null,
                Some((_, "reject")) => EmptyRule::Reject,
                Some((at, other)) => {
                    self.problem(
                        at,
                        format!(
                            "field \"{name}\": empty rule \"{other}\" is not skip, empty, null or reject"
                        ),
                    );
                    EmptyRule::Skip
                }
            };
            let empty_expr = f.empty_expr.as_ref().and_then(|source| {
                if f.key {
                    self.problem(
                        source,
                        format!("field \"{name}\": the join key is never empty, so it takes no empty_expr"),
                    );
                }
                self.expression(&format!("field \"{name}\": empty_expr"), source, declared)
                    .map(std::sync::Arc::new)
            });
            if f.required && empty != EmptyRule::Reject {
                let at = f.empty.as_ref().unwrap_or(&f.name);
                self.problem(at, format!("field \"{name}\" is required, so an empty value must be rejected (empty = \"reject\")"));
            }
            if let Some(table) = &f.values
                && !tables.contains_key(table.get_ref())
            {
                self.problem(
                    table,
                    format!(
                        "field \"{name}\": value table \"{}\" is not defined under [values]",
                        table.get_ref()
                    ),
                );
            }
            let max_length = match &f.max_length {
                None => super::DEFAULT_MAX_LENGTH,
                Some(at) if *at.get_ref() >= 1 => usize::try_from(*at.get_ref()).unwrap_or(usize::MAX),
                Some(at) => {
                    self.problem(at, format!("field \"{name}\": max_length must be at least 1"));
                    super::DEFAULT_MAX_LENGTH
                }
            };
            fields.push(FieldRule {
                max_length,
                name,
                hris,
                expr,
                scim: f.scim.as_ref().map(|s| s.get_ref().clone()),
                scim_path: f
                    .scim
                    .as_ref()
                    .and_then(|s| ScimPath::parse(s.get_ref()).ok())
                    .map(std::sync::Arc::new),
                kind,
                required: f.required,
                owner,
                empty,
                empty_expr,
                key: f.key,
                allowed: f.allowed.clone(),
                values: f.values.as_ref().map(|v| v.get_ref().clone()),
                line: self.line_of(spanned),
            });
        }
        let keys: Vec<&FieldRule> = fields.iter().filter(|f| f.key).collect();
        match keys.as_slice() {
            [] => self.problems.push(ContractProblem {
                line: 1,
                column: None,
                message: "no field is the join key (key = true on the employee id)".into(),
            }),
            [key] if !key.required || key.owner != Owner::Hris => self.problems.push(ContractProblem {
                line: key.line,
                column: None,
                message: format!(
                    "key field \"{}\" must be required and owned by the HRIS",
                    key.name
                ),
            }),
            [_] => {}
            [_, second, ..] => self.problems.push(ContractProblem {
                line: second.line,
                column: None,
                message: format!(
                    "field \"{}\" is a second join key; only one field may have key = true",
                    second.name
                ),
            }),
        }
        fields
    }

    fn known_field(&mut self, field: &Spanned<String>, names: &HashSet<&str>, context: &str) -> bool {
        let known = names.contains(field.get_ref().as_str());
        if !known {
            self.problem(
                field,
                format!(
                    "{context}: field \"{}\" is not defined by any [[field]]",
                    field.get_ref()
                ),
            );
        }
        known
    }

    fn lifecycle(&mut self, spanned: &Spanned<RawLifecycle>, names: &HashSet<&str>) -> Option<Lifecycle> {
        let l = spanned.get_ref();
        self.known_field(&l.status_field, names, "lifecycle.status_field");
        self.known_field(&l.hire_date_field, names, "lifecycle.hire_date_field");
        if let Some(manager) = &l.manager_field {
            self.known_field(manager, names, "lifecycle.manager_field");
        }
        if l.active.is_empty() || l.terminated.is_empty() {
            self.problem(
                spanned,
                "lifecycle: `active` and `terminated` must each list at least one status",
            );
        }
        let on_leave_action = match l.on_leave_action.as_ref().map(|a| (a, a.get_ref().as_str())) {
            None | Some((_, "stay_active")) => LeaveAction::StayActive,
            Some((_, "deactivate")) => LeaveAction::Deactivate,
            Some((at, other)) => {
                self.problem(
                    at,
                    format!("lifecycle.on_leave_action \"{other}\" is not stay_active or deactivate"),
                );
                LeaveAction::StayActive
            }
        };
        let adopt_by = match l.adopt_by.as_ref().map(|a| (a, a.get_ref().as_str())) {
            None | Some((_, "userName")) => AdoptBy::UserName,
            Some((_, "none")) => AdoptBy::None,
            Some((at, other)) => {
                self.problem(
                    at,
                    format!("lifecycle.adopt_by \"{other}\" is not userName or none"),
                );
                AdoptBy::UserName
            }
        };
        Some(Lifecycle {
            adopt_by,
            status_field: l.status_field.get_ref().clone(),
            active: l.active.clone(),
            on_leave: l.on_leave.clone(),
            terminated: l.terminated.clone(),
            on_leave_action,
            hire_date_field: l.hire_date_field.get_ref().clone(),
            manager_field: l.manager_field.as_ref().map(|m| m.get_ref().clone()),
        })
    }

    fn inclusion(
        &mut self,
        rule: &Spanned<RawInclusion>,
        names: &HashSet<&str>,
        declared: &super::expr::Declared<'_>,
    ) -> InclusionRule {
        let inner = rule.get_ref();
        match (&inner.field, &inner.any_of) {
            (Some(field), Some(any_of)) => {
                self.known_field(field, names, "inclusion");
                if any_of.is_empty() {
                    self.problem(
                        rule,
                        "inclusion rule: `in` lists no values, so nobody would be in scope",
                    );
                }
            }
            (None, None) if inner.when.is_some() => {}
            (Some(_), None) | (None, Some(_)) => self.problem(
                rule,
                "inclusion rule: `field` and `in` go together (field = \"x\", in = [...])",
            ),
            (None, None) => self.problem(
                rule,
                "inclusion rule: needs `field` and `in`, or `when` (an expression)",
            ),
        }
        let when = inner.when.as_ref().and_then(|source| {
            if source.get_ref().trim().is_empty() {
                self.problem(source, "inclusion rule: `when` is empty");
                return None;
            }
            self.expression("inclusion rule: when", source, declared)
                .map(std::sync::Arc::new)
        });
        InclusionRule {
            field: inner
                .field
                .as_ref()
                .map(|f| f.get_ref().clone())
                .unwrap_or_default(),
            any_of: inner.any_of.clone().unwrap_or_default(),
            when,
            line: self.line_of(rule),
        }
    }

    fn trigger(
        &mut self,
        spanned: &Spanned<RawTrigger>,
        names: &HashSet<&str>,
        declared: &super::expr::Declared<'_>,
        fields: &[FieldRule],
    ) -> Option<Trigger> {
        let t = spanned.get_ref();
        let name = t.name.get_ref().clone();
        if t.group.get_ref().trim().is_empty() {
            self.problem(&t.group, format!("trigger \"{name}\": group is empty"));
        }
        let on_exit = match t.on_exit.as_ref().map(|o| (o, o.get_ref().as_str())) {
            None | Some((_, "keep")) => OnExit::Keep,
            Some((_, "remove")) => OnExit::Remove,
            Some((at, other)) => {
                self.problem(
                    at,
                    format!("trigger \"{name}\": on_exit \"{other}\" is not keep or remove"),
                );
                OnExit::Keep
            }
        };
        let condition = match &t.condition {
            Some(source) if source.get_ref().trim().is_empty() => {
                self.problem(source, format!("trigger \"{name}\": `condition` is empty"));
                return None;
            }
            Some(source) => {
                // A trigger's condition may read the previous record and the
                // learner too, and how many name the employee their manager.
                let declared = super::expr::Declared {
                    trigger: true,
                    ..*declared
                };
                let condition =
                    self.expression(&format!("trigger \"{name}\": condition"), source, &declared)?;
                if condition.reads_beyond_record()
                    && on_exit == OnExit::Remove
                    && let Some(at) = &t.on_exit
                {
                    let why = if condition.reads_before() {
                        "a condition that reads before.<field> fires on a change, so there is nothing to leave"
                    } else {
                        "a condition that reads lms.<path> is decided by the sync alone, with the learner \
                         in hand, so nothing judges when it stops holding"
                    };
                    self.problem(at, format!("trigger \"{name}\": {why}: on_exit must be keep"));
                }
                Some(std::sync::Arc::new(condition))
            }
            None => None,
        };
        let Some(kind) = &t.when else {
            if condition.is_none() {
                self.problem(
                    &t.name,
                    format!(
                        "trigger \"{name}\": needs `when` (hire, field_matches, field_value) or a `condition`"
                    ),
                );
                return None;
            }
            // Only the condition decides: the key, which every mapped record has, matches.
            let key = fields.iter().find(|f| f.key)?;
            return Some(Trigger {
                name,
                when: TriggerWhen::FieldMatches {
                    field: key.name.clone(),
                    pattern: regex::Regex::new("").ok()?,
                },
                condition,
                group: t.group.get_ref().clone(),
                on_exit,
                line: self.line_of(spanned),
            });
        };
        let field = |checker: &mut Self| match &t.field {
            Some(field) => checker
                .known_field(field, names, &format!("trigger \"{name}\""))
                .then(|| field.get_ref().clone()),
            None => {
                checker.problem(
                    kind,
                    format!(
                        "trigger \"{name}\": `when = \"{}\"` needs a `field`",
                        kind.get_ref()
                    ),
                );
                None
            }
        };
        let when = match kind.get_ref().as_str() {
            "hire" => TriggerWhen::Hire {
                within_days: t
                    .within_days
                    .as_ref()
                    .map_or(DEFAULT_ONBOARDING_DAYS, |d| *d.get_ref()),
            },
            "field_matches" => {
                let field = field(self);
                let pattern = match &t.pattern {
                    Some(pattern) => match regex::Regex::new(pattern.get_ref()) {
                        Ok(regex) => Some(regex),
                        Err(error) => {
                            let first = error
                                .to_string()
                                .lines()
                                .last()
                                .unwrap_or_default()
                                .trim()
                                .to_string();
                            self.problem(
                                pattern,
                                format!("trigger \"{name}\": pattern is not a valid regex: {first}"),
                            );
                            None
                        }
                    },
                    None => {
                        self.problem(
                            kind,
                            format!("trigger \"{name}\": field_matches needs a `pattern`"),
                        );
                        None
                    }
                };
                TriggerWhen::FieldMatches {
                    field: field?,
                    pattern: pattern?,
                }
            }
            "field_value" => {
                if !t.group.get_ref().contains("{value}") {
                    self.problem(
                        &t.group,
                        format!("trigger \"{name}\": a field_value group must contain {{value}}"),
                    );
                }
                TriggerWhen::FieldValue { field: field(self)? }
            }
            other => {
                let message =
                    format!("trigger \"{name}\": when \"{other}\" is not hire, field_matches or field_value");
                self.problem(kind, message);
                return None;
            }
        };
        Some(Trigger {
            name,
            when,
            condition,
            group: t.group.get_ref().clone(),
            on_exit,
            line: self.line_of(spanned),
        })
    }
}

/// Where the decoded string's byte `decoded` was written in the TOML token
/// `token` (quotes included), as an offset into the token: a basic string's
/// escapes make the two differ, a literal string's do not.
fn file_offset(token: &str, decoded: usize) -> usize {
    let (quote, multi) = match token.as_bytes() {
        [b'"', b'"', b'"', ..] => ('"', 3),
        [b'\'', b'\'', b'\'', ..] => ('\'', 3),
        [b'\'', ..] => ('\'', 1),
        _ => ('"', 1),
    };
    let mut raw = multi;
    // A newline right after a multi-line string's opening quotes is not part of it.
    if multi == 3 {
        if token[raw..].starts_with("\r\n") {
            raw += 2;
        } else if token[raw..].starts_with('\n') {
            raw += 1;
        }
    }
    let mut produced = 0;
    while produced < decoded && raw < token.len() {
        let rest = &token[raw..];
        let Some(c) = rest.chars().next() else { break };
        if quote == '"' && c == '\\' {
            let next = rest[1..].chars().next().unwrap_or(' ');
            let (taken, made) = match next {
                'u' => (6, 1),
                'U' => (10, 1),
                'b' | 't' | 'n' | 'f' | 'r' | '"' | '\\' | 'e' => (2, 1),
                _ => {
                    // A line-ending backslash: it and the whitespace after it vanish.
                    let skipped = rest[1..].len() - rest[1..].trim_start().len();
                    (1 + skipped, 0)
                }
            };
            let made_len = match next {
                'u' => u32::from_str_radix(rest.get(2..6).unwrap_or("0"), 16)
                    .ok()
                    .and_then(char::from_u32)
                    .map_or(1, char::len_utf8),
                'U' => u32::from_str_radix(rest.get(2..10).unwrap_or("0"), 16)
                    .ok()
                    .and_then(char::from_u32)
                    .map_or(1, char::len_utf8),
                _ => made,
            };
            raw += taken.min(rest.len());
            produced += if made == 0 { 0 } else { made_len };
        } else {
            raw += c.len_utf8();
            produced += c.len_utf8();
        }
    }
    raw
}

#[cfg(test)]
#[path = "check_fuzz.rs"]
mod fuzz;

#[path = "check_report.rs"]
mod report;
