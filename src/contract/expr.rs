//! Contract expressions: a field computed from the HRIS record instead of copied
//! from one field (`hris_expr = "..."`). The language is CEL (the Common
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
//! condition only, `before.<field>` (the previous record's text) and `reports`
//! (how many employees name this one in the lifecycle's manager field, counted
//! by `contract::reports`). Dates are that text: they compare in order, and
//! jiff does the arithmetic.
//!
//! Functions: `lower`, `upper`, `trim`, `translit` (Unicode to ASCII, for user
//! names), `replace(s, from, to)`, `lookup(table, key)` (the key itself when the
//! table has no entry, as a field's `values` does), `date(s)` (checks and
//! normalises a date), `days_between(a, b)`, `years_between(a, b)` (whole years),
//! `add_days(d, n)`; from CEL itself `size`, `contains`, `startsWith`,
//! `endsWith`, `string`, `int`, the operators (`+` joins text) and `? :`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, LazyLock};

use cel::common::ast::{EntryExpr, Expr as Node, IdedExpr, LiteralValue};
use cel::{Context, ExecutionError, Value};
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
    /// The HRIS field names the contract's plain fields read.
    pub hris_fields: &'a [&'a str],
    /// The contract's value tables: name → (HRIS value → LMS value).
    pub tables: &'a BTreeMap<String, BTreeMap<String, String>>,
    /// Whether `before.<field>` (the previous HRIS record) may be read: only a
    /// trigger's condition reads it.
    pub before: bool,
    /// Whether `reports` may be read: a trigger's condition, in a contract
    /// that names a manager field.
    pub reports: bool,
}

/// A compiled expression, ready to evaluate per record.
pub struct Expr {
    source: String,
    program: cel::Program,
    /// The HRIS fields it reads, each once, in order of first use.
    reads: Vec<String>,
    /// The fields of the previous record it reads (`before.<field>`).
    reads_before: Vec<String>,
    /// Whether it reads `today` (only then is the day worked out).
    uses_today: bool,
    /// Whether it reads `reports`.
    uses_reports: bool,
    /// CEL's environment with the functions it calls, made once: each
    /// evaluation binds its variables in a scope of its own inside it.
    functions: Context<'static, 'static>,
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

/// Why an evaluation failed, with the HRIS values the expression read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError {
    pub message: String,
    /// Each field read, and its value (`None`: empty).
    pub values: Vec<(String, Option<String>)>,
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        for (at, (field, value)) in self.values.iter().enumerate() {
            let sep = if at == 0 { " (" } else { ", " };
            match value {
                Some(value) => write!(f, "{sep}hris.{field} = {value:?}")?,
                None => write!(f, "{sep}hris.{field} is empty")?,
            }
        }
        if !self.values.is_empty() {
            write!(f, ")")?;
        }
        Ok(())
    }
}

/// Reads one field of a record: its text, `None` when absent or empty.
pub type ReadField<'r> = &'r dyn Fn(&str) -> Option<Cow<'r, str>>;

/// What one evaluation reads: the record's fields and the day.
pub struct Vars<'r> {
    /// The HRIS field's text, `None` when absent or empty.
    pub hris: ReadField<'r>,
    pub today: Date,
    /// The previous record's field, for a change trigger; `None`: no previous
    /// record is known (then every `before.<field>` is null).
    pub before: Option<ReadField<'r>>,
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
        let mut walk = Walk {
            source,
            program: &program,
            declared,
            reads: Vec::new(),
            reads_before: Vec::new(),
            calls: Vec::new(),
        };
        walk.node(program.expression())?;
        let (reads, reads_before, calls) = (walk.reads, walk.reads_before, walk.calls);
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
        Ok(Expr {
            source: source.to_string(),
            uses_today,
            uses_reports,
            program,
            reads,
            reads_before,
            functions,
        })
    }

    /// Whether it reads the previous record (`before.<field>`): a change trigger.
    pub fn reads_before(&self) -> bool {
        !self.reads_before.is_empty()
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether it reads `today`.
    pub fn uses_today(&self) -> bool {
        self.uses_today
    }

    /// Whether it reads `reports`: a fact about other records ([`Vars::reports`]).
    pub fn uses_reports(&self) -> bool {
        self.uses_reports
    }

    /// The HRIS fields it reads.
    pub fn reads(&self) -> impl Iterator<Item = &str> {
        self.reads.iter().map(String::as_str)
    }

    /// Evaluates it for one record.
    pub fn eval(&self, vars: &Vars<'_>) -> Result<Value, EvalError> {
        // What it read, each value copied once: into CEL, and only on a failure
        // into the error that names them.
        let read = |field: &String| (vars.hris)(field).map(Cow::into_owned);
        let mut context = self.functions.new_inner_scope();
        let record: HashMap<String, Value> = self
            .reads
            .iter()
            .map(|field| (field.clone(), read(field).map_or(Value::Null, Value::from)))
            .collect();
        context.add_variable_from_value("hris", record);
        if !self.reads_before.is_empty() {
            let before: HashMap<String, Value> = self
                .reads_before
                .iter()
                .map(|field| {
                    let value = vars.before.and_then(|before| before(field)).map(Cow::into_owned);
                    (field.clone(), value.map_or(Value::Null, Value::from))
                })
                .collect();
            context.add_variable_from_value("before", before);
        }
        context.add_variable_from_value("today", vars.today.to_string());
        if self.uses_reports {
            let Some(reports) = vars.reports else {
                return Err(EvalError {
                    message: "reports (how many employees name this one as their manager) is not known here"
                        .into(),
                    values: Vec::new(),
                });
            };
            context.add_variable_from_value("reports", i64::from(reports));
        }
        self.program.execute(&context).map_err(|error| EvalError {
            message: describe(&error),
            values: self
                .reads
                .iter()
                .map(|field| (field.clone(), read(field)))
                .collect(),
        })
    }
}

