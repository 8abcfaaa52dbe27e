//! How resources leave the LMS: `meta.location`, never-returned attributes
//! dropped, and the `attributes` / `excludedAttributes` projection (RFC 7644 §3.9).

use serde_json::{Map, Value};

use super::error::ScimError;
use super::filter::AttrPath;
use super::validate::ResourceKind;

/// Which attributes a response carries.
#[derive(Default)]
pub struct Projection {
    pub attributes: Vec<AttrPath>,
    pub excluded: Vec<AttrPath>,
}

impl Projection {
    /// Whether a core attribute appears in the answer.
    pub fn shows(&self, attr: &str) -> bool {
        let named = |p: &AttrPath| p.extension.is_none() && p.attr.eq_ignore_ascii_case(attr);
        if !self.attributes.is_empty() {
            return self.attributes.iter().any(named);
        }
        !self.excluded.iter().any(|p| named(p) && p.sub.is_none())
    }

    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Result<Projection, ScimError> {
        let list = |text: Option<&str>| -> Result<Vec<AttrPath>, ScimError> {
            text.into_iter()
                .flat_map(|t| t.split(','))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| AttrPath::parse(t).map_err(ScimError::invalid_value))
                .collect()
        };
        Ok(Projection {
            attributes: list(attributes)?,
            excluded: list(excluded)?,
        })
    }

    /// From a `/.search` body's `attributes` / `excludedAttributes` arrays.
    pub fn from_search(body: &Value) -> Result<Projection, ScimError> {
        let joined = |key: &str| {
            super::filter::get_ci(body, key)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
        };
        Projection::parse(
            joined("attributes").as_deref(),
            joined("excludedAttributes").as_deref(),
        )
    }
}

fn key_of(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// Moves the part of `from` that `path` names into `to`.
fn copy(from: &Map<String, Value>, to: &mut Map<String, Value>, path: &AttrPath) {
    let (from, to) = match path.extension {
        Some(urn) => {
            let Some(Value::Object(ext)) = key_of(from, urn).and_then(|k| from.get(&k)) else {
                return;
            };
            if path.attr.is_empty() {
                to.insert(urn.to_string(), Value::Object(ext.clone()));
                return;
            }
            let target = to
                .entry(urn.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            let Some(target) = target.as_object_mut() else {
                return;
            };
            (ext, target)
        }
        None => (from, to),
    };
    let Some(key) = key_of(from, &path.attr) else {
        return;
    };
    let value = &from[&key];
    let picked = match (&path.sub, value) {
        (None, v) => v.clone(),
        (Some(sub), Value::Object(o)) => Value::Object(
            key_of(o, sub)
                .map(|k| (k.clone(), o[&k].clone()))
                .into_iter()
                .collect(),
        ),
        (Some(sub), Value::Array(items)) => Value::Array(
            items
                .iter()
                .filter_map(Value::as_object)
                .map(|o| {
                    Value::Object(
                        key_of(o, sub)
                            .map(|k| (k.clone(), o[&k].clone()))
                            .into_iter()
                            .collect(),
                    )
                })
                .collect(),
        ),
        (Some(_), _) => return,
    };
    to.insert(key, picked);
}

fn remove(object: &mut Map<String, Value>, path: &AttrPath) {
    let target = match path.extension {
        Some(urn) => {
            let Some(key) = key_of(object, urn) else { return };
            if path.attr.is_empty() {
                object.remove(&key);
                return;
            }
            match object.get_mut(&key).and_then(Value::as_object_mut) {
                Some(ext) => ext,
                None => return,
            }
        }
        None => object,
    };
    if ["id", "schemas"]
        .iter()
        .any(|a| path.attr.eq_ignore_ascii_case(a))
    {
        return;
    }
    let Some(key) = key_of(target, &path.attr) else {
        return;
    };
    match &path.sub {
        None => {
            target.remove(&key);
        }
        Some(sub) => match target.get_mut(&key) {
            Some(Value::Object(o)) => {
                if let Some(k) = key_of(o, sub) {
                    o.remove(&k);
                }
            }
            Some(Value::Array(items)) => {
                for o in items.iter_mut().filter_map(Value::as_object_mut) {
                    if let Some(k) = key_of(o, sub) {
                        o.remove(&k);
                    }
                }
            }
            _ => {}
        },
    }
}

/// A stored resource as the client sees it.
pub fn render(base: &str, kind: ResourceKind, mut value: Value, projection: &Projection) -> Value {
    let Some(object) = value.as_object_mut() else {
        return value;
    };
    let id = object.get("id").and_then(Value::as_str).unwrap_or("").to_string();
    object.remove("password");
    if let Some(meta) = object.get_mut("meta").and_then(Value::as_object_mut) {
        meta.insert(
            "location".into(),
            format!("{base}/{}/{id}", kind.endpoint()).into(),
        );
    }
    if let Some(Value::Array(groups)) = object.get_mut("groups") {
        for group in groups.iter_mut().filter_map(Value::as_object_mut) {
            let gid = group
                .get("value")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            group.insert("$ref".into(), format!("{base}/Groups/{gid}").into());
        }
    }
    if !projection.attributes.is_empty() {
        let mut shown = Map::new();
        for always in ["schemas", "id"] {
            if let Some(v) = object.get(always) {
                shown.insert(always.into(), v.clone());
            }
        }
        for path in &projection.attributes {
            copy(object, &mut shown, path);
        }
        return Value::Object(shown);
    }
    for path in &projection.excluded {
        remove(object, path);
    }
    value
}
