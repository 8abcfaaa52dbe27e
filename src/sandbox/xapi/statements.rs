//! What makes an incoming xAPI statement acceptable: the minimum checks of the
//! 1.0.3 spec (actor, verb, object, id, timestamp, score), each failure naming
//! the field, and the keys the LRS later filters on.

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The properties a 1.0.3 statement may have; anything else is rejected.
const STATEMENT_PROPERTIES: &[&str] = &[
    "id",
    "actor",
    "verb",
    "object",
    "result",
    "context",
    "timestamp",
    "stored",
    "authority",
    "version",
    "attachments",
];

/// Properties the LRS sets itself, left out when comparing two statements.
const LRS_OWNED: &[&str] = &["stored", "authority", "version"];

/// How an agent is identified: its Inverse Functional Identifier.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentKey {
    Account { home_page: String, name: String },
    Mbox(String),
    MboxSha1sum(String),
    Openid(String),
}

impl AgentKey {
    /// The IFI of an Agent or identified Group; `what` names it in errors.
    pub fn of(agent: &Value, what: &str) -> Result<Option<AgentKey>, String> {
        let Some(agent) = agent.as_object() else {
            return Err(format!("{what} must be an object"));
        };
        let text = |key: &str| agent.get(key).and_then(Value::as_str).map(str::to_string);
        let mut keys = Vec::new();
        if let Some(mbox) = agent.get("mbox") {
            match mbox.as_str() {
                Some(m) if m.starts_with("mailto:") => keys.push(AgentKey::Mbox(m.to_string())),
                _ => return Err(format!("{what}.mbox must be a mailto: IRI")),
            }
        }
        if let Some(sha) = text("mbox_sha1sum") {
            keys.push(AgentKey::MboxSha1sum(sha));
        }
        if let Some(openid) = text("openid") {
            keys.push(AgentKey::Openid(openid));
        }
        if let Some(account) = agent.get("account") {
            let field = |key: &str| account.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
            match (field("homePage"), field("name")) {
                (Some(home_page), Some(name)) => keys.push(AgentKey::Account {
                    home_page: home_page.to_string(),
                    name: name.to_string(),
                }),
                (None, _) => return Err(format!("{what}.account.homePage is required")),
                (_, None) => return Err(format!("{what}.account.name is required")),
            }
        }
        let is_group = agent.get("objectType").and_then(Value::as_str) == Some("Group");
        match keys.len() {
            0 if is_group => Ok(None),
            0 => Err(format!(
                "{what} needs one of mbox, mbox_sha1sum, openid or account"
            )),
            1 => Ok(keys.pop()),
            _ => Err(format!(
                "{what} must have exactly one identifier, found {}",
                keys.len()
            )),
        }
    }
}

/// A statement that passed validation, with the id it will be stored under.
#[derive(Debug)]
pub struct ValidStatement {
    pub id: String,
    /// The statement as JSON without the properties the LRS sets (`stored`,
    /// `authority`, `version`); never empty, it has at least the id.
    pub canonical: String,
    /// When the experience happened, if the statement says.
    pub timestamp: Option<jiff::Timestamp>,
    /// Digest of `canonical`: equal digests are the same statement posted twice.
    pub fingerprint: [u8; 32],
    pub actor: Option<AgentKey>,
    pub verb: String,
    /// The object's id when the object is an Activity.
    pub activity: Option<String>,
}

