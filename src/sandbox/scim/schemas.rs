//! The schemas the simulated LMS serves (RFC 7643 §8.7): one table of attribute
//! definitions drives discovery, validation, case-exactness and mutability.

use serde_json::{Value, json};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    String,
    Boolean,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Returned {
    Default,
    Never,
}

#[derive(Clone, Copy, Debug)]
pub struct Attr {
    pub name: &'static str,
    pub kind: Kind,
    pub multi: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub unique: bool,
    pub canonical: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub: &'static [Attr],
}

const fn attr(name: &'static str, kind: Kind) -> Attr {
    Attr {
        name,
        kind,
        multi: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        unique: false,
        canonical: &[],
        reference_types: &[],
        sub: &[],
    }
}

const fn string(name: &'static str) -> Attr {
    attr(name, Kind::String)
}

const fn complex(name: &'static str, sub: &'static [Attr]) -> Attr {
    Attr {
        sub,
        ..attr(name, Kind::Complex)
    }
}

const fn reference(name: &'static str, reference_types: &'static [&'static str]) -> Attr {
    Attr {
        reference_types,
        case_exact: true,
        ..attr(name, Kind::Reference)
    }
}

impl Attr {
    const fn multi(self) -> Self {
        Attr { multi: true, ..self }
    }
    const fn required(self) -> Self {
        Attr {
            required: true,
            ..self
        }
    }
    const fn exact(self) -> Self {
        Attr {
            case_exact: true,
            ..self
        }
    }
    const fn read_only(self) -> Self {
        Attr {
            mutability: Mutability::ReadOnly,
            ..self
        }
    }
    const fn immutable(self) -> Self {
        Attr {
            mutability: Mutability::Immutable,
            ..self
        }
    }
    const fn canonical(self, canonical: &'static [&'static str]) -> Self {
        Attr { canonical, ..self }
    }

    /// The sub-attribute called `name`, in any letter case.
    pub fn sub_attr(&self, name: &str) -> Option<&'static Attr> {
        self.sub.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// value/display/type/primary, the shape of most multi-valued attributes.
macro_rules! plural {
    ($name:expr, $value:expr, [$($canonical:expr),*]) => {
        complex($name, &[
            $value,
            string("display"),
            string("type").canonical(&[$($canonical),*]),
            attr("primary", Kind::Boolean),
        ]).multi()
    };
}

pub const USER_ATTRS: &[Attr] = &[
    Attr {
        unique: true,
        ..string("userName").required()
    },
    complex(
        "name",
        &[
            string("formatted"),
            string("familyName"),
            string("givenName"),
            string("middleName"),
            string("honorificPrefix"),
            string("honorificSuffix"),
        ],
    ),
    string("displayName"),
    string("nickName"),
    reference("profileUrl", &["external"]),
    string("title"),
    string("userType"),
    string("preferredLanguage"),
    string("locale"),
    string("timezone"),
    attr("active", Kind::Boolean),
    Attr {
        mutability: Mutability::WriteOnly,
        returned: Returned::Never,
        ..string("password")
    },
    plural!("emails", string("value"), ["work", "home", "other"]),
    plural!(
        "phoneNumbers",
        string("value"),
        ["work", "home", "mobile", "fax", "pager", "other"]
    ),
    plural!(
        "ims",
        string("value"),
        ["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]
    ),
    plural!(
        "photos",
        reference("value", &["external"]),
        ["photo", "thumbnail"]
    ),
    complex(
        "addresses",
        &[
            string("formatted"),
            string("streetAddress"),
            string("locality"),
            string("region"),
            string("postalCode"),
            string("country"),
            string("type").canonical(&["work", "home", "other"]),
            attr("primary", Kind::Boolean),
        ],
    )
    .multi(),
    complex(
        "groups",
        &[
            string("value").read_only(),
            reference("$ref", &["User", "Group"]).read_only(),
            string("display").read_only(),
            string("type").canonical(&["direct", "indirect"]).read_only(),
        ],
    )
    .multi()
    .read_only(),
    plural!("entitlements", string("value"), []),
    plural!("roles", string("value"), []),
    plural!("x509Certificates", attr("value", Kind::Binary), []),
];

pub const ENTERPRISE_ATTRS: &[Attr] = &[
    string("employeeNumber"),
    string("costCenter"),
    string("organization"),
    string("division"),
    string("department"),
    complex(
        "manager",
        &[
            string("value").exact(),
            reference("$ref", &["User"]),
            string("displayName").read_only(),
        ],
    ),
];

pub const GROUP_ATTRS: &[Attr] = &[
    string("displayName").required(),
    complex(
        "members",
        &[
            string("value").exact().immutable(),
            reference("$ref", &["User", "Group"]).immutable(),
            string("type").canonical(&["User", "Group"]).immutable(),
        ],
    )
    .multi(),
];

/// The common attributes every resource has (RFC 7643 §3.1), outside the schema tables.
pub const COMMON_ATTRS: &[Attr] = &[
    string("id").exact().read_only(),
    string("externalId").exact(),
    complex(
        "meta",
        &[
            string("resourceType").read_only(),
            attr("created", Kind::DateTime).read_only(),
            attr("lastModified", Kind::DateTime).read_only(),
            reference("location", &["uri"]).read_only(),
            string("version").exact().read_only(),
        ],
    )
    .read_only(),
];

/// The attribute table of a schema URN (core or extension).
pub fn attrs_of(schema: &str) -> &'static [Attr] {
    match schema {
        USER_SCHEMA => USER_ATTRS,
        GROUP_SCHEMA => GROUP_ATTRS,
        ENTERPRISE_SCHEMA => ENTERPRISE_ATTRS,
        _ => &[],
    }
}

pub fn find<'a>(attrs: &'a [Attr], name: &str) -> Option<&'a Attr> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

