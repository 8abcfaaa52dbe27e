//! Testing resources against a parsed SCIM filter, with the schema's
//! case-exactness, and spotting the `eq` an index can answer.

use jiff::Timestamp;
use serde_json::Value;

use super::attr_path::{AttrPath, get_ci};
use super::filter::{Filter, Op};
use super::schemas::ENTERPRISE_SCHEMA;

/// The values an attribute path designates in `resource`, arrays flattened.
fn resolve<'a>(resource: &'a Value, path: &AttrPath, out: &mut Vec<&'a Value>) {
    let base = match path.extension {
        Some(urn) => get_ci(resource, urn),
        None => Some(resource),
    };
    let mut found = base.and_then(|b| get_ci(b, &path.attr));
    if found.is_none() && path.extension.is_none() {
        // The short form of an extension attribute: `employeeNumber`.
        found = get_ci(resource, ENTERPRISE_SCHEMA).and_then(|e| get_ci(e, &path.attr));
    }
    let Some(found) = found else { return };
    let mut pick = |v: &'a Value| match (&path.sub, v) {
        (Some(sub), Value::Object(_)) => match get_ci(v, sub) {
            Some(Value::Array(items)) => out.extend(items.iter()),
            Some(x) => out.push(x),
            None => {}
        },
        (None, Value::Object(_)) => out.extend(get_ci(v, "value")),
        (None, x) => out.push(x),
        _ => {}
    };
    match found {
        Value::Array(items) => items.iter().for_each(&mut pick),
        Value::Object(_) if path.sub.is_some() => pick(found),
        other => out.push(other),
    }
}

fn compare(op: Op, actual: &Value, expected: &Value, case_exact: bool) -> bool {
    match (actual, expected) {
        (Value::String(a), Value::String(e)) => {
            if let (Op::Gt | Op::Ge | Op::Lt | Op::Le, Ok(a), Ok(e)) =
                (op, a.parse::<Timestamp>(), e.parse::<Timestamp>())
            {
                return ordered(op, a.cmp(&e));
            }
            let (a, e) = if case_exact {
                (a.clone(), e.clone())
            } else {
                (a.to_lowercase(), e.to_lowercase())
            };
            match op {
                Op::Eq => a == e,
                Op::Ne => a != e,
                Op::Co => a.contains(&e),
                Op::Sw => a.starts_with(&e),
                Op::Ew => a.ends_with(&e),
                _ => ordered(op, a.cmp(&e)),
            }
        }
        (Value::Bool(a), Value::Bool(e)) => match op {
            Op::Eq => a == e,
            Op::Ne => a != e,
            _ => false,
        },
        // Some clients quote booleans: `active eq "true"`.
        (Value::Bool(a), Value::String(e)) => compare(
            op,
            &Value::Bool(*a),
            &Value::Bool(e.eq_ignore_ascii_case("true")),
            true,
        ),
        (Value::Number(a), Value::Number(e)) => match (a.as_f64(), e.as_f64()) {
            (Some(a), Some(e)) => match op {
                Op::Eq => a == e,
                Op::Ne => a != e,
                _ => a.partial_cmp(&e).is_some_and(|o| ordered(op, o)),
            },
            _ => false,
        },
        _ => op == Op::Ne,
    }
}

fn ordered(op: Op, ordering: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    matches!(
        (op, ordering),
        (Op::Gt, Greater) | (Op::Ge, Greater | Equal) | (Op::Lt, Less) | (Op::Le, Less | Equal)
    )
}

