//! The expression language as the contract uses it: every function, dates across
//! the contract zone's DST changes, names in several scripts (every script the
//! sandbox writes: tests/it/contract_expressions.rs), and where a mistake is reported (in the expression, and in the contract file).

use std::borrow::Cow;
use std::collections::BTreeMap;

use jiff::civil::date;
use serde_json::{Map, Value as Json, json};

use super::*;
use crate::contract::map::map_employee;
use crate::contract::parse;

const EXPRESSIONS: &str = include_str!("../../assets/contract.expressions.toml");
const FIELDS: &[&str] = &[
    "firstName",
    "lastName",
    "preferredName",
    "hireDate",
    "department",
    "id",
];

fn tables() -> BTreeMap<String, BTreeMap<String, String>> {
    BTreeMap::from([(
        "departments".to_string(),
        BTreeMap::from([("Human Resources".to_string(), "People".to_string())]),
    )])
}

fn compile(source: &str) -> Result<Expr, ExprError> {
    let tables = tables();
    Expr::compile(
        source,
        &Declared {
            hris_fields: FIELDS,
            tables: &tables,
            before: false,
            reports: false,
        },
    )
}

/// Evaluates `source` on `record` with today 2026-03-29 (the day Berlin moves its clocks).
fn eval_on(source: &str, record: &[(&str, &str)]) -> Result<Value, EvalError> {
    let expr = compile(source).unwrap_or_else(|e| panic!("{source}: {e:?}"));
    let read = |field: &str| {
        record
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, value)| Cow::Owned(value.to_string()))
    };
    expr.eval(&Vars {
        hris: &read,
        today: date(2026, 3, 29),
        before: None,
        reports: None,
    })
}

#[test]
fn every_function_does_what_the_contract_says() {
    let record = [
        ("firstName", "  Jürgen "),
        ("lastName", "Müller"),
        ("hireDate", "2024-03-30"),
        ("department", "Human Resources"),
        ("id", "42"),
    ];
    let cases: &[(&str, Value)] = &[
        ("lower(hris.lastName)", Value::from("müller")),
        ("upper(hris.lastName)", Value::from("MÜLLER")),
        ("trim(hris.firstName)", Value::from("Jürgen")),
        ("translit(hris.lastName)", Value::from("Muller")),
        ("translit('  田中  太郎 ')", Value::from("TianZhong TaiLang")),
        ("translit('Ελένη Μακρή')", Value::from("Eleni Makri")),
        ("translit('Йорданка')", Value::from("Yordanka")),
        ("translit('فاطمة')", Value::from("ftmh")),
        ("translit('गुप्ता')", Value::from("gupta")),
        ("translit('Łukasz Wiśniewski')", Value::from("Lukasz Wisniewski")),
        ("replace('a b c', ' ', '')", Value::from("abc")),
        ("replace('abc', '', 'x')", Value::from("abc")),
        ("lookup('departments', hris.department)", Value::from("People")),
        // A key the table does not hold passes through, as a field's `values` does.
        ("lookup('departments', 'Sales')", Value::from("Sales")),
        ("date(' 2024-03-30 ')", Value::from("2024-03-30")),
        ("days_between(hris.hireDate, today)", Value::Int(729)),
        ("days_between(today, hris.hireDate)", Value::Int(-729)),
        ("years_between(hris.hireDate, today)", Value::Int(1)),
        ("years_between('2024-03-29', today)", Value::Int(2)),
        ("add_days(today, 14)", Value::from("2026-04-12")),
        ("add_days(today, -29)", Value::from("2026-02-28")),
        ("hris.hireDate <= add_days(today, 14)", Value::Bool(true)),
        (
            "trim(hris.firstName) + '.' + hris.lastName",
            Value::from("Jürgen.Müller"),
        ),
        (
            "hris.preferredName != null ? hris.preferredName : trim(hris.firstName)",
            Value::from("Jürgen"),
        ),
        ("size(hris.lastName)", Value::Int(6)),
        (
            "hris.lastName.startsWith('Mü') && hris.lastName.endsWith('er')",
            Value::Bool(true),
        ),
        ("hris.department.contains('Human')", Value::Bool(true)),
        ("int(hris.id) + 1", Value::Int(43)),
        ("string(int(hris.id) * 2)", Value::from("84")),
        ("today", Value::from("2026-03-29")),
    ];
    for (source, want) in cases {
        assert_eq!(&eval_on(source, &record).unwrap(), want, "{source}");
    }
}

#[test]
fn a_runtime_failure_names_what_went_wrong_and_the_values_read() {
    let error = eval_on(
        "days_between(hris.hireDate, today)",
        &[("hireDate", "30.03.2024")],
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "days_between: \"30.03.2024\" is not a date (YYYY-MM-DD) (hris.hireDate = \"30.03.2024\")"
    );
    let error = eval_on("hris.firstName + '.' + hris.lastName", &[("firstName", "Ana")]).unwrap_err();
    assert!(error.to_string().contains("hris.lastName is empty"), "{error}");
    let error = eval_on("add_days(today, 999999999)", &[]).unwrap_err();
    assert!(error.message.starts_with("add_days: "), "{error}");
}

