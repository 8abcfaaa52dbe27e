//! How a real SCIM server departs from RFC 7643/7644 in ways hrsync knows how to
//! work around. The engine reads what a server says it supports; a quirk is
//! what the configuration (or a probe) adds where the server's word is wrong.

/// The URN of SCIM's enterprise User extension (RFC 7643 §4.3): employeeNumber,
/// department, manager and the other fields the contract maps there.
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

named_enum!(
    /// One known departure of a SCIM server from the specification.
    #[derive(PartialOrd, Ord)]
    ScimQuirk {
        /// Filters on enterprise-extension attributes (employeeNumber) answer nothing:
        /// learners are looked up by userName instead.
        NoEnterpriseFilter => "no_enterprise_filter",
        /// Users never carry `groups`: membership is read from `/Groups`.
        NoGroupsAttribute => "no_groups_attribute",
        /// The `attributes` parameter breaks requests (a PATCH answers 500): never sent.
        IgnoresAttributesParam => "ignores_attributes_param",
        /// Booleans come as the strings "true"/"false": read as booleans.
        StringBooleans => "string_booleans",
        /// A taken userName answers 400 instead of 409.
        DuplicateIs400 => "duplicate_is_400",
        /// No ETags whatever the server claims: updates go without If-Match.
        NoEtag => "no_etag",
    }
);

impl ScimQuirk {
    /// What hrsync does differently because of the quirk, in the operator's words.
    pub fn effect(self) -> &'static str {
        match self {
            ScimQuirk::NoEnterpriseFilter => {
                "a learner without externalId is looked up by userName, not by employeeNumber"
            }
            ScimQuirk::NoGroupsAttribute => "group membership is read from /Groups members",
            ScimQuirk::IgnoresAttributesParam => "no `attributes` parameter is sent on any request",
            ScimQuirk::StringBooleans => "\"true\"/\"false\" strings are read as booleans",
            ScimQuirk::DuplicateIs400 => {
                "a 400 on create is checked for a taken userName (adopt or report a duplicate)"
            }
            ScimQuirk::NoEtag => "updates are sent without If-Match: lost-update protection is off",
        }
    }

    /// The valid names, for an error message.
    pub fn names() -> String {
        ScimQuirk::ALL
            .iter()
            .map(|q| q.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
