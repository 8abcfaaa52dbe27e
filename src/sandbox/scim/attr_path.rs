//! Attribute paths as SCIM filters and PATCH name them (RFC 7644 §3.10):
//! `emails.value`, `urn:...:enterprise:2.0:User:employeeNumber`.

use serde_json::Value;

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

/// Looks `key` up in an object, exact spelling first, then in any letter case.
pub fn get_ci<'a>(object: &'a Value, key: &str) -> Option<&'a Value> {
    let map = object.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}
