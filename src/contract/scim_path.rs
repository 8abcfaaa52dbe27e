//! The SCIM attribute paths a contract may name (`userName`, `name.givenName`,
//! `emails[type eq "work"].value`, `urn:…:enterprise:2.0:User:manager.value`),
//! and reading or writing the value at one inside a SCIM resource.

use serde_json::{Map, Value};

/// One parsed attribute path. Attribute names match case-insensitively, as SCIM says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimPath {
    /// The extension schema URN the attribute lives under, if any.
    pub schema: Option<String>,
    pub attribute: String,
    /// For a multi-valued attribute: the element whose `attr` equals `value`.
    pub filter: Option<(String, String)>,
    pub sub_attribute: Option<String>,
}

impl ScimPath {
    pub fn parse(text: &str) -> Result<ScimPath, String> {
        let text = text.trim();
        let (schema, rest) = if text.to_ascii_lowercase().starts_with("urn:") {
            // The schema is everything up to the last ':' before any '[' or '.'.
            let end = text.find(['[']).unwrap_or(text.len());
            let colon = text[..end]
                .rfind(':')
                .filter(|&c| text[..c].matches(':').count() >= 2)
                .ok_or_else(|| format!("\"{text}\": a schema URN, then ':' and the attribute"))?;
            (Some(text[..colon].to_string()), &text[colon + 1..])
        } else {
            (None, text)
        };
        let (head, filter, tail) = match rest.find('[') {
            Some(open) => {
                let close = rest
                    .find(']')
                    .filter(|&c| c > open)
                    .ok_or_else(|| format!("\"{text}\": '[' without a closing ']'"))?;
                let filter = parse_filter(&rest[open + 1..close]).ok_or_else(|| {
                    format!("\"{text}\": only filters like [type eq \"work\"] are supported")
                })?;
                let tail = &rest[close + 1..];
                let tail = match tail {
                    "" => {
                        return Err(format!(
                            "\"{text}\": a filtered path needs a sub-attribute, e.g. .value"
                        ));
                    }
                    t => Some(
                        t.strip_prefix('.')
                            .ok_or_else(|| format!("\"{text}\": expected '.' after ']'"))?,
                    ),
                };
                (&rest[..open], Some(filter), tail)
            }
            None => match rest.split_once('.') {
                Some((head, tail)) => (head, None, Some(tail)),
                None => (rest, None, None),
            },
        };
        let valid = |name: &str| {
            !name.is_empty()
                && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !valid(head) {
            return Err(format!("\"{text}\": \"{head}\" is not an attribute name"));
        }
        if let Some(tail) = tail.filter(|t| !valid(t)) {
            return Err(format!("\"{text}\": \"{tail}\" is not a sub-attribute name"));
        }
        Ok(ScimPath {
            schema,
            attribute: head.to_string(),
            filter,
            sub_attribute: tail.map(str::to_string),
        })
    }

    /// The value at this path in `resource`; None when absent.
    pub fn get<'a>(&self, resource: &'a Value) -> Option<&'a Value> {
        let container = match &self.schema {
            Some(schema) => get_ci(resource.as_object()?, schema)?,
            None => resource,
        };
        let value = get_ci(container.as_object()?, &self.attribute)?;
        let value = match &self.filter {
            Some((attr, wanted)) => value.as_array()?.iter().find(|e| matches(e, attr, wanted))?,
            None => value,
        };
        match &self.sub_attribute {
            Some(sub) => get_ci(value.as_object()?, sub),
            None => Some(value),
        }
    }

    /// Sets the value at this path, creating what is missing on the way; `Value::Null`
    /// removes it. Existing keys keep their spelling, so no duplicate key appears.
    pub fn set(&self, resource: &mut Value, value: Value) {
        let Some(root) = as_object(resource) else { return };
        let container = match &self.schema {
            Some(schema) if value.is_null() && key_ci(root, schema).is_none() => return,
            Some(schema) => {
                let Some(c) = as_object(entry_ci(root, schema)) else {
                    return;
                };
                c
            }
            None => root,
        };
        let Some(leaf_parent) = self.leaf_parent(container, value.is_null()) else {
            return;
        };
        let leaf = self.sub_attribute.as_deref().unwrap_or(&self.attribute);
        if value.is_null() {
            if let Some(key) = key_ci(leaf_parent, leaf) {
                leaf_parent.remove(&key);
            }
        } else {
            *entry_ci(leaf_parent, leaf) = value;
        }
    }

    /// The object that holds the leaf: the container itself, the sub-attribute's
    /// object, or the filtered element (created unless we are only removing).
    fn leaf_parent<'a>(
        &self,
        container: &'a mut Map<String, Value>,
        removing: bool,
    ) -> Option<&'a mut Map<String, Value>> {
        match (&self.filter, &self.sub_attribute) {
            (None, None) => Some(container),
            (None, Some(_)) => {
                if removing && key_ci(container, &self.attribute).is_none() {
                    return None;
                }
                as_object(entry_ci(container, &self.attribute))
            }
            (Some((attr, wanted)), _) => {
                if removing && key_ci(container, &self.attribute).is_none() {
                    return None;
                }
                let list = entry_ci(container, &self.attribute);
                if !list.is_array() {
                    *list = Value::Array(Vec::new());
                }
                let list = list.as_array_mut()?;
                let index = match list.iter().position(|e| matches(e, attr, wanted)) {
                    Some(index) => index,
                    None if removing => return None,
                    None => {
                        let mut element = Map::new();
                        element.insert(attr.clone(), Value::String(wanted.clone()));
                        list.push(Value::Object(element));
                        list.len() - 1
                    }
                };
                list[index].as_object_mut()
            }
        }
    }
}

