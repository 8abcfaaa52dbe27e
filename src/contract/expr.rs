//! Contract expressions: a field computed from the HRIS record instead of copied
//! from one field (`hris_expr = "..."`), or computed when its source is empty
//! (`empty_expr = "..."`, before the `empty` rule), a scope rule's `when`, a
//! trigger's `condition` and a training record's hours and credits computed
//! from a statement. The language is CEL (the Common
//! Expression Language, as Kubernetes and Envoy use it) through the `cel`
//! crate, without its macros: no loop of any kind, so an evaluation costs at
//! most a pass over the expression and the text it reads.
//!
//! An expression is compiled once, with the contract, and checked against what
//! the contract declares: `hris.<field>` must be an HRIS field some `[[field]]`
//! reads, `lookup` must name a value table, and only the functions below may be
//! called. Evaluating it per record re-parses nothing.
//!
//! Variables: `hris.<field>` (the record's text, `null` when empty), `today`
//! (the date in the contract's time zone, `YYYY-MM-DD`) and, in a trigger's
//! condition only, `before.<field>` (the previous record's text),
//! `lms.<path>` (the learner as the LMS holds it, by its SCIM attributes:
//! `lms.active`, `lms.name.givenName`; all null when there is no learner yet)
//! and `reports` (how many employees name this one in the lifecycle's manager
//! field, counted by `contract::reports`). A write-back expression
//! (`[writeback]`'s `hours_expr`, `credits_expr`) reads `statement.<path>` (the
//! xAPI statement, null where it has no such attribute) and `today`, and no
//! HRIS record. Dates are that text: they compare in order, and jiff does the
//! arithmetic.
//!
//! Functions: `lower`, `upper`, `trim`, `translit` (Unicode to ASCII, for user
//! names), `replace(s, from, to)`, `lookup(table, key)` (the key itself when the
//! table has no entry, as a field's `values` does), `date(s)` (checks and
//! normalises a date), `days_between(a, b)`, `years_between(a, b)` (whole years),
//! `add_days(d, n)`; from CEL itself `size`, `contains`, `startsWith`,
//! `endsWith`, `string`, `int`, the operators (`+` joins text, `key in map`
//! tells an attribute is there) and `? :`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use cel::common::types::{CelInt, CelNull as Null, CelString};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use cel::{Context, ExecutionError, FunctionContext, Value};
use jiff::civil::Date;

/// The functions an expression may call, besides CEL's operators.
const OURS: &[&str] = &[
    "lower",
    "upper",
    "trim",
    "translit",
    "replace",
    "lookup",
    "date",
    "days_between",
    "years_between",
    "add_days",
];
const FROM_CEL: &[&str] = &["size", "contains", "startsWith", "endsWith", "string", "int"];

/// The standard functions without macros (`all`, `exists`, `map`, `filter`,
/// `has` stay calls, which the check refuses): built once for every contract.
static ENV: LazyLock<Arc<cel::Env>> = LazyLock::new(|| Arc::new(cel::Env::default().with_stdlib()));

/// What an expression may refer to: the contract's declarations.
#[derive(Clone, Copy)]
pub struct Declared<'a> {
    /// Each contract field's HRIS source, by its place in the contract's
    /// `fields`: the HRIS field a plain field copies, `None` for a computed
    /// one. An expression reads only these, each by that place
    /// (`FieldSource::field`, [`ReadField`]).
    pub hris_fields: &'a [Option<&'a str>],
    /// The contract's value tables: name → (HRIS value → LMS value).
    pub tables: &'a BTreeMap<String, BTreeMap<String, String>>,
    /// Whether `before.<field>` (the previous HRIS record) and `lms.<path>`
    /// (the learner) may be read: only a trigger's condition reads them.
    pub trigger: bool,
    /// A write-back expression: it reads `statement.<path>` (the xAPI
    /// statement) and `today`, and no HRIS record.
    pub statement: bool,
    /// Whether `reports` may be read: a trigger's condition, in a contract
    /// that names a manager field.
    pub reports: bool,
}