fn attr_json(a: &Attr) -> Value {
    let mut v = json!({
        "name": a.name,
        "type": match a.kind {
            Kind::String => "string",
            Kind::Boolean => "boolean",
            Kind::Integer => "integer",
            Kind::DateTime => "dateTime",
            Kind::Binary => "binary",
            Kind::Reference => "reference",
            Kind::Complex => "complex",
        },
        "multiValued": a.multi,
        "description": format!("{} (RFC 7643)", a.name),
        "required": a.required,
        "caseExact": a.case_exact,
        "mutability": match a.mutability {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        },
        "returned": match a.returned { Returned::Default => "default", Returned::Never => "never" },
        "uniqueness": if a.unique { "server" } else { "none" },
    });
    if !a.canonical.is_empty() {
        v["canonicalValues"] = json!(a.canonical);
    }
    if a.kind == Kind::Reference {
        v["referenceTypes"] = json!(a.reference_types);
    }
    if a.kind == Kind::Complex {
        v["subAttributes"] = a.sub.iter().map(attr_json).collect();
    }
    v
}

/// The `/Schemas` entry for one schema URN, with `meta.location` under `base`.
pub fn schema_json(base: &str, schema: &str) -> Option<Value> {
    let (name, description) = match schema {
        USER_SCHEMA => ("User", "User Account"),
        GROUP_SCHEMA => ("Group", "Group (a learning path)"),
        ENTERPRISE_SCHEMA => ("EnterpriseUser", "Enterprise User"),
        _ => return None,
    };
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": schema,
        "name": name,
        "description": description,
        "attributes": attrs_of(schema).iter().map(attr_json).collect::<Vec<_>>(),
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{schema}")},
    }))
}

pub const ALL_SCHEMAS: [&str; 3] = [USER_SCHEMA, ENTERPRISE_SCHEMA, GROUP_SCHEMA];

/// The `/ResourceTypes` entry called `name` (`User` or `Group`).
pub fn resource_type_json(base: &str, name: &str) -> Option<Value> {
    let mut v = match name {
        "User" => json!({
            "id": "User", "name": "User", "endpoint": "/Users",
            "description": "A learner", "schema": USER_SCHEMA,
            "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": false}],
        }),
        "Group" => json!({
            "id": "Group", "name": "Group", "endpoint": "/Groups",
            "description": "A learning path", "schema": GROUP_SCHEMA,
            "schemaExtensions": [],
        }),
        _ => return None,
    };
    v["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:ResourceType"]);
    v["meta"] = json!({"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{name}")});
    Some(v)
}

pub fn service_provider_config(base: &str, max_results: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with the sandbox's SCIM bearer token",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}
