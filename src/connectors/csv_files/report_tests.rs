use super::*;

fn spec() -> ReportSpec {
    let columns = [
        ("User ID", "employee_id"),
        ("Course Code", "course_id"),
        ("Completion Date", "completed_at"),
        ("Score", "score"),
        ("Status", "passed"),
        ("Certificate", "credential_name"),
        ("Certificate No", "credential_number"),
        ("Valid Until", "credential_expires"),
    ];
    ReportSpec {
        columns: columns
            .iter()
            .map(|(c, f)| (c.to_string(), f.to_string()))
            .collect(),
    }
}

const HEADER: &str =
    "User ID,Course Code,Completion Date,Score,Status,Certificate,Certificate No,Valid Until\n";

fn read(text: &str, spec: &ReportSpec) -> (Vec<ReportRow>, ReadSummary) {
    let mut rows = Vec::new();
    let summary = read_report(text.as_bytes(), spec, |row| rows.push(row)).expect("read");
    (rows, summary)
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

#[test]
fn the_three_time_forms_and_every_field_are_read() {
    let text = format!(
        "{HEADER}\
         E1,SAFE-101,2026-03-01T09:30:00+01:00,85%,Passed,Forklift,FL-1,2027-03-01\n\
         E2,SAFE-101,2026-03-02,\"72,5\",FAIL,,,\n\
         E3,SAFE-102,2026-03-03 17:45:10,,,First aid,,\n"
    );
    let (rows, summary) = read(&text, &spec());
    assert_eq!((summary.rows, summary.accepted), (3, 3));
    assert_eq!(
        rows[0],
        ReportRow {
            line: 2,
            employee_id: "E1".into(),
            course_id: "SAFE-101".into(),
            completed_at: at("2026-03-01T08:30:00Z"),
            score: Some(85.0),
            passed: Some(true),
            credential: Some((
                "Forklift".into(),
                Some("FL-1".into()),
                Some(jiff::civil::date(2027, 3, 1))
            )),
        }
    );
    assert_eq!(rows[1].completed_at, at("2026-03-02T00:00:00Z"));
    assert_eq!(
        (rows[1].score, rows[1].passed, &rows[1].credential),
        (Some(72.5), Some(false), &None)
    );
    assert_eq!(rows[2].completed_at, at("2026-03-03T17:45:10Z"));
    assert_eq!((rows[2].score, rows[2].passed), (None, None));
    assert_eq!(rows[2].credential, Some(("First aid".into(), None, None)));
}

#[test]
fn completed_says_nothing_of_the_outcome() {
    // A completed course can be failed: "Completed" is neither a pass nor a fail.
    let text = format!(
        "{HEADER}\
         E1,C1,2026-03-01,40,Completed,,,\n\
         E2,C1,2026-03-01,90,complete,,,\n\
         E3,C1,2026-03-01,90,done,,,\n"
    );
    let (rows, summary) = read(&text, &spec());
    assert_eq!(
        rows.iter().map(|row| (row.line, row.passed)).collect::<Vec<_>>(),
        vec![(2, None), (3, None)]
    );
    assert_eq!(summary.rejects.len(), 1);
    let (field, reason) = &summary.rejects[0].reasons[0];
    assert_eq!((summary.rejects[0].line, field.as_str()), (4, "passed"));
    assert!(reason.contains("\"done\" is not a pass/fail word"), "{reason}");
}

#[test]
fn bad_rows_are_rejected_with_every_reason() {
    let text = format!(
        "{HEADER}\
         E1,,yesterday,lots,maybe,,N-9,someday\n\
         ,C1,2026-03-01,,,,,\n\
         E3,C1\n\
         E4,C1,2026-02-30,,,,,\n\
         E5,C1,2026-03-01,100,completed,,,\n"
    );
    let (rows, summary) = read(&text, &spec());
    assert_eq!(rows.iter().map(|row| row.line).collect::<Vec<_>>(), vec![6]);
    let reasons: Vec<(u64, Vec<&str>)> = summary
        .rejects
        .iter()
        .map(|r| {
            (
                r.line,
                r.reasons.iter().map(|(field, _)| field.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            (
                2,
                vec![
                    "course_id",
                    "completed_at",
                    "score",
                    "passed",
                    "credential_expires",
                    "credential_name"
                ]
            ),
            (3, vec!["employee_id"]),
            (4, vec!["(row)"]),
            (5, vec!["completed_at"]),
        ]
    );
    assert_eq!(summary.rejects[0].id.as_deref(), Some("E1"));
    assert_eq!(
        summary.rejects[0].reasons[1].1,
        "\"yesterday\" is not a date (YYYY-MM-DD), a UTC time (YYYY-MM-DD HH:MM:SS) or an RFC 3339 time"
    );
}

#[test]
fn only_the_required_columns_must_be_there() {
    let spec = spec();
    let (rows, summary) = read(
        "user id;course code;completion date;Grade\nE1;C1;2026-03-01;A\n",
        &spec,
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(summary.unknown_columns, vec!["Grade"]);
    assert_eq!(summary.missing_columns.len(), 5);
    let error = read_report(b"User ID,Course Code\nE1,C1\n", &spec, |_| {}).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("line 1: the header has no column \"Completion Date\""),
        "{error}"
    );
    let mut typo = spec.clone();
    typo.columns[3].1 = "scroe".into();
    let error = read_report(HEADER.as_bytes(), &typo, |_| {}).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("\"scroe\" is not a field of this file"),
        "{error}"
    );
}

#[test]
fn the_row_key_ignores_the_file_and_follows_the_content() {
    let one = format!("{HEADER}E1,C1,2026-03-01,80,pass,,,\nE2,C1,2026-03-01,80,pass,,,\n");
    let other_order =
        format!("{HEADER}\nE2,C1,2026-03-01T00:00:00Z,80,yes,,,\nE1,C1,2026-03-01 00:00:00,80.0,Pass,,,\n");
    let corrected = format!("{HEADER}E1,C1,2026-03-01,85,pass,,,\n");
    let keys = |text: &str| read(text, &spec()).0.iter().map(row_key).collect::<Vec<_>>();
    let (one, other_order, corrected) = (keys(&one), keys(&other_order), keys(&corrected));
    assert_eq!(one, vec![other_order[1].clone(), other_order[0].clone()]);
    assert_ne!(one[0], corrected[0]);
    assert!(one[0].starts_with("csv:01772323200000000:E1:C1:"), "{}", one[0]);
}