/// A compiled expression, ready to evaluate per record.
pub struct Expr {
    source: String,
    program: cel::Program,
    /// The HRIS fields it reads, each once, in order of first use, with the
    /// place of a contract field that copies it.
    reads: Vec<(String, usize)>,
    /// The fields of the previous record it reads (`before.<field>`), the same way.
    reads_before: Vec<(String, usize)>,
    /// The learner's attributes it reads (`lms.<path>`), each a path of names.
    reads_lms: Vec<Vec<String>>,
    /// The statement's attributes it reads (`statement.<path>`).
    reads_statement: Vec<Vec<String>>,
    /// Whether it reads `today` (only then is the day worked out).
    uses_today: bool,
    /// Whether it reads `reports`.
    uses_reports: bool,
    /// CEL's environment with the functions it calls, made once: each
    /// evaluation binds its variables in a scope of its own inside it.
    functions: Context<'static, 'static>,
    /// Its results by the values it read, when it reads only the record's
    /// fields and `today` (`expr_memo.rs`).
    memo: Option<memo::Memo>,
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expr")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Why an expression does not compile: where in its text (a byte offset), and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    pub offset: usize,
    pub message: String,
}

/// Why an evaluation failed, with the values the expression read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError {
    pub message: String,
    /// Each value read by its name in the expression (`hris.hireDate`,
    /// `statement.result.duration`), and its text (`None`: empty).
    pub values: Vec<(String, Option<String>)>,
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        for (at, (field, value)) in self.values.iter().enumerate() {
            let sep = if at == 0 { " (" } else { ", " };
            match value {
                Some(value) => write!(f, "{sep}{field} = {value:?}")?,
                None => write!(f, "{sep}{field} is empty")?,
            }
        }
        if !self.values.is_empty() {
            write!(f, ")")?;
        }
        Ok(())
    }
}

/// Reads one field of a record: its text, `None` when absent or empty. Asked
/// with the place of a contract field that copies it (its `rule`, as
/// `FieldSource::field` takes it) and the HRIS field's name.
pub type ReadField<'r> = &'r (dyn Fn(usize, &str) -> Option<Cow<'r, str>> + Sync);

/// What one evaluation reads: the record's fields and the day.
pub struct Vars<'r> {
    /// The HRIS field's text, `None` when absent or empty.
    pub hris: ReadField<'r>,
    pub today: Date,
    /// The previous record's field, for a change trigger; `None`: no previous
    /// record is known (then every `before.<field>` is null).
    pub before: Option<ReadField<'r>>,
    /// The learner as the LMS holds it (its SCIM resource), for a trigger;
    /// `None`: there is none yet (then every `lms.<path>` is null).
    pub lms: Option<&'r serde_json::Value>,
    /// The xAPI statement, for a write-back expression.
    pub statement: Option<&'r serde_json::Value>,
    /// How many employees name this one as their manager; `None` where that is
    /// not known (an expression reading `reports` then fails, saying so).
    pub reports: Option<u32>,
}

impl Expr {
    /// Parses and checks `source` against the contract's declarations.
    pub fn compile(source: &str, declared: &Declared<'_>) -> Result<Expr, ExprError> {
        let program = ENV.compile(source).map_err(|errors| {
            let first = errors.errors.first();
            let (line, column) = first.map_or((1, 1), |e| (e.pos.0.max(1), e.pos.1.max(0)));
            ExprError {
                offset: char_offset(source, line as usize, column as usize),
                message: first.map_or_else(|| "does not parse".to_string(), |e| e.msg.clone()),
            }
        })?;
        let mut walk = walk::Walk {
            source,
            program: &program,
            declared,
            reads: Vec::new(),
            reads_before: Vec::new(),
            reads_lms: Vec::new(),
            reads_statement: Vec::new(),
            calls: Vec::new(),
        };
        walk.node(program.expression())?;
        let (reads, reads_before, reads_lms, reads_statement, calls) = (
            walk.reads,
            walk.reads_before,
            walk.reads_lms,
            walk.reads_statement,
            walk.calls,
        );
        let tables = if calls.contains(&"lookup") {
            Arc::new(declared.tables.clone())
        } else {
            Arc::default()
        };
        let uses_today = program.references().has_variable("today");
        let uses_reports = program.references().has_variable("reports");
        let mut functions = Context::with_env(Arc::clone(&ENV));
        for &name in &calls {
            add_function(&mut functions, name, &tables);
        }
        let record_alone =
            reads_before.is_empty() && reads_lms.is_empty() && reads_statement.is_empty() && !uses_reports;
        Ok(Expr {
            memo: record_alone.then(memo::Memo::default),
            source: source.to_string(),
            uses_today,
            uses_reports,
            program,
            reads,
            reads_before,
            reads_lms,
            reads_statement,
            functions,
        })
    }

    /// Whether it reads the previous record (`before.<field>`): a change trigger.
    pub fn reads_before(&self) -> bool {
        !self.reads_before.is_empty()
    }