/// Whether `resource` matches; `parent` names the attribute inside a `[...]`.
pub fn matches(filter: &Filter, resource: &Value, parent: Option<&str>) -> bool {
    match filter {
        Filter::And(a, b) => matches(a, resource, parent) && matches(b, resource, parent),
        Filter::Or(a, b) => matches(a, resource, parent) || matches(b, resource, parent),
        Filter::Not(inner) => !matches(inner, resource, parent),
        Filter::Present(path) => {
            let mut found = Vec::new();
            resolve(resource, path, &mut found);
            found.iter().any(|v| match v {
                Value::Null => false,
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                _ => true,
            })
        }
        Filter::Compare { path, op, value } => {
            let mut found = Vec::new();
            resolve(resource, path, &mut found);
            if value.is_null() {
                let present = found.iter().any(|v| !v.is_null());
                return if *op == Op::Ne { present } else { !present };
            }
            let case_exact = path.case_exact(parent);
            if *op == Op::Ne {
                return !found.iter().any(|v| compare(Op::Eq, v, value, case_exact));
            }
            found.iter().any(|v| compare(*op, v, value, case_exact))
        }
        Filter::ValuePath { path, filter } => {
            let base = match path.extension {
                Some(urn) => get_ci(resource, urn),
                None => Some(resource),
            };
            match base.and_then(|b| get_ci(b, &path.attr)) {
                Some(Value::Array(items)) => items.iter().any(|item| matches(filter, item, Some(&path.attr))),
                Some(item @ Value::Object(_)) => matches(filter, item, Some(&path.attr)),
                _ => false,
            }
        }
    }
}

/// An `eq` on one of the indexed attributes that every match must satisfy,
/// so a lookup can replace a scan: (lower-cased attribute name, value).
pub fn indexed_equality(filter: &Filter) -> Option<(String, &str)> {
    match filter {
        Filter::Compare {
            path,
            op: Op::Eq,
            value: Value::String(value),
        } if path.sub.is_none() => {
            let name = path.attr.to_ascii_lowercase();
            let indexed = match path.extension {
                Some(_) => name == "employeenumber",
                None => matches!(name.as_str(), "id" | "username" | "externalid" | "employeenumber"),
            };
            indexed.then_some((name, value.as_str()))
        }
        Filter::And(a, b) => indexed_equality(a).or_else(|| indexed_equality(b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::scim::filter::parse;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "userName": "Ada.Lovelace@example.com", "externalId": "E-1", "active": true,
            "emails": [{"value": "ada@work.example", "type": "work"}, {"value": "ada@home.example", "type": "home"}],
            "meta": {"lastModified": "2024-05-01T10:00:00Z"},
            ENTERPRISE_SCHEMA: {"employeeNumber": "1001", "manager": {"value": "m-1"}},
        })
    }

    fn check(text: &str) -> bool {
        matches(&parse(text).unwrap(), &user(), None)
    }

    #[test]
    fn operators_follow_rfc_7644() {
        assert!(check(r#"userName eq "ada.lovelace@EXAMPLE.com""#));
        assert!(!check(r#"externalId eq "e-1""#), "externalId is caseExact");
        assert!(check(r#"USERNAME sw "ada" and emails.value co "@work""#));
        assert!(check(r#"employeeNumber eq "1001""#));
        assert!(check(&format!(r#"{ENTERPRISE_SCHEMA}:employeeNumber ew "01""#)));
        assert!(check(&format!(r#"{ENTERPRISE_SCHEMA}:manager.value eq "m-1""#)));
        assert!(check(r#"emails[type eq "work" and value co "work"]"#));
        assert!(!check(r#"emails[type eq "other"]"#));
        assert!(check(r#"active eq true and not (title pr)"#));
        assert!(check(
            r#"meta.lastModified gt "2024-01-01T00:00:00Z" or userName eq "x""#
        ));
        assert!(check(
            r#"(userName eq "x" or externalId eq "E-1") and active ne false"#
        ));
    }

    #[test]
    fn indexed_equality_finds_the_lookup() {
        let filter = parse(r#"active eq true and userName eq "A@b""#).unwrap();
        assert_eq!(indexed_equality(&filter), Some(("username".into(), "A@b")));
        assert_eq!(indexed_equality(&parse(r#"userName co "a""#).unwrap()), None);
    }
}
