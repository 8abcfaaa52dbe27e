//! Reading a `PatchOp` body (RFC 7644 §3.5.2): its operations and their
//! paths, such as `members[value eq "ID"]` or `emails[type eq "work"].value`.

use serde_json::Value;

use super::error::ScimError;
use super::filter::{self, AttrPath};
use super::patch::{OpKind, Operation, PATCH_SCHEMA, PatchPath};

pub fn parse_path(text: &str) -> Result<PatchPath, ScimError> {
    let Some((before, rest)) = text.split_once('[') else {
        let attr = AttrPath::parse(text.trim()).map_err(ScimError::invalid_path)?;
        return Ok(PatchPath { attr, filter: None });
    };
    let (inside, after) = rest
        .rsplit_once(']')
        .ok_or_else(|| ScimError::invalid_path(format!("unclosed '[' in path {text:?}")))?;
    let mut attr = AttrPath::parse(before.trim()).map_err(ScimError::invalid_path)?;
    if attr.sub.is_some() || attr.attr.is_empty() {
        return Err(ScimError::invalid_path(format!(
            "a value filter must follow an attribute: {text:?}"
        )));
    }
    let filter = filter::parse(inside)?;
    if !after.is_empty() {
        let sub = after
            .strip_prefix('.')
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ScimError::invalid_path(format!("bad text after ']' in path {text:?}")))?;
        attr.sub = Some(sub.to_string());
    }
    Ok(PatchPath {
        attr,
        filter: Some(filter),
    })
}

/// Reads a `PatchOp` request body into its operations.
pub fn parse_request(body: &Value) -> Result<Vec<Operation>, ScimError> {
    let has_schema = body
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|s| s.as_str() == Some(PATCH_SCHEMA)));
    if !has_schema {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("schemas must list {PATCH_SCHEMA}"),
        ));
    }
    let operations = filter::get_ci(body, "Operations")
        .and_then(Value::as_array)
        .filter(|ops| !ops.is_empty())
        .ok_or_else(|| ScimError::bad("invalidSyntax", "Operations must be a non-empty array"))?;
    operations
        .iter()
        .enumerate()
        .map(|(i, op)| {
            let kind = match filter::get_ci(op, "op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
            {
                Some(k) if k == "add" => OpKind::Add,
                Some(k) if k == "remove" => OpKind::Remove,
                Some(k) if k == "replace" => OpKind::Replace,
                _ => {
                    return Err(ScimError::bad(
                        "invalidSyntax",
                        format!("Operations[{i}].op must be add, remove or replace"),
                    ));
                }
            };
            let path = match filter::get_ci(op, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(p)) => Some(parse_path(p)?),
                Some(_) => {
                    return Err(ScimError::invalid_path(format!(
                        "Operations[{i}].path must be a string"
                    )));
                }
            };
            let value = filter::get_ci(op, "value").cloned();
            if kind != OpKind::Remove && value.is_none() {
                return Err(ScimError::invalid_value(format!("Operations[{i}] needs a value")));
            }
            Ok(Operation { kind, path, value })
        })
        .collect()
}
