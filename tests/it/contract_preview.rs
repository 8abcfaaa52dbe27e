//! `hrsync contract preview`: the real binary pulls the sandbox's HRIS over HTTP
//! and reports what an edited contract would do. Each count is compared with
//! the employees the sandbox's own list says it should name.

use std::collections::BTreeSet;

use crate::common;

use common::{Options, World};
use serde_json::Value;

/// Runs the preview of `contract` (written beside the world's configuration);
/// returns the exit code, standard output and standard error.
fn preview(world: &World, contract: &str, args: &[&str]) -> (i32, String, String) {
    let path = world.dir.path().join("new-contract.toml");
    std::fs::write(&path, contract).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .arg("--log-file")
        .arg(world.dir.path().join("preview.log"))
        .args(["contract", "preview"])
        .arg(&path)
        .arg("--config")
        .arg(world.dir.path().join("hrsync.toml"))
        .args(args)
        .envs(world.engine_env())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_preview(world: &World, contract: &str) -> (i32, Value) {
    let (code, out, err) = preview(world, contract, &["--json", "--examples", "100000"]);
    let value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("no JSON ({e}): {out}\n{err}"));
    (code, value)
}

fn edited(from: &str, to: &str) -> String {
    assert!(
        common::CONTRACT.contains(from),
        "the shipped contract holds {from}"
    );
    common::CONTRACT.replacen(from, to, 1)
}

fn ids(examples: &Value) -> BTreeSet<String> {
    (examples.as_array().unwrap().iter())
        .map(|e| e["employee_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_table_entry_reports_exactly_the_learners_of_that_department() {
    let world = common::start_for_binary(Options::default()).await;
    let hris = world.hris().await;
    let in_it: BTreeSet<String> = (hris.iter())
        .filter(|(_, e)| common::in_scope_and_employed(e) && e["department"] == "Information Technology")
        .map(|(id, _)| id.clone())
        .collect();
    assert!(!in_it.is_empty(), "the world has IT learners to change");
    let contract = edited(
        r#""Information Technology" = "IT Dept""#,
        r#""Information Technology" = "Tech""#,
    );

    let (code, impact) = tokio::task::block_in_place(|| json_preview(&world, &contract));
    assert_eq!(code, 0, "{impact:#}");
    assert_eq!(impact["employees"], hris.len() as u64, "{impact:#}");
    let fields = impact["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 1, "only the department changes: {impact:#}");
    assert_eq!(fields[0]["field"], "department");
    assert_eq!(fields[0]["learners"], in_it.len() as u64);
    assert_eq!(ids(&fields[0]["examples"]), in_it);
    assert!(
        (fields[0]["examples"].as_array().unwrap().iter())
            .all(|e| e["before"] == "IT Dept" && e["after"] == "Tech"),
        "{impact:#}"
    );
    for count in ["entering_scope", "leaving_scope", "deactivated", "rejected"] {
        assert_eq!(impact[count]["count"], 0, "{count}: {impact:#}");
    }
    assert_eq!(impact["safety"]["trips_safety"], false);

    // The same as a table: the field, its count and an example of old → new.
    let (code, text, err) = tokio::task::block_in_place(|| preview(&world, &contract, &[]));
    assert_eq!(code, 0, "{err}");
    let row = (text.lines())
        .find(|l| l.starts_with("department "))
        .unwrap_or_else(|| panic!("no department row:\n{text}"));
    assert!(
        row.contains(&in_it.len().to_string()) && row.contains("\"IT Dept\" → \"Tech\""),
        "{row}"
    );
    assert!(text.contains("safety: 0 deactivations"), "{text}");

    // A contract with a problem is refused with the line that holds it, and nothing is pulled.
    let broken = edited("type = \"date\"", "type = \"when\"");
    let (code, text, err) = tokio::task::block_in_place(|| preview(&world, &broken, &[]));
    assert_eq!(code, 1, "{text}");
    assert!(
        err.contains("new-contract.toml:") && err.contains("nothing was previewed"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn narrowing_the_scope_reports_the_deactivations_and_trips_the_safety_mark() {
    let world = common::start_for_binary(Options::default()).await;
    let hris = world.hris().await;
    let full_time = |e: &Value| e["employmentHistoryStatus"] == "Full-Time";
    let deactivated: BTreeSet<String> = (hris.iter())
        .filter(|(_, e)| common::in_scope_and_employed(e) && full_time(e))
        .map(|(id, _)| id.clone())
        .collect();
    let leaving = hris.values().filter(|e| full_time(e)).count();
    // Part-timers only: everyone full-time leaves, far more than [safety] lets through.
    let contract = edited(r#"in = ["Full-Time", "Part-Time"]"#, r#"in = ["Part-Time"]"#);

    let (code, impact) = tokio::task::block_in_place(|| json_preview(&world, &contract));
    assert_eq!(code, 3, "the safety mark exits 3: {impact:#}");
    assert_eq!(impact["leaving_scope"]["count"], leaving as u64, "{impact:#}");
    assert_eq!(impact["deactivated"]["count"], deactivated.len() as u64);
    assert_eq!(ids(&impact["deactivated"]["examples"]), deactivated);
    assert_eq!(impact["entering_scope"]["count"], 0);
    assert!(impact["fields"].as_array().unwrap().is_empty(), "{impact:#}");
    // No full sync has counted the learners yet: [safety]'s floor of 50 applies.
    let safety = &impact["safety"];
    assert_eq!(safety["allowed"], 50, "{safety}");
    assert_eq!(safety["deactivations"], deactivated.len() as u64);
    assert_eq!(safety["trips_safety"], true);

    let (code, text, _) = tokio::task::block_in_place(|| preview(&world, &contract, &[]));
    assert_eq!(code, 3, "{text}");
    assert!(
        text.contains(&format!("SAFETY: {} deactivations", deactivated.len())),
        "{text}"
    );
}
