//! How many requests each simulated system has received, by method: what a
//! benchmark reads to learn the HTTP work a client did (`/_sandbox/state`'s
//! `requests`), so a bare client can be made to do the same.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value, json};

use super::faults::System;

const SYSTEMS: [(System, &str); 3] = [
    (System::Hris, "hris"),
    (System::Scim, "scim"),
    (System::Xapi, "xapi"),
];
const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "other"];

/// Requests received per system and method, answered or not (a fault's too).
#[derive(Default)]
pub struct RequestTally {
    counts: [[AtomicU64; METHODS.len()]; SYSTEMS.len()],
}

impl RequestTally {
    pub fn count(&self, system: System, method: &axum::http::Method) {
        let row = SYSTEMS.iter().position(|(s, _)| *s == system).unwrap_or(0);
        let column = METHODS
            .iter()
            .position(|m| *m == method.as_str())
            .unwrap_or(METHODS.len() - 1);
        self.counts[row][column].fetch_add(1, Ordering::Relaxed);
    }

    /// `{"scim": {"GET": 3, "POST": 100}, ...}`, methods never received left out.
    pub fn to_json(&self) -> Value {
        let mut systems = Map::new();
        for ((_, system), counts) in SYSTEMS.iter().zip(&self.counts) {
            let methods: Map<String, Value> = METHODS
                .iter()
                .zip(counts)
                .map(|(method, n)| (method.to_string(), n.load(Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .map(|(method, n)| (method, json!(n)))
                .collect();
            systems.insert(system.to_string(), Value::Object(methods));
        }
        Value::Object(systems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_system_and_method_and_leaves_out_what_never_came() {
        let tally = RequestTally::default();
        tally.count(System::Scim, &axum::http::Method::POST);
        tally.count(System::Scim, &axum::http::Method::POST);
        tally.count(System::Hris, &axum::http::Method::GET);
        tally.count(System::Xapi, &axum::http::Method::OPTIONS);
        assert_eq!(
            tally.to_json(),
            json!({"hris": {"GET": 1}, "scim": {"POST": 2}, "xapi": {"other": 1}})
        );
    }
}
