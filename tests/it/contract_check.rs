//! `hrsync contract check` as an operator runs it: a summary for a good file,
//! each problem with its line and a failing exit code for a bad one.

use std::process::Command;

fn check(path: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hrsync"))
        .args(["contract", "check"])
        .arg(path)
        .output()
        .unwrap()
}

#[test]
fn the_shipped_contract_checks_clean() {
    let output = check(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/contract.toml"
    )));
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("contract.toml: ok, contract version 1: 17 fields"),
        "{stdout}"
    );
}

#[test]
fn a_broken_contract_names_each_problem_with_its_line_and_fails() {
    let shipped = include_str!("../../assets/contract.toml");
    let broken = shipped
        .replacen("type = \"email\"", "type = \"mail\"", 1)
        .replace("group = \"Leadership\"", "group = \"\"");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, &broken).unwrap();
    let output = check(&path);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line_of = |needle: &str| broken.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert!(
        stderr.contains(&format!(
            "broken.toml:{}: field \"user_name\": type \"mail\"",
            line_of("\"mail\"")
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "broken.toml:{}: trigger \"leadership\": group is empty",
            line_of("group = \"\"")
        )),
        "{stderr}"
    );
    assert!(stderr.contains("2 problem(s)"), "{stderr}");
}

#[test]
fn a_credential_table_without_the_custom_prefix_is_a_problem_on_its_line() {
    let shipped = include_str!("../../assets/contract.toml");
    let old_style = shipped.replace(
        "credential_table = \"customCertifications\"",
        "credential_table = \"certifications\"",
    );
    assert_ne!(old_style, shipped, "the shipped contract names the table");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.toml");
    std::fs::write(&path, &old_style).unwrap();
    let output = check(&path);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = old_style
        .lines()
        .position(|l| l.starts_with("credential_table"))
        .unwrap()
        + 1;
    assert!(
        stderr.contains(&format!(
            "old.toml:{line}: writeback: credential_table \"certifications\" is not a BambooHR custom table"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("customCertifications"),
        "the fix is named: {stderr}"
    );
    assert!(stderr.contains("1 problem(s)"), "{stderr}");
}

#[test]
fn a_missing_contract_file_is_named() {
    let output = check(std::path::Path::new("/nonexistent/contract.toml"));
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/contract.toml"));
}

#[test]
fn a_broken_expression_is_refused_with_its_line_and_column() {
    let shipped = include_str!("../../assets/contract.expressions.toml");
    let broken = shipped
        .replacen("hris.firstName + \".\"", "hris.frstName + \".\"", 1)
        .replacen(
            "years_between(hris.hireDate, today)",
            "years_between(hris.hireDate, today",
            1,
        );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, &broken).unwrap();
    let output = check(&path);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let position = |needle: &str, within: &str| {
        let at = broken.find(needle).unwrap() + needle.find(within).unwrap();
        let line = broken[..at].matches('\n').count() + 1;
        (line, at - broken[..at].rfind('\n').unwrap())
    };
    let (line, column) = position("hris.frstName", "frstName");
    assert!(
        stderr.contains(&format!(
            "broken.toml:{line}:{column}: field \"user_name\": hris_expr: hris.frstName is not an HRIS field"
        )),
        "{stderr}"
    );
    // The parser stops at the end of the expression, where the `)` is missing.
    let (line, column) = position("today\"\n", "\"");
    assert!(
        stderr.contains(&format!(
            "broken.toml:{line}:{column}: field \"tenure_years\": hris_expr: Syntax error"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("2 problem(s)"), "{stderr}");
}