/// Adds one of our functions to a root context (only the ones an expression calls).
fn add_function(
    context: &mut Context<'_, '_>,
    name: &'static str,
    tables: &Arc<BTreeMap<String, BTreeMap<String, String>>>,
) {
    let added = match name {
        "lower" => context.add_function(name, |s: Arc<String>| s.to_lowercase()),
        "upper" => context.add_function(name, |s: Arc<String>| s.to_uppercase()),
        "trim" => context.add_function(name, |s: Arc<String>| s.trim().to_string()),
        "translit" => context.add_function(name, |s: Arc<String>| translit(&s)),
        "replace" => context.add_function(name, |s: Arc<String>, from: Arc<String>, to: Arc<String>| {
            if from.is_empty() {
                s.to_string()
            } else {
                s.replace(from.as_str(), &to)
            }
        }),
        "lookup" => {
            let tables = Arc::clone(tables);
            context.add_function(name, move |table: Arc<String>, key: Arc<String>| {
                let found = tables.get(table.as_str()).and_then(|t| t.get(key.as_str()));
                found.map_or_else(|| key.to_string(), Clone::clone)
            })
        }
        "date" => context.add_function(name, |s: Arc<String>| -> Result<Value, ExecutionError> {
            Ok(Value::from(parse_date("date", &s)?.to_string()))
        }),
        "days_between" => context.add_function(
            name,
            move |a: Arc<String>, b: Arc<String>| -> Result<Value, ExecutionError> {
                let (a, b) = (parse_date(name, &a)?, parse_date(name, &b)?);
                let span = a
                    .until((jiff::Unit::Day, b))
                    .map_err(|e| ExecutionError::function_error(name, e))?;
                Ok(Value::Int(i64::from(span.get_days())))
            },
        ),
        "years_between" => context.add_function(
            name,
            move |a: Arc<String>, b: Arc<String>| -> Result<Value, ExecutionError> {
                let (a, b) = (parse_date(name, &a)?, parse_date(name, &b)?);
                let span = a
                    .until((jiff::Unit::Year, b))
                    .map_err(|e| ExecutionError::function_error(name, e))?;
                Ok(Value::Int(i64::from(span.get_years())))
            },
        ),
        "add_days" => context.add_function(
            name,
            move |d: Arc<String>, days: i64| -> Result<Value, ExecutionError> {
                let date = parse_date(name, &d)?;
                let later = jiff::Span::new()
                    .try_days(days)
                    .and_then(|span| date.checked_add(span))
                    .map_err(|e| ExecutionError::function_error(name, e))?;
                Ok(Value::from(later.to_string()))
            },
        ),
        _ => Ok(()),
    };
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

struct Walk<'a> {
    source: &'a str,
    program: &'a cel::Program,
    declared: &'a Declared<'a>,
    reads: Vec<String>,
    reads_before: Vec<String>,
    calls: Vec<&'static str>,
}

