//! SCIM PATCH (RFC 7644 §3.5.2): `add`, `replace` and `remove` operations, with
//! and without `path`, including value filters like `emails[type eq "work"].value`.

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::{self, AttrPath, Filter, Op};
use super::schemas::{self, Attr, ENTERPRISE_SCHEMA, Kind, Mutability};

pub use super::patch_request::parse_request;

pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

/// Where an operation applies: `attr[.sub]`, `attr[filter][.sub]`, or a whole extension.
#[derive(Clone, Debug)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
}

impl PatchPath {
    /// The sub-attribute the path ends in, after a dot or a `[...]`.
    fn sub(&self) -> Option<&str> {
        self.attr.sub.as_deref()
    }
}

#[derive(Clone, Debug)]
pub struct Operation {
    pub kind: OpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// Applies one operation to a resource of the schema whose attributes are `core`.
pub fn apply(resource: &mut Value, op: &Operation, core: &'static [Attr]) -> Result<(), ScimError> {
    match &op.path {
        Some(path) => apply_at(resource, core, op.kind, path, op.value.as_ref()),
        None if op.kind == OpKind::Remove => Err(ScimError::bad("noTarget", "remove needs a path")),
        None => {
            let Some(Value::Object(values)) = &op.value else {
                return Err(ScimError::invalid_value(
                    "an operation without a path needs an object value",
                ));
            };
            for (key, value) in values {
                let attr = AttrPath::parse(key).map_err(ScimError::invalid_path)?;
                apply_at(
                    resource,
                    core,
                    op.kind,
                    &PatchPath { attr, filter: None },
                    Some(value),
                )?;
            }
            Ok(())
        }
    }
}

fn definition(core: &'static [Attr], path: &AttrPath) -> Result<&'static Attr, ScimError> {
    let found = match path.extension {
        Some(urn) => schemas::find(schemas::attrs_of(urn), &path.attr),
        None => schemas::find(core, &path.attr).or_else(|| schemas::find(schemas::COMMON_ATTRS, &path.attr)),
    };
    found.ok_or_else(|| ScimError::invalid_path(format!("no attribute {:?} in this resource", path.attr)))
}

fn key_in(map: &Map<String, Value>, name: &str) -> String {
    map.keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_string())
}

fn read_only(name: &str) -> ScimError {
    ScimError::bad("mutability", format!("{name} is readOnly"))
}

/// Lenient about Azure-style quoted booleans (`"False"`) where the schema says boolean.
fn coerce(def: &Attr, value: &Value) -> Value {
    match (def.kind, value) {
        (Kind::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        (Kind::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        _ => value.clone(),
    }
}

fn same_element(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn apply_at(
    resource: &mut Value,
    core: &'static [Attr],
    kind: OpKind,
    path: &PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let Some(root) = resource.as_object_mut() else {
        return Err(ScimError::invalid_value("the resource is not an object"));
    };
    if path.attr.attr.is_empty() {
        // The whole enterprise extension.
        let key = key_in(root, ENTERPRISE_SCHEMA);
        return match (kind, value) {
            (OpKind::Remove, _) => {
                root.remove(&key);
                Ok(())
            }
            (OpKind::Replace, Some(Value::Object(_))) => {
                root.remove(&key);
                apply_extension_fields(resource, core, kind, value)
            }
            (OpKind::Add, Some(Value::Object(_))) => apply_extension_fields(resource, core, kind, value),
            _ => Err(ScimError::invalid_value("an extension's value must be an object")),
        };
    }
    let def = definition(core, &path.attr)?;
    if def.mutability == Mutability::ReadOnly {
        return Err(read_only(def.name));
    }
    let sub_def =
        match path.sub() {
            Some(sub) => Some(def.sub_attr(sub).ok_or_else(|| {
                ScimError::invalid_path(format!("no sub-attribute {sub:?} in {}", def.name))
            })?),
            None => None,
        };
    if let Some(sub_def) = sub_def
        && sub_def.mutability == Mutability::ReadOnly
    {
        return Err(read_only(&format!("{}.{}", def.name, sub_def.name)));
    }
    let map = match path.attr.extension {
        None => root,
        Some(urn) => {
            let key = key_in(root, urn);
            if kind == OpKind::Remove && !root.contains_key(&key) {
                return Ok(());
            }
            let ext = root.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if !ext.is_object() {
                *ext = Value::Object(Map::new());
            }
            ext.as_object_mut()
                .ok_or_else(|| ScimError::invalid_value("bad extension"))?
        }
    };
    let key = key_in(map, def.name);
    let value = value.map(|v| coerce(sub_def.unwrap_or(def), v));
    match (&path.filter, sub_def) {
        (None, None) => whole_attribute(map, key, def, kind, value),
        (None, Some(sub_def)) => {
            let sub_key = sub_def.name;
            match map.get_mut(&key) {
                Some(Value::Array(items)) => {
                    for item in items.iter_mut().filter_map(Value::as_object_mut) {
                        set_or_remove(item, sub_key, kind, value.as_ref());
                    }
                }
                Some(Value::Object(object)) => {
                    set_or_remove(object, sub_key, kind, value.as_ref());
                    if object.is_empty() {
                        map.remove(&key);
                    }
                }
                _ if kind == OpKind::Remove => {}
                _ if def.multi => {
                    return Err(ScimError::bad("noTarget", format!("{} has no values", def.name)));
                }
                _ => {
                    let mut object = Map::new();
                    set_or_remove(&mut object, sub_key, kind, value.as_ref());
                    map.insert(key, Value::Object(object));
                }
            }
            Ok(())
        }
        (Some(filter), sub_def) => filtered(map, key, def, filter, sub_def, kind, value),
    }
}

fn apply_extension_fields(
    resource: &mut Value,
    core: &'static [Attr],
    kind: OpKind,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    // scim2 clients repeat the extension's `schemas` inside it; that is no attribute.
    let fields = value.and_then(Value::as_object).into_iter().flatten();
    for (name, field) in fields.filter(|(name, _)| !name.eq_ignore_ascii_case("schemas")) {
        let attr = AttrPath {
            extension: Some(ENTERPRISE_SCHEMA),
            attr: name.clone(),
            sub: None,
        };
        apply_at(
            resource,
            core,
            kind,
            &PatchPath { attr, filter: None },
            Some(field),
        )?;
    }
    Ok(())
}

fn set_or_remove(object: &mut Map<String, Value>, name: &str, kind: OpKind, value: Option<&Value>) {
    let key = key_in(object, name);
    match (kind, value) {
        (OpKind::Remove, _) | (_, None) => {
            object.remove(&key);
        }
        (_, Some(v)) => {
            object.insert(key, v.clone());
        }
    }
}

fn whole_attribute(
    map: &mut Map<String, Value>,
    key: String,
    def: &Attr,
    kind: OpKind,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        map.remove(&key);
        return Ok(());
    };
    if kind == OpKind::Remove {
        // `remove members` with a value removes just those members (Azure AD does this).
        if let (true, Some(Value::Array(items))) = (def.multi, map.get_mut(&key)) {
            let gone: Vec<Value> = match value {
                Value::Array(v) => v,
                one => vec![one],
            };
            items.retain(|item| !gone.iter().any(|g| same_element(item, g)));
            if items.is_empty() {
                map.remove(&key);
            }
        } else {
            map.remove(&key);
        }
        return Ok(());
    }
    if def.multi {
        let new: Vec<Value> = match value {
            Value::Array(v) => v,
            one => vec![one],
        };
        match (kind, map.get_mut(&key)) {
            (OpKind::Add, Some(Value::Array(items))) => {
                for item in new {
                    if !items.iter().any(|i| same_element(i, &item)) {
                        items.push(item);
                    }
                }
            }
            _ => {
                map.insert(key, Value::Array(new));
            }
        }
    } else if let (Kind::Complex, Value::Object(fields), Some(Value::Object(existing))) =
        (def.kind, &value, map.get_mut(&key))
    {
        // RFC 7644 §3.5.2.1/3: sub-attributes not given are left unchanged.
        for (k, v) in fields {
            let k = key_in(existing, k);
            existing.insert(k, v.clone());
        }
    } else {
        map.insert(key, value);
    }
    Ok(())
}

fn filtered(
    map: &mut Map<String, Value>,
    key: String,
    def: &Attr,
    filter: &Filter,
    sub_def: Option<&Attr>,
    kind: OpKind,
    value: Option<Value>,
) -> Result<(), ScimError> {
    if !def.multi {
        return Err(ScimError::invalid_path(format!(
            "{} is not multi-valued",
            def.name
        )));
    }
    let items = match map.get_mut(&key) {
        Some(Value::Array(items)) => items,
        _ => {
            map.insert(key.clone(), Value::Array(Vec::new()));
            match map.get_mut(&key) {
                Some(Value::Array(items)) => items,
                _ => return Err(ScimError::invalid_value("internal: array vanished")),
            }
        }
    };
    let hits: Vec<usize> = (0..items.len())
        .filter(|&i| filter::matches(filter, &items[i], Some(def.name)))
        .collect();
    match kind {
        OpKind::Remove => match sub_def {
            None => {
                let mut at = 0;
                items.retain(|_| {
                    at += 1;
                    !hits.contains(&(at - 1))
                });
            }
            Some(sub) => {
                for &i in &hits {
                    if let Some(item) = items[i].as_object_mut() {
                        set_or_remove(item, sub.name, kind, None);
                    }
                }
            }
        },
        OpKind::Add | OpKind::Replace => {
            if hits.is_empty() && kind == OpKind::Replace {
                return Err(ScimError::bad(
                    "noTarget",
                    format!("no value of {} matches the filter", def.name),
                ));
            }
            let value = value.unwrap_or(Value::Null);
            if hits.is_empty() {
                // Add to a filter that matches nothing: create the element the filter describes.
                let mut element = Map::new();
                equalities(filter, &mut element);
                match (sub_def, &value) {
                    (Some(sub), v) => {
                        element.insert(sub.name.to_string(), v.clone());
                    }
                    (None, Value::Object(fields)) => element.extend(fields.clone()),
                    (None, _) => return Err(ScimError::invalid_value("the value must be an object")),
                }
                items.push(Value::Object(element));
            }
            for &i in &hits {
                match (sub_def, items[i].as_object_mut()) {
                    (Some(sub), Some(item)) => set_or_remove(item, sub.name, kind, Some(&value)),
                    (None, Some(item)) if kind == OpKind::Add => {
                        if let Value::Object(fields) = &value {
                            item.extend(fields.clone());
                        }
                    }
                    _ => items[i] = value.clone(),
                }
            }
        }
    }
    if items.is_empty() {
        map.remove(&key);
    }
    Ok(())
}

/// The `attr eq "value"` parts of an and-chain, as fields of a new element.
fn equalities(filter: &Filter, element: &mut Map<String, Value>) {
    match filter {
        Filter::And(a, b) => {
            equalities(a, element);
            equalities(b, element);
        }
        Filter::Compare {
            path,
            op: Op::Eq,
            value,
        } if path.sub.is_none() => {
            element.insert(path.attr.clone(), value.clone());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::scim::schemas::{GROUP_ATTRS, USER_ATTRS};
    use serde_json::json;

    fn run(resource: &mut Value, core: &'static [Attr], ops: Value) -> Result<(), ScimError> {
        let body = json!({"schemas": [PATCH_SCHEMA], "Operations": ops});
        parse_request(&body)?
            .iter()
            .try_for_each(|op| apply(resource, op, core))
    }

    #[test]
    fn azure_style_member_removal_by_value_list() {
        let mut group =
            json!({"displayName": "G", "members": [{"value": "a"}, {"value": "b"}, {"value": "c"}]});
        let ops = json!([{"op": "Remove", "path": "members", "value": [{"value": "a"}, {"value": "c"}]}]);
        run(&mut group, GROUP_ATTRS, ops).unwrap();
        assert_eq!(group["members"], json!([{"value": "b"}]));
    }

    #[test]
    fn add_through_a_filter_that_matches_nothing_creates_the_element() {
        let mut user = json!({"userName": "a"});
        let ops = json!([{"op": "add", "path": "emails[type eq \"work\"].value", "value": "a@work"}]);
        run(&mut user, USER_ATTRS, ops).unwrap();
        assert_eq!(user["emails"], json!([{"type": "work", "value": "a@work"}]));
    }

    #[test]
    fn the_whole_extension_can_be_added_replaced_and_removed() {
        let mut user = json!({"userName": "a", ENTERPRISE_SCHEMA: {"department": "X", "costCenter": "1"}});
        let add = json!([{"op": "add", "path": ENTERPRISE_SCHEMA, "value": {"schemas": [ENTERPRISE_SCHEMA], "department": "Y"}}]);
        run(&mut user, USER_ATTRS, add).unwrap();
        assert_eq!(
            user[ENTERPRISE_SCHEMA],
            json!({"department": "Y", "costCenter": "1"})
        );
        let replace = json!([{"op": "replace", "path": ENTERPRISE_SCHEMA, "value": {"division": "Z"}}]);
        run(&mut user, USER_ATTRS, replace).unwrap();
        assert_eq!(user[ENTERPRISE_SCHEMA], json!({"division": "Z"}));
        run(
            &mut user,
            USER_ATTRS,
            json!([{"op": "remove", "path": ENTERPRISE_SCHEMA}]),
        )
        .unwrap();
        assert!(user.get(ENTERPRISE_SCHEMA).is_none());
    }

    #[test]
    fn bad_requests_name_their_scim_type() {
        let mut user = json!({"userName": "a"});
        let cases = [
            (
                json!({"Operations": [{"op": "add", "path": "title", "value": "x"}]}),
                "invalidSyntax",
            ),
            (
                json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "move", "path": "title"}]}),
                "invalidSyntax",
            ),
            (
                json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "title"}]}),
                "invalidValue",
            ),
            (
                json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "emails[", "value": 1}]}),
                "invalidPath",
            ),
        ];
        for (body, scim_type) in cases {
            let error = parse_request(&body)
                .and_then(|ops| ops.iter().try_for_each(|op| apply(&mut user, op, USER_ATTRS)));
            assert_eq!(error.unwrap_err().scim_type, Some(scim_type), "{body}");
        }
    }
}
