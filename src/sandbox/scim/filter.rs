//! SCIM filters (RFC 7644 §3.4.2.2): parsing `userName eq "x" and (active pr)`
//! into a tree; `matching` tests resources against it.

use serde_json::Value;

pub use super::attr_path::{AttrPath, get_ci};
use super::error::ScimError;
pub use super::matching::{indexed_equality, matches};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