    /// Whether it reads the learner (`lms.<path>`).
    pub fn reads_lms(&self) -> bool {
        !self.reads_lms.is_empty()
    }

    /// Whether the record alone does not decide it: it reads the previous
    /// record or the learner, which only the sync's apply knows.
    pub fn reads_beyond_record(&self) -> bool {
        self.reads_before() || self.reads_lms()
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether it reads `today`.
    pub fn uses_today(&self) -> bool {
        self.uses_today
    }

    /// What `today` is for it now in `zone`: worked out only when it reads it.
    pub fn today_in(&self, zone: &jiff::tz::TimeZone) -> Date {
        if self.uses_today {
            today(zone, jiff::Timestamp::now())
        } else {
            Date::default()
        }
    }

    /// Whether it reads `reports`: a fact about other records ([`Vars::reports`]).
    pub fn uses_reports(&self) -> bool {
        self.uses_reports
    }

    /// The HRIS fields it reads.
    pub fn reads(&self) -> impl Iterator<Item = &str> {
        self.reads.iter().map(|(field, _)| field.as_str())
    }

    /// Evaluates it for one record, or finds what it gave for the same values
    /// before (`expr_memo.rs`).
    pub fn eval(&self, vars: &Vars<'_>) -> Result<Value, EvalError> {
        self.eval_with(vars, |found| match found {
            Found::Text(text) => Value::from(text.to_string()),
            Found::Value(value) => value.clone(),
        })
    }

    /// [`Expr::eval`], handing the value to `then` where it is kept, without a
    /// copy: a field's text is copied once, into the learner's value.
    pub fn eval_with<R>(&self, vars: &Vars<'_>, then: impl FnOnce(Found<'_>) -> R) -> Result<R, EvalError> {
        let Some(memo) = &self.memo else {
            return self.evaluate(vars).map(|value| then(Found::from(&value)));
        };
        let inputs = memo::Inputs {
            values: (self.reads.iter())
                .map(|(field, rule)| (vars.hris)(*rule, field))
                .collect(),
            today: self.uses_today.then_some(vars.today),
        };
        memo.get_or(&inputs, || self.evaluate(vars), then)
    }

    /// Evaluates it. Nothing is copied in: CEL asks for `hris.<field>`,
    /// `before.<field>` and `today` as it meets them, and a field's text is
    /// lent to it as the record holds it.
    fn evaluate(&self, vars: &Vars<'_>) -> Result<Value, EvalError> {
        let today = self.uses_today.then(|| vars.today.to_string());
        let scope = Scope {
            vars,
            expr: self,
            today: today.as_deref(),
        };
        if self.uses_reports && vars.reports.is_none() {
            return Err(EvalError {
                message: "reports (how many employees name this one as their manager) is not known here"
                    .into(),
                values: Vec::new(),
            });
        }
        let mut context = self.functions.new_inner_scope();
        context.set_variable_resolver(&scope);
        self.program.execute(&context).map_err(|error| {
            let read = |field: &str, rule: usize| (vars.hris)(rule, field).map(Cow::into_owned);
            let hris = (self.reads.iter()).map(|(field, rule)| (format!("hris.{field}"), read(field, *rule)));
            let json = |root: &str, paths: &[Vec<String>], value: Option<&serde_json::Value>| {
                (paths.iter())
                    .map(|path| {
                        let at = json_at(value, path.iter().map(String::as_str));
                        let text = at.filter(|v| !v.is_null()).map(|v| match v {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        });
                        (format!("{root}.{}", path.join(".")), text)
                    })
                    .collect::<Vec<_>>()
            };
            EvalError {
                message: describe(&error),
                values: hris
                    .chain(json("lms", &self.reads_lms, vars.lms))
                    .chain(json("statement", &self.reads_statement, vars.statement))
                    .collect(),
            }
        })
    }
}

/// One evaluation's variables, looked up by the name CEL meets: `hris.<field>`
/// whole (CEL tries the qualified name before selecting a field of `hris`),
/// `before.<field>`, `lms.<path>`, `statement.<path>`, `reports` and `today`. The check
/// let through only names that exist; an attribute the learner or the
/// statement lacks is null.
struct Scope<'s, 'r> {
    vars: &'s Vars<'r>,
    /// The expression evaluated: where each field it reads is copied.
    expr: &'s Expr,
    today: Option<&'s str>,
}

