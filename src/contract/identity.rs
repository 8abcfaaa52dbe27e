//! Who a record is, for duplicate detection: a work email and a full name with
//! hire date, normalised so that case, spacing and Unicode spelling (NFKC) do
//! not hide two records of one person. Pure; the contract says which fields.

use serde_json::{Map, Value};

use super::{Contract, FieldType};
use crate::model::identity::{normalise, normalise_email};
pub use crate::model::{DuplicateBasis, IdentityKeys};

/// The fields an operator compares side by side, besides the identity ones.
const DISPLAY_FIELDS: &[&str] = &[
    "employeeNumber",
    "department",
    "location",
    "jobTitle",
    "employmentHistoryStatus",
    "supervisorEId",
];

/// The identity keys of an HRIS record under `contract`: the email is the first
/// email-typed field, the name the `first_name` and `last_name` fields (else the
/// HRIS's `firstName`/`lastName`), the hire date the lifecycle's hire date field.
pub fn identity_keys(contract: &Contract, record: &Map<String, Value>) -> IdentityKeys {
    let text = |field: &str| match record.get(field) {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let hris_of = |name: &str, fallback: &'static str| {
        contract
            .field(name)
            .and_then(|f| f.plain_hris())
            .map(str::to_string)
            .unwrap_or_else(|| fallback.to_string())
    };
    let email_field = contract
        .fields
        .iter()
        .find(|f| f.kind == FieldType::Email && f.expr.is_none())
        .map(|f| f.hris.clone())
        .unwrap_or_else(|| "workEmail".into());
    let (first_field, last_field) = (
        hris_of("first_name", "firstName"),
        hris_of("last_name", "lastName"),
    );
    let hire_field = hris_of(&contract.lifecycle.hire_date_field, "hireDate");
    let status_field = hris_of(&contract.lifecycle.status_field, "employmentStatus");
    let first = text(&first_field);
    let last = text(&last_field);
    let name = if first.is_empty() && last.is_empty() {
        String::new()
    } else {
        normalise(&format!("{first} {last}"))
    };
    let mut display = Map::new();
    for field in [
        &first_field,
        &last_field,
        &email_field,
        &hire_field,
        &status_field,
    ]
    .into_iter()
    .map(String::as_str)
    .chain(DISPLAY_FIELDS.iter().copied())
    {
        if let Some(value) = record.get(field).filter(|v| !v.is_null()) {
            display.insert(field.to_string(), value.clone());
        }
    }
    IdentityKeys {
        employee_id: text(&contract.key_field().hris),
        email: normalise_email(&text(&email_field)),
        name,
        hire_date: text(&hire_field),
        display,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_spacing_and_unicode_spelling_do_not_hide_a_twin() {
        use crate::model::identity::{normalise, normalise_email};
        assert_eq!(
            normalise_email("  Ana.Lopez@Example.COM "),
            "ana.lopez@example.com"
        );
        // "é" as one code point and as e + combining acute are one name.
        assert_eq!(
            normalise("Jos\u{e9}  Álvarez"),
            normalise("Jose\u{301} A\u{301}lvarez")
        );
        // Full-width letters (NFKC) and Cyrillic case.
        assert_eq!(normalise("ＡＮＡ"), "ana");
        assert_eq!(normalise("ИВАН Петров"), "иван петров");
        assert_ne!(normalise("Ana Lopez"), normalise("Ana Lópes"));
    }

    #[test]
    fn keys_come_from_the_contracts_fields() {
        let contract = crate::contract::parse(include_str!("../../assets/contract.toml")).unwrap();
        let record: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "id": "42", "workEmail": " Ana@Example.com", "firstName": "Ana", "lastName": "López",
            "hireDate": "2024-03-01", "department": "Sales", "status": "Active"
        }))
        .unwrap();
        let keys = identity_keys(&contract, &record);
        assert_eq!(keys.employee_id, "42");
        assert_eq!(
            keys.key(DuplicateBasis::Email).as_deref(),
            Some("ana@example.com")
        );
        assert_eq!(
            keys.key(DuplicateBasis::NameAndHireDate).as_deref(),
            Some("ana lópez|2024-03-01")
        );
        assert_eq!(keys.display["department"], "Sales");
        let mut no_hire = record.clone();
        no_hire.remove("hireDate");
        assert_eq!(
            identity_keys(&contract, &no_hire).key(DuplicateBasis::NameAndHireDate),
            None
        );
    }
}