impl Walk<'_> {
    /// The byte offset in the source where a node was written (the parser
    /// counts bytes).
    fn offset(&self, node: &IdedExpr) -> usize {
        let start = self
            .program
            .source_info()
            .offset_for(node.id)
            .map_or(0, |(start, _)| start);
        let mut at = (start as usize).min(self.source.len());
        while !self.source.is_char_boundary(at) {
            at -= 1;
        }
        at
    }

    fn error(&self, node: &IdedExpr, message: String) -> Result<(), ExprError> {
        Err(ExprError {
            offset: self.offset(node),
            message,
        })
    }

    fn node(&mut self, node: &IdedExpr) -> Result<(), ExprError> {
        match &node.expr {
            Node::Ident(name) if name == "today" => Ok(()),
            Node::Ident(name) if name == "reports" && self.declared.reports => Ok(()),
            Node::Ident(name) if name == "reports" => self.error(
                node,
                "reports (how many employees name this one in [lifecycle] manager_field) is read only \
                 in a trigger's condition, in a contract with a manager_field"
                    .into(),
            ),
            Node::Ident(name) if name == "hris" => self.error(
                node,
                "`hris` is the record: name one of its fields, as hris.firstName".into(),
            ),
            Node::Ident(name) if name == "before" => self.error(
                node,
                "`before` is the previous record: name one of its fields, as before.location".into(),
            ),
            Node::Ident(name) => self.error(
                node,
                format!("unknown name `{name}`: an expression reads hris.<field> and today (a trigger's condition before.<field> and reports too)"),
            ),
            Node::Select(select) => match &select.operand.expr {
                Node::Ident(root) if root == "before" && !self.declared.before => self.error(
                    node,
                    "before.<field> is the previous record: only a trigger's condition reads it".into(),
                ),
                Node::Ident(root) if root == "hris" || root == "before" => {
                    let field = &select.field;
                    if !self.declared.hris_fields.contains(&field.as_str()) {
                        // The node sits at the dot; the field's name follows it.
                        let offset = self.offset(node);
                        let after = self.source[offset..]
                            .find(field.as_str())
                            .map_or(offset, |i| offset + i);
                        return Err(ExprError {
                            offset: after,
                            message: format!(
                                "{root}.{field} is not an HRIS field the contract reads (a [[field]]'s `hris`)"
                            ),
                        });
                    }
                    let reads = if root == "before" {
                        &mut self.reads_before
                    } else {
                        &mut self.reads
                    };
                    if !reads.contains(field) {
                        reads.push(field.clone());
                    }
                    Ok(())
                }
                _ => self.error(
                    node,
                    format!("`.{}` reads a field of something other than hris or before", select.field),
                ),
            },
            Node::Call(call) => {
                let name = call.func_name.as_str();
                let operator = name.starts_with('_') || name.starts_with('!') || name.starts_with('-');
                if let Some(&ours) = OURS.iter().find(|&&f| f == name) {
                    if call.target.is_some() {
                        return self.error(
                            node,
                            format!("{name} is called as {name}(value), not value.{name}()"),
                        );
                    }
                    if !self.calls.contains(&ours) {
                        self.calls.push(ours);
                    }
                    if ours == "lookup" {
                        self.lookup(node, &call.args)?;
                    }
                } else if !operator && !FROM_CEL.contains(&name) {
                    let known = OURS
                        .iter()
                        .chain(FROM_CEL)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ");
                    return self.error(node, format!("unknown function `{name}` (known: {known})"));
                }
                if let Some(target) = &call.target {
                    self.node(target)?;
                }
                call.args.iter().try_for_each(|arg| self.node(arg))
            }
            Node::Literal(_) => Ok(()),
            Node::List(list) => list.elements.iter().try_for_each(|e| self.node(e)),
            Node::Map(map) => map.entries.iter().try_for_each(|entry| match &entry.expr {
                EntryExpr::MapEntry(e) => self.node(&e.key).and_then(|()| self.node(&e.value)),
                EntryExpr::StructField(f) => self.node(&f.value),
            }),
            Node::Comprehension(_) | Node::Struct(_) | Node::Unspecified => self.error(
                node,
                "only values, hris fields, functions and operators are allowed here".into(),
            ),
        }
    }

    /// `lookup(table, key)`: the table is named by a literal, and exists.
    fn lookup(&mut self, node: &IdedExpr, args: &[IdedExpr]) -> Result<(), ExprError> {
        let [table, _key] = args else {
            return self.error(
                node,
                "lookup takes a value table's name and a key: lookup(\"table\", key)".into(),
            );
        };
        let Node::Literal(LiteralValue::String(name)) = &table.expr else {
            return self.error(
                table,
                "lookup's first argument is a value table's name, in quotes".into(),
            );
        };
        let name: &str = name.inner();
        if !self.declared.tables.contains_key(name) {
            let known = self
                .declared
                .tables
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ");
            return self.error(
                table,
                format!("lookup: no value table \"{name}\" under [values] (there are: {known})"),
            );
        }
        Ok(())
    }
}

/// An expression's value as a field's text: `None` when null or empty.
pub fn value_text(value: &Value) -> Result<Option<Cow<'_, str>>, String> {
    Ok(match value {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Int(n) => Some(Cow::Owned(n.to_string())),
        Value::UInt(n) => Some(Cow::Owned(n.to_string())),
        Value::Float(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        other => return Err(format!("yields a {}, not a field's value", other.type_of())),
    })
}

#[cfg(test)]
#[path = "expr_tests.rs"]
mod tests;
