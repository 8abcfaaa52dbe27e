//! Bounded fuzzing of the webhook body's parsing and validation (proptest, in
//! `cargo test`): whatever bytes or JSON arrive, nothing panics, every change
//! is answered (journaled or refused with a reason), and a journaled change
//! always has a key and an employee.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::intake;

fn contract() -> crate::contract::Contract {
    crate::contract::parse(include_str!("../../../assets/contract.toml"))
        .expect("the shipped contract checks")
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        ".{0,40}".prop_map(Value::String),
        "\\PC{0,8}[\u{0}-\u{1f}\u{7f}-\u{9f}\u{202e}]{1,3}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A change as a hostile or broken HRIS might send it.
fn a_change() -> impl Strategy<Value = Value> {
    (
        prop_oneof![any_json(), "[0-9]{1,6}".prop_map(Value::String), Just(json!(1.5e300))],
        prop_oneof![Just(json!("Updated")), Just(json!("Deleted")), any_json()],
        prop_oneof![Just(json!("2030-01-01T00:00:00Z")), any_json()],
        any_json(),
    )
        .prop_map(|(id, action, timestamp, fields)| {
            json!({ "id": id, "action": action, "timestamp": timestamp, "fields": fields })
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_are_answered_without_a_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = intake(&contract(), &body, 1_800_000_000);
    }

    #[test]
    fn every_change_is_journaled_with_a_key_or_refused_with_a_reason(
        changes in prop::collection::vec(a_change(), 0..8)
    ) {
        let body = serde_json::to_vec(&json!({ "employees": changes })).unwrap();
        let batch = intake(&contract(), &body, 1_800_000_000).expect("a list of employees is a delivery");
        prop_assert_eq!(batch.len(), changes.len());
        for change in batch {
            prop_assert!(!change.event.idempotency_key.is_empty());
            prop_assert!(!change.event.employee_id.is_empty());
            if let Some(reasons) = &change.rejected {
                prop_assert!(!reasons.is_empty());
                prop_assert!(reasons.iter().all(|r| !r.reason.is_empty()));
            }
        }
    }
}