/// Checks one statement; `at` names it in errors (`statements[3]`).
pub fn validate(statement: Value, at: &str) -> Result<ValidStatement, String> {
    let Value::Object(mut body) = statement else {
        return Err(format!("{at} must be a JSON object"));
    };
    if let Some(unknown) = body.keys().find(|k| !STATEMENT_PROPERTIES.contains(&k.as_str())) {
        return Err(format!("{at}.{unknown} is not a statement property"));
    }
    let id = match body.get("id") {
        None => new_uuid(&mut rand::rng()),
        Some(Value::String(id)) if is_uuid(id) => id.to_ascii_lowercase(),
        Some(_) => return Err(format!("{at}.id must be a UUID")),
    };
    body.insert("id".into(), Value::String(id.clone()));

    let actor = body
        .get("actor")
        .ok_or_else(|| format!("{at}.actor is required"))?;
    let actor = AgentKey::of(actor, &format!("{at}.actor"))?;

    let verb = body
        .get("verb")
        .and_then(|v| v.get("id"))
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at}.verb.id is required"))?;
    if !is_iri(verb) {
        return Err(format!("{at}.verb.id must be an IRI, got {verb:?}"));
    }
    let verb = verb.to_string();

    let object = body
        .get("object")
        .ok_or_else(|| format!("{at}.object is required"))?;
    let object_type = object
        .get("objectType")
        .and_then(Value::as_str)
        .unwrap_or("Activity");
    let activity = match object_type {
        "Activity" | "StatementRef" => {
            let object_id = object
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{at}.object.id is required"))?;
            if object_type == "Activity" && !is_iri(object_id) {
                return Err(format!("{at}.object.id must be an IRI, got {object_id:?}"));
            }
            (object_type == "Activity").then(|| object_id.to_string())
        }
        "Agent" | "Group" => {
            AgentKey::of(object, &format!("{at}.object"))?;
            None
        }
        "SubStatement" => None,
        other => return Err(format!("{at}.object.objectType {other:?} is not known")),
    };

    let timestamp = match body.get("timestamp") {
        None => None,
        Some(timestamp) => match timestamp.as_str().map(str::parse::<jiff::Timestamp>) {
            Some(Ok(parsed)) => Some(parsed),
            _ => return Err(format!("{at}.timestamp must be an ISO 8601 time with an offset")),
        },
    };
    if let Some(version) = body.get("version")
        && !version.as_str().is_some_and(is_supported_version)
    {
        return Err(format!("{at}.version must be 1.0.x"));
    }
    if let Some(scaled) = body.get("result").and_then(|r| r.pointer("/score/scaled"))
        && !scaled.as_f64().is_some_and(|s| (-1.0..=1.0).contains(&s))
    {
        return Err(format!(
            "{at}.result.score.scaled must be a number between -1 and 1"
        ));
    }

    for owned in LRS_OWNED {
        body.remove(*owned);
    }
    // serde_json's map is sorted (no `preserve_order`), so this is canonical.
    let canonical = serde_json::to_string(&body).map_err(|e| format!("{at} cannot be serialized: {e}"))?;
    let fingerprint = Sha256::digest(canonical.as_bytes()).into();
    Ok(ValidStatement {
        id,
        timestamp,
        canonical,
        fingerprint,
        actor,
        verb,
        activity,
    })
}

/// `1.0`, `1.0.0` … `1.0.9`: the versions this LRS accepts.
pub fn is_supported_version(version: &str) -> bool {
    match version.strip_prefix("1.0") {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('.')
            .is_some_and(|patch| !patch.is_empty() && patch.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

/// An absolute IRI: a scheme, a colon and something after it.
fn is_iri(text: &str) -> bool {
    match text.split_once(':') {
        Some((scheme, rest)) => {
            !rest.is_empty()
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        None => false,
    }
}

/// 8-4-4-4-12 hexadecimal digits.
pub fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A random (version 4) UUID.
pub fn new_uuid(rng: &mut impl Rng) -> String {
    let mut bytes: [u8; 16] = rng.random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> Value {
        json!({
            "actor": {"account": {"homePage": "https://hris.acme.example", "name": "12"}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
            "object": {"id": "https://lms.example.com/courses/first-aid"},
        })
    }

    #[test]
    fn a_missing_id_is_assigned_as_a_v4_uuid() {
        let valid = validate(minimal(), "statement").unwrap();
        assert!(is_uuid(&valid.id), "{}", valid.id);
        assert_eq!(&valid.id[14..15], "4");
        assert!(valid.canonical.contains(&valid.id));
    }

    #[test]
    fn errors_name_the_field() {
        let mut no_verb = minimal();
        no_verb["verb"] = json!({"display": {"en-US": "did"}});
        assert_eq!(validate(no_verb, "s").unwrap_err(), "s.verb.id is required");
        let mut bad_id = minimal();
        bad_id["id"] = json!("not-a-uuid");
        assert_eq!(validate(bad_id, "s").unwrap_err(), "s.id must be a UUID");
        let mut extra = minimal();
        extra["colour"] = json!("red");
        assert_eq!(
            validate(extra, "s").unwrap_err(),
            "s.colour is not a statement property"
        );
        let mut two_ifis = minimal();
        two_ifis["actor"]["mbox"] = json!("mailto:a@example.com");
        assert!(
            validate(two_ifis, "s")
                .unwrap_err()
                .contains("exactly one identifier")
        );
    }

    #[test]
    fn the_fingerprint_ignores_what_the_lrs_sets() {
        let mut first = minimal();
        first["id"] = json!("6f1c2a36-3c53-4b8e-9f0e-0c6a8c1b2d3e");
        let mut second = first.clone();
        second["stored"] = json!("2026-01-01T00:00:00Z");
        second["version"] = json!("1.0.3");
        let (first, second) = (validate(first, "a").unwrap(), validate(second, "b").unwrap());
        assert_eq!(first.fingerprint, second.fingerprint);
    }

    #[test]
    fn versions() {
        assert!(is_supported_version("1.0.3"));
        assert!(is_supported_version("1.0"));
        assert!(!is_supported_version("1.0."));
        assert!(!is_supported_version("2.0.0"));
        assert!(!is_supported_version("1.0.3-beta"));
    }
}
