//! The known ways real SCIM servers deviate from RFC 7643/7644, by name, so
//! the sandbox LMS can behave like them (`"scim": {"quirks": [...]}`) and the
//! engine's ways of coping can be tested one deviation at a time.

use serde::{Deserialize, Serialize};

/// One deviation of a real SCIM server, named in snake_case in the faults JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum ScimQuirk {
    /// A filter naming an enterprise-extension attribute matches nothing.
    NoEnterpriseFilter,
    /// Users never carry `groups`; membership shows only under `/Groups`.
    NoGroupsAttribute,
    /// A PATCH with `attributes`/`excludedAttributes` fails with 500; GETs ignore both.
    IgnoresAttributesParam,
    /// A User's `active` is answered as the string "true"/"false".
    StringBooleans,
    /// A taken userName is answered 400 without `scimType`, not 409 uniqueness.
    // snake_case alone would say `duplicate_is400`.
    #[serde(rename = "duplicate_is_400")]
    DuplicateIs400,
    /// No ETags, no `meta.version`, and `If-Match` is ignored.
    NoEtag,
    /// No learning-path groups exist until a client creates them.
    NoGroups,
    /// List answers ignore `startIndex` and always start at the first resource.
    BrokenPaging,
}

impl ScimQuirk {
    pub const ALL: [ScimQuirk; 8] = [
        ScimQuirk::NoEnterpriseFilter,
        ScimQuirk::NoGroupsAttribute,
        ScimQuirk::IgnoresAttributesParam,
        ScimQuirk::StringBooleans,
        ScimQuirk::DuplicateIs400,
        ScimQuirk::NoEtag,
        ScimQuirk::NoGroups,
        ScimQuirk::BrokenPaging,
    ];

    /// The name the faults JSON uses.
    pub fn name(self) -> &'static str {
        match self {
            ScimQuirk::NoEnterpriseFilter => "no_enterprise_filter",
            ScimQuirk::NoGroupsAttribute => "no_groups_attribute",
            ScimQuirk::IgnoresAttributesParam => "ignores_attributes_param",
            ScimQuirk::StringBooleans => "string_booleans",
            ScimQuirk::DuplicateIs400 => "duplicate_is_400",
            ScimQuirk::NoEtag => "no_etag",
            ScimQuirk::NoGroups => "no_groups",
            ScimQuirk::BrokenPaging => "broken_paging",
        }
    }
}

impl std::str::FromStr for ScimQuirk {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        ScimQuirk::ALL
            .into_iter()
            .find(|quirk| quirk.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = ScimQuirk::ALL.iter().map(|q| q.name()).collect();
                format!("unknown SCIM quirk {name:?}; the quirks are {}", known.join(", "))
            })
    }
}

// The enum cannot hold an unknown name, so one is refused while the JSON is
// read, like an unknown field, naming it and the known ones.
impl TryFrom<String> for ScimQuirk {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        name.parse()
    }
}

/// The quirks in force, as a set cheap to copy out of the lock per request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScimQuirks(u16);

impl ScimQuirks {
    pub fn has(self, quirk: ScimQuirk) -> bool {
        self.0 & (1 << quirk as u16) != 0
    }
}

impl<'a> FromIterator<&'a ScimQuirk> for ScimQuirks {
    fn from_iter<I: IntoIterator<Item = &'a ScimQuirk>>(quirks: I) -> Self {
        ScimQuirks(quirks.into_iter().fold(0, |bits, &q| bits | 1 << q as u16))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_an_unknown_one_lists_the_known() {
        for quirk in ScimQuirk::ALL {
            let json = serde_json::to_string(&quirk).unwrap();
            assert_eq!(json, format!("\"{}\"", quirk.name()));
            assert_eq!(serde_json::from_str::<ScimQuirk>(&json).unwrap(), quirk);
        }
        let error = "no_etags".parse::<ScimQuirk>().unwrap_err();
        assert!(error.contains("\"no_etags\""), "{error}");
        assert!(error.contains("no_etag, no_groups, broken_paging"), "{error}");
    }

    #[test]
    fn a_set_holds_exactly_what_it_was_given() {
        let set: ScimQuirks = [ScimQuirk::NoEtag, ScimQuirk::BrokenPaging].iter().collect();
        for quirk in ScimQuirk::ALL {
            let given = matches!(quirk, ScimQuirk::NoEtag | ScimQuirk::BrokenPaging);
            assert_eq!(set.has(quirk), given, "{quirk:?}");
        }
    }
}