#[test]
fn dates_follow_the_contract_zone_across_its_dst_changes() {
    let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
    let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
    // 23:30 UTC the night clocks go forward (and back) is already the next day in Berlin.
    assert_eq!(today(&berlin, at("2026-03-28T22:59:59Z")), date(2026, 3, 28));
    assert_eq!(today(&berlin, at("2026-03-28T23:30:00Z")), date(2026, 3, 29));
    assert_eq!(today(&berlin, at("2026-10-24T21:59:59Z")), date(2026, 10, 24));
    assert_eq!(today(&berlin, at("2026-10-24T22:30:00Z")), date(2026, 10, 25));
    assert_eq!(
        today(&jiff::tz::TimeZone::UTC, at("2026-03-28T23:30:00Z")),
        date(2026, 3, 28)
    );
    // The 23-hour and the 25-hour day each count as one day.
    let cases: &[(&str, Value)] = &[
        ("days_between('2026-03-28', '2026-03-30')", Value::Int(2)),
        ("days_between('2026-10-24', '2026-10-26')", Value::Int(2)),
        ("add_days('2026-03-28', 1)", Value::from("2026-03-29")),
        ("add_days('2026-10-25', 1)", Value::from("2026-10-26")),
        ("years_between('2025-03-29', '2026-03-29')", Value::Int(1)),
        ("years_between('2025-03-30', '2026-03-29')", Value::Int(0)),
        ("years_between('2024-02-29', '2025-02-28')", Value::Int(0)),
    ];
    for (source, want) in cases {
        assert_eq!(&eval_on(source, &[]).unwrap(), want, "{source}");
    }
}

#[test]
fn the_display_name_falls_back_from_the_preferred_to_the_first_name() {
    let contract = parse(EXPRESSIONS).unwrap();
    let mut record: Map<String, Json> = json!({
        "id": "7", "employeeNumber": "E7", "workEmail": "a@acme.example",
        "firstName": "Robert", "lastName": "Smith", "preferredName": "Bob",
        "employmentHistoryStatus": "Full-Time", "employmentStatus": "Active",
        "hireDate": "2020-01-15",
    })
    .as_object()
    .unwrap()
    .clone();
    let display = |record: &Map<String, Json>| {
        let mapped = map_employee(&contract, record).unwrap();
        (mapped.lms.iter())
            .find(|v| v.field == "display_name")
            .and_then(|v| v.value.as_str().map(str::to_string))
    };
    assert_eq!(display(&record).as_deref(), Some("Bob Smith"));
    for empty in [json!(""), json!("  "), Json::Null] {
        record.insert("preferredName".into(), empty);
        assert_eq!(display(&record).as_deref(), Some("Robert Smith"));
    }
}

#[test]
fn a_record_an_expression_fails_on_names_the_field_the_expression_and_the_value() {
    let contract = parse(EXPRESSIONS).unwrap();
    let record: Map<String, Json> = json!({
        "id": "7", "employeeNumber": "E7", "workEmail": "a@acme.example",
        "firstName": "Ana", "lastName": "Silva",
        "employmentHistoryStatus": "Full-Time", "employmentStatus": "Active",
        "hireDate": "15/01/2020",
    })
    .as_object()
    .unwrap()
    .clone();
    let mapped = map_employee(&contract, &record).unwrap();
    let tenure = mapped
        .problems
        .iter()
        .find(|p| p.field == "tenure_years")
        .unwrap();
    assert_eq!(
        tenure.reason,
        "expression `years_between(hris.hireDate, today)` failed: years_between: \"15/01/2020\" is not \
         a date (YYYY-MM-DD) (hris.hireDate = \"15/01/2020\")"
    );
}

