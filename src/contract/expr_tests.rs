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
use crate::contract::reports::Counted;

const EXPRESSIONS: &str = include_str!("../../assets/contract.expressions.toml");
const FIELDS: &[Option<&str>] = &[
    Some("firstName"),
    Some("lastName"),
    Some("preferredName"),
    Some("hireDate"),
    Some("department"),
    Some("id"),
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
            trigger: false,
            statement: false,
            reports: false,
        },
    )
}

/// Evaluates `source` on `record` with today 2026-03-29 (the day Berlin moves its clocks).
fn eval_on(source: &str, record: &[(&str, &str)]) -> Result<Value, EvalError> {
    let expr = compile(source).unwrap_or_else(|e| panic!("{source}: {e:?}"));
    let read = |_, field: &str| {
        record
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, value)| Cow::Owned(value.to_string()))
    };
    expr.eval(&Vars {
        hris: &read,
        today: date(2026, 3, 29),
        before: None,
        lms: None,
        statement: None,
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
    let error = eval_on("lower(hris.preferredName)", &[]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "lower: met an empty value (hris.preferredName is empty)"
    );
    let error = eval_on("add_days(today, '14')", &[]).unwrap_err();
    assert_eq!(error.to_string(), "add_days: wants a whole number, not string");
    let error = eval_on("upper(size(hris.lastName))", &[("lastName", "Li")]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "upper: wants text, not int (hris.lastName = \"Li\")"
    );
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
    // `trace` explains it by the same path: the empty_expr decided it.
    let explained = crate::contract::explain::explain_fields(&contract, &record);
    let field = explained.iter().find(|f| f.field == "display_name").unwrap();
    assert_eq!(field.rule, "empty, computed by empty_expr (string)");
    assert_eq!(field.lms_value, Some(json!("Robert Smith")));
}

/// A field's `empty_expr`, on a plain field and on a computed one: it applies
/// only when the source is empty, its value goes through the type and the value
/// table, and the `empty` rule applies when it is empty too.
#[test]
fn an_empty_fallback_computes_the_value_of_an_empty_field() {
    let text = EXPRESSIONS
        .replacen(
            "empty = \"null\"\nvalues = \"departments\"",
            "empty = \"null\"\nvalues = \"departments\"\nempty_expr = 'hris.division'",
            1,
        )
        .replacen(
            "hris = \"costCenter\"",
            "hris = \"costCenter\"\nempty_expr = 'hris.division == null ? null : \"CC-\" + upper(hris.division)'",
            1,
        );
    assert_ne!(text, EXPRESSIONS);
    let contract = parse(&text).unwrap();
    let base = json!({
        "id": "7", "employeeNumber": "E7", "workEmail": "a@acme.example",
        "firstName": "Ana", "lastName": "Silva",
        "employmentHistoryStatus": "Full-Time", "employmentStatus": "Active",
        "hireDate": "2020-01-15",
    });
    let cases: &[(Json, Option<&str>, Option<Json>)] = &[
        // The source wins when it has a value.
        (
            json!({"department": "Sales", "costCenter": "CC-1", "division": "x"}),
            Some("Sales"),
            Some(json!("CC-1")),
        ),
        // Empty: the fallback, through the department's value table.
        (
            json!({"division": "Human Resources"}),
            Some("People"),
            Some(json!("CC-HUMAN RESOURCES")),
        ),
        (
            json!({"department": " ", "division": "Ops"}),
            Some("Ops"),
            Some(json!("CC-OPS")),
        ),
        // The fallback empty too: the `empty` rule (null).
        (json!({}), None, Some(Json::Null)),
    ];
    for (fields, department, cost_center) in cases {
        let mut record = base.as_object().unwrap().clone();
        record.extend(fields.as_object().unwrap().clone());
        // The expressions contract reads `reports` too: nobody reports to them.
        let counted = Counted {
            record: &record,
            reports: Some(0),
        };
        let mapped = map_employee(&contract, &counted).unwrap();
        assert!(mapped.problems.is_empty(), "{fields}: {:?}", mapped.problems);
        let lms = |name: &str| {
            mapped
                .lms
                .iter()
                .find(|v| v.field == name)
                .map(|v| v.value.to_value())
        };
        assert_eq!(
            lms("department"),
            Some(department.map_or(Json::Null, |d| json!(d))),
            "{fields}"
        );
        assert_eq!(lms("cost_center"), cost_center.clone(), "{fields}");
    }
}

#[test]
fn an_empty_fallback_that_fails_names_the_field_the_expression_and_the_value() {
    let text = EXPRESSIONS.replacen(
        "hris = \"terminationDate\"",
        "hris = \"terminationDate\"\nempty_expr = 'add_days(hris.hireDate, 365)'",
        1,
    );
    let contract = parse(&text).unwrap();
    let record: Map<String, Json> = json!({
        "id": "7", "employeeNumber": "E7", "workEmail": "a@acme.example",
        "firstName": "Ana", "lastName": "Silva",
        "employmentHistoryStatus": "Full-Time", "employmentStatus": "Active",
        "hireDate": "2020-01-15",
    })
    .as_object()
    .unwrap()
    .clone();
    let mapped = map_employee(&contract, &record).unwrap();
    let termination = (mapped.values.iter()).find(|(name, _)| *name == "termination_date");
    assert_eq!(termination, Some(("termination_date", "2021-01-14")));
    let mut bad = record.clone();
    bad.insert("hireDate".into(), json!("15/01/2020"));
    let mapped = map_employee(&contract, &bad).unwrap();
    let problem = (mapped.problems.iter())
        .find(|p| p.field == "termination_date")
        .unwrap();
    assert_eq!(
        problem.reason,
        "expression `add_days(hris.hireDate, 365)` failed: add_days: \"15/01/2020\" is not a date \
         (YYYY-MM-DD) (hris.hireDate = \"15/01/2020\")"
    );
    let explained = crate::contract::explain::explain_fields(&contract, &bad);
    let field = explained.iter().find(|f| f.field == "termination_date").unwrap();
    assert_eq!(field.rule, "empty_expr failed");
    assert_eq!(field.problem.as_deref(), Some(problem.reason.as_str()));
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
    // An empty_expr's mistake, at its line and column too.
    let from = "empty_expr = 'hris.firstName + \" \" + hris.lastName'";
    let to = "empty_expr = 'hris.firstName + \" \" + hris.lastNme'";
    let text = shipped.replacen(from, to, 1);
    assert_ne!(text, shipped);
    let problems = parse(&text).expect_err(to);
    let offset = text.find(to).unwrap() + to.find("lastNme").unwrap();
    let line = text[..offset].matches('\n').count() + 1;
    let column = offset - text[..offset].rfind('\n').unwrap();
    assert_eq!(
        problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [format!(
            "line {line}, column {column}: field \"display_name\": empty_expr: hris.lastNme is not an \
             HRIS field the contract reads (a [[field]]'s `hris`)"
        )]
    );
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
    let fallback_key = problems(
        "hris = \"id\"\nscim = \"externalId\"",
        "hris = \"id\"\nempty_expr = \"hris.employeeNumber\"\nscim = \"externalId\"",
    );
    assert!(
        fallback_key
            .iter()
            .any(|p| p.contains("the join key is never empty, so it takes no empty_expr")),
        "{fallback_key:?}"
    );
    let fallback_lifecycle = problems(
        "hris = \"hireDate\"\ntype = \"date\"",
        "hris = \"hireDate\"\nempty_expr = \"today\"\ntype = \"date\"",
    );
    assert!(
        fallback_lifecycle.iter().any(|p| p.contains(
            "lifecycle.hire_date_field: field \"hire_date\" is computed (hris_expr or empty_expr)"
        )),
        "{fallback_lifecycle:?}"
    );
    let fallback_empty = problems(
        "empty_expr = 'hris.firstName + \" \" + hris.lastName'",
        "empty_expr = ' '",
    );
    assert!(
        fallback_empty[0].contains("field \"display_name\": the empty_expr path is empty"),
        "{fallback_empty:?}"
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

/// `lms.<path>`: the learner's attributes as the LMS holds them, null where the
/// learner or the attribute is missing; only a trigger's condition reads it.
#[test]
fn a_trigger_reads_the_learner_as_the_lms_holds_it() {
    let tables = tables();
    let declared = Declared {
        hris_fields: FIELDS,
        tables: &tables,
        trigger: true,
        statement: false,
        reports: false,
    };
    let learner = json!({
        "userName": "ana.silva@acme.com", "active": false, "title": "Nurse",
        "name": {"givenName": "Ana", "familyName": "Silva"},
        "emails": [{"type": "work", "value": "ana@acme.example"}],
    });
    let eval = |source: &str, learner: Option<&Json>| {
        let expr = Expr::compile(source, &declared).unwrap_or_else(|e| panic!("{source}: {e:?}"));
        assert!(expr.reads_lms() && expr.reads_beyond_record() && !expr.reads_before());
        let read = |_, field: &str| (field == "firstName").then_some(Cow::Borrowed("Ana"));
        expr.eval(&Vars {
            hris: &read,
            today: date(2026, 3, 29),
            before: None,
            lms: learner,
            statement: None,
            reports: None,
        })
        .ok()
    };
    // Each with the learner, and with none yet (`None`: the evaluation fails).
    let cases: &[(&str, Value, Option<Value>)] = &[
        ("lms.active", Value::Bool(false), Some(Value::Null)),
        ("lms.name.givenName", Value::from("Ana"), Some(Value::Null)),
        (
            "lms.name.givenName == hris.firstName && lms.name.familyName == 'Silva'",
            Value::Bool(true),
            Some(Value::Bool(false)),
        ),
        // An attribute the learner does not have is null, at any depth.
        ("lms.nickName == null", Value::Bool(true), Some(Value::Bool(true))),
        (
            "lms.manager.value == null",
            Value::Bool(true),
            Some(Value::Bool(true)),
        ),
        (
            "lms.name.familyName == 'Silva' && lms.name.middleName == null",
            Value::Bool(true),
            Some(Value::Bool(false)),
        ),
        ("size(lms.emails)", Value::Int(1), None),
        (
            "lms.active == false && lms.title.startsWith('Nur')",
            Value::Bool(true),
            Some(Value::Bool(false)),
        ),
    ];
    for (source, with, without) in cases {
        assert_eq!(eval(source, Some(&learner)).as_ref(), Some(with), "{source}");
        assert_eq!(&eval(source, None), without, "{source} without a learner");
    }
    let error = Expr::compile("lms", &declared).unwrap_err();
    assert!(error.message.contains("`lms` is the learner"), "{error:?}");
    // Outside a trigger's condition, lms is refused where it is written.
    let source = "hris.firstName + lms.name.givenName";
    let error = compile(source).unwrap_err();
    assert!(
        error
            .message
            .starts_with("lms.<path> is the learner as the LMS holds it: only a trigger's condition"),
        "{error:?}"
    );
    assert!(source[error.offset..].starts_with("lms.name"), "{error:?}");
}

/// Where the learner may be read: a trigger's condition, decided by the sync
/// with the learner in hand (`change_conditions`); a field, an empty fallback
/// or a scope rule is refused at its line.
#[test]
fn only_a_trigger_condition_reads_the_learner() {
    let problems = |from: &str, to: &str| -> Vec<String> {
        let text = EXPRESSIONS.replacen(from, to, 1);
        assert_ne!(text, EXPRESSIONS, "{from}");
        parse(&text)
            .expect_err(to)
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    let refused = "lms.<path> is the learner as the LMS holds it: only a trigger's condition reads it";
    for (from, to, whose) in [
        (
            "hris_expr = \"years_between(hris.hireDate, today)\"",
            "hris_expr = \"lms.title\"",
            "field \"tenure_years\": hris_expr",
        ),
        (
            "empty_expr = 'hris.firstName + \" \" + hris.lastName'",
            "empty_expr = 'lms.displayName'",
            "field \"display_name\": empty_expr",
        ),
        (
            "when = 'hris.department != \"Board\"",
            "when = 'lms.active && hris.department != \"Board\"",
            "inclusion rule: when",
        ),
    ] {
        let found = problems(from, to);
        assert!(
            found.len() == 1 && found[0].contains(&format!("{whose}: {refused}")),
            "{to}: {found:?}"
        );
    }
    let remove = problems(
        "condition = \"before.location != null && before.location != hris.location\"",
        "condition = \"lms.active == false\"\non_exit = \"remove\"",
    );
    assert!(
        remove[0].contains("a condition that reads lms.<path> is decided by the sync alone"),
        "{remove:?}"
    );

    // A trigger on the learner: decided with the learner, not by the mapping alone.
    let text = EXPRESSIONS.replacen(
        "condition = \"before.location != null && before.location != hris.location\"",
        "condition = \"lms.active == false\"",
        1,
    );
    let contract = parse(&text).unwrap();
    let at = contract
        .triggers
        .iter()
        .position(|t| t.name == "relocated")
        .unwrap();
    let record: Map<String, Json> = json!({
        "id": "7", "employeeNumber": "E7", "workEmail": "a@acme.example",
        "firstName": "Ana", "lastName": "Silva",
        "employmentHistoryStatus": "Full-Time", "employmentStatus": "Active",
        "hireDate": "2020-01-15",
    })
    .as_object()
    .unwrap()
    .clone();
    let counted = Counted {
        record: &record,
        reports: Some(0),
    };
    let decided = |learner: Option<&Json>| {
        let mut mapped = map_employee(&contract, &counted).unwrap();
        assert!(!mapped.conditions[at], "the mapping alone leaves it false");
        crate::contract::map::change_conditions(
            &contract,
            &mut mapped,
            &counted,
            None::<&Map<String, Json>>,
            learner,
        );
        assert!(mapped.problems.is_empty(), "{:?}", mapped.problems);
        mapped.conditions[at]
    };
    assert!(decided(Some(&json!({"active": false}))));
    assert!(!decided(Some(&json!({"active": true}))));
    // No learner yet: lms.active is null, not false.
    assert!(!decided(None));
}

/// A statement as the LRS sends it, for the write-back's expressions.
fn statement() -> Json {
    json!({
        "id": "6f1c1f9e-0000-4000-8000-000000000001",
        "actor": {"objectType": "Agent", "account": {"homePage": "https://hris.acme.example", "name": "1042"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
        "object": {"id": "https://lms.example.com/courses/data-protection"},
        "result": {"success": true, "duration": "PT1H30M",
                   "score": {"raw": 88, "max": 100, "scaled": 0.88},
                   "extensions": {"https://acme.example/xapi/seat-hours": "3.5"}},
        "timestamp": "2026-11-20T23:30:00Z",
    })
}

/// `hours_expr` and `credits_expr`: a training record's hours and credits
/// computed from the statement (`statement.<path>`), through `map_statement`,
/// the one path every write-back takes.
#[test]
fn a_writeback_expression_computes_the_record_from_the_statement() {
    use crate::contract::writeback::{StatementMapping, map_statement};
    let with = |hours: &str, credits: &str| {
        let text = EXPRESSIONS
            .replacen(
                "hours_expr = 'lookup(\"course_hours\", statement.object.id)'",
                &format!("hours_expr = '{hours}'"),
                1,
            )
            .replacen(
                "credits = \"course_credits\"",
                &format!("credits_expr = '{credits}'"),
                1,
            );
        assert_ne!(text, EXPRESSIONS);
        parse(&text).unwrap_or_else(|p| panic!("{hours} / {credits}: {p:?}"))
    };
    let mapped = |contract: &crate::contract::Contract| match map_statement(
        contract,
        contract.writeback.as_ref().unwrap(),
        &statement(),
    ) {
        Ok(StatementMapping::Completion(c)) => Ok((c.hours, c.credits)),
        Ok(other) => panic!("{other:?}"),
        Err(reasons) => Err(crate::model::FieldReason::summary(&reasons)),
    };
    // As shipped: the catalogue's hours, the table's credits.
    assert_eq!(mapped(&parse(EXPRESSIONS).unwrap()), Ok((Some(1.0), Some(1.0))));
    let seat = r#"statement.result.extensions["https://acme.example/xapi/seat-hours"]"#;
    /// The record's hours and credits, or the reasons the statement is refused.
    type Mapped<'a> = Result<(Option<f64>, Option<f64>), &'a str>;
    let cases: &[(&str, &str, Mapped)] = &[
        (
            seat,
            "statement.result.score.scaled >= 0.9 ? 2 : 1",
            Ok((Some(3.5), Some(1.0))),
        ),
        (
            "statement.result.score.raw / 8",
            "statement.result.success ? 0.5 : 0",
            Ok((Some(11.0), Some(0.5))),
        ),
        // An attribute the statement lacks is null: no hours.
        (
            r#""https://acme.example/xapi/none" in statement.result.extensions ? 1 : null"#,
            "statement.context.registration == null ? 1 : 2",
            Ok((None, Some(1.0))),
        ),
        (
            "statement.result.score.raw - 100",
            "1",
            Err(
                "hours: expression `statement.result.score.raw - 100` yields \"-12\", not a number at least 0",
            ),
        ),
        (
            "1",
            "years_between(statement.timestamp, today)",
            Err(
                "credits: expression `years_between(statement.timestamp, today)` failed: years_between: \
                 \"2026-11-20T23:30:00Z\" is not a date (YYYY-MM-DD) (statement.timestamp = \
                 \"2026-11-20T23:30:00Z\")",
            ),
        ),
    ];
    for (hours, credits, want) in cases {
        let got = mapped(&with(hours, credits));
        assert_eq!(got, want.map_err(str::to_string), "{hours} / {credits}");
    }
}

/// A write-back expression reads the statement and nothing else; nothing else
/// reads the statement; each mistake at its line and column.
#[test]
fn a_writeback_expression_reads_only_the_statement() {
    let shipped = "hours_expr = 'lookup(\"course_hours\", statement.object.id)'";
    let problems = |from: &str, to: &str| -> Vec<String> {
        let text = EXPRESSIONS.replacen(from, to, 1);
        assert_ne!(text, EXPRESSIONS, "{from}");
        parse(&text)
            .expect_err(to)
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    let position = |text: &str, needle: &str, at: &str| {
        let offset = text.find(needle).unwrap() + needle.find(at).unwrap();
        let line = text[..offset].matches('\n').count() + 1;
        (line, offset - text[..offset].rfind('\n').unwrap())
    };
    let cases = [
        (
            shipped,
            "hours_expr = 'hris.hireDate'",
            ".hireDate",
            "writeback: hours_expr: hris.<field> is an HRIS record: a [writeback] expression reads the statement",
        ),
        (
            shipped,
            "hours_expr = 'lookup(\"course_hour\", statement.object.id)'",
            "\"course_hour\"",
            "writeback: hours_expr: lookup: no value table \"course_hour\"",
        ),
        (
            "condition = \"lms.active == false\"",
            "condition = \"statement.verb.id != null\"",
            "statement",
            "trigger \"returning\": condition: statement.<path> is the xAPI statement: only a [writeback] \
             expression reads it",
        ),
    ];
    for (from, to, at, message) in cases {
        let text = EXPRESSIONS.replacen(from, to, 1);
        let found = problems(from, to);
        let (line, column) = position(&text, to, at);
        assert!(
            found.len() == 1 && found[0].starts_with(&format!("line {line}, column {column}: {message}")),
            "{to}: {found:?} (want line {line}, column {column})"
        );
    }
    let both = problems(
        "credits = \"course_credits\"",
        "credits = \"course_credits\"\ncredits_expr = '1'",
    );
    assert!(
        both[0].contains("give `credits` (a value table) or `credits_expr` (an expression), not both"),
        "{both:?}"
    );
    let whole = problems(shipped, "hours_expr = 'size(statement) > 0 ? 1 : 0'");
    assert!(
        whole[0].contains("`statement` is the xAPI statement"),
        "{whole:?}"
    );
}
