//! The in-memory half of a reconciliation: both full lists already pulled, how
//! long the comparison takes and how much memory the lists and the comparison
//! hold. Run: `cargo bench --bench reconcile` (HRSYNC_BENCH_RECORDS to change the
//! size; default 1,000,000 employees against 1,000,000 learners).

mod common;

use std::time::Instant;

use hrsync::connectors::ScimUser;
use hrsync::contract::map::map_employee;
use hrsync::engine::plan::{ManagerRef, Plan, plan};
use hrsync::engine::reconcile::compare::compare;
use hrsync::engine::reconcile::rows::{Employees, Learners};
use hrsync::sandbox::world::{WorkforceSpec, generate};
use serde_json::{Map, Value, json};

fn main() {
    let records: usize = std::env::var("HRSYNC_BENCH_RECORDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let contract = hrsync::contract::parse(include_str!("../assets/contract.toml")).unwrap();
    let today = jiff::civil::date(2026, 11, 25);
    let workforce = generate(&WorkforceSpec {
        employees: records,
        seed: 5,
        today,
        generated_at: jiff::Timestamp::now(),
    });
    let fields = hrsync::engine::initial_load::hris_fields(&contract);
    let id_field = &contract.key_field().hris;
    let learner_id = |employee: &str| format!("u-{employee}");
    let mut employees = Employees::new(&fields);
    let mut learners = Learners::new(&contract);
    for (n, employee) in workforce.employees.iter().enumerate() {
        let record: Map<String, Value> = employee.to_json();
        employees.push(&record);
        let Ok(mapped) = map_employee(&contract, &record) else {
            continue;
        };
        let manager = match &mapped.manager_id {
            Some(id) => ManagerRef::Learner(learner_id(id)),
            None => ManagerRef::None,
        };
        if let Plan::Create {
            mut document, enrol, ..
        } = plan(&contract, &mapped, None, &manager, today)
        {
            let employee_id = match &record[id_field] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let id = learner_id(&employee_id);
            document["id"] = json!(id);
            document["groups"] = enrol.iter().map(|g| json!({ "display": g })).collect();
            // Planted drift: one learner in a thousand has another department.
            if n % 1000 == 7 {
                document["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"] =
                    json!("Elsewhere");
            }
            learners.push(&ScimUser {
                id,
                etag: None,
                resource: document,
            });
        }
    }
    drop(workforce);
    employees.rows.shrink_to_fit();
    learners.rows.shrink_to_fit();
    let packed_mb = (employees.rows.heap_bytes() + learners.rows.heap_bytes()) as f64 / 1e6;
    let before = common::rss_mb("VmRSS:");
    // The peak from here on is the comparison's (generating the world is not measured).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    // Several rounds (HRSYNC_BENCH_ROUNDS, default 3); the median is reported.
    let rounds: usize = std::env::var("HRSYNC_BENCH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
        .max(1);
    let mut times = Vec::new();
    let mut findings = Vec::new();
    for _ in 0..rounds {
        let started = Instant::now();
        findings = compare(&contract, &employees, &learners, today);
        times.push(started.elapsed());
    }
    times.sort();
    let elapsed = times[rounds / 2];
    let peak = common::rss_mb("VmHWM:");
    let drift = findings
        .iter()
        .filter(|f| f.category == hrsync::model::DriftCategory::FieldDrift)
        .count();
    println!(
        "comparison of {} employees against {} learners: {:.2} s on {} threads (median of {rounds}: {times:.2?}), {} findings ({drift} field drift, {} planted); \
         both lists packed {packed_mb:.0} MB, process RSS before {before:.0} MB, peak during the comparison {peak:.0} MB",
        employees.rows.len(),
        learners.rows.len(),
        elapsed.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        findings.len(),
        records.div_ceil(1000),
    );
}
