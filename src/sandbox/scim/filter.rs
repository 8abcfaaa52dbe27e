//! SCIM filters (RFC 7644 §3.4.2.2): parsing `userName eq "x" and (active pr)`
//! into a tree, and testing resources against it with the schema's case rules.

use jiff::Timestamp;
use serde_json::Value;

use super::error::ScimError;
use super::schemas::{self, ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

/// An attribute named in a filter or a PATCH path: `emails.value`,
/// `urn:...:enterprise:2.0:User:employeeNumber`. Names keep the caller's case.
#[derive(Clone, Debug, PartialEq)]
pub struct AttrPath {
    /// The extension the attribute lives in (None: the core schema).
    pub extension: Option<&'static str>,
    pub attr: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parses `[urn:...:]attr[.sub]`; an extension URN alone gives an empty `attr`.
    pub fn parse(text: &str) -> Result<AttrPath, String> {
        let mut extension = None;
        let mut rest = text;
        if text.len() > 4 && text[..4].eq_ignore_ascii_case("urn:") {
            let known = [ENTERPRISE_SCHEMA, USER_SCHEMA, GROUP_SCHEMA];
            let urn = known
                .into_iter()
                .find(|urn| {
                    text.len() >= urn.len()
                        && text[..urn.len()].eq_ignore_ascii_case(urn)
                        && matches!(text.as_bytes().get(urn.len()), None | Some(b':'))
                })
                .ok_or_else(|| format!("unknown schema in attribute path {text:?}"))?;
            if urn == ENTERPRISE_SCHEMA {
                extension = Some(ENTERPRISE_SCHEMA);
            }
            rest = text[urn.len()..].strip_prefix(':').unwrap_or("");
            if rest.is_empty() && extension.is_none() {
                return Err(format!("attribute path {text:?} names no attribute"));
            }
        }
        let (attr, sub) = match rest.split_once('.') {
            Some((attr, sub)) => (attr, Some(sub.to_string())),
            None => (rest, None),
        };
        let name_ok = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
                && s.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
        };
        let whole_extension = attr.is_empty() && extension.is_some();
        let attr_ok = whole_extension || name_ok(attr);
        if !attr_ok || sub.as_deref().is_some_and(|s| !name_ok(s)) {
            return Err(format!("bad attribute path {text:?}"));
        }
        Ok(AttrPath {
            extension,
            attr: attr.to_string(),
            sub,
        })
    }

    /// Whether values of this attribute compare case-sensitively (RFC 7643 caseExact).
    pub fn case_exact(&self, parent: Option<&str>) -> bool {
        let tables: &[&[schemas::Attr]] = match self.extension {
            Some(_) => &[schemas::ENTERPRISE_ATTRS],
            None => &[
                schemas::COMMON_ATTRS,
                schemas::USER_ATTRS,
                schemas::GROUP_ATTRS,
                schemas::ENTERPRISE_ATTRS,
            ],
        };
        let (top, sub) = match parent {
            Some(parent) => (parent, Some(self.attr.as_str())),
            None => (self.attr.as_str(), self.sub.as_deref()),
        };
        let Some(def) = tables.iter().find_map(|t| schemas::find(t, top)) else {
            return false;
        };
        match sub {
            Some(sub) => def.sub_attr(sub).is_some_and(|s| s.case_exact),
            None => def.case_exact,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: Op,
        value: Value,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work"]`: some element of a multi-valued attribute matches.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Word(String),
    Literal(Value),
}

fn tokenize(text: &str) -> Result<Vec<Token>, ScimError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
            }
            '"' => {
                // A JSON string: let serde_json handle the escapes.
                chars.next();
                let mut escaped = false;
                let mut end = None;
                for (i, c) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = Some(i);
                        break;
                    }
                }
                let end = end.ok_or_else(|| ScimError::invalid_filter("unterminated string in filter"))?;
                let literal: Value = serde_json::from_str(&text[start..=end])
                    .map_err(|e| ScimError::invalid_filter(format!("bad string in filter: {e}")))?;
                tokens.push(Token::Literal(literal));
            }
            _ => {
                let mut end = text.len();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || "()[]\"".contains(c) {
                        end = i;
                        break;
                    }
                    chars.next();
                }
                tokens.push(Token::Word(text[start..end].to_string()));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn expect(&mut self, token: Token, what: &str) -> Result<(), ScimError> {
        match self.next() {
            Some(t) if t == token => Ok(()),
            _ => Err(ScimError::invalid_filter(format!("expected {what} in filter"))),
        }
    }

    fn or(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.unary()?;
        while self.peek_word("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, ScimError> {
        if self.peek_word("not") && self.tokens.get(self.at + 1) == Some(&Token::Open) {
            self.at += 2;
            let inner = self.or()?;
            self.expect(Token::Close, "')'")?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                self.expect(Token::Close, "')'")?;
                Ok(inner)
            }
            Some(Token::Word(word)) => self.attribute_expression(&word),
            _ => Err(ScimError::invalid_filter("expected an attribute name in filter")),
        }
    }

    fn attribute_expression(&mut self, word: &str) -> Result<Filter, ScimError> {
        let path = AttrPath::parse(word).map_err(ScimError::invalid_filter)?;
        if path.attr.is_empty() {
            return Err(ScimError::invalid_filter("a filter must name an attribute"));
        }
        if self.tokens.get(self.at) == Some(&Token::OpenBracket) {
            self.at += 1;
            let inner = self.or()?;
            self.expect(Token::CloseBracket, "']'")?;
            return Ok(Filter::ValuePath {
                path,
                filter: Box::new(inner),
            });
        }
        let op = match self.next() {
            Some(Token::Word(op)) => op.to_ascii_lowercase(),
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "expected an operator after {word}"
                )));
            }
        };
        let op = match op.as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            other => return Err(ScimError::invalid_filter(format!("unknown operator {other:?}"))),
        };
        let value = match self.next() {
            Some(Token::Literal(v)) => v,
            Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => serde_json::from_str::<serde_json::Number>(&w)
                    .map(Value::Number)
                    .map_err(|_| ScimError::invalid_filter(format!("bad comparison value {w:?}")))?,
            },
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "expected a value after {op:?}"
                )));
            }
        };
        Ok(Filter::Compare { path, op, value })
    }
}

/// Parses a whole filter expression.
pub fn parse(text: &str) -> Result<Filter, ScimError> {
    let mut parser = Parser {
        tokens: tokenize(text)?,
        at: 0,
    };
    if parser.tokens.is_empty() {
        return Err(ScimError::invalid_filter("empty filter"));
    }
    let filter = parser.or()?;
    if parser.at != parser.tokens.len() {
        return Err(ScimError::invalid_filter(
            "unexpected text after the end of the filter",
        ));
    }
    Ok(filter)
}

/// Looks `key` up in an object, exact spelling first, then in any letter case.
pub fn get_ci<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    let map = object.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

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
    fn bad_filters_are_invalid_filter() {
        for text in [
            "userName eq",
            "userName zz \"a\"",
            "(userName pr",
            "userName eq \"a",
            "",
            "a eq \"b\" c",
        ] {
            let error = parse(text).unwrap_err();
            assert_eq!(error.scim_type, Some("invalidFilter"), "{text}");
        }
    }

    #[test]
    fn indexed_equality_finds_the_lookup() {
        let filter = parse(r#"active eq true and userName eq "A@b""#).unwrap();
        assert_eq!(indexed_equality(&filter), Some(("username".into(), "A@b")));
        assert_eq!(indexed_equality(&parse(r#"userName co "a""#).unwrap()), None);
    }
}