/// Where a compile error points, as a byte offset in the expression.
#[test]
fn a_mistake_is_reported_where_it_was_written() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "hris.firstName + hris.nope",
            "nope",
            "hris.nope is not an HRIS field",
        ),
        // Offsets count bytes, past text that is not ASCII.
        ("'Zoë ☃' + hris.nope", "nope", "hris.nope is not an HRIS field"),
        ("'Zoë' + salary", "salary", "unknown name `salary`"),
        (
            "lower(hris.firstName) + salary",
            "salary",
            "unknown name `salary`",
        ),
        ("hris", "hris", "`hris` is the record"),
        ("shout(hris.firstName)", "shout", "unknown function `shout`"),
        ("lookup('nope', hris.id)", "'nope'", "no value table \"nope\""),
        (
            "lookup(hris.id, hris.id)",
            "hris.id",
            "a value table's name, in quotes",
        ),
        ("[1, 2].all(x, x > 0)", "all", "unknown function `all`"),
        ("hris.firstName.lower()", "lower", "not value.lower()"),
        ("hris.firstName +", "", "Syntax error"),
        ("'Zoë' + )", ")", "Syntax error"),
        ("'☃☃☃' + )", ")", "Syntax error"),
        ("'☃☃☃'\n + '☃' + )", ")", "Syntax error"),
    ];
    for (source, at, message) in cases {
        let error = compile(source).expect_err(source);
        let want = if at.is_empty() {
            source.len()
        } else {
            source.find(at).unwrap()
        };
        assert!(error.message.contains(message), "{source}: {error:?}");
        if !at.is_empty() {
            // The call's node sits at its name or its opening parenthesis.
            let got = &source[error.offset..];
            assert!(
                error.offset == want || got.starts_with('(') || got.starts_with('.'),
                "{source}: at {} ({got:?}), want {want}",
                error.offset
            );
        }
    }
}

/// The same mistakes in a contract file: the line and the column in the file,
/// through TOML's escapes and multi-line strings.
#[test]
fn a_contract_reports_an_expression_mistake_at_its_line_and_column() {
    let shipped = EXPRESSIONS;
    let cases: &[(&str, &str)] = &[
        // A literal string: the text as written.
        (r#"hris_expr = 'hris.firstName + "." + hris.nope'"#, "nope"),
        // A basic string whose escapes are longer in the file than in the value.
        (
            r#"hris_expr = "\"\u00e9\" + hris.firstName + \"x\" + hris.nope""#,
            "nope",
        ),
        // A multi-line string, its first newline dropped: the mistake on its second line.
        ("hris_expr = \"\"\"\nhris.firstName +\n  hris.nope\"\"\"", "nope"),
    ];
    for (line, at) in cases {
        let text = shipped.replacen(
            r#"hris_expr = 'replace(lower(translit(hris.firstName + "." + hris.lastName)), " ", "") + "@acme.com"'"#,
            line,
            1,
        );
        assert_ne!(text, shipped);
        let problems = parse(&text).expect_err(line);
        assert_eq!(problems.len(), 1, "{problems:?}");
        let offset = text.find(line).unwrap() + line.find(at).unwrap();
        let want_line = text[..offset].matches('\n').count() + 1;
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let want_column = text[line_start..offset].chars().count() + 1;
        assert_eq!(
            (problems[0].line, problems[0].column),
            (want_line, Some(want_column)),
            "{line}: {}",
            problems[0]
        );
        assert!(
            problems[0]
                .message
                .starts_with("field \"user_name\": hris_expr: hris.nope")
        );
    }
}

#[test]
fn the_checker_refuses_expressions_where_they_do_not_belong() {
    let problems = |from: &str, to: &str| -> Vec<String> {
        let text = EXPRESSIONS.replacen(from, to, 1);
        assert_ne!(text, EXPRESSIONS, "{from}");
        parse(&text)
            .expect_err(to)
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    let both = problems(
        "hris_expr = \"years_between",
        "hris = \"hireDate\"\nhris_expr = \"years_between",
    );
    assert!(
        both[0].contains("give `hris` or `hris_expr`, not both"),
        "{both:?}"
    );
    let neither = problems("hris_expr = \"years_between(hris.hireDate, today)\"", "");
    assert!(
        neither[0].contains("needs `hris` (the HRIS field) or `hris_expr`"),
        "{neither:?}"
    );
    let key = problems(
        "hris = \"id\"\nscim = \"externalId\"",
        "hris_expr = \"hris.id\"\nscim = \"externalId\"",
    );
    assert!(
        key.iter().any(|p| p.contains("the join key is an HRIS field")),
        "{key:?}"
    );
    let lifecycle = problems(
        "hire_date_field = \"hire_date\"",
        "hire_date_field = \"tenure_years\"",
    );
    assert!(
        lifecycle
            .iter()
            .any(|p| p.contains("lifecycle.hire_date_field: field \"tenure_years\" is computed")),
        "{lifecycle:?}"
    );
}

#[test]
fn the_shipped_contracts_check_and_the_plain_one_reads_no_expression() {
    let plain = parse(include_str!("../../assets/contract.toml")).unwrap();
    assert!(plain.fields.iter().all(|f| f.expr.is_none()));
    let computed = parse(EXPRESSIONS).unwrap();
    let user_name = computed.field("user_name").unwrap();
    assert_eq!(user_name.reads().collect::<Vec<_>>(), ["firstName", "lastName"]);
    assert_eq!(user_name.plain_hris(), None);
    // The fields asked of the HRIS are the same: expressions read declared fields.
    let asked = |c: &crate::contract::Contract| {
        let mut names: Vec<&str> = c.fields.iter().flat_map(|f| f.reads()).collect();
        names.sort_unstable();
        names.dedup();
        names.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(asked(&plain), asked(&computed));
}