impl VariableResolver for Scope<'_, '_> {
    fn resolve<'b>(&'b self, name: &str) -> Option<CowVal<'b, 'b>> {
        let text = |value: Option<Cow<'b, str>>| match value {
            Some(Cow::Borrowed(text)) => CowVal::owned(CelString::from(text)),
            Some(Cow::Owned(text)) => CowVal::owned(CelString::from(text)),
            None => CowVal::owned(Null),
        };
        // The check let through only fields the contract copies.
        let rule = |reads: &[(String, usize)], field: &str| {
            reads
                .iter()
                .find(|(read, _)| read == field)
                .map(|&(_, rule)| rule)
        };
        if let Some(field) = name.strip_prefix("hris.") {
            let at = rule(&self.expr.reads, field)?;
            return Some(text((self.vars.hris)(at, field)));
        }
        if let Some(field) = name.strip_prefix("before.") {
            let at = rule(&self.expr.reads_before, field)?;
            return Some(text(self.vars.before.and_then(|before| before(at, field))));
        }
        let json = |value: Option<&serde_json::Value>, path: &str| {
            let found = json_at(value, path.split('.')).cloned();
            let value = found.map_or(Value::Null, json_value);
            Box::<dyn Val>::try_from(value).ok().map(CowVal::Owned)
        };
        if let Some(path) = name.strip_prefix("lms.") {
            return json(self.vars.lms, path);
        }
        if let Some(path) = name.strip_prefix("statement.") {
            return json(self.vars.statement, path);
        }
        match name {
            "today" => Some(text(self.today.map(Cow::Borrowed))),
            "reports" => (self.vars.reports).map(|count| CowVal::owned(CelInt::from(i64::from(count)))),
            _ => None,
        }
    }
}

/// A function as CEL calls it, with its arguments as CEL holds them: ours
/// read text in place, without a copy per argument.
type Function = Box<
    dyn for<'c, 'k> Fn(&mut FunctionContext<'c, 'k>) -> Result<CowVal<'c, 'k>, ExecutionError> + Send + Sync,
>;

/// Argument `at` of a call, as text.
fn text_arg<'a>(call: &'a FunctionContext<'_, '_>, at: usize) -> Result<&'a str, ExecutionError> {
    let value = arg(call, at)?;
    match value.downcast_ref::<CelString>() {
        Some(text) => Ok(text.inner()),
        None if value.downcast_ref::<Null>().is_some() => Err(call.error("met an empty value")),
        None => Err(call.error(format!("wants text, not {}", value.get_type().name()))),
    }
}

/// Argument `at` of a call, as a whole number.
fn int_arg(call: &FunctionContext<'_, '_>, at: usize) -> Result<i64, ExecutionError> {
    let value = arg(call, at)?;
    value
        .downcast_ref::<CelInt>()
        .map(|n| *n.inner())
        .ok_or_else(|| call.error(format!("wants a whole number, not {}", value.get_type().name())))
}

fn arg<'a, 'c, 'k>(
    call: &'a FunctionContext<'c, 'k>,
    at: usize,
) -> Result<&'a CowVal<'c, 'k>, ExecutionError> {
    call.args
        .get(at)
        .ok_or_else(|| call.error(format!("takes {} arguments, not {}", at + 1, call.args.len())))
}

fn text<'c, 'k>(text: String) -> Result<CowVal<'c, 'k>, ExecutionError> {
    Ok(CowVal::owned(CelString::from(text)))
}

/// A JSON value as CEL's.
fn json_value(json: serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::UInt(u),
            _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::from(s),
        serde_json::Value::Array(items) => Value::List(Arc::new(items.into_iter().map(json_value).collect())),
        serde_json::Value::Object(map) => {
            let map: std::collections::HashMap<String, Value> =
                map.into_iter().map(|(k, v)| (k, json_value(v))).collect();
            Value::from(map)
        }
    }
}

/// The value at `path` in a JSON document (`None`: no document, or no such attribute).
fn json_at<'j, 'p>(
    value: Option<&'j serde_json::Value>,
    mut path: impl Iterator<Item = &'p str>,
) -> Option<&'j serde_json::Value> {
    value.and_then(|value| path.try_fold(value, |at, name| at.get(name)))
}

