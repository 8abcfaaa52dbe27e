//! Checks and normalises a User or Group body before it is stored: types per
//! the schema table, required attributes, `schemas`, and readOnly parts dropped.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::schemas::{self, Attr, ENTERPRISE_SCHEMA, GROUP_SCHEMA, Kind, USER_SCHEMA};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "Users",
            ResourceKind::Group => "Groups",
        }
    }

    pub fn schema(self) -> &'static str {
        match self {
            ResourceKind::User => USER_SCHEMA,
            ResourceKind::Group => GROUP_SCHEMA,
        }
    }

    pub fn attrs(self) -> &'static [Attr] {
        schemas::attrs_of(self.schema())
    }
}

/// Where a checked value sits, `emails.value` say; spelt out only in an error,
/// so a valid body costs no allocation per sub-attribute.
#[derive(Clone, Copy)]
struct Place {
    parent: Option<&'static str>,
    name: &'static str,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.parent {
            Some(parent) => write!(f, "{parent}.{}", self.name),
            None => f.write_str(self.name),
        }
    }
}

fn type_error(place: Place, def: &Attr) -> ScimError {
    let expected = match def.kind {
        Kind::Boolean => "a boolean",
        Kind::Integer => "an integer",
        Kind::Complex => "an object",
        _ => "a string",
    };
    ScimError::invalid_value(format!("{place} must be {expected}"))
}

fn check_single(place: Place, def: &'static Attr, value: &Value) -> Result<(), ScimError> {
    let ok = match def.kind {
        Kind::String | Kind::DateTime | Kind::Binary | Kind::Reference => value.is_string(),
        Kind::Boolean => value.is_boolean(),
        Kind::Integer => value.is_i64(),
        Kind::Complex => {
            let Some(object) = value.as_object() else {
                return Err(type_error(place, def));
            };
            for (key, field) in object {
                if let Some(sub) = def.sub_attr(key)
                    && !field.is_null()
                {
                    let inner = Place {
                        parent: Some(place.name),
                        name: sub.name,
                    };
                    check(inner, sub, field)?;
                }
            }
            true
        }
    };
    if ok { Ok(()) } else { Err(type_error(place, def)) }
}

fn check(place: Place, def: &'static Attr, value: &Value) -> Result<(), ScimError> {
    match (def.multi, value) {
        (true, Value::Array(items)) => items.iter().try_for_each(|item| check_single(place, def, item)),
        (true, _) => Err(ScimError::invalid_value(format!("{place} must be an array"))),
        (false, _) => check_single(place, def, value),
    }
}

/// Checks every known attribute of `object` against `attrs`, dropping nulls
/// and empty arrays (RFC 7643 §2.5: both mean unassigned).
fn check_object(object: &mut Map<String, Value>, attrs: &'static [Attr]) -> Result<(), ScimError> {
    object.retain(|_, v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()));
    for (key, value) in object.iter() {
        if let Some(def) = schemas::find(attrs, key) {
            let place = Place {
                parent: None,
                name: def.name,
            };
            check(place, def, value)?;
        }
    }
    Ok(())
}

/// Validates a body for `kind` and returns the object to store (without id,
/// meta or the computed `groups`).
pub fn prepare(kind: ResourceKind, body: Value) -> Result<Map<String, Value>, ScimError> {
    let Value::Object(mut object) = body else {
        return Err(ScimError::bad(
            "invalidSyntax",
            "the request body must be a JSON object",
        ));
    };
    let listed = object.get("schemas").and_then(Value::as_array).is_some_and(|s| {
        s.iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(kind.schema())))
    });
    if !listed {
        return Err(ScimError::invalid_value(format!(
            "schemas must list {}",
            kind.schema()
        )));
    }
    // readOnly attributes sent by a client are ignored (RFC 7643 §2.2).
    let computed = |k: &str| {
        ["schemas", "id", "meta"]
            .iter()
            .any(|r| k.eq_ignore_ascii_case(r))
            || (kind == ResourceKind::User && k.eq_ignore_ascii_case("groups"))
    };
    object.retain(|k, _| !computed(k));
    check_object(&mut object, kind.attrs())?;
    if let Some(external_id) = object.get("externalId")
        && !external_id.is_string()
    {
        return Err(ScimError::invalid_value("externalId must be a string"));
    }
    if kind == ResourceKind::User {
        let ext_key = object
            .keys()
            .find(|k| k.eq_ignore_ascii_case(ENTERPRISE_SCHEMA))
            .cloned();
        if let Some(key) = ext_key {
            match object.remove(&key) {
                Some(Value::Object(mut ext)) => {
                    ext.retain(|k, _| !k.eq_ignore_ascii_case("schemas"));
                    check_object(&mut ext, schemas::ENTERPRISE_ATTRS)?;
                    if !ext.is_empty() {
                        object.insert(ENTERPRISE_SCHEMA.to_string(), Value::Object(ext));
                    }
                }
                _ => {
                    return Err(ScimError::invalid_value(format!(
                        "{ENTERPRISE_SCHEMA} must be an object"
                    )));
                }
            }
        }
    }
    for def in kind.attrs().iter().filter(|a| a.required) {
        let present = object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(def.name))
            .is_some_and(|(_, v)| v.as_str().is_none_or(|s| !s.trim().is_empty()));
        if !present {
            return Err(ScimError::invalid_value(format!("{} is required", def.name)));
        }
    }
    let mut schemas = vec![Value::from(kind.schema())];
    if object.contains_key(ENTERPRISE_SCHEMA) {
        schemas.push(ENTERPRISE_SCHEMA.into());
    }
    object.insert("schemas".into(), Value::Array(schemas));
    Ok(object)
}