fn parse_filter(text: &str) -> Option<(String, String)> {
    let mut parts = text.trim().splitn(3, ' ');
    let attr = parts.next()?.trim();
    if !parts.next()?.eq_ignore_ascii_case("eq") {
        return None;
    }
    let value = parts.next()?.trim().strip_prefix('"')?.strip_suffix('"')?;
    (!attr.is_empty()).then(|| (attr.to_string(), value.to_string()))
}

fn matches(element: &Value, attr: &str, wanted: &str) -> bool {
    element
        .as_object()
        .and_then(|e| get_ci(e, attr))
        .and_then(Value::as_str)
        .is_some_and(|v| v.eq_ignore_ascii_case(wanted))
}

fn key_ci(object: &Map<String, Value>, name: &str) -> Option<String> {
    object.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

fn get_ci<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn entry_ci<'a>(object: &'a mut Map<String, Value>, name: &str) -> &'a mut Value {
    let key = key_ci(object, name).unwrap_or_else(|| name.to_string());
    object.entry(key).or_insert(Value::Null)
}

/// The object inside `value`, turning a null into an empty object first.
fn as_object(value: &mut Value) -> Option<&mut Map<String, Value>> {
    if value.is_null() {
        *value = Value::Object(Map::new());
    }
    value.as_object_mut()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::ScimPath;
    use crate::model::ENTERPRISE_SCHEMA;

    fn manager() -> String {
        format!("{ENTERPRISE_SCHEMA}:manager.value")
    }

    #[test]
    fn parses_every_shape_the_contract_uses() {
        let p = ScimPath::parse(&manager()).unwrap();
        assert_eq!(p.schema.as_deref(), Some(ENTERPRISE_SCHEMA));
        assert_eq!(
            (p.attribute.as_str(), p.sub_attribute.as_deref()),
            ("manager", Some("value"))
        );
        let p = ScimPath::parse(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.filter, Some(("type".into(), "work".into())));
        assert_eq!(ScimPath::parse("userName").unwrap().sub_attribute, None);
        for bad in [
            "",
            "emails[type work].value",
            "emails[type eq \"work\"]",
            "emails[type eq \"w\"]x",
            "name.",
            "urn:x",
            "9lives",
        ] {
            assert!(ScimPath::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn set_builds_a_resource_and_get_reads_it_back() {
        let mut user = json!({});
        for (path, value) in [
            ("userName", json!("ada@x.example")),
            ("name.givenName", json!("Ada")),
            (r#"emails[type eq "work"].value"#, json!("ada@x.example")),
            (manager().as_str(), json!("m-1")),
            (r#"addresses[type eq "work"].locality"#, json!("Berlin")),
        ] {
            let path = ScimPath::parse(path).unwrap();
            path.set(&mut user, value.clone());
            assert_eq!(path.get(&user), Some(&value));
        }
        assert_eq!(
            user["emails"],
            json!([{"type": "work", "value": "ada@x.example"}])
        );
        assert_eq!(user[ENTERPRISE_SCHEMA]["manager"]["value"], "m-1");
    }

    #[test]
    fn set_keeps_existing_spelling_and_other_elements_and_null_removes() {
        let mut user = json!({"UserName": "old", "emails": [{"type": "home", "value": "h@x"}, {"Type": "Work", "value": "w@x"}]});
        ScimPath::parse("userName").unwrap().set(&mut user, json!("new"));
        assert_eq!(
            user,
            json!({"UserName": "new", "emails": [{"type": "home", "value": "h@x"}, {"Type": "Work", "value": "w@x"}]})
        );
        let work = ScimPath::parse(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(work.get(&user), Some(&json!("w@x")));
        work.set(&mut user, serde_json::Value::Null);
        assert_eq!(user["emails"][1], json!({"Type": "Work"}));
        assert_eq!(work.get(&user), None);
        // Removing what is not there creates nothing.
        ScimPath::parse(&manager())
            .unwrap()
            .set(&mut user, serde_json::Value::Null);
        assert!(user.get(ENTERPRISE_SCHEMA).is_none());
    }
}
