//! A stored resource on its way out without a copy: the store hands out its
//! shared `Arc`, and the answer is serialised straight from it with
//! `meta.location` and a user's `groups` woven in and `password` left out.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::render::{Projection, render};
use super::validate::ResourceKind;

/// A group a user is in, as `groups` shows it (from the membership index).
pub struct GroupRef {
    pub id: String,
    pub display: String,
}

/// A resource as the store holds it, with the user's computed groups.
pub struct Found {
    pub kind: ResourceKind,
    pub stored: Arc<Value>,
    pub groups: Vec<GroupRef>,
}

impl Found {
    /// The resource as GET shows it, before `render` (without meta.location).
    pub fn into_value(self) -> Value {
        let mut shown = Arc::unwrap_or_clone(self.stored);
        if !self.groups.is_empty() {
            let groups = self
                .groups
                .iter()
                .map(|g| json!({"value": g.id, "display": g.display, "type": "direct"}))
                .collect();
            shown["groups"] = Value::Array(groups);
        }
        shown
    }

    pub fn version(&self) -> &str {
        self.stored["meta"]["version"].as_str().unwrap_or("")
    }

    pub fn id(&self) -> &str {
        self.stored["id"].as_str().unwrap_or("")
    }

    /// How the client sees it: serialised in place when the whole resource
    /// is asked for, through `render` on a copy when a projection picks parts.
    pub fn shown<'a>(&'a self, base: &'a str, projection: &Projection) -> Shown<'a> {
        let plain = projection.attributes.is_empty()
            && projection.excluded.is_empty()
            && self.stored.as_object().is_some_and(|o| !o.contains_key("groups"));
        if plain {
            return Shown::InPlace { base, found: self };
        }
        Shown::Rendered(self.rendered(base, projection))
    }

    /// How the client sees it, always as a copy: for answers bent after rendering.
    pub fn rendered(&self, base: &str, projection: &Projection) -> Value {
        let copy = Found {
            kind: self.kind,
            stored: self.stored.clone(),
            groups: self
                .groups
                .iter()
                .map(|g| GroupRef {
                    id: g.id.clone(),
                    display: g.display.clone(),
                })
                .collect(),
        };
        render(base, self.kind, copy.into_value(), projection)
    }
}

/// One resource of an answer, ready to serialise.
pub enum Shown<'a> {
    InPlace { base: &'a str, found: &'a Found },
    Rendered(Value),
}

impl Shown<'_> {
    /// The ETag of this answer: its `meta.version`, when the answer has one.
    pub fn version(&self) -> Option<&str> {
        match self {
            Shown::InPlace { found, .. } => found.stored["meta"]["version"].as_str(),
            Shown::Rendered(value) => value["meta"]["version"].as_str(),
        }
    }

    /// The JSON text, appended to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Shown::Rendered(value) => write_json(out, value),
            Shown::InPlace { base, found } => match found.stored.as_object() {
                Some(object) => write_in_place(out, base, found, object),
                None => write_json(out, &*found.stored),
            },
        }
    }
}

/// The same bytes `render` would give: keys in the stored map's (sorted)
/// order, with `groups` and `meta.location` at their sorted places.
fn write_in_place(out: &mut Vec<u8>, base: &str, found: &Found, object: &Map<String, Value>) {
    out.push(b'{');
    let mut first = true;
    let mut separate = |out: &mut Vec<u8>| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
    };
    let mut groups_due = !found.groups.is_empty();
    for (key, value) in object {
        if groups_due && key.as_str() > "groups" {
            separate(out);
            write_groups(out, base, &found.groups);
            groups_due = false;
        }
        match (key.as_str(), value) {
            ("password", _) => {}
            ("meta", Value::Object(meta)) => {
                separate(out);
                write_json(out, key);
                out.push(b':');
                write_meta(out, base, found, meta);
            }
            _ => {
                separate(out);
                write_entry(out, key, value);
            }
        }
    }
    if groups_due {
        separate(out);
        write_groups(out, base, &found.groups);
    }
    out.push(b'}');
}

fn write_meta(out: &mut Vec<u8>, base: &str, found: &Found, meta: &Map<String, Value>) {
    let location = |out: &mut Vec<u8>| {
        out.extend_from_slice(b"\"location\":");
        write_location(out, base, found.kind.endpoint(), found.id());
    };
    out.push(b'{');
    let mut first = true;
    let mut location_due = true;
    for (key, value) in meta {
        if location_due && key.as_str() >= "location" {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            location(out);
            location_due = false;
        }
        if key != "location" {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            write_entry(out, key, value);
        }
    }
    if location_due {
        if !first {
            out.push(b',');
        }
        location(out);
    }
    out.push(b'}');
}

/// `"{base}/{endpoint}/{id}"`, written without building the string first.
fn write_location(out: &mut Vec<u8>, base: &str, endpoint: &str, id: &str) {
    let plain = |s: &str| !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
    if plain(base) && plain(id) {
        out.push(b'"');
        out.extend_from_slice(base.as_bytes());
        out.push(b'/');
        out.extend_from_slice(endpoint.as_bytes());
        out.push(b'/');
        out.extend_from_slice(id.as_bytes());
        out.push(b'"');
    } else {
        write_json(out, &format!("{base}/{endpoint}/{id}"));
    }
}

fn write_groups(out: &mut Vec<u8>, base: &str, groups: &[GroupRef]) {
    out.extend_from_slice(b"\"groups\":[");
    for (i, group) in groups.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"$ref\":");
        write_location(out, base, "Groups", &group.id);
        out.extend_from_slice(b",\"display\":");
        write_json(out, &group.display);
        out.extend_from_slice(b",\"type\":\"direct\",\"value\":");
        write_json(out, &group.id);
        out.push(b'}');
    }
    out.push(b']');
}

/// Compact JSON (serde_json's) appended to `out`.
fn write_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    serde_json::to_writer(&mut *out, value).expect("JSON serialises into memory");
}

/// `"key":value`, without the separating comma.
fn write_entry(out: &mut Vec<u8>, key: &str, value: &Value) {
    write_json(out, key);
    out.push(b':');
    write_json(out, value);
}