/// Adds one of our functions to a root context (only the ones an expression calls).
fn add_function(
    context: &mut Context<'_, '_>,
    name: &'static str,
    tables: &Arc<BTreeMap<String, BTreeMap<String, String>>>,
) {
    let function: Function = match name {
        "lower" => Box::new(|call| text(text_arg(call, 0)?.to_lowercase())),
        "upper" => Box::new(|call| text(text_arg(call, 0)?.to_uppercase())),
        "trim" => Box::new(|call| text(text_arg(call, 0)?.trim().to_string())),
        "translit" => Box::new(|call| text(translit(text_arg(call, 0)?))),
        "replace" => Box::new(|call| {
            let (s, from, to) = (text_arg(call, 0)?, text_arg(call, 1)?, text_arg(call, 2)?);
            text(if from.is_empty() {
                s.to_string()
            } else {
                s.replace(from, to)
            })
        }),
        "lookup" => {
            let tables = Arc::clone(tables);
            Box::new(move |call| {
                let (table, key) = (text_arg(call, 0)?, text_arg(call, 1)?);
                let found = tables.get(table).and_then(|t| t.get(key));
                text(found.map_or_else(|| key.to_string(), Clone::clone))
            })
        }
        "date" => Box::new(|call| text(parse_date("date", text_arg(call, 0)?)?.to_string())),
        "days_between" | "years_between" => {
            let unit = if name == "days_between" {
                jiff::Unit::Day
            } else {
                jiff::Unit::Year
            };
            Box::new(move |call| {
                let a = parse_date(name, text_arg(call, 0)?)?;
                let b = parse_date(name, text_arg(call, 1)?)?;
                let span = a
                    .until((unit, b))
                    .map_err(|e| ExecutionError::function_error(name, e))?;
                let whole = if unit == jiff::Unit::Day {
                    span.get_days()
                } else {
                    i32::from(span.get_years())
                };
                Ok(CowVal::owned(CelInt::from(i64::from(whole))))
            })
        }
        "add_days" => Box::new(move |call| {
            let date = parse_date(name, text_arg(call, 0)?)?;
            let later = jiff::Span::new()
                .try_days(int_arg(call, 1)?)
                .and_then(|span| date.checked_add(span))
                .map_err(|e| ExecutionError::function_error(name, e))?;
            text(later.to_string())
        }),
        _ => return,
    };
    let added = context.add_function(name, function);
    // Our names are none of CEL's own, so adding cannot clash.
    debug_assert!(added.is_ok(), "{name}: {added:?}");
}

/// The date it is at `now` in the contract's time zone: what `today` reads.
pub fn today(zone: &jiff::tz::TimeZone, now: jiff::Timestamp) -> Date {
    now.to_zoned(zone.clone()).date()
}

/// Unicode to ASCII (`Jürgen` → `Jurgen`, `Ελένη` → `Eleni`, `田中` → `TianZhong`),
/// with runs of whitespace made one space and none at either end.
pub fn translit(text: &str) -> String {
    any_ascii::any_ascii(text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_date(function: &str, text: &str) -> Result<Date, ExecutionError> {
    text.trim()
        .parse::<Date>()
        .map_err(|_| ExecutionError::function_error(function, format!("{text:?} is not a date (YYYY-MM-DD)")))
}

/// An evaluation error as an operator reads it.
fn describe(error: &ExecutionError) -> String {
    match error {
        ExecutionError::FunctionError { function, message } => format!("{function}: {message}"),
        ExecutionError::UnsupportedBinaryOperator(op, a, b) if a == &Value::Null || b == &Value::Null => {
            format!("'{op}' met an empty value")
        }
        other => other.to_string(),
    }
}

/// The byte offset of a 1-based line and 1-based column (in characters) of `source`.
fn char_offset(source: &str, line: usize, column: usize) -> usize {
    let start: usize = source
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &source[start.min(source.len())..];
    start
        + rest
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(rest.len(), |(at, _)| at)
}

/// An expression's value as a field's text: `None` when null or empty.
pub fn value_text(value: &Value) -> Result<Option<Cow<'_, str>>, String> {
    found_text(Found::from(value))
}

/// [`value_text`] of a value where the memo keeps it.
pub fn found_text(found: Found<'_>) -> Result<Option<Cow<'_, str>>, String> {
    let value = match found {
        Found::Text(text) if text.trim().is_empty() => return Ok(None),
        Found::Text(text) => return Ok(Some(Cow::Borrowed(text))),
        Found::Value(value) => value,
    };
    Ok(match value {
        Value::Null => None,
        Value::String(s) => return found_text(Found::Text(s.as_str())),
        Value::Int(n) => Some(Cow::Owned(n.to_string())),
        Value::UInt(n) => Some(Cow::Owned(n.to_string())),
        Value::Float(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        other => return Err(format!("yields a {}, not a field's value", other.type_of())),
    })
}

#[path = "expr_memo.rs"]
mod memo;

pub use memo::Found;

#[path = "expr_walk.rs"]
mod walk;

#[cfg(test)]
#[path = "expr_tests.rs"]
mod tests;
