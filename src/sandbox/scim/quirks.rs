//! The LMS behaving like real SCIM servers that deviate from the RFCs: each
//! [`ScimQuirk`] in force bends an answer here, so the handlers stay spec-shaped.

use axum::http::StatusCode;
use serde_json::Value;

use super::error::ScimError;
use super::filter::{AttrPath, Filter};
use super::render::Projection;
use super::schemas::{self, ENTERPRISE_SCHEMA};
use super::shown::{Found, Shown};
use super::store::LmsState;
use super::validate::ResourceKind;
use crate::sandbox::faults::{ScimQuirk, ScimQuirks};

/// `no_enterprise_filter`: whether the filter names an enterprise-extension
/// attribute, by its URN or by its short name (`employeeNumber`).
pub fn names_enterprise(filter: &Filter) -> bool {
    let enterprise = |path: &AttrPath| match path.extension {
        Some(urn) => urn == ENTERPRISE_SCHEMA,
        None => {
            let core = [schemas::COMMON_ATTRS, schemas::USER_ATTRS];
            core.iter()
                .all(|attrs| schemas::find(attrs, &path.attr).is_none())
                && schemas::find(schemas::ENTERPRISE_ATTRS, &path.attr).is_some()
        }
    };
    match filter {
        Filter::Compare { path, .. } | Filter::Present(path) | Filter::ValuePath { path, .. } => {
            enterprise(path)
        }
        Filter::And(a, b) | Filter::Or(a, b) => names_enterprise(a) || names_enterprise(b),
        Filter::Not(inner) => names_enterprise(inner),
    }
}

/// How a resource leaves under the quirks in force: as the spec has it, or
/// rendered and bent (no `groups`, a string `active`, no `meta.version`).
pub fn shown<'a>(found: &'a Found, base: &'a str, projection: &Projection, quirks: ScimQuirks) -> Shown<'a> {
    let bends = [
        ScimQuirk::NoGroupsAttribute,
        ScimQuirk::StringBooleans,
        ScimQuirk::NoEtag,
    ];
    if !bends.into_iter().any(|q| quirks.has(q)) {
        return found.shown(base, projection);
    }
    let mut value = found.rendered(base, projection);
    if let Some(object) = value.as_object_mut() {
        if found.kind == ResourceKind::User {
            if quirks.has(ScimQuirk::NoGroupsAttribute) {
                object.remove("groups");
            }
            if quirks.has(ScimQuirk::StringBooleans)
                && let Some(active) = object.get_mut("active")
                && let Value::Bool(flag) = *active
            {
                *active = Value::String(flag.to_string());
            }
        }
        if quirks.has(ScimQuirk::NoEtag)
            && let Some(Value::Object(meta)) = object.get_mut("meta")
        {
            meta.remove("version");
        }
    }
    Shown::Rendered(value)
}

/// `string_booleans`: a client echoing the server's `"active": "false"` back
/// in a POST or PUT is understood, as such a server understands it.
pub fn accept_string_booleans(body: &mut Value, quirks: ScimQuirks) {
    if !quirks.has(ScimQuirk::StringBooleans) {
        return;
    }
    let Some(object) = body.as_object_mut() else {
        return;
    };
    for (key, value) in object.iter_mut() {
        if key.eq_ignore_ascii_case("active")
            && let Some(flag) = value
                .as_str()
                .and_then(|s| s.to_ascii_lowercase().parse::<bool>().ok())
        {
            *value = Value::Bool(flag);
        }
    }
}

/// `duplicate_is_400`: a taken userName is a plain 400, without the
/// `uniqueness` scimType a client could recognise.
pub fn refusal(error: ScimError, quirks: ScimQuirks) -> ScimError {
    if quirks.has(ScimQuirk::DuplicateIs400) && error.scim_type == Some("uniqueness") {
        ScimError::new(StatusCode::BAD_REQUEST, None, error.detail)
    } else {
        error
    }
}

/// `no_etag`: the server keeps no versions, so `If-Match` checks nothing.
pub fn if_match(header: Option<&str>, quirks: ScimQuirks) -> Option<&str> {
    header.filter(|_| !quirks.has(ScimQuirk::NoEtag))
}

/// `ignores_attributes_param`: GETs answer whole resources, whatever was asked.
pub fn read_projection(asked: Projection, quirks: ScimQuirks) -> Projection {
    if quirks.has(ScimQuirk::IgnoresAttributesParam) {
        Projection::default()
    } else {
        asked
    }
}

/// `ignores_attributes_param`: the server reads the resource back through the
/// projection before patching it, finds it incomplete and fails.
pub fn check_patch_query(params: &[(String, String)], quirks: ScimQuirks) -> Result<(), ScimError> {
    let projected = params.iter().any(|(name, _)| {
        name.eq_ignore_ascii_case("attributes") || name.eq_ignore_ascii_case("excludedAttributes")
    });
    if quirks.has(ScimQuirk::IgnoresAttributesParam) && projected {
        return Err(ScimError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "internal error reading the resource before the patch",
        ));
    }
    Ok(())
}

impl LmsState {
    /// `no_groups` set at run time: every group goes, as on a server that
    /// never had learning paths.
    pub fn delete_all_groups(&mut self) {
        let ids: Vec<String> = self.groups.keys().cloned().collect();
        for id in ids {
            // Each id is in the table and no If-Match is given: this cannot fail.
            let _ = self.delete(ResourceKind::Group, &id, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::scim::filter;

    #[test]
    fn enterprise_attributes_are_spotted_by_urn_and_short_name_anywhere_in_a_filter() {
        let named = [
            format!("{ENTERPRISE_SCHEMA}:employeeNumber eq \"7\""),
            format!("{ENTERPRISE_SCHEMA}:manager.value pr"),
            "userName eq \"a\" or not (department eq \"Sales\")".to_string(),
        ];
        for text in named {
            assert!(names_enterprise(&filter::parse(&text).unwrap()), "{text}");
        }
        for text in [
            "userName eq \"a\"",
            "emails[type eq \"work\"]",
            "externalId pr and active eq true",
        ] {
            assert!(!names_enterprise(&filter::parse(text).unwrap()), "{text}");
        }
    }
}
